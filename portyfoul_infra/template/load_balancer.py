"""Load balancer (plan phase 5): the internet-facing ALB, its target group, and both security groups.

HTTP forwards to the web target group. When an ACM certificate ARN is
configured, an HTTPS listener forwards instead and HTTP redirects to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Equals, GetAtt, If, Not, Sub, Tags, Template
from troposphere import ec2
from troposphere import elasticloadbalancingv2 as elb

from .network import Network
from .parameters import Params

ALB_SECURITY_GROUP = "LoadBalancerSecurityGroup"
SERVICE_SECURITY_GROUP = "ServiceSecurityGroup"
LOAD_BALANCER = "LoadBalancer"
TARGET_GROUP = "WebTargetGroup"
HTTP_LISTENER = "HttpListener"
HTTPS_LISTENER = "HttpsListener"
HAS_CERTIFICATE = "HasCertificate"

CONTAINER_PORT = 3000
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass(frozen=True)
class LoadBalancer:
    load_balancer: elb.LoadBalancer
    target_group: elb.TargetGroup
    http_listener: elb.Listener
    alb_security_group: ec2.SecurityGroup
    service_security_group: ec2.SecurityGroup
    url: If


def add_load_balancer(t: Template, p: Params, network: Network) -> LoadBalancer:
    t.add_condition(HAS_CERTIFICATE, Not(Equals(p.CertificateArn, "")))
    alb_sg = t.add_resource(ec2.SecurityGroup(
        ALB_SECURITY_GROUP,
        GroupDescription="ALB: HTTP and HTTPS from the internet",
        VpcId=network.vpc.ref(),
        SecurityGroupIngress=[
            ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=port, ToPort=port, CidrIp="0.0.0.0/0",
                                  Description=f"{name} from the internet")
            for port, name in ((80, "HTTP"), (443, "HTTPS"))
        ],
        # The ALB only ever talks to the web tasks.
        SecurityGroupEgress=[ec2.SecurityGroupRule(
            IpProtocol="tcp", FromPort=CONTAINER_PORT, ToPort=CONTAINER_PORT, CidrIp=p.VpcCidr,
            Description="To the web tasks",
        )],
        Tags=Tags(Name=Sub("${ProjectName}-${Environment}-alb-sg")),
    ))
    service_sg = t.add_resource(ec2.SecurityGroup(
        SERVICE_SECURITY_GROUP,
        GroupDescription="ECS services: 3000 from the ALB only; outbound for RDS, NAT and price APIs",
        VpcId=network.vpc.ref(),
        SecurityGroupIngress=[ec2.SecurityGroupRule(
            IpProtocol="tcp", FromPort=CONTAINER_PORT, ToPort=CONTAINER_PORT,
            SourceSecurityGroupId=alb_sg.ref(), Description="App port from the ALB",
        )],
        SecurityGroupEgress=[ec2.SecurityGroupRule(
            IpProtocol="-1", CidrIp="0.0.0.0/0", Description="RDS, ECR, Secrets Manager and the price APIs",
        )],
        Tags=Tags(Name=Sub("${ProjectName}-${Environment}-ecs-sg")),
    ))
    alb = t.add_resource(elb.LoadBalancer(
        LOAD_BALANCER,
        Name=Sub("${ProjectName}-${Environment}-alb"),
        Scheme="internet-facing",
        Type="application",
        Subnets=[s.ref() for s in network.public_subnets],
        SecurityGroups=[alb_sg.ref()],
        LoadBalancerAttributes=[
            elb.LoadBalancerAttributes(Key="routing.http.drop_invalid_header_fields.enabled", Value="true"),
            elb.LoadBalancerAttributes(Key="deletion_protection.enabled", Value=p.DeletionProtection),
        ],
    ))
    tg = t.add_resource(elb.TargetGroup(
        TARGET_GROUP,
        Name=Sub("${ProjectName}-${Environment}-web-tg"),
        Port=CONTAINER_PORT,
        Protocol="HTTP",
        TargetType="ip",
        VpcId=network.vpc.ref(),
        HealthCheckPath=p.HealthCheckPath,
        HealthCheckIntervalSeconds=30,
        HealthyThresholdCount=2,
        UnhealthyThresholdCount=3,
        Matcher=elb.Matcher(HttpCode="200-399"),
        TargetGroupAttributes=[elb.TargetGroupAttribute(Key="deregistration_delay.timeout_seconds", Value="30")],
    ))
    forward = elb.Action(Type="forward", TargetGroupArn=tg.ref())
    redirect = elb.Action(Type="redirect", RedirectConfig=elb.RedirectConfig(
        Protocol="HTTPS", Port="443", StatusCode="HTTP_301"))
    http = t.add_resource(elb.Listener(
        HTTP_LISTENER,
        LoadBalancerArn=alb.ref(), Port=80, Protocol="HTTP",
        DefaultActions=[If(HAS_CERTIFICATE, redirect, forward)],
    ))
    t.add_resource(elb.Listener(
        HTTPS_LISTENER,
        Condition=HAS_CERTIFICATE,
        LoadBalancerArn=alb.ref(), Port=443, Protocol="HTTPS", SslPolicy=TLS_POLICY,
        Certificates=[elb.Certificate(CertificateArn=p.CertificateArn)],
        DefaultActions=[elb.Action(Type="forward", TargetGroupArn=tg.ref())],
    ))
    url = If(HAS_CERTIFICATE,
             Sub("https://${DNS}", DNS=GetAtt(alb, "DNSName")),
             Sub("http://${DNS}", DNS=GetAtt(alb, "DNSName")))
    return LoadBalancer(alb, tg, http, alb_sg, service_sg, url)


