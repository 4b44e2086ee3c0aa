"""The sandbox: the whole lifecycle on this machine, against a local AWS (moto) on 127.0.0.1.

Build the template, create the dev stack, set a stand-in Finnhub key, seed a
demo image into the local ECR, release it with --no-build, show release and
stack status. With adopt=True, instead: stand in for the live hand-built
stack (tests/fixtures/live-stack.yaml), adopt it, converge, and show that the
database, secrets (values included), repository, log groups and network kept
their identity. The server is started and stopped here; with keep=True it
stays up and the endpoint to use with every other task is printed.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

from ...artifacts.generated import REPO_ROOT, refresh
from ...aws.clients import Aws
from ...aws.stacks import describe_stack
from ...config import ENVIRONMENTS
from ...context import Ctx
from ...contract import REPOSITORY_NAME, REPOSITORY_URI
from ...errors import UserError
from ...options import (
    AdoptOptions,
    DiffOptions,
    ReadOptions,
    ReleaseOptions,
    RollbackOptions,
    SandboxOptions,
    SecretsSetOptions,
    UpdateOptions,
)
from ...outcomes import Outcome
from .. import server as local_aws

# name -> the verb's body (tasks.body_of): the sandbox runs the verbs a user runs, handed to it by tasks.py.
Verbs = Callable[[str], Callable[[Ctx, Any], Outcome]]
# The sandbox's waits poll this often: the local AWS answers at once.
SANDBOX_POLL_SECONDS = 0.2

DEMO_TAG = "demo0001"
CRASH_TAG = "demo0002-crash"
GOOD_TAG = "demo0003"
LIVE_FIXTURE = REPO_ROOT / "tests" / "fixtures" / "live-stack-phases.json"
CONSUMER_FIXTURE = REPO_ROOT / "tests" / "fixtures" / "consumer-stack.json"
CONSUMER_STACK = "portyfoul-reports"
SANDBOX_FINNHUB_KEY = "sandbox-finnhub-key-set-by-hand"
SANDBOX_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}


def sandbox(ctx: Ctx, opts: SandboxOptions, verbs: Verbs,
            wait_forever: Callable[[], None] | None = None) -> Outcome:
    """Refuses a --port something answers on or holds, before anything starts; the local AWS it starts is
    stopped however it ends: done, failed, Ctrl-C or SIGINT (exit 130), SIGTERM (exit 143)."""
    if opts.port:
        taken = local_aws.port_taken(opts.port)
        if taken:
            raise UserError(f"--port {opts.port}: {taken} on 127.0.0.1, and the sandbox must talk only to the local "
                            "AWS it starts; choose another port, or --port 0 for any free one. Nothing was started")
    with _signals_end_the_sandbox():
        return _run(ctx, opts, verbs, wait_forever)


class Stopped(SystemExit):
    """SIGINT or SIGTERM: the sandbox ends at once with 128 + the signal's number (130, 143), as shells expect.
    Not a KeyboardInterrupt, so that no verb inside treats it as its own Ctrl-C (a release would roll back a
    local AWS that is about to go): every `finally` runs, and the last one stops the local AWS."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signal_name = signal.Signals(signum).name


@contextmanager
def _signals_end_the_sandbox() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Stopped(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _run(ctx: Ctx, opts: SandboxOptions, verbs: Verbs, wait_forever: Callable[[], None] | None) -> Outcome:
    env, console = ENVIRONMENTS["dev"], ctx.console
    console.heading("sandbox: against a local AWS (moto) on 127.0.0.1; nothing leaves this machine")
    console.heading("build the template (into a temporary directory: generated/ is left as it is)")
    scratch = tempfile.TemporaryDirectory(prefix="portyfoul-sandbox-")
    report = refresh(Path(scratch.name))
    console.line(f"  {report.template_path}: {report.resource_count} resources, {report.content_hash[:19]}")
    try:
        server = local_aws.start(opts.port or None)
    except RuntimeError as e:
        scratch.cleanup()
        raise UserError(f"cannot start the local AWS: {e}") from None
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "PORTYFOUL_GENERATED_DIR",
                                            *SANDBOX_CREDENTIALS)}
    os.environ.update({"AWS_ENDPOINT_URL": server.endpoint, "PORTYFOUL_GENERATED_DIR": scratch.name,
                       **SANDBOX_CREDENTIALS})
    os.environ.pop("AWS_PROFILE", None)
    try:
        console.line(f"  local AWS on {server.endpoint}")
        local = replace(ctx, aws=Aws(region=env.region), env=env, poll_seconds=SANDBOX_POLL_SECONDS,
                        runner=lambda cmd, stdin: 1)
        scenario = {"lifecycle": _lifecycle, "adopt": _adoption, "failed-release": _failed_release}[opts.scenario]
        steps = scenario(local, verbs)
        for number, (title, step) in enumerate(steps, 1):
            console.heading(f"{number}/{len(steps)} {title}")
            outcome = step()
            if not outcome.ok:
                console.error(f"sandbox stopped at: {title} ({outcome.label})")
                return outcome
        console.ok({"adopt": "sandbox: took over the hand-built stack in place, with every value and physical ID kept",
                    "failed-release": "sandbox: a failed release rolled back and was diagnosed; rollback landed on "
                                      "the last good release",
                    "lifecycle": "sandbox: created, released and checked the whole stack locally"}[opts.scenario])
        if opts.keep:
            console.line("the local AWS keeps running; in another shell:")
            console.line(f"  export AWS_ENDPOINT_URL={server.endpoint} AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox")
            console.line("  invoke release-status   # or any other task; Ctrl-C here stops the server")
            try:
                (wait_forever or _wait_forever)()
            except (KeyboardInterrupt, Stopped):  # the way to end --keep
                console.line("stopping the local AWS")
        return Outcome.APPLIED
    except Stopped as stopped:
        console.error(f"{stopped.signal_name}: stopping the local AWS on {server.endpoint}")
        raise
    finally:
        server.stop()
        scratch.cleanup()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


Step = tuple[str, Callable[[], Outcome]]


def _lifecycle(ctx: Ctx, verbs: Verbs) -> list[Step]:
    """Create the dev stack, set a key, release a seeded image, start the services, show the status."""
    update = UpdateOptions(yes=True)
    stand_in_key = replace(ctx, read_secret=lambda _: "sandbox-stand-in-key")
    return [
        ("create the dev stack (stack-update --yes): no image yet, so the services start with no tasks",
         lambda: verbs("stack_update")(ctx, update)),
        ("set a stand-in Finnhub key (secrets-set finnhub-api-key)",
         lambda: verbs("secrets_set")(stand_in_key, SecretsSetOptions(name="finnhub-api-key"))),
        (f"seed image {DEMO_TAG} into the local ECR and release it (release --tag {DEMO_TAG} --no-build)",
         lambda: _seed_and_release(ctx, verbs)),
        ("start the services on the release (stack-update --yes)", lambda: verbs("stack_update")(ctx, update)),
        ("release-status", lambda: verbs("release_status")(ctx, ReadOptions())),
        ("stack-status", lambda: verbs("stack_status")(ctx, ReadOptions())),
    ]


def _failed_release(ctx: Ctx, verbs: Verbs) -> list[Step]:
    """The lifecycle, then a release that crashes, a good one, and a rollback that lands on the last good one.

    The local AWS treats an image tag ending in -crash as a container that exits 1 at start (MOTO_GAPS).
    """
    env, console = ctx.env, ctx.console

    def expect(outcome: Outcome, wanted: Outcome) -> Outcome:
        if outcome is wanted:
            return Outcome.APPLIED
        console.error(f"expected {wanted.label}, got {outcome.label}")
        return Outcome.NEEDS_HUMAN

    def release_of(tag: str) -> Callable[[], Outcome]:
        local_aws.seed_image(ctx.client("ecr"), f"{env.project}-{env.name}", tag)
        return lambda: verbs("release")(ctx, ReleaseOptions(tag=tag, no_build=True))

    return [
        *_lifecycle(ctx, verbs)[:4],
        (f"release {CRASH_TAG}: its container exits at start; ECS rolls back, the release says why (exit 3)",
         lambda: expect(release_of(CRASH_TAG)(), Outcome.ROLLED_BACK)),
        (f"release {GOOD_TAG}: a good one", lambda: release_of(GOOD_TAG)()),
        (f"rollback: back to the last good release before {GOOD_TAG}, never to {CRASH_TAG}",
         lambda: verbs("rollback")(ctx, RollbackOptions())),
        ("release-status: what runs, and the history", lambda: verbs("release_status")(ctx, ReadOptions())),
    ]


def _adoption(ctx: Ctx, verbs: Verbs) -> list[Step]:
    """Stand in for the live hand-built stack, take it over in two steps, and show that nothing was lost."""
    state: dict[str, dict] = {}
    return [
        (f"create a stand-in for the live stack from {LIVE_FIXTURE.relative_to(REPO_ROOT)} (the plan's phases "
         "1-6 written by hand, phase by phase; its secrets made by hand outside it; another stack importing its "
         "exports)", lambda: _create_live_stand_in(ctx, state)),
        ("stack-diff before adoption: refused, the resources sit under foreign logical IDs",
         lambda: _expect_refusal(lambda: verbs("stack_diff")(ctx, DiffOptions()), ctx)),
        ("adopt --yes: plan both steps, rename the logical IDs to ours, import the hand-made secrets",
         lambda: verbs("adopt")(ctx, AdoptOptions(yes=True))),
        ("adopt again: nothing left to rename or import", lambda: verbs("adopt")(ctx, AdoptOptions(yes=True))),
        ("stack-update --yes: converge, keeping what the live stack chose where ours would hurt it",
         lambda: verbs("stack_update")(ctx, UpdateOptions(yes=True))),
        ("stack-update --yes again: nothing left to change",
         lambda: _expect_no_changes(verbs("stack_update")(ctx, UpdateOptions(yes=True)), ctx)),
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
    from .witness import witness

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


def _expect_refusal(step: Callable[[], Outcome], ctx: Ctx) -> Outcome:
    console = ctx.console
    try:
        outcome = step()
    except UserError as refusal:
        console.line(f"  refused, as it should be: {refusal}")
        return Outcome.APPLIED
    console.error(f"stack-diff should have refused the unadopted stack, but ended {outcome.label}")
    return Outcome.NEEDS_HUMAN


def _expect_no_changes(outcome: Outcome, ctx: Ctx) -> Outcome:
    if outcome is Outcome.NO_CHANGES:
        return Outcome.APPLIED
    ctx.console.error(f"a second stack-update should change nothing, but ended {outcome.label}")
    return Outcome.NEEDS_HUMAN


def _compare_after_adoption(ctx: Ctx, state: dict) -> Outcome:
    from .witness import compare, witness

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


def _seed_and_release(ctx: Ctx, verbs: Verbs) -> Outcome:
    stack = describe_stack(ctx.client("cloudformation"), ctx.env.stack_name)
    if stack is None:
        raise UserError(f"stack {ctx.env.stack_name} does not exist")
    digest = local_aws.seed_image(ctx.client("ecr"), stack.outputs[REPOSITORY_NAME], DEMO_TAG)
    ctx.console.line(f"  seeded {stack.outputs[REPOSITORY_URI]}:{DEMO_TAG} ({digest[:19]})")
    return verbs("release")(ctx, ReleaseOptions(tag=DEMO_TAG, no_build=True))


def _wait_forever() -> None:
    import time
    while True:
        time.sleep(3600)


