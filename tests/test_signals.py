"""Stop signals at exact points: a release stopped between its two services, a second and third signal while the
rollback the first one started runs and after it, a rollback stopped half-way and the command that continues it.

The few tests that need the real thing send real signals to real `invoke` processes, each at the moment a gate of
the local AWS holds the call that marks the point (tests/support/gates.py): no timing. The rest run in-process:
the signal guard with signals raised in this process, the mechanics with scripted fakes and a virtual clock.
"""

from __future__ import annotations

import re
import shlex
import signal
import subprocess
import sys

import boto3
import pytest

from portyfoul_infra import cli
from portyfoul_infra.aws import history as store
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.errors import UserError
from portyfoul_infra.local.server import seed_image
from portyfoul_infra.options import ReleaseOptions, RollbackOptions
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.verbs.release import release, rollback
from support import FAST_POLL, ROOT, make_ctx
from support.fake_ecs import (
    FakeEcr,
    FakeEcs,
    circuit_breaker,
    complete,
    release_clients,
    stay,
    task_definition,
    td_arn,
)
from support.gates import gate

REGION = "us-east-2"
CLUSTER = "portyfoul-dev-cluster"
NAMES = {"web": "portyfoul-dev-web-service", "worker": "portyfoul-dev-worker-service"}


def client(name):
    return boto3.client(name, region_name=REGION)


def history() -> list[dict]:
    """The release history on the local AWS, newest first, read as the tool reads it."""
    return [r.as_dict() for r in store.load(make_ctx()[0])]


def running() -> dict[str, str]:
    """key -> the task definition each service's PRIMARY deployment runs."""
    described = client("ecs").describe_services(cluster=CLUSTER, services=list(NAMES.values()))["services"]
    by_name = {s["serviceName"]: s for s in described}
    return {key: next(d["taskDefinition"] for d in by_name[name]["deployments"] if d["status"] == "PRIMARY")
            for key, name in NAMES.items()}


def tags() -> dict[str, str]:
    """key -> the image tag each service's PRIMARY deployment runs."""
    ecs = client("ecs")
    return {key: ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]["containerDefinitions"][0][
        "image"].rsplit(":", 1)[1] for key, td in running().items()}


def lock_held() -> bool:
    return bool(client("ssm").get_parameters(Names=["/portyfoul/dev/deploy-lock"])["Parameters"])


def start(env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=ROOT,
                            env={**env, "PORTYFOUL_POLL_SECONDS": FAST_POLL}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def wait_for(proc: subprocess.Popen, text: str) -> None:
    """Read the command's output until `text` appears (an event, not a clock)."""
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} never appeared:\n{''.join(seen)}")


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()


def until(condition, tries: int = 2000) -> None:
    """Ask the local AWS until `condition()` holds (a state to reach, not a time to wait)."""
    for _ in range(tries):
        if condition():
            return
    raise AssertionError("the local AWS never reached the state")


# ---------- a release stopped between web's and worker's UpdateService

@pytest.mark.parametrize("then", ["drop", "apply"])
def test_a_release_stopped_between_its_two_services_rolls_back_all_it_touched(released_stack, then):
    """SIGTERM while worker's UpdateService is in flight (web's done). Whether that call reached ECS ("apply") or
    not ("drop"), what ECS runs decides: every service the release touched goes back, exit 3, and the release is
    recorded failed, never later reconciled into "succeeded"."""
    before = running()
    seed_image(client("ecr"), "portyfoul-dev", "demo0002")
    in_flight = gate("UpdateService", match="worker-service", then=then)
    proc = start(released_stack, "release", "--tag", "demo0002", "--no-build")
    in_flight.wait()
    # Hold the stopped release at its first write of its record ("...; rolling back"), until the call in flight
    # has landed or not.
    recording = gate("PutParameter", match="rolling back")
    proc.send_signal(signal.SIGTERM)
    recording.wait()
    in_flight.open()
    if then == "apply":
        until(lambda: running()["worker"] != before["worker"])
    recording.open()
    out, err = finish(proc)
    assert proc.returncode == 3, out + err
    assert running() == before
    newest = history()[0]
    assert newest["tag"] == "demo0002" and newest["outcome"] == "failed"
    assert "interrupted (SIGTERM)" in newest["note"] and newest["note"].endswith("rolled back")
    if then == "drop":
        assert "worker: never deployed" in newest["note"]
        assert "worker: never deployed (stopped before ECS took its update)" in out
    else:
        assert "worker: rolling back to" in out
    assert "Traceback" not in err and not lock_held()
    # What the next command does first, settling records left in progress, leaves the stopped release failed.
    assert store.reconcile_with_ecs(make_ctx()[0]) == []
    assert history()[0]["outcome"] == "failed"


# ---------- signals after the first: acknowledged, ignored, the rollback finishes and is recorded

@pytest.mark.parametrize("first, second, third", [("SIGINT", "SIGTERM", "SIGTERM"), ("SIGTERM", "SIGINT", "SIGHUP")])
def test_signals_after_the_first_never_cut_the_rollback_its_record_or_the_lock(released_stack, first, second, third):
    """GitHub's cancel (SIGINT, then SIGTERM) and the other order: the first stops the release and starts its
    rollback; the second, while worker's rollback call is in flight, and a third, while the lock is given back
    after the rollback was recorded, are acknowledged and ignored. Exit 3; the history is true; no lock left."""
    before = running()
    seed_image(client("ecr"), "portyfoul-dev", "demo0009-hang")
    proc = start(released_stack, "release", "--tag", "demo0009-hang", "--no-build")
    wait_for(proc, "in progress")  # both deployments started; the watch runs
    rollback_call = gate("UpdateService", match="worker-service")
    unlocking = gate("DeleteParameter", match="deploy-lock")
    proc.send_signal(getattr(signal, first))
    rollback_call.wait()
    proc.send_signal(getattr(signal, second))
    rollback_call.open()
    unlocking.wait()
    proc.send_signal(getattr(signal, third))
    unlocking.open()
    out, err = finish(proc)
    assert proc.returncode == 3, out + err
    assert f"{second} (after {first}): already stopping; ignored until the rollback ends" in err
    assert f"{third} (after {first}): already stopping; ignored until" in err
    assert "rolled back: web on" in out and running() == before
    newest = history()[0]
    assert newest["outcome"] == "failed" and newest["note"].startswith(f"web: interrupted ({first})")
    assert newest["note"].endswith("; rolled back")
    assert not lock_held() and "Traceback" not in err


# ---------- a rollback stopped half-way, and the command its message proposes

def test_a_stopped_rollback_is_continued_by_the_command_it_proposes_never_reversed(released_stack):
    """The issue's scenario: demo0002 runs; `rollback` (to demo0001) is stopped by SIGTERM while worker's call is
    in flight (it never reaches ECS). The message proposes a command; run exactly that: both services end on
    demo0001, and a later `--replace-deployment` finds nothing to reverse either."""
    from support.stacks import release_tag
    release_tag("demo0002")
    leaving = running()
    in_flight = gate("UpdateService", match="worker-service", then="drop")
    proc = start(released_stack, "rollback")
    in_flight.wait()
    proc.send_signal(signal.SIGTERM)
    in_flight.open()
    out, err = finish(proc)
    assert proc.returncode == 4, out + err
    assert "rollback stopped by SIGTERM: web on demo0001, worker not rolled back" in err
    assert tags() == {"web": "demo0001", "worker": "demo0002"}
    assert history()[0]["kind"] == "rollback" and history()[0]["outcome"] == "failed"
    proposed = suggested(err, "continues this rollback")
    assert proposed == "invoke rollback --env dev"
    again = subprocess.run([sys.executable, "-m", *shlex.split(proposed)], cwd=ROOT,
                           env={**released_stack, "PORTYFOUL_POLL_SECONDS": FAST_POLL}, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "continues the rollback of" in again.stdout
    assert tags() == {"web": "demo0001", "worker": "demo0001"}  # back, never forward to demo0002
    newest = history()[0]
    assert newest["kind"] == "rollback" and newest["outcome"] == "succeeded" and newest["tag"] == "demo0001"
    assert {k: c["previous"] for k, c in newest["services"].items()} == leaving


def suggested(text: str, after: str) -> str:
    """The command in backquotes last before `after` in `text`."""
    return re.findall(r"`([^`]+)`", text[:text.index(after)])[-1]


# ---------- the guard, in this process

@pytest.fixture
def guard_restored():
    """Whatever signals_as_interrupts leaves installed, the handlers this test process had come back."""
    names = [getattr(signal, n) for n in cli.SIGNALS]
    saved = {s: signal.getsignal(s) for s in names}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_the_first_signal_stops_the_command_and_every_later_one_is_acknowledged(guard_restored):
    said: list[str] = []
    with pytest.raises(cli.Terminated) as stopped:
        with cli.signals_as_interrupts(said.append):
            signal.raise_signal(signal.SIGINT)
    assert stopped.value.signal_name == "SIGINT" and isinstance(stopped.value, KeyboardInterrupt)
    # After the block, until the process exits: acknowledged and ignored, never the default (exit 143).
    signal.raise_signal(signal.SIGTERM)
    signal.raise_signal(signal.SIGHUP)
    assert said == ["SIGTERM (after SIGINT): already stopping; ignored until the command exits",
                    "SIGHUP (after SIGINT): already stopping; ignored until the command exits"]


def test_a_held_block_is_never_stopped_and_says_what_it_finishes(guard_restored):
    said: list[str] = []
    done = []
    with cli.signals_as_interrupts(said.append):
        with cli.held("the rollback ends"):
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGINT)
            done.append("rolled back")
        assert cli.stop_signal() == "SIGTERM"
        signal.raise_signal(signal.SIGHUP)  # the command is stopping: not raised after the hold either
        done.append("recorded")
    assert done == ["rolled back", "recorded"]
    assert said == ["SIGTERM: ignored until the rollback ends",
                    "SIGINT (after SIGTERM): already stopping; ignored until the rollback ends",
                    "SIGHUP (after SIGTERM): already stopping; ignored until what is under way ends"]


def test_after_the_end_is_held_a_first_signal_no_longer_stops_anything(guard_restored):
    said: list[str] = []
    with cli.signals_as_interrupts(said.append):
        cli.hold_to_the_end("the deploy lock is given back")
        signal.raise_signal(signal.SIGTERM)
    assert said == ["SIGTERM: ignored until the deploy lock is given back"]


def test_a_command_no_signal_reached_gives_the_handlers_back(guard_restored):
    before = signal.getsignal(signal.SIGTERM)
    with cli.signals_as_interrupts(lambda line: None):
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
    with cli.held("nothing"):  # without a guard: nothing to hold, nothing changes
        assert cli.stop_signal() == ""


# ---------- the mechanics, in-process: scripted ECS, virtual clock


DEV = ENVIRONMENTS["dev"]
WEB = {n: td_arn("portyfoul-dev-web-task", n) for n in (1, 2)}
WORKER = {n: td_arn("portyfoul-dev-worker-task", n) for n in (1, 2)}


class Journal:
    """What ECS and the release history saw, in order: ("update", service key, revision) and ("history", the
    outcome a record was finished with)."""

    def __init__(self, aws, monkeypatch):
        self.seen: list[tuple] = []
        ecs = aws.client("ecs")
        finish, update = store.finish, ecs.update_service

        def record_finished(ctx, record, outcome, note=""):
            self.seen.append(("history", outcome))
            return finish(ctx, record, outcome, note)

        def update_service(cluster, service, taskDefinition=None, **kw):
            self.seen.append(("update", ecs.services[service]["_key"], taskDefinition))
            return update(cluster=cluster, service=service, taskDefinition=taskDefinition, **kw)
        monkeypatch.setattr(store, "finish", record_finished)
        ecs.update_service = update_service


def stopped_on(ecs: FakeEcs, key: str, applied: bool):
    """The first UpdateService of `key` is cut short by SIGTERM: after ECS took it (applied) or before."""
    original = ecs.update_service

    def update_service(cluster, service, taskDefinition=None, **kw):
        if ecs.services[service]["_key"] == key and not ecs.called("update_service_stopped"):
            ecs._record("update_service_stopped", service=service)
            if applied:
                original(cluster=cluster, service=service, taskDefinition=taskDefinition, **kw)
            raise cli.Terminated(signal.SIGTERM)
        return original(cluster=cluster, service=service, taskDefinition=taskDefinition, **kw)
    ecs.update_service = update_service


def on(ecs, key):
    return ecs.services[f"portyfoul-dev-{key}-service"]["taskDefinition"]


def newest(aws) -> dict:
    return store.load(make_ctx(aws)[0])[0].as_dict()


@pytest.mark.parametrize("applied", [True, False])
def test_a_stop_during_workers_update_puts_back_what_ecs_took_and_records_failed_first(applied, monkeypatch):
    ecs = FakeEcs()
    aws = release_clients(ecs)
    journal = Journal(aws, monkeypatch)
    stopped_on(ecs, "worker", applied)
    ctx, out = make_ctx(aws)
    outcome = release(ctx, ReleaseOptions(tag="v2", no_build=True))
    assert outcome.outcome is Outcome.ROLLED_BACK, out.getvalue()
    assert (on(ecs, "web"), on(ecs, "worker")) == (WEB[1], WORKER[1])
    rollbacks = [e for e in journal.seen if e[0] == "update" and e[2] in (WEB[1], WORKER[1])]
    assert rollbacks == [("update", "web", WEB[1])] + ([("update", "worker", WORKER[1])] if applied else [])
    # Recorded failed the moment the stop came: before any service was put back.
    first_rollback = journal.seen.index(rollbacks[0])
    assert ("history", "failed") in journal.seen[:first_rollback]
    record = newest(aws)
    assert record["outcome"] == "failed" and record["note"].startswith("web: interrupted (SIGTERM)")
    assert ("worker: interrupted (SIGTERM)" if applied else "worker: never deployed") in record["note"]


def test_a_failed_release_is_recorded_failed_before_its_rollback_starts(monkeypatch):
    ecs = FakeEcs(deploy={"web": [circuit_breaker], "worker": [complete]})
    aws = release_clients(ecs)
    journal = Journal(aws, monkeypatch)
    ctx, out = make_ctx(aws)
    assert release(ctx, ReleaseOptions(tag="v2", no_build=True)).outcome is Outcome.ROLLED_BACK, out.getvalue()
    first_rollback = journal.seen.index(("update", "worker", WORKER[1]))
    assert ("history", "failed") in journal.seen[:first_rollback]


def test_a_signal_during_a_releases_rollback_is_acknowledged_and_the_rollback_finishes(guard_restored):
    """In this process, with the guard tasks.py installs: SIGINT stops the watch, SIGTERM comes while web goes
    back. The rollback finishes, exit 3, the history is true."""
    ecs = FakeEcs(deploy={"web": [stay], "worker": [stay]})
    aws = release_clients(ecs)
    watch = ecs.describe_services
    calls = {"n": 0}

    def describe_services(cluster, services):
        calls["n"] += 1
        if calls["n"] == 3:  # the watch is under way
            signal.raise_signal(signal.SIGINT)
        return watch(cluster=cluster, services=services)
    ecs.describe_services = describe_services
    update = ecs.update_service

    def update_service(cluster, service, taskDefinition=None, **kw):
        if taskDefinition == WEB[1]:  # web's rollback
            signal.raise_signal(signal.SIGTERM)
        return update(cluster=cluster, service=service, taskDefinition=taskDefinition, **kw)
    ecs.update_service = update_service
    said: list[str] = []
    ctx, out = make_ctx(aws)
    with cli.signals_as_interrupts(said.append):
        outcome = release(ctx, ReleaseOptions(tag="v2", no_build=True))
    assert outcome.outcome is Outcome.ROLLED_BACK, out.getvalue()
    assert said == ["SIGTERM (after SIGINT): already stopping; ignored until the rollback ends, is recorded and the "
                    "deploy lock is given back"]
    assert (on(ecs, "web"), on(ecs, "worker")) == (WEB[1], WORKER[1])
    assert newest(aws)["note"] == "web: interrupted (SIGINT); worker: interrupted (SIGINT); rolled back"


def test_a_first_signal_once_a_release_is_recorded_changes_nothing(guard_restored):
    """The release succeeded and is recorded; SIGTERM while it tidies up (old revisions) and gives the lock back:
    acknowledged, ignored, exit 0 (it used to end 4, "stopped by SIGTERM", after a release that had succeeded)."""
    ecs = FakeEcs()
    aws = release_clients(ecs)
    listed = ecs.list_task_definitions

    def list_task_definitions(**kw):
        signal.raise_signal(signal.SIGTERM)
        return listed(**kw)
    ecs.list_task_definitions = list_task_definitions
    said: list[str] = []
    ctx, out = make_ctx(aws)
    with cli.signals_as_interrupts(said.append):
        outcome = release(ctx, ReleaseOptions(tag="v2", no_build=True))
    assert outcome.outcome is Outcome.APPLIED, out.getvalue()
    assert said[0] == "SIGTERM: ignored until the outcome is recorded and the deploy lock is given back"
    assert newest(aws)["outcome"] == "succeeded" and (on(ecs, "web"), on(ecs, "worker")) == (WEB[2], WORKER[2])


# ---------- a rollback that did not finish is continued, never reversed

def released_twice(**scripts) -> tuple[FakeEcs, object]:
    """v1 then v2 released (both succeeded); v2 runs. `scripts`: FakeEcs's deploy and rollback scripts."""
    ecs = FakeEcs(**scripts)
    for key, tds in (("web", WEB), ("worker", WORKER)):
        td = task_definition(key, 2, tag="v2")
        ecs.task_definitions[td["taskDefinitionArn"]] = td
        svc = ecs.services[f"portyfoul-dev-{key}-service"]
        svc["taskDefinition"] = svc["deployments"][0]["taskDefinition"] = tds[2]
        ecs.previous[svc["serviceName"]] = tds[1]
    aws = release_clients(ecs, ecr=FakeEcr(tags=("v1", "v2")))
    times = iter([1_795_000_000.0, 1_795_000_060.0])
    ctx, _ = make_ctx(aws, wall=lambda: next(times))
    for tag, web, worker in (("v1", ("td/none", WEB[1]), ("td/none", WORKER[1])), ("v2", (WEB[1], WEB[2]),
                                                                                  (WORKER[1], WORKER[2]))):
        written = store.start(ctx, "release", tag, "", {"web": store.ServiceChange(*web),
                                                        "worker": store.ServiceChange(*worker)})
        store.finish(ctx, written, store.SUCCEEDED)
    return ecs, aws


def test_a_rollback_stopped_while_ecs_deploys_is_refused_then_continued_by_replace_deployment():
    """The issue's scenario, step by step: the rollback's watch is stopped while ECS still deploys web's way back;
    the next rollback is refused and proposes --replace-deployment; that goes on to v1, never forward to v2."""
    ecs, aws = released_twice(rollback={"web": [stay], "worker": [complete]})
    watch = ecs.describe_services
    calls = {"n": 0}

    def describe_services(cluster, services):
        calls["n"] += 1
        if calls["n"] == 4:  # the rollback's watch is under way
            raise cli.Terminated(signal.SIGTERM)
        return watch(cluster=cluster, services=services)
    ecs.describe_services = describe_services
    ctx, out = make_ctx(aws)
    assert rollback(ctx, RollbackOptions()).outcome is Outcome.NEEDS_HUMAN, out.getvalue()
    ecs.describe_services = watch
    text = out.getvalue()
    assert "rollback stopped by SIGTERM: worker on v1, web still deploying v1" in text
    assert ("If it never finishes: `invoke rollback --env dev --replace-deployment` continues this rollback (to "
            "where it was going, never back to what it was leaving)") in text
    assert newest(aws)["kind"] == "rollback" and newest(aws)["outcome"] == "in progress"

    refused_ctx, _ = make_ctx(aws)
    with pytest.raises(UserError) as refused:
        rollback(refused_ctx, RollbackOptions())
    assert str(refused.value).endswith("If nothing will finish it (its release or rollback was stopped): "
                                       "`invoke rollback --env dev --replace-deployment`; it continues the rollback "
                                       "of " + newest(aws)["at"] + " to v1")

    ecs.scripts["rollback"] = {}      # the replacing deployment completes
    ecs.scripts["deploy"] = {}
    again, out = make_ctx(aws)
    assert rollback(again, RollbackOptions(replace_deployment=True)).outcome is Outcome.APPLIED, out.getvalue()
    assert (on(ecs, "web"), on(ecs, "worker")) == (WEB[1], WORKER[1])  # never v2 again
    assert "worker: already on v1 (portyfoul-dev-worker-task:1): the rollback of" in out.getvalue()
    done = newest(aws)
    assert done["kind"] == "rollback" and done["outcome"] == "succeeded" and done["tag"] == "v1"
    assert {k: c["previous"] for k, c in done["services"].items()} == {"web": WEB[2], "worker": WORKER[2]}
    # Rolling back once more walks further back (nothing older here), never to v2, the release it left.
    further, _ = make_ctx(aws)
    with pytest.raises(UserError, match="nothing to roll back to"):
        rollback(further, RollbackOptions())


def test_a_rollback_that_failed_is_tried_again_by_the_command_it_proposes():
    ecs, aws = released_twice(deploy={"web": [circuit_breaker], "worker": [complete]})
    ecs.previous.clear()  # each update is a deployment to the fake; the circuit breaker puts web back on v2
    ctx, out = make_ctx(aws)
    assert rollback(ctx, RollbackOptions()).outcome is Outcome.NEEDS_HUMAN, out.getvalue()
    assert "`invoke rollback --env dev` tries it again" in out.getvalue()
    assert (on(ecs, "web"), on(ecs, "worker")) == (WEB[2], WORKER[1])
    web = ecs.services["portyfoul-dev-web-service"]
    web["deployments"] = web["deployments"][:1]  # ECS drains the failed deployment
    ecs.scripts["rollback"] = {}
    ecs.scripts["deploy"] = {}
    again, out = make_ctx(aws)
    assert rollback(again, RollbackOptions()).outcome is Outcome.APPLIED, out.getvalue()
    assert (on(ecs, "web"), on(ecs, "worker")) == (WEB[1], WORKER[1])


def test_the_next_step_after_an_aws_error_between_the_services_puts_both_back():
    """An AWS error (not a signal) on worker's UpdateService, after web's: exit 4 naming what changed and what to
    run; running it (the release record left in progress) puts web back, and worker, which never moved, stays on
    v2 (a rollback of every service would have walked it back to v1)."""
    from portyfoul_infra.outcomes import failure_exit
    from support.fakes import client_error
    ecs, aws = released_twice()
    ecs.previous.clear()
    update = ecs.update_service

    def update_service(cluster, service, taskDefinition=None, **kw):
        if service == NAMES["worker"]:
            raise client_error("ServerException", "Service Unavailable", "UpdateService")
        return update(cluster=cluster, service=service, taskDefinition=taskDefinition, **kw)
    ecs.update_service = update_service
    ecs.task_definitions.update({td_arn(f"portyfoul-dev-{k}-task", 3): task_definition(k, 3, tag="v3")
                                 for k in ("web", "worker")})
    aws.client("ecr").tags.add("v3")
    ctx, out = make_ctx(aws)
    with pytest.raises(Exception) as failed:
        release(ctx, ReleaseOptions(tag="v3", no_build=True))
    message, code = failure_exit(failed.value, ctx.journal)
    assert code == 4 and message.endswith("Next: `invoke release-status --env dev`, then `invoke rollback --env dev "
                                          "--service web` if needed")
    assert on(ecs, "web") != WEB[2] and on(ecs, "worker") == WORKER[2]
    ecs.update_service = update
    again, out = make_ctx(aws)
    assert rollback(again, RollbackOptions(service="web")).outcome is Outcome.APPLIED, out.getvalue()
    assert (on(ecs, "web"), on(ecs, "worker")) == (WEB[2], WORKER[2])  # back on v2, never further
