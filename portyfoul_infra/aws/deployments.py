"""Watching ECS deployments: follow the deployment we started, never "the service is stable".

A deployment succeeds only when ECS says its rollout COMPLETED *and* the
PRIMARY deployment still runs the task definition we registered. A circuit
breaker rollback, a FAILED rollout, or another deployment replacing ours is
a failure, whatever the running counts say.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..console import elapsed
from ..context import Ctx
from .wait import poll_until


class State(enum.Enum):
    IN_PROGRESS = "in progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed out"


@dataclass
class Target:
    """One service we changed: what we deployed and what to go back to."""
    key: str                 # "web" | "worker"
    service: str
    task_definition: str     # the revision this operation deployed
    previous: str            # the revision it replaced (the rollback target)
    deployment_id: str = ""
    state: State = State.IN_PROGRESS
    reason: str = ""
    seconds: float = 0.0


def deployment_id_for(service: dict, task_definition: str) -> str:
    """The id of the PRIMARY deployment running `task_definition` (right after UpdateService)."""
    for d in service.get("deployments", []):
        if d.get("status") == "PRIMARY" and d.get("taskDefinition") == task_definition:
            return d["id"]
    return ""


def assess(target: Target, service: dict) -> tuple[State, str]:
    """Where `target`'s deployment stands, from one DescribeServices entry."""
    deployments = service.get("deployments", [])
    ours = next((d for d in deployments if d.get("id") == target.deployment_id), None)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if ours is not None and ours.get("rolloutState") == "FAILED":
        return State.FAILED, ours.get("rolloutStateReason") or "deployment failed"
    if primary is None:
        return State.FAILED, "the service has no PRIMARY deployment"
    if primary.get("taskDefinition") != target.task_definition:
        if primary.get("taskDefinition") == target.previous:
            return State.FAILED, ("ECS rolled back to the previous revision (deployment circuit breaker): "
                                  + (primary.get("rolloutStateReason") or "the new tasks did not become healthy"))
        return State.FAILED, f"another deployment replaced ours (now running {short_td(primary.get('taskDefinition'))})"
    if ours is None or primary.get("id") != target.deployment_id:
        return State.FAILED, f"another deployment ({primary.get('id')}) replaced ours"
    if ours.get("rolloutState") == "COMPLETED":
        return State.SUCCEEDED, ours.get("rolloutStateReason", "")
    return State.IN_PROGRESS, ours.get("rolloutStateReason", "")


def in_progress(service: dict) -> str:
    """The id of a deployment of `service` that has not finished (a rollout in progress, or an older
    deployment still draining), or "" when the service is settled."""
    for d in service.get("deployments", []):
        if d.get("rolloutState") == "IN_PROGRESS" or d.get("status") != "PRIMARY":
            return d.get("id", "?")
    return ""


def short_td(arn: str | None) -> str:
    return (arn or "?").rsplit("/", 1)[-1]


@dataclass
class _Seen:
    events: set[str] = field(default_factory=set)
    rows: dict[str, tuple] = field(default_factory=dict)


def watch_deployments(ctx: Ctx, cluster: str, targets: list[Target], deadline_seconds: float,
                      poll_seconds: float = 5.0, label: str = "deploy") -> list[Target]:
    """Poll until every target succeeded or failed, or the one deadline passes. Mutates and returns targets."""
    ecs, console = ctx.client("ecs"), ctx.console
    seen = _Seen()
    names = [t.service for t in targets]
    # Events already on the service belong to earlier operations.
    for svc in ecs.describe_services(cluster=cluster, services=names)["services"]:
        seen.events.update(e["id"] for e in svc.get("events", []))

    def fetch() -> dict[str, dict]:
        return {s["serviceName"]: s for s in ecs.describe_services(cluster=cluster, services=names)["services"]}

    def show(services: dict[str, dict], now: float) -> None:
        for t in targets:
            svc = services.get(t.service)
            if svc is None:
                t.state, t.reason = State.FAILED, "service not found"
                continue
            for e in reversed(svc.get("events", [])):
                if e["id"] not in seen.events:
                    seen.events.add(e["id"])
                    console.line(f"{elapsed(now):>6}  {t.key:<7} {e.get('message', '')}", "dim")
            if t.state is not State.IN_PROGRESS:
                continue
            t.state, t.reason = assess(t, svc)
            t.seconds = now
            ours: dict = next((d for d in svc.get("deployments", []) if d.get("id") == t.deployment_id), {})
            row = (ours.get("desiredCount", svc.get("desiredCount")), ours.get("runningCount", svc.get("runningCount")),
                   ours.get("pendingCount", svc.get("pendingCount")), ours.get("failedTasks", 0))
            if seen.rows.get(t.key) != (row, t.state):
                seen.rows[t.key] = (row, t.state)
                colour = {State.SUCCEEDED: "green", State.FAILED: "red"}.get(t.state)
                console.line(f"{elapsed(now):>6}  {t.key:<7} {label} {short_td(t.task_definition):<28} "
                             f"desired {row[0]} running {row[1]} pending {row[2]} failed {row[3]}  {t.state.value}",
                             colour)

    polled = poll_until(ctx, fetch, lambda _: all(t.state is not State.IN_PROGRESS for t in targets),
                        timeout=deadline_seconds, interval=poll_seconds, on_poll=show,
                        waiting="waiting for " + ", ".join(t.key for t in targets))
    if polled.timed_out:
        for t in targets:
            if t.state is State.IN_PROGRESS:
                t.state, t.reason, t.seconds = State.TIMED_OUT, f"not complete after {deadline_seconds:.0f}s", polled.seconds
    return targets
