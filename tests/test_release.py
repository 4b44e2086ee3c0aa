"""release against a scripted ECS with a virtual clock: every way a deployment ends."""

import re
from dataclasses import replace

import pytest

from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.errors import UserError
from portyfoul_infra.options import ReleaseOptions
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.verbs.release import release
from support import VirtualClock, make_ctx
from support.fake_ecs import (
    REPO_URI,
    FakeEcr,
    FakeEcs,
    circuit_breaker,
    complete,
    fail,
    progress,
    release_clients,
    replaced,
    stay,
    stopping,
    td_arn,
)
from support.fakes import throttle

DEV = ENVIRONMENTS["dev"]
WEB1, WEB2 = td_arn("portyfoul-dev-web-task", 1), td_arn("portyfoul-dev-web-task", 2)
WORKER1, WORKER2 = td_arn("portyfoul-dev-worker-task", 1), td_arn("portyfoul-dev-worker-task", 2)


def no_docker(cmd, stdin):
    raise AssertionError(f"docker must not run: {cmd}")


def run(ecs=None, env=DEV, clock=None, secrets=None, ecr=None, runner=no_docker, alarms=None, rds=None, **opts):
    ecs = ecs or FakeEcs()
    clock = clock or VirtualClock()
    aws = release_clients(ecs, secrets=secrets, ecr=ecr, alarms=alarms, rds=rds)
    ctx, out = make_ctx(aws, env, clock=clock, runner=runner)
    options = ReleaseOptions(tag=opts.pop("tag", "v2"), no_build=opts.pop("no_build", True), **opts)
    outcome = release(ctx, options)
    return outcome, out.getvalue(), ecs, clock


def on(ecs, key):
    return ecs.services[f"portyfoul-dev-{key}-service"]["taskDefinition"]


def test_success_deploys_both_and_keeps_the_rollback_targets():
    ecs = FakeEcs(deploy={"web": [stay, progress, complete], "worker": [complete]})
    outcome, text, ecs, clock = run(ecs)
    assert outcome.outcome is Outcome.APPLIED and outcome.exit_code == 0
    assert (on(ecs, "web"), on(ecs, "worker")) == (WEB2, WORKER2)
    assert "released v2 (sha256:abababababa" in text
    assert "rollback target portyfoul-dev-web-task:1 kept ACTIVE" in text
    assert ecs.called("deregister_task_definition") == []
    assert "an old event" not in text  # only this deployment's events


def test_new_revisions_are_copies_with_only_the_image_changed():
    outcome, _, ecs, _ = run()
    regs = {kw["family"]: kw for kw in ecs.called("register_task_definition")}
    web = regs["portyfoul-dev-web-task"]
    old = ecs.task_definitions[WEB1]
    assert web["containerDefinitions"][0]["image"] == f"{REPO_URI}:v2"
    for field in ("cpu", "memory", "runtimePlatform", "executionRoleArn", "taskRoleArn", "requiresCompatibilities", "networkMode"):
        assert web[field] == old[field]
    assert web["containerDefinitions"][0]["secrets"] == old["containerDefinitions"][0]["secrets"]
    assert web["tags"] == [{"key": "Project", "value": "portyfoul"}]
    for read_only in ("taskDefinitionArn", "revision", "status", "compatibilities", "requiresAttributes", "registeredAt", "registeredBy"):
        assert read_only not in web


def test_circuit_breaker_rollback_is_a_failure_never_a_success():
    ecs = FakeEcs(deploy={"web": [stay, circuit_breaker], "worker": [complete]})
    outcome, text, ecs, _ = run(ecs)
    assert outcome.outcome is Outcome.ROLLED_BACK and outcome.exit_code == 3
    assert "web: failed: ECS deployment circuit breaker: tasks failed to start." in text
    assert "web: already back on portyfoul-dev-web-task:1 (ECS rolled it back)" in text
    # worker had succeeded; it is rolled back too so both run the same release
    assert (on(ecs, "web"), on(ecs, "worker")) == (WEB1, WORKER1)


def test_tasks_that_keep_stopping_are_diagnosed():
    boom = stopping("Essential container in task exited")
    ecs = FakeEcs(deploy={"web": [boom, boom, fail], "worker": [complete]})
    outcome, text, ecs, _ = run(ecs)
    assert outcome.outcome is Outcome.ROLLED_BACK
    assert "Essential container in task exited" in text
    assert "container web: exit code 1" in text
    assert "| Error: connect ECONNREFUSED" in text  # last log lines of the failed task
    assert on(ecs, "web") == WEB1


def test_exec_format_error_gets_the_architecture_hint():
    ecs = FakeEcs(deploy={"web": [stopping("CannotStartContainerError: exec format error"), fail]})
    _, text, _, _ = run(ecs)
    assert "hint: the image was built for another CPU architecture than linux/arm64" in text


def test_timeout_triggers_a_watched_rollback():
    ecs = FakeEcs(deploy={"web": [stay], "worker": [complete]})
    outcome, text, ecs, clock = run(ecs, timeout=60)
    assert outcome.outcome is Outcome.ROLLED_BACK
    assert "web: timed out: not complete after 60s" in text
    assert "web: rolling back to portyfoul-dev-web-task:1" in text
    assert on(ecs, "web") == WEB1 and on(ecs, "worker") == WORKER1
    assert clock.now <= 60 + 60 + 10  # one deadline for the deploy, one for the rollback


def test_ctrl_c_rolls_back():
    class InterruptingClock(VirtualClock):
        def sleep(self, seconds):
            super().sleep(seconds)
            if len(self.sleeps) == 2:
                raise KeyboardInterrupt

    ecs = FakeEcs(deploy={"web": [stay], "worker": [stay]})
    outcome, text, ecs, _ = run(ecs, clock=InterruptingClock())
    assert outcome.outcome is Outcome.ROLLED_BACK
    assert "interrupted (Ctrl-C)" in text and "release interrupted and rolled back" in text
    assert on(ecs, "web") == WEB1 and on(ecs, "worker") == WORKER1


def test_throttling_backs_off_and_carries_on():
    ecs = FakeEcs(deploy={"web": [complete], "worker": [complete]})
    # the first two polls after preflight and the watcher's first look
    throttle(ecs, "describe_services", {3, 4}, "ThrottlingException")
    outcome, _, _, clock = run(ecs)
    assert outcome.outcome is Outcome.APPLIED
    assert clock.sleeps[:2] == [5.0, 10.0]


def test_another_deployment_replacing_ours_is_a_failure():
    ecs = FakeEcs(deploy={"web": [replaced], "worker": [complete]})
    outcome, text, ecs, _ = run(ecs)
    assert outcome.outcome is Outcome.ROLLED_BACK
    assert "another deployment replaced ours (now running portyfoul-dev-web-task:99)" in text


def test_web_succeeds_while_worker_fails_and_both_end_on_previous():
    ecs = FakeEcs(deploy={"web": [complete], "worker": [stay, fail]})
    outcome, text, ecs, _ = run(ecs)
    assert outcome.outcome is Outcome.ROLLED_BACK
    assert on(ecs, "web") == WEB1 and on(ecs, "worker") == WORKER1
    assert "rolled back: web on portyfoul-dev-web-task:1, worker on portyfoul-dev-worker-task:1" in text


def test_a_failed_rollback_needs_a_human():
    ecs = FakeEcs(deploy={"web": [fail], "worker": [complete]}, rollback={"web": [fail]})
    outcome, text, _, _ = run(ecs)
    assert outcome.outcome is Outcome.NEEDS_HUMAN and outcome.exit_code == 4
    assert "rollback failed: needs a human" in text


MIGRATING = replace(DEV, migration_command=("npm", "run", "migrate"))


def test_migration_runs_from_the_new_web_revision_before_deploying():
    outcome, text, ecs, _ = run(env=MIGRATING, migrate=True)
    assert outcome.outcome is Outcome.APPLIED
    (task,) = ecs.called("run_task")
    assert task["taskDefinition"] == WEB2
    assert task["overrides"]["containerOverrides"] == [{"name": "web", "command": ["npm", "run", "migrate"]}]
    assert task["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    names = [n for n, _ in ecs.calls]
    assert names.index("run_task") < names.index("update_service")
    assert "migration succeeded (exit code 0)" in text


def test_migration_exit_code_1_deploys_nothing():
    ecs = FakeEcs(migration=[{"lastStatus": "RUNNING"}, {"lastStatus": "STOPPED", "exitCode": 1}])
    outcome, text, ecs, _ = run(ecs, env=MIGRATING, migrate=True)
    assert outcome.outcome is Outcome.ROLLED_BACK
    assert "migration failed: exit code 1" in text and "nothing was deployed" in text
    assert ecs.called("update_service") == []
    assert (on(ecs, "web"), on(ecs, "worker")) == (WEB1, WORKER1)


def test_migration_task_that_never_starts_is_stopped_at_the_deadline():
    ecs = FakeEcs(migration=[{"lastStatus": "PROVISIONING"}])
    outcome, text, ecs, clock = run(ecs, env=MIGRATING, migrate=True, timeout=120)
    assert outcome.outcome is Outcome.ROLLED_BACK
    assert "migration task still PROVISIONING after 120s; stopped it" in text
    assert len(ecs.called("stop_task")) == 1 and ecs.called("update_service") == []


# ---------- refused before any change

def test_a_tag_missing_from_ecr_is_refused_before_anything_changes():
    with pytest.raises(UserError, match="tag v9 is not in ECR repository portyfoul-dev"):
        run(tag="v9")


def test_placeholder_secret_is_refused_and_optional_one_warned():
    from portyfoul_infra.contract import PLACEHOLDER_VALUE
    from support.fake_ecs import SET_SECRETS
    secrets = {**SET_SECRETS, "portyfoul/dev/finnhub-api-key": PLACEHOLDER_VALUE}
    ecs = FakeEcs()
    with pytest.raises(UserError, match="FINNHUB_API_KEY: secret portyfoul/dev/finnhub-api-key still holds its placeholder"):
        run(ecs, secrets=secrets)
    assert ecs.called("register_task_definition") == []
    optional = {**SET_SECRETS, "portyfoul/dev/coingecko-api-key": PLACEHOLDER_VALUE}
    outcome, text, _, _ = run(secrets=optional)
    assert outcome.outcome is Outcome.APPLIED and "warning: COINGECKO_API_KEY" in text
    assert PLACEHOLDER_VALUE not in text and "finnhub-real-key" not in text


def test_a_deployment_in_progress_is_refused():
    ecs = FakeEcs()
    ecs.services["portyfoul-dev-web-service"]["deployments"][0]["rolloutState"] = "IN_PROGRESS"
    with pytest.raises(UserError, match="has a deployment in progress"):
        run(ecs)


def test_an_inactive_rollback_target_is_refused():
    ecs = FakeEcs()
    ecs.task_definitions[WEB1]["status"] = "INACTIVE"
    with pytest.raises(UserError, match=r"portyfoul-dev-web-task:1 \(the rollback target for web\) is INACTIVE"):
        run(ecs)


def test_dry_run_changes_nothing():
    outcome, text, ecs, _ = run(dry_run=True)
    assert outcome.outcome is Outcome.DRY_RUN and "dry run: preflight passed" in text
    assert ecs.called("register_task_definition") == [] and ecs.called("update_service") == []


def test_latest_is_not_a_release_tag():
    with pytest.raises(UserError, match="not a release tag"):
        run(tag="latest")


# ---------- building

def test_build_uses_the_task_definitions_platform_logs_in_by_stdin_and_pushes_both_tags(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    commands = []

    def docker(cmd, stdin):
        commands.append((list(cmd), stdin))
        return 0

    ecr = FakeEcr(tags=())
    original = ecr.describe_images

    def describe(**kw):  # the image appears once pushed
        if any(c[0][:2] == ["docker", "push"] for c in commands):
            ecr.tags.add("v2")
        return original(**kw)

    ecr.describe_images = describe
    outcome, text, _, _ = run(ecr=ecr, runner=docker, no_build=False, app_dir=str(tmp_path))
    assert outcome.outcome is Outcome.APPLIED, text
    build = next(c for c, _ in commands if c[:3] == ["docker", "buildx", "build"])
    assert build[build.index("--platform") + 1] == "linux/arm64"
    assert f"{REPO_URI}:v2" in build and f"{REPO_URI}:latest" in build
    login, stdin = next((c, s) for c, s in commands if c[:2] == ["docker", "login"])
    assert "--password-stdin" in login and stdin == "s3cr3t-registry-password"
    assert all("s3cr3t" not in " ".join(c) for c, _ in commands)
    assert "s3cr3t" not in text
    pushes = [c[2] for c, _ in commands if c[:2] == ["docker", "push"]]
    assert pushes == [f"{REPO_URI}:v2", f"{REPO_URI}:latest"]


def test_build_only_stops_after_the_local_build(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    commands = []
    outcome, text, ecs, _ = run(ecr=FakeEcr(tags=()), runner=lambda c, s: commands.append(list(c)) or 0,
                                no_build=False, build_only=True, app_dir=str(tmp_path))
    assert outcome.outcome is Outcome.APPLIED and "nothing pushed or deployed" in text
    assert not any(c[:2] in (["docker", "push"], ["docker", "login"]) for c in commands)
    assert ecs.called("register_task_definition") == []


def test_a_tag_already_in_ecr_is_released_as_it_is_without_building(tmp_path):
    """Release tags are immutable: a re-run of a deploy job for the same tag releases the image that is there."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    commands = []
    ecs = FakeEcs(deploy={"web": [complete], "worker": [complete]})
    outcome, text, ecs, _ = run(ecs, runner=lambda c, s: commands.append(list(c)) or 0, no_build=False,
                                app_dir=str(tmp_path))
    assert outcome.outcome is Outcome.APPLIED, text
    assert "tag v2 is already in ECR (sha256:abababababab): releasing that image without building" in text
    assert not any(c[:3] == ["docker", "buildx", "build"] or c[:2] == ["docker", "push"] for c in commands)
    assert on(ecs, "web") == WEB2 and on(ecs, "worker") == WORKER2


def test_a_release_that_serves_5xx_is_rolled_back_by_its_alarm_and_the_alarm_is_named():
    from support.fake_ecs import alarm_rollback
    ecs = FakeEcs(deploy={"web": [progress, alarm_rollback], "worker": [complete]})
    outcome, text, ecs, _ = run(ecs, alarms={"portyfoul-dev-web-5xx": "ALARM",
                                             "portyfoul-dev-web-unhealthy-targets": "OK"})
    assert outcome.outcome is Outcome.ROLLED_BACK
    assert "web: alarm portyfoul-dev-web-5xx is in ALARM, and it rolls a deployment back" in text
    assert "web-unhealthy-targets is in ALARM" not in text
    assert on(ecs, "web") == WEB1


def test_the_release_output_states_the_rollout_bound():
    _, text, _, _ = run(FakeEcs(deploy={"web": [complete], "worker": [complete]}))
    assert "each old web task leaves within 35 s of its replacement passing health checks" in text


def test_migrate_takes_a_snapshot_first_named_with_env_time_and_tag():
    from support.fake_ecs import FakeRds
    rds = FakeRds()
    outcome, text, ecs, _ = run(env=MIGRATING, migrate=True, rds=rds)
    assert outcome.outcome is Outcome.APPLIED
    (name,) = rds.snapshots
    assert re.fullmatch(r"portyfoul-dev-\d{8}-\d{6}-v1", name) and rds.snapshots[name]["DBInstanceIdentifier"] == \
        "portyfoul-dev-postgres"
    assert text.index(f"snapshot {name} taken before migrating") < text.index("migrating: npm run migrate")


def test_migrate_with_no_snapshot_says_so():
    from support.fake_ecs import FakeRds
    rds = FakeRds()
    outcome, text, _, _ = run(env=MIGRATING, migrate=True, no_snapshot=True, rds=rds)
    assert outcome.outcome is Outcome.APPLIED and rds.snapshots == {}
    assert "--no-snapshot: migrating without a database snapshot first" in text


def test_a_snapshot_that_never_becomes_available_migrates_and_deploys_nothing():
    from support.fake_ecs import FakeRds
    outcome, text, ecs, _ = run(env=MIGRATING, migrate=True, rds=FakeRds(stuck=True), timeout=60)
    assert outcome.outcome is Outcome.NEEDS_HUMAN and "nothing was migrated or deployed" in text
    assert ecs.called("run_task") == [] and ecs.called("update_service") == []
