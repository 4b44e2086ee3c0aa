"""The sandbox: the whole lifecycle on this machine, against a local AWS (moto) on 127.0.0.1.

Build the template into a scratch directory, then one of three scenarios, each step a verb a user runs:
- lifecycle: create the dev stack, set a stand-in Finnhub key, seed a demo image into the local ECR, release it
  with --no-build, start the services, show release and stack status;
- failed-release: the lifecycle, then a release whose container crashes (rolled back and diagnosed), a good
  release, and a rollback that lands on the last good one;
- adopt: stand in for the live hand-built stack (stand_ins/live-stack-phases.json, the plan's phases 1-6 by
  hand), adopt it, converge, and show that the database, secrets (values included), repository, log groups and
  network kept their identity.
The local AWS is this run's own (runner.local_run); with --keep it stays up and the endpoint to use with every
other task is printed.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable

from ..artifacts.generated import refresh
from ..aws.stacks import describe_stack
from ..config import ENVIRONMENTS
from ..context import Ctx
from ..contract import REPOSITORY_NAME, REPOSITORY_URI
from ..errors import UserError
from ..local import server as local_aws
from ..options import (
    AdoptOptions,
    DiffOptions,
    ReadOptions,
    ReleaseOptions,
    RollbackOptions,
    SandboxOptions,
    SecretsSetOptions,
    UpdateOptions,
)
from ..outcomes import Outcome, Result
from ..verbs.adopt import adopt
from ..verbs.release import release, release_status, rollback
from ..verbs.secrets import secrets_set
from ..verbs.stack import stack_diff, stack_status, stack_update
from .runner import STAND_IN_CREDENTIALS, LocalRun, Step, expect, require_free_port, run_locally
from .witness import compare, witness

DEMO_TAG = "demo0001"
CRASH_TAG = "demo0002-crash"
GOOD_TAG = "demo0003"
STAND_INS = Path(__file__).resolve().parent / "stand_ins"
LIVE_FIXTURE = STAND_INS / "live-stack-phases.json"
CONSUMER_FIXTURE = STAND_INS / "consumer-stack.json"
CONSUMER_STACK = "portyfoul-reports"
SANDBOX_FINNHUB_KEY = "sandbox-finnhub-key-set-by-hand"
DONE = {"adopt": "sandbox: took over the hand-built stack in place, with every value and physical ID kept",
        "failed-release": "sandbox: a failed release rolled back and was diagnosed; rollback landed on the last good "
                          "release",
        "lifecycle": "sandbox: created, released and checked the whole stack locally"}


def sandbox(ctx: Ctx, opts: SandboxOptions, wait_forever: Callable[[], None] | None = None) -> Result:
    """The scenario on a local AWS of its own; a --port something answers on or holds is refused before anything
    starts. Ends 0 when every step behaved, 2 where one did not, 130 or 143 on SIGINT or SIGTERM (the local AWS
    stops however it ends); nothing outside this machine changes either way."""
    require_free_port(opts.port, "the sandbox")
    console = ctx.console
    console.heading("sandbox: against a local AWS (moto) on 127.0.0.1; nothing leaves this machine")
    console.heading("build the template (into a temporary directory: generated/ is left as it is)")
    with tempfile.TemporaryDirectory(prefix="portyfoul-sandbox-") as scratch:
        report = refresh(Path(scratch))
        console.line(f"  {report.template_path}: {report.resource_count} resources, {report.content_hash[:19]}")
        scenario = {"lifecycle": _lifecycle, "adopt": _adoption, "failed-release": _failed_release}[opts.scenario]

        def done(run: LocalRun, result: Result) -> Result:
            console.ok(DONE[opts.scenario])
            if opts.keep:
                _keep(ctx, run.endpoint, wait_forever or _wait_forever)
            return result

        return run_locally(ctx, ENVIRONMENTS["dev"], scenario, port=opts.port, generated=Path(scratch), then=done)


def _keep(ctx: Ctx, endpoint: str, wait_forever: Callable[[], None]) -> None:
    console = ctx.console
    key, secret = STAND_IN_CREDENTIALS
    console.line("the local AWS keeps running; in another shell:")
    console.line(f"  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret}")
    console.line("  invoke release-status   # or any other task; Ctrl-C here stops the server")
    try:
        wait_forever()
    except KeyboardInterrupt:  # the way to end --keep: the run went well
        console.line("stopping the local AWS")


def _lifecycle(ctx: Ctx) -> list[Step]:
    """Create the dev stack, set a key, release a seeded image, start the services, show the status."""
    update = UpdateOptions(yes=True)
    stand_in_key = replace(ctx, read_secret=lambda _: "sandbox-stand-in-key")
    return [
        ("create the dev stack (stack-update --yes): no image yet, so the services start with no tasks",
         lambda: stack_update(ctx, update)),
        ("set a stand-in Finnhub key (secrets-set finnhub-api-key)",
         lambda: secrets_set(stand_in_key, SecretsSetOptions(name="finnhub-api-key"))),
        (f"seed image {DEMO_TAG} into the local ECR and release it (release --tag {DEMO_TAG} --no-build)",
         lambda: _seed_and_release(ctx)),
        ("start the services on the release (stack-update --yes)", lambda: stack_update(ctx, update)),
        ("release-status", lambda: release_status(ctx, ReadOptions())),
        ("stack-status", lambda: stack_status(ctx, ReadOptions())),
    ]


def _failed_release(ctx: Ctx) -> list[Step]:
    """The lifecycle, then a release that crashes, a good one, and a rollback that lands on the last good one.

    The local AWS treats an image tag ending in -crash as a container that exits 1 at start (MOTO_GAPS).
    """
    env = ctx.env

    def release_of(tag: str) -> Callable[[], Result]:
        def seeded() -> Result:
            local_aws.seed_image(ctx.client("ecr"), f"{env.project}-{env.name}", tag)
            return release(ctx, ReleaseOptions(tag=tag, no_build=True))
        return seeded

    return [
        *_lifecycle(ctx)[:4],
        (f"release {CRASH_TAG}: its container exits at start; ECS rolls back, the release says why (exit 3)",
         expect(Outcome.ROLLED_BACK, release_of(CRASH_TAG), ctx)),
        (f"release {GOOD_TAG}: a good one", release_of(GOOD_TAG)),
        (f"rollback: back to the last good release before {GOOD_TAG}, never to {CRASH_TAG}",
         lambda: rollback(ctx, RollbackOptions())),
        ("release-status: what runs, and the history", lambda: release_status(ctx, ReadOptions())),
    ]


def _adoption(ctx: Ctx) -> list[Step]:
    """Stand in for the live hand-built stack, take it over in two steps, and show that nothing was lost."""
    state: dict[str, dict] = {}
    return [
        (f"create a stand-in for the live stack from {LIVE_FIXTURE.name} (the plan's phases 1-6 written by hand, "
         "phase by phase; its secrets made by hand outside it; another stack importing its exports)",
         lambda: _create_live_stand_in(ctx, state)),
        ("stack-diff before adoption: refused, the resources sit under foreign logical IDs",
         expect(Outcome.REFUSED, lambda: stack_diff(ctx, DiffOptions()), ctx)),
        ("adopt --yes: plan both steps, rename the logical IDs to ours, import the hand-made secrets",
         lambda: adopt(ctx, AdoptOptions(yes=True))),
        ("adopt again: nothing left to rename or import", lambda: adopt(ctx, AdoptOptions(yes=True))),
        ("stack-update --yes: converge, keeping what the live stack chose where ours would hurt it",
         lambda: stack_update(ctx, UpdateOptions(yes=True))),
        ("stack-update --yes again: nothing left to change",
         expect(Outcome.NO_CHANGES, lambda: stack_update(ctx, UpdateOptions(yes=True)), ctx)),
        ("compare: every physical ID, export, secret and parameter value, the database and the security groups",
         lambda: _compare_after_adoption(ctx, state)),
    ]


def create_stand_in(ctx: Ctx, template: str, parameters: dict[str, str], hand_made: dict[str, str],
                    consumer: str = "", tags: dict[str, str] | None = None) -> None:
    """A live stack as the owners made it: its secrets made by hand first, the stack, and a stack importing its
    exports (`consumer`, a template body)."""
    sm, cfn = ctx.client("secretsmanager"), ctx.client("cloudformation")
    for name, value in hand_made.items():
        sm.create_secret(Name=name, SecretString=value, Description="made by hand (aws secretsmanager create-secret)")
    cfn.create_stack(StackName=ctx.env.stack_name, TemplateBody=template, Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                     Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])
    if consumer:
        cfn.create_stack(StackName=CONSUMER_STACK, TemplateBody=consumer)


def _create_live_stand_in(ctx: Ctx, state: dict) -> Outcome:
    env, console = ctx.env, ctx.console
    prefix = env.secret_prefix
    create_stand_in(ctx, LIVE_FIXTURE.read_text(), {"ProjectName": env.project, "Environment": env.name},
                    {f"{prefix}/jwt-secret": "a-jwt-key-the-owners-generated-with-openssl",
                     f"{prefix}/finnhub-api-key": SANDBOX_FINNHUB_KEY,
                     f"{prefix}/coingecko-api-key": "your-coingecko-key"}, CONSUMER_FIXTURE.read_text())
    state["before"] = witness(ctx, env.stack_name)
    before = state["before"]
    console.line(f"  created {env.stack_name} and {CONSUMER_STACK}; made 3 secrets by hand; recorded the physical IDs "
                 f"of {len(before['physical ids'])} resources, {len(before['exports'])} exports, "
                 f"{len(before['secrets'])} secrets and {len(before['parameters'])} parameters "
                 "(values are compared, never shown)")
    return Outcome.APPLIED


def _compare_after_adoption(ctx: Ctx, state: dict) -> Outcome:
    env, console = ctx.env, ctx.console
    before = state["before"]
    lost = compare(before, witness(ctx, env.stack_name))
    console.line(f"  physical IDs: {len(before['physical ids'])} resources, all kept; exports: {len(before['exports'])} "
                 f"kept; secrets: {len(before['secrets'])} kept their value and version; parameters: "
                 f"{len(before['parameters'])} kept; rules of {len(before['security groups'])} security groups kept")
    for name, facts in before["databases"].items():
        console.line(f"  database {name}: engine {facts['engine version']}, deletion protection "
                     f"{facts['deletion protection']}, parameters {facts['parameters']} (as before)")
    cfn = ctx.client("cloudformation")
    if not cfn.describe_stacks(StackName=env.stack_name)["Stacks"][0].get("EnableTerminationProtection"):
        lost.append("termination protection is off")
    if not cfn.get_stack_policy(StackName=env.stack_name).get("StackPolicyBody"):
        lost.append("the stack has no stack policy")
    if lost:
        for line in lost:
            console.error(line)
        return Outcome.NEEDS_HUMAN
    console.ok("  nothing replaced, deleted or re-valued; termination protection and the stack policy are on")
    return Outcome.APPLIED


def _seed_and_release(ctx: Ctx) -> Result:
    stack = describe_stack(ctx.client("cloudformation"), ctx.env.stack_name)
    if stack is None:
        raise UserError(f"stack {ctx.env.stack_name} does not exist")
    digest = local_aws.seed_image(ctx.client("ecr"), stack.outputs[REPOSITORY_NAME], DEMO_TAG)
    ctx.console.line(f"  seeded {stack.outputs[REPOSITORY_URI]}:{DEMO_TAG} ({digest[:19]})")
    return release(ctx, ReleaseOptions(tag=DEMO_TAG, no_build=True))


def _wait_forever() -> None:
    import time
    while True:
        time.sleep(3600)


