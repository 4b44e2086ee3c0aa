"""Stack refactoring on the local AWS: what AWS refuses, and a stack that settles after EXECUTE_COMPLETE."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from support.gates import settle_refactors

REGION = "us-east-2"
VPC = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def refactor(stack: str, template: dict, renames: dict) -> dict:
    """Create a refactor renaming logical IDs within `stack`; its description once validated."""
    refactor_id = cfn().create_stack_refactor(
        StackDefinitions=[{"StackName": stack, "TemplateBody": json.dumps(template)}],
        ResourceMappings=[{"Source": {"StackName": stack, "LogicalResourceId": old},
                           "Destination": {"StackName": stack, "LogicalResourceId": new}}
                          for old, new in renames.items()])["StackRefactorId"]
    return cfn().describe_stack_refactor(StackRefactorId=refactor_id)


def with_listener(name: str) -> dict:
    """A stack whose HTTPS listener exists only when a certificate is given (here: none)."""
    return {
        "Parameters": {"Certificate": {"Type": "String", "Default": ""}},
        "Conditions": {"HasCertificate": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Certificate"}, ""]}]}},
        "Resources": {"Vpc": VPC, name: {
            "Type": "AWS::ElasticLoadBalancingV2::Listener", "Condition": "HasCertificate", "Properties": {
                "LoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-2:946652103073:loadbalancer/app/x/1",
                "Port": 443, "Protocol": "HTTPS", "DefaultActions": [{"Type": "fixed-response", "FixedResponseConfig": {
                    "StatusCode": "404"}}]}}}}


def test_a_mapping_of_a_resource_whose_condition_is_false_is_refused(aws_env):
    """The listener's condition is false, so CloudFormation never created it: a mapping of it has no physical resource
    to move and the refactor fails validation; renaming it in the template without a mapping is no move at all."""
    cfn().create_stack(StackName="web", TemplateBody=json.dumps(with_listener("HttpsListener")))
    renamed = with_listener("HTTPSListener")
    refused = refactor("web", renamed, {"HttpsListener": "HTTPSListener"})
    assert refused["Status"] == "CREATE_FAILED" and refused["ExecutionStatus"] == "UNAVAILABLE"
    assert "HttpsListener has no physical resource" in refused["StatusReason"]
    renamed["Resources"]["Network"] = renamed["Resources"].pop("Vpc")
    accepted = refactor("web", renamed, {"Vpc": "Network"})
    assert accepted["Status"] == "CREATE_COMPLETE"


def test_types_refactoring_does_not_support_and_stacks_with_a_policy_are_refused(aws_env):
    """A launch template is among the types stack refactoring does not support, a key pair's tags cannot be updated;
    a stack with a stack policy cannot be refactored at all."""
    key = {"Type": "AWS::EC2::KeyPair", "Properties": {"KeyName": "ops"}}
    launch = {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {"InstanceType": "t3.micro"}}}
    cfn().create_stack(StackName="ops", TemplateBody=json.dumps({"Resources": {"Key": key, "Launch": launch}}))
    launch_moved = refactor("ops", {"Resources": {"Key": key, "Template": launch}}, {"Launch": "Template"})
    assert launch_moved["Status"] == "CREATE_FAILED"
    assert "AWS::EC2::LaunchTemplate" in launch_moved["StatusReason"]
    key_moved = refactor("ops", {"Resources": {"OpsKey": key, "Launch": launch}}, {"Key": "OpsKey"})
    assert key_moved["Status"] == "CREATE_FAILED" and "tags cannot be updated" in key_moved["StatusReason"]
    cfn().create_stack(StackName="kept", TemplateBody=json.dumps({"Resources": {"Vpc": VPC}}),
                       StackPolicyBody=json.dumps({"Statement": [{"Effect": "Allow", "Action": "Update:*",
                                                                  "Principal": "*", "Resource": "*"}]}))
    policed = refactor("kept", {"Resources": {"Network": VPC}}, {"Vpc": "Network"})
    assert policed["Status"] == "CREATE_FAILED" and "stack policy" in policed["StatusReason"]


def test_a_refactored_stack_can_stay_in_progress_after_execute_complete(aws_env):
    """With the switch on, the refactor reports EXECUTE_COMPLETE while the stack is still UPDATE_IN_PROGRESS: an
    update sent then is refused as AWS refuses it; once settled (here: after two reads) the stack takes updates."""
    cfn().create_stack(StackName="web", TemplateBody=json.dumps({"Resources": {"Vpc": VPC}}))
    settle_refactors(2)
    done = refactor("web", {"Resources": {"Network": VPC}}, {"Vpc": "Network"})
    cfn().execute_stack_refactor(StackRefactorId=done["StackRefactorId"])
    assert cfn().describe_stack_refactor(StackRefactorId=done["StackRefactorId"])["ExecutionStatus"] == \
        "EXECUTE_COMPLETE"
    stack = cfn().describe_stacks(StackName="web")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_IN_PROGRESS"
    changed = json.dumps({"Resources": {"Network": VPC, "Other": VPC}})
    with pytest.raises(ClientError) as busy:
        cfn().create_change_set(StackName="web", ChangeSetName="next", TemplateBody=changed)
    assert busy.value.response["Error"]["Message"] == \
        f"Stack:{stack['StackId']} is in UPDATE_IN_PROGRESS state and can not be updated."
    assert cfn().describe_stacks(StackName="web")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    cfn().update_stack(StackName="web", TemplateBody=changed)
    assert cfn().describe_stacks(StackName="web")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_by_default_a_refactored_stack_is_stable_at_once(aws_env):
    cfn().create_stack(StackName="web", TemplateBody=json.dumps({"Resources": {"Vpc": VPC}}))
    done = refactor("web", {"Resources": {"Network": VPC}}, {"Vpc": "Network"})
    cfn().execute_stack_refactor(StackRefactorId=done["StackRefactorId"])
    assert not cfn().describe_stacks(StackName="web")["Stacks"][0]["StackStatus"].endswith("_IN_PROGRESS")
    cfn().update_stack(StackName="web", TemplateBody=json.dumps({"Resources": {"Network": VPC, "Other": VPC}}))


def test_a_bad_settle_request_is_refused(aws_env):
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as bad:
        settle_refactors(-1)
    assert bad.value.code == 400
