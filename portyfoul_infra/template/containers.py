"""What web and worker share: the image, the secrets, the logs and the task definition shape.

Both services run the same image with the same secrets; they differ in their
environment and in whether they listen. Building both from here keeps the
two task definitions from drifting apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAtt, Ref, Region, Sub, Template, ecs

from ..contract import ServiceRef, config_env_vars
from .cluster import Cluster
from .database import DB_NAME, Database, secret_key_arn
from .parameters import Params
from .registry import Registry
from .secrets import Secrets


@dataclass(frozen=True)
class ContainerSpec:
    service: ServiceRef            # the contract's service: its container's name, and the key in every name
    family_logical_id: str
    image_tag: Ref                 # the stack parameter holding this service's tag
    cpu: Ref
    memory: Ref
    log_group: object
    environment: dict[str, object]
    port: int | None = None
    health_check: object = None    # an ecs.HealthCheck, an If(...) of one, or None


def container_secrets(database: Database, secrets: Secrets, ssm_env: tuple[str, ...]) -> list[ecs.Secret]:
    """Every secret injected by ARN, never by value."""
    out = [ecs.Secret(Name=s.env_var, ValueFrom=s.resource.ref()) for s in secrets.app_secrets]
    out += [
        ecs.Secret(Name="POSTGRES_USER", ValueFrom=secret_key_arn(database.secret, "username")),
        ecs.Secret(Name="POSTGRES_PASSWORD", ValueFrom=secret_key_arn(database.secret, "password")),
    ]
    out += [
        ecs.Secret(Name=c.env_var, ValueFrom=Sub(
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}", Name=c.resource.ref()))
        for c in secrets.parameters if c.env_var in ssm_env
    ]
    return sorted(out, key=lambda s: s.Name)


def database_environment(database: Database) -> dict[str, object]:
    return {
        "POSTGRES_HOST": GetAtt(database.instance, "Endpoint.Address"),
        "POSTGRES_PORT": GetAtt(database.instance, "Endpoint.Port"),
        "POSTGRES_DB": DB_NAME,
    }


def add_task_definition(
    t: Template, p: Params, spec: ContainerSpec, registry: Registry, cluster: Cluster,
    database: Database, secrets: Secrets,
) -> ecs.TaskDefinition:
    container = ecs.ContainerDefinition(
        Name=spec.service.container,
        Image=Sub("${Uri}:${Tag}", Uri=GetAtt(registry.repository, "RepositoryUri"), Tag=spec.image_tag),
        Essential=True,
        Environment=[ecs.Environment(Name=k, Value=v) for k, v in sorted(spec.environment.items())],
        Secrets=container_secrets(database, secrets, config_env_vars(spec.service.key)),
        LogConfiguration=ecs.LogConfiguration(
            LogDriver="awslogs",
            Options={
                "awslogs-group": Ref(spec.log_group),
                "awslogs-region": Region,
                "awslogs-stream-prefix": spec.service.key,
            },
        ),
    )
    if spec.port is not None:
        container.PortMappings = [ecs.PortMapping(ContainerPort=spec.port, Protocol="tcp")]
    if spec.health_check is not None:
        container.HealthCheck = spec.health_check
    return t.add_resource(ecs.TaskDefinition(
        spec.family_logical_id,
        Family=Sub("${ProjectName}-${Environment}-" + spec.service.key + "-task"),
        Cpu=spec.cpu,
        Memory=spec.memory,
        NetworkMode="awsvpc",
        RequiresCompatibilities=["FARGATE"],
        # The image is built for this same architecture (config.docker_platform):
        # the plan's "exec format error" came from these two disagreeing.
        RuntimePlatform=ecs.RuntimePlatform(CpuArchitecture=p.CpuArchitecture, OperatingSystemFamily="LINUX"),
        ExecutionRoleArn=cluster.execution_role.get_att("Arn"),
        TaskRoleArn=cluster.task_role.get_att("Arn"),
        ContainerDefinitions=[container],
    ))


# Alarms that roll a deployment back (ECS deployment alarms): names the monitoring group gives them.
WEB_5XX_ALARM = "web-5xx"
WEB_UNHEALTHY_ALARM = "web-unhealthy-targets"
WORKER_NOT_RUNNING_ALARM = "worker-not-running"
CONTAINER_HEALTH = {"Interval": 15, "Timeout": 5, "Retries": 3, "StartPeriod": 30}


def alarm_name(suffix: str) -> Sub:
    return Sub("${ProjectName}-${Environment}-" + suffix)


def deployment_configuration(maximum_percent: int, minimum_healthy_percent: int,
                             alarms: tuple[str, ...]) -> ecs.DeploymentConfiguration:
    """The circuit breaker for tasks that do not start, and alarms for tasks that start and misbehave."""
    return ecs.DeploymentConfiguration(
        MaximumPercent=maximum_percent,
        MinimumHealthyPercent=minimum_healthy_percent,
        DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(Enable=True, Rollback=True),
        Alarms=ecs.DeploymentAlarms(AlarmNames=[alarm_name(a) for a in alarms], Enable=True, Rollback=True),
    )


def http_health_check(port: int, path) -> ecs.HealthCheck:
    """A GET of the health path from inside the container, with node (the image has no curl)."""
    script = ("require('http').get('http://127.0.0.1:${Port}${Path}',r=>process.exit(r.statusCode<400?0:1))"
              ".on('error',()=>process.exit(1))")
    return ecs.HealthCheck(Command=["CMD-SHELL", Sub('node -e "' + script + '"', Port=str(port), Path=path)],
                           **CONTAINER_HEALTH)


def private_network(subnets, security_group) -> ecs.NetworkConfiguration:
    return ecs.NetworkConfiguration(AwsvpcConfiguration=ecs.AwsvpcConfiguration(
        AssignPublicIp="DISABLED",
        Subnets=[s.ref() for s in subnets],
        SecurityGroups=[security_group.ref()],
    ))
