"""One-off tasks: a command in a fresh Fargate task from a service's task definition, log streamed, exit code kept.

The task gets the service's own network (private subnets, its security
group), secrets and configuration: only the command is overridden. Used by
`invoke run` and by `release --migrate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .clients import ClientSource
from ..context import Clock, Sleep
from ..errors import error_code
from ..console import Console, elapsed
from ..outcomes import JOURNAL


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


def run_one_off(aws: ClientSource, job: OneOff, command: Sequence[str], console: Console, clock: Clock,
                sleep: Sleep, timeout: float, poll: float = 5.0, label: str = "task") -> OneOffResult:
    """Start the task, stream its log lines as they come, wait for it to stop (or stop it at the deadline)."""
    ecs = aws.client("ecs")
    started = ecs.run_task(
        cluster=job.cluster, taskDefinition=job.task_definition, launchType="FARGATE", count=1,
        networkConfiguration=job.network or {}, startedBy=job.started_by,
        overrides={"containerOverrides": [{"name": job.container, "command": list(command)}]},
    )
    if started.get("failures") or not started.get("tasks"):
        reason = (started.get("failures") or [{}])[0].get("reason", "no task started")
        return OneOffResult(False, None, reason)
    task_arn = started["tasks"][0]["taskArn"]
    JOURNAL.record(f"started the one-off {label} {task_arn.rsplit('/', 1)[-1]}",
                   f"`aws ecs stop-task --cluster {job.cluster} --task {task_arn.rsplit('/', 1)[-1]}` if it must stop")
    stream = f"{job.log_prefix}/{job.container}/{task_arn.rsplit('/', 1)[-1]}"
    logs = _LogFollower(aws, job.log_group, stream, console)
    start = clock()
    status = ""
    while True:
        task = ecs.describe_tasks(cluster=job.cluster, tasks=[task_arn])["tasks"][0]
        if task.get("lastStatus") != status:
            status = task.get("lastStatus", "?")
            console.line(f"{elapsed(clock() - start):>6}  {label} {status}", "dim")
        logs.poll()
        if status == "STOPPED":
            break
        if clock() - start > timeout:
            ecs.stop_task(cluster=job.cluster, task=task_arn, reason=f"portyfoul: {label} timed out")
            logs.poll()
            return OneOffResult(True, None, f"still {status} after {timeout:.0f}s; stopped it", timed_out=True)
        sleep(poll)
    logs.poll()
    container = next((c for c in task.get("containers", []) if c.get("name") == job.container), {})
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
