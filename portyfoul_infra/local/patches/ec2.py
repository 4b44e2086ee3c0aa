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


def _truthy(value) -> bool:
    return str(value).lower() == "true"


@gap("ec2-subnet-public-ip",
     summary="AWS::EC2::Subnet: MapPublicIpOnLaunch was ignored on create, and an update of it (or of the tags) "
             "changed nothing, so a public subnet that stops mapping public IPs looked unchanged (patched: applied on "
             "create and changed in place on update, as ModifySubnetAttribute does; DescribeSubnets shows it)",
     aws="MapPublicIpOnLaunch (whether instances launched in the subnet get a public IPv4 address) and Tags are "
         "updatable without interruption: the subnet keeps its ID.",
     reference=CFN_DOCS + "aws-resource-ec2-subnet.html#cfn-ec2-subnet-mappubliciponlaunch",
     test=T + "test_map_public_ip_on_launch_is_applied_and_changed_in_place")
def patch_subnet_public_ip() -> None:
    from moto.ec2.models.subnets import Subnet

    original_create = Subnet.create_from_cloudformation_json.__func__

    def apply(subnet, props: dict, account_id: str, region_name: str) -> None:
        ec2 = _backend(account_id, region_name)
        ec2.modify_subnet_attribute(subnet.id, "map_public_ip_on_launch",
                                    _truthy(props.get("MapPublicIpOnLaunch", False)))
        if "AssignIpv6AddressOnCreation" in props:
            ec2.modify_subnet_attribute(subnet.id, "assign_ipv6_address_on_creation",
                                        _truthy(props["AssignIpv6AddressOnCreation"]))

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        subnet = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        apply(subnet, cloudformation_json.get("Properties") or {}, account_id, region_name)
        return subnet

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json.get("Properties") or {}
        apply(original_resource, props, account_id, region_name)
        for tag in props.get("Tags") or []:
            original_resource.add_tag(tag["Key"], tag["Value"])
        return original_resource

    Subnet.create_from_cloudformation_json = classmethod(create)
    Subnet.update_from_cloudformation_json = classmethod(update)


ALL_TRAFFIC_V4 = {"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}
ALL_TRAFFIC_V6 = {"IpProtocol": "-1", "CidrIpv6": "::/0"}


def _rule_args(rule: dict, egress: bool) -> dict:
    """An inline or standalone rule of a template as AuthorizeSecurityGroup{Ingress,Egress}'s arguments."""
    ip_ranges, groups, prefixes = [], [], []
    described = {"Description": rule["Description"]} if rule.get("Description") else {}
    if rule.get("CidrIp"):
        ip_ranges.append({"CidrIp": str(rule["CidrIp"]), **described})
    if rule.get("CidrIpv6"):
        ip_ranges.append({"CidrIpv6": str(rule["CidrIpv6"]), **described})
    group = rule.get("DestinationSecurityGroupId" if egress else "SourceSecurityGroupId")
    if group:
        groups.append({"GroupId": str(group), **described})
    prefix = rule.get("DestinationPrefixListId" if egress else "SourcePrefixListId")
    if prefix:
        prefixes.append({"PrefixListId": str(prefix), **described})
    protocol = str(rule.get("IpProtocol", "-1"))
    ports = (None, None) if protocol in ("-1", "all") else (rule.get("FromPort"), rule.get("ToPort"))
    return {"ip_protocol": protocol, "from_port": ports[0], "to_port": ports[1], "ip_ranges": ip_ranges,
            "source_groups": groups, "prefix_list_ids": prefixes}


def _egress(ec2, group_id: str, rules: list, grant: bool) -> None:
    for rule in rules:
        try:
            if grant:
                ec2.authorize_security_group_egress(group_id, **_rule_args(rule, egress=True))
            else:
                ec2.revoke_security_group_egress(group_id, **_rule_args(rule, egress=True))
        except Exception as error:  # noqa: BLE001 - a revoke of a rule already gone is no failure
            if grant and "Duplicate" not in type(error).__name__:
                raise


def _defaults(group) -> list[dict]:
    """The allow-all egress rules EC2 gave the group when it was created."""
    rules = []
    for rule in group.egress_rules:
        if rule.ip_protocol == "-1" and rule.ip_range.get("CidrIp") == "0.0.0.0/0":
            rules.append(dict(ALL_TRAFFIC_V4))
        elif rule.ip_protocol == "-1" and rule.ip_range.get("CidrIpv6") == "::/0":
            rules.append(dict(ALL_TRAFFIC_V6))
    return rules


@gap("ec2-security-group-egress",
     summary="AWS::EC2::SecurityGroup: SecurityGroupEgress was ignored, so a group whose template allows only HTTPS out "
             "kept EC2's allow-all egress rule (patched: the group's own egress rules replace the default allow-all "
             "rule, as on AWS; an update authorizes and revokes the changed egress rules on the same group, and a "
             "template that drops all its egress rules leaves the group with none)",
     aws="When you create a security group, if you do not add egress rules, we add egress rules that allow all "
         "outbound IPv4 and IPv6 traffic. Otherwise, we do not add them. After the security group is created, if you "
         "remove all egress rules that you added, we do not add egress rules, so no outbound traffic is allowed.",
     reference=CFN_DOCS + "aws-resource-ec2-securitygroup.html",
     test=T + "test_a_groups_own_egress_rules_replace_the_default_allow_all_rule")
def patch_security_group_egress() -> None:
    from moto.ec2.models.security_groups import SecurityGroup

    created = SecurityGroup.create_from_cloudformation_json.__func__
    updated = SecurityGroup.update_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        group = created(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        rules = list((cloudformation_json.get("Properties") or {}).get("SecurityGroupEgress") or [])
        if rules and group.vpc_id:
            ec2 = _backend(account_id, region_name)
            _egress(ec2, group.id, _defaults(group), grant=False)
            _egress(ec2, group.id, rules, grant=True)
        group.cfn_inline_egress, group.cfn_egress_declared = rules, bool(rules)
        return group

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        group = updated(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        new = list((cloudformation_json.get("Properties") or {}).get("SecurityGroupEgress") or [])
        declared = getattr(group, "cfn_egress_declared", False)
        if not new and not declared:
            return group  # never had rules of its own: EC2's default stays
        old = list(getattr(group, "cfn_inline_egress", [])) if declared else _defaults(group)
        group.cfn_egress_declared = True  # from now on, no default comes back
        ec2 = _backend(account_id, region_name)
        kept = {_key(r) for r in new}
        _egress(ec2, group.id, [r for r in old if _key(r) not in kept], grant=False)
        had = {_key(r) for r in old}
        _egress(ec2, group.id, [r for r in new if _key(r) not in had], grant=True)
        group.cfn_inline_egress = new
        return group

    SecurityGroup.create_from_cloudformation_json = classmethod(create)
    SecurityGroup.update_from_cloudformation_json = classmethod(update)


def _group_id(ec2, props: dict) -> str:
    if props.get("GroupId"):
        return str(props["GroupId"])
    return ec2.describe_security_groups(groupnames=[props.get("GroupName")])[0].id


EGRESS_MODEL = None  # the AWS::EC2::SecurityGroupEgress model class, once patched


def _egress_model():
    from moto.core.common_models import CloudFormationModel

    class SecurityGroupEgress(CloudFormationModel):
        """AWS::EC2::SecurityGroupEgress: one outbound rule added to a group."""

        __module__ = "moto.ec2.models.security_groups"

        def __init__(self, group_id: str, rule_id: str, properties: dict):
            self.group_id, self.rule_id, self.properties = group_id, rule_id, properties

        @property
        def physical_resource_id(self) -> str:
            return self.rule_id

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::EC2::SecurityGroupEgress"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
            props = cloudformation_json.get("Properties") or {}
            ec2 = _backend(account_id, region_name)
            group_id = _group_id(ec2, props)
            rules, _ = ec2.authorize_security_group_egress(group_id, **_rule_args(props, egress=True))
            return cls(group_id, rules[0].id if rules else "", dict(props))

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name):
            original_resource.properties = dict(cloudformation_json.get("Properties") or {})
            return original_resource  # only Description is updatable; anything else replaces the rule

        def delete(self, account_id: str, region_name: str) -> None:
            _egress(_backend(account_id, region_name), self.group_id, [self.properties], grant=False)

    return SecurityGroupEgress


@gap("ec2-standalone-security-group-rules",
     summary="AWS::EC2::SecurityGroupEgress was not created at all, and an AWS::EC2::SecurityGroupIngress removed from "
             "the template (or replaced by a changed one) stayed on its group, so a narrowed rule never narrowed "
             "(patched: egress rules are authorized and revoked with their resource; an ingress rule is revoked when "
             "its resource is deleted or replaced; a standalone egress rule leaves the group's allow-all default in "
             "place, as AuthorizeSecurityGroupEgress does)",
     aws="AWS::EC2::SecurityGroupEgress adds the specified outbound rule to a security group, and "
         "AWS::EC2::SecurityGroupIngress an inbound one; a change of any property but Description replaces the rule, "
         "and deleting the resource removes the rule from the group.",
     reference=CFN_DOCS + "aws-resource-ec2-securitygroupegress.html",
     test=T + "test_standalone_rules_are_added_replaced_and_removed_with_their_resources")
def patch_standalone_rules() -> None:
    global EGRESS_MODEL
    from moto.ec2.models.security_groups import SecurityGroupIngress

    EGRESS_MODEL = _egress_model()

    def delete_ingress(self, account_id: str, region_name: str) -> None:
        props = self.properties or {}
        ec2 = _backend(account_id, region_name)
        try:
            ec2.revoke_security_group_ingress(self.security_group.id, **_rule_args(props, egress=False))
        except Exception:  # noqa: BLE001 - the rule or its group is gone already
            pass

    def update_ingress(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        original_resource.properties = dict(cloudformation_json.get("Properties") or {})
        return original_resource  # only Description is updatable; anything else replaces the rule

    SecurityGroupIngress.delete = delete_ingress
    SecurityGroupIngress.update_from_cloudformation_json = classmethod(update_ingress)
