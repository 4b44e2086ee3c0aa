"""The local AWS's CloudFormation stack lifecycle, stated as AWS documents it (plain boto3, no product code)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "us-east-2"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def body(resources: dict, **extra) -> str:
    return json.dumps({"Resources": resources, **extra})


def physical(stack: str, logical_id: str) -> str:
    return cfn().describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"]["PhysicalResourceId"]


VPC = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}


def test_get_azs_of_the_empty_string_lists_the_stacks_own_region(aws_env):
    """Fn::GetAZs "" returns the zones of the stack's region: a us-east-2 subnet lands in us-east-2a."""
    subnet = lambda az: {"Type": "AWS::EC2::Subnet", "Properties": {  # noqa: E731
        "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24" if az == 0 else "10.0.2.0/24",
        "AvailabilityZone": {"Fn::Select": [az, {"Fn::GetAZs": "" if az == 0 else {"Ref": "AWS::Region"}}]}}}
    cfn().create_stack(StackName="azs", TemplateBody=body({"Vpc": VPC, "A": subnet(0), "B": subnet(1)}))
    ec2 = boto3.client("ec2", region_name=REGION)
    zones = {s["SubnetId"]: s["AvailabilityZone"] for s in ec2.describe_subnets()["Subnets"]}
    assert zones[physical("azs", "A")] == "us-east-2a"
    assert zones[physical("azs", "B")] == "us-east-2b"


def test_a_yaml_get_att_of_a_dotted_attribute_resolves(aws_env):
    """!GetAtt Db.Endpoint.Address names the attribute Endpoint.Address of Db."""
    template = """
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties: {Engine: postgres, DBInstanceClass: db.t4g.micro, AllocatedStorage: "20",
                 MasterUsername: app, MasterUserPassword: "pass-word-1"}
  Address:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: !GetAtt Db.Endpoint.Address}
"""
    cfn().create_stack(StackName="yaml", TemplateBody=template)
    value = boto3.client("ssm", region_name=REGION).get_parameter(Name=physical("yaml", "Address"))
    assert value["Parameter"]["Value"].endswith(".rds.amazonaws.com")


def test_a_secret_and_a_parameter_group_are_created_by_their_stack(aws_env):
    """Every resource type of the template is created by its provider, under the name the template gives."""
    cfn().create_stack(StackName="models", TemplateBody=body({
        "S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "models/secret", "SecretString": "x"}},
        "P": {"Type": "AWS::RDS::DBParameterGroup", "Properties": {
            "DBParameterGroupName": "models-pg", "Family": "postgres16", "Description": "d"}}}))
    assert boto3.client("secretsmanager", region_name=REGION).describe_secret(SecretId="models/secret")["Name"]
    groups = boto3.client("rds", region_name=REGION).describe_db_parameter_groups()["DBParameterGroups"]
    assert [g["DBParameterGroupName"] for g in groups if g["DBParameterGroupName"] == "models-pg"]


def test_a_stack_with_types_moto_does_not_model_is_still_created(aws_env):
    """A template with a scalable target creates (not modelled locally: a known gap)."""
    cfn().create_stack(StackName="scaling", TemplateBody=body({
        "Vpc": VPC, "Target": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {
            "MaxCapacity": 4, "MinCapacity": 1, "ResourceId": "service/cluster/web",
            "ScalableDimension": "ecs:service:DesiredCount", "ServiceNamespace": "ecs"}}}))
    assert cfn().describe_stacks(StackName="scaling")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_a_resource_that_fails_to_create_rolls_the_stack_back(aws_env):
    """A resource that can't be created ends CREATE_FAILED; what was created is deleted; ROLLBACK_COMPLETE."""
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/taken", Value="mine", Type="String")
    cfn().create_stack(StackName="fails", TemplateBody=body({
        "Vpc": VPC,
        "Taken": {"Type": "AWS::SecretsManager::Secret", "DependsOn": "Vpc", "Properties": {"Name": "dup"}},
        "Again": {"Type": "AWS::SecretsManager::Secret", "DependsOn": "Taken", "Properties": {"Name": "dup"}}}))
    stack = cfn().describe_stacks(StackName="fails")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn().describe_stack_events(StackName="fails")["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed and failed[0]["LogicalResourceId"] == "Again" and failed[0]["ResourceStatusReason"]
    assert not boto3.client("ec2", region_name=REGION).describe_vpcs(
        Filters=[{"Name": "cidr", "Values": ["10.0.0.0/16"]}])["Vpcs"]


def test_a_stack_with_termination_protection_cannot_be_deleted(aws_env):
    """DeleteStack on a stack with termination protection is a ValidationError; the stack stays."""
    cfn().create_stack(StackName="kept", TemplateBody=body({"Vpc": VPC}), EnableTerminationProtection=True)
    with pytest.raises(ClientError) as caught:
        cfn().delete_stack(StackName="kept")
    assert "TerminationProtection is enabled" in str(caught.value)
    assert cfn().describe_stacks(StackName="kept")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_a_stack_deleted_and_created_again_gets_a_new_id_and_completes(aws_env):
    """After DELETE_COMPLETE the same name can be created again, with every named resource, under a new ID."""
    template = body({"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "again/secret",
                                                                               "SecretString": "v"}},
                     "P": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/again", "Type": "String",
                                                                          "Value": "v"}}})
    first = cfn().create_stack(StackName="again", TemplateBody=template)["StackId"]
    cfn().delete_stack(StackName="again")
    second = cfn().create_stack(StackName="again", TemplateBody=template)["StackId"]
    assert second != first
    assert cfn().describe_stacks(StackName="again")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_a_creation_that_meets_a_retained_resource_rolls_back_and_can_be_described(aws_env):
    """A stack deleted with its log group retained, created again: the log group's name is taken, so the creation
    fails on it and rolls back (ROLLBACK_COMPLETE, the reason in the events); DescribeStacks answers with no
    outputs and creates nothing, and the retained log group is untouched."""
    group = {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "Properties": {"LogGroupName": "/kept"}}
    template = body({"Vpc": VPC, "Logs": group}, Outputs={"Group": {"Value": {"Ref": "Logs"}},
                                                           "VpcId": {"Value": {"Ref": "Vpc"}}})
    cfn().create_stack(StackName="again", TemplateBody=template)
    cfn().delete_stack(StackName="again")
    cfn().create_stack(StackName="again", TemplateBody=template)
    stack = cfn().describe_stacks(StackName="again")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE" and "Outputs" not in stack
    failed = [e for e in cfn().describe_stack_events(StackName="again")["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Logs"] and "already exists" in failed[0]["ResourceStatusReason"]
    logs = boto3.client("logs", region_name=REGION)
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/kept")["logGroups"]] == ["/kept"]
    assert boto3.client("ec2", region_name=REGION).describe_vpcs(
        Filters=[{"Name": "cidr", "Values": ["10.0.0.0/16"]}])["Vpcs"] == []  # the rollback deleted what it made
