"""The deploy lease: it names its holder, runs minutes and is renewed while its command works; a holder that is gone
is taken over at once (same host) or when its lease runs out (elsewhere), by exactly one taker, which settles what
the holder left and says so; release-status shows it; force-unlock stays for the rare case. Two real processes at
the end: a release killed outright, and GitHub's cancel (SIGINT, then SIGTERM) sent to a release as the workflow
runs it."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import boto3
import pytest

from portyfoul_infra.aws import history, lock
from portyfoul_infra.aws.lock import (
    CLOCK_SKEW_SECONDS,
    LEASE_SECONDS,
    RENEW_SECONDS,
    TAKEOVER_SECONDS,
    Holder,
    Renewer,
    acquire,
    deployment,
    lock_name,
    this_holder,
)
from portyfoul_infra.errors import UserError
from portyfoul_infra.local.server import seed_image
from portyfoul_infra.options import ForceUnlockOptions, ReadOptions, ReleaseOptions, RollbackOptions, from_flags
from portyfoul_infra.outcomes import Outcome, result_of
from portyfoul_infra.verbs.lock import force_unlock
from portyfoul_infra.verbs.release import release, release_status, rollback
from support import FAST_POLL, ROOT, Answers, VirtualClock, invoke, make_ctx
from support.documents import documented, same_keys
from support.fake_ecs import REPO_URI, FakeEcr, FakeEcs, complete, progress, release_clients, stay, td_arn
from support.fakes import FakeAws, FakeParameterStore, client_error
from support.gates import gate

WALL = 1_900_000_000.0
DIGEST = "sha256:" + "ab" * 32
WEB0, WEB1, WEB2 = (td_arn("portyfoul-dev-web-task", n) for n in (9, 1, 2))
LOCK, CLAIM = "/portyfoul/dev/deploy-lock", "/portyfoul/dev/deploy-lock-takeover"


@pytest.fixture(autouse=True)
def outside_github_actions(monkeypatch):
    """These tests say which workflow run a command is in; the suite's own CI run must not."""
    for name in ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_REPOSITORY", "GITHUB_JOB", "GITHUB_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)


def ticking():
    """A wall clock one second further at every look (records and leases made in one test get distinct times)."""
    seconds = iter(range(10**9))
    return lambda: WALL + next(seconds)


same_host = pytest.mark.skipif(not lock.machine_key(), reason="a pid can be checked only where /proc tells boot and "
                                                              "PID namespace (Linux)")


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped): what a killed command leaves in its lease."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def leave_lease(ctx, command="release --tag v2", **fields) -> Holder:
    """Write a lease as a command that is gone left it; by default one of this host whose process has ended."""
    fields.setdefault("pid", dead_pid())
    gone = replace(this_holder(ctx, command, 600), **fields)
    gone = replace(gone, id=f"{int(gone.renewed_at * 1000):x}-{gone.pid}", owner=f"ci@runner (pid {gone.pid})")
    ctx.client("ssm").put_parameter(Name=lock_name(ctx.env), Value=gone.as_json(), Type="String", Overwrite=True)
    return gone


def elsewhere(ctx, expires_in: float, **fields) -> Holder:
    """A lease taken on another machine (its pid means nothing here), running `expires_in` seconds more."""
    now = ctx.wall()
    return leave_lease(ctx, machine="another-boot/pid:[4026531836]", pid=4242, renewed_at=now - 20,
                       expires_at=now + expires_in, expires=lock._iso(now + expires_in), **fields)


def suggested(text: str) -> list[str]:
    return re.findall(r"`invoke ([^`]+)`", text)


VERBS = {"force-unlock": (ForceUnlockOptions, force_unlock), "release-status": (ReadOptions, release_status),
         "rollback": (RollbackOptions, rollback)}


def run_suggested(ctx, command: str) -> Outcome:
    """Run a command a message suggests, in-process, exactly as written there (its task, its flags)."""
    task, *words = shlex.split(command)
    cls, verb = VERBS[task]
    flags: dict[str, object] = {}
    while words:
        name = words.pop(0).removeprefix("--").replace("-", "_")
        flags[name] = words.pop(0) if words and not words[0].startswith("--") else True
    return result_of(verb(ctx, from_flags(cls, flags, task))).outcome


# ---------- what a lease says, how long it runs, how it is renewed

def test_a_lease_names_its_holder_and_its_workflow_run_and_runs_minutes_not_the_commands_length(monkeypatch):
    monkeypatch.setenv("GITHUB_RUN_ID", "987654321")
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    monkeypatch.setenv("GITHUB_REPOSITORY", "owners/portyfoul-infra")
    monkeypatch.setenv("GITHUB_JOB", "dev")
    ctx, _ = make_ctx(FakeAws(), wall=lambda: WALL)
    with deployment(ctx, "stack-update", 3600, settle_history=False) as held:
        stored = json.loads(ctx.client("ssm").get_parameter(Name=LOCK)["Parameter"]["Value"])
    assert stored["pid"] == os.getpid() and stored["host"] and stored["user"] and stored["command"] == "stack-update"
    assert stored["run"] == {"repository": "owners/portyfoul-infra", "run_id": "987654321", "attempt": 2, "job": "dev",
                             "server": "https://github.com"}
    assert stored["expires_at"] == WALL + LEASE_SECONDS <= WALL + 300  # minutes, though the command may take an hour
    assert held.run is not None and held.run.url == ("https://github.com/owners/portyfoul-infra/actions/runs/"
                                                     "987654321/attempts/2")
    assert "in GitHub Actions run 987654321 attempt 2, job dev" in held.describe()
    assert lock.read(ctx) is None  # given back


def test_renewing_extends_a_live_lease_and_never_one_that_ran_out_or_changed_hands():
    aws = FakeAws()
    ctx, _ = make_ctx(aws, wall=lambda: WALL)
    held = acquire(ctx, "release --tag v2", 600)
    later, _ = make_ctx(aws, wall=lambda: WALL + 100)
    renewed, why = lock.renew(later, held)
    assert why == "" and renewed is not None and lock.read(ctx) == renewed
    assert renewed.expires_at == WALL + 100 + LEASE_SECONDS and renewed.renewed_at == WALL + 100
    too_late, _ = make_ctx(aws, wall=lambda: WALL + 100 + LEASE_SECONDS)  # asleep past its end: maybe taken over
    assert lock.renew(too_late, renewed) == (None, f"it ran out at {renewed.expires} before it could be renewed (was "
                                                   "this machine asleep?)")
    assert lock.read(ctx) == renewed  # untouched
    ctx.client("ssm").delete_parameter(Name=LOCK)
    assert lock.renew(later, renewed)[0] is None and lock.read(ctx) is None  # a broken lease is not written back


def test_the_renewer_renews_while_the_command_works_and_never_after_it_stops():
    renewals = threading.Event()

    class Watched(FakeParameterStore):
        def put_parameter(self, Name, Value, Overwrite=False, **kwargs):
            answer = super().put_parameter(Name, Value, Overwrite, **kwargs)
            if Overwrite and Name == LOCK:
                renewals.set()
            return answer

    ticks = iter(range(10**9))
    ctx, _ = make_ctx(FakeAws(ssm=Watched()), wall=lambda: WALL + next(ticks))
    held = acquire(ctx, "release --tag v2", 600)
    renewer = Renewer(ctx, held, every=0).start()
    assert renewals.wait(timeout=60)  # an event, not a time: it renewed
    renewer.stop()
    assert renewer.holder.expires_at > held.expires_at and not renewer.lost
    lock.release(ctx, renewer.holder)
    assert lock.read(ctx) is None  # stopped first: no renewal writes the lease back after it was given back


# ---------- a holder that is alive is refused; what the refusal suggests works

def test_a_holder_alive_on_this_host_is_refused_at_once_and_the_suggested_commands_work():
    aws = release_clients()
    clock = VirtualClock()
    ctx, out = make_ctx(aws, clock=clock, prompt=Answers(True))
    holder = acquire(ctx, "release --tag v2", 600)   # this very process: alive
    with pytest.raises(UserError) as refused:
        release(ctx, ReleaseOptions(tag="v2", no_build=True))
    text = str(refused.value)
    assert text.startswith(f"another deployment holds dev: {holder.owner} running `release --tag v2` since")
    assert f"(lease {holder.id}); its process {os.getpid()} still runs on this host. Nothing changed" in text
    assert clock.now == 0 and not aws.client("ecs").called("register_task_definition")  # no waiting, nothing done
    status, unlock = suggested(text)
    assert (status, unlock) == ("release-status --env dev", f"force-unlock --env dev --id {holder.id}")
    assert run_suggested(ctx, status) is Outcome.NO_CHANGES
    assert f"deploy lease {holder.id}: held by {holder.owner}, running `release --tag v2`" in out.getvalue()
    assert run_suggested(ctx, unlock) is Outcome.APPLIED and lock.read(ctx) is None
    assert "its process" in out.getvalue() and "still runs on this host: stop it first" in out.getvalue()


# ---------- a holder that is gone is taken over, by one taker

@same_host
def test_a_holder_whose_process_is_gone_on_this_host_is_taken_over_at_once():
    ctx, out = make_ctx(release_clients())
    gone = leave_lease(ctx)
    with deployment(ctx, "release --tag v3", 600) as mine:
        assert lock.read(ctx) == mine and mine.pid == os.getpid()
    text = out.getvalue()
    assert f"took over the deploy lease of dev from {gone.describe()}: its process {gone.pid} on this host" in text
    assert "it left no release or rollback in progress in the history" in text
    assert "ECS runs no deployment it left: web on portyfoul-dev-web-task:1 (v1); worker on" in text
    assert lock.read(ctx) is None and CLAIM not in ctx.client("ssm").store


def test_a_lease_held_elsewhere_is_watched_then_taken_over_when_it_runs_out():
    clock = VirtualClock()

    def wall():  # the real one moves on while the command watches
        return WALL + clock.now

    ctx, out = make_ctx(FakeAws(), clock=clock, wall=wall)
    gone = elsewhere(ctx, expires_in=100)
    mine = acquire(ctx, "release --tag v3", 600)
    assert lock.read(ctx) == mine and mine.expires_at == wall() + LEASE_SECONDS  # a full lease from the takeover on
    assert 100 + CLOCK_SKEW_SECONDS < clock.now <= 100 + CLOCK_SKEW_SECONDS + 6  # virtual seconds, polled every 5
    assert f"the deploy lease of dev is held on another machine: {gone.describe()}. Waiting up to" in out.getvalue()


def test_a_lease_held_elsewhere_that_its_holder_renews_is_refused_within_one_renewal():
    class Renewing(FakeParameterStore):
        reads = 0

        def get_parameter(self, Name, WithDecryption=False):
            self.reads += 1
            if Name == LOCK and self.reads == 3:  # its holder renews, as a live command does every RENEW_SECONDS
                held = Holder.from_json(self.store[Name])
                self.store[Name] = replace(held, renewed_at=WALL + 25, expires_at=WALL + 25 + LEASE_SECONDS).as_json()
            return super().get_parameter(Name, WithDecryption)

    clock = VirtualClock()
    ctx, _ = make_ctx(FakeAws(ssm=Renewing()), clock=clock, wall=lambda: WALL)
    elsewhere(ctx, expires_in=100)
    with pytest.raises(UserError, match="another deployment holds dev: .*its lease runs until .* and is renewed"):
        acquire(ctx, "release --tag v3", 600)
    assert clock.now <= RENEW_SECONDS


def test_an_expired_lease_is_taken_over_without_waiting():
    clock = VirtualClock()
    ctx, out = make_ctx(release_clients(), clock=clock, wall=lambda: WALL)
    gone = elsewhere(ctx, expires_in=-(CLOCK_SKEW_SECONDS + 1))
    with deployment(ctx, "rollback", 600, settle_history=False):
        pass
    assert clock.now == 0
    assert f"from {gone.describe()}: its lease expired at {gone.expires} (last renewed" in out.getvalue()


def test_an_earlier_attempt_of_this_workflow_run_is_taken_over_at_once(monkeypatch):
    """A re-run of a cancelled job: GitHub re-runs only after the run ended, so attempt 1 is gone."""
    for name, value in (("GITHUB_RUN_ID", "555"), ("GITHUB_RUN_ATTEMPT", "1"), ("GITHUB_REPOSITORY", "o/infra"),
                        ("GITHUB_JOB", "dev")):
        monkeypatch.setenv(name, value)
    clock = VirtualClock()
    ctx, out = make_ctx(FakeAws(), clock=clock, wall=lambda: WALL)
    first = this_holder(ctx, "deliver 1a2b3c4d5e6f")
    gone = elsewhere(ctx, expires_in=110, run=first.run)
    monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")
    acquire(ctx, "deliver 1a2b3c4d5e6f", 600)
    assert clock.now == 0 and f"from {gone.describe()}" not in out.getvalue()  # acquire() takes it; deployment() says
    monkeypatch.setenv("GITHUB_RUN_ID", "556")  # another run's lease is watched like any held elsewhere
    other, _ = make_ctx(FakeAws(), clock=clock, wall=lambda: WALL)
    elsewhere(other, expires_in=110, run=first.run)
    acquire(other, "deliver 1a2b3c4d5e6f", 600)
    assert clock.now > 110


class Shared(FakeParameterStore):
    """One parameter store seen by several commands; `hook(method, name)` runs another command at a chosen call."""

    def __init__(self, store: dict, hook=None):
        super().__init__()
        self.store, self.hook, self.deleted = store, hook, []

    def put_parameter(self, Name, Value, Overwrite=False, **kwargs):
        answer = super().put_parameter(Name, Value, Overwrite, **kwargs)
        self._fire("put", Name)
        return answer

    def get_parameter(self, Name, WithDecryption=False):
        answer = super().get_parameter(Name, WithDecryption)
        self._fire("get", Name)
        return answer

    def delete_parameter(self, Name):
        answer = super().delete_parameter(Name)
        self.deleted.append(Name)
        self._fire("delete", Name)
        return answer

    def _fire(self, method, name):
        if self.hook is not None and self.hook[0] == (method, name):
            run, self.hook = self.hook[1], None
            run()


def two(hook_on: tuple[str, str]):
    """Two commands at once on one store, and a gone holder's lease: A (hooked at `hook_on`) and B."""
    store: dict = {}
    a = Shared(store)
    b = Shared(store)
    aws_a, aws_b = release_clients(), release_clients()
    aws_a.clients["ssm"], aws_b.clients["ssm"] = a, b
    ctx_a, _ = make_ctx(aws_a)
    ctx_b, _ = make_ctx(aws_b)
    gone = leave_lease(ctx_a)
    return a, b, ctx_a, ctx_b, gone, hook_on


@same_host
def test_two_takers_at_once_one_wins_the_other_is_refused_while_the_first_holds_the_claim():
    a, b, ctx_a, ctx_b, gone, _ = two(("put", CLAIM))
    refused: list[str] = []

    def b_tries():
        with pytest.raises(UserError) as e:
            acquire(ctx_b, "rollback", 600)
        refused.append(str(e.value))

    a.hook = (("put", CLAIM), b_tries)
    mine = acquire(ctx_a, "release --tag v3", 600)
    assert lock.read(ctx_a) == mine
    assert refused and refused[0].startswith("another command (") and (
        f"is taking over the deploy lease of dev from {gone.describe()} at this moment; nothing changed" in refused[0])
    assert a.deleted + b.deleted == [LOCK, CLAIM] and CLAIM not in a.store  # the gone lease deleted once, by A
    assert [run_suggested(ctx_b, c) for c in suggested(refused[0])] == [Outcome.NO_CHANGES]  # release-status


@same_host
def test_two_takers_at_once_one_that_read_the_gone_lease_late_never_deletes_the_winners():
    a, b, ctx_a, ctx_b, gone, _ = two(("get", LOCK))
    won: list[Holder] = []
    b.hook = (("get", LOCK), lambda: won.append(acquire(ctx_a, "release --tag v3", 600)))  # B read it; A takes it now
    with pytest.raises(UserError, match=r"another deployment holds dev: .* running `release --tag v3`"):
        acquire(ctx_b, "rollback", 600)
    assert lock.read(ctx_a) == won[0]
    assert (a.deleted + b.deleted).count(LOCK) == 1 and CLAIM not in a.store


@same_host
def test_a_fresh_command_that_finds_no_lease_mid_takeover_wins_fairly_and_the_taker_is_refused():
    a, b, ctx_a, ctx_b, gone, _ = two(("delete", LOCK))
    won: list[Holder] = []
    a.hook = (("delete", LOCK), lambda: won.append(acquire(ctx_b, "stack-update", 600)))
    with pytest.raises(UserError, match=r"another deployment holds dev: .* running `stack-update`"):
        acquire(ctx_a, "release --tag v3", 600)
    assert lock.read(ctx_a) == won[0] and CLAIM not in a.store


@same_host
def test_a_claim_left_by_a_taker_that_died_is_cleared_once_stale_and_refuses_while_fresh():
    ctx, _ = make_ctx(FakeAws(), wall=lambda: WALL)
    gone = leave_lease(ctx)
    ssm = ctx.client("ssm")
    claim = {"of": gone.id, "by": "x-1", "owner": "ci@other (pid 1)", "at": WALL - 5, "since": "..."}
    ssm.put_parameter(Name=CLAIM, Value=json.dumps(claim), Type="String")
    with pytest.raises(UserError, match=r"another command \(ci@other \(pid 1\)\) is taking over"):
        acquire(ctx, "release --tag v3", 600)
    assert lock.read(ctx) == gone
    ssm.put_parameter(Name=CLAIM, Value=json.dumps({**claim, "at": WALL - TAKEOVER_SECONDS - 1}), Type="String",
                      Overwrite=True)
    mine = acquire(ctx, "release --tag v3", 600)
    assert lock.read(ctx) == mine and CLAIM not in ssm.store


@same_host
def test_a_deploy_role_that_may_not_delete_the_claim_warns_and_the_next_takeover_names_what_to_run():
    """A deploy role made before the lease may create the claim (it may write /portyfoul/ENV/*) but not delete it."""
    class OldRole(FakeParameterStore):
        def delete_parameter(self, Name):
            if Name == CLAIM:
                raise client_error("AccessDeniedException", "not authorized to perform: ssm:DeleteParameter")
            return super().delete_parameter(Name)

    aws = release_clients()
    aws.clients["ssm"] = OldRole()
    ctx, out = make_ctx(aws, wall=lambda: WALL, prompt=Answers(True))
    leave_lease(ctx)
    mine = acquire(ctx, "release --tag v3", 600)
    assert lock.read(ctx) == mine and CLAIM in aws.clients["ssm"].store
    assert "could not remove the takeover claim /portyfoul/dev/deploy-lock-takeover (AccessDeniedException)" in (
        out.getvalue())
    assert "`invoke deploy-role --env dev --yes` gives it that right" in out.getvalue()
    gone = leave_lease(ctx)   # that command is killed too
    later, _ = make_ctx(aws, wall=lambda: WALL + TAKEOVER_SECONDS + 1, prompt=Answers(True))
    with pytest.raises(UserError) as refused:
        acquire(later, "release --tag v4", 600)
    assert "these credentials may not delete it; nothing changed" in str(refused.value)
    assert suggested(str(refused.value)) == ["deploy-role --env dev --yes", f"force-unlock --env dev --id {gone.id}"]
    assert run_suggested(later, suggested(str(refused.value))[1]) is Outcome.APPLIED
    assert acquire(later, "release --tag v4", 600).command == "release --tag v4"


def test_a_lease_this_tool_did_not_write_is_never_taken_over_and_one_from_before_the_lease_only_once_expired():
    aws = release_clients()
    ctx, _ = make_ctx(aws, wall=lambda: WALL)
    ssm = ctx.client("ssm")
    ssm.put_parameter(Name=LOCK, Value="not json", Type="String")
    with pytest.raises(UserError, match="its value is not what this tool writes, so it is never taken over"):
        acquire(ctx, "release --tag v3", 600)
    assert run_suggested(ctx, f"force-unlock --env dev --id {lock.UNREADABLE} --yes") is Outcome.APPLIED
    old = {"id": "18b-77", "owner": "ci@GitHub Actions run 1 (pid 77)", "command": "release --tag v1",
           "started": "2030-03-17T17:00:00Z", "expires": "2030-03-17T17:50:00Z", "expires_at": WALL + 600}
    ssm.put_parameter(Name=LOCK, Value=json.dumps(old), Type="String")
    with pytest.raises(UserError, match="its lock runs until 2030-03-17T17:50:00Z .*: an earlier version of this "
                                        "tool took it, which does not renew it"):
        acquire(ctx, "release --tag v3", 600)
    later, out = make_ctx(aws, wall=lambda: WALL + 600 + CLOCK_SKEW_SECONDS + 1)
    with deployment(later, "release --tag v3", 600, settle_history=False):
        pass
    assert "took over the deploy lease of dev from ci@GitHub Actions run 1 (pid 77)" in out.getvalue()


# ---------- the taker settles what the gone holder left

def gone_release(ecs: FakeEcs, ctx, script):
    """What a release killed mid-deployment leaves: web's new revision deploying in ECS (following `script`), its
    record "in progress", its lease. Before it, v1 succeeded."""
    ecs.task_definitions[WEB2] = {**ecs.task_definitions[WEB1], "taskDefinitionArn": WEB2, "revision": 2,
                                  "containerDefinitions": [{**ecs.task_definitions[WEB1]["containerDefinitions"][0],
                                                            "image": f"{REPO_URI}:v2"}]}
    good = history.start(ctx, "release", "v1", DIGEST, {"web": history.ServiceChange(previous=WEB0, deployed=WEB1)})
    history.finish(ctx, good, history.SUCCEEDED)
    history.start(ctx, "release", "v2", DIGEST, {"web": history.ServiceChange(previous=WEB1, deployed=WEB2)})
    ecs.scripts["deploy"]["web"] = script
    ecs.update_service(cluster="portyfoul-dev-cluster", service="portyfoul-dev-web-service", taskDefinition=WEB2)
    ecs.scripts["deploy"]["web"] = [complete]
    return leave_lease(ctx)


def outcomes(ctx) -> dict[str, str]:
    return {f"{r.kind} {r.tag}": r.outcome for r in history.load(ctx)}


@same_host
def test_the_taker_waits_for_the_deployment_the_gone_holder_left_settles_its_record_says_so_and_goes_on():
    ecs = FakeEcs()
    clock = VirtualClock()
    ctx, out = make_ctx(release_clients(ecs, ecr=FakeEcr(tags=("v1", "v2", "v3"))), clock=clock, wall=ticking())
    gone = gone_release(ecs, ctx, [progress, progress, complete])
    assert release(ctx, ReleaseOptions(tag="v3", no_build=True)).outcome is Outcome.APPLIED, out.getvalue()
    text = out.getvalue()
    assert f"took over the deploy lease of dev from {gone.describe()}: its process {gone.pid} on this host" in text
    assert re.search(r"ECS is still running the deployment it left \(web ecs-svc/\d+\): waiting up to 10:00", text)
    assert "ECS finished the deployment it left: web on portyfoul-dev-web-task:2 (v2)" in text
    assert "release of v2" in text  # the settled record, named
    assert outcomes(ctx) == {"release v3": "succeeded", "release v2": "succeeded", "release v1": "succeeded"}
    assert 5 in clock.sleeps and lock.read(ctx) is None


@same_host
def test_a_deployment_still_running_at_the_timeout_is_refused_and_the_suggested_rollback_replaces_it():
    ecs = FakeEcs()
    clock = VirtualClock()
    ctx, out = make_ctx(release_clients(ecs, ecr=FakeEcr(tags=("v1", "v2", "v3"))), clock=clock, wall=ticking())
    gone_release(ecs, ctx, [stay])   # a deployment nothing will finish
    with pytest.raises(UserError) as refused:
        release(ctx, ReleaseOptions(tag="v3", no_build=True, timeout=60))
    text = str(refused.value)
    assert text.startswith("ECS is still running the deployment the gone command left after 1:00 (web ecs-svc/")
    assert "; nothing changed." in text and 60 <= clock.now <= 66
    assert not ecs.called("register_task_definition") and lock.read(ctx) is None  # given back
    assert outcomes(ctx)["release v2"] == "in progress"  # ECS has not decided: left as it is
    status, replace_it = suggested(text)
    assert status == "release-status --env dev"
    assert replace_it == "rollback --env dev --service web --replace-deployment"
    assert run_suggested(ctx, replace_it) is Outcome.APPLIED, out.getvalue()
    assert ecs.services["portyfoul-dev-web-service"]["taskDefinition"] == WEB1
    assert outcomes(ctx) == {"rollback v1": "succeeded", "release v2": "failed", "release v1": "succeeded"}


@same_host
def test_a_rollback_that_replaces_the_deployment_does_not_wait_for_it():
    ecs = FakeEcs()
    clock = VirtualClock()
    ctx, out = make_ctx(release_clients(ecs, ecr=FakeEcr(tags=("v1", "v2"))), clock=clock, wall=ticking())
    gone_release(ecs, ctx, [stay])
    assert rollback(ctx, RollbackOptions(service="web", replace_deployment=True)).outcome is Outcome.APPLIED, out.getvalue()
    assert "ECS is still running the deployment it left, which this command replaces: web on" in out.getvalue()
    assert "waiting up to" not in out.getvalue() and outcomes(ctx)["release v2"] == "failed"


# ---------- release-status shows the lease

def test_release_status_shows_who_holds_the_lease_since_and_until_when_and_whether_it_is_expired_or_gone():
    aws = release_clients()
    ctx, out = make_ctx(aws, wall=lambda: WALL)
    assert release_status(ctx, ReadOptions(json=True)).outcome is Outcome.NO_CHANGES
    assert json.loads(out.getvalue()[out.getvalue().index("{"):])["lock"] is None
    held = elsewhere(ctx, expires_in=90, run=lock.GitHubRun("o/infra", "777", 1, "dev"))
    document = _status(aws)
    same_keys(documented()["portyfoul.release-status/1"], document)
    assert document["lock"] == {
        "id": held.id, "command": "release --tag v2", "owner": held.owner, "user": held.user, "host": held.host,
        "pid": 4242,
        "run": {"repository": "o/infra", "run_id": "777", "attempt": 1, "job": "dev",
                "url": "https://github.com/o/infra/actions/runs/777/attempts/1"},
        "since": held.started, "renewed": held.renewed, "until": held.expires, "expired": False, "holder_gone": None,
        "next_command_takes_over": False, "state": lock.state_of(held, WALL),
        "force_unlock": f"invoke force-unlock --env dev --id {held.id}"}
    expired = elsewhere(ctx, expires_in=-60)
    assert _status(aws)["lock"]["expired"] is True and _status(aws)["lock"]["next_command_takes_over"] is True
    human, text = make_ctx(aws, wall=lambda: WALL)
    release_status(human, ReadOptions())
    assert f"deploy lease {expired.id}: held by {expired.owner}, running `release --tag v2`" in text.getvalue()
    assert f"its lease expired at {expired.expires}" in text.getvalue()
    assert f"`invoke force-unlock --env dev --id {expired.id}`" in text.getvalue()


@same_host
def test_release_status_says_when_the_holders_process_is_gone():
    aws = release_clients()
    ctx, _ = make_ctx(aws, wall=lambda: WALL)
    gone = leave_lease(ctx)
    shown = _status(aws)["lock"]
    assert shown["holder_gone"] is True and shown["expired"] is False and shown["next_command_takes_over"] is True
    assert shown["state"].startswith(f"its process {gone.pid} on this host ({gone.host}) is gone: the next release, "
                                     "rollback or stack-update takes the lease over")


def _status(aws) -> dict:
    ctx, out = make_ctx(aws, wall=lambda: WALL)
    release_status(ctx, ReadOptions(json=True))
    return json.loads(out.getvalue()[out.getvalue().index("{"):])


# ---------- force-unlock: the rare case

@same_host
def test_force_unlock_refuses_another_id_naming_the_command_that_works_and_says_when_it_is_not_needed():
    ctx, out = make_ctx(FakeAws(), prompt=Answers(False, True))
    assert force_unlock(ctx, ForceUnlockOptions(id="123", yes=True)).outcome is Outcome.NO_CHANGES
    gone = leave_lease(ctx)
    with pytest.raises(UserError) as refused:
        force_unlock(ctx, ForceUnlockOptions(id="123", yes=True))
    assert str(refused.value).startswith(f"the deploy lease of dev is {gone.id}, not 123; nothing changed")
    (command,) = suggested(str(refused.value))
    assert run_suggested(ctx, command) is Outcome.REFUSED and lock.read(ctx) == gone  # it asks; no
    assert "breaking it is not needed: the next release, rollback or stack-update takes it over" in out.getvalue()
    assert run_suggested(ctx, command) is Outcome.APPLIED and lock.read(ctx) is None  # yes


# ---------- real processes: killed outright; GitHub's cancel as the workflow runs invoke

def client(name):
    return boto3.client(name, region_name="us-east-2")


def start(env: dict, argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=ROOT, env={**env, "PORTYFOUL_POLL_SECONDS": FAST_POLL}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def images() -> dict[str, str]:
    ecs = client("ecs")
    services = ecs.describe_services(cluster="portyfoul-dev-cluster", services=[
        "portyfoul-dev-web-service", "portyfoul-dev-worker-service"])["services"]
    return {s["serviceName"].split("-")[2]: ecs.describe_task_definition(taskDefinition=s["taskDefinition"])[
        "taskDefinition"]["containerDefinitions"][0]["image"].rsplit(":", 1)[1] for s in services}


@same_host
def test_a_release_killed_outright_is_taken_over_at_once_by_the_next_which_settles_it_and_succeeds(released_stack):
    for tag in ("demo0002", "demo0003"):
        seed_image(client("ecr"), "portyfoul-dev", tag)
    held = gate("UpdateService", match="worker", then="drop")   # after web's UpdateService, before worker's
    killed = start(released_stack, [sys.executable, "-m", "invoke", "release", "--tag", "demo0002", "--no-build"])
    try:
        held.wait()
        killed.kill()    # SIGKILL: nothing of it runs again
        killed.wait(timeout=60)
    finally:
        held.open()
        if killed.poll() is None:
            killed.kill()
    ctx, _ = make_ctx()
    left = lock.read(ctx)
    assert left is not None and left.pid == killed.pid and lock.process_gone(left) is True
    assert outcomes(ctx)["release demo0002"] == "in progress" and images() == {"web": "demo0002", "worker": "demo0001"}
    after = invoke("release", "--tag", "demo0003", "--no-build", env=released_stack)
    assert after.returncode == 0, after.stdout + after.stderr
    assert (f"took over the deploy lease of dev from {left.describe()}: its process {killed.pid} on this host"
            in after.stderr)
    assert re.search(r"ECS runs no deployment it left: web on portyfoul-dev-web-task:\d+ \(demo0002\); worker on "
                     r"portyfoul-dev-worker-task:\d+ \(demo0001\)", after.stdout)
    assert "release of demo0002" in after.stderr  # the settled record, named
    assert outcomes(ctx)["release demo0002"] == "failed" and outcomes(ctx)["release demo0003"] == "succeeded"
    assert images() == {"web": "demo0003", "worker": "demo0003"} and lock.read(ctx) is None


def test_githubs_cancel_reaches_a_release_the_workflow_execs_which_gives_its_lease_back_honestly(released_stack,
                                                                                                 tmp_path):
    """The runner's cancel: SIGINT to the step's bash (`exec invoke ...`, as the workflows run it), then SIGTERM,
    here while the rollback the SIGINT started is at its first UpdateService. The lease is given back (or, had the
    runner's kill come first, left to a takeover); the history says the release failed, interrupted."""
    seed_image(client("ecr"), "portyfoul-dev", "demo0009-hang")
    step = tmp_path / "step.sh"   # the runner writes the run: line to a file and starts `bash -e FILE`
    step.write_text("exec invoke release --tag demo0009-hang --no-build\n")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    cancelled = start({**released_stack, "PATH": path}, ["bash", "-e", str(step)])
    try:
        for line in cancelled.stdout:  # an event, not a clock: the watch has started
            if "in progress" in line:
                break
        held = gate("UpdateService", then="apply")   # the next UpdateService: the rollback's
        cancelled.send_signal(signal.SIGINT)
        held.wait()
        cancelled.send_signal(signal.SIGTERM)
        held.open()
        out, err = cancelled.communicate(timeout=120)
    finally:
        if cancelled.poll() is None:
            cancelled.kill()
    assert cancelled.returncode in (3, 4), out + err
    assert "Traceback" not in err
    ctx, _ = make_ctx()
    left = lock.read(ctx)
    assert left is None or (left.pid == cancelled.pid and lock.process_gone(left) is True), left
    newest = history.load(ctx)[0]
    assert newest.tag == "demo0009-hang" and newest.outcome == history.FAILED and "interrupted" in newest.note
    lock.release(ctx, acquire(ctx, "release --tag demo0010", 600))  # the next command is not refused on the lease
