"""Builds the whole template: the only module that knows the architecture.

Reading add_all() top to bottom is reading the plan: network, load balancer
and its security groups, database, registry, secrets, cluster and IAM, the two
services, monitoring. Output is deterministic: same code, same bytes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from troposphere import Join, Output, Template

from . import __version__
from . import outputs as out
from .cluster import add_cluster
from .config import ENVIRONMENTS, Environment, describe
from .database import add_database
from .load_balancer import add_load_balancer
from .monitoring import add_monitoring
from .network import add_network
from .parameters import add_parameters, values_for
from .registry import add_registry
from .secrets import add_secrets
from .suppressions import apply_suppressions
from .web_service import add_web_service
from .worker_service import add_worker_service

TEMPLATE_FILE = "portyfoul-infra.json"
METADATA_KEY = "PortyfoulInfra"


def _group(t: Template, name: str, add, *args):
    """Run one add_<group> and label what it added, for the diagram and for readers of the template."""
    before = set(t.resources)
    result = add(t, *args)
    for logical_id in set(t.resources) - before:
        resource = t.resources[logical_id]
        metadata = dict(getattr(resource, "Metadata", {}) or {})
        metadata[METADATA_KEY] = {"Group": name}
        resource.Metadata = metadata
    return result


def add_all(t: Template, dev: Environment) -> None:
    p = add_parameters(t, dev)
    network = _group(t, "network", add_network, p)
    lb = _group(t, "load balancer", add_load_balancer, p, network)
    database = _group(t, "database", add_database, p, network, lb.service_security_group)
    registry = _group(t, "registry", add_registry)
    secrets = _group(t, "secrets and parameters", add_secrets, p)
    cluster = _group(t, "cluster and IAM", add_cluster, p, registry, database, secrets)
    web = _group(t, "web service", add_web_service, p, network, lb, registry, cluster, database, secrets)
    worker = _group(t, "worker service", add_worker_service, p, network, lb, registry, cluster, database, secrets)
    monitoring = _group(t, "monitoring", add_monitoring, p, cluster, lb, database, web, worker)

    app = {s.env_var: s.resource for s in secrets.app_secrets}
    for key, value, description in (
        (out.CLUSTER_NAME, cluster.cluster.ref(), "ECS cluster"),
        (out.WEB_SERVICE_NAME, web.service.get_att("Name"), "Web ECS service"),
        (out.WORKER_SERVICE_NAME, worker.service.get_att("Name"), "Worker ECS service"),
        (out.WEB_TASK_FAMILY, _family(web.task_definition), "Web task definition family"),
        (out.WORKER_TASK_FAMILY, _family(worker.task_definition), "Worker task definition family"),
        (out.REPOSITORY_URI, registry.repository.get_att("RepositoryUri"), "ECR repository URI"),
        (out.REPOSITORY_NAME, registry.repository.ref(), "ECR repository name"),
        (out.LOAD_BALANCER_DNS, lb.load_balancer.get_att("DNSName"), "ALB DNS name"),
        (out.URL, lb.url, "Application URL"),
        (out.DATABASE_ENDPOINT, database.instance.get_att("Endpoint.Address"), "RDS endpoint"),
        (out.DATABASE_PORT, database.instance.get_att("Endpoint.Port"), "RDS port"),
        (out.DATABASE_SECRET_ARN, database.secret.ref(), "RDS credentials secret"),
        (out.JWT_SECRET_ARN, app["JWT_SECRET"].ref(), "JWT signing key secret"),
        (out.FINNHUB_SECRET_ARN, app["FINNHUB_API_KEY"].ref(), "Finnhub API key secret"),
        (out.COINGECKO_SECRET_ARN, app["COINGECKO_API_KEY"].ref(), "CoinGecko API key secret"),
        (out.WEB_LOG_GROUP, cluster.web_log_group.ref(), "Web log group"),
        (out.WORKER_LOG_GROUP, cluster.worker_log_group.ref(), "Worker log group"),
        (out.VPC_ID, network.vpc.ref(), "VPC"),
        (out.PUBLIC_SUBNETS, Join(",", [s.ref() for s in network.public_subnets]), "Public subnets"),
        (out.PRIVATE_SUBNETS, Join(",", [s.ref() for s in network.private_subnets]), "Private subnets"),
        (out.SERVICE_SECURITY_GROUP, lb.service_security_group.ref(), "ECS services security group"),
        (out.ALB_SECURITY_GROUP, lb.alb_security_group.ref(), "ALB security group"),
        (out.DATABASE_SECURITY_GROUP, database.security_group.ref(), "Database security group"),
        (out.ALARM_TOPIC_ARN, monitoring.topic.ref(), "SNS topic for alarms"),
    ):
        t.add_output(Output(key, Value=value, Description=description))


def _family(task_definition):
    # A task definition's family is its Family property; Ref gives the revision ARN.
    return task_definition.Family


def build_template() -> Template:
    t = Template(Description=f"Portyfoul on ECS Fargate: network, database, services, monitoring (portyfoul-infra {__version__})")
    t.set_version("2010-09-09")
    add_all(t, ENVIRONMENTS["dev"])
    apply_suppressions(t)
    return t


@dataclass(frozen=True)
class Rendered:
    """The template body as committed (pretty) and as deployed (compact); same content."""
    text: str
    compact: str
    content_hash: str
    resource_count: int

    @property
    def size(self) -> int:
        return len(self.text.encode())

    @property
    def deploy_size(self) -> int:
        return len(self.compact.encode())


def content_hash(body: dict) -> str:
    """sha256 over the canonical body without our own metadata entry."""
    stripped = dict(body)
    meta = dict(stripped.get("Metadata", {}))
    meta.pop(METADATA_KEY, None)
    stripped["Metadata"] = meta
    canonical = json.dumps(stripped, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def render() -> Rendered:
    body = build_template().to_dict()
    digest = content_hash(body)
    body.setdefault("Metadata", {})[METADATA_KEY] = {"Version": __version__, "ContentHash": digest}
    return Rendered(
        text=json.dumps(body, indent=2, sort_keys=True) + "\n",
        compact=json.dumps(body, sort_keys=True, separators=(",", ":")),
        content_hash=digest,
        resource_count=len(body["Resources"]),
    )


def deploy_inputs(env: Environment) -> dict:
    """What stack-update passes for an environment, written to generated/ for review."""
    return {
        "StackName": env.stack_name,
        "Region": env.region,
        "Parameters": values_for(env),
        "Tags": {"Project": env.project, "Environment": env.name, "ManagedBy": "portyfoul-infra"},
        "Settings": describe(env),
    }


DOT_FILE = "architecture.dot"
MERMAID_FILE = "architecture.mmd"
SVG_FILE = "architecture.svg"


def expected_files(rendered: Rendered) -> dict[str, str]:
    """Every file build-template owns in generated/ (except the SVG), relative path -> content."""
    from .diagram import to_dot, to_mermaid

    body = json.loads(rendered.text)
    files = {TEMPLATE_FILE: rendered.text, DOT_FILE: to_dot(body), MERMAID_FILE: to_mermaid(body)}
    for name, env in ENVIRONMENTS.items():
        files[f"{name}.json"] = json.dumps(deploy_inputs(env), indent=2, sort_keys=True) + "\n"
    return files


def stale_files(directory: Path, files: dict[str, str]) -> list[str]:
    """Files in `directory` that differ from `files` (missing counts as stale)."""
    stale = []
    for rel, content in sorted(files.items()):
        path = directory / rel
        if not path.exists() or path.read_text() != content:
            stale.append(rel)
    return stale


def write_files(directory: Path, files: dict[str, str]) -> list[str]:
    """Write what changed; returns the paths written."""
    written = []
    for rel in stale_files(directory, files):
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[rel])
        written.append(rel)
    return written
