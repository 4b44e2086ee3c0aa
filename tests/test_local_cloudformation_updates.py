"""Stack updates on the local AWS, stated as CloudFormation documents them (plain boto3, no product code)."""

import json

import boto3

REGION = "us-east-2"
VPC = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def body(resources: dict, **extra) -> str:
    return json.dumps({"Resources": resources, **extra})


def physical(stack: str, logical_id: str) -> str:
    return cfn().describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"]["PhysicalResourceId"]


def status(stack: str) -> dict:
    return cfn().describe_stacks(StackName=stack)["Stacks"][0]


def subnet(cidr: str, az: str) -> dict:
    return {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": cidr,
                                                      "AvailabilityZone": az}}


def test_a_changed_cidr_and_zone_replace_the_subnet_with_a_new_id(aws_env):
    """CidrBlock and AvailabilityZone are create-only: a new subnet (new ID) is created, the old one deleted."""
    cfn().create_stack(StackName="net", TemplateBody=body({"Vpc": VPC, "Sub": subnet("10.0.1.0/24", "us-east-2a")}))
    old = physical("net", "Sub")
    cfn().update_stack(StackName="net", TemplateBody=body({"Vpc": VPC, "Sub": subnet("10.0.2.0/24", "us-east-2b")}))
    new = physical("net", "Sub")
    assert status("net")["StackStatus"] == "UPDATE_COMPLETE"
    assert new != old
    ids = {s["SubnetId"]: s for s in boto3.client("ec2", region_name=REGION).describe_subnets()["Subnets"]}
    assert old not in ids and ids[new]["AvailabilityZone"] == "us-east-2b"
    statuses = [e["ResourceStatus"] for e in cfn().describe_stack_events(StackName="net")["StackEvents"]]
    assert "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" in statuses


def parameter_group(description: str) -> dict:
    return {"PG": {"Type": "AWS::RDS::DBParameterGroup", "Properties": {
        "DBParameterGroupName": "custom-pg", "Family": "postgres16", "Description": description,
        "Parameters": {"log_min_duration_statement": "500"}}}}


def test_replacing_a_custom_named_parameter_group_fails_and_rolls_back(aws_env):
    """Description is create-only; with DBParameterGroupName unchanged, CloudFormation refuses the replacement."""
    cfn().create_stack(StackName="pg", TemplateBody=body(parameter_group("one")))
    cfn().update_stack(StackName="pg", TemplateBody=body(parameter_group("two")))
    stack = status("pg")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack["StackStatusReason"]
    failed = [e for e in cfn().describe_stack_events(StackName="pg")["StackEvents"]
              if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "PG"
    assert failed[0]["ResourceStatusReason"] == (
        "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
        "Rename custom-pg and update the stack again.")
    template = cfn().get_template(StackName="pg")["TemplateBody"]   # still the old template, whole
    assert (json.loads(template) if isinstance(template, str) else template)["Resources"] == parameter_group("one")
    groups = boto3.client("rds", region_name=REGION).describe_db_parameter_groups()["DBParameterGroups"]
    assert [g["Description"] for g in groups if g["DBParameterGroupName"] == "custom-pg"] == ["one"]


def test_a_failed_update_rolls_back_template_parameters_and_resources(aws_env):
    """A resource that fails rolls back what the update did: template, parameters, resources as before."""
    template = lambda name: json.dumps({  # noqa: E731
        "Parameters": {"Value": {"Type": "String"}},
        "Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/p", "Type": "String",
                                                                          "Value": {"Ref": "Value"}}},
                      "S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": name}}}})
    cfn().create_stack(StackName="rb", TemplateBody=template("mine"),
                       Parameters=[{"ParameterKey": "Value", "ParameterValue": "one"}])
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name="taken", SecretString="x")
    cfn().update_stack(StackName="rb", TemplateBody=template("taken"),
                       Parameters=[{"ParameterKey": "Value", "ParameterValue": "two"}])
    stack = status("rb")
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack["Parameters"] == [{"ParameterKey": "Value", "ParameterValue": "one"}]
    assert boto3.client("ssm", region_name=REGION).get_parameter(Name="/p")["Parameter"]["Value"] == "one"
    assert "mine" in json.dumps(cfn().get_template(StackName="rb")["TemplateBody"])
    assert physical("rb", "S").split(":secret:")[1].startswith("mine")


def test_a_modified_resource_moto_cannot_update_stays_in_the_stack(aws_env):
    """An in-place update leaves the resource in the stack with its physical ID."""
    group = lambda retention: {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {  # noqa: E731
        "LogGroupName": "/kept", "RetentionInDays": retention}}}
    cfn().create_stack(StackName="keep", TemplateBody=body(group(7)))
    cfn().update_stack(StackName="keep", TemplateBody=body(group(14)))
    assert status("keep")["StackStatus"] == "UPDATE_COMPLETE"
    assert physical("keep", "Logs") == "/kept"


def test_a_service_is_updated_after_the_task_definition_it_refers_to(aws_env):
    """A resource is updated only after the resources it refers to: the service runs the new revision."""
    def template(image):
        return body({
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {}},
            "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": "web", "ContainerDefinitions": [{"Name": "web", "Image": image, "Memory": 128}]}},
            "Service": {"Type": "AWS::ECS::Service", "Properties": {
                "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "Task"}, "DesiredCount": 1}}})
    cfn().create_stack(StackName="ecs", TemplateBody=template("app:1"))
    cfn().update_stack(StackName="ecs", TemplateBody=template("app:2"))
    ecs = boto3.client("ecs", region_name=REGION)
    service = ecs.describe_services(cluster=physical("ecs", "Cluster"), services=[physical("ecs", "Service")])
    assert service["services"][0]["taskDefinition"].endswith("web:2")


def test_a_parameter_used_through_a_condition_updates_the_resource(aws_env):
    """A new parameter value changes a resource that uses it only through a condition (Fn::If)."""
    template = json.dumps({
        "Parameters": {"Mode": {"Type": "String"}},
        "Conditions": {"Loud": {"Fn::Equals": [{"Ref": "Mode"}, "loud"]}},
        "Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": "/mode", "Type": "String", "Value": {"Fn::If": ["Loud", "LOUD", "quiet"]}}}}})
    cfn().create_stack(StackName="cond", TemplateBody=template,
                       Parameters=[{"ParameterKey": "Mode", "ParameterValue": "soft"}])
    cfn().update_stack(StackName="cond", TemplateBody=template,
                       Parameters=[{"ParameterKey": "Mode", "ParameterValue": "loud"}])
    assert boto3.client("ssm", region_name=REGION).get_parameter(Name="/mode")["Parameter"]["Value"] == "LOUD"


def test_a_rule_that_reads_a_group_updated_in_place_is_left_alone(aws_env):
    """A rule and a task definition that read (Fn::GetAtt) resources updated in place are Dynamic in the change
    set; at run time what they read is the same, so they are not updated: the rule stays, the revision stays."""
    def template(tag: str) -> str:
        return body({
            "Vpc": VPC,
            "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupDescription": "web", "VpcId": {"Ref": "Vpc"}, "Tags": [{"Key": "Name", "Value": tag}]}},
            "Rule": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
                "GroupId": {"Fn::GetAtt": ["Group", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 80,
                "ToPort": 80, "CidrIp": "0.0.0.0/0"}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": {"Statement": []}, "Description": tag}},
            "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": "web", "TaskRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "ContainerDefinitions": [{"Name": "web", "Image": "app:1", "Memory": 128}]}}})
    cfn().create_stack(StackName="dyn", TemplateBody=template("one"))
    revision = physical("dyn", "Task")
    cs = cfn().create_change_set(StackName="dyn", ChangeSetName="tags", TemplateBody=template("two"))
    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]
               for c in cfn().describe_change_set(ChangeSetName=cs["Id"])["Changes"]}
    assert changes["Rule"]["Details"][0]["Evaluation"] == "Dynamic"
    assert changes["Task"]["Details"][0]["Evaluation"] == "Dynamic"
    cfn().execute_change_set(ChangeSetName=cs["Id"])
    assert status("dyn")["StackStatus"] == "UPDATE_COMPLETE"
    assert physical("dyn", "Task") == revision
    ec2 = boto3.client("ec2", region_name=REGION)
    rules = ec2.describe_security_groups(GroupIds=[physical("dyn", "Group")])["SecurityGroups"][0]["IpPermissions"]
    assert [(r["FromPort"], r["IpRanges"][0]["CidrIp"]) for r in rules] == [(80, "0.0.0.0/0")]
    events = [e["LogicalResourceId"] for e in cfn().describe_stack_events(StackName="dyn")["StackEvents"]
              if e["ResourceStatus"] == "UPDATE_IN_PROGRESS"]
    assert "Rule" not in events and "Task" not in events
