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


def _authorize(ec2, group, rules: list, vpc_id) -> None:
    for rule in rules:
        source = {}
        if rule.get("SourceSecurityGroupId"):
            source["GroupId"] = rule["SourceSecurityGroupId"]
        if rule.get("SourceSecurityGroupName"):
            source["GroupName"] = rule["SourceSecurityGroupName"]
        ec2.authorize_security_group_ingress(
            group_name_or_id=group.id, ip_protocol=rule["IpProtocol"], from_port=rule.get("FromPort"),
            to_port=rule.get("ToPort"), ip_ranges=rule.get("CidrIp", []), source_groups=[source] if source else [],
            vpc_id=vpc_id)


@gap("ec2-security-group-update-in-place",
     summary="AWS::EC2::SecurityGroup: an update of its rules or tags deleted the group and created another, with a "
             "new group ID (patched: rules and tags are changed on the same group)",
     aws="SecurityGroupIngress, SecurityGroupEgress and Tags are updatable without interruption: the group keeps "
         "its ID; only GroupDescription, GroupName and VpcId replace it.",
     reference=CFN_DOCS + "aws-resource-ec2-securitygroup.html",
     test=T + "test_a_changed_ingress_rule_keeps_the_security_group_id")
def patch_security_group_update() -> None:
    from moto.ec2.models.security_groups import SecurityGroup

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json["Properties"]
        ec2 = _backend(account_id, region_name)
        original_resource.ingress_rules = []
        _authorize(ec2, original_resource, props.get("SecurityGroupIngress", []), props.get("VpcId"))
        for tag in props.get("Tags", []):
            original_resource.add_tag(tag["Key"], tag["Value"])
        return original_resource

    SecurityGroup.update_from_cloudformation_json = classmethod(update)
