"""Web service (plan phase 6): the Next.js containers behind the load balancer, CPU auto scaling."""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import If, Sub, Template, ecs
from troposphere import applicationautoscaling as aas

from ..contract import SERVICES, WEB_TASK_DEFINITION
from .cluster import Cluster
from .containers import (
    WEB_5XX_ALARM,
    WEB_UNHEALTHY_ALARM,
    ContainerSpec,
    add_task_definition,
    database_environment,
    deployment_configuration,
    http_health_check,
    private_network,
)
from .database import Database
from .load_balancer import CONTAINER_PORT, LoadBalancer
from .network import Network
from .parameters import BOOTSTRAPPING, Params
from .registry import Registry
from .secrets import Secrets

WEB_SERVICE = "WebService"
WEB_SCALABLE_TARGET = "WebScalableTarget"
WEB_SCALING_POLICY = "WebCpuScalingPolicy"
HEALTH_CHECK_GRACE_SECONDS = 60


@dataclass(frozen=True)
class WebService:
    task_definition: ecs.TaskDefinition
    service: ecs.Service


def add_web_service(
    t: Template, p: Params, network: Network, lb: LoadBalancer, registry: Registry,
    cluster: Cluster, database: Database, secrets: Secrets,
) -> WebService:
    spec = ContainerSpec(
        service=SERVICES["web"],
        family_logical_id=WEB_TASK_DEFINITION,
        image_tag=p.ImageTag,
        cpu=p.WebCpu,
        memory=p.WebMemory,
        log_group=cluster.web_log_group,
        environment={"NODE_ENV": "production", "PRICE_UPDATE_WORKER_ENABLED": "false", **database_environment(database)},
        port=CONTAINER_PORT,
        health_check=http_health_check(CONTAINER_PORT, p.HealthCheckPath),
    )
    task_def = add_task_definition(t, p, spec, registry, cluster, database, secrets)
    service = t.add_resource(ecs.Service(
        WEB_SERVICE,
        ServiceName=Sub("${ProjectName}-${Environment}-web-service"),
        Cluster=cluster.cluster.ref(),
        TaskDefinition=task_def.ref(),
        LaunchType="FARGATE",
        PlatformVersion="LATEST",
        # No tasks until the first image exists (Bootstrap): see stack_tasks.bootstrap_value.
        DesiredCount=If(BOOTSTRAPPING, 0, p.WebDesiredCount),
        NetworkConfiguration=private_network(network.private_subnets, lb.service_security_group),
        LoadBalancers=[ecs.LoadBalancer(
            ContainerName=SERVICES["web"].container, ContainerPort=CONTAINER_PORT, TargetGroupArn=lb.target_group.ref())],
        HealthCheckGracePeriodSeconds=HEALTH_CHECK_GRACE_SECONDS,
        DeploymentConfiguration=deployment_configuration(200, 100, (WEB_5XX_ALARM, WEB_UNHEALTHY_ALARM)),
        EnableECSManagedTags=True,
        EnableExecuteCommand=True,  # invoke shell; sessions are logged (cluster.py)
        PropagateTags="SERVICE",
        # The target group must be attached to the ALB before a service can use it.
        DependsOn=[lb.http_listener.title],
    ))
    target = t.add_resource(aas.ScalableTarget(
        WEB_SCALABLE_TARGET,
        ServiceNamespace="ecs",
        ScalableDimension="ecs:service:DesiredCount",
        ResourceId=Sub("service/${Cluster}/${Service}", Cluster=cluster.cluster.ref(), Service=service.get_att("Name")),
        MinCapacity=If(BOOTSTRAPPING, 0, p.WebMinCount),
        MaxCapacity=p.WebMaxCount,
    ))
    t.add_resource(aas.ScalingPolicy(
        WEB_SCALING_POLICY,
        PolicyName=Sub("${ProjectName}-${Environment}-web-cpu"),
        PolicyType="TargetTrackingScaling",
        ScalingTargetId=target.ref(),
        TargetTrackingScalingPolicyConfiguration=aas.TargetTrackingScalingPolicyConfiguration(
            PredefinedMetricSpecification=aas.PredefinedMetricSpecification(
                PredefinedMetricType="ECSServiceAverageCPUUtilization"),
            TargetValue=p.WebCpuTargetPercent,
            ScaleInCooldown=300,
            ScaleOutCooldown=60,
        ),
    ))
    return WebService(task_def, service)
