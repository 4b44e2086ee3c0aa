"""The monthly estimate, line by line, from the template's resources and an environment's sizes."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import Environment
from ..errors import UserError
from .generated import TEMPLATE_FILE
from .pricing import HOURS_PER_MONTH as H
from .pricing import PRICES as P
from .pricing import USAGE as U

PLAN_RANGE = (100, 120)


@dataclass(frozen=True)
class Line:
    group: str
    item: str
    quantity: str
    monthly: float


def _count(resources: dict, type_: str) -> int:
    return sum(1 for r in resources.values() if r["Type"] == type_)


def estimate(template: dict, env: Environment) -> list[Line]:
    r = template["Resources"]
    nats = _count(r, "AWS::EC2::NatGateway")
    eips = _count(r, "AWS::EC2::EIP")
    albs = _count(r, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    alb_nodes = albs * len(env.public_subnet_cidrs)
    arch = env.cpu_architecture
    lines = [
        Line("NAT gateway", "hours", f"{nats} x {H} h", nats * H * P["nat_gateway_hour"]),
        Line("NAT gateway", "data processed", f"{U['nat_gb']} GB", nats * U["nat_gb"] * P["nat_gateway_gb"]),
        Line("public IPv4", "NAT EIP and ALB nodes", f"{eips + alb_nodes} addresses",
             (eips + alb_nodes) * H * P["public_ipv4_hour"]),
        Line("load balancer", "ALB hours", f"{albs} x {H} h", albs * H * P["alb_hour"]),
        Line("load balancer", "LCUs", f"{U['alb_lcu']} LCU avg", albs * U["alb_lcu"] * H * P["alb_lcu_hour"]),
    ]
    for label, size, count, spot in (("web", env.web, env.web_desired_count, False),
                                     ("worker", env.worker, 1, env.worker_capacity == "FARGATE_SPOT")):
        vcpu, gb = size.cpu / 1024, size.memory / 1024
        rate = 1 - P["fargate_spot_discount"] if spot else 1
        kind = f"{arch}{' Spot' if spot else ''}"
        lines.append(Line(f"Fargate {label}", "vCPU", f"{count} x {vcpu:g} vCPU {kind}",
                          count * vcpu * H * P["fargate_vcpu_hour"][arch] * rate))
        lines.append(Line(f"Fargate {label}", "memory", f"{count} x {gb:g} GB{' Spot' if spot else ''}",
                          count * gb * H * P["fargate_gb_hour"][arch] * rate))
    az = 2 if env.db_multi_az else 1
    lines += [
        Line("RDS PostgreSQL", "instance", f"{env.db_instance_class}{' Multi-AZ' if az == 2 else ''}",
             _count(r, "AWS::RDS::DBInstance") * az * H * P["rds_instance_hour"][env.db_instance_class]),
        Line("RDS PostgreSQL", "gp3 storage", f"{env.db_allocated_storage_gb} GB x {az}",
             env.db_allocated_storage_gb * az * P["rds_gp3_gb_month"]),
        Line("RDS PostgreSQL", "backups", f"{env.db_backup_retention_days} days (free up to storage size)", 0.0),
        Line("ECR", "image storage", f"{U['ecr_gb']} GB", U["ecr_gb"] * P["ecr_gb_month"]),
        Line("CloudWatch", "log ingestion", f"{U['logs_gb']} GB", U["logs_gb"] * P["logs_ingest_gb"]),
        Line("CloudWatch", "log storage", f"{env.log_retention_days} days retained",
             U["logs_gb"] * min(env.log_retention_days / 30, 12) * P["logs_storage_gb_month"]),
        Line("CloudWatch", "Container Insights", f"~{U['container_insights_metrics']} metrics",
             U["container_insights_metrics"] * P["metric_month"]),
        Line("CloudWatch", "alarms", f"{_count(r, 'AWS::CloudWatch::Alarm')} alarms",
             _count(r, "AWS::CloudWatch::Alarm") * P["alarm_month"]),
        Line("CloudWatch", "dashboard", f"{_count(r, 'AWS::CloudWatch::Dashboard')} (first {P['free_dashboards']} free)",
             max(0, _count(r, "AWS::CloudWatch::Dashboard") - P["free_dashboards"]) * P["dashboard_month"]),
        Line("Secrets Manager", "secrets", f"{_count(r, 'AWS::SecretsManager::Secret')} secrets",
             _count(r, "AWS::SecretsManager::Secret") * P["secret_month"]),
        Line("SSM Parameter Store", "standard parameters", f"{_count(r, 'AWS::SSM::Parameter')} (free)", 0.0),
        Line("S3", "load balancer access logs", f"{U['access_logs_gb']} GB" if env.access_logs else "off",
             U["access_logs_gb"] * P["s3_gb_month"] if env.access_logs and _count(r, "AWS::S3::Bucket") else 0.0),
        Line("data transfer", "out to the internet", f"{U['data_out_gb']} GB (first {P['data_out_free_gb']} free)",
             max(0, U["data_out_gb"] - P["data_out_free_gb"]) * P["data_out_gb"]),
    ]
    return [replace(line, monthly=round(line.monthly, 2)) for line in lines]


def total(lines: list[Line]) -> float:
    return round(sum(line.monthly for line in lines), 2)


def options(template: dict, env: Environment) -> list[tuple[str, float]]:
    """What each optional feature or size change would add to this environment."""
    base = total(estimate(template, env))
    spot = "FARGATE" if env.worker_capacity == "FARGATE_SPOT" else "FARGATE_SPOT"
    variants = [
        ("HTTPS (ACM public certificate, HTTPS listener, redirect)", base),
        ("alarm e-mail subscription (SNS e-mail)", base),
        ("worker on on-demand Fargate" if spot == "FARGATE" else "worker on Fargate Spot",
         total(estimate(template, replace(env, worker_capacity=spot)))),
        ("load balancer access logs" + (" (off)" if env.access_logs else ""),
         total(estimate(template, replace(env, access_logs=not env.access_logs)))),
        ("Multi-AZ database", total(estimate(template, replace(env, db_multi_az=True)))),
        (f"web scaled out to its maximum ({env.web_max_count} tasks)",
         total(estimate(template, replace(env, web_desired_count=env.web_max_count)))),
    ]
    return [(label, round(value - base, 2)) for label, value in variants if not (label.startswith("Multi") and env.db_multi_az)]


def read_template(directory: Path) -> dict:
    """The generated template, or a one-line UserError when it is missing, empty or not a template."""
    path = directory / TEMPLATE_FILE
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path} does not exist: run `invoke build-template` first") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is not a readable JSON template ({e}): run `invoke build-template`") from None
    if not isinstance(body, dict) or not isinstance(body.get("Resources"), dict):
        raise UserError(f"{path} has no Resources: run `invoke build-template`")
    return body
