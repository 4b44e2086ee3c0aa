"""Amazon ECS: task definitions and services as CloudFormation and UpdateService leave them on AWS."""

from __future__ import annotations

from . import gap

T = "tests/test_local_ecs.py::"
ECS_DOCS = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/"
CFN_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"

# Image tags the local AWS treats as broken on purpose, to rehearse failures (see MOTO_GAPS).
CRASH_SUFFIX = "-crash"   # the container exits 1 at start: tasks stop, the circuit breaker rolls back
HANG_SUFFIX = "-hang"     # the tasks never become healthy: the deployment stays IN_PROGRESS
BAD_SUFFIX = "-bad"       # starts and passes its health check, answers 500 elsewhere (local/alb.py; ecs_deployments)


@gap("ecs-task-definition-properties",
     summary="AWS::ECS::TaskDefinition: CloudFormation drops cpu, roles, runtimePlatform and tags (patched: all kept)",
     aws="A task definition registered by CloudFormation has the Cpu, Memory, TaskRoleArn, ExecutionRoleArn, "
         "RuntimePlatform and Tags of the template.",
     reference=CFN_DOCS + "aws-resource-ecs-taskdefinition.html",
     test=T + "test_a_task_definition_from_cloudformation_keeps_cpu_roles_platform_and_tags")
def patch_task_definitions() -> None:
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys
    from moto.ecs.models import TaskDefinition, ecs_backends

    def register(cls, resource_name, cloudformation_json, account_id, region_name, *args, **kwargs):
        p = cloudformation_json["Properties"]
        camel = lambda v: remap_nested_keys(v, pascal_to_camelcase) if v is not None else None  # noqa: E731
        return ecs_backends[account_id][region_name].register_task_definition(
            family=p.get("Family", resource_name),
            container_definitions=camel(p.get("ContainerDefinitions", [])),
            volumes=camel(p.get("Volumes", [])),
            network_mode=p.get("NetworkMode"),
            tags=[{"key": t["Key"], "value": t["Value"]} for t in p.get("Tags", [])] or None,
            requires_compatibilities=p.get("RequiresCompatibilities"),
            cpu=p.get("Cpu"), memory=p.get("Memory"),
            task_role_arn=p.get("TaskRoleArn"), execution_role_arn=p.get("ExecutionRoleArn"),
            runtime_platform=camel(p.get("RuntimePlatform")),
        )

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        return register(cls, new_resource_name, cloudformation_json, account_id, region_name)

    TaskDefinition.create_from_cloudformation_json = classmethod(register)
    TaskDefinition.update_from_cloudformation_json = classmethod(update)


def _complete(service) -> None:
    service.running_count = service.desired_count
    service.pending_count = 0
    for d in service.deployments:
        d.update(runningCount=service.desired_count, pendingCount=0, desiredCount=service.desired_count)


def _deployment_id() -> str:
    from moto.moto_api._internal import mock_random
    return f"ecs-svc/{mock_random.randint(0, 32**12)}"


def _image_tag(backend, task_definition: str) -> str:
    image = backend.describe_task_definition(task_definition).container_definitions[0].get("image", "")
    return image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""


def _previous_task_definition(backend, service_properties):
    try:
        return backend._get_service(service_properties.get("cluster", "default"),
                                    service_properties["service"].split("/")[-1]).task_definition
    except Exception:
        return None


def _new_primary(service) -> dict:
    from moto.core.utils import utcnow
    now, deployment_id = utcnow(), _deployment_id()
    primary = dict(service.deployments[0]) if service.deployments else {}
    primary.update(id=deployment_id, status="PRIMARY", taskDefinition=service.task_definition,
                   createdAt=now, updatedAt=now, rolloutState="COMPLETED",
                   rolloutStateReason=f"ECS deployment {deployment_id} completed.")
    return primary


def _roll_back_crash(backend, service, primary: dict, old_td: str) -> None:
    _stop_crashed_tasks(backend, service, 2)
    rollback_id = _deployment_id()
    service.task_definition = old_td
    primary.update(id=rollback_id, taskDefinition=old_td, rolloutState="COMPLETED",
                   rolloutStateReason=f"ECS deployment circuit breaker: rolling back to the previous "
                                      f"deployment {rollback_id}: tasks failed to start.")
    service.deployments = [primary]
    _complete(service)


def _hang(service, primary: dict, old_td) -> None:
    primary.update(rolloutState="IN_PROGRESS", runningCount=0, pendingCount=service.desired_count,
                   desiredCount=service.desired_count,
                   rolloutStateReason="ECS deployment in progress: tasks are not becoming healthy.")
    old = {**primary, "id": _deployment_id(), "status": "ACTIVE", "taskDefinition": old_td,
           "rolloutState": "COMPLETED", "runningCount": service.desired_count, "pendingCount": 0}
    service.deployments = [primary, old] if old_td and old_td != service.task_definition else [primary]


@gap("ecs-update-service-deployments",
     summary="ECS UpdateService: the PRIMARY deployment keeps the old task definition (patched: a new deployment "
             "that completes at once); running counts come from MOTO_ECS_SERVICE_RUNNING (clamped to desired)",
     aws="UpdateService with a new task definition or forceNewDeployment starts a new PRIMARY deployment of "
         "that revision; the old one stays ACTIVE until the new one completes.",
     reference=ECS_DOCS + "API_UpdateService.html",
     test=T + "test_update_service_starts_a_primary_deployment_of_the_new_revision")
def patch_update_service() -> None:
    from moto.ecs import models as ecs_models

    original_init = ecs_models.Service.__init__

    def service_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        _complete(self)

    ecs_models.Service.__init__ = service_init
    original_update = ecs_models.EC2ContainerServiceBackend.update_service

    def update_service(self, service_properties):
        new_td, forced = service_properties.get("task_definition"), service_properties.get("force_new_deployment")
        old_td = _previous_task_definition(self, service_properties)
        service = original_update(self, service_properties)
        if not (new_td or forced):
            _complete(service)
            return service
        primary, tag = _new_primary(service), _image_tag(self, service.task_definition)
        if tag.endswith(CRASH_SUFFIX) and old_td and old_td != service.task_definition:
            _roll_back_crash(self, service, primary, old_td)
        elif tag.endswith(HANG_SUFFIX):
            _hang(service, primary, old_td)
        else:
            service.deployments = [primary]
            _complete(service)
        return service

    ecs_models.EC2ContainerServiceBackend.update_service = update_service


@gap("ecs-rehearsal-failures",
     summary="Failures cannot happen: every ECS deployment completes at once (patched for rehearsal: an image tag "
             "ending in -crash behaves like a container that exits 1 at start, whose tasks stop and whose deployment "
             "the circuit breaker rolls back; a tag ending in -hang never becomes healthy and stays IN_PROGRESS)",
     aws="With the deployment circuit breaker and rollback on, a deployment whose tasks fail to start is rolled "
         "back to the last completed deployment; stopped tasks report their exit code and reason.",
     reference="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html",
     test=T + "test_a_crashing_image_is_rolled_back_by_the_circuit_breaker")
def patch_rehearsal_failures() -> None:
    """The switches live in update_service (patch_update_service); this entry documents and tests them."""


def _stop_crashed_tasks(backend, service, count: int) -> None:
    """Tasks of the new revision that started and stopped, as ECS reports a crashing container."""
    import copy

    from moto.ecs.models import Task

    cluster = backend._get_cluster(service.cluster_name)
    # A stopped task has no network interface left to attach: skip moto's awsvpc ENI set-up.
    task_definition = copy.copy(backend.describe_task_definition(service.task_definition))
    task_definition.network_mode = "none"
    for _ in range(count):
        task = Task(cluster, task_definition, None, None, backend, group=f"service:{service.name}",
                    launch_type="FARGATE", started_by=f"ecs-svc/{service.name}")
        task.desired_status = "STOPPED"
        task.stopped_reason = "Essential container in task exited"
        for container in task.containers:
            container.exitCode = 1
            container.reason = "exit code 1: the application exited at start (local -crash image)"
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task


@gap("ecs-service-network",
     summary="AWS::ECS::Service: NetworkConfiguration and EnableExecuteCommand from the template were dropped, so a "
             "task run like the service's had no network (patched: both kept)",
     aws="A service created by CloudFormation has the awsvpc NetworkConfiguration and EnableExecuteCommand of "
         "its template.",
     reference=CFN_DOCS + "aws-resource-ecs-service.html",
     test=T + "test_a_service_from_cloudformation_keeps_its_network_and_exec_setting")
def patch_service_network() -> None:
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys
    from moto.ecs.models import Service

    def keep(service, cloudformation_json):
        props = cloudformation_json.get("Properties", {})
        network = props.get("NetworkConfiguration")
        if network:
            service.network_configuration = remap_nested_keys(network, pascal_to_camelcase)
        if "EnableExecuteCommand" in props:
            service.enable_execute_command = str(props["EnableExecuteCommand"]).lower() == "true"
        return service

    original_create = Service.create_from_cloudformation_json.__func__
    original_update = Service.update_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        return keep(original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs),
                    cloudformation_json)

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        return keep(original_update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                    region_name), cloudformation_json)

    Service.create_from_cloudformation_json = classmethod(create)
    Service.update_from_cloudformation_json = classmethod(update)


@gap("ecs-fargate-task-sizes",
     summary="RunTask: a Fargate task definition with task-level cpu and memory only (no container memory) failed "
             "with an internal error (patched: task-level sizes are used)",
     aws="For Fargate, task-level cpu and memory are required and container-level memory is optional.",
     reference="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html",
     test=T + "test_run_task_accepts_a_fargate_definition_with_task_level_sizes_only")
def patch_fargate_task_sizes() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    def sizes(task_definition):
        return {"CPU": int(task_definition.cpu or 0), "MEMORY": int(task_definition.memory or 0),
                "PORTS": [], "PORTS_UDP": []}

    original = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def calculate(task_definition):
        if any(c.get("memory") is None for c in task_definition.container_definitions):
            return sizes(task_definition)
        return original(task_definition)

    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(calculate)

    from moto.ec2.models.elastic_network_interfaces import NetworkInterface
    if not hasattr(NetworkInterface, "private_dns_name"):  # a task's ENI attachment names it
        NetworkInterface.private_dns_name = property(
            lambda self: f"ip-{str(self.private_ip_address).replace('.', '-')}.ec2.internal")


@gap("ecs-run-task-default-security-group",
     summary="RunTask: an awsvpcConfiguration without securityGroups failed with an internal error (patched: the "
             "task gets the VPC's default security group, as on AWS)",
     aws="securityGroups is optional in awsvpcConfiguration; without it the task uses the default security group "
         "of the VPC.",
     reference="https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_AwsVpcConfiguration.html",
     test=T + "test_run_task_without_security_groups_gets_the_vpcs_default_group")
def patch_run_task_default_security_group() -> None:
    from moto.ec2.models import ec2_backends
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.run_task

    def run_task(self, cluster_str, task_definition_str, count, overrides, started_by, tags, launch_type,
                 networking_configuration=None, *args, **kwargs):
        awsvpc = (networking_configuration or {}).get("awsvpcConfiguration")
        if awsvpc is not None and awsvpc.get("subnets") and not awsvpc.get("securityGroups"):
            ec2 = ec2_backends[self.account_id][self.region_name]
            subnet = ec2.get_subnet(awsvpc["subnets"][0])
            default = ec2.get_security_group_from_name("default", vpc_id=subnet.vpc_id)
            awsvpc["securityGroups"] = [default.id] if default else []
        return original(self, cluster_str, task_definition_str, count, overrides, started_by, tags, launch_type,
                        networking_configuration, *args, **kwargs)

    EC2ContainerServiceBackend.run_task = run_task


# ------------------------------------------------------------------ emu-26: service settings and new deployments
# Which UpdateService parameters start a new deployment, in the words of the UpdateService API reference: "This
# parameter triggers a new service deployment" (taskDefinition, networkConfiguration, platformVersion,
# loadBalancers, serviceRegistries ...) or "doesn't trigger a new service deployment" (desiredCount,
# deploymentConfiguration, healthCheckGracePeriodSeconds, enableExecuteCommand, propagateTags ...).
REDEPLOYING = ("network_configuration", "platform_version", "load_balancers", "service_registries",
               "service_connect_configuration", "volume_configurations", "vpc_lattice_configurations")
DEPLOYMENT_DEFAULTS = {"maximumPercent": 200, "minimumHealthyPercent": 100,
                       "deploymentCircuitBreaker": {"enable": False, "rollback": False}}


def _camel(value):
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys
    return remap_nested_keys(value, pascal_to_camelcase) if value is not None else None


def _resolved_task_definition(backend, name) -> str | None:
    try:
        return backend.describe_task_definition(name).arn
    except Exception:  # noqa: BLE001 - unknown: let UpdateService answer as it does
        return None


def _redeploying_changes(service, properties: dict) -> list[str]:
    return [key for key in REDEPLOYING
            if properties.get(key) is not None and properties[key] != getattr(service, key, None)]


def _stamp_primary(service) -> None:
    """The PRIMARY deployment runs the service's platform version and network configuration."""
    if service.deployments:
        service.deployments[0].update(platformVersion=service.platform_version,
                                      networkConfiguration=service.network_configuration or None)


@gap("ecs-update-service-redeploys",
     summary="ECS UpdateService: a new deployment started whenever a task definition was passed, also the one already "
             "running (so every CloudFormation update of a service redeployed it), and never for a new platform "
             "version, network configuration or load balancers (patched: a deployment starts for the parameters the "
             "UpdateService reference says trigger one, only when they change, or with forceNewDeployment)",
     aws="taskDefinition, networkConfiguration, platformVersion, loadBalancers and serviceRegistries: \"This parameter "
         "triggers a new service deployment.\" desiredCount, deploymentConfiguration, healthCheckGracePeriodSeconds, "
         "enableExecuteCommand and propagateTags: \"This parameter doesn't trigger a new service deployment.\" "
         "forceNewDeployment starts a new deployment with no service definition changes.",
     reference=ECS_DOCS + "API_UpdateService.html",
     test=T + "test_only_parameters_that_trigger_a_deployment_start_one")
def patch_update_service_redeploys() -> None:
    from moto.ecs import models as ecs_models

    inner = ecs_models.EC2ContainerServiceBackend.update_service

    def update_service(self, service_properties):
        properties = dict(service_properties)
        try:
            service = self._get_service(properties.get("cluster", "default"), properties["service"].split("/")[-1])
        except Exception:  # noqa: BLE001 - unknown service: answered as before
            return inner(self, service_properties)
        td = properties.get("task_definition")
        if td and _resolved_task_definition(self, td) == service.task_definition:
            properties.pop("task_definition")  # the revision it runs: no change, no deployment
        if _redeploying_changes(service, properties):
            properties["force_new_deployment"] = True
        updated = inner(self, properties)
        _stamp_primary(updated)
        return updated

    ecs_models.EC2ContainerServiceBackend.update_service = update_service


def _service_settings(props: dict) -> dict:
    """The UpdateService arguments of a template's service settings moto's CloudFormation drops (a setting left out
    of the template is AWS's default)."""
    deployment = {**DEPLOYMENT_DEFAULTS, **(_camel(props.get("DeploymentConfiguration")) or {})}
    settings = {"deployment_configuration": deployment, "propagate_tags": str(props.get("PropagateTags") or "NONE"),
                "health_check_grace_period_seconds": props.get("HealthCheckGracePeriodSeconds"),
                "load_balancers": _camel(props.get("LoadBalancers")) or [],
                "platform_version": props.get("PlatformVersion") or (
                    "LATEST" if str(props.get("LaunchType", "")).upper() == "FARGATE" else None)}
    return settings


@gap("ecs-service-settings",
     summary="AWS::ECS::Service: DeploymentConfiguration, PlatformVersion, PropagateTags, HealthCheckGracePeriodSeconds, "
             "LaunchType and LoadBalancers were dropped on create and on update (DescribeServices showed none of them, "
             "and a Fargate service as EC2) (patched: kept on create, with AWS's defaults for what the template leaves "
             "out, and applied on update through UpdateService, so a change of PlatformVersion or LoadBalancers "
             "starts a new deployment and the others do not)",
     aws="DeploymentConfiguration, EnableExecuteCommand, HealthCheckGracePeriodSeconds, LoadBalancers, "
         "PlatformVersion and PropagateTags are updatable without interruption; CloudFormation applies them with "
         "UpdateService. DeploymentConfiguration defaults to maximumPercent 200 and minimumHealthyPercent 100 for "
         "rolling updates; a Fargate service's platform version defaults to LATEST.",
     reference=CFN_DOCS + "aws-resource-ecs-service.html",
     test=T + "test_service_settings_are_kept_and_changed_by_the_template")
def patch_service_settings() -> None:
    from moto.ecs.models import Service, ecs_backends

    created = Service.create_from_cloudformation_json.__func__
    updated = Service.update_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        service = created(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        props = cloudformation_json.get("Properties") or {}
        for key, value in _service_settings(props).items():
            setattr(service, key, value)
        if props.get("LaunchType"):
            service.launch_type = str(props["LaunchType"])
            for deployment in service.deployments:
                deployment["launchType"] = service.launch_type
        _stamp_primary(service)
        return service

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json.get("Properties") or {}
        backend = ecs_backends[account_id][region_name]
        settings = _service_settings(props)
        network = _camel(props.get("NetworkConfiguration"))
        redeploy = _redeploying_changes(original_resource, {**settings, "network_configuration": network})
        before = original_resource.deployments[0]["id"] if original_resource.deployments else None
        service = updated(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        for key, value in settings.items():
            setattr(service, key, value)
        started = bool(service.deployments) and service.deployments[0]["id"] != before
        if redeploy and not started:
            service = backend.update_service({"cluster": service.cluster_name, "service": service.name,
                                              "force_new_deployment": True})
        _stamp_primary(service)
        return service

    Service.create_from_cloudformation_json = classmethod(create)
    Service.update_from_cloudformation_json = classmethod(update)


@gap("ecs-stack-deletes",
     summary="Stack deletion: ECS services and clusters had no delete, so they outlived their stack and its "
             "services stayed ACTIVE (patched: the services are deleted, then the cluster, as CloudFormation does)",
     aws="Deleting a stack deletes its AWS::ECS::Service (scaled to zero, then deleted) before the AWS::ECS::Cluster "
         "it runs in, then the cluster.",
     reference=CFN_DOCS + "aws-resource-ecs-service.html",
     test=T + "test_a_stack_with_a_cluster_and_a_service_can_be_deleted")
def patch_stack_deletes() -> None:
    from moto.ecs.models import Cluster, Service, ecs_backends

    # Both end INACTIVE, as on AWS (DescribeServices and DescribeClusters show them so for a while).
    def service_delete(self, account_id, region_name):
        backend = ecs_backends[account_id][region_name]
        if backend.services.get(f"{self.cluster_name}:{self.name}") is self and self.status == "ACTIVE":
            backend.delete_service(self.cluster_name, self.name, force=True)

    def cluster_delete(self, account_id, region_name):
        backend = ecs_backends[account_id][region_name]
        if backend.clusters.get(self.name) is self and self.status == "ACTIVE":
            backend.delete_cluster(self.name)

    Service.delete = service_delete
    Cluster.delete = cluster_delete
