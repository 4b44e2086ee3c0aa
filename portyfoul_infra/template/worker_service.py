"""Worker service (plan phase 7): the singleton price updater.

Exactly one task, and never two at once: during a deployment ECS may run at
most 100 percent of one task and may drop to zero, so the old worker stops
before the new one starts. Two workers would double every price API call.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Equals, If, Not, NoValue, Sub, Template, ecs

from ..contract import SERVICES, WORKER_TASK_DEFINITION
from .cluster import Cluster
from .containers import (
    CONTAINER_HEALTH,
    WORKER_NOT_RUNNING_ALARM,
    ContainerSpec,
    add_task_definition,
    database_environment,
    deployment_configuration,
    private_network,
)
from .database import Database
from .load_balancer import LoadBalancer
from .network import Network
from .parameters import BOOTSTRAPPING, Params
from .registry import Registry
from .secrets import Secrets

WORKER_SERVICE = "WorkerService"
HAS_WORKER_HEALTH_CHECK = "HasWorkerHealthCheck"
DESIRED_COUNT = 1


@dataclass(frozen=True)
class WorkerService:
    task_definition: ecs.TaskDefinition
    service: ecs.Service


def add_worker_service(
    t: Template, p: Params, network: Network, lb: LoadBalancer, registry: Registry,
    cluster: Cluster, database: Database, secrets: Secrets,
) -> WorkerService:
    spec = ContainerSpec(
        service=SERVICES["worker"],
        family_logical_id=WORKER_TASK_DEFINITION,
        image_tag=p.WorkerImageTag,
        cpu=p.WorkerCpu,
        memory=p.WorkerMemory,
        log_group=cluster.worker_log_group,
        environment={"NODE_ENV": "production", "PRICE_UPDATE_WORKER_ENABLED": "true", **database_environment(database)},
        health_check=If(HAS_WORKER_HEALTH_CHECK, ecs.HealthCheck(
            Command=["CMD-SHELL", p.WorkerHealthCommand], **CONTAINER_HEALTH), NoValue),
    )
    t.add_condition(HAS_WORKER_HEALTH_CHECK, Not(Equals(p.WorkerHealthCommand, "")))
    task_def = add_task_definition(t, p, spec, registry, cluster, database, secrets)
    service = t.add_resource(ecs.Service(
        WORKER_SERVICE,
        ServiceName=Sub("${ProjectName}-${Environment}-worker-service"),
        Cluster=cluster.cluster.ref(),
        TaskDefinition=task_def.ref(),
        # FARGATE or FARGATE_SPOT per environment; an interruption is covered by the worker-not-running alarm.
        CapacityProviderStrategy=[ecs.CapacityProviderStrategyItem(CapacityProvider=p.WorkerCapacityProvider,
                                                                   Weight=1)],
        PlatformVersion="LATEST",
        DesiredCount=If(BOOTSTRAPPING, 0, DESIRED_COUNT),
        # Same security group as web: it is the one the database admits.
        NetworkConfiguration=private_network(network.private_subnets, lb.service_security_group),
        DeploymentConfiguration=deployment_configuration(100, 0, (WORKER_NOT_RUNNING_ALARM,)),
        EnableECSManagedTags=True,
        EnableExecuteCommand=True,  # invoke shell; sessions are logged (cluster.py)
        PropagateTags="SERVICE",
    ))
    return WorkerService(task_def, service)
