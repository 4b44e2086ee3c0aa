"""EC2 networking created by CloudFormation on the local AWS, stated as AWS documents it (plain boto3)."""

import json

import boto3

REGION = "us-east-2"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def physical(stack, logical_id):
    return cfn().describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"]["PhysicalResourceId"]


def test_a_stack_with_a_vpc_nat_and_routes_can_be_deleted(aws_env):
    resources = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Igw": {"Type": "AWS::EC2::InternetGateway", "Properties": {}},
        "Attach": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {"VpcId": {"Ref": "Vpc"},
                                                                          "InternetGatewayId": {"Ref": "Igw"}}},
        "Sub": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24"}},
        "Eip": {"Type": "AWS::EC2::EIP", "Properties": {"Domain": "vpc"}},
        "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {"SubnetId": {"Ref": "Sub"},
                                                               "AllocationId": {"Fn::GetAtt": ["Eip", "AllocationId"]}}},
        "Table": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "Route": {"Type": "AWS::EC2::Route", "DependsOn": "Attach", "Properties": {
            "RouteTableId": {"Ref": "Table"}, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": "Igw"}}},
        "Assoc": {"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
            "SubnetId": {"Ref": "Sub"}, "RouteTableId": {"Ref": "Table"}}},
    }
    cfn().create_stack(StackName="net", TemplateBody=json.dumps({"Resources": resources}))
    vpc = physical("net", "Vpc")
    cfn().delete_stack(StackName="net")
    summaries = cfn().list_stacks()["StackSummaries"]
    assert summaries[0]["StackStatus"] == "DELETE_COMPLETE"
    assert vpc not in [v["VpcId"] for v in boto3.client("ec2", region_name=REGION).describe_vpcs()["Vpcs"]]


def test_a_changed_ingress_rule_keeps_the_security_group_id(aws_env):
    """SecurityGroupIngress is updatable without interruption: same group ID, new rules."""
    def body(port):
        return json.dumps({"Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupDescription": "web", "VpcId": {"Ref": "Vpc"}, "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": "10.0.0.0/16"}]}}}})
    cfn().create_stack(StackName="sg", TemplateBody=body(80))
    before = physical("sg", "Sg")
    cfn().update_stack(StackName="sg", TemplateBody=body(443))
    assert physical("sg", "Sg") == before
    group = boto3.client("ec2", region_name=REGION).describe_security_groups(GroupIds=[before])["SecurityGroups"][0]
    assert [p["FromPort"] for p in group["IpPermissions"]] == [443]


def test_rules_of_separate_ingress_resources_survive_an_update_of_the_group(aws_env):
    """A rule written as a separate AWS::EC2::SecurityGroupIngress stays when the group's tags or inline rules
    change: only the inline rules the template declared before are revoked."""
    def body(tag, inline_port):
        return json.dumps({"Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupDescription": "web", "VpcId": {"Ref": "Vpc"}, "Tags": [{"Key": "Name", "Value": tag}],
                "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": inline_port, "ToPort": inline_port,
                                          "CidrIp": "10.0.0.0/16"}]}},
            "Rule": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
                "GroupId": {"Ref": "Sg"}, "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                "CidrIp": "10.0.0.0/16"}}}})
    cfn().create_stack(StackName="mixed", TemplateBody=body("one", 80))
    cfn().update_stack(StackName="mixed", TemplateBody=body("two", 443))
    group_id = physical("mixed", "Sg")
    group = boto3.client("ec2", region_name=REGION).describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert sorted(p["FromPort"] for p in group["IpPermissions"]) == [443, 5432]
