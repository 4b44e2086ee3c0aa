"""Builds the whole template: the only module that knows the architecture.

Reading add_all() top to bottom is reading the plan: network, load balancer
and its security groups, database, registry, secrets, cluster and IAM, the two
services, monitoring. Pure: troposphere in, a Template out, no file I/O.
Serialising it (and the content hash) is generated.py's job.
"""

from __future__ import annotations

from troposphere import Join, Output, Template

from .. import __version__
from .. import contract as out
from ..config import ENVIRONMENTS, Environment
from .cluster import add_cluster
from .database import add_database
from .load_balancer import add_load_balancer
from .monitoring import add_monitoring
from .network import add_network
from .parameters import add_parameters
from .registry import add_registry
from .secrets import add_secrets
from .suppressions import apply_suppressions
from .web_service import add_web_service
from .worker_service import add_worker_service


def _group(t: Template, name: str, add, *args):
    """Run one add_<group> and record what it added, for the diagram and for readers of the template."""
    before = set(t.resources)
    result = add(t, *args)
    groups = t.metadata.setdefault(out.GROUPS_KEY, {})
    groups[name] = sorted(set(t.resources) - before)
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

    app = {s.spec.logical_id: s.resource for s in secrets.app_secrets}
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
        (out.DATABASE_INSTANCE_ID, database.instance.ref(), "RDS instance identifier"),
        (out.DATABASE_SECRET_ARN, database.secret.ref(), "RDS credentials secret"),
        (out.JWT_SECRET_ARN, app["JwtSecret"].ref(), "JWT signing key secret"),
        (out.FINNHUB_SECRET_ARN, app["FinnhubApiKeySecret"].ref(), "Finnhub API key secret"),
        (out.COINGECKO_SECRET_ARN, app["CoinGeckoApiKeySecret"].ref(), "CoinGecko API key secret"),
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
    """The whole template: every group in dependency order, suppressions last."""
    t = Template(Description=f"Portyfoul on ECS Fargate: network, database, services, monitoring (portyfoul-infra {__version__})")
    t.set_version("2010-09-09")
    add_all(t, ENVIRONMENTS["dev"])
    apply_suppressions(t)
    return t
