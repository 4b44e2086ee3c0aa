"""SSM parameters created by CloudFormation on the local AWS, stated as AWS documents them (plain boto3)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "us-east-2"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def test_a_parameter_without_a_name_gets_a_generated_one(aws_env):
    cfn().create_stack(StackName="ssm", TemplateBody=json.dumps({"Resources": {
        "P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "v"}}}}))
    name = cfn().describe_stack_resource(StackName="ssm", LogicalResourceId="P")["StackResourceDetail"]["PhysicalResourceId"]
    assert name.startswith("CFN-P-")
    assert boto3.client("ssm", region_name=REGION).get_parameter(Name=name)["Parameter"]["Value"] == "v"


def test_a_changed_value_is_a_new_version_of_the_same_parameter(aws_env):
    body = lambda v: json.dumps({"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {  # noqa: E731
        "Name": "/app/p", "Type": "String", "Value": v}}}})
    cfn().create_stack(StackName="ssm", TemplateBody=body("one"))
    cfn().update_stack(StackName="ssm", TemplateBody=body("two"))
    parameter = boto3.client("ssm", region_name=REGION).get_parameter(Name="/app/p")["Parameter"]
    assert (parameter["Value"], parameter["Version"]) == ("two", 2)


def test_a_standard_parameter_refuses_a_value_over_4_kb(aws_env):
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/app/full", Value="x" * 4096, Type="String")   # exactly 4 KB: taken
    with pytest.raises(ClientError) as refused:
        ssm.put_parameter(Name="/app/big", Value="x" * 4097, Type="String")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError):   # an overwrite keeps the parameter's tier, and its limit
        ssm.put_parameter(Name="/app/full", Value="é" * 2049, Type="String", Overwrite=True)
    ssm.put_parameter(Name="/app/advanced", Value="x" * 8192, Type="String", Tier="Advanced")
    with pytest.raises(ClientError):
        ssm.put_parameter(Name="/app/advanced", Value="x" * 8193, Type="String", Overwrite=True)
    assert ssm.get_parameter(Name="/app/full")["Parameter"]["Value"] == "x" * 4096
