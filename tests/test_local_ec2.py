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


def _subnet_template(public: bool) -> str:
    return json.dumps({"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Public": {"Type": "AWS::EC2::Subnet", "Properties": {
            "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24", "MapPublicIpOnLaunch": public}}}})


def test_map_public_ip_on_launch_is_applied_and_changed_in_place(aws_env):
    """A public subnet maps public IPs; the converged template stops it: the same subnet answers false."""
    cfn().create_stack(StackName="net", TemplateBody=_subnet_template(True))
    subnet = physical("net", "Public")
    ec2 = boto3.client("ec2", region_name=REGION)
    assert ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["MapPublicIpOnLaunch"] is True
    cfn().update_stack(StackName="net", TemplateBody=_subnet_template(False))
    assert physical("net", "Public") == subnet
    assert ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["MapPublicIpOnLaunch"] is False


def _groups(egress=None, rules=None) -> str:
    group = {"GroupDescription": "web", "VpcId": {"Ref": "Vpc"}}
    if egress is not None:
        group["SecurityGroupEgress"] = egress
    return json.dumps({"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Web": {"Type": "AWS::EC2::SecurityGroup", "Properties": group},
        "Db": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "db", "VpcId": {"Ref": "Vpc"}}},
        **(rules or {})}})


def _rules(group_id, direction="IpPermissionsEgress"):
    group = boto3.client("ec2", region_name=REGION).describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    return sorted((p["IpProtocol"], p.get("FromPort"), tuple(r["CidrIp"] for r in p.get("IpRanges", [])),
                   tuple(g["GroupId"] for g in p.get("UserIdGroupPairs", []))) for p in group[direction])


def test_a_groups_own_egress_rules_replace_the_default_allow_all_rule(aws_env):
    """A group with egress rules of its own has no allow-all rule; an update changes them on the same group; a group
    without any keeps EC2's default; dropping all of its own leaves none."""
    https = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}]
    cfn().create_stack(StackName="sg", TemplateBody=_groups(https))
    web, db = physical("sg", "Web"), physical("sg", "Db")
    assert _rules(web) == [("tcp", 443, ("0.0.0.0/0",), ())]
    assert _rules(db) == [("-1", None, ("0.0.0.0/0",), ())]
    postgres = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "10.0.0.0/16"}]
    cfn().update_stack(StackName="sg", TemplateBody=_groups(https + postgres))
    assert physical("sg", "Web") == web
    assert _rules(web) == [("tcp", 443, ("0.0.0.0/0",), ()), ("tcp", 5432, ("10.0.0.0/16",), ())]
    cfn().update_stack(StackName="sg", TemplateBody=_groups([]))
    assert _rules(web) == []


def test_standalone_rules_are_added_replaced_and_removed_with_their_resources(aws_env):
    """AWS::EC2::SecurityGroupEgress adds its rule (the group's allow-all default stays); a changed port replaces a
    standalone rule, the old one is revoked; a removed resource takes its rule with it."""
    def rules(port):
        return {
            "ToDb": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
                "GroupId": {"Ref": "Web"}, "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                "DestinationSecurityGroupId": {"Ref": "Db"}}},
            "FromWeb": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
                "GroupId": {"Ref": "Db"}, "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                "SourceSecurityGroupId": {"Ref": "Web"}}}}
    cfn().create_stack(StackName="sg", TemplateBody=_groups(rules=rules(5432)))
    web, db = physical("sg", "Web"), physical("sg", "Db")
    assert physical("sg", "ToDb").startswith("sgr-")
    assert _rules(web) == [("-1", None, ("0.0.0.0/0",), ()), ("tcp", 5432, (), (db,))]
    assert _rules(db, "IpPermissions") == [("tcp", 5432, (), (web,))]
    cfn().update_stack(StackName="sg", TemplateBody=_groups(rules=rules(6432)))
    assert _rules(web) == [("-1", None, ("0.0.0.0/0",), ()), ("tcp", 6432, (), (db,))]
    assert _rules(db, "IpPermissions") == [("tcp", 6432, (), (web,))]
    cfn().update_stack(StackName="sg", TemplateBody=_groups())
    assert _rules(web) == [("-1", None, ("0.0.0.0/0",), ())]
    assert _rules(db, "IpPermissions") == []
