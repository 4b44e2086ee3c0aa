"""Typed, validated settings for each environment.

`dev` keeps the owners' plan (docs/infra_plan_spec.md): its account, names,
CIDR blocks, sizes and counts come from here. Where dev deliberately differs
(the worker on Spot, 10 s health checks and 15 s draining, auto scaling; and,
in the template, PostgreSQL 17.6 and the narrower security groups) is listed
with the reasons in docs/operations.md, "Where we differ from the plan, and
why". `staging` and `prod` differ only where a careful team would want them
to; each difference is commented with its reason.

Values that change without a rebuild (the image tags) are stack parameters and
are *not* here. Secrets are never here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, fields, replace
from typing import Mapping

from .errors import UserError

# Fargate's valid (cpu, memory) pairs for the sizes we allow.
_FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
}
# Task CPU architecture -> docker build platform: the one map of the two.
PLATFORMS = {"ARM64": "linux/arm64", "X86_64": "linux/amd64"}


@dataclass(frozen=True)
class ServiceSize:
    cpu: int = 256
    memory: int = 512


@dataclass(frozen=True)
class Environment:
    """Everything that differs between environments, checked on construction."""

    name: str
    project: str = "portyfoul"
    # A production environment refuses to deploy until every item of the production checklist is set
    # (production_gaps): account, HTTPS, alarm e-mail, load balancer access logs.
    production: bool = False
    region: str = "us-east-2"
    # The AWS account this environment lives in. Every task refuses credentials for another account, and an
    # environment without one refuses until it is set: a wrong account is the mistake nothing else catches.
    account_id: str = ""

    # Network (phase 1, 5)
    vpc_cidr: str = "10.0.0.0/16"
    public_subnet_cidrs: tuple[str, str] = ("10.0.1.0/24", "10.0.4.0/24")
    private_subnet_cidrs: tuple[str, str] = ("10.0.2.0/24", "10.0.3.0/24")

    # Database (phase 2)
    db_instance_class: str = "db.t4g.micro"
    db_allocated_storage_gb: int = 20
    db_backup_retention_days: int = 7
    db_multi_az: bool = False
    deletion_protection: bool = False

    # Containers (phase 6, 7)
    cpu_architecture: str = "ARM64"
    # The worker is a singleton whose interruptions the worker-not-running alarm covers: Spot saves ~70%.
    worker_capacity: str = "FARGATE"
    # A liveness command for the worker container (run with CMD-SHELL); off until the application has one.
    worker_health_command: str = ""
    web: ServiceSize = field(default_factory=ServiceSize)
    worker: ServiceSize = field(default_factory=ServiceSize)
    web_desired_count: int = 2
    web_min_count: int = 2
    web_max_count: int = 4
    web_cpu_target_percent: int = 60
    price_update_interval_minutes: int = 15
    log_retention_days: int = 7

    # Load balancer (phase 5, 10). HTTPS is either an existing ACM certificate (certificate_arn), or a
    # domain whose certificate the template creates, validated by DNS in the hosted zone (domain_name and
    # hosted_zone_id), with an alias record to the load balancer. Once HTTPS is on, HTTP only redirects.
    health_check_path: str = "/"
    certificate_arn: str = ""
    domain_name: str = ""
    hosted_zone_id: str = ""
    access_logs: bool = False
    # An old task leaves a rollout step after interval x healthy threshold + deregistration delay: 35 s here
    # (the plan's 30 s x 2 + 30 s was 90 s). The app's requests are short, so 15 s of draining is plenty.
    health_check_interval_seconds: int = 10
    healthy_threshold: int = 2
    unhealthy_threshold: int = 3
    deregistration_delay_seconds: int = 15

    # Monitoring (phase 10)
    alarm_email: str = ""
    alarm_cpu_percent: int = 80
    alarm_memory_percent: int = 80
    alarm_db_cpu_percent: int = 80
    alarm_db_free_storage_gb: int = 2
    alarm_db_connections: int = 60
    alarm_alb_5xx_per_5min: int = 10

    # Continuous delivery (GitHub Actions with OIDC): the repository whose workflows may deploy, and the
    # GitHub environment whose jobs may (protect it with required reviewers for production).
    github_repository: str = ""
    github_environment: str = ""
    # The environment whose released images `promote` brings here (its role may read them), and from which the
    # deploy workflow promotes here; "" means this environment builds the application itself. promote reads
    # the source with this environment's credentials, so both must live in one AWS account (check_promotions).
    promote_from: str = ""

    # Release (phase 8)
    app_dir: str = "../portyfoul"
    migration_command: tuple[str, ...] = ()
    migrate_on_release: bool = False
    keep_task_definition_revisions: int = 10

    def __post_init__(self) -> None:
        _validate(self)

    # Names derived from the environment's name and project, never stored: a new environment made with
    # replace(dev, name="qa") can never inherit dev's stack, bucket, secret or parameter names.
    @property
    def stack_name(self) -> str:
        """dev keeps the plan's live name `portyfoul-infra`; every other environment names itself."""
        return f"{self.project}-infra" if self.name == "dev" else f"{self.project}-{self.name}-infra"

    @property
    def template_bucket(self) -> str:
        """Where templates too large for an inline body are uploaded."""
        return f"{self.project}-{self.name}-cfn-templates"

    @property
    def https(self) -> bool:
        return bool(self.certificate_arn or (self.domain_name and self.hosted_zone_id))

    @property
    def rollout_step_seconds(self) -> int:
        """The longest an old task stays once its replacement started passing health checks."""
        return self.health_check_interval_seconds * self.healthy_threshold + self.deregistration_delay_seconds

    @property
    def stack_tags(self) -> dict[str, str]:
        return {"Project": self.project, "Environment": self.name, "ManagedBy": "portyfoul-infra"}

    @property
    def secret_prefix(self) -> str:
        return f"{self.project}/{self.name}"

    @property
    def parameter_prefix(self) -> str:
        return f"/{self.project}/{self.name}"

    @property
    def docker_platform(self) -> str:
        """The one place the image platform is derived from the task CPU architecture."""
        return PLATFORMS[self.cpu_architecture]


def _validate(env: Environment) -> None:  # noqa: C901 (a flat list of independent checks)
    def fail(msg: str) -> None:
        raise UserError(f"invalid config for environment {env.name!r}: {msg}")

    if not re.fullmatch(r"[a-z][a-z0-9]{1,15}", env.name):
        fail("name must be 2-16 lowercase letters and digits")
    if env.account_id and not re.fullmatch(r"\d{12}", env.account_id):
        fail("account_id must be a 12-digit AWS account ID")
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,20}", env.project):
        fail("project must be lowercase letters, digits and dashes")
    vpc = ipaddress.IPv4Network(env.vpc_cidr)
    subnets = [ipaddress.IPv4Network(c) for c in (*env.public_subnet_cidrs, *env.private_subnet_cidrs)]
    for s in subnets:
        if not s.subnet_of(vpc):
            fail(f"subnet {s} is outside the VPC {vpc}")
    for i, a in enumerate(subnets):
        for b in subnets[i + 1:]:
            if a.overlaps(b):
                fail(f"subnets {a} and {b} overlap")
    if env.cpu_architecture not in PLATFORMS:
        fail(f"cpu_architecture must be one of {sorted(PLATFORMS)}")
    for label, size in (("web", env.web), ("worker", env.worker)):
        if size.memory not in _FARGATE_MEMORY.get(size.cpu, ()):
            fail(f"{label} cpu {size.cpu} / memory {size.memory} is not a valid Fargate size")
    if not 1 <= env.web_min_count <= env.web_desired_count <= env.web_max_count:
        fail("need 1 <= web_min_count <= web_desired_count <= web_max_count")
    if not 20 <= env.db_allocated_storage_gb <= 65536:
        fail("db_allocated_storage_gb must be 20..65536 (gp3)")
    if not 1 <= env.db_backup_retention_days <= 35:
        fail("db_backup_retention_days must be 1..35 (0 would disable backups)")
    if env.price_update_interval_minutes < 1:
        fail("price_update_interval_minutes must be a positive whole number")
    if not env.health_check_path.startswith("/"):
        fail("health_check_path must start with /")
    if env.certificate_arn and not env.certificate_arn.startswith("arn:aws:acm:"):
        fail("certificate_arn must be an ACM certificate ARN")
    if env.alarm_email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", env.alarm_email):
        fail("alarm_email is not an e-mail address")
    if bool(env.domain_name) != bool(env.hosted_zone_id):
        fail("domain_name and hosted_zone_id go together (the certificate is validated in that zone)")
    if env.domain_name and env.certificate_arn:
        fail("set certificate_arn or domain_name, not both")
    if env.domain_name and not re.fullmatch(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
                                            env.domain_name):
        fail("domain_name must be a lowercase DNS name such as app.example.com")
    if env.hosted_zone_id and not re.fullmatch(r"Z[A-Z0-9]{5,31}", env.hosted_zone_id):
        fail("hosted_zone_id must be a Route 53 hosted zone ID (Z...)")
    if not 6 <= env.health_check_interval_seconds <= 300:
        fail("health_check_interval_seconds must be 6..300 (the check itself times out after 5 s)")
    if not 2 <= env.healthy_threshold <= 10 or not 2 <= env.unhealthy_threshold <= 10:
        fail("healthy_threshold and unhealthy_threshold must be 2..10")
    if not 0 <= env.deregistration_delay_seconds <= 3600:
        fail("deregistration_delay_seconds must be 0..3600")
    if env.worker_capacity not in ("FARGATE", "FARGATE_SPOT"):
        fail("worker_capacity must be FARGATE or FARGATE_SPOT")
    if env.github_repository and not re.fullmatch(r"[\w.-]+/[\w.-]+", env.github_repository):
        fail("github_repository must be owner/name")
    if "\n" in env.worker_health_command:
        fail("worker_health_command is one shell command line")
    if env.log_retention_days not in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653):
        fail("log_retention_days must be a CloudWatch Logs retention value")
    if env.keep_task_definition_revisions < 2:
        fail("keep_task_definition_revisions must be at least 2 (the rollback target must survive)")


# dev is the plan's live system: account 946652103073, us-east-2, HTTP only (as it runs today).
# Its worker runs on Fargate Spot: a price refresh missed during an interruption is retried next interval.
# Every application commit that passes its tests is built once, here (GitHub environment `dev`).
_DEV = Environment(name="dev", account_id="946652103073", worker_capacity="FARGATE_SPOT", github_environment="dev")

ENVIRONMENTS: dict[str, Environment] = {
    "dev": _DEV,
    # staging mirrors prod's shape at dev's size: it is where a release is rehearsed.
    "staging": replace(
        _DEV,
        name="staging",
        # Not in the plan: set it before the first staging deploy. staging promotes dev's images (the digest dev
        # built and ran), so it is dev's account, 946652103073; to give staging an account of its own, set
        # promote_from="" here (staging then builds the same commit itself) and keep prod with staging.
        account_id="",
        promote_from="dev",
        vpc_cidr="10.1.0.0/16",
        public_subnet_cidrs=("10.1.1.0/24", "10.1.4.0/24"),
        private_subnet_cidrs=("10.1.2.0/24", "10.1.3.0/24"),
        deletion_protection=True,
        migrate_on_release=False,
        worker_capacity="FARGATE",  # as in prod: staging rehearses prod's behaviour
        github_environment="staging",
    ),
    # prod: the database survives an AZ outage and a careless delete; more web
    # capacity; longer logs and backups for incident review; the production checklist applies.
    "prod": replace(
        _DEV,
        name="prod",
        production=True,
        access_logs=True,
        worker_capacity="FARGATE",
        github_environment="production",
        promote_from="staging",
        account_id="",  # not in the plan: set it before the first production deploy (staging's: prod promotes from it)
        vpc_cidr="10.2.0.0/16",
        public_subnet_cidrs=("10.2.1.0/24", "10.2.4.0/24"),
        private_subnet_cidrs=("10.2.2.0/24", "10.2.3.0/24"),
        db_instance_class="db.t4g.small",
        db_allocated_storage_gb=50,
        db_backup_retention_days=14,
        db_multi_az=True,
        deletion_protection=True,
        web=ServiceSize(cpu=512, memory=1024),
        web_desired_count=3,
        web_min_count=3,
        web_max_count=8,
        log_retention_days=30,
        alarm_db_connections=150,
    ),
}


def promotion_refusal(source: Environment, target: Environment) -> str:
    """Why `target` cannot promote from `source`, in one line, or "" when it can.

    promote reads the source's stack outputs, release history and image with the target's credentials (one
    set: the target's deploy role in CI), so both must be in one account. A cross-account copy would need the
    source's repository to grant the target's account, and the history and outputs to be read through a role
    in the source account; promote refuses instead, and says which account is missing or which two differ.
    """
    why = (f"promote from {source.name} to {target.name} reads {source.name}'s stack, release history and image "
           f"with {target.name}'s credentials, so both must be in one AWS account")
    for env in (source, target):
        if not env.account_id:
            return (f"{env.name} names no AWS account: set account_id for {env.name!r} in portyfoul_infra/config.py "
                    f"({why})")
    if source.account_id != target.account_id:
        return (f"{source.name} ({source.account_id}) and {target.name} ({target.account_id}) live in different "
                f"accounts: {why}; put them in one account, or set {target.name}'s promote_from to \"\" so that it "
                "builds the application itself (README, \"Deploying from GitHub\")")
    return ""


def check_promotion(source: Environment, target: Environment) -> None:
    """promotion_refusal as a UserError (exit 2, nothing changed)."""
    refusal = promotion_refusal(source, target)
    if refusal:
        raise UserError(refusal)


def check_promotions(environments: Mapping[str, Environment]) -> None:
    """Every promote_from names another known environment, without a cycle, and never one whose account is set
    to another account than the environment's own (unset accounts are refused when a promotion runs)."""
    for env in environments.values():
        seen = [env.name]
        current = env
        while current.promote_from:
            source = environments.get(current.promote_from)
            if source is None or source.name in seen:
                problem = ("names an unknown environment" if source is None else
                           "names the environment itself" if source.name == current.name else "makes a cycle")
                raise UserError(f"invalid config for environment {current.name!r}: promote_from "
                                f"{current.promote_from!r} {problem}")
            if source.account_id and current.account_id and source.account_id != current.account_id:
                raise UserError(f"invalid config for environment {current.name!r}: "
                                f"{promotion_refusal(source, current)}")
            seen.append(source.name)
            current = source


check_promotions(ENVIRONMENTS)


def production_gaps(env: Environment) -> list[str]:
    """Every production-checklist item `env` lacks, as the config keys to set (all at once, not a drip)."""
    gaps = []
    if not env.account_id:
        gaps.append("account_id (the AWS account, 12 digits)")
    if not env.https:
        gaps.append("certificate_arn, or domain_name and hosted_zone_id (HTTPS)")
    if not env.alarm_email:
        gaps.append("alarm_email (who the alarms notify)")
    if not env.access_logs:
        gaps.append("access_logs = True (load balancer access logs)")
    return gaps


def load_environment(name: str) -> Environment:
    """The named environment, or a one-line UserError listing the known ones."""
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        raise UserError(f"unknown environment {name!r}; choose one of: {', '.join(ENVIRONMENTS)}") from None


def describe(env: Environment) -> dict[str, object]:
    """Flat view of the settings, for the generated deploy inputs and for review."""
    out: dict[str, object] = {"stack_name": env.stack_name, "template_bucket": env.template_bucket}
    for f in fields(env):
        value = getattr(env, f.name)
        if isinstance(value, ServiceSize):
            out[f.name] = {"cpu": value.cpu, "memory": value.memory}
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out
