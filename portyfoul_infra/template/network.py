"""Network (plan phases 1 and 5): VPC, two public and two private subnets, one NAT gateway."""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAZs, Select, Sub, Tags, Template, ec2

from .parameters import Params

VPC = "VPC"
INTERNET_GATEWAY = "InternetGateway"
GATEWAY_ATTACHMENT = "InternetGatewayAttachment"
PUBLIC_SUBNETS = ("PublicSubnet1", "PublicSubnet2")
PRIVATE_SUBNETS = ("PrivateSubnet1", "PrivateSubnet2")
NAT_EIP = "NatGatewayEIP"
NAT_GATEWAY = "NatGateway"
PUBLIC_ROUTE_TABLE = "PublicRouteTable"
PRIVATE_ROUTE_TABLE = "PrivateRouteTable"
PUBLIC_DEFAULT_ROUTE = "PublicDefaultRoute"
PRIVATE_DEFAULT_ROUTE = "PrivateDefaultRoute"


@dataclass(frozen=True)
class Network:
    vpc: ec2.VPC
    public_subnets: tuple[ec2.Subnet, ...]
    private_subnets: tuple[ec2.Subnet, ...]


def _name(suffix: str) -> Tags:
    return Tags(Name=Sub("${ProjectName}-${Environment}-" + suffix))


def add_network(t: Template, p: Params) -> Network:
    vpc = t.add_resource(ec2.VPC(
        VPC, CidrBlock=p.VpcCidr, EnableDnsHostnames=True, EnableDnsSupport=True, Tags=_name("vpc"),
    ))
    igw = t.add_resource(ec2.InternetGateway(INTERNET_GATEWAY, Tags=_name("igw")))
    attachment = t.add_resource(ec2.VPCGatewayAttachment(
        GATEWAY_ATTACHMENT, VpcId=vpc.ref(), InternetGatewayId=igw.ref(),
    ))

    def subnet(logical_id: str, cidr, az_index: int, label: str) -> ec2.Subnet:
        return t.add_resource(ec2.Subnet(
            logical_id,
            VpcId=vpc.ref(),
            CidrBlock=cidr,
            # AZs by index from the region's list, never hard-coded.
            AvailabilityZone=Select(az_index, GetAZs("")),
            # The ALB and NAT have their own addresses; nothing here needs an automatic public IP.
            MapPublicIpOnLaunch=False,
            Tags=_name(label),
        ))

    public = (
        subnet(PUBLIC_SUBNETS[0], p.PublicSubnet1Cidr, 0, "public-1"),
        subnet(PUBLIC_SUBNETS[1], p.PublicSubnet2Cidr, 1, "public-2"),
    )
    private = (
        subnet(PRIVATE_SUBNETS[0], p.PrivateSubnet1Cidr, 0, "private-1"),
        subnet(PRIVATE_SUBNETS[1], p.PrivateSubnet2Cidr, 1, "private-2"),
    )

    eip = t.add_resource(ec2.EIP(NAT_EIP, Domain="vpc", DependsOn=[attachment.title], Tags=_name("nat-eip")))
    nat = t.add_resource(ec2.NatGateway(
        NAT_GATEWAY, AllocationId=eip.get_att("AllocationId"), SubnetId=public[0].ref(), Tags=_name("nat"),
    ))

    public_rt = t.add_resource(ec2.RouteTable(PUBLIC_ROUTE_TABLE, VpcId=vpc.ref(), Tags=_name("public-rt")))
    t.add_resource(ec2.Route(
        PUBLIC_DEFAULT_ROUTE, RouteTableId=public_rt.ref(), DestinationCidrBlock="0.0.0.0/0",
        GatewayId=igw.ref(), DependsOn=[attachment.title],
    ))
    private_rt = t.add_resource(ec2.RouteTable(PRIVATE_ROUTE_TABLE, VpcId=vpc.ref(), Tags=_name("private-rt")))
    t.add_resource(ec2.Route(
        PRIVATE_DEFAULT_ROUTE, RouteTableId=private_rt.ref(), DestinationCidrBlock="0.0.0.0/0",
        NatGatewayId=nat.ref(),
    ))
    for sn in public:
        t.add_resource(ec2.SubnetRouteTableAssociation(
            f"{sn.title}RouteTableAssociation", SubnetId=sn.ref(), RouteTableId=public_rt.ref(),
        ))
    for sn in private:
        t.add_resource(ec2.SubnetRouteTableAssociation(
            f"{sn.title}RouteTableAssociation", SubnetId=sn.ref(), RouteTableId=private_rt.ref(),
        ))
    return Network(vpc=vpc, public_subnets=public, private_subnets=private)
