"""Load balancers and target groups on the local AWS, stated as AWS documents them (plain boto3)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "us-east-2"
NETWORK = {
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
    "A": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                                                     "AvailabilityZone": "us-east-2a"}},
    "B": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.2.0/24",
                                                     "AvailabilityZone": "us-east-2b"}},
}


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def elbv2():
    return boto3.client("elbv2", region_name=REGION)


def physical(stack, logical_id):
    return cfn().describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"]["PhysicalResourceId"]


def status(stack):
    return cfn().describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


def template(target_group=None, balancer=None, **extra) -> str:
    resources = dict(NETWORK)
    resources["Tg"] = {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
        "VpcId": {"Ref": "Vpc"}, "Port": 3000, "Protocol": "HTTP", "TargetType": "ip", **(target_group or {})}}
    resources["Lb"] = {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
        "Subnets": [{"Ref": "A"}, {"Ref": "B"}], **(balancer or {})}}
    if "depends_on" in extra:
        resources["Lb"]["DependsOn"] = extra["depends_on"]
    return json.dumps({"Resources": {**resources, **extra.get("resources", {})}, "Outputs": extra.get("outputs", {})})


def attributes(pairs):
    return {a["Key"]: a["Value"] for a in pairs}


def _health(arn):
    group = elbv2().describe_target_groups(TargetGroupArns=[arn])["TargetGroups"][0]
    return (group["HealthCheckPath"], group["HealthCheckIntervalSeconds"], group["HealthCheckTimeoutSeconds"],
            group["HealthyThresholdCount"], group["UnhealthyThresholdCount"], group["Matcher"]["HttpCode"])


def test_a_changed_health_check_and_deregistration_delay_are_applied_in_place(aws_env):
    """The live group checks /health every 30 s and expects 200; the converged one /api/health every 10 s, 200-399,
    deregistering in 15 s: the same target group (same ARN) answers the new settings."""
    live = {"HealthCheckPath": "/health", "HealthCheckIntervalSeconds": 30, "Matcher": {"HttpCode": "200"},
            "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]}
    cfn().create_stack(StackName="lb", TemplateBody=template(live))
    arn = physical("lb", "Tg")
    assert _health(arn) == ("/health", 30, 5, 5, 2, "200")
    assert attributes(elbv2().describe_target_group_attributes(TargetGroupArn=arn)["Attributes"])[
        "deregistration_delay.timeout_seconds"] == "30"
    converged = {"HealthCheckPath": "/api/health", "HealthCheckIntervalSeconds": 10, "HealthCheckTimeoutSeconds": 5,
                 "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 3, "Matcher": {"HttpCode": "200-399"},
                 "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "15"},
                                           {"Key": "stickiness.enabled", "Value": "true"}]}
    cfn().update_stack(StackName="lb", TemplateBody=template(converged))
    assert status("lb") == "UPDATE_COMPLETE" and physical("lb", "Tg") == arn
    assert _health(arn) == ("/api/health", 10, 5, 2, 3, "200-399")
    after = attributes(elbv2().describe_target_group_attributes(TargetGroupArn=arn)["Attributes"])
    assert after["deregistration_delay.timeout_seconds"] == "15" and after["stickiness.enabled"] == "true"


def test_a_setting_removed_from_the_template_goes_back_to_its_default(aws_env):
    """A health check path, matcher and attribute the template no longer sets are AWS's defaults again."""
    cfn().create_stack(StackName="lb", TemplateBody=template({
        "HealthCheckPath": "/health", "Matcher": {"HttpCode": "200-299"},
        "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]}))
    arn = physical("lb", "Tg")
    cfn().update_stack(StackName="lb", TemplateBody=template({"HealthCheckIntervalSeconds": 15}))
    assert _health(arn) == ("/", 15, 5, 5, 2, "200")
    assert attributes(elbv2().describe_target_group_attributes(TargetGroupArn=arn)["Attributes"])[
        "deregistration_delay.timeout_seconds"] == "300"


def test_a_health_check_timeout_not_below_the_interval_fails_and_rolls_back(aws_env):
    """The health check timeout must be smaller than the interval: the update fails and the old check stays."""
    cfn().create_stack(StackName="lb", TemplateBody=template({"HealthCheckIntervalSeconds": 30}))
    arn = physical("lb", "Tg")
    cfn().update_stack(StackName="lb", TemplateBody=template({
        "HealthCheckIntervalSeconds": 10, "HealthCheckTimeoutSeconds": 10}))
    assert status("lb") == "UPDATE_ROLLBACK_COMPLETE"
    assert _health(arn)[1:3] == (30, 5)


def test_load_balancer_attributes_are_applied_and_changed_in_place(aws_env):
    """A new load balancer has AWS's default attributes; the template's are applied on create, changed in place on
    update, and one the template drops goes back to its default."""
    cfn().create_stack(StackName="lb", TemplateBody=template(balancer={"LoadBalancerAttributes": [
        {"Key": "idle_timeout.timeout_seconds", "Value": "120"},
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}]}))
    arn = physical("lb", "Lb")
    created = attributes(elbv2().describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"])
    assert created["idle_timeout.timeout_seconds"] == "120"
    assert created["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert created["routing.http2.enabled"] == "true" and created["deletion_protection.enabled"] == "false"
    cfn().update_stack(StackName="lb", TemplateBody=template(balancer={"LoadBalancerAttributes": [
        {"Key": "deletion_protection.enabled", "Value": "true"},
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}]}))
    assert physical("lb", "Lb") == arn
    updated = attributes(elbv2().describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"])
    assert updated["deletion_protection.enabled"] == "true"
    assert updated["idle_timeout.timeout_seconds"] == "60"


def test_access_logs_need_a_bucket_the_load_balancer_may_write_to(aws_env):
    """Turning access logs on to a bucket without a policy for Elastic Load Balancing is refused, through the API
    and through CloudFormation; with the region's ELB account allowed to put objects, it is accepted."""
    cfn().create_stack(StackName="lb", TemplateBody=template())
    arn = physical("lb", "Lb")
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="logs-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    logs_on = [{"Key": "access_logs.s3.enabled", "Value": "true"}, {"Key": "access_logs.s3.bucket",
                                                                    "Value": "logs-bucket"}]
    with pytest.raises(ClientError) as refused:
        elbv2().modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=logs_on)
    assert refused.value.response["Error"]["Code"] == "InvalidConfigurationRequest"
    assert "Access Denied for bucket: logs-bucket" in refused.value.response["Error"]["Message"]
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::033677994240:root"}, "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs-bucket/AWSLogs/946652103073/*"}]}
    cfn().update_stack(StackName="lb", TemplateBody=template(balancer={"LoadBalancerAttributes": logs_on},
                                                             depends_on="Policy", resources={
        "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": "logs-bucket",
                                                                   "PolicyDocument": policy}}}))
    assert status("lb") == "UPDATE_COMPLETE"
    assert attributes(elbv2().describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"])[
        "access_logs.s3.enabled"] == "true"


def test_get_att_full_names_have_aws_formats(aws_env):
    """LoadBalancerFullName is app/<name>/<id> and TargetGroupFullName targetgroup/<name>/<id>, as CloudWatch's
    ApplicationELB dimensions name them."""
    cfn().create_stack(StackName="lb", TemplateBody=template(outputs={
        "Lb": {"Value": {"Fn::GetAtt": ["Lb", "LoadBalancerFullName"]}},
        "Tg": {"Value": {"Fn::GetAtt": ["Tg", "TargetGroupFullName"]}},
        "Zone": {"Value": {"Fn::GetAtt": ["Lb", "CanonicalHostedZoneID"]}},
        "Dims": {"Value": {"Fn::Sub": "${Lb.LoadBalancerFullName} ${Tg.TargetGroupFullName}"}}}))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn().describe_stacks(StackName="lb")["Stacks"][0]["Outputs"]}
    lb_arn, tg_arn = physical("lb", "Lb"), physical("lb", "Tg")
    assert outputs["Lb"] == lb_arn.split(":loadbalancer/")[1] and outputs["Lb"].startswith("app/lb-Lb-")
    assert outputs["Tg"] == tg_arn.split(":")[-1] and outputs["Tg"].startswith("targetgroup/lb-Tg-")
    assert outputs["Zone"] == "Z3AADJGX6KTTL2"
    assert outputs["Dims"] == f"{outputs['Lb']} {outputs['Tg']}"


def protected_template(protected: bool) -> str:
    return json.dumps({"Resources": {**NETWORK, "Alb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                                                        "Properties": {
        "Subnets": [{"Ref": "A"}, {"Ref": "B"}],
        "LoadBalancerAttributes": [{"Key": "deletion_protection.enabled", "Value": str(protected).lower()},
                                   {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}]}}}})


def _alb_attributes(arn: str) -> dict[str, str]:
    return attributes(elbv2().describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"])


def test_a_protected_load_balancer_cannot_be_deleted_by_its_stack(aws_env):
    """The template's attributes are set; DeleteLoadBalancer of a protected one fails, and so does deleting its
    stack (DELETE_FAILED); once an update lowers the protection, the stack deletes."""
    cfn().create_stack(StackName="lb", TemplateBody=protected_template(protected=True))
    arn = physical("lb", "Alb")
    assert _alb_attributes(arn)["deletion_protection.enabled"] == "true"
    assert _alb_attributes(arn)["routing.http.drop_invalid_header_fields.enabled"] == "true"
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
    cfn().create_stack(StackName="lb", TemplateBody=protected_template(protected=False))
    assert _alb_attributes(physical("lb", "Alb"))["deletion_protection.enabled"] == "false"
    cfn().update_stack(StackName="lb", TemplateBody=protected_template(protected=True))
    assert _alb_attributes(physical("lb", "Alb"))["deletion_protection.enabled"] == "true"


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
