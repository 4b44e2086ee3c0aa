"""CloudFormation's request quotas on the local AWS, stated as AWS documents them (plain boto3)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "us-east-2"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def template(padding: int) -> str:
    return json.dumps({"Metadata": {"Padding": "x" * padding}, "Resources": {"P": {
        "Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "v"}}}})


def refused(call) -> str:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["Error"]["Code"] == "ValidationError"
    return error.value.response["Error"]["Message"]


def test_a_template_body_over_51200_bytes_is_refused_by_every_call(aws_env):
    """51,200 bytes inline is the limit for CreateStack, UpdateStack, CreateChangeSet, ValidateTemplate and
    CreateStackRefactor; exactly the limit is accepted; through S3 the same template is accepted."""
    small, big = template(100), template(60_000)
    at_limit = template(100 + 51_200 - len(small))
    assert len(at_limit) == 51_200
    cfn().create_stack(StackName="s", TemplateBody=at_limit)
    limit = "failed to satisfy constraint: Member must have length less than or equal to 51200"
    assert limit in refused(lambda: cfn().create_stack(StackName="t", TemplateBody=big))
    assert limit in refused(lambda: cfn().update_stack(StackName="s", TemplateBody=big))
    assert limit in refused(lambda: cfn().create_change_set(StackName="s", ChangeSetName="c", TemplateBody=big))
    assert limit in refused(lambda: cfn().validate_template(TemplateBody=big))
    assert limit in refused(lambda: cfn().create_stack_refactor(
        StackDefinitions=[{"StackName": "s", "TemplateBody": big}]))
    assert [s["StackName"] for s in cfn().describe_stacks()["Stacks"]] == ["s"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="templates", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="templates", Key="big.json", Body=big.encode())
    cfn().update_stack(StackName="s", TemplateURL="https://templates.s3.amazonaws.com/big.json")
    assert cfn().describe_stacks(StackName="s")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_a_template_in_s3_over_1_mb_is_refused(aws_env):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="templates", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="templates", Key="huge.json", Body=template(1_100_000).encode())
    message = refused(lambda: cfn().create_stack(
        StackName="s", TemplateURL="https://templates.s3.amazonaws.com/huge.json"))
    assert message == "Template may not exceed 1048576 bytes in size."
