"""Load balancers created by CloudFormation on the local AWS, stated as AWS documents them (plain boto3)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "us-east-2"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def elbv2():
    return boto3.client("elbv2", region_name=REGION)


def template(protected: bool) -> str:
    return json.dumps({"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "A": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                                                         "AvailabilityZone": "us-east-2a"}},
        "B": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.2.0/24",
                                                         "AvailabilityZone": "us-east-2b"}},
        "Alb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Subnets": [{"Ref": "A"}, {"Ref": "B"}],
            "LoadBalancerAttributes": [{"Key": "deletion_protection.enabled", "Value": str(protected).lower()},
                                       {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}]}},
    }})


def alb_arn() -> str:
    return cfn().describe_stack_resource(StackName="lb", LogicalResourceId="Alb")["StackResourceDetail"][
        "PhysicalResourceId"]


def attributes(arn: str) -> dict[str, str]:
    return {a["Key"]: a["Value"] for a in elbv2().describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}


def test_a_protected_load_balancer_cannot_be_deleted_by_its_stack(aws_env):
    """The template's attributes are set; DeleteLoadBalancer of a protected one fails, and so does deleting its
    stack (DELETE_FAILED); once an update lowers the protection, the stack deletes."""
    cfn().create_stack(StackName="lb", TemplateBody=template(protected=True))
    arn = alb_arn()
    assert attributes(arn)["deletion_protection.enabled"] == "true"
    assert attributes(arn)["routing.http.drop_invalid_header_fields.enabled"] == "true"
    with pytest.raises(ClientError) as caught:
        elbv2().delete_load_balancer(LoadBalancerArn=arn)
    assert caught.value.response["Error"]["Code"] == "OperationNotPermitted"
    assert "cannot be deleted because deletion protection is enabled" in str(caught.value)
    cfn().delete_stack(StackName="lb")
    assert cfn().describe_stacks(StackName="lb")["Stacks"][0]["StackStatus"] == "DELETE_FAILED"
    events = cfn().describe_stack_events(StackName="lb")["StackEvents"]
    assert [e for e in events if e["LogicalResourceId"] == "Alb" and e["ResourceStatus"] == "DELETE_FAILED"]

    elbv2().modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    cfn().delete_stack(StackName="lb")
    assert elbv2().describe_load_balancers()["LoadBalancers"] == []


def test_an_update_sets_the_templates_attributes(aws_env):
    cfn().create_stack(StackName="lb", TemplateBody=template(protected=False))
    assert attributes(alb_arn())["deletion_protection.enabled"] == "false"
    cfn().update_stack(StackName="lb", TemplateBody=template(protected=True))
    assert attributes(alb_arn())["deletion_protection.enabled"] == "true"


def listener_template() -> str:
    subnet = lambda n, az: {"Type": "AWS::EC2::Subnet", "Properties": {  # noqa: E731
        "VpcId": {"Ref": "Vpc"}, "CidrBlock": f"10.0.{n}.0/24", "AvailabilityZone": az}}
    return json.dumps({"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "A": subnet(1, "us-east-2a"), "B": subnet(2, "us-east-2b"),
        "Lb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Name": "web-lb", "Subnets": [{"Ref": "A"}, {"Ref": "B"}]}},
        "Tg": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Name": "web-tg", "Port": 3000, "Protocol": "HTTP", "TargetType": "ip", "VpcId": {"Ref": "Vpc"}}},
        "Listener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
            "LoadBalancerArn": {"Ref": "Lb"}, "Port": 80, "Protocol": "HTTP",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "Tg"}}]}}}})


def test_a_stack_with_a_load_balancer_listener_and_target_group_can_be_deleted_and_created_again(aws_env):
    """Deleting the stack deletes its listener, target group and load balancer: the target group's name is free,
    and the same stack created again completes."""
    cfn().create_stack(StackName="lb", TemplateBody=listener_template())
    assert [t["TargetGroupName"] for t in elbv2().describe_target_groups()["TargetGroups"]] == ["web-tg"]
    cfn().delete_stack(StackName="lb")
    assert elbv2().describe_target_groups()["TargetGroups"] == []
    assert elbv2().describe_load_balancers()["LoadBalancers"] == []
    cfn().create_stack(StackName="lb", TemplateBody=listener_template())
    assert cfn().describe_stacks(StackName="lb")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert [t["TargetGroupName"] for t in elbv2().describe_target_groups()["TargetGroups"]] == ["web-tg"]
