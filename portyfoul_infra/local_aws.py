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
    "AWS::SecretsManager::Secret, AWS::CloudWatch::Alarm, AWS::ApplicationAutoScaling::*: "
    "not created by moto's CloudFormation (secrets seeded by seed_missing_resources)",
    "ExecuteChangeSet: outputs, parameters and tags of the stack are not refreshed (patched)",
    "UpdateTerminationProtection: not implemented (patched)",
    "Change sets: every change is reported as Add/Modify with no Replacement detail (guard tested with fakes)",
)


def _patch_moto() -> None:
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

    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def update_termination_protection(self):
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = str(self._get_param("EnableTerminationProtection")).lower() == "true"
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update_termination_protection


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
    env = {**os.environ, "MOTO_ECS_SERVICE_RUNNING": "true"}
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=5077)
    serve(ap.parse_args().port)


if __name__ == "__main__":
    main()
