"""Elastic Load Balancing v2: target groups and load balancers as CloudFormation and the API leave them on AWS, load
balancer deletion protection as AWS enforces it, and what CloudFormation deletes."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from . import gap

T = "tests/test_local_elbv2.py::"
CFN_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
ELB_API = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/"
TG_DOCS = CFN_DOCS + "aws-resource-elasticloadbalancingv2-targetgroup.html"
LB_DOCS = CFN_DOCS + "aws-resource-elasticloadbalancingv2-loadbalancer.html"

# An Application Load Balancer's attributes as DescribeLoadBalancerAttributes lists them on a new one (the
# LoadBalancerAttribute reference and "Edit attributes for your Application Load Balancer" give each default).
ALB_DEFAULTS = {
    "access_logs.s3.enabled": "false", "access_logs.s3.bucket": "", "access_logs.s3.prefix": "",
    "connection_logs.s3.enabled": "false", "connection_logs.s3.bucket": "", "connection_logs.s3.prefix": "",
    "client_keep_alive.seconds": "3600", "deletion_protection.enabled": "false",
    "idle_timeout.timeout_seconds": "60", "load_balancing.cross_zone.enabled": "true",
    "routing.http.desync_mitigation_mode": "defensive", "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false", "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true", "waf.fail_open.enabled": "false", "zonal_shift.config.enabled": "false",
}
# The health check a new HTTP(S) target group gets where the template says nothing (TargetGroup reference).
HTTP_HEALTH_DEFAULTS = {
    "HealthCheckIntervalSeconds": 30, "HealthCheckTimeoutSeconds": 5, "HealthyThresholdCount": 5,
    "UnhealthyThresholdCount": 2, "HealthCheckPath": "/", "HealthCheckPort": "traffic-port",
    "HealthCheckEnabled": True, "Matcher": {"HttpCode": "200"},
}
# Where Elastic Load Balancing writes access logs from, per region (regions available before August 2022 name
# an account; the others the log delivery service principal).
ELB_ACCOUNTS = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "ca-central-1": "985666609251", "eu-central-1": "054676820928",
    "eu-west-1": "156460612806", "eu-west-2": "652711504416", "eu-west-3": "009996457667",
    "eu-north-1": "897822967062", "ap-northeast-1": "582318560864", "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266", "ap-south-1": "718504428378", "sa-east-1": "507241528517",
}
LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
ACCESS_DENIED = "Access Denied for bucket: {bucket}. Please check S3bucket permission"
BUCKET_POLICY_MODEL: Any = None  # the AWS::S3::BucketPolicy model class, once patched


def _backend(account_id: str, region_name: str):
    from moto.elbv2.models import elbv2_backends
    return elbv2_backends[account_id][region_name]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _attributes(pairs: Any) -> dict[str, str]:
    """A template's [{Key, Value}] list as the API's key -> text."""
    return {str(p["Key"]): _text(p["Value"]) for p in pairs or [] if isinstance(p, dict) and "Key" in p}


def _tags(props: dict) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in props.get("Tags") or [] if isinstance(t, dict)}


def _sync_tags(backend, arn: str, old: dict[str, str], new: dict[str, str]) -> None:
    gone = [k for k in old if k not in new]
    if gone:
        backend.remove_tags([arn], gone)
    if new:
        backend.add_tags([arn], [{"Key": k, "Value": v} for k, v in new.items()])


# ------------------------------------------------------------------ target groups

def _health_check(props: dict, protocol: str | None, defaults: bool) -> dict:
    """ModifyTargetGroup's arguments for the health check the template declares (with AWS's defaults for what it
    leaves out, when `defaults`: a property removed from the template goes back to its default)."""
    given = dict(HTTP_HEALTH_DEFAULTS) if defaults and protocol in ("HTTP", "HTTPS") else {}
    given.update({k: v for k, v in props.items() if k in HTTP_HEALTH_DEFAULTS or k == "HealthCheckProtocol"})
    args: dict[str, Any] = {}
    names = {"HealthCheckProtocol": "health_check_proto", "HealthCheckPort": "health_check_port",
             "HealthCheckPath": "health_check_path", "HealthCheckIntervalSeconds": "health_check_interval",
             "HealthCheckTimeoutSeconds": "health_check_timeout", "HealthyThresholdCount": "healthy_threshold_count",
             "UnhealthyThresholdCount": "unhealthy_threshold_count"}
    for prop, arg in names.items():
        if prop in given:
            args[arg] = int(given[prop]) if prop.endswith(("Seconds", "Count")) else str(given[prop])
    if "HealthCheckEnabled" in given:
        args["health_check_enabled"] = _text(given["HealthCheckEnabled"]).lower() == "true"
    matcher = given.get("Matcher")
    if isinstance(matcher, dict) and matcher.get("HttpCode") is not None:
        args["http_codes"] = str(matcher["HttpCode"])
    return args


def _check_health_timing(target_group, args: dict) -> None:
    """Refuse, before changing anything, a timeout that is not smaller than the interval (HTTP(S) target groups)."""
    from moto.elbv2.exceptions import ValidationError
    interval = args.get("health_check_interval", target_group.health_check_interval_seconds)
    timeout = args.get("health_check_timeout", target_group.health_check_timeout_seconds)
    if target_group.protocol in ("HTTP", "HTTPS") and interval is not None and timeout is not None \
            and int(timeout) >= int(interval):
        raise ValidationError(f"Health check timeout '{timeout}' must be smaller than the interval '{interval}'")


def _apply_target_group(target_group, props: dict, old_props: dict | None) -> None:
    backend = _backend(target_group.account_id, target_group.region_name)
    args = _health_check(props, target_group.protocol, old_props is not None)
    _check_health_timing(target_group, args)
    backend.modify_target_group(target_group.arn, **args)
    wanted = _attributes(props.get("TargetGroupAttributes"))
    defaults = getattr(target_group, "cfn_default_attributes", {})
    dropped = set(_attributes((old_props or {}).get("TargetGroupAttributes"))) - set(wanted)
    changes = {**{k: defaults[k] for k in dropped if k in defaults}, **wanted}
    if changes:
        backend.modify_target_group_attributes(target_group.arn, changes)
    _sync_tags(backend, target_group.arn, _tags(old_props or {}), _tags(props))


@gap("elbv2-target-group-settings",
     summary="AWS::ElasticLoadBalancingV2::TargetGroup: TargetGroupAttributes (deregistration delay, stickiness ...), "
             "HealthCheckEnabled and Tags were dropped, and an update changed nothing: a new health check path, "
             "interval, timeout, thresholds or matcher stayed as created (patched: applied on create and changed in "
             "place on update, as ModifyTargetGroup and ModifyTargetGroupAttributes do; a setting removed from the "
             "template goes back to AWS's default; DescribeTargetGroups and DescribeTargetGroupAttributes show them)",
     aws="The health check settings (HealthCheckPath, HealthCheckIntervalSeconds, HealthCheckTimeoutSeconds, "
         "HealthyThresholdCount, UnhealthyThresholdCount, Matcher ...), TargetGroupAttributes and Tags are updatable "
         "without interruption; the target group keeps its ARN.",
     reference=TG_DOCS,
     test=T + "test_a_changed_health_check_and_deregistration_delay_are_applied_in_place")
def patch_target_group_settings() -> None:
    from moto.elbv2.models import FakeTargetGroup

    original_create = FakeTargetGroup.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        target_group = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        target_group.cfn_default_attributes = dict(target_group.attributes)
        _apply_target_group(target_group, cloudformation_json.get("Properties") or {}, None)
        target_group.cfn_properties = dict(cloudformation_json.get("Properties") or {})
        return target_group

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json.get("Properties") or {}
        _apply_target_group(original_resource, props, getattr(original_resource, "cfn_properties", {}))
        original_resource.cfn_properties = dict(props)
        return original_resource

    FakeTargetGroup.create_from_cloudformation_json = classmethod(create)
    FakeTargetGroup.update_from_cloudformation_json = classmethod(update)


# ------------------------------------------------------------------ load balancers

def _statement_allows(statement: dict, bucket: str, key: str, principals: set[str]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    if not any(fnmatch.fnmatchcase("s3:PutObject", str(a)) for a in actions):
        return False
    principal = statement.get("Principal", {})
    named: set[str] = set()
    if principal == "*":
        named.add("*")
    elif isinstance(principal, dict):
        for value in principal.values():
            named.update([value] if isinstance(value, str) else [str(v) for v in value])
    if not (named & principals or "*" in named):
        return False
    resources = statement.get("Resource", [])
    resources = [resources] if isinstance(resources, str) else resources
    return any(fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket}/{key}", str(r)) for r in resources)


def check_access_logs(account_id: str, region_name: str, attrs: dict[str, str]) -> None:
    """Refuse access logs to a bucket Elastic Load Balancing cannot write to, as AWS does (it writes a test object
    when access logs are turned on)."""
    from moto.elbv2.exceptions import InvalidConfigurationRequest
    from moto.s3.models import s3_backends

    if str(attrs.get("access_logs.s3.enabled", "")).lower() != "true":
        return
    bucket = str(attrs.get("access_logs.s3.bucket") or "")
    prefix = str(attrs.get("access_logs.s3.prefix") or "")
    s3 = s3_backends[account_id]["aws"]
    found = s3.buckets.get(bucket) if bucket else None
    policy = getattr(found, "policy", None) if found is not None else None
    try:
        statements = json.loads(policy).get("Statement", []) if policy else []
    except (TypeError, ValueError):
        statements = []
    statements = [statements] if isinstance(statements, dict) else statements
    elb = ELB_ACCOUNTS.get(region_name)
    principals = {LOG_DELIVERY}
    if elb:
        principals |= {elb, f"arn:aws:iam::{elb}:root"}
    key = f"{prefix + '/' if prefix else ''}AWSLogs/{account_id}/ELBAccessLogTestFile"
    if not any(_statement_allows(s, bucket, key, principals) for s in statements if isinstance(s, dict)):
        raise InvalidConfigurationRequest(ACCESS_DENIED.format(bucket=bucket))


def _apply_load_balancer(balancer, props: dict, old_props: dict | None, account_id: str, region_name: str) -> None:
    backend = _backend(account_id, region_name)
    wanted = _attributes(props.get("LoadBalancerAttributes"))
    defaults = getattr(balancer, "cfn_default_attributes", {})
    dropped = set(_attributes((old_props or {}).get("LoadBalancerAttributes"))) - set(wanted)
    changes = {**{k: defaults[k] for k in dropped if k in defaults}, **wanted}
    if changes:
        backend.modify_load_balancer_attributes(balancer.arn, changes)
    if old_props is not None:
        if props.get("SecurityGroups") and list(props["SecurityGroups"]) != list(old_props.get("SecurityGroups") or []):
            backend.set_security_groups(balancer.arn, [str(g) for g in props["SecurityGroups"]])
        if props.get("Subnets") and list(props["Subnets"]) != list(old_props.get("Subnets") or []):
            backend.set_subnets(balancer.arn, [str(s) for s in props["Subnets"]], [])
    _sync_tags(backend, balancer.arn, _tags(old_props or {}), _tags(props))


@gap("elbv2-load-balancer-attributes",
     summary="AWS::ElasticLoadBalancingV2::LoadBalancer: LoadBalancerAttributes (access logs, idle timeout, deletion "
             "protection, drop invalid headers ...), Type and Tags were dropped and an update changed nothing; a new "
             "load balancer listed four attributes instead of AWS's defaults (patched: applied on create and changed in "
             "place on update, as ModifyLoadBalancerAttributes does, an attribute removed from the template back to its "
             "default; security groups and subnets changed in place; an Application Load Balancer starts with AWS's "
             "default attributes, idle timeout 60 s included)",
     aws="LoadBalancerAttributes, SecurityGroups, Subnets and Tags are updatable without interruption. A new "
         "Application Load Balancer has idle_timeout.timeout_seconds 60, routing.http2.enabled true, "
         "deletion_protection.enabled false, access_logs.s3.enabled false and the other documented defaults.",
     reference=LB_DOCS,
     test=T + "test_load_balancer_attributes_are_applied_and_changed_in_place")
def patch_load_balancer_attributes() -> None:
    from moto.elbv2.models import ELBv2Backend, FakeLoadBalancer

    original_backend_create = ELBv2Backend.create_load_balancer

    def create_load_balancer(self, *args, **kwargs):
        balancer = original_backend_create(self, *args, **kwargs)
        if balancer.type == "application":
            balancer.attrs = dict(ALB_DEFAULTS)
        balancer.cfn_default_attributes = dict(balancer.attrs)
        return balancer

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties") or {}
        balancer = _backend(account_id, region_name).create_load_balancer(
            resource_name, props.get("SecurityGroups") or [], props.get("Subnets") or [],
            subnet_mappings=props.get("SubnetMappings"), scheme=props.get("Scheme", "internet-facing"),
            loadbalancer_type=props.get("Type", "application"), ip_address_type=props.get("IpAddressType", "ipv4"))
        _apply_load_balancer(balancer, props, None, account_id, region_name)
        balancer.cfn_properties = dict(props)
        return balancer

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json.get("Properties") or {}
        _apply_load_balancer(original_resource, props, getattr(original_resource, "cfn_properties", {}),
                             account_id, region_name)
        original_resource.cfn_properties = dict(props)
        return original_resource

    ELBv2Backend.create_load_balancer = create_load_balancer
    FakeLoadBalancer.create_from_cloudformation_json = classmethod(create)
    FakeLoadBalancer.update_from_cloudformation_json = classmethod(update)


PROTECTION = "deletion_protection.enabled"


@gap("elbv2-deletion-protection",
     summary="DeleteLoadBalancer ignored deletion protection (patched: a protected load balancer refuses deletion with "
             "OperationNotPermitted, so a stack deletion that meets it ends DELETE_FAILED)",
     aws="A load balancer with deletion protection enabled cannot be deleted (OperationNotPermitted).",
     reference="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/"
               "edit-load-balancer-attributes.html#deletion-protection",
     test=T + "test_a_protected_load_balancer_cannot_be_deleted_by_its_stack")
def patch_deletion_protection() -> None:
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    original_delete = ELBv2Backend.delete_load_balancer

    def delete_load_balancer(self, arn):
        balancer = self.load_balancers.get(arn)
        if balancer is not None and str(balancer.attrs.get(PROTECTION, "false")).lower() == "true":
            raise ELBClientError("OperationNotPermitted", f"Load balancer '{arn}' cannot be deleted because deletion "
                                                          "protection is enabled")
        return original_delete(self, arn)

    ELBv2Backend.delete_load_balancer = delete_load_balancer


@gap("elbv2-access-logs-bucket",
     summary="ModifyLoadBalancerAttributes (and a load balancer created or updated by CloudFormation) turned access "
             "logs on to any bucket, one that does not exist or that Elastic Load Balancing may not write to (patched: "
             "refused with InvalidConfigurationRequest \"Access Denied for bucket\" unless the bucket's policy lets "
             "the region's Elastic Load Balancing account or logdelivery.elasticloadbalancing.amazonaws.com put "
             "objects under the prefix's AWSLogs/<account>/; AWS::S3::BucketPolicy is created so a stack can grant it)",
     aws="access_logs.s3.bucket: the bucket must exist in the same region as the load balancer and have a bucket "
         "policy that grants Elastic Load Balancing permission to write to the bucket. Otherwise: "
         "InvalidConfigurationRequest, Access Denied for bucket: <bucket>. Please check S3bucket permission.",
     reference="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html",
     test=T + "test_access_logs_need_a_bucket_the_load_balancer_may_write_to")
def patch_access_logs_bucket() -> None:
    from moto.elbv2.models import ELBv2Backend

    original = ELBv2Backend.modify_load_balancer_attributes

    def modify_load_balancer_attributes(self, arn, attrs):
        balancer = self.load_balancers.get(arn)
        if balancer is not None:
            check_access_logs(self.account_id, self.region_name, {**balancer.attrs, **attrs})
        return original(self, arn, attrs)

    ELBv2Backend.modify_load_balancer_attributes = modify_load_balancer_attributes
    _bucket_policy_model()


def _bucket_policy_model() -> None:
    """AWS::S3::BucketPolicy, which moto's CloudFormation does not create."""
    from moto.core.common_models import CloudFormationModel
    from moto.s3.models import s3_backends

    class CloudFormationBucketPolicy(CloudFormationModel):
        __module__ = "moto.s3.models"

        def __init__(self, bucket: str):
            self.bucket = bucket

        @property
        def physical_resource_id(self) -> str:
            return self.bucket

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3::BucketPolicy"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
            props = cloudformation_json.get("Properties") or {}
            document = props.get("PolicyDocument")
            body = document if isinstance(document, str) else json.dumps(document)
            s3_backends[account_id]["aws"].put_bucket_policy(str(props["Bucket"]), body.encode())
            return cls(str(props["Bucket"]))

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name):
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id,
                                                       region_name)

        def delete(self, account_id: str, region_name: str) -> None:
            try:
                s3_backends[account_id]["aws"].delete_bucket_policy(self.bucket)
            except Exception:  # noqa: BLE001 - the bucket is gone already
                pass

    global BUCKET_POLICY_MODEL
    BUCKET_POLICY_MODEL = CloudFormationBucketPolicy


# ------------------------------------------------------------------ attributes

def load_balancer_full_name(arn: str) -> str:
    """app/<name>/<id> (or net/..., gwy/...): the load balancer ARN's resource after "loadbalancer/"."""
    return arn.split(":loadbalancer/", 1)[-1]


def target_group_full_name(arn: str) -> str:
    """targetgroup/<name>/<id>: the target group ARN's resource part."""
    return arn.rsplit(":", 1)[-1]


# Route 53 hosted zone IDs of Application Load Balancers, per region (Elastic Load Balancing endpoints).
ALB_ZONES = {"us-east-1": "Z35SXDOTRQ7X7K", "us-east-2": "Z3AADJGX6KTTL2", "us-west-1": "Z368ELLRRE2KJ0",
             "us-west-2": "Z1H1FL5HABSF5", "eu-west-1": "Z32O12XQLNTSW2", "eu-central-1": "Z215JYRZR1TBD5"}


@gap("elbv2-get-att-full-names",
     summary="Fn::GetAtt LoadBalancerFullName, CanonicalHostedZoneID and SecurityGroups of a load balancer, and "
             "TargetGroupFullName, TargetGroupName and LoadBalancerArns of a target group, answered nothing, so alarms "
             "and dashboards that name them as CloudWatch dimensions could not be copied (patched: answered in AWS's "
             "formats, app/<name>/<id> and targetgroup/<name>/<id>)",
     aws="LoadBalancerFullName: the full name of the load balancer, for example app/my-load-balancer/50dc6c495c0c9188. "
         "TargetGroupFullName: the full name of the target group, for example targetgroup/my-target-group/"
         "cbf133c568e0d028.",
     reference=LB_DOCS + "#aws-resource-elasticloadbalancingv2-loadbalancer-return-values",
     test=T + "test_get_att_full_names_have_aws_formats")
def patch_get_att_full_names() -> None:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
    from moto.elbv2.models import FakeLoadBalancer, FakeTargetGroup

    balancer_attribute = FakeLoadBalancer.get_cfn_attribute

    def load_balancer_attribute(self, attribute_name):
        if attribute_name == "LoadBalancerFullName":
            return load_balancer_full_name(self.arn)
        if attribute_name == "CanonicalHostedZoneID":
            return ALB_ZONES.get(self.arn.split(":")[3], ALB_ZONES["us-east-2"])
        if attribute_name == "SecurityGroups":
            return list(self.security_groups or [])
        if attribute_name == "LoadBalancerArn":
            return self.arn
        return balancer_attribute(self, attribute_name)

    def target_group_attribute(self, attribute_name):
        values = {"TargetGroupFullName": lambda: target_group_full_name(self.arn), "TargetGroupName": lambda: self.name,
                  "TargetGroupArn": lambda: self.arn, "LoadBalancerArns": lambda: list(self.load_balancer_arns)}
        if attribute_name not in values:
            raise UnformattedGetAttTemplateException()
        return values[attribute_name]()

    FakeLoadBalancer.get_cfn_attribute = load_balancer_attribute
    FakeLoadBalancer.has_cfn_attr = classmethod(lambda cls, attr: attr in (
        "DNSName", "LoadBalancerName", "CanonicalHostedZoneID", "LoadBalancerFullName", "SecurityGroups",
        "LoadBalancerArn"))
    FakeTargetGroup.get_cfn_attribute = target_group_attribute
    FakeTargetGroup.has_cfn_attr = classmethod(lambda cls, attr: attr in (
        "TargetGroupFullName", "TargetGroupName", "TargetGroupArn", "LoadBalancerArns"))


@gap("elbv2-stack-deletes",
     summary="Stack deletion: listeners and target groups had no delete, so a target group outlived its stack and "
             "creating the stack again failed on its name (patched: deleted as CloudFormation does, the listener "
             "before the target group it forwards to)",
     aws="Deleting a stack deletes its AWS::ElasticLoadBalancingV2::Listener and AWS::ElasticLoadBalancingV2::"
         "TargetGroup; a target group's name is free again afterwards.",
     reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-console-delete-stack.html",
     test=T + "test_a_stack_with_a_load_balancer_listener_and_target_group_can_be_deleted_and_created_again")
def patch_stack_deletes() -> None:
    from moto.elbv2.models import FakeListener, FakeTargetGroup, elbv2_backends

    def listener_delete(self, account_id, region_name):
        backend = elbv2_backends[account_id][region_name]
        for load_balancer in backend.load_balancers.values():
            load_balancer.listeners.pop(self.arn, None)

    def target_group_delete(self, account_id, region_name):
        elbv2_backends[account_id][region_name].target_groups.pop(self.arn, None)

    FakeListener.delete = listener_delete
    FakeTargetGroup.delete = target_group_delete
