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
