"""The local AWS: a moto server on 127.0.0.1, for the sandbox and the tests.

    python -m portyfoul_infra.local_aws --port 5077

Binds to loopback only. Before serving it patches the gaps in moto that this
template runs into, each listed in MOTO_GAPS below, so the template itself
never bends around the emulator. What moto cannot create (secrets, alarms,
auto scaling from CloudFormation) is seeded by `seed_missing_resources` the
way the real stack would have it, and every caller says so.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"

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


def _patch_moto() -> None:
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


def serve(port: int) -> None:
    _patch_moto()
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    print(f"local AWS (moto) listening on http://{LOOPBACK}:{port}", flush=True)
    stop = False

    def _stop(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop:
        time.sleep(0.2)
    server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@dataclass
class LocalAws:
    """A running local AWS subprocess."""
    port: int
    process: subprocess.Popen

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start(port: int | None = None, timeout: float = 30.0) -> LocalAws:
    """Start the server as a subprocess and wait until it answers."""
    port = port or free_port()
    env = {**os.environ, "MOTO_ECS_SERVICE_RUNNING": "100"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "portyfoul_infra.local_aws", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    url = f"http://{LOOPBACK}:{port}/moto-api/"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"local AWS exited with code {proc.returncode} (is port {port} free?)")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return LocalAws(port, proc)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"local AWS did not answer on port {port} within {timeout:.0f}s")


def seed_missing_resources(session, stack_name: str) -> list[str]:
    """Create the secrets the template would have created, since moto's CloudFormation skips them.

    Names and initial values are the template's: generated secrets get a random
    value, the API keys get the placeholder. Returns the names created.
    """
    import json
    import secrets as pysecrets

    from .secrets import APP_SECRETS, PLACEHOLDER_VALUE

    cfn = session.client("cloudformation")
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    prefix = f"{params['ProjectName']}/{params['Environment']}"
    sm = session.client("secretsmanager")
    wanted = {f"{prefix}/rds/credentials": json.dumps({
        "username": "portyfoul_admin", "password": pysecrets.token_urlsafe(24), "dbname": "portyfoul",
        "host": "localhost", "port": 5432, "engine": "postgres"})}
    for _, short, _, _, generated in APP_SECRETS:
        wanted[f"{prefix}/{short}"] = pysecrets.token_urlsafe(48) if generated else PLACEHOLDER_VALUE
    existing = {s["Name"] for page in sm.get_paginator("list_secrets").paginate() for s in page["SecretList"]}
    created = []
    for name, value in wanted.items():
        if name not in existing:
            sm.create_secret(Name=name, SecretString=value)
            created.append(name)
    return created


def seed_image(ecr, repository: str, tag: str) -> str:
    """Put a small image manifest into the local ECR under `tag` (and `latest`); returns its digest."""
    import hashlib
    import json

    layer = hashlib.sha256(tag.encode()).hexdigest()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 100,
                   "digest": f"sha256:{hashlib.sha256(b'config' + tag.encode()).hexdigest()}"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 100,
                    "digest": f"sha256:{layer}"}],
    }, sort_keys=True)
    image = ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)["image"]
    try:
        ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag="latest")
    except Exception:
        pass  # `latest` already points at this manifest
    return image["imageId"]["imageDigest"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=5077)
    serve(ap.parse_args().port)


if __name__ == "__main__":
    main()
