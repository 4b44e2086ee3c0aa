"""What the template and the operations must agree on, and nothing else.

The template imports this to build; the operations import it to act on a
live stack. It holds no troposphere, so `release`, `logs` and the secrets
tasks start without loading the template code. Renaming anything here is a
change to the deployed contract: a stack output key, a secret's name or an
SSM parameter's name that live stacks and running tasks already use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

from .config import Environment
from .errors import UserError

# CloudFormation's limit for a template sent as a body; larger ones go through S3.
INLINE_TEMPLATE_LIMIT = 51_200
# The template's own Metadata key: the version and content hash of the build (and pinned values).
METADATA_KEY = "PortyfoulInfra"
# The template-level Metadata key that maps each resource group to its logical IDs (for the diagram and
# for readers); one map rather than a label on each resource keeps the deployed body under the inline limit.
GROUPS_KEY = "PortyfoulInfraGroups"


def resource_groups(template: dict) -> dict[str, str]:
    """logical id -> the resource group (template module) that created it."""
    groups = template.get("Metadata", {}).get(GROUPS_KEY, {})
    return {logical_id: group for group, ids in groups.items() for logical_id in ids}

# ---------------------------------------------------------------- resources operations must know

# Logical IDs the operations rely on (the template uses these constants): the stack policy protects the
# database; the pictures find the database and the task definitions by them.
DATABASE = "Database"
WEB_TASK_DEFINITION = "WebTaskDefinition"
WORKER_TASK_DEFINITION = "WorkerTaskDefinition"
# Resources whose replacement or removal loses data or breaks everything that points at them: the database
# and what it stands on (subnet group, parameter group), secrets and the attachment that fills in the
# database secret's host, SSM parameters (config-set values), images, logs, the network.
STATEFUL_TYPES = frozenset({
    "AWS::RDS::DBInstance", "AWS::RDS::DBSubnetGroup", "AWS::RDS::DBParameterGroup", "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::SecretTargetAttachment", "AWS::SSM::Parameter", "AWS::ECR::Repository",
    "AWS::Logs::LogGroup", "AWS::EC2::VPC", "AWS::EC2::Subnet",
})
# Properties whose change writes a new value over one set by hand (secrets-set, config-set, a rotation):
# the data-loss guard refuses such a change, and an adopted stack keeps (pins) the live ones.
VALUE_PROPERTIES: dict[str, frozenset[str]] = {
    "AWS::SecretsManager::Secret": frozenset({"SecretString", "GenerateSecretString"}),
    "AWS::SSM::Parameter": frozenset({"Value"}),
}
# The stack policy set on creation denies replacing or deleting these.
POLICY_PROTECTED = (DATABASE,)

# ---------------------------------------------------------------- stack outputs

CLUSTER_NAME = "ClusterName"
WEB_SERVICE_NAME = "WebServiceName"
WORKER_SERVICE_NAME = "WorkerServiceName"
WEB_TASK_FAMILY = "WebTaskFamily"
WORKER_TASK_FAMILY = "WorkerTaskFamily"
REPOSITORY_URI = "RepositoryUri"
REPOSITORY_NAME = "RepositoryName"
LOAD_BALANCER_DNS = "LoadBalancerDnsName"
URL = "Url"
DATABASE_ENDPOINT = "DatabaseEndpoint"
DATABASE_PORT = "DatabasePort"
DATABASE_SECRET_ARN = "DatabaseSecretArn"
JWT_SECRET_ARN = "JwtSecretArn"
FINNHUB_SECRET_ARN = "FinnhubApiKeySecretArn"
COINGECKO_SECRET_ARN = "CoinGeckoApiKeySecretArn"
WEB_LOG_GROUP = "WebLogGroupName"
WORKER_LOG_GROUP = "WorkerLogGroupName"
VPC_ID = "VpcId"
PUBLIC_SUBNETS = "PublicSubnetIds"
PRIVATE_SUBNETS = "PrivateSubnetIds"
SERVICE_SECURITY_GROUP = "ServiceSecurityGroupId"
ALB_SECURITY_GROUP = "LoadBalancerSecurityGroupId"
DATABASE_SECURITY_GROUP = "DatabaseSecurityGroupId"
ALARM_TOPIC_ARN = "AlarmTopicArn"
DATABASE_INSTANCE_ID = "DatabaseInstanceId"
OUTPUT_KEYS = (
    CLUSTER_NAME, WEB_SERVICE_NAME, WORKER_SERVICE_NAME, WEB_TASK_FAMILY, WORKER_TASK_FAMILY, REPOSITORY_URI,
    REPOSITORY_NAME, LOAD_BALANCER_DNS, URL, DATABASE_ENDPOINT, DATABASE_PORT, DATABASE_SECRET_ARN, JWT_SECRET_ARN,
    FINNHUB_SECRET_ARN, COINGECKO_SECRET_ARN, WEB_LOG_GROUP, WORKER_LOG_GROUP, VPC_ID, PUBLIC_SUBNETS,
    PRIVATE_SUBNETS, SERVICE_SECURITY_GROUP, ALB_SECURITY_GROUP, DATABASE_SECURITY_GROUP, ALARM_TOPIC_ARN,
    DATABASE_INSTANCE_ID,
)

# ---------------------------------------------------------------- services


@dataclass(frozen=True)
class ServiceRef:
    """One ECS service as the operations find it: by stack output, never by a guessed name."""
    key: str              # what the user types: --service web
    container: str        # the container in its task definition that runs our image
    service_output: str   # stack output holding the ECS service name
    log_output: str       # stack output holding the log group name
    family_output: str    # stack output holding the task definition family


SERVICES: dict[str, ServiceRef] = {
    "web": ServiceRef("web", "web", WEB_SERVICE_NAME, WEB_LOG_GROUP, WEB_TASK_FAMILY),
    "worker": ServiceRef("worker", "worker", WORKER_SERVICE_NAME, WORKER_LOG_GROUP, WORKER_TASK_FAMILY),
}


def service_keys(choice: str) -> list[str]:
    """`all`, `web` or `worker` as a list of service keys; anything else is a UserError."""
    if choice == "all":
        return list(SERVICES)
    if choice not in SERVICES:
        raise UserError(f"unknown service {choice!r}; choose web, worker or all")
    return [choice]


def service_names(outputs: Mapping[str, str], keys: list[str] | None = None) -> dict[str, str]:
    """key -> ECS service name from the stack's outputs ("" where the output is missing)."""
    return {k: outputs.get(SERVICES[k].service_output, "") for k in (keys or SERVICES)}


def image_tag(image: str) -> str:
    """The tag of `repo:tag`, or the digest of `repo@sha256:...`; the one parser of image references."""
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last and "@" not in last else last.split("@", 1)[-1]


# ---------------------------------------------------------------- secrets and SSM parameters

PLACEHOLDER_VALUE = "PLACEHOLDER-set-me-with-invoke-secrets-set"
DB_CREDENTIALS = "rds/credentials"


def secret_name_of(arn_or_name: str) -> str:
    """A secret's name from its ARN (which ends in -XXXXXX, six random characters, after the name), or the name."""
    name = arn_or_name.split(":secret:", 1)[-1]
    return name[:-7] if arn_or_name.startswith("arn:") and len(name) > 7 and name[-7] == "-" else name


def is_placeholder(value: str) -> bool:
    """True for an empty value or the very placeholder the template creates (a real value that merely starts
    with PLACEHOLDER is a value)."""
    return not value.strip() or value.strip() == PLACEHOLDER_VALUE


@dataclass(frozen=True)
class AppSecret:
    """One application secret: the template creates it, the secrets tasks write its value."""
    logical_id: str
    short_name: str      # what the user types: `invoke secrets-set finnhub-api-key`
    env_var: str         # what the container sees
    required: bool       # a release refuses while it holds the placeholder
    generated: bool      # CloudFormation generates the first value (GenerateSecretString)

    def name(self, env: Environment) -> str:
        return f"{env.secret_prefix}/{self.short_name}"


@dataclass(frozen=True)
class ConfigParameter:
    """One non-secret setting in SSM Parameter Store."""
    logical_id: str
    short_name: str
    env_var: str | None                # None: read by operators only
    settable: bool                     # config-set may change it
    stack_parameter: str               # the stack parameter its first value comes from
    readers: tuple[str, ...] = ()      # the services (SERVICES keys) whose containers get it as env_var
    minimum: int = 0                   # config-set accepts whole numbers from minimum to maximum
    maximum: int = 0
    unit: str = ""

    def name(self, env: Environment) -> str:
        return f"{env.parameter_prefix}/{self.short_name}"

    def validate(self, value: str) -> str:
        """The value config-set may write, or a UserError saying what is allowed (ASCII digits only)."""
        text = value.strip()
        if not re.fullmatch(r"[0-9]{1,9}", text) or not self.minimum <= int(text) <= self.maximum:
            raise UserError(f"{self.short_name} must be a whole number of {self.unit} from {self.minimum} to "
                            f"{self.maximum}; got {value[:40]!r}")
        return str(int(text))


APP_SECRETS: tuple[AppSecret, ...] = (
    AppSecret("JwtSecret", "jwt-secret", "JWT_SECRET", required=True, generated=True),
    AppSecret("FinnhubApiKeySecret", "finnhub-api-key", "FINNHUB_API_KEY", required=True, generated=False),
    AppSecret("CoinGeckoApiKeySecret", "coingecko-api-key", "COINGECKO_API_KEY", required=False, generated=False),
)
CONFIG_PARAMETERS: tuple[ConfigParameter, ...] = (
    ConfigParameter("PriceUpdateIntervalParameter", "price-update-interval", "PRICE_UPDATE_INTERVAL_MINUTES",
                    settable=True, stack_parameter="PriceUpdateIntervalMinutes", readers=("worker",), minimum=1,
                    maximum=1440, unit="minutes"),
    ConfigParameter("EnvironmentParameter", "environment", None, settable=False, stack_parameter="Environment"),
)


def config_env_vars(service_key: str) -> tuple[str, ...]:
    """The SSM settings `service_key`'s container reads at task start, as environment variable names."""
    return tuple(p.env_var for p in CONFIG_PARAMETERS if p.env_var and service_key in p.readers)

# ---------------------------------------------------------------- stack parameters

IMAGE_TAG = "ImageTag"
WORKER_IMAGE_TAG = "WorkerImageTag"
BOOTSTRAP = "Bootstrap"
WEB_DESIRED_COUNT = "WebDesiredCount"
# Which stack parameter carries each service's released image tag.
IMAGE_TAG_PARAMETERS = {"web": IMAGE_TAG, "worker": WORKER_IMAGE_TAG}


@dataclass(frozen=True)
class StackParameter:
    """One stack parameter: the template declares it, stack-update passes its value."""
    name: str
    group: str
    description: str
    value: Callable[[Environment], object] | None  # None: not from config (image tags, Bootstrap)
    type: str = "String"
    allowed: tuple[str, ...] = ()
    default: str | None = None


def _bool(v: bool) -> str:
    return "true" if v else "false"


STACK_PARAMETERS: tuple[StackParameter, ...] = (
    StackParameter("ProjectName", "General", "Project name, the first part of every physical name", lambda e: e.project),
    StackParameter("Environment", "General", "Environment name", lambda e: e.name, allowed=("dev", "staging", "prod")),
    StackParameter(IMAGE_TAG, "Release", "Image tag of the web service (kept at the released tag by stack-update)", None, default="latest"),
    StackParameter(WORKER_IMAGE_TAG, "Release", "Image tag of the worker service (kept at the released tag by stack-update)", None, default="latest"),
    StackParameter(BOOTSTRAP, "Release", "true until the first release's image exists: the services start with no tasks "
                   "(set by stack-update)", None, default="false", allowed=("true", "false")),
    StackParameter("VpcCidr", "Network", "VPC CIDR block", lambda e: e.vpc_cidr),
    StackParameter("PublicSubnet1Cidr", "Network", "Public subnet in the first AZ", lambda e: e.public_subnet_cidrs[0]),
    StackParameter("PublicSubnet2Cidr", "Network", "Public subnet in the second AZ", lambda e: e.public_subnet_cidrs[1]),
    StackParameter("PrivateSubnet1Cidr", "Network", "Private subnet in the first AZ", lambda e: e.private_subnet_cidrs[0]),
    StackParameter("PrivateSubnet2Cidr", "Network", "Private subnet in the second AZ", lambda e: e.private_subnet_cidrs[1]),
    StackParameter("DBInstanceClass", "Database", "RDS instance class", lambda e: e.db_instance_class),
    StackParameter("DBAllocatedStorage", "Database", "Storage in GB (gp3)", lambda e: e.db_allocated_storage_gb, type="Number"),
    StackParameter("DBBackupRetentionDays", "Database", "Automated backup retention in days", lambda e: e.db_backup_retention_days, type="Number"),
    StackParameter("DBMultiAZ", "Database", "Standby in a second AZ", lambda e: _bool(e.db_multi_az), allowed=("true", "false")),
    StackParameter("DeletionProtection", "Database", "Deletion protection on the database and load balancer", lambda e: _bool(e.deletion_protection), allowed=("true", "false")),
    StackParameter("CpuArchitecture", "Services", "Task CPU architecture; the image is built for the same one", lambda e: e.cpu_architecture, allowed=("ARM64", "X86_64")),
    StackParameter("WebCpu", "Services", "Web task CPU units", lambda e: e.web.cpu),
    StackParameter("WebMemory", "Services", "Web task memory (MiB)", lambda e: e.web.memory),
    StackParameter("WorkerCpu", "Services", "Worker task CPU units", lambda e: e.worker.cpu),
    StackParameter("WorkerMemory", "Services", "Worker task memory (MiB)", lambda e: e.worker.memory),
    StackParameter(WEB_DESIRED_COUNT, "Services", "Web tasks at creation; afterwards stack-update keeps what auto scaling set", lambda e: e.web_desired_count, type="Number"),
    StackParameter("WebMinCount", "Services", "Web auto scaling minimum", lambda e: e.web_min_count, type="Number"),
    StackParameter("WebMaxCount", "Services", "Web auto scaling maximum", lambda e: e.web_max_count, type="Number"),
    StackParameter("WebCpuTargetPercent", "Services", "Web auto scaling CPU target", lambda e: e.web_cpu_target_percent, type="Number"),
    StackParameter("PriceUpdateIntervalMinutes", "Services", "Initial value of the price update interval SSM parameter", lambda e: e.price_update_interval_minutes),
    StackParameter("LogRetentionDays", "Services", "Container log retention in days", lambda e: e.log_retention_days, type="Number"),
    StackParameter("WorkerCapacityProvider", "Services", "FARGATE or FARGATE_SPOT for the worker", lambda e: e.worker_capacity, allowed=("FARGATE", "FARGATE_SPOT")),
    StackParameter("WorkerHealthCommand", "Services", "Worker liveness command (CMD-SHELL); empty for none", lambda e: e.worker_health_command, default=""),
    StackParameter("HealthCheckPath", "Load balancer", "Target group health check path", lambda e: e.health_check_path),
    StackParameter("HealthCheckIntervalSeconds", "Load balancer", "Target group health check interval", lambda e: e.health_check_interval_seconds, type="Number"),
    StackParameter("HealthyThreshold", "Load balancer", "Passing checks before a target is healthy", lambda e: e.healthy_threshold, type="Number"),
    StackParameter("UnhealthyThreshold", "Load balancer", "Failing checks before a target is unhealthy", lambda e: e.unhealthy_threshold, type="Number"),
    StackParameter("DeregistrationDelaySeconds", "Load balancer", "Seconds a leaving target drains", lambda e: e.deregistration_delay_seconds),
    StackParameter("CertificateArn", "Load balancer", "ACM certificate ARN; empty for none", lambda e: e.certificate_arn, default=""),
    StackParameter("DomainName", "Load balancer", "Domain for a DNS-validated certificate and an alias record; empty for none", lambda e: e.domain_name, default=""),
    StackParameter("HostedZoneId", "Load balancer", "Route 53 hosted zone of DomainName", lambda e: e.hosted_zone_id, default=""),
    StackParameter("AccessLogs", "Load balancer", "Load balancer access logs to an S3 bucket", lambda e: _bool(e.access_logs), allowed=("true", "false")),
    StackParameter("AlarmEmail", "Monitoring", "E-mail subscribed to alarms; empty for none", lambda e: e.alarm_email, default=""),
    StackParameter("AlarmCpuPercent", "Monitoring", "ECS CPU alarm threshold", lambda e: e.alarm_cpu_percent, type="Number"),
    StackParameter("AlarmMemoryPercent", "Monitoring", "ECS memory alarm threshold", lambda e: e.alarm_memory_percent, type="Number"),
    StackParameter("AlarmDbCpuPercent", "Monitoring", "RDS CPU alarm threshold", lambda e: e.alarm_db_cpu_percent, type="Number"),
    StackParameter("AlarmDbFreeStorageBytes", "Monitoring", "RDS free storage alarm threshold (bytes)", lambda e: e.alarm_db_free_storage_gb * 1024**3, type="Number"),
    StackParameter("AlarmDbConnections", "Monitoring", "RDS connections alarm threshold", lambda e: e.alarm_db_connections, type="Number"),
    StackParameter("AlarmAlb5xx", "Monitoring", "ALB 5xx responses per 5 minutes", lambda e: e.alarm_alb_5xx_per_5min, type="Number"),
)


def parameter_text(v: object) -> str:
    """A parameter value as CloudFormation takes it: always a string."""
    return v if isinstance(v, str) else str(v)


def parameter_values(env: Environment) -> dict[str, str]:
    """Parameter values from config: everything except the image tags and Bootstrap (from the live state)."""
    return {s.name: parameter_text(s.value(env)) for s in STACK_PARAMETERS if s.value is not None}


# ---------------------------------------------------------------- deploy role (companion stack)

DEPLOY_ROLE_ARN = "DeployRoleArn"
CFN_ROLE_ARN = "CloudFormationRoleArn"
OIDC_PROVIDER_ARN = "OidcProviderArn"


def deploy_role_stack_name(env: Environment) -> str:
    return f"{env.project}-{env.name}-deploy"


def deploy_role_variable(env: Environment) -> str:
    """The GitHub Actions variable holding the environment's deploy role ARN (deploy-role prints it; the deploy
    workflow delivers to the environment only when it is set)."""
    return f"{env.name.upper()}_DEPLOY_ROLE_ARN"


def deploy_role_parameters(env: Environment, oidc_provider_arn: str = "",
                           source: Environment | None = None) -> dict[str, str]:
    """The companion stack's parameters; `source` is the environment `promote` reads from (default: itself)."""
    source = source or env
    return {"ProjectName": env.project, "Environment": env.name, "StackName": env.stack_name,
            "TemplateBucket": env.template_bucket, "GitHubRepository": env.github_repository,
            "GitHubEnvironment": env.github_environment, "OidcProviderArn": oidc_provider_arn,
            "PromoteFromEnvironment": source.name, "PromoteFromStack": source.stack_name}
