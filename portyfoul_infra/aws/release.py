"""Release and rollback: a read-only plan, then the steps that change things, each recorded as it happens.

plan_release is the preflight: it reads the stack, the live services (the
rollback targets, which must be ACTIVE), the secrets they read, the image in
ECR and what building needs, and refuses (UserError, nothing changed) when a
release could not safely start. apply_release then builds and pushes,
registers new task definition revisions (the live ones copied whole, only the
image swapped), migrates after a snapshot, deploys web and worker together,
watches them against one deadline, and on failure diagnoses and rolls every
touched service back. rollback is planned and applied the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..cli import held, hold_to_the_end
from ..config import PLATFORMS, Environment
from ..console import elapsed
from ..context import Ctx
from ..contract import APP_SECRETS, REPOSITORY_NAME, REPOSITORY_URI, is_placeholder, secret_name_of, service_keys
from ..errors import UserError, error_code
from ..outcomes import Outcome
from . import history
from .clients import collect
from .deployments import State, Target, deployment_id_for, in_progress, short_td, watch_deployments
from .images import build_image, docker_available, docker_login, find_image, push_image, run_shown
from .oneoff import OneOff, run_one_off
from .services import LiveService, LiveServices, read_services
from .snapshots import take_snapshot
from .stacks import require_stack

# ---------------------------------------------------------------- the plan


class CannotBuild(UserError):
    """The image must be built here and cannot be: `why` says why (no Dockerfile in the directory, or no docker
    with buildx); the message is release's way on. A verb with other flags (deliver) names its own."""

    def __init__(self, why: str, way_on: str, *, no_dockerfile: bool):
        super().__init__(f"{why}; {way_on}")
        self.why, self.no_dockerfile = why, no_dockerfile


@dataclass(frozen=True)
class ReleaseRequest:
    """What the operator asked for, already checked for sense (verbs/release.py)."""
    tag: str
    keys: tuple[str, ...]
    build: bool = True                 # build and push; False: the image must already be in ECR
    build_only: bool = False
    migrate: bool = False
    snapshot: bool = True              # before migrating
    app_dir: str = ""
    timeout: float = 600
    copy_from: str = ""                # promote: the source image (repository@digest) copied in by digest


@dataclass
class ReleasePlan:
    request: ReleaseRequest
    live: LiveServices                 # what runs now: the rollback targets
    repository_uri: str
    repository_name: str
    platform: str
    digest: str | None                 # the image's digest when it is in ECR already
    build: bool                        # whether apply builds and pushes
    warnings: list[str] = field(default_factory=list)
    copy: bool = False                 # whether apply copies request.copy_from in first (promote)

    @property
    def image(self) -> str:
        return f"{self.repository_uri}:{self.request.tag}"

    @property
    def services(self) -> list[LiveService]:
        return [self.live.services[k] for k in self.request.keys]


def plan_release(ctx: Ctx, request: ReleaseRequest) -> ReleasePlan:
    """Read everything a release needs and refuse (UserError) when it could not safely start. Changes nothing."""
    env = ctx.env
    stack = require_stack(ctx)
    if not stack.status.endswith("_COMPLETE") or stack.status == "ROLLBACK_COMPLETE":
        raise UserError(f"stack {env.stack_name} is {stack.status}; a release needs a stable stack (*_COMPLETE)")
    history.load(ctx)  # a history this tool cannot read is refused now, before any revision is registered
    missing = [k for k in ("ClusterName", REPOSITORY_URI, REPOSITORY_NAME) if not stack.outputs.get(k)]
    if missing:
        raise UserError(f"stack {env.stack_name} lacks outputs {', '.join(missing)}: run `invoke stack-update` first")
    live = read_services(ctx, list(request.keys), stack=stack, with_tags=True)
    problems = [f"service {k} is not ACTIVE in {live.cluster}" for k in live.missing]
    for s in live:
        if s.busy:
            problems.append(f"service {s.name} has a deployment in progress ({s.busy}); wait for it to finish")
        if s.task_definition.get("status") != "ACTIVE":
            problems.append(f"{short_td(s.task_definition_arn)} (the rollback target for {s.key}) is "
                            f"{s.task_definition.get('status')}")
    if problems:
        raise UserError("preflight: " + "; ".join(problems))
    archs = {s.task_definition.get("runtimePlatform", {}).get("cpuArchitecture", "X86_64") for s in live}
    if len(archs) > 1:
        raise UserError(f"the task definitions disagree on CPU architecture ({', '.join(sorted(archs))})")
    plan = ReleasePlan(request, live, stack.outputs[REPOSITORY_URI], stack.outputs[REPOSITORY_NAME],
                       PLATFORMS[archs.pop()], None, request.build)
    plan.warnings += check_secrets(ctx, plan.services)
    _choose_image_source(ctx, plan)
    return plan


def plan_promotion(ctx: Ctx, source: Environment, tag: str, timeout: float) -> ReleasePlan:
    """promote's preflight: `tag` succeeded in `source` (its release history) and `source`'s repository still has
    it; then the target's whole release preflight, with the source image by digest to copy. Changes nothing.

    The accounts are checked before (config.check_promotion): everything here is read with one set of
    credentials, the target's.
    """
    outcome = history.tag_outcome(history.load(ctx, source), tag)
    if outcome is None:
        raise UserError(f"{tag[:60]} was never released to {source.name}: release and test it there first")
    if outcome != history.SUCCEEDED:
        raise UserError(f"the release of {tag[:60]} to {source.name} {outcome}: only a tag that succeeded there "
                        "is promoted")
    src = require_stack(ctx, source).outputs
    digest = find_image(ctx.client("ecr"), src[REPOSITORY_NAME], tag)
    if digest is None:
        raise UserError(f"{tag} is not in {src[REPOSITORY_NAME]} any more (expired by its lifecycle rule?)")
    ctx.console.line(f"promote {tag} ({digest[:19]}) from {source.name} to {ctx.env.name}")
    return plan_release(ctx, ReleaseRequest(tag=tag, keys=tuple(service_keys("all")), build=False,
                                            timeout=timeout, copy_from=f"{src[REPOSITORY_URI]}@{digest}"))


def _choose_image_source(ctx: Ctx, plan: ReleasePlan) -> None:
    """Whether apply copies (promote), builds, or releases the image ECR already has; refuses what cannot work."""
    request = plan.request
    plan.digest = find_image(ctx.client("ecr"), plan.repository_name, request.tag)
    if request.copy_from:
        wanted = request.copy_from.rsplit("@", 1)[-1]
        if plan.digest not in (None, wanted):
            raise UserError(f"{plan.repository_name}:{request.tag} exists with another digest ({plan.digest[:19]}); "
                            "release tags are immutable")
        plan.copy, plan.digest, plan.build = plan.digest is None, wanted, False
        return
    if not request.build and plan.digest is None:
        raise UserError(f"tag {request.tag} is not in ECR repository {plan.repository_name}; build and push it "
                        "(drop --no-build)")
    if request.build and plan.digest is not None and not request.build_only:
        # Release tags are immutable: the tag names the image that is there, so it is released as it is.
        plan.build = False
        plan.warnings.append(f"tag {request.tag} is already in ECR ({plan.digest[:19]}): releasing that image "
                             "without building (release tags are immutable)")
    if plan.build:
        if not (Path(request.app_dir) / "Dockerfile").is_file():
            raise CannotBuild(f"no Dockerfile in {request.app_dir}", "pass --app-dir or --no-build",
                              no_dockerfile=True)
        if not docker_available(ctx.runner):
            raise CannotBuild("docker with buildx is not available",
                              "install it, or deploy an image already in ECR with --no-build", no_dockerfile=False)


def check_secrets(ctx: Ctx, services: list[LiveService]) -> list[str]:
    """Every secret and parameter the task definitions reference exists and is not a placeholder.

    Values are compared and dropped here; they are never printed or kept.
    Returns warnings (optional secrets); raises UserError for required ones.
    """
    optional = {s.env_var for s in APP_SECRETS if not s.required}
    sm, ssm = ctx.client("secretsmanager"), ctx.client("ssm")
    refs: dict[str, set[str]] = {}
    for s in services:
        for c in s.task_definition.get("containerDefinitions", []):
            for sec in c.get("secrets", []):
                refs.setdefault(sec["valueFrom"], set()).add(sec["name"])
    errors: list[str] = []
    warnings: list[str] = []
    for value_from, env_vars in sorted(refs.items()):
        label = "/".join(sorted(env_vars))
        is_optional = env_vars <= optional
        if ":ssm:" in value_from or value_from.startswith("/"):
            name = value_from.split(":parameter", 1)[-1] if ":parameter" in value_from else value_from
            if ssm.get_parameters(Names=[name]).get("InvalidParameters"):
                errors.append(f"{label}: SSM parameter {name} does not exist")
            continue
        secret_id = _secret_id(value_from)
        try:
            value = sm.get_secret_value(SecretId=secret_id).get("SecretString", "")
        except Exception as e:
            if error_code(e) in ("ResourceNotFoundException", "AccessDeniedException"):
                (warnings if is_optional else errors).append(f"{label}: secret {secret_name_of(secret_id)} does not exist")
                continue
            raise
        placeholder = is_placeholder(value)
        del value
        if placeholder:
            msg = (f"{label}: secret {secret_name_of(secret_id)} still holds its placeholder; set it with "
                   "`invoke secrets-set`")
            (warnings if is_optional else errors).append(msg)
    if errors:
        raise UserError("preflight: " + "; ".join(errors))
    return warnings


def _secret_id(value_from: str) -> str:
    """The secret ARN without a `:jsonkey:version-stage:version-id` suffix."""
    parts = value_from.split(":")
    return ":".join(parts[:7]) if value_from.startswith("arn:") and len(parts) > 7 else value_from


def describe_release(ctx: Ctx, plan: ReleasePlan) -> None:
    """What apply_release will do, before it does it (and all that --dry-run does)."""
    request, console = plan.request, ctx.console
    for w in plan.warnings:
        console.warn(w)
    source = ("copy by digest " + (plan.digest or "")[:19] if plan.copy else
              f"existing image {plan.digest[:19]}" if plan.digest and not plan.build else "build and push")
    console.line(f"release {request.tag} to {', '.join(request.keys)} · platform {plan.platform} · {source} · "
                 f"migrate {'yes' if request.migrate else 'no'}")
    for s in plan.services:
        console.line(f"  {s.key:<7} {s.name}: {short_td(s.task_definition_arn)} ({s.tag}) -> {request.tag}")
    console.line(f"  rollout: each old web task leaves within {ctx.env.rollout_step_seconds} s of its replacement "
                 f"passing health checks; alarms and the circuit breaker roll back a bad release")


# ---------------------------------------------------------------- applying it

def apply_release(ctx: Ctx, plan: ReleasePlan) -> Outcome:
    """Build, register, migrate, deploy, watch; roll back and diagnose on failure. Every change is recorded."""
    start = ctx.clock()
    request, env = plan.request, ctx.env
    if plan.copy:
        outcome = copy_image(ctx, plan)
        if outcome is not None:
            return outcome
    if plan.build:
        build_image(ctx, plan.repository_uri, plan.platform, request.tag, request.app_dir)
        if request.build_only:
            ctx.console.ok(f"built {plan.image} for {plan.platform}; nothing pushed or deployed (--build-only)")
            return Outcome.APPLIED
        push_image(ctx, plan.repository_uri, request.tag)
        ctx.record(f"pushed {plan.image}", f"`invoke release --tag {request.tag} --env {env.name}` deploys the "
                   "pushed image")
        plan.digest = find_image(ctx.client("ecr"), plan.repository_name, request.tag)
        if plan.digest is None:
            raise UserError(f"pushed {plan.image}, but ECR does not list it; nothing was deployed")
    ctx.console.line(f"image {plan.image} {plan.digest}")
    new_arns = register_revisions(ctx, plan)
    if request.migrate:
        outcome = migrate(ctx, plan, new_arns["web"])
        if outcome is not None:
            return outcome
    record = history.start(ctx, "release", request.tag, plan.digest or "", {
        s.key: history.ServiceChange(previous=s.task_definition_arn, deployed=new_arns[s.key])
        for s in plan.services})
    targets: list[Target] = []
    try:
        deploy(ctx, plan.live, plan.services, new_arns, targets)
        watch_deployments(ctx, plan.live.cluster, targets, request.timeout)
    except KeyboardInterrupt as stop:
        with held(ROLLING_BACK):
            return _stopped(ctx, plan, new_arns, targets, record, stop)
    if all(t.state is State.SUCCEEDED for t in targets):
        history.finish(ctx, record, history.SUCCEEDED)
        hold_to_the_end(ENDED)
        return _succeeded(ctx, plan, targets, ctx.clock() - start)
    with held(ROLLING_BACK):
        return roll_back_and_diagnose(ctx, plan, targets, record, interrupted=False)


# What a signal waits for once a release is going back, and once a command has ended (cli.held).
ROLLING_BACK = "the rollback ends, is recorded and the deploy lock is given back"
ENDED = "the outcome is recorded and the deploy lock is given back"


def copy_image(ctx: Ctx, plan: ReleasePlan) -> Outcome | None:
    """Promote's copy: the source image by digest into this repository under the tag; verified by digest."""
    source, wanted = plan.request.copy_from, plan.request.copy_from.rsplit("@", 1)[-1]
    docker_login(ctx)
    for cmd in (["docker", "pull", source], ["docker", "tag", source, plan.image], ["docker", "push", plan.image]):
        run_shown(ctx, cmd, f"`{' '.join(cmd)}` failed; nothing was deployed")
    ctx.record(f"copied {plan.request.tag} into {plan.repository_name}", f"`invoke release-status --env {ctx.env.name}`")
    copied = find_image(ctx.client("ecr"), plan.repository_name, plan.request.tag)
    if copied != wanted:
        ctx.console.error(f"the copy in {plan.repository_name} has digest {str(copied)[:19]}, not {wanted[:19]}: "
                          "not released")
        return Outcome.NEEDS_HUMAN
    ctx.console.ok(f"{ctx.env.name} has {plan.request.tag} with the same digest {wanted[:19]}")
    return None


def register_revisions(ctx: Ctx, plan: ReleasePlan) -> dict[str, str]:
    """key -> the new task definition revision for the plan's image (inactive until deployed)."""
    ecs = ctx.client("ecs")
    new_arns: dict[str, str] = {}
    for s in plan.services:
        new_arns[s.key], diff = register_revision(ecs, s, plan.image)
        ctx.record(f"registered {short_td(new_arns[s.key])} (inactive until deployed)",
                   f"`invoke release-status --env {ctx.env.name}`")
        for line in diff:
            ctx.console.line(line)
    return new_arns


def register_revision(ecs, live: LiveService, image: str) -> tuple[str, list[str]]:
    """Copy the live task definition whole, swap the image of our container only; (new ARN, diff lines)."""
    accepted = set(ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape.members)
    td = {k: v for k, v in live.task_definition.items() if k in accepted}
    containers = [dict(c) for c in td["containerDefinitions"]]
    old_image = live.image
    for c in containers:
        if c["name"] == live.ref.container:
            c["image"] = image
    td["containerDefinitions"] = containers
    if live.tags:
        td["tags"] = list(live.tags)
    new = ecs.register_task_definition(**td)["taskDefinition"]
    diff = [f"{live.key}: {short_td(live.task_definition_arn)} -> {short_td(new['taskDefinitionArn'])}",
            f"  - image {old_image}", f"  + image {image}"]
    return new["taskDefinitionArn"], diff


def _revision(arn: str) -> tuple[str, int]:
    family, rev = arn.rsplit("/", 1)[-1].rsplit(":", 1)
    return family, int(rev)


def active_revisions(ecs, family: str) -> list[str]:
    """ACTIVE revisions of exactly `family`, newest first (ordered here, not trusted to the API)."""
    arns = [a for a in collect(ecs.list_task_definitions, "taskDefinitionArns", "nextToken", familyPrefix=family,
                               status="ACTIVE", sort="DESC") if _revision(a)[0] == family]
    return sorted(arns, key=lambda a: _revision(a)[1], reverse=True)


def prune_revisions(ecs, family: str, keep: int, protect: set[str]) -> list[str]:
    """Deregister ACTIVE revisions beyond the newest `keep`, never one in `protect`."""
    removed = []
    for arn in active_revisions(ecs, family)[keep:]:
        if arn not in protect:
            ecs.deregister_task_definition(taskDefinition=arn)
            removed.append(arn)
    return removed


def migrate(ctx: Ctx, plan: ReleasePlan, task_definition: str) -> Outcome | None:
    """Snapshot (unless --no-snapshot), then the migration; None to go on deploying, else how the release ends."""
    request = plan.request
    if not request.snapshot:
        ctx.console.warn("--no-snapshot: migrating without a database snapshot first")
    else:
        name = take_snapshot(ctx, plan.live.stack, request.timeout)
        if name is None:
            ctx.console.error("the snapshot before the migration did not become available: nothing was migrated "
                              "or deployed (`invoke db-snapshots`)")
            return Outcome.NEEDS_HUMAN
        ctx.console.line(f"snapshot {name} taken before migrating")
    if not run_migration(ctx, plan.live, plan.live.services["web"], task_definition, ctx.env.migration_command,
                         request.timeout):
        ctx.console.line("nothing was deployed: the services still run their previous revisions")
        return Outcome.ROLLED_BACK
    return None


def one_off_from(live: LiveServices, service: LiveService, task_definition: str, started_by: str) -> OneOff:
    """A one-off task like `service`'s: its network, secrets, configuration and log group; `task_definition`'s image."""
    return OneOff(live.cluster, task_definition, service.ref.container, service.network, service.log_group,
                  service.key, started_by)


def run_migration(ctx: Ctx, live: LiveServices, web: LiveService, task_definition: str, command: tuple[str, ...],
                  timeout: float, poll: float = 5.0) -> bool:
    """A one-off Fargate task from the new web revision; True only if the container exited 0."""
    console = ctx.console
    console.line(f"migrating: {' '.join(command)} (one-off task from {short_td(task_definition)})")
    result = run_one_off(ctx, one_off_from(live, web, task_definition, "portyfoul-migrate"), command, timeout, poll,
                         label="migration task")
    if not result.started:
        console.error(f"migration task did not start: {result.reason}")
        return False
    if result.timed_out:
        console.error(f"migration task {result.reason}")
        return False
    if result.exit_code != 0:
        console.error(f"migration failed: exit code {result.exit_code if result.exit_code is not None else 'none'}"
                      f" ({result.reason or 'no reason given'})")
        return False
    console.ok("migration succeeded (exit code 0)")
    return True


def deploy(ctx: Ctx, live: LiveServices, services: list[LiveService], new_arns: dict[str, str],
           targets: list[Target]) -> list[Target]:
    """UpdateService for each service in turn, each appended to `targets` as ECS answers (so that an
    interruption between two services knows which ones it reached). Should an error end the command, the next
    step it names rolls back the services deployed so far, and only those."""
    ecs, env = ctx.client("ecs"), ctx.env
    for s in services:
        svc = ecs.update_service(cluster=live.cluster, service=s.name, taskDefinition=new_arns[s.key])["service"]
        reached = [t.key for t in targets] + [s.key]
        ctx.record(f"started deploying {short_td(new_arns[s.key])} to {s.key}",
                   f"`invoke release-status --env {env.name}`, then `{rollback_command(env, reached)}` if needed")
        targets.append(Target(s.key, s.name, new_arns[s.key], s.task_definition_arn,
                              deployment_id_for(svc, new_arns[s.key])))
    return targets


def primary_of(service: dict) -> dict:
    return next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), {})


def _stopped(ctx: Ctx, plan: ReleasePlan, new_arns: dict[str, str], targets: list[Target],
             record: history.ReleaseRecord, stop: KeyboardInterrupt) -> Outcome:
    """A signal (or Ctrl-C) stopped the release while it deployed or watched: record it failed at once (nothing
    later may reconcile a stopped release into "succeeded"), then put back every service it touched or may have
    touched. A service whose UpdateService had not answered when the signal came may or may not have taken it:
    what ECS runs says."""
    why = f"interrupted ({getattr(stop, 'signal_name', '') or 'Ctrl-C'})"
    history.finish(ctx, record, history.FAILED, f"{why}; rolling back")
    reached = {t.key for t in targets}
    rest = [s for s in plan.services if s.key not in reached]
    untouched: list[str] = []
    if rest:
        ecs = ctx.client("ecs")
        running = {d["serviceName"]: d for d in ecs.describe_services(
            cluster=plan.live.cluster, services=[s.name for s in rest])["services"]}
        for s in rest:
            primary = primary_of(running.get(s.name, {}))
            if primary.get("taskDefinition") == new_arns[s.key]:  # the call in flight reached ECS
                ctx.record(f"started deploying {short_td(new_arns[s.key])} to {s.key}",
                           f"`invoke release-status --env {ctx.env.name}`")
                targets.append(Target(s.key, s.name, new_arns[s.key], s.task_definition_arn, primary.get("id", "")))
            else:
                untouched.append(s.key)
    for t in targets:
        if t.state is State.IN_PROGRESS:
            t.state, t.reason = State.FAILED, why
    return roll_back_and_diagnose(ctx, plan, targets, record, interrupted=True, untouched=untouched)


def roll_back_and_diagnose(ctx: Ctx, plan: ReleasePlan, targets: list[Target], record: history.ReleaseRecord,
                           interrupted: bool, untouched: list[str] | tuple[str, ...] = ()) -> Outcome:
    """A failure, timeout or stop: record it failed at once, say why, put every touched service back, watch that,
    record how it ended. `untouched`: services the release never reached (they stay as they were)."""
    console = ctx.console
    failure = "; ".join([f"{t.key}: {t.reason}" for t in targets if t.state is not State.SUCCEEDED]
                        + [f"{key}: never deployed" for key in untouched])
    if not interrupted:  # a stop was recorded the moment it came (_stopped)
        history.finish(ctx, record, history.FAILED, f"{failure}; rolling back")
    for t in targets:
        if t.state is not State.SUCCEEDED:
            console.error(f"{t.key}: {t.state.value}: {t.reason}")
    for key in untouched:
        console.line(f"{key}: never deployed (stopped before ECS took its update): stays on "
                     f"{short_td(plan.live.services[key].task_definition_arn)}")
    diagnose(ctx, plan, [t for t in targets if t.state is not State.SUCCEEDED])
    try:
        back = roll_back(ctx, plan.live.cluster, targets, plan.request.timeout)
    except KeyboardInterrupt:  # only where nothing holds signals (a test calling the verb in-process)
        history.finish(ctx, record, history.FAILED, f"{failure}; rollback interrupted")
        console.error(f"interrupted during rollback: check `invoke release-status --env {ctx.env.name}`")
        return Outcome.NEEDS_HUMAN
    stuck = [b for b in back if b.state is not State.SUCCEEDED]
    history.finish(ctx, record, history.FAILED, failure + ("; rollback failed" if stuck else "; rolled back"))
    hold_to_the_end(ENDED)
    if stuck:
        for b in stuck:
            console.error(f"{b.key}: rollback to {short_td(b.task_definition)} {b.state.value}: {b.reason}")
        console.error(f"rollback failed: needs a human (`invoke release-status --env {ctx.env.name}`, "
                      f"`invoke logs --env {ctx.env.name}`)")
        return Outcome.NEEDS_HUMAN
    console.line("rolled back: " + ", ".join([f"{b.key} on {short_td(b.task_definition)}" for b in back]
                                             + [f"{key} never left {short_td(plan.live.services[key].task_definition_arn)}"
                                                for key in untouched]))
    if interrupted:
        console.line("release interrupted and rolled back")
    return Outcome.ROLLED_BACK


def roll_back(ctx: Ctx, cluster: str, targets: list[Target], deadline: float) -> list[Target]:
    """Put every touched service back on its previous revision and watch that."""
    ecs, console = ctx.client("ecs"), ctx.console
    back: list[Target] = []
    for t in targets:
        svc = ecs.describe_services(cluster=cluster, services=[t.service])["services"][0]
        primary: dict = next((d for d in svc["deployments"] if d.get("status") == "PRIMARY"), {})
        if primary.get("taskDefinition") == t.previous and primary.get("rolloutState") == "COMPLETED":
            console.line(f"{t.key}: already back on {short_td(t.previous)} (ECS rolled it back)")
            back.append(Target(t.key, t.service, t.previous, t.task_definition, primary["id"], State.SUCCEEDED))
            continue
        console.line(f"{t.key}: rolling back to {short_td(t.previous)}")
        updated = ecs.update_service(cluster=cluster, service=t.service, taskDefinition=t.previous)["service"]
        ctx.record(f"started rolling {t.key} back to {short_td(t.previous)}", "`invoke release-status`")
        back.append(Target(t.key, t.service, t.previous, t.task_definition, deployment_id_for(updated, t.previous)))
    pending = [b for b in back if b.state is State.IN_PROGRESS]
    if pending:
        watch_deployments(ctx, cluster, pending, deadline, label="rollback")
    return back


def firing_alarms(ctx: Ctx, cluster: str, targets: list[Target]) -> dict[str, list[dict]]:
    """key -> the deployment alarms of that service now in ALARM (the ones that roll a release back)."""
    ecs = ctx.client("ecs")
    services = ecs.describe_services(cluster=cluster, services=[t.service for t in targets]).get("services", [])
    names = {s["serviceName"]: s.get("deploymentConfiguration", {}).get("alarms", {}).get("alarmNames", [])
             for s in services}
    wanted = sorted({n for ns in names.values() for n in ns})
    if not wanted:
        return {}
    alarms = ctx.client("cloudwatch").describe_alarms(AlarmNames=wanted, StateValue="ALARM").get("MetricAlarms", [])
    return {t.key: [a for a in alarms if a["AlarmName"] in names.get(t.service, [])] for t in targets}


def diagnose(ctx: Ctx, plan: ReleasePlan, targets: list[Target], limit: int = 3) -> None:
    """Why the release failed: deployment alarms in ALARM, stopped tasks' reasons, exit codes, last log lines."""
    ecs, console, cluster = ctx.client("ecs"), ctx.console, plan.live.cluster
    for key, alarms in firing_alarms(ctx, cluster, targets).items():
        for a in alarms:
            console.error(f"{key}: alarm {a['AlarmName']} is in ALARM, and it rolls a deployment back: "
                          f"{a.get('StateReason', '')[:200]}")
    for t in targets:
        live = plan.live.services[t.key]
        arns = ecs.list_tasks(cluster=cluster, serviceName=t.service, desiredStatus="STOPPED").get("taskArns", [])
        if not arns:
            console.line(f"{t.key}: no stopped tasks to diagnose")
            continue
        tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:100])["tasks"]
        failed = [x for x in tasks if x.get("taskDefinitionArn") == t.task_definition][:limit]
        for task in failed:
            task_id = task["taskArn"].rsplit("/", 1)[-1]
            console.line(f"{t.key} task {task_id}: {task.get('stoppedReason', 'no stoppedReason')}")
            for c in task.get("containers", []):
                console.line(f"  container {c['name']}: exit code {c.get('exitCode', 'none')}"
                             + (f" ({c['reason']})" if c.get("reason") else ""))
                if "exec format error" in (c.get("reason") or "") + (task.get("stoppedReason") or ""):
                    console.line(f"  hint: the image was built for another CPU architecture than {plan.platform}")
            print_log_tail(ctx, live.log_group, f"{t.key}/{live.ref.container}/{task_id}", lines=10)


def print_log_tail(ctx: Ctx, group: str, stream: str, lines: int = 20) -> None:
    if not group:
        return
    try:
        events = ctx.client("logs").get_log_events(logGroupName=group, logStreamName=stream, limit=lines,
                                                   startFromHead=False)["events"]
    except Exception as e:
        if error_code(e) == "ResourceNotFoundException":
            ctx.console.line(f"  (no log stream {stream})", "dim")
            return
        raise
    for event in events:
        ctx.console.line(f"  | {event['message'].rstrip()}", "dim")


def _succeeded(ctx: Ctx, plan: ReleasePlan, targets: list[Target], seconds: float) -> Outcome:
    ecs, env, console = ctx.client("ecs"), ctx.env, ctx.console
    kept = history.kept_revisions(ctx)   # the ways back it keeps stay ACTIVE, whatever failed between
    for s in plan.services:
        t = next(t for t in targets if t.key == s.key)
        removed = [] if kept is None else prune_revisions(
            ecs, s.task_definition["family"], env.keep_task_definition_revisions,
            {t.task_definition, t.previous} | kept[s.key])
        if removed:
            console.line(f"{s.key}: deregistered {len(removed)} revision(s) beyond the newest "
                         f"{env.keep_task_definition_revisions}")
    console.ok(f"released {plan.request.tag} ({(plan.digest or '')[:19]}) in {elapsed(seconds)}")
    idle = [s.key for s in plan.services if s.desired_count == 0]
    if idle:
        console.warn(f"{', '.join(idle)} run no tasks yet (the stack is bootstrapping): "
                     f"run `invoke stack-update --env {env.name}` to start them on this release")
    for t in targets:
        console.line(f"  {t.key:<7} {short_td(t.task_definition)} ({elapsed(t.seconds)}); rollback target "
                     f"{short_td(t.previous)} kept ACTIVE")
    return Outcome.APPLIED


# ---------------------------------------------------------------- rollback


@dataclass(frozen=True)
class RollbackStep:
    """One service going back: from what it runs now to a release that succeeded.

    A step that continues a rollback which did not finish (`continues`: stopped by a signal, killed, or failed)
    goes where that rollback was going, and records what that rollback was leaving (`leaving`), so that a later
    rollback never returns to it. `arrived`: the service already runs its target, settled (the stopped rollback
    got it there): nothing to deploy, only to record.
    """
    service: LiveService
    target: history.ReleaseRecord
    leaving: str = ""
    continues: history.ReleaseRecord | None = None
    arrived: bool = False

    @property
    def to(self) -> str:
        return self.target.services[self.service.key].deployed

    @property
    def previous(self) -> str:
        return self.leaving or self.service.task_definition_arn


def unfinished_rollback(records: list[history.ReleaseRecord], key: str) -> history.ReleaseRecord | None:
    """The rollback that did not finish (in progress, stopped, failed), when it is the newest record to touch
    `key`: the way back it started is the way back, never the release it was leaving."""
    for r in records:
        if key in r.services:
            return r if r.kind == "rollback" and r.outcome != history.SUCCEEDED else None
    return None


def _release_deploying(records: list[history.ReleaseRecord], key: str,
                       task_definition: str) -> history.ReleaseRecord | None:
    """The release that succeeded with `task_definition` for `key` (its tag and digest are the image's)."""
    return next((r for r in records if r.kind == "release" and r.outcome == history.SUCCEEDED
                 and key in r.services and r.services[key].deployed == task_definition), None)


def rollback_command(env: Environment, keys: list[str] | tuple[str, ...], replace_deployment: bool = False) -> str:
    """The rollback command line for `keys` (every service: no --service)."""
    service = "" if set(keys) >= set(service_keys("all")) else f" --service {','.join(keys)}"
    return f"invoke rollback --env {env.name}{service}" + (" --replace-deployment" if replace_deployment else "")


def plan_rollback(ctx: Ctx, keys: list[str], to: str = "",
                  replace_deployment: bool = False) -> tuple[LiveServices, list[RollbackStep]]:
    """For each service, the newest release that succeeded and differs from what runs now (or `to`'s); where the
    newest record of a service is a rollback that did not finish, where that rollback was going. A deployment in
    progress is refused unless `replace_deployment` (one a stopped release or rollback left running)."""
    env = ctx.env
    live = read_services(ctx, keys)
    records = history.load(ctx)
    if not records:
        raise UserError(f"no release history for {env.name} yet ({history.parameter_name(env)}): rollback goes to the "
                        "last release that succeeded, and none is recorded; release a known-good tag instead")
    ecs = ctx.client("ecs")
    steps = []
    for key in keys:
        svc = live.one(key)
        stopped = None if to else unfinished_rollback(records, key)
        if stopped is not None:
            goal = stopped.services[key].deployed
            target: history.ReleaseRecord | None = _release_deploying(records, key, goal) or stopped
        else:
            target = history.last_good(records, key, svc.task_definition_arn, svc.tag, to)
        if svc.busy and not replace_deployment:
            where = (f"; it continues the rollback of {stopped.at} to {target.tag}" if stopped and target else "")
            raise UserError(f"{key}: a deployment is in progress ({svc.busy}); wait for it (`invoke release-status "
                            f"--env {env.name}`), then run rollback again. If nothing will finish it (its release "
                            f"or rollback was stopped): `{rollback_command(env, keys, True)}`{where}")
        if target is None:
            wanted = f"no release of {to[:40]} that succeeded" if to else \
                "nothing to roll back to: no earlier release that succeeded and differs from what runs now"
            raise UserError(f"{key}: {wanted} (it runs {svc.tag}); the history holds: "
                            + (", ".join(sorted({f"{r.tag} ({r.outcome})" for r in records if key in r.services}))
                               or "none"))
        if stopped is not None:
            step = RollbackStep(svc, target, leaving=stopped.services[key].previous, continues=stopped,
                                arrived=svc.task_definition_arn == goal and not svc.busy)
            if step.arrived:
                steps.append(step)
                continue
        else:
            step = RollbackStep(svc, target)
        if to and step.to == svc.task_definition_arn:
            raise UserError(f"{key} already runs {to[:40]} ({short_td(svc.task_definition_arn)})")
        status = ecs.describe_task_definition(taskDefinition=step.to)["taskDefinition"].get("status")
        if status != "ACTIVE":
            raise UserError(f"{key}: {short_td(step.to)} (release {target.tag}) is {status}; it can no longer run")
        repository = live.stack.outputs.get(REPOSITORY_NAME, "")
        digest = find_image(ctx.client("ecr"), repository, target.tag) if repository else ""
        if repository and digest is None:
            raise UserError(f"{key}: the image of release {target.tag} is no longer in {repository} (expired by its "
                            "lifecycle rule?): its tasks could not start. Nothing changed; release a known-good tag "
                            "that ECR still has (`invoke release --tag TAG --no-build`)")
        if digest and target.digest and digest != target.digest:
            raise UserError(f"{key}: the tag {target.tag} now names another image in {repository} ({digest[:19]}; "
                            f"released as {target.digest[:19]}): someone pushed over it, and rolling back would "
                            "deploy an image nobody released. Nothing changed; push the released image back under "
                            "its tag, or release a new tag")
        steps.append(step)
    return live, steps


def apply_rollback(ctx: Ctx, live: LiveServices, steps: list[RollbackStep], timeout: float) -> Outcome:
    """Deploy each step's revision and watch; a stop (a signal, Ctrl-C) ends the watch, and what ECS runs then
    is recorded (_stopped_rollback). ECS carries on with a rollback whose watch stopped."""
    env, console, ecs = ctx.env, ctx.console, ctx.client("ecs")
    first = steps[0].target
    record = history.start(ctx, "rollback", first.tag, first.digest, {
        s.service.key: history.ServiceChange(previous=s.previous, deployed=s.to) for s in steps})
    watched: list[Target] = []
    try:
        for s in steps:
            if s.arrived:
                console.line(f"{s.service.key}: already on {s.target.tag} ({short_td(s.to)}): the rollback of "
                             f"{s.continues.at if s.continues else '?'} got it there")
                watched.append(Target(s.service.key, s.service.name, s.to, s.previous, s.service.primary.get("id", ""),
                                      State.SUCCEEDED))
                continue
            updated = ecs.update_service(cluster=live.cluster, service=s.service.name, taskDefinition=s.to)["service"]
            ctx.record(f"started rolling {s.service.key} back to {short_td(s.to)}",
                       f"`invoke release-status --env {env.name}`")
            watched.append(Target(s.service.key, s.service.name, s.to, s.previous, deployment_id_for(updated, s.to)))
        pending = [t for t in watched if t.state is State.IN_PROGRESS]
        if pending:
            watch_deployments(ctx, live.cluster, pending, timeout, label="rollback")
    except KeyboardInterrupt as stop:
        with held("where the stopped rollback stands is recorded and the deploy lock is given back"):
            return _stopped_rollback(ctx, live, steps, record, stop)
    if all(t.state is State.SUCCEEDED for t in watched):
        history.finish(ctx, record, history.SUCCEEDED)
        hold_to_the_end(ENDED)
        console.ok("rolled back: " + ", ".join(f"{t.key} on {s.target.tag} ({short_td(t.task_definition)})"
                                              for t, s in zip(watched, steps, strict=True)))
        return Outcome.APPLIED
    failed = [t for t in watched if t.state is not State.SUCCEEDED]
    for t in failed:
        console.error(f"{t.key}: {t.state.value}: {t.reason}")
    history.finish(ctx, record, history.FAILED, "; ".join(f"{t.key}: {t.reason}" for t in failed))
    hold_to_the_end(ENDED)
    console.error(f"the rollback did not complete: `invoke release-status --env {env.name}`; "
                  f"`{rollback_command(env, [s.service.key for s in steps])}` tries it again")
    return Outcome.NEEDS_HUMAN


def _stopped_rollback(ctx: Ctx, live: LiveServices, steps: list[RollbackStep], record: history.ReleaseRecord,
                      stop: KeyboardInterrupt) -> Outcome:
    """Record where a stopped rollback stands, from what ECS runs now (a call in flight may or may not have
    been applied): every service there, settled: succeeded (exit 0). One ECS is still deploying and none left
    behind: in progress, ECS carries on (exit 4). One it never reached: failed (exit 4). Either way the next
    rollback continues this one (unfinished_rollback), never returning to what it was leaving."""
    env, console = ctx.env, ctx.console
    name = getattr(stop, "signal_name", "") or "Ctrl-C"
    described = {d["serviceName"]: d for d in ctx.client("ecs").describe_services(
        cluster=live.cluster, services=[s.service.name for s in steps])["services"]}
    landed, deploying, behind = [], [], []
    for s in steps:
        svc = described.get(s.service.name, {})
        if primary_of(svc).get("taskDefinition") != s.to:
            behind.append(s)
        elif in_progress(svc):
            deploying.append(s)
        else:
            landed.append(s)
    words = ", ".join([f"{s.service.key} on {s.target.tag}" for s in landed]
                      + [f"{s.service.key} still deploying {s.target.tag}" for s in deploying]
                      + [f"{s.service.key} not rolled back" for s in behind])
    keys = [s.service.key for s in steps]
    if not deploying and not behind:
        history.finish(ctx, record, history.SUCCEEDED, f"{name} came after ECS had finished")
        hold_to_the_end(ENDED)
        console.ok(f"rolled back: {words} ({name} came after ECS had finished)")
        return Outcome.APPLIED
    if behind:
        history.finish(ctx, record, history.FAILED, f"stopped by {name}: {words}")
    else:
        history.finish(ctx, record, history.IN_PROGRESS, f"watch stopped by {name}; ECS carries on: {words}")
    hold_to_the_end(ENDED)
    console.error(f"rollback stopped by {name}: {words}")
    if deploying:
        console.error(f"ECS carries on deploying {', '.join(s.service.key for s in deploying)} without this command: "
                      f"`invoke release-status --env {env.name}` shows when it is done. If it never finishes"
                      + (", or to finish the rest" if behind else "")
                      + f": `{rollback_command(env, keys, True)}` continues this rollback "
                      "(to where it was going, never back to what it was leaving)")
    else:
        console.error(f"`{rollback_command(env, keys)}` continues this rollback (to where it was going, never back "
                      "to what it was leaving)")
    return Outcome.NEEDS_HUMAN
