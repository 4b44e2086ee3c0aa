"""Stack parameters: the per-environment values, declared once.

One template serves every environment; what differs reaches it as parameters
whose values come from `config.Environment`. `values_for(env)` is what
stack-update passes and what build-template writes to generated/ for review.
The image tags are parameters too, but their values come from what is
released (see stack.current_image_tags), never from config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from troposphere import Equals, Parameter, Ref, Template

from .config import Environment

IMAGE_TAG = "ImageTag"
WORKER_IMAGE_TAG = "WorkerImageTag"
BOOTSTRAP = "Bootstrap"
BOOTSTRAPPING = "Bootstrapping"  # the condition


@dataclass(frozen=True)
class _Spec:
    name: str
    group: str
    description: str
    value: Callable[[Environment], object] | None  # None: not from config
    type: str = "String"
    allowed: tuple[str, ...] = ()
    default: str | None = None


def _bool(v: bool) -> str:
    return "true" if v else "false"


_SPECS: tuple[_Spec, ...] = (
    _Spec("ProjectName", "General", "Project name, the first part of every physical name", lambda e: e.project),
    _Spec("Environment", "General", "Environment name", lambda e: e.name, allowed=("dev", "staging", "prod")),
    _Spec(IMAGE_TAG, "Release", "Image tag of the web service (kept at the released tag by stack-update)", None, default="latest"),
    _Spec(WORKER_IMAGE_TAG, "Release", "Image tag of the worker service (kept at the released tag by stack-update)", None, default="latest"),
    _Spec(BOOTSTRAP, "Release", "true until the first release's image exists: the services start with no tasks "
          "(set by stack-update)", None, default="false", allowed=("true", "false")),
    _Spec("VpcCidr", "Network", "VPC CIDR block", lambda e: e.vpc_cidr),
    _Spec("PublicSubnet1Cidr", "Network", "Public subnet in the first AZ", lambda e: e.public_subnet_cidrs[0]),
    _Spec("PublicSubnet2Cidr", "Network", "Public subnet in the second AZ", lambda e: e.public_subnet_cidrs[1]),
    _Spec("PrivateSubnet1Cidr", "Network", "Private subnet in the first AZ", lambda e: e.private_subnet_cidrs[0]),
    _Spec("PrivateSubnet2Cidr", "Network", "Private subnet in the second AZ", lambda e: e.private_subnet_cidrs[1]),
    _Spec("DBInstanceClass", "Database", "RDS instance class", lambda e: e.db_instance_class),
    _Spec("DBAllocatedStorage", "Database", "Storage in GB (gp3)", lambda e: e.db_allocated_storage_gb, type="Number"),
    _Spec("DBBackupRetentionDays", "Database", "Automated backup retention in days", lambda e: e.db_backup_retention_days, type="Number"),
    _Spec("DBMultiAZ", "Database", "Standby in a second AZ", lambda e: _bool(e.db_multi_az), allowed=("true", "false")),
    _Spec("DeletionProtection", "Database", "Deletion protection on the database and load balancer", lambda e: _bool(e.deletion_protection), allowed=("true", "false")),
    _Spec("CpuArchitecture", "Services", "Task CPU architecture; the image is built for the same one", lambda e: e.cpu_architecture, allowed=("ARM64", "X86_64")),
    _Spec("WebCpu", "Services", "Web task CPU units", lambda e: e.web.cpu),
    _Spec("WebMemory", "Services", "Web task memory (MiB)", lambda e: e.web.memory),
    _Spec("WorkerCpu", "Services", "Worker task CPU units", lambda e: e.worker.cpu),
    _Spec("WorkerMemory", "Services", "Worker task memory (MiB)", lambda e: e.worker.memory),
    _Spec("WebDesiredCount", "Services", "Web tasks at creation", lambda e: e.web_desired_count, type="Number"),
    _Spec("WebMinCount", "Services", "Web auto scaling minimum", lambda e: e.web_min_count, type="Number"),
    _Spec("WebMaxCount", "Services", "Web auto scaling maximum", lambda e: e.web_max_count, type="Number"),
    _Spec("WebCpuTargetPercent", "Services", "Web auto scaling CPU target", lambda e: e.web_cpu_target_percent, type="Number"),
    _Spec("PriceUpdateIntervalMinutes", "Services", "Initial value of the price update interval SSM parameter", lambda e: e.price_update_interval_minutes),
    _Spec("LogRetentionDays", "Services", "Container log retention in days", lambda e: e.log_retention_days, type="Number"),
    _Spec("HealthCheckPath", "Load balancer", "Target group health check path", lambda e: e.health_check_path),
    _Spec("CertificateArn", "Load balancer", "ACM certificate ARN; empty for HTTP only", lambda e: e.certificate_arn, default=""),
    _Spec("AlarmEmail", "Monitoring", "E-mail subscribed to alarms; empty for none", lambda e: e.alarm_email, default=""),
    _Spec("AlarmCpuPercent", "Monitoring", "ECS CPU alarm threshold", lambda e: e.alarm_cpu_percent, type="Number"),
    _Spec("AlarmMemoryPercent", "Monitoring", "ECS memory alarm threshold", lambda e: e.alarm_memory_percent, type="Number"),
    _Spec("AlarmDbCpuPercent", "Monitoring", "RDS CPU alarm threshold", lambda e: e.alarm_db_cpu_percent, type="Number"),
    _Spec("AlarmDbFreeStorageBytes", "Monitoring", "RDS free storage alarm threshold (bytes)", lambda e: e.alarm_db_free_storage_gb * 1024**3, type="Number"),
    _Spec("AlarmDbConnections", "Monitoring", "RDS connections alarm threshold", lambda e: e.alarm_db_connections, type="Number"),
    _Spec("AlarmAlb5xx", "Monitoring", "ALB 5xx responses per 5 minutes", lambda e: e.alarm_alb_5xx_per_5min, type="Number"),
)


class Params:
    """Attribute access to the template's parameters: `params.DBInstanceClass` is a Ref."""

    def __init__(self, parameters: dict[str, Parameter]):
        self._parameters = parameters

    def __getattr__(self, name: str) -> Ref:
        try:
            return Ref(self._parameters[name])
        except KeyError:
            raise AttributeError(f"no stack parameter {name}") from None


def add_parameters(t: Template, dev: Environment) -> Params:
    """Declare every parameter; defaults are dev's values so lint sees a real stack."""
    declared: dict[str, Parameter] = {}
    groups: dict[str, list[str]] = {}
    for spec in _SPECS:
        kwargs: dict[str, object] = {"Type": spec.type, "Description": spec.description}
        default = spec.default if spec.value is None else _to_str(spec.value(dev))
        if default is not None:
            kwargs["Default"] = default
        if spec.allowed:
            kwargs["AllowedValues"] = list(spec.allowed)
        declared[spec.name] = t.add_parameter(Parameter(spec.name, **kwargs))
        groups.setdefault(spec.group, []).append(spec.name)
    t.add_condition(BOOTSTRAPPING, Equals(Ref(declared[BOOTSTRAP]), "true"))
    t.set_metadata({
        "AWS::CloudFormation::Interface": {
            "ParameterGroups": [{"Label": {"default": g}, "Parameters": names} for g, names in groups.items()],
        }
    })
    return Params(declared)


def values_for(env: Environment) -> dict[str, str]:
    """Parameter values from config: everything except the image tags and Bootstrap (from the live state)."""
    return {s.name: _to_str(s.value(env)) for s in _SPECS if s.value is not None}


def _to_str(v: object) -> str:
    return v if isinstance(v, str) else str(v)
