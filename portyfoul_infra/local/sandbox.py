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

from ..artifacts.generated import REPO_ROOT, refresh
from ..aws.clients import Aws
from ..aws.stacks import describe_stack
from ..config import ENVIRONMENTS
from ..context import Ctx
from ..contract import REPOSITORY_NAME, REPOSITORY_URI
from ..errors import UserError
from ..options import (
    AdoptOptions,
    EnvOptions,
    ReadOptions,
    ReleaseOptions,
    RollbackOptions,
    SandboxOptions,
    SecretsSetOptions,
    UpdateOptions,
)
from ..outcomes import Outcome
from . import server as local_aws

# name -> the verb's body (tasks.body_of): the sandbox runs the verbs a user runs, handed to it by tasks.py.
Verbs = Callable[[str], Callable[[Ctx, Any], Outcome]]
# The sandbox's waits poll this often: the local AWS answers at once.
SANDBOX_POLL_SECONDS = 0.2

DEMO_TAG = "demo0001"
CRASH_TAG = "demo0002-crash"
GOOD_TAG = "demo0003"
LIVE_FIXTURE = REPO_ROOT / "tests" / "fixtures" / "live-stack.yaml"
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
    """Stand in for the live hand-built stack, adopt it, converge, and show that nothing was lost."""
    state: dict[str, dict] = {}
    return [
        (f"create a stand-in for the live stack from {LIVE_FIXTURE.relative_to(REPO_ROOT)} "
         "(the plan's phases 1-6, hand-written, other logical IDs)",
         lambda: _create_live_stand_in(ctx, state)),
        ("stack-diff before adoption: what a plain stack-update would do to it",
         lambda: _expect_refusal(verbs("stack_diff")(ctx, EnvOptions()), ctx)),
        ("adopt --yes: rename its logical IDs to ours in place",
         lambda: verbs("adopt")(ctx, AdoptOptions(yes=True))),
        ("adopt again: nothing left to rename", lambda: verbs("adopt")(ctx, AdoptOptions(yes=True))),
        ("stack-update --yes: converge under the data-loss guard, values pinned",
         lambda: verbs("stack_update")(ctx, UpdateOptions(yes=True))),
        ("compare: physical IDs and secret values before and after",
         lambda: _compare_after_adoption(ctx, state)),
    ]


def _create_live_stand_in(ctx: Ctx, state: dict) -> Outcome:
    env, console = ctx.env, ctx.console
    cfn = ctx.client("cloudformation")
    cfn.create_stack(StackName=env.stack_name, TemplateBody=LIVE_FIXTURE.read_text(),
                     Capabilities=["CAPABILITY_NAMED_IAM"], Parameters=[
                         {"ParameterKey": "ProjectName", "ParameterValue": env.project},
                         {"ParameterKey": "Environment", "ParameterValue": env.name}])
    sm = ctx.client("secretsmanager")
    sm.put_secret_value(SecretId=f"{env.secret_prefix}/finnhub-api-key", SecretString=SANDBOX_FINNHUB_KEY)
    console.line(f"  created {env.stack_name}; set a Finnhub key by hand, as the owners would have")
    state["before"] = _physical_ids(cfn, env)
    state["values"] = _secret_fingerprints(sm, env)
    console.line(f"  recorded {len(state['before'])} physical IDs and the current version of "
                 f"{len(state['values'])} secrets (values are compared, never shown)")
    return Outcome.APPLIED


def _expect_refusal(outcome: Outcome, ctx: Ctx) -> Outcome:
    console = ctx.console
    if outcome is Outcome.REFUSED:
        console.line("  refused, as it should be: the stateful resources sit under foreign logical IDs")
        return Outcome.APPLIED
    console.error(f"stack-diff should have refused the unadopted stack, but ended {outcome.label}")
    return Outcome.NEEDS_HUMAN


# What the owners would lose if these changed: the database, the secrets, the images, the logs, the network.
KEPT = ("AWS::RDS::DBInstance", "AWS::SecretsManager::Secret", "AWS::ECR::Repository", "AWS::Logs::LogGroup",
        "AWS::EC2::VPC", "AWS::EC2::Subnet")


def _physical_ids(cfn, env) -> dict[tuple[str, str], str]:
    """(type, physical id) -> logical id, for the resources whose identity must survive."""
    summaries = cfn.list_stack_resources(StackName=env.stack_name)["StackResourceSummaries"]
    return {(r["ResourceType"], r["PhysicalResourceId"]): r["LogicalResourceId"]
            for r in summaries if r["ResourceType"] in KEPT and r.get("PhysicalResourceId")}


def _secret_fingerprints(sm, env) -> dict[str, tuple[str, str]]:
    """secret name -> (current version id, sha256 of the value): compared, never printed."""
    import hashlib

    out = {}
    for page in sm.get_paginator("list_secrets").paginate():
        for secret in page["SecretList"]:
            if secret["Name"].startswith(env.secret_prefix + "/"):
                value = sm.get_secret_value(SecretId=secret["ARN"])
                digest = hashlib.sha256(value.get("SecretString", "").encode()).hexdigest()
                out[secret["Name"]] = (value["VersionId"], digest)
                del value
    return out


def _compare_after_adoption(ctx: Ctx, state: dict) -> Outcome:
    env, console = ctx.env, ctx.console
    after = _physical_ids(ctx.client("cloudformation"), env)
    rows, lost = [], []
    for (rtype, physical), old_id in sorted(state["before"].items(), key=lambda kv: (kv[0][0], kv[1])):
        new_id = after.get((rtype, physical))
        rows.append((rtype.split("::")[-1], old_id, new_id or "GONE", physical[-48:]))
        if new_id is None:
            lost.append(old_id)
    console.table(("type", "live logical id", "now", "physical id (kept)"), rows)
    values = _secret_fingerprints(ctx.client("secretsmanager"), env)
    changed = sorted(name for name, fingerprint in state["values"].items() if values.get(name) != fingerprint)
    console.line(f"  secrets: {len(state['values']) - len(changed)} of {len(state['values'])} kept their value "
                 "and version" + (f"; CHANGED: {', '.join(changed)}" if changed else ""))
    if lost or changed:
        console.error(f"adoption lost {', '.join(lost + changed)}")
        return Outcome.NEEDS_HUMAN
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


