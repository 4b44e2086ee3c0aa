"""Elastic Load Balancing v2 on the local AWS, stated as AWS documents it (plain boto3, no product code)."""

import json

import boto3

REGION = "us-east-2"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def template() -> str:
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
    elbv2 = boto3.client("elbv2", region_name=REGION)
    cfn().create_stack(StackName="lb", TemplateBody=template())
    assert [t["TargetGroupName"] for t in elbv2.describe_target_groups()["TargetGroups"]] == ["web-tg"]
    cfn().delete_stack(StackName="lb")
    assert elbv2.describe_target_groups()["TargetGroups"] == []
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []
    cfn().create_stack(StackName="lb", TemplateBody=template())
    assert cfn().describe_stacks(StackName="lb")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert [t["TargetGroupName"] for t in elbv2.describe_target_groups()["TargetGroups"]] == ["web-tg"]
