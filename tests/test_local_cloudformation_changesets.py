"""Change sets on the local AWS, stated as CloudFormation documents them (plain boto3, no product code)."""

import json

import boto3

REGION = "us-east-2"
VPC = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def subnet(az, cidr="10.0.1.0/24") -> dict:
    return {"Vpc": VPC, "Sub": {"Type": "AWS::EC2::Subnet", "Properties": {
        "VpcId": {"Ref": "Vpc"}, "CidrBlock": cidr, "AvailabilityZone": az}},
        "Table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Assoc": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
            "SubnetId": {"Ref": "Sub"}, "RouteTableId": {"Ref": "Table"}}}}


def change_set(stack: str, resources: dict, **kwargs) -> dict:
    cs = cfn().create_change_set(StackName=stack, ChangeSetName="cs", ChangeSetType="UPDATE",
                                 TemplateBody=json.dumps({"Resources": resources}), **kwargs)
    return cfn().describe_change_set(ChangeSetName=cs["Id"], StackName=stack, IncludePropertyValues=True)


def by_id(described: dict) -> dict:
    return {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]}


def test_a_rewritten_expression_for_a_create_only_property_means_replacement(aws_env):
    """AvailabilityZone written as Fn::Select/Fn::GetAZs instead of the literal is a change of a create-only
    property: Replacement True, even though both name us-east-2a; the association that refers to the subnet
    changes dynamically (Conditional, its SubnetId is create-only)."""
    cfn().create_stack(StackName="cs", TemplateBody=json.dumps({"Resources": subnet("us-east-2a")}))
    changes = by_id(change_set("cs", subnet({"Fn::Select": [0, {"Fn::GetAZs": ""}]})))
    sub = changes["Sub"]
    assert (sub["Action"], sub["Replacement"], sub["Scope"]) == ("Modify", "True", ["Properties"])
    detail = sub["Details"][0]
    assert detail["Target"]["Name"] == "AvailabilityZone" and detail["Target"]["RequiresRecreation"] == "Always"
    assert (detail["Evaluation"], detail["ChangeSource"]) == ("Static", "DirectModification")
    assert sub["PolicyAction"] == "ReplaceAndDelete"
    assoc = changes["Assoc"]
    assert assoc["Replacement"] == "Conditional"
    assert assoc["Details"][0]["Evaluation"] == "Dynamic" and assoc["Details"][0]["CausingEntity"] == "Sub"
    assert "Table" not in changes


def test_executing_the_change_set_replaces_what_it_said_it_would(aws_env):
    """Execution carries out the change set: the subnet it marked Replacement True gets a new ID."""
    cfn().create_stack(StackName="cs", TemplateBody=json.dumps({"Resources": subnet("us-east-2a")}))
    old = cfn().describe_stack_resource(StackName="cs", LogicalResourceId="Sub")["StackResourceDetail"]
    described = change_set("cs", subnet("us-east-2b", "10.0.2.0/24"))
    cfn().execute_change_set(ChangeSetName=described["ChangeSetId"])
    new = cfn().describe_stack_resource(StackName="cs", LogicalResourceId="Sub")["StackResourceDetail"]
    assert new["PhysicalResourceId"] != old["PhysicalResourceId"]
    assert cfn().describe_change_set(ChangeSetName=described["ChangeSetId"])["ExecutionStatus"] == "EXECUTE_COMPLETE"


def test_include_property_values_shows_before_and_after_values(aws_env):
    """With IncludePropertyValues each changed property has Path, BeforeValue, AfterValue, AttributeChangeType,
    and the change has BeforeContext and AfterContext."""
    cfn().create_stack(StackName="cs", TemplateBody=json.dumps({"Resources": subnet("us-east-2a")}))
    sub = by_id(change_set("cs", subnet("us-east-2b")))["Sub"]
    target = sub["Details"][0]["Target"]
    assert target["Path"] == "/Properties/AvailabilityZone"
    assert (target["BeforeValue"], target["AfterValue"]) == ("us-east-2a", "us-east-2b")
    assert target["AttributeChangeType"] == "Modify"
    assert json.loads(sub["BeforeContext"])["Properties"]["AvailabilityZone"] == "us-east-2a"
    assert json.loads(sub["AfterContext"])["Properties"]["AvailabilityZone"] == "us-east-2b"


def test_a_parameter_only_change_is_a_modify_from_the_parameter(aws_env):
    """A new parameter value modifies the resources that refer to it (ChangeSource ParameterReference)."""
    template = json.dumps({"Parameters": {"V": {"Type": "String"}}, "Resources": {
        "P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Ref": "V"}}}}})
    cfn().create_stack(StackName="cs", TemplateBody=template, Parameters=[{"ParameterKey": "V", "ParameterValue": "1"}])
    cs = cfn().create_change_set(StackName="cs", ChangeSetName="p", ChangeSetType="UPDATE", TemplateBody=template,
                                 Parameters=[{"ParameterKey": "V", "ParameterValue": "2"}])
    change = cfn().describe_change_set(ChangeSetName=cs["Id"])["Changes"][0]["ResourceChange"]
    assert (change["Action"], change["Replacement"]) == ("Modify", "False")
    assert change["Details"][0]["ChangeSource"] == "ParameterReference"
    assert change["Details"][0]["CausingEntity"] == "V"


def test_executing_a_change_set_refreshes_outputs_parameters_and_tags(aws_env):
    """After ExecuteChangeSet the stack has the change set's outputs, parameters and tags."""
    def template(value):
        return json.dumps({"Parameters": {"V": {"Type": "String"}}, "Resources": {
            "P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Ref": "V"}}}},
            "Outputs": {"Seen": {"Value": {"Fn::Sub": f"{value}-${{V}}"}}}})
    cfn().create_stack(StackName="cs", TemplateBody=template("a"), Parameters=[{"ParameterKey": "V", "ParameterValue": "1"}])
    cs = cfn().create_change_set(StackName="cs", ChangeSetName="x", ChangeSetType="UPDATE", TemplateBody=template("b"),
                                 Parameters=[{"ParameterKey": "V", "ParameterValue": "2"}], Tags=[{"Key": "k", "Value": "v"}])
    cfn().execute_change_set(ChangeSetName=cs["Id"])
    stack = cfn().describe_stacks(StackName="cs")["Stacks"][0]
    assert stack["Outputs"][0]["OutputValue"] == "b-2"
    assert stack["Parameters"] == [{"ParameterKey": "V", "ParameterValue": "2"}]
    assert stack["Tags"] == [{"Key": "k", "Value": "v"}]


def test_a_change_set_without_a_type_updates_the_existing_stack(aws_env):
    """ChangeSetType defaults to UPDATE: the change set compares against the stack, nothing is an Add."""
    cfn().create_stack(StackName="typed", TemplateBody=json.dumps({"Resources": {"Vpc": VPC}}))
    tagged = {**VPC, "Properties": {**VPC["Properties"], "Tags": [{"Key": "Name", "Value": "main"}]}}
    cs = cfn().create_change_set(StackName="typed", ChangeSetName="untyped",
                                 TemplateBody=json.dumps({"Resources": {"Vpc": tagged}}))
    changes = cfn().describe_change_set(ChangeSetName=cs["Id"])["Changes"]
    assert [(c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"]) for c in changes] == [
        ("Modify", "Vpc")]
    assert cfn().describe_change_set(ChangeSetName=cs["Id"])["ChangeSetName"] == "untyped"


def test_a_new_value_in_an_ssm_typed_parameter_is_a_change(aws_env):
    """The stack keeps the parameter's name; CloudFormation re-reads its value at each update."""
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/team/note", Value="one", Type="String")
    template = json.dumps({"Parameters": {"Note": {"Type": "AWS::SSM::Parameter::Value<String>",
                                                   "Default": "/team/note"}},
                           "Resources": {"Copy": {"Type": "AWS::SSM::Parameter", "Properties": {
                               "Name": "/copy", "Type": "String", "Value": {"Ref": "Note"}}}}})
    cfn().create_stack(StackName="reread", TemplateBody=template)
    ssm.put_parameter(Name="/team/note", Value="two", Type="String", Overwrite=True)
    cs = cfn().create_change_set(StackName="reread", ChangeSetName="again", ChangeSetType="UPDATE",
                                 TemplateBody=template, Parameters=[{"ParameterKey": "Note", "UsePreviousValue": True}])
    changes = cfn().describe_change_set(ChangeSetName=cs["Id"])["Changes"]
    assert [c["ResourceChange"]["LogicalResourceId"] for c in changes] == ["Copy"]
    cfn().execute_change_set(ChangeSetName=cs["Id"])
    assert ssm.get_parameter(Name="/copy")["Parameter"]["Value"] == "two"


def test_a_change_set_with_nothing_to_change_ends_failed_not_refused(aws_env):
    """CreateChangeSet with the stack's own template and parameters succeeds (it is UpdateStack that answers "No
    updates are to be performed"); the change set ends FAILED with "didn't contain changes" and cannot be
    executed."""
    import pytest
    from botocore.exceptions import ClientError

    template = json.dumps({"Parameters": {"Cidr": {"Type": "String"}}, "Resources": {"Vpc": {
        "Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Ref": "Cidr"}}}}})
    parameters = [{"ParameterKey": "Cidr", "ParameterValue": "10.0.0.0/16"}]
    cfn().create_stack(StackName="same", TemplateBody=template, Parameters=parameters)
    created = cfn().create_change_set(StackName="same", ChangeSetName="same", ChangeSetType="UPDATE",
                                      TemplateBody=template, Parameters=parameters)
    described = cfn().describe_change_set(ChangeSetName=created["Id"], StackName="same")
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"].startswith("The submitted information didn't contain changes.")
    assert described["Changes"] == []
    with pytest.raises(ClientError) as caught:
        cfn().execute_change_set(ChangeSetName=created["Id"], StackName="same")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
