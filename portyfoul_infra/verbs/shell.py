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
from typing import Callable, Sequence

from .. import contract as out
from ..aws.clients import ClientSource, print_header
from ..context import Clock, Sleep
from ..config import Environment
from ..console import Console
from ..contract import SERVICES, service_names
from ..errors import UserError
from ..aws.oneoff import OneOff, run_one_off
from ..options import RunOptions, ShellOptions
from ..outcomes import Outcome
from ..aws.stacks import require_stack

PLUGIN = "session-manager-plugin"
PLUGIN_HINT = ("the AWS Session Manager plugin is not installed (`session-manager-plugin` is not on PATH): "
               "install it as the AWS documentation 'Install the Session Manager plugin for the AWS CLI' says, "
               "then run this again")
Runner = Callable[[Sequence[str], str | None], int]
Which = Callable[[str], "str | None"]


def _service(aws: ClientSource, env: Environment, key: str) -> tuple[str, dict]:
    """(cluster, the ECS service description) for web or worker; UserError when it is not there."""
    if key not in SERVICES:
        raise UserError(f"unknown service {key!r}; choose web or worker")
    stack = require_stack(aws.client("cloudformation"), env.stack_name, env.name)
    cluster = stack.outputs.get(out.CLUSTER_NAME, "")
    name = service_names(stack.outputs).get(key, "")
    if not cluster or not name:
        raise UserError(f"stack {env.stack_name} has no {key} service outputs: run `invoke stack-update` first")
    described = aws.client("ecs").describe_services(cluster=cluster, services=[name]).get("services", [])
    if not described or described[0].get("status") != "ACTIVE":
        raise UserError(f"service {name} is not ACTIVE in {cluster}")
    return cluster, {**described[0], "_log_group": stack.outputs.get(SERVICES[key].log_output, "")}


# ---------------------------------------------------------------- shell

def shell(aws: ClientSource, env: Environment, console: Console, opts: ShellOptions, runner: Runner,
          which: Which = shutil.which) -> Outcome:
    plugin = which(PLUGIN)
    if not plugin:
        raise UserError(PLUGIN_HINT)
    print_header(aws, env, console)
    cluster, svc = _service(aws, env, opts.service)
    ecs = aws.client("ecs")
    if opts.task:
        arns = [opts.task]
    else:
        arns = ecs.list_tasks(cluster=cluster, serviceName=svc["serviceName"], desiredStatus="RUNNING").get("taskArns", [])
        if not arns:
            raise UserError(f"{opts.service} runs no task to open a shell in (`invoke release-status`)")
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns[:1]).get("tasks", [])
    if not tasks or tasks[0].get("lastStatus") != "RUNNING":
        raise UserError(f"task {arns[0].rsplit('/', 1)[-1]} is not RUNNING in {cluster}")
    task = tasks[0]
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    if not task.get("enableExecuteCommand"):
        raise UserError(
            f"task {task_id} started before ECS Exec was enabled on {svc['serviceName']}: redeploy it (`invoke "
            f"stack-update --env {env.name}`, then `invoke release --no-build --tag <the running tag>`) and try again")
    container = SERVICES[opts.service].container
    console.line(f"{opts.service}: task {task_id}, container {container}: {opts.command} "
                 "(the session is logged to the exec log group)")
    session = ecs.execute_command(cluster=cluster, task=task["taskArn"], container=container, interactive=True,
                                  command=opts.command)["session"]
    target = {"Target": f"ecs:{cluster}_{task_id}_{_runtime_id(task, container)}"}
    endpoint = f"https://ssm.{env.region}.amazonaws.com"
    # As the AWS CLI does it: the session (with its token) and the target go to the plugin as arguments.
    code = runner([plugin, json.dumps(session), env.region, "StartSession", "", json.dumps(target), endpoint], None)
    if code != 0:
        console.error(f"the session ended with exit code {code}")
        return Outcome.NEEDS_HUMAN
    return Outcome.NO_CHANGES


def _runtime_id(task: dict, container: str) -> str:
    return next((c.get("runtimeId", "") for c in task.get("containers", []) if c.get("name") == container), "")


# ---------------------------------------------------------------- run

def run(aws: ClientSource, env: Environment, console: Console, opts: RunOptions, clock: Clock,
        sleep: Sleep) -> Outcome | int:
    """The container's exit code (0 is success), or an Outcome when the task never ran to its end."""
    if not opts.command:
        raise UserError("no command: `invoke run --service web -- npm run report` (the command follows --)")
    print_header(aws, env, console)
    cluster, svc = _service(aws, env, opts.service)
    task_definition = svc["taskDefinition"]
    network = svc.get("networkConfiguration") or {}
    job = OneOff(cluster, task_definition, SERVICES[opts.service].container, network, svc["_log_group"],
                 opts.service, "portyfoul-run")
    console.line(f"run on {opts.service}'s task definition {task_definition.rsplit('/', 1)[-1]}: "
                 f"{shlex.join(opts.command)}")
    result = run_one_off(aws, job, opts.command, console, clock, sleep, opts.timeout, opts.poll_seconds, label="task")
    if not result.started:
        raise UserError(f"the task did not start: {result.reason}")
    if result.timed_out:
        console.error(f"the task {result.reason}")
        return Outcome.NEEDS_HUMAN
    if result.exit_code == 0:
        console.ok("exit code 0")
        return 0
    console.error(f"exit code {result.exit_code if result.exit_code is not None else 'none'}: "
                  f"{result.reason or 'no reason given'}")
    return result.exit_code if isinstance(result.exit_code, int) and result.exit_code > 0 else Outcome.NEEDS_HUMAN
