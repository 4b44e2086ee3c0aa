"""release, rollback, release-status and logs through invoke against moto on 127.0.0.1.

A fake `docker` on PATH records its arguments; its `push` puts a manifest
into the local ECR, as a real push would.
"""

import json
import os
import re

import boto3
import pytest

from portyfoul_infra.outcomes import Outcome
from support import invoke
from support.docker import docker_calls, install_fake_docker
from support.stacks import DEMO_TAG, release_tag, set_finnhub_key


@pytest.fixture
def stack(dev_stack):
    """A new dev stack with the Finnhub key set: ready for its first release."""
    set_finnhub_key()
    return dev_stack


@pytest.fixture
def docker(tmp_path, stack):
    bindir, log = install_fake_docker(tmp_path)
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").write_text("FROM node:22-alpine\n")
    env = {**stack, "PATH": f"{bindir}:{os.environ['PATH']}", "FAKE_DOCKER_LOG": str(log)}
    return env, app, log


def _ecs(endpoint):
    return boto3.client("ecs", region_name="us-east-2", endpoint_url=endpoint)


def test_release_builds_pushes_registers_and_deploys(docker, local_aws):
    env, app, log = docker
    proc = invoke("release", "--tag", "abc12345", "--app-dir", str(app), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    argvs = [c["argv"] for c in calls]
    build = next(a for a in argvs if a[:2] == ["buildx", "build"])
    assert build[build.index("--platform") + 1] == "linux/arm64"  # from the live task definitions (ARM64)
    uri = "946652103073.dkr.ecr.us-east-2.amazonaws.com/portyfoul-dev"
    assert f"{uri}:abc12345" in build and f"{uri}:latest" in build and build[-1] == str(app)
    login = next(c for c in calls if c["argv"][:1] == ["login"])
    assert "--password-stdin" in login["argv"] and login["stdin_given"] and not login["stdin_in_argv"]
    assert [a[1] for a in argvs if a[:1] == ["push"]] == [f"{uri}:abc12345", f"{uri}:latest"]

    ecs = _ecs(local_aws.endpoint)
    for key in ("web", "worker"):
        svc = ecs.describe_services(cluster="portyfoul-dev-cluster", services=[f"portyfoul-dev-{key}-service"])["services"][0]
        new = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
        old = ecs.describe_task_definition(taskDefinition=f"portyfoul-dev-{key}-task:1")["taskDefinition"]
        assert new["revision"] == 2 and new["containerDefinitions"][0]["image"] == f"{uri}:abc12345"
        strip = lambda td: {k: v for k, v in td.items() if k not in ("taskDefinitionArn", "revision", "registeredAt")}  # noqa: E731
        new_c, old_c = strip(new), strip(old)
        new_c["containerDefinitions"] = [{**c, "image": "X"} for c in new_c["containerDefinitions"]]
        old_c["containerDefinitions"] = [{**c, "image": "X"} for c in old_c["containerDefinitions"]]
        assert new_c == old_c  # only the image changed
    assert "released abc12345" in proc.stdout


def test_a_rerun_for_a_tag_already_in_ecr_releases_that_image_without_building(docker, local_aws):
    """A deploy job run again for an unchanged application: the same `release --tag` (without --no-build) exits 0,
    builds and pushes nothing, and deploys the image the tag names (release tags are immutable)."""
    env, app, log = docker
    first = invoke("release", "--tag", "abc12345", "--app-dir", str(app), env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    log.unlink()
    again = invoke("release", "--tag", "abc12345", "--app-dir", str(app), env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "warning: tag abc12345 is already in ECR (sha256:" in again.stderr
    assert "releasing that image without building" in again.stderr and "released abc12345" in again.stdout
    argvs = docker_calls(log)
    assert not any(a[:2] == ["buildx", "build"] or a[:1] == ["push"] for a in argvs)
    web = _ecs(local_aws.endpoint).describe_services(cluster="portyfoul-dev-cluster",
                                                     services=["portyfoul-dev-web-service"])["services"][0]
    image = _ecs(local_aws.endpoint).describe_task_definition(taskDefinition=web["taskDefinition"])["taskDefinition"]
    assert image["containerDefinitions"][0]["image"].endswith(":abc12345") and image["revision"] == 3


def test_release_status_shows_what_runs(released_stack):
    proc = invoke("release-status", env=released_stack)
    assert proc.returncode == 0
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines() if line.strip().startswith(("web", "worker"))}
    # 1 from creation, 2 from the release, 3 from CloudFormation when the bootstrap ended
    assert rows["web"][1] == DEMO_TAG and rows["web"][2] == "portyfoul-dev-web-task:3"
    assert rows["worker"][1] == DEMO_TAG


def test_a_tag_not_in_ecr_is_refused_and_nothing_changes(stack, local_aws):
    proc = invoke("release", "--tag", "nothere1", "--no-build", env=stack)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == ("error: tag nothere1 is not in ECR repository portyfoul-dev; "
                                   "build and push it (drop --no-build)")
    arns = _ecs(local_aws.endpoint).list_task_definitions(familyPrefix="portyfoul-dev-web-task")["taskDefinitionArns"]
    assert len(arns) == 1


def test_stack_update_keeps_the_released_tag(stack, local_aws):
    release_tag(DEMO_TAG)
    proc = invoke("stack-update", "--yes", env=stack)
    assert proc.returncode == 0, proc.stderr
    assert f"image tags web={DEMO_TAG} worker={DEMO_TAG}" in proc.stdout
    assert "bootstrap ends" in proc.stdout
    svc = _ecs(local_aws.endpoint).describe_services(cluster="portyfoul-dev-cluster",
                                                     services=["portyfoul-dev-web-service"])["services"][0]
    assert svc["desiredCount"] == 2
    image = _ecs(local_aws.endpoint).describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert image["containerDefinitions"][0]["image"].endswith(f":{DEMO_TAG}")  # never rolled back to an older image


def test_rollback_lands_on_the_last_good_release_never_the_failed_one(released_stack, local_aws):
    """The issue's scenario: demo0001 runs; demo0002 crashes and is rolled back; demo0003 succeeds; rollback."""
    ecs = _ecs(local_aws.endpoint)
    failed = release_tag("demo0002-crash", expect=Outcome.ROLLED_BACK)
    assert "ECS rolled back to the previous revision" in failed and "Essential container in task exited" in failed
    assert "exit code 1" in failed
    release_tag("demo0003")
    assert _running_tag(ecs, "web") == "demo0003"

    proc = invoke("rollback", env=released_stack)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"web: demo0003 \(portyfoul-dev-web-task:5\) -> demo0001 \(portyfoul-dev-web-task:2\), "
                     r"released \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", proc.stdout), proc.stdout
    assert "rolled back: web on demo0001 (portyfoul-dev-web-task:2), worker on demo0001" in proc.stdout
    assert _running_tag(ecs, "web") == _running_tag(ecs, "worker") == "demo0001"

    status = invoke("release-status", env=released_stack)
    history = [line.split() for line in status.stdout.split("recent releases (newest first)")[1].splitlines()[2:]]
    assert [(row[2], row[3], row[-1] if row[-1] in ("succeeded", "back") else row[-2]) for row in history][:4] == [
        ("rollback", "demo0001", "succeeded"), ("release", "demo0003", "succeeded"),
        ("release", "demo0002-crash", "back"), ("release", "demo0001", "succeeded")]
    assert "failed: web: ECS rolled back" in status.stdout

    again = invoke("rollback", env=released_stack)  # nothing older than demo0001 that differs: refused
    assert again.returncode == 2 and "nothing to roll back to" in again.stderr
    forward = invoke("rollback", "--to", "demo0003", "--service", "web", env=released_stack)
    assert forward.returncode == 0, forward.stderr
    assert _running_tag(ecs, "web") == "demo0003"
    unknown = invoke("rollback", "--to", "demo0002-crash", env=released_stack)
    assert unknown.returncode == 2 and "no release of demo0002-crash that succeeded" in unknown.stderr


def test_rollback_refuses_while_a_deployment_is_in_progress(released_stack, local_aws):
    release_tag("demo0004-hang", expect=Outcome.ROLLED_BACK, timeout=5)
    # after the timeout the release rolled back; start a hanging deployment directly, as another operator would
    ecs = _ecs(local_aws.endpoint)
    svc = ecs.describe_services(cluster="portyfoul-dev-cluster", services=["portyfoul-dev-web-service"])["services"][0]
    hanging = next(a for a in ecs.list_task_definitions(familyPrefix="portyfoul-dev-web-task")["taskDefinitionArns"]
                   if _image_tag(ecs, a) == "demo0004-hang")
    ecs.update_service(cluster="portyfoul-dev-cluster", service="portyfoul-dev-web-service", taskDefinition=hanging)
    proc = invoke("rollback", env=released_stack)
    assert proc.returncode == 2 and "a deployment is in progress" in proc.stderr
    update = invoke("stack-update", "--yes", env=released_stack)
    assert update.returncode == 2 and "has a deployment in progress" in update.stderr
    assert svc["taskDefinition"] != hanging


def _image_tag(ecs, arn):
    return ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0]["image"].rsplit(":", 1)[1]


def _running_tag(ecs, key):
    svc = ecs.describe_services(cluster="portyfoul-dev-cluster", services=[f"portyfoul-dev-{key}-service"])["services"][0]
    return _image_tag(ecs, svc["taskDefinition"])


def test_logs_prints_the_services_lines(dev_stack, local_aws):
    stack = dev_stack
    _log_line("ready on port 3000")
    proc = invoke("logs", "--service", "web", "--since", "5m", env=stack)
    assert proc.returncode == 0, proc.stderr
    assert "web    01234567 ready on port 3000" in proc.stdout
    bad = invoke("logs", "--since", "yesterday", env=stack)
    assert bad.returncode == 2 and "use a number and s, m, h or d" in bad.stderr


def _log_line(message):
    import time
    logs = boto3.client("logs", region_name="us-east-2")
    logs.create_log_stream(logGroupName="/ecs/portyfoul-dev-web", logStreamName="web/web/0123456789abcdef")
    logs.put_log_events(logGroupName="/ecs/portyfoul-dev-web", logStreamName="web/web/0123456789abcdef",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": message}])


def test_logs_follow_stops_cleanly_on_ctrl_c(dev_stack):
    _log_line("ready on port 3000")
    from portyfoul_infra.options import LogsOptions
    from portyfoul_infra.outcomes import Outcome
    from portyfoul_infra.verbs.logs import logs
    from support import VirtualClock, make_ctx

    class Interrupting(VirtualClock):
        def sleep(self, seconds):
            raise KeyboardInterrupt

    ctx, out = make_ctx(clock=Interrupting())
    outcome = logs(ctx, LogsOptions(service="web", since="5m", follow=True))
    assert outcome.outcome is Outcome.NO_CHANGES
    assert "ready on port 3000" in out.getvalue()
