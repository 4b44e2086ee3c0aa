"""The sandbox: the whole lifecycle on this machine, against a local AWS (moto) on 127.0.0.1.

Build the template, create the dev stack, set a stand-in Finnhub key, seed a
demo image into the local ECR, release it with --no-build, show release and
stack status. The server is started and stopped here; with keep=True it
stays up and the endpoint to use with every other task is printed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from ..aws import Aws, Clock, Sleep
from ..config import ENVIRONMENTS
from ..console import Console
from ..errors import UserError
from ..options import ReleaseOptions, SandboxOptions, SecretsSetOptions, UpdateOptions
from ..outcomes import Outcome
from . import server as local_aws

DEMO_TAG = "demo0001"
SANDBOX_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}


def sandbox(console: Console, opts: SandboxOptions, clock: Clock, sleep: Sleep,
            wait_forever: Callable[[], None] | None = None) -> Outcome:
    from ..generated import refresh
    from ..release_tasks import release, release_status
    from ..secrets_tasks import secrets_set
    from ..stack_tasks import stack_status, stack_update

    env = ENVIRONMENTS["dev"]
    console.heading("sandbox: the whole lifecycle against a local AWS (moto) on 127.0.0.1; nothing leaves this machine")
    console.heading("1/7 build the template (into a temporary directory: generated/ is left as it is)")
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
        aws = Aws(region=env.region)
        steps = [
            ("2/7 create the dev stack (stack-update --yes): no image yet, so the services start with no tasks",
             lambda: stack_update(aws, env, console, UpdateOptions(yes=True, poll_seconds=0.2), None, clock, sleep)),
            ("3/7 set a stand-in Finnhub key (secrets-set finnhub-api-key)",
             lambda: secrets_set(aws, env, console, SecretsSetOptions(name="finnhub-api-key"),
                                 lambda _: "sandbox-stand-in-key", clock, sleep)),
            (f"4/7 seed image {DEMO_TAG} into the local ECR and release it (release --tag {DEMO_TAG} --no-build)",
             lambda: _seed_and_release(aws, env, console, clock, sleep, release)),
            ("5/7 start the services on the release (stack-update --yes)",
             lambda: stack_update(aws, env, console, UpdateOptions(yes=True, poll_seconds=0.2), None, clock, sleep)),
            ("6/7 release-status", lambda: release_status(aws, env, console)),
            ("7/7 stack-status", lambda: stack_status(aws, env, console)),
        ]
        for title, step in steps:
            console.heading(title)
            outcome = step()
            if not outcome.ok:
                console.error(f"sandbox stopped at: {title} ({outcome.label})")
                return outcome
        console.ok("sandbox: created, released and checked the whole stack locally")
        if opts.keep:
            console.line("the local AWS keeps running; in another shell:")
            console.line(f"  export AWS_ENDPOINT_URL={server.endpoint} AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox")
            console.line("  invoke release-status   # or any other task; Ctrl-C here stops the server")
            try:
                (wait_forever or _wait_forever)()
            except KeyboardInterrupt:
                console.line("stopping the local AWS")
        return Outcome.APPLIED
    finally:
        server.stop()
        scratch.cleanup()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _seed_and_release(aws, env, console, clock, sleep, release) -> Outcome:
    from .. import contract as out
    from ..stack import describe_stack
    stack = describe_stack(aws.client("cloudformation"), env.stack_name)
    digest = local_aws.seed_image(aws.client("ecr"), stack.outputs[out.REPOSITORY_NAME], DEMO_TAG)
    console.line(f"  seeded {stack.outputs[out.REPOSITORY_URI]}:{DEMO_TAG} ({digest[:19]})")
    return release(aws, env, console, ReleaseOptions(tag=DEMO_TAG, no_build=True, poll_seconds=0.2),
                   lambda cmd, stdin: 1, clock, sleep)


def _wait_forever() -> None:
    import time
    while True:
        time.sleep(3600)


