"""Release: register new task definitions, migrate, deploy web and worker, watch, roll back, diagnose.

Building and pushing the image is images.py's. Everything takes its
clients, clock and sleep, so the tests drive it with fakes and a virtual
clock. The rollback targets (the revisions running before the release) are
checked ACTIVE before anything changes, and are never pruned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .. import contract as out
from .clients import ClientSource, collect
from ..context import Clock, Sleep
from ..errors import error_code
from ..config import PLATFORMS, Environment
from ..console import Console
from ..contract import SERVICES, ServiceRef
from .deployments import State, Target, deployment_id_for, in_progress, short_td, watch_deployments
from ..errors import UserError
from .oneoff import OneOff, run_one_off
from ..outcomes import JOURNAL
from .stacks import require_stack


@dataclass
class LiveService:
    ref: ServiceRef
    name: str
    task_definition_arn: str
    task_definition: dict
    tags: list
    log_group: str
    network: dict
    desired_count: int = 0

    @property
    def image(self) -> str:
        return container_of(self.task_definition, self.ref.container)["image"]


@dataclass
class Context:
    env: Environment
    cluster: str
    repository_uri: str
    repository_name: str
    services: list[LiveService]
    platform: str
    warnings: list[str] = field(default_factory=list)


def container_of(td: dict, name: str) -> dict:
    for c in td.get("containerDefinitions", []):
        if c["name"] == name:
            return c
    raise UserError(f"task definition {short_td(td.get('taskDefinitionArn'))} has no container named {name!r}")


# ---------------------------------------------------------------- preflight

def load_context(aws: ClientSource, env: Environment, keys: list[str]) -> Context:
    """Read the stack and services; refuse (UserError) when the release could not safely start."""
    stack = require_stack(aws.client("cloudformation"), env.stack_name, env.name)
    if not stack.status.endswith("_COMPLETE") or stack.status == "ROLLBACK_COMPLETE":
        raise UserError(f"stack {env.stack_name} is {stack.status}; a release needs a stable stack (*_COMPLETE)")
    missing = [k for k in (out.CLUSTER_NAME, out.REPOSITORY_URI, out.REPOSITORY_NAME) if not stack.outputs.get(k)]
    if missing:
        raise UserError(f"stack {env.stack_name} lacks outputs {', '.join(missing)}: run `invoke stack-update` first")
    cluster = stack.outputs[out.CLUSTER_NAME]
    ecs = aws.client("ecs")
    names = out.service_names(stack.outputs, keys)
    described = {s["serviceName"]: s for s in ecs.describe_services(cluster=cluster, services=list(names.values()))["services"]}
    problems: list[str] = []
    live: list[LiveService] = []
    for key, name in names.items():
        svc = described.get(name)
        if svc is None or svc.get("status") != "ACTIVE":
            problems.append(f"service {name or key} is not ACTIVE in {cluster}")
            continue
        busy = in_progress(svc)
        if busy:
            problems.append(f"service {name} has a deployment in progress ({busy}); wait for it to finish")
        described_td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"], include=["TAGS"])
        td = described_td["taskDefinition"]
        if td.get("status") != "ACTIVE":
            problems.append(f"{short_td(td['taskDefinitionArn'])} (the rollback target for {key}) is {td.get('status')}")
        live.append(LiveService(SERVICES[key], name, svc["taskDefinition"], td, described_td.get("tags", []),
                                stack.outputs.get(SERVICES[key].log_output, ""), svc.get("networkConfiguration", {}),
                                svc.get("desiredCount", 0)))
    if problems:
        raise UserError("preflight: " + "; ".join(problems))
    archs = {s.task_definition.get("runtimePlatform", {}).get("cpuArchitecture", "X86_64") for s in live}
    if len(archs) > 1:
        raise UserError(f"the task definitions disagree on CPU architecture ({', '.join(sorted(archs))})")
    return Context(env, cluster, stack.outputs[out.REPOSITORY_URI], stack.outputs[out.REPOSITORY_NAME], live,
                   PLATFORMS[archs.pop()])


def check_secrets(aws: ClientSource, ctx: Context) -> list[str]:
    """Every secret and parameter the task definitions reference exists and is not a placeholder.

    Values are compared and dropped here; they are never printed or kept.
    Returns warnings (optional secrets); raises UserError for required ones.
    """
    optional = {s.env_var for s in out.APP_SECRETS if not s.required}
    sm, ssm = aws.client("secretsmanager"), aws.client("ssm")
    refs: dict[str, set[str]] = {}
    for s in ctx.services:
        for c in s.task_definition.get("containerDefinitions", []):
            for sec in c.get("secrets", []):
                refs.setdefault(sec["valueFrom"], set()).add(sec["name"])
    errors, warnings = [], []
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
                (warnings if is_optional else errors).append(f"{label}: secret {_secret_name(secret_id)} does not exist")
                continue
            raise
        placeholder = out.is_placeholder(value)
        del value
        if placeholder:
            msg = f"{label}: secret {_secret_name(secret_id)} still holds its placeholder; set it with `invoke secrets-set`"
            (warnings if is_optional else errors).append(msg)
    if errors:
        raise UserError("preflight: " + "; ".join(errors))
    return warnings


def _secret_id(value_from: str) -> str:
    """The secret ARN without a `:jsonkey:version-stage:version-id` suffix."""
    parts = value_from.split(":")
    return ":".join(parts[:7]) if value_from.startswith("arn:") and len(parts) > 7 else value_from


def _secret_name(secret_id: str) -> str:
    name = secret_id.split(":secret:", 1)[-1]
    # ARNs end in -XXXXXX (six random characters) after the name.
    return name[:-7] if len(name) > 7 and name[-7] == "-" else name


# ---------------------------------------------------------------- task definitions

def register_revision(ecs, live: LiveService, image: str) -> tuple[str, list[str]]:
    """Copy the live task definition whole, swap the image of our container only; (new ARN, diff lines)."""
    accepted = set(ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape.members)
    td = {k: v for k, v in live.task_definition.items() if k in accepted}
    containers = [dict(c) for c in td["containerDefinitions"]]
    for c in containers:
        if c["name"] == live.ref.container:
            old_image, c["image"] = c["image"], image
    td["containerDefinitions"] = containers
    if live.tags:
        td["tags"] = live.tags
    new = ecs.register_task_definition(**td)["taskDefinition"]
    diff = [f"{live.ref.key}: {short_td(live.task_definition_arn)} -> {short_td(new['taskDefinitionArn'])}",
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
    arns = active_revisions(ecs, family)
    removed = []
    for arn in arns[keep:]:
        if arn not in protect:
            ecs.deregister_task_definition(taskDefinition=arn)
            removed.append(arn)
    return removed


# ---------------------------------------------------------------- migration

def one_off_from(ctx: Context, live: LiveService, task_definition: str, started_by: str) -> OneOff:
    """A one-off task like `live`'s: its network, secrets, configuration and log group; `task_definition`'s image."""
    return OneOff(ctx.cluster, task_definition, live.ref.container, live.network or {}, live.log_group, live.ref.key,
                  started_by)


def run_migration(aws: ClientSource, ctx: Context, web: LiveService, task_definition: str, command: Sequence[str],
                  console: Console, clock: Clock, sleep: Sleep, timeout: float, poll: float = 5.0) -> bool:
    """A one-off Fargate task from the new web revision; True only if the container exited 0."""
    console.line(f"migrating: {' '.join(command)} (one-off task from {short_td(task_definition)})")
    result = run_one_off(aws, one_off_from(ctx, web, task_definition, "portyfoul-migrate"), command, console, clock,
                         sleep, timeout, poll, label="migration task")
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


def print_log_tail(aws: ClientSource, group: str, stream: str, console: Console, lines: int = 20) -> None:
    if not group:
        return
    try:
        events = aws.client("logs").get_log_events(logGroupName=group, logStreamName=stream, limit=lines,
                                                   startFromHead=False)["events"]
    except Exception as e:
        if error_code(e) == "ResourceNotFoundException":
            console.line(f"  (no log stream {stream})", "dim")
            return
        raise
    for e in events:
        console.line(f"  | {e['message'].rstrip()}", "dim")


# ---------------------------------------------------------------- deploy, watch, roll back

def deploy(ecs, ctx: Context, new_arns: dict[str, str], next_step: str = "`invoke release-status`") -> list[Target]:
    targets = []
    for s in ctx.services:
        svc = ecs.update_service(cluster=ctx.cluster, service=s.name, taskDefinition=new_arns[s.ref.key])["service"]
        JOURNAL.record(f"started deploying {short_td(new_arns[s.ref.key])} to {s.ref.key}", next_step)
        targets.append(Target(s.ref.key, s.name, new_arns[s.ref.key], s.task_definition_arn,
                              deployment_id_for(svc, new_arns[s.ref.key])))
    return targets


def roll_back(aws: ClientSource, ctx: Context, targets: list[Target], console: Console, clock: Clock, sleep: Sleep,
              deadline: float, poll: float) -> list[Target]:
    """Put every touched service back on its previous revision and watch that."""
    ecs = aws.client("ecs")
    back: list[Target] = []
    for t in targets:
        svc = ecs.describe_services(cluster=ctx.cluster, services=[t.service])["services"][0]
        primary = next((d for d in svc["deployments"] if d.get("status") == "PRIMARY"), {})
        if primary.get("taskDefinition") == t.previous and primary.get("rolloutState") == "COMPLETED":
            console.line(f"{t.key}: already back on {short_td(t.previous)} (ECS rolled it back)")
            back.append(Target(t.key, t.service, t.previous, t.task_definition, primary["id"], State.SUCCEEDED))
            continue
        console.line(f"{t.key}: rolling back to {short_td(t.previous)}")
        updated = ecs.update_service(cluster=ctx.cluster, service=t.service, taskDefinition=t.previous)["service"]
        JOURNAL.record(f"started rolling {t.key} back to {short_td(t.previous)}", "`invoke release-status`")
        back.append(Target(t.key, t.service, t.previous, t.task_definition, deployment_id_for(updated, t.previous)))
    pending = [b for b in back if b.state is State.IN_PROGRESS]
    if pending:
        watch_deployments(ecs, ctx.cluster, pending, console, clock, sleep, deadline, poll, label="rollback")
    return back


def firing_alarms(aws: ClientSource, ctx: Context, targets: list[Target]) -> dict[str, list[dict]]:
    """key -> the deployment alarms of that service now in ALARM (the ones that roll a release back)."""
    ecs = aws.client("ecs")
    services = ecs.describe_services(cluster=ctx.cluster, services=[t.service for t in targets]).get("services", [])
    names = {s["serviceName"]: s.get("deploymentConfiguration", {}).get("alarms", {}).get("alarmNames", [])
             for s in services}
    wanted = sorted({n for ns in names.values() for n in ns})
    if not wanted:
        return {}
    alarms = aws.client("cloudwatch").describe_alarms(AlarmNames=wanted, StateValue="ALARM").get("MetricAlarms", [])
    return {t.key: [a for a in alarms if a["AlarmName"] in names.get(t.service, [])] for t in targets}


def diagnose(aws: ClientSource, ctx: Context, targets: list[Target], console: Console, limit: int = 3) -> None:
    """Why the release failed: deployment alarms in ALARM, stopped tasks' reasons, exit codes, last log lines."""
    ecs = aws.client("ecs")
    for key, alarms in firing_alarms(aws, ctx, targets).items():
        for a in alarms:
            console.error(f"{key}: alarm {a['AlarmName']} is in ALARM, and it rolls a deployment back: "
                          f"{a.get('StateReason', '')[:200]}")
    for t in targets:
        live = next(s for s in ctx.services if s.ref.key == t.key)
        arns = ecs.list_tasks(cluster=ctx.cluster, serviceName=t.service, desiredStatus="STOPPED").get("taskArns", [])
        if not arns:
            console.line(f"{t.key}: no stopped tasks to diagnose")
            continue
        tasks = ecs.describe_tasks(cluster=ctx.cluster, tasks=arns[:100])["tasks"]
        failed = [x for x in tasks if x.get("taskDefinitionArn") == t.task_definition][:limit]
        for task in failed:
            task_id = task["taskArn"].rsplit("/", 1)[-1]
            console.line(f"{t.key} task {task_id}: {task.get('stoppedReason', 'no stoppedReason')}")
            for c in task.get("containers", []):
                console.line(f"  container {c['name']}: exit code {c.get('exitCode', 'none')}"
                             + (f" ({c['reason']})" if c.get("reason") else ""))
                if "exec format error" in (c.get("reason") or "") + (task.get("stoppedReason") or ""):
                    console.line(f"  hint: the image was built for another CPU architecture than {ctx.platform}")
            print_log_tail(aws, live.log_group, f"{t.key}/{live.ref.container}/{task_id}", console, lines=10)
