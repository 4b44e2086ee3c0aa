"""Amazon EC2 (VPC networking): what CloudFormation deletes and updates in place."""

from __future__ import annotations

from . import gap

T = "tests/test_local_ec2.py::"
CFN_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"


def _backend(account_id, region_name):
    from moto.ec2.models import ec2_backends
    return ec2_backends[account_id][region_name]


@gap("ec2-network-deletes",
     summary="Stack deletion: routes, route tables and their associations, the internet gateway attachment, the NAT "
             "gateway and its EIP had no delete, so a stack with a VPC could never be deleted (patched: deleted as "
             "CloudFormation does)",
     aws="Deleting a stack deletes every resource it created (DeletionPolicy Delete), routes and attachments "
         "before the VPC they belong to.",
     reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-console-delete-stack.html",
     test=T + "test_a_stack_with_a_vpc_nat_and_routes_can_be_deleted")
def patch_network_deletes() -> None:
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress
    from moto.ec2.models.nat_gateways import NatGateway
    from moto.ec2.models.route_tables import Route, RouteTable
    from moto.ec2.models.subnets import SubnetRouteTableAssociation
    from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

    def attachment_delete(self, account_id, region_name):
        if self.gateway_id and self.gateway_id.startswith("igw-"):
            _backend(account_id, region_name).detach_internet_gateway(self.gateway_id, self.vpc_id)

    def association_delete(self, account_id, region_name):
        ec2 = _backend(account_id, region_name)
        table = ec2.route_tables.get(self.route_table_id)
        for association_id, subnet_id in list((table._associations if table else {}).items()):
            if subnet_id == self.subnet_id:
                ec2.disassociate_route_table(association_id)

    def route_delete(self, account_id, region_name):
        ec2 = _backend(account_id, region_name)
        if self.route_table.id in ec2.route_tables and self.id in self.route_table._routes:
            ec2.delete_route(self.route_table.id, self.destination_cidr_block)

    VPCGatewayAttachment.delete = attachment_delete
    SubnetRouteTableAssociation.delete = association_delete
    Route.delete = route_delete
    RouteTable.delete = lambda self, a, r: _backend(a, r).delete_route_table(self.id)
    NatGateway.delete = lambda self, a, r: _backend(a, r).nat_gateways.pop(self.id, None)
    ElasticAddress.delete = lambda self, a, r: _backend(a, r).release_address(allocation_id=self.allocation_id)


def _source(rule: dict) -> list[dict]:
    source = {}
    if rule.get("SourceSecurityGroupId"):
        source["GroupId"] = rule["SourceSecurityGroupId"]
    if rule.get("SourceSecurityGroupName"):
        source["GroupName"] = rule["SourceSecurityGroupName"]
    return [source] if source else []


def _authorize(ec2, group, rules: list, vpc_id) -> None:
    for rule in rules:
        ec2.authorize_security_group_ingress(
            group_name_or_id=group.id, ip_protocol=rule["IpProtocol"], from_port=rule.get("FromPort"),
            to_port=rule.get("ToPort"), ip_ranges=rule.get("CidrIp", []), source_groups=_source(rule),
            vpc_id=vpc_id)


def _revoke(ec2, group, rules: list, vpc_id) -> None:
    for rule in rules:
        try:
            cidr = rule.get("CidrIp")
            ec2.revoke_security_group_ingress(
                group_name_or_id=group.id, ip_protocol=rule["IpProtocol"], from_port=rule.get("FromPort"),
                to_port=rule.get("ToPort"), ip_ranges=[{"CidrIp": cidr}] if cidr else [], source_groups=_source(rule),
                vpc_id=vpc_id)
        except Exception:  # noqa: BLE001 - already gone
            pass


def _key(rule: dict) -> str:
    import json
    return json.dumps({k: str(v) for k, v in rule.items() if k != "Description"}, sort_keys=True)


@gap("ec2-security-group-update-in-place",
     summary="AWS::EC2::SecurityGroup: an update of its rules or tags deleted the group and created another, with a "
             "new group ID (patched: rules and tags are changed on the same group; only the inline rules the "
             "template itself declared before are revoked, so rules of separate SecurityGroupIngress resources "
             "survive a change of the group's tags or inline rules)",
     aws="SecurityGroupIngress, SecurityGroupEgress and Tags are updatable without interruption: the group keeps "
         "its ID; only GroupDescription, GroupName and VpcId replace it. Separate AWS::EC2::SecurityGroupIngress "
         "resources are how AWS says to add rules to a group, so an update of the group leaves theirs alone.",
     reference=CFN_DOCS + "aws-resource-ec2-securitygroup.html",
     test=T + "test_a_changed_ingress_rule_keeps_the_security_group_id")
def patch_security_group_update() -> None:
    from moto.ec2.models.security_groups import SecurityGroup

    create = SecurityGroup.create_from_cloudformation_json.__func__

    def created(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        group = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        group.cfn_inline_ingress = list(cloudformation_json.get("Properties", {}).get("SecurityGroupIngress", []))
        return group

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json["Properties"]
        ec2 = _backend(account_id, region_name)
        old = list(getattr(original_resource, "cfn_inline_ingress", []))
        new = list(props.get("SecurityGroupIngress", []))
        kept = {_key(r) for r in new}
        _revoke(ec2, original_resource, [r for r in old if _key(r) not in kept], props.get("VpcId"))
        had = {_key(r) for r in old}
        _authorize(ec2, original_resource, [r for r in new if _key(r) not in had], props.get("VpcId"))
        original_resource.cfn_inline_ingress = new
        for tag in props.get("Tags", []):
            original_resource.add_tag(tag["Key"], tag["Value"])
        return original_resource

    SecurityGroup.create_from_cloudformation_json = classmethod(created)
    SecurityGroup.update_from_cloudformation_json = classmethod(update)
