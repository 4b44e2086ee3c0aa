"""S3 buckets of a stack on the local AWS, stated as AWS documents them (plain boto3)."""

import json

import boto3

REGION = "us-east-2"


def test_a_stack_cannot_delete_a_bucket_that_holds_objects(aws_env):
    cfn, s3 = boto3.client("cloudformation", region_name=REGION), boto3.client("s3", region_name=REGION)
    cfn.create_stack(StackName="store", TemplateBody=json.dumps({"Resources": {"Logs": {"Type": "AWS::S3::Bucket"}}}))
    bucket = cfn.describe_stack_resource(StackName="store", LogicalResourceId="Logs")["StackResourceDetail"][
        "PhysicalResourceId"]
    s3.put_object(Bucket=bucket, Key="a.log", Body=b"x")
    cfn.delete_stack(StackName="store")
    assert cfn.describe_stacks(StackName="store")["Stacks"][0]["StackStatus"] == "DELETE_FAILED"
    failed = [e for e in cfn.describe_stack_events(StackName="store")["StackEvents"]
              if e["LogicalResourceId"] == "Logs" and e["ResourceStatus"] == "DELETE_FAILED"]
    assert failed and "not empty" in failed[0]["ResourceStatusReason"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1  # nothing lost
    s3.delete_object(Bucket=bucket, Key="a.log")
    cfn.delete_stack(StackName="store")
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
