"""shell and run: a shell in a running task (ECS Exec), and a one-off command in a new task.

`shell` goes through ECS Exec: ExecuteCommand opens an SSM session and the
session-manager-plugin (the same binary the AWS CLI uses) connects the
terminal to it. The session token is handed to the plugin and never printed.
`run` starts a fresh task from the service's live task definition with the
command overridden, streams its log and ends with the container's exit code.
"""

from __future__ import annotations

import json
import shlex
import shutil
from typing import Callable

from ..aws.clients import print_header
from ..aws.oneoff import OneOff, run_one_off
from ..aws.services import LiveService, LiveServices, read_services
from ..context import Ctx
from ..contract import SERVICES
from ..errors import UserError
from ..options import RunOptions, ShellOptions
from ..outcomes import Outcome, Result

PLUGIN = "session-manager-plugin"
PLUGIN_HINT = ("the AWS Session Manager plugin is not installed (`session-manager-plugin` is not on PATH): "
               "install it as the AWS documentation 'Install the Session Manager plugin for the AWS CLI' says, "
               "then run this again")
Which = Callable[[str], "str | None"]


def _service(ctx: Ctx, key: str) -> tuple[LiveServices, LiveService]:
    """The running services and the one for web or worker; UserError when it is not there."""
    if key not in SERVICES:
        raise UserError(f"unknown service {key!r}; choose web or worker")
    live = read_services(ctx, [key])
    if not live.cluster:
        raise UserError(f"stack {ctx.env.stack_name} has no {key} service outputs: run `invoke stack-update` first")
    return live, live.one(key)


# ---------------------------------------------------------------- shell

def shell(ctx: Ctx, opts: ShellOptions, which: Which = shutil.which) -> Result:
    env, console = ctx.env, ctx.console
    plugin = which(PLUGIN)
    if not plugin:
        raise UserError(PLUGIN_HINT)
    print_header(ctx)
    live, svc = _service(ctx, opts.service)
    cluster = live.cluster
    ecs = ctx.client("ecs")
    if opts.task:
        arns = [opts.task]
    else:
        arns = ecs.list_tasks(cluster=cluster, serviceName=svc.name, desiredStatus="RUNNING").get("taskArns", [])
        if not arns:
            raise UserError(f"{opts.service} runs no task to open a shell in (`invoke release-status`)")
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:1]).get("tasks", [])
    if not tasks or tasks[0].get("lastStatus") != "RUNNING":
        raise UserError(f"task {arns[0].rsplit('/', 1)[-1]} is not RUNNING in {cluster}")
    task = tasks[0]
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    if not task.get("enableExecuteCommand"):
        raise UserError(
            f"task {task_id} started before ECS Exec was enabled on {svc.name}: redeploy it (`invoke "
            f"stack-update --env {env.name}`, then `invoke release --no-build --tag <the running tag>`) and try again")
    container = SERVICES[opts.service].container
    console.line(f"{opts.service}: task {task_id}, container {container}: {opts.command} "
                 "(the session is logged to the exec log group)")
    session = ecs.execute_command(cluster=cluster, task=task["taskArn"], container=container, interactive=True,
                                  command=opts.command)["session"]
    target = {"Target": f"ecs:{cluster}_{task_id}_{_runtime_id(task, container)}"}
    endpoint = f"https://ssm.{env.region}.amazonaws.com"
    # As the AWS CLI does it: the session (with its token) and the target go to the plugin as arguments.
    code = ctx.runner([plugin, json.dumps(session), env.region, "StartSession", "", json.dumps(target), endpoint], None)
    if code != 0:
        failed = Result(Outcome.COMMAND_FAILED, detail=code)
        console.error(f"the session ended with exit code {code}; `invoke shell` exits {failed.exit_code} (10 + its "
                      "code, as `invoke run` does: never one of this tool's own codes)")
        return failed
    return Result(Outcome.NO_CHANGES)


def _runtime_id(task: dict, container: str) -> str:
    return next((c.get("runtimeId", "") for c in task.get("containers", []) if c.get("name") == container), "")


# ---------------------------------------------------------------- run

def run(ctx: Ctx, opts: RunOptions) -> Result:
    """NO_CHANGES when the command exited 0; COMMAND_FAILED with its exit code; NEEDS_HUMAN when the task never ran
    to its end."""
    console = ctx.console
    if not opts.command or not opts.command[0].strip():
        raise UserError("no command: `invoke run --service web -- npm run report` (the command follows --)")
    print_header(ctx)
    live, svc = _service(ctx, opts.service)
    task_definition = svc.task_definition_arn
    job = OneOff(live.cluster, task_definition, svc.ref.container, svc.network, svc.log_group, opts.service,
                 "portyfoul-run")
    console.line(f"run on {opts.service}'s task definition {task_definition.rsplit('/', 1)[-1]}: "
                 f"{shlex.join(opts.command)}")
    result = run_one_off(ctx, job, opts.command, opts.timeout, label="task")
    if not result.started:
        raise UserError(f"the task did not start: {result.reason}")
    if result.timed_out:
        console.error(f"the task {result.reason}")
        return Result(Outcome.NEEDS_HUMAN)
    if result.exit_code == 0:
        console.ok("the command exited 0")
        return Result(Outcome.NO_CHANGES)
    if not isinstance(result.exit_code, int) or result.exit_code < 0:
        console.error(f"the task stopped without an exit code: {result.reason or 'no reason given'}")
        return Result(Outcome.NEEDS_HUMAN)
    failed = Result(Outcome.COMMAND_FAILED, detail=result.exit_code)
    console.error(f"the command failed: it exited {result.exit_code} ({result.reason or 'no reason given'}); "
                  f"`invoke run` exits {failed.exit_code} (10 + its code, so it never reads as this tool's own "
                  "2, 3 or 4)")
    return failed
