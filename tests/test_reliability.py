"""Honest under signals, concurrency and odd input: what a process that is stopped, raced or fed an odd record
leaves behind, and what the next command says about it."""

import json
import os
import signal
import subprocess
import sys

import boto3
import pytest

from portyfoul_infra.local.server import seed_image
from support import FAST_POLL, ROOT

REGION = "us-east-2"
HISTORY = "/portyfoul/dev/release-history"


def client(name):
    return boto3.client(name, region_name=REGION)


def history() -> list[dict]:
    return json.loads(client("ssm").get_parameter(Name=HISTORY)["Parameter"]["Value"])


def running_task_definitions() -> dict[str, str]:
    ecs = client("ecs")
    names = ["portyfoul-dev-web-service", "portyfoul-dev-worker-service"]
    return {s["serviceName"]: s["taskDefinition"]
            for s in ecs.describe_services(cluster="portyfoul-dev-cluster", services=names)["services"]}


def start(env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=ROOT,
                            env={**env, "PORTYFOUL_POLL_SECONDS": FAST_POLL}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def wait_for(proc: subprocess.Popen, text: str) -> list[str]:
    """Read the command's output until `text` appears (an event, not a clock)."""
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never appeared:\n{''.join(seen)}")


# ---------- signals

@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGHUP"])
def test_a_release_stopped_by_a_signal_rolls_back_and_records_it(released_stack, signal_name):
    """A CI runner cancelling the job (SIGTERM) or a closed terminal (SIGHUP) mid-release: handled like Ctrl-C:
    the services go back, the history says so, exit 3 with what changed."""
    before = running_task_definitions()
    seed_image(client("ecr"), "portyfoul-dev", "demo0009-hang")
    proc = start(released_stack, "release", "--tag", "demo0009-hang", "--no-build")
    try:
        wait_for(proc, "in progress")  # the watch has started: new revisions are deploying
        proc.send_signal(getattr(signal, signal_name))
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, out + err
    assert f"interrupted ({signal_name})" in out + err
    assert running_task_definitions() == before
    newest = history()[0]
    assert newest["tag"] == "demo0009-hang" and newest["outcome"] == "failed"
    assert signal_name in newest["note"] and "rolled back" in newest["note"]
