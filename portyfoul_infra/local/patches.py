"""Where moto behaves unlike AWS in a way that would hide a real bug, the local AWS is made faithful here.

Every patch is listed in MOTO_GAPS, which the operator's guide repeats. The
patches run only inside the local server process (local/server.py), never
in the tools themselves.
"""

from __future__ import annotations

MOTO_GAPS = (
    "AWS::RDS::DBParameterGroup: Ref returns the model object, not the group name, and DBParameterGroupName "
    "is ignored in favour of a generated name (patched: both as on AWS)",
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
    "updated, and a change set never sees a parameter-only change, so it is not applied (patched: change "
    "sets compare under the new parameters and re-apply every resource that resolves differently)",
    "Change sets: no Replacement, Scope or Details (patched: the changed top-level properties are named, "
    "and Replacement is True when one of them is create-only in the resource provider schema)",
    "Updates of a resource type moto cannot update (RDS, secrets, ...) dropped the resource from the stack "
    "(patched: it stays, as an in-place update on AWS would leave it)",
    "YAML templates: `!GetAtt Res.Attr.Sub` (a dotted attribute such as Endpoint.Address) was split at every "
    "dot (patched: split at the first, as CloudFormation does)",
    "Failures cannot happen: every ECS deployment completes at once (patched for rehearsal: an image tag "
    "ending in -crash behaves like a container that exits 1 at start, whose tasks stop and whose deployment "
    "the circuit breaker rolls back; a tag ending in -hang never becomes healthy and stays IN_PROGRESS)",
    "Updates applied resources in template order, so a service could be pointed at its old task definition "
    "before the new revision existed (patched: modified resources are updated in dependency order, as "
    "CloudFormation does)",
    "AWS::ECS::Service: NetworkConfiguration and EnableExecuteCommand from the template were dropped, so a task "
    "run like the service's had no network (patched: both kept)",
    "Stack deletion: routes, route tables and their associations, the internet gateway attachment, the NAT "
    "gateway and its EIP had no delete, so a stack with a VPC could never be deleted (patched: deleted as "
    "CloudFormation does)",
    "RunTask: a Fargate task definition with task-level cpu and memory only (no container memory) failed with "
    "an internal error (patched: task-level sizes are used)",
    "DeletionPolicy: Snapshot was ignored: deleting a stack deleted the database with no final snapshot "
    "(patched: a final snapshot is taken first, as on AWS)",
    "Drift detection (DetectStackDrift and friends): not implemented (patched: always IN_SYNC, since moto "
    "cannot tell a hand change from a template one; drift is tested with Stubbers)",
    "Stack refactoring (CreateStackRefactor, DescribeStackRefactor, ListStackRefactorActions, "
    "ExecuteStackRefactor): not implemented (patched: logical IDs are renamed in the stack model; a property "
    "change, a missing or extra resource, and a stack with a stack policy are rejected as on AWS)",
    "ECR image digests: the hash of the layer digests, so two different manifests of the same layers had one "
    "digest (patched: the sha256 of the manifest as pushed, as on ECR)",
)


def patch_moto() -> None:
    import json

    from moto.rds.models import DBParameterGroup as _ParameterGroup

    _ParameterGroup.cloudformation_name_type = staticmethod(lambda: "DBParameterGroupName")
    _patch_secrets()  # clears moto's CloudFormation model caches, so it comes after every name-type change
    _patch_task_definitions()
    _patch_change_sets()
    _patch_updates_keep_resources()
    _patch_stack_refactor()
    _patch_yaml_get_att()
    _patch_drift_and_final_snapshots()
    _patch_service_network()
    _patch_network_deletes()
    _patch_fargate_task_sizes()
    _patch_image_digest()
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
        diff = _parameter_aware_diff(self, other_template, parameters)
        diff["Modify"] = _in_dependency_order(diff["Modify"], other_template["Resources"])
        return diff

    def _parameter_aware_diff(self, other_template, parameters):
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

    from moto.core.utils import utcnow
    from moto.ecs import models as ecs_models
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
        try:
            before = self._get_service(service_properties.get("cluster", "default"),
                                       service_properties["service"].split("/")[-1])
            old_td = before.task_definition
        except Exception:
            old_td = None
        service = original_update(self, service_properties)
        if not (new_td or forced):
            _complete(service)
            return service
        now = utcnow()
        deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
        template = dict(service.deployments[0]) if service.deployments else {}
        template.update(id=deployment_id, status="PRIMARY", taskDefinition=service.task_definition,
                        createdAt=now, updatedAt=now, rolloutState="COMPLETED",
                        rolloutStateReason=f"ECS deployment {deployment_id} completed.")
        image = self.describe_task_definition(service.task_definition).container_definitions[0].get("image", "")
        tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
        if tag.endswith(CRASH_SUFFIX) and old_td and old_td != service.task_definition:
            _stop_crashed_tasks(self, service, 2)
            rollback_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
            service.task_definition = old_td
            template.update(id=rollback_id, taskDefinition=old_td, rolloutState="COMPLETED",
                            rolloutStateReason=f"ECS deployment circuit breaker: rolling back to the previous "
                                               f"deployment {rollback_id}: tasks failed to start.")
            service.deployments = [template]
            _complete(service)
            return service
        if tag.endswith(HANG_SUFFIX):
            template.update(rolloutState="IN_PROGRESS", runningCount=0, pendingCount=service.desired_count,
                            desiredCount=service.desired_count,
                            rolloutStateReason="ECS deployment in progress: tasks are not becoming healthy.")
            old = {**template, "id": f"ecs-svc/{mock_random.randint(0, 32**12)}", "status": "ACTIVE",
                   "taskDefinition": old_td, "rolloutState": "COMPLETED", "runningCount": service.desired_count,
                   "pendingCount": 0}
            service.deployments = [template, old] if old_td and old_td != service.task_definition else [template]
            return service
        service.deployments = [template]
        _complete(service)
        return service

    ecs_models.EC2ContainerServiceBackend.update_service = update_service


def _patch_image_digest() -> None:
    """An image's digest is the sha256 of its manifest's bytes: a rewritten manifest is another image."""
    import hashlib

    from moto.ecr.models import Image

    def _create_digest(self) -> None:
        self._image_digest = "sha256:" + hashlib.sha256(self.image_manifest.encode("utf-8")).hexdigest()

    Image._create_digest = _create_digest


# Image tags the local AWS treats as broken on purpose, to rehearse failures (see MOTO_GAPS).
CRASH_SUFFIX = "-crash"   # the container exits 1 at start: tasks stop, the circuit breaker rolls back
HANG_SUFFIX = "-hang"     # the tasks never become healthy: the deployment stays IN_PROGRESS


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


def _in_dependency_order(names: list[str], resources: dict) -> list[str]:
    """`names` ordered so that every resource comes after those it refers to (Ref, GetAtt, Sub, DependsOn)."""
    from ..cfn_template import referenced_ids

    wanted = set(names)
    deps = {}
    for name in names:
        resource = resources.get(name, {})
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else list(depends)
        deps[name] = (referenced_ids(resource.get("Properties", {})) | set(depends)) & wanted - {name}
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered or name in visiting:
            return
        visiting.add(name)
        for dep in sorted(deps[name]):
            visit(dep)
        visiting.discard(name)
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


def _changed_properties(old: dict, new: dict, old_resolver, new_resolver) -> list[str]:
    """Top-level properties whose values differ once resolved, as CloudFormation compares them."""
    from ..cfn_template import canonical

    old_props, new_props = old.get("Properties", {}) or {}, new.get("Properties", {}) or {}
    return [prop for prop in sorted(set(old_props) | set(new_props))
            if canonical(old_resolver.value(old_props.get(prop))) != canonical(new_resolver.value(new_props.get(prop)))]


def _patch_change_sets() -> None:
    """Change sets see parameter-only changes and say which properties change and whether that replaces."""
    from moto.cloudformation import models

    from ..cfn_template import Resolver, create_only_properties

    def diff(self):
        resource_map = self.stack.resource_map
        by_action = resource_map.build_resource_diff(self.template_dict, self.parameters or None)
        stack = self.stack
        pseudo = {"AWS::Region": stack.region_name, "AWS::AccountId": stack.account_id, "AWS::StackName": stack.name,
                  "AWS::StackId": stack.stack_id, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
        old_template = {**stack.template_dict, "Resources": resource_map._resource_json_map}
        old_resolver = Resolver(old_template, dict(resource_map.input_parameters or {}), pseudo)
        new_resolver = Resolver(self.template_dict, dict(self.parameters or {}), pseudo)
        changes = []
        new_resources = self.template_dict.get("Resources", {})
        for action in ("Add", "Modify", "Remove"):
            for name in by_action[action]:
                source = new_resources.get(name) or resource_map._resource_json_map.get(name, {})
                change = models.Change(action=action, logical_resource_id=name, resource_type=source.get("Type"))
                if action == "Modify":
                    old = resource_map._resource_json_map.get(name, {})
                    props = _changed_properties(old, new_resources[name], old_resolver, new_resolver)
                    create_only = create_only_properties(source.get("Type", ""))
                    change.replacement = "True" if set(props) & create_only else "False"
                    change.scope = ["Properties"]
                    change.details = [{
                        "Target": {"Attribute": "Properties", "Name": p,
                                   "RequiresRecreation": "Always" if p in create_only else "Never"},
                        "Evaluation": "Static", "ChangeSource": "DirectModification"} for p in props]
                changes.append(change)
        return changes

    models.ChangeSet.diff = diff


def _patch_updates_keep_resources() -> None:
    """A Modify that moto cannot carry out leaves the resource as it was, instead of dropping it."""
    from moto.cloudformation import parsing

    original = parsing.parse_and_update_resource

    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        updated = original(logical_id, resource_json, resources_map, account_id, region_name)
        if updated is None and logical_id in resources_map._parsed_resources:
            return resources_map._parsed_resources[logical_id]
        return updated

    parsing.parse_and_update_resource = parse_and_update_resource


def _patch_stack_refactor() -> None:
    """The four stack refactor calls, renaming logical IDs within a stack the way CloudFormation does."""
    import itertools
    import json

    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult, EmptyResult

    counter = itertools.count(1)

    def refactors(backend) -> dict:
        if not hasattr(backend, "stack_refactors"):
            backend.stack_refactors = {}
        return backend.stack_refactors

    def validate(backend, definitions, mappings) -> tuple[str, str]:
        """(status, reason) as CreateStackRefactor's validation would set them."""
        if len(definitions) != 1:
            return "CREATE_FAILED", "the local AWS refactors within one stack only"
        definition = definitions[0]
        try:
            stack = backend.get_stack(definition["StackName"])
        except ValidationError:
            return "CREATE_FAILED", f"Stack {definition['StackName']} does not exist"
        if stack.policy:
            return "CREATE_FAILED", "Stack refactor does not support stacks with a stack policy attached"
        if stack.status.endswith("_IN_PROGRESS"):
            return "CREATE_FAILED", f"Stack {stack.name} is in {stack.status} state"
        new = stack.parse_template(definition["TemplateBody"])
        old = stack.parse_template(stack.template) if isinstance(stack.template, str) else stack.template_dict
        rename = {m["Source"]["LogicalResourceId"]: m["Destination"]["LogicalResourceId"] for m in mappings}
        unknown = sorted(set(rename) - set(old.get("Resources", {})))
        if unknown:
            return "CREATE_FAILED", f"Resource mapping source {unknown[0]} is not in stack {stack.name}"
        expected = {rename.get(k, k) for k in old.get("Resources", {})}
        if expected != set(new.get("Resources", {})):
            extra = sorted(set(new.get("Resources", {})) - expected)
            missing = sorted(expected - set(new.get("Resources", {})))
            return "CREATE_FAILED", ("Stack refactor cannot create or delete resources: "
                                     + (f"new {', '.join(extra)} " if extra else "")
                                     + (f"missing {', '.join(missing)}" if missing else "")).strip()
        for key in ("Parameters", "Conditions", "Mappings"):
            if json.dumps(old.get(key), sort_keys=True) != json.dumps(new.get(key), sort_keys=True):
                return "CREATE_FAILED", f"Stack refactor cannot change {key}"
        from ..cfn_template import rename_resources
        renamed = rename_resources(old, rename)
        for logical_id, resource in renamed.get("Resources", {}).items():
            theirs = new["Resources"][logical_id]
            for part in ("Type", "Properties"):
                if json.dumps(resource.get(part), sort_keys=True) != json.dumps(theirs.get(part), sort_keys=True):
                    return "CREATE_FAILED", (f"Stack refactor cannot modify resource configuration: "
                                             f"{logical_id} {part} differs")
        return "CREATE_COMPLETE", ""

    def create_stack_refactor(self):
        definitions = self._get_param("StackDefinitions", [])
        mappings = self._get_param("ResourceMappings", [])
        refactor_id = f"arn:aws:cloudformation:{self.region}:{self.current_account}:stackrefactor/{next(counter)}"
        status, reason = validate(self.cloudformation_backend, definitions, mappings)
        stack_ids = []
        for d in definitions:
            try:
                stack_ids.append(self.cloudformation_backend.get_stack(d["StackName"]).stack_id)
            except ValidationError:
                pass
        refactors(self.cloudformation_backend)[refactor_id] = {
            "StackRefactorId": refactor_id, "Description": self._get_param("Description") or "",
            "StackIds": stack_ids, "Status": status, "StatusReason": reason,
            "ExecutionStatus": "AVAILABLE" if status == "CREATE_COMPLETE" else "UNAVAILABLE",
            "definitions": definitions, "mappings": mappings,
        }
        return ActionResult({"StackRefactorId": refactor_id})

    def find(self):
        refactor_id = self._get_param("StackRefactorId")
        found = refactors(self.cloudformation_backend).get(refactor_id)
        if found is None:
            raise ValidationError(message=f"Stack refactor {refactor_id} does not exist")
        return found

    def describe_stack_refactor(self):
        r = find(self)
        return ActionResult({k: v for k, v in r.items() if k[0].isupper()})

    def list_stack_refactor_actions(self):
        r = find(self)
        stack_id = r["StackIds"][0] if r["StackIds"] else ""
        actions = [{
            "Action": "MOVE", "Entity": "RESOURCE", "Detection": "MANUAL",
            "Description": "Resource logical ID renamed",
            "ResourceMapping": {"Source": m["Source"], "Destination": m["Destination"]},
            "PhysicalResourceId": _physical_id(self.cloudformation_backend, stack_id,
                                               m["Source"]["LogicalResourceId"]),
        } for m in r["mappings"]]
        return ActionResult({"StackRefactorActions": actions})

    def execute_stack_refactor(self):
        r = find(self)
        if r["ExecutionStatus"] != "AVAILABLE":
            raise ValidationError(message=f"Stack refactor is {r['ExecutionStatus']} and cannot be executed")
        stack = self.cloudformation_backend.get_stack(r["definitions"][0]["StackName"])
        rename = {m["Source"]["LogicalResourceId"]: m["Destination"]["LogicalResourceId"] for m in r["mappings"]}
        body = r["definitions"][0]["TemplateBody"]
        resource_map = stack.resource_map
        parsed = {}
        for old_id, model in resource_map._parsed_resources.items():
            new_id = rename.get(old_id, old_id)
            if model is not None and hasattr(model, "logical_resource_id"):
                model.logical_resource_id = new_id
            parsed[new_id] = model
        stack.template = body
        stack._parse_template()
        resource_map._template = stack.template_dict
        resource_map._resource_json_map = stack.template_dict["Resources"]
        resource_map._parsed_resources = parsed
        stack.output_map = stack._create_output_map()
        r["ExecutionStatus"] = "EXECUTE_COMPLETE"
        return EmptyResult()

    CloudFormationResponse.create_stack_refactor = create_stack_refactor
    CloudFormationResponse.describe_stack_refactor = describe_stack_refactor
    CloudFormationResponse.list_stack_refactor_actions = list_stack_refactor_actions
    CloudFormationResponse.execute_stack_refactor = execute_stack_refactor


def _physical_id(backend, stack_id: str, logical_id: str) -> str:
    try:
        model = backend.get_stack(stack_id).resource_map._parsed_resources.get(logical_id)
    except Exception:
        return ""
    return getattr(model, "physical_resource_id", "") or ""


def _patch_yaml_get_att() -> None:
    """`!GetAtt Database.Endpoint.Address` means ["Database", "Endpoint.Address"]."""
    from moto.cloudformation import models, utils

    original = utils.yaml_tag_constructor

    def yaml_tag_constructor(loader, tag, node):
        if tag == "!GetAtt" and not isinstance(node.value, list):
            return {"Fn::GetAtt": node.value.split(".", 1)}
        if tag == "!GetAtt":
            return {"Fn::GetAtt": loader.construct_sequence(node)}
        return original(loader, tag, node)

    utils.yaml_tag_constructor = yaml_tag_constructor
    models.yaml_tag_constructor = yaml_tag_constructor


def _patch_drift_and_final_snapshots() -> None:
    import itertools

    from moto.cloudformation import parsing
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult
    from moto.rds.models import rds_backends

    original_delete = parsing.ResourceMap.delete

    def delete(self):
        """A DBInstance whose DeletionPolicy is Snapshot leaves a final snapshot behind."""
        stack_name = self._parsed_resources.get("AWS::StackName") or self.stack_id.split("/")[1]
        for logical_id, resource_json in self._resource_json_map.items():
            if resource_json.get("Type") == "AWS::RDS::DBInstance" and resource_json.get("DeletionPolicy") == "Snapshot":
                model = self._parsed_resources.get(logical_id)
                identifier = getattr(model, "db_instance_identifier", None)
                if identifier:
                    rds_backends[self._account_id][self._region_name].create_db_snapshot(
                        db_instance_identifier=identifier,
                        db_snapshot_identifier=f"{stack_name}-{logical_id}-final-snapshot".lower(),
                        tags=[{"Key": "aws:cloudformation:stack-name", "Value": stack_name}])
        return original_delete(self)

    parsing.ResourceMap.delete = delete

    detections = itertools.count(1)

    def detect_stack_drift(self):
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        return ActionResult({"StackDriftDetectionId": f"{stack.stack_id}-drift-{next(detections)}"})

    def describe_stack_drift_detection_status(self):
        detection = self._get_param("StackDriftDetectionId")
        return ActionResult({"StackId": detection.split("-drift-")[0], "StackDriftDetectionId": detection,
                             "StackDriftStatus": "IN_SYNC", "DetectionStatus": "DETECTION_COMPLETE",
                             "DriftedStackResourceCount": 0, "Timestamp": "2026-01-01T00:00:00Z"})

    def describe_stack_resource_drifts(self):
        return ActionResult({"StackResourceDrifts": []})

    CloudFormationResponse.detect_stack_drift = detect_stack_drift
    CloudFormationResponse.describe_stack_drift_detection_status = describe_stack_drift_detection_status
    CloudFormationResponse.describe_stack_resource_drifts = describe_stack_resource_drifts


def _patch_service_network() -> None:
    """A service created or updated by CloudFormation keeps its awsvpc network and its ECS Exec setting."""
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


def _patch_network_deletes() -> None:
    """The deletes CloudFormation performs for the network resources moto creates but never removed."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress
    from moto.ec2.models.nat_gateways import NatGateway
    from moto.ec2.models.route_tables import Route, RouteTable
    from moto.ec2.models.subnets import SubnetRouteTableAssociation
    from moto.ec2.models.vpn_gateway import VPCGatewayAttachment

    def backend(account_id, region_name):
        return ec2_backends[account_id][region_name]

    def attachment_delete(self, account_id, region_name):
        if self.gateway_id and self.gateway_id.startswith("igw-"):
            backend(account_id, region_name).detach_internet_gateway(self.gateway_id, self.vpc_id)

    def association_delete(self, account_id, region_name):
        ec2 = backend(account_id, region_name)
        table = ec2.route_tables.get(self.route_table_id)
        for association_id, subnet_id in list((table._associations if table else {}).items()):
            if subnet_id == self.subnet_id:
                ec2.disassociate_route_table(association_id)

    def route_delete(self, account_id, region_name):
        ec2 = backend(account_id, region_name)
        if self.route_table.id in ec2.route_tables and self.id in self.route_table._routes:
            ec2.delete_route(self.route_table.id, self.destination_cidr_block)

    def table_delete(self, account_id, region_name):
        backend(account_id, region_name).delete_route_table(self.id)

    def nat_delete(self, account_id, region_name):
        backend(account_id, region_name).nat_gateways.pop(self.id, None)

    def eip_delete(self, account_id, region_name):
        backend(account_id, region_name).release_address(allocation_id=self.allocation_id)

    VPCGatewayAttachment.delete = attachment_delete
    SubnetRouteTableAssociation.delete = association_delete
    Route.delete = route_delete
    RouteTable.delete = table_delete
    NatGateway.delete = nat_delete
    ElasticAddress.delete = eip_delete


def _patch_fargate_task_sizes() -> None:
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
