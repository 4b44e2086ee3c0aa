"""One-off tasks: a command in a fresh Fargate task from a service's task definition, log streamed, exit code kept.

The task gets the service's own network (private subnets, its security
group), secrets and configuration: only the command is overridden. Used by
`invoke run` and by `release --migrate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..console import Console, elapsed
from ..context import ClientSource, Ctx
from ..errors import error_code
from .wait import poll_until


@dataclass(frozen=True)
class OneOff:
    cluster: str
    task_definition: str
    container: str
    network: dict
    log_group: str
    log_prefix: str        # the awslogs-stream-prefix: streams are prefix/container/task-id
    started_by: str


@dataclass(frozen=True)
class OneOffResult:
    started: bool
    exit_code: int | None
    reason: str
    timed_out: bool = False

    @property
    def succeeded(self) -> bool:
        return self.started and self.exit_code == 0 and not self.timed_out


def run_one_off(ctx: Ctx, job: OneOff, command: Sequence[str], timeout: float, poll: float = 5.0,
                label: str = "task") -> OneOffResult:
    """Start the task, stream its log lines as they come, wait for it to stop (or stop it at the deadline)."""
    ecs = ctx.client("ecs")
    started = ecs.run_task(
        cluster=job.cluster, taskDefinition=job.task_definition, launchType="FARGATE", count=1,
        networkConfiguration=job.network or {}, startedBy=job.started_by,
        overrides={"containerOverrides": [{"name": job.container, "command": list(command)}]},
    )
    if started.get("failures") or not started.get("tasks"):
        reason = (started.get("failures") or [{}])[0].get("reason", "no task started")
        return OneOffResult(False, None, reason)
    task_arn = started["tasks"][0]["taskArn"]
    task_id = task_arn.rsplit("/", 1)[-1]
    ctx.record(f"started the one-off {label} {task_id}",
               f"`aws ecs stop-task --cluster {job.cluster} --task {task_id}` if it must stop")
    logs = _LogFollower(ctx.aws, job.log_group, f"{job.log_prefix}/{job.container}/{task_id}", ctx.console)
    shown = {"status": ""}

    def show(task: dict, now: float) -> None:
        if task.get("lastStatus") != shown["status"]:
            shown["status"] = task.get("lastStatus", "?")
            ctx.console.line(f"{elapsed(now):>6}  {label} {shown['status']}", "dim")
        logs.poll()

    polled = poll_until(ctx, lambda: ecs.describe_tasks(cluster=job.cluster, tasks=[task_arn])["tasks"][0],
                        lambda task: task.get("lastStatus") == "STOPPED", timeout=timeout, interval=poll,
                        on_poll=show, waiting=f"{label} running ...")
    if polled.timed_out:
        ecs.stop_task(cluster=job.cluster, task=task_arn, reason=f"portyfoul: {label} timed out")
        logs.poll()
        return OneOffResult(True, None, f"still {shown['status']} after {timeout:.0f}s; stopped it", timed_out=True)
    logs.poll()
    task = polled.value
    container: dict = next((c for c in task.get("containers", []) if c.get("name") == job.container), {})
    reason = container.get("reason") or task.get("stoppedReason") or ""
    return OneOffResult(True, container.get("exitCode"), reason)


class _LogFollower:
    """The task's log stream, each line printed once, oldest first."""

    def __init__(self, aws: ClientSource, group: str, stream: str, console: Console):
        self.client = aws.client("logs") if group else None
        self.group, self.stream, self.console = group, stream, console
        self.token: str | None = None

    def poll(self) -> None:
        if self.client is None:
            return
        kwargs = {"logGroupName": self.group, "logStreamName": self.stream, "startFromHead": True}
        if self.token:
            kwargs["nextToken"] = self.token
        try:
            page = self.client.get_log_events(**kwargs)
        except Exception as e:
            if error_code(e) == "ResourceNotFoundException":
                return  # the stream appears when the container first writes
            raise
        for event in page.get("events", []):
            self.console.line(f"  | {event['message'].rstrip()}")
        self.token = page.get("nextForwardToken") or self.token
