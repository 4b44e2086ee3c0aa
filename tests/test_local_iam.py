"""IAM roles and policies on the local AWS, stated as AWS documents them (plain boto3)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "us-east-2"
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                  "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def iam():
    return boto3.client("iam", region_name=REGION)


def allow(action, resource="*"):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def physical(stack, logical_id):
    return cfn().describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"]["PhysicalResourceId"]


def status(stack):
    return cfn().describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


def role(policies, managed, **extra) -> str:
    return json.dumps({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": TRUST, "Policies": policies, "ManagedPolicyArns": managed}}, **extra}})


def inline(name):
    return sorted(iam().list_role_policies(RoleName=name)["PolicyNames"])


def managed(name):
    return sorted(p["PolicyArn"] for p in iam().list_attached_role_policies(RoleName=name)["AttachedPolicies"])


def test_an_aws_managed_policy_can_be_attached_by_its_arn(aws_env):
    """AWS managed policies exist in every account: AttachRolePolicy takes one by ARN and GetPolicy answers for it; an
    ARN AWS does not have is still refused."""
    iam().create_role(RoleName="exec", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam().attach_role_policy(RoleName="exec", PolicyArn=EXECUTION_POLICY)
    assert managed("exec") == [EXECUTION_POLICY]
    assert iam().get_policy(PolicyArn=EXECUTION_POLICY)["Policy"]["PolicyName"] == "AmazonECSTaskExecutionRolePolicy"
    with pytest.raises(ClientError) as missing:
        iam().attach_role_policy(RoleName="exec", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicyAnywhere")
    assert missing.value.response["Error"]["Code"] == "NoSuchEntity"


def test_a_roles_inline_and_managed_policies_follow_the_template(aws_env):
    """The live task role can PutMetricData anywhere and has the execution policy attached; the converged one names
    one namespace, adds a policy and drops the managed one: the same role answers exactly that afterwards. A policy
    attached by hand (never in the template) stays."""
    cfn().create_stack(StackName="iam", TemplateBody=role(
        [{"PolicyName": "metrics", "PolicyDocument": allow("cloudwatch:PutMetricData")}], [EXECUTION_POLICY]))
    name = physical("iam", "Role")
    assert inline(name) == ["metrics"] and managed(name) == [EXECUTION_POLICY]
    by_hand = iam().create_policy(PolicyName="by-hand", PolicyDocument=json.dumps(allow("s3:ListBucket")))
    iam().attach_role_policy(RoleName=name, PolicyArn=by_hand["Policy"]["Arn"])
    narrowed = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": "Portyfoul"}}}]}
    cfn().update_stack(StackName="iam", TemplateBody=role(
        [{"PolicyName": "metrics", "PolicyDocument": narrowed},
         {"PolicyName": "logs", "PolicyDocument": allow("logs:PutLogEvents")}], []))
    assert status("iam") == "UPDATE_COMPLETE" and physical("iam", "Role") == name
    assert inline(name) == ["logs", "metrics"]
    assert iam().get_role_policy(RoleName=name, PolicyName="metrics")["PolicyDocument"] == narrowed
    assert managed(name) == [by_hand["Policy"]["Arn"]]
    cfn().update_stack(StackName="iam", TemplateBody=role([], [EXECUTION_POLICY]))
    assert inline(name) == [] and managed(name) == sorted([EXECUTION_POLICY, by_hand["Policy"]["Arn"]])


def test_a_role_with_managed_policies_is_deleted_with_its_stack(aws_env):
    """CloudFormation detaches the role's managed policies and deletes its inline ones before deleting it."""
    cfn().create_stack(StackName="iam", TemplateBody=role(
        [{"PolicyName": "metrics", "PolicyDocument": allow("cloudwatch:PutMetricData")}], [EXECUTION_POLICY]))
    name = physical("iam", "Role")
    cfn().delete_stack(StackName="iam")
    assert cfn().list_stacks()["StackSummaries"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert name not in [r["RoleName"] for r in iam().list_roles()["Roles"]]


def test_a_managed_policy_follows_its_template_and_goes_with_its_stack(aws_env):
    """AWS::IAM::ManagedPolicy: a changed document is a new default version of the same policy, its Roles follow the
    template, and deleting the stack detaches and deletes it. An AWS::IAM::Policy beside it changes in place too."""
    def body(document, roles, extra_action):
        return role([], [], Second={"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}},
                    Managed={"Type": "AWS::IAM::ManagedPolicy", "Properties": {
                        "PolicyDocument": document, "Roles": [{"Ref": r} for r in roles]}},
                    Inline={"Type": "AWS::IAM::Policy", "Properties": {
                        "PolicyName": "extra", "PolicyDocument": allow(extra_action), "Roles": [{"Ref": "Role"}]}})
    cfn().create_stack(StackName="iam", TemplateBody=body(allow("sqs:SendMessage"), ["Role"], "s3:GetObject"))
    arn, first, second = physical("iam", "Managed"), physical("iam", "Role"), physical("iam", "Second")
    assert managed(first) == [arn] and managed(second) == []
    cfn().update_stack(StackName="iam", TemplateBody=body(allow("sqs:ReceiveMessage"), ["Second"], "s3:PutObject"))
    assert status("iam") == "UPDATE_COMPLETE" and physical("iam", "Managed") == arn
    policy = iam().get_policy(PolicyArn=arn)["Policy"]
    version = iam().get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    assert policy["DefaultVersionId"] == "v2" and version["Document"] == allow("sqs:ReceiveMessage")
    assert managed(first) == [] and managed(second) == [arn]
    assert iam().get_role_policy(RoleName=first, PolicyName="extra")["PolicyDocument"] == allow("s3:PutObject")
    cfn().delete_stack(StackName="iam")
    assert cfn().list_stacks()["StackSummaries"][0]["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError):
        iam().get_policy(PolicyArn=arn)
