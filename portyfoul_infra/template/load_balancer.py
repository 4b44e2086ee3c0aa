"""Load balancer (plan phase 5): the internet-facing ALB, its target group, and both security groups.

HTTP forwards to the web target group until HTTPS is configured, either with
an existing ACM certificate (CertificateArn) or with a domain (DomainName and
HostedZoneId) whose certificate this template creates, validated by DNS, with
an alias record to the load balancer. Then an HTTPS listener forwards and HTTP
only redirects. Access logs go to an encrypted, private bucket whose objects
expire, when AccessLogs is on (production).
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs import s3 as aw_s3
from awacs.aws import Allow, PolicyDocument, Principal, Statement
from troposphere import (
    Condition,
    Equals,
    FindInMap,
    GetAtt,
    If,
    Not,
    NoValue,
    Or,
    Ref,
    Region,
    Select,
    Sub,
    Tags,
    Template,
    ec2,
    route53,
    s3,
)
from troposphere import certificatemanager as acm
from troposphere import elasticloadbalancingv2 as elb

from .network import Network
from .parameters import Params

ALB_SECURITY_GROUP = "LoadBalancerSecurityGroup"
SERVICE_SECURITY_GROUP = "ServiceSecurityGroup"
LOAD_BALANCER = "LoadBalancer"
TARGET_GROUP = "WebTargetGroup"
HTTP_LISTENER = "HttpListener"
HTTPS_LISTENER = "HttpsListener"
CERTIFICATE = "Certificate"
DNS_RECORD = "DnsRecord"
ACCESS_LOG_BUCKET = "AccessLogBucket"
ACCESS_LOG_BUCKET_POLICY = "AccessLogBucketPolicy"
HAS_CERTIFICATE = "HasCertificate"          # HTTPS is on, by either route
HAS_CERTIFICATE_ARN = "HasCertificateArn"
HAS_DOMAIN = "HasDomain"
HAS_ACCESS_LOGS = "HasAccessLogs"
ELB_ACCOUNTS = "ElbLogDeliveryAccounts"
# The regional Elastic Load Balancing accounts that deliver access logs (AWS documentation, "Enable access
# logs for your Application Load Balancer"); regions opened after August 2022 use a service principal.
_ELB_ACCOUNTS = {"us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
                 "us-west-2": "797873946194", "eu-west-1": "156460612806", "eu-central-1": "054676820928"}
ACCESS_LOG_DAYS = 90

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
    t.add_condition(HAS_CERTIFICATE_ARN, Not(Equals(p.CertificateArn, "")))
    t.add_condition(HAS_DOMAIN, Not(Equals(p.DomainName, "")))
    t.add_condition(HAS_CERTIFICATE, Or(Condition(HAS_CERTIFICATE_ARN), Condition(HAS_DOMAIN)))
    t.add_condition(HAS_ACCESS_LOGS, Equals(p.AccessLogs, "true"))
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
        GroupDescription="ECS services: 3000 from the ALB only; out: HTTPS and the database",
        VpcId=network.vpc.ref(),
        SecurityGroupIngress=[ec2.SecurityGroupRule(
            IpProtocol="tcp", FromPort=CONTAINER_PORT, ToPort=CONTAINER_PORT,
            SourceSecurityGroupId=alb_sg.ref(), Description="App port from the ALB",
        )],
        # HTTPS out only (ECR, Secrets Manager, SSM, CloudWatch Logs, the price APIs, all through the NAT
        # gateway); PostgreSQL to the database's group is a rule of its own (database.py). No all-protocol rule.
        SecurityGroupEgress=[ec2.SecurityGroupRule(
            IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0",
            Description="HTTPS: ECR, Secrets Manager, SSM, logs and the price APIs",
        )],
        Tags=Tags(Name=Sub("${ProjectName}-${Environment}-ecs-sg")),
    ))
    logs, logs_policy = _add_access_logs(t)
    # The bucket's name, through its policy: the load balancer then waits for the policy (it writes a test
    # object when access logs are turned on), and a DependsOn could not name a conditional resource.
    logs_bucket_name = Select(0, [logs.ref(), Ref(logs_policy)])
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
            elb.LoadBalancerAttributes(Key="access_logs.s3.enabled", Value=p.AccessLogs),
            If(HAS_ACCESS_LOGS, elb.LoadBalancerAttributes(Key="access_logs.s3.bucket", Value=logs_bucket_name),
               NoValue),
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
        HealthCheckIntervalSeconds=p.HealthCheckIntervalSeconds,
        HealthCheckTimeoutSeconds=5,
        HealthyThresholdCount=p.HealthyThreshold,
        UnhealthyThresholdCount=p.UnhealthyThreshold,
        Matcher=elb.Matcher(HttpCode="200-399"),
        TargetGroupAttributes=[elb.TargetGroupAttribute(Key="deregistration_delay.timeout_seconds",
                                                        Value=p.DeregistrationDelaySeconds)],
    ))
    forward = elb.Action(Type="forward", TargetGroupArn=tg.ref())
    redirect = elb.Action(Type="redirect", RedirectConfig=elb.RedirectConfig(
        Protocol="HTTPS", Port="443", StatusCode="HTTP_301"))
    http = t.add_resource(elb.Listener(
        HTTP_LISTENER,
        LoadBalancerArn=alb.ref(), Port=80, Protocol="HTTP",
        DefaultActions=[If(HAS_CERTIFICATE, redirect, forward)],
    ))
    certificate = t.add_resource(acm.Certificate(
        CERTIFICATE,
        Condition=HAS_DOMAIN,
        DomainName=p.DomainName,
        ValidationMethod="DNS",
        DomainValidationOptions=[acm.DomainValidationOption(DomainName=p.DomainName, HostedZoneId=p.HostedZoneId)],
        Tags=Tags(Name=Sub("${ProjectName}-${Environment}")),
    ))
    t.add_resource(route53.RecordSetType(
        DNS_RECORD,
        Condition=HAS_DOMAIN,
        HostedZoneId=p.HostedZoneId,
        Name=p.DomainName,
        Type="A",
        AliasTarget=route53.AliasTarget(DNSName=GetAtt(alb, "DNSName"),
                                        HostedZoneId=GetAtt(alb, "CanonicalHostedZoneID")),
    ))
    t.add_resource(elb.Listener(
        HTTPS_LISTENER,
        Condition=HAS_CERTIFICATE,
        LoadBalancerArn=alb.ref(), Port=443, Protocol="HTTPS", SslPolicy=TLS_POLICY,
        Certificates=[elb.Certificate(CertificateArn=If(HAS_CERTIFICATE_ARN, p.CertificateArn, certificate.ref()))],
        DefaultActions=[elb.Action(Type="forward", TargetGroupArn=tg.ref())],
    ))
    url = If(HAS_DOMAIN, Sub("https://${DomainName}"),
             If(HAS_CERTIFICATE, Sub("https://${DNS}", DNS=GetAtt(alb, "DNSName")),
                Sub("http://${DNS}", DNS=GetAtt(alb, "DNSName"))))
    return LoadBalancer(alb, tg, http, alb_sg, service_sg, url)


def _add_access_logs(t: Template) -> tuple[s3.Bucket, s3.BucketPolicy]:
    """A private, encrypted bucket for the load balancer's access logs, whose objects expire."""
    t.add_mapping(ELB_ACCOUNTS, {region: {"Account": account} for region, account in sorted(_ELB_ACCOUNTS.items())})
    bucket = t.add_resource(s3.Bucket(
        ACCESS_LOG_BUCKET,
        Condition=HAS_ACCESS_LOGS,
        BucketName=Sub("${ProjectName}-${Environment}-${AWS::AccountId}-alb-logs"),
        # Access logs support SSE-S3 only (not KMS).
        BucketEncryption=s3.BucketEncryption(ServerSideEncryptionConfiguration=[
            s3.ServerSideEncryptionRule(ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                SSEAlgorithm="AES256"))]),
        PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True),
        OwnershipControls=s3.OwnershipControls(Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]),
        VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
        LifecycleConfiguration=s3.LifecycleConfiguration(Rules=[s3.LifecycleRule(
            Id="expire-access-logs", Status="Enabled", ExpirationInDays=ACCESS_LOG_DAYS,
            NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=1))]),
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
    ))
    policy = t.add_resource(s3.BucketPolicy(
        ACCESS_LOG_BUCKET_POLICY,
        Condition=HAS_ACCESS_LOGS,
        Bucket=bucket.ref(),
        PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[
            Statement(Sid="ElbLogDelivery", Effect=Allow, Action=[aw_s3.PutObject],
                      Principal=Principal("AWS", Sub("arn:${AWS::Partition}:iam::${Account}:root",
                                                     Account=FindInMap(ELB_ACCOUNTS, Region, "Account"))),
                      Resource=[Sub("arn:${AWS::Partition}:s3:::${Bucket}/AWSLogs/${AWS::AccountId}/*",
                                    Bucket=bucket.ref())]),
        ]),
    ))
    return bucket, policy


