"""Where moto behaves unlike AWS in a way that would hide a real bug, the local AWS is made faithful here.

Every patch is listed in MOTO_GAPS, which the operator's guide repeats. The
patches run only inside the local server process (local/server.py), never
in the tools themselves.
"""

from __future__ import annotations

MOTO_GAPS = (
    "AWS::RDS::DBParameterGroup: Ref returns the model object, not the group name (patched)",
    "AWS::SecretsManager::Secret: not created by moto's CloudFormation (patched: created from the template, "
    "GenerateSecretString included)",
    "AWS::SecretsManager::SecretTargetAttachment: not supported (the database secret lacks host and port locally)",
    "AWS::ECS::TaskDefinition: CloudFormation drops cpu, roles, runtimePlatform and tags (patched: all kept)",
    "AWS::CloudWatch::Alarm, AWS::ApplicationAutoScaling::*: not created by moto's CloudFormation (not needed locally)",
    "ExecuteChangeSet: outputs, parameters and tags of the stack are not refreshed (patched)",
    "UpdateTerminationProtection: not implemented (patched)",
    "ECS UpdateService: the PRIMARY deployment keeps the old task definition (patched: a new deployment "
    "that completes at once); running counts come from MOTO_ECS_SERVICE_RUNNING (clamped to desired)",
    "Parameter-only updates: resources that use a parameter only through a Condition (Fn::If) are not "
    "updated (patched)",
    "Change sets: every change is reported as Add/Modify with no Replacement detail (guard tested with fakes)",
)


def patch_moto() -> None:
    import json

    _patch_secrets()
    _patch_task_definitions()
    from moto.rds.models import DBParameterGroup

    DBParameterGroup.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]

    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    def execute_change_set(self, change_set_name, stack_name=None):
        original(self, change_set_name, stack_name)
        change_set = self.change_sets.get(change_set_name) or next(
            c for c in self.change_sets.values() if c.change_set_name == change_set_name)
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        stack.parameters = change_set.parameters
        if change_set.tags:
            stack.tags = change_set.tags

    CloudFormationBackend.execute_change_set = execute_change_set

    from moto.cloudformation import parsing

    original_diff = parsing.ResourceMap.build_resource_diff

    def build_resource_diff(self, other_template, parameters=None):
        diff = original_diff(self, other_template, parameters)
        if not parameters:
            return diff
        changed = {p for p in parameters if self.input_parameters.get(p) != parameters[p]}
        conditions = {name: set(parsing.get_references_from_template({"c": expr}))
                      for name, expr in (other_template.get("Conditions") or {}).items()}
        touched = {name for name, refs in conditions.items() if refs & changed}
        for name, resource in other_template["Resources"].items():
            if name in diff["Modify"] or name in diff["Add"]:
                continue
            text = json.dumps(resource)
            if any(f'"Fn::If": ["{c}"' in text for c in touched):
                diff["Modify"].append(name)
        return diff

    parsing.ResourceMap.build_resource_diff = build_resource_diff

    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def update_termination_protection(self):
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = str(self._get_param("EnableTerminationProtection")).lower() == "true"
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update_termination_protection

    from moto.ecs import models as ecs_models
    from moto.core.utils import utcnow
    from moto.moto_api._internal import mock_random

    def _complete(service) -> None:
        service.running_count = service.desired_count
        service.pending_count = 0
        for d in service.deployments:
            d.update(runningCount=service.desired_count, pendingCount=0, desiredCount=service.desired_count)

    original_init = ecs_models.Service.__init__

    def service_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        _complete(self)

    ecs_models.Service.__init__ = service_init
    original_update = ecs_models.EC2ContainerServiceBackend.update_service

    def update_service(self, service_properties):
        new_td = service_properties.get("task_definition")
        forced = service_properties.get("force_new_deployment")
        service = original_update(self, service_properties)
        if new_td or forced:
            deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
            now = utcnow()
            template = dict(service.deployments[0]) if service.deployments else {}
            template.update(id=deployment_id, status="PRIMARY", taskDefinition=service.task_definition,
                            createdAt=now, updatedAt=now, rolloutState="COMPLETED",
                            rolloutStateReason=f"ECS deployment {deployment_id} completed.")
            service.deployments = [template]
        _complete(service)
        return service

    ecs_models.EC2ContainerServiceBackend.update_service = update_service


def _patch_secrets() -> None:
    import json
    import secrets as pysecrets

    from moto.core.common_models import CloudFormationModel
    from moto.secretsmanager.models import secretsmanager_backends

    class CloudFormationSecret(CloudFormationModel):
        """AWS::SecretsManager::Secret as CloudFormation would create it."""

        __module__ = "moto.secretsmanager.models"  # moto names backends after the defining module

        def __init__(self, arn: str):
            self.arn = arn

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SecretsManager::Secret"

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
            props = cloudformation_json.get("Properties", {})
            value = props.get("SecretString")
            gen = props.get("GenerateSecretString")
            if value is None and gen is not None:
                generated = pysecrets.token_urlsafe(int(gen.get("PasswordLength", 32)))[: int(gen.get("PasswordLength", 32))]
                if gen.get("SecretStringTemplate"):
                    data = json.loads(gen["SecretStringTemplate"])
                    data[gen["GenerateStringKey"]] = generated
                    value = json.dumps(data)
                else:
                    value = generated
            backend = secretsmanager_backends[account_id][region_name]
            created = backend.create_secret(
                name=props.get("Name") or resource_name, secret_string=value, secret_binary=None,
                description=props.get("Description"), tags=props.get("Tags"), kms_key_id=props.get("KmsKeyId"),
                client_request_token=None, replica_regions=[], force_overwrite=False)
            return cls(json.loads(created)["ARN"] if isinstance(created, str) else created["ARN"])

    from moto.cloudformation import parsing
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def _patch_task_definitions() -> None:
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

    TaskDefinition.create_from_cloudformation_json = classmethod(register)

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        return register(cls, new_resource_name, cloudformation_json, account_id, region_name)

    TaskDefinition.update_from_cloudformation_json = classmethod(update)
