"""One way to run the verbs on a local AWS of their own: the sandbox's scenarios and the rehearsal of a takeover.

`local_run` starts a local AWS on 127.0.0.1 (local/server.py) and yields a context for it:
- clients that send every call to that server with stand-in credentials, given to boto3 directly: the process
  environment (AWS_ENDPOINT_URL, AWS_PROFILE, credentials) is neither read for them nor changed;
- its own journal: what a local run changes is on this machine, and is never reported as a change on AWS;
- the environment and the generated directory it runs with, and fast polls (the local AWS answers at once).
The server stops however the run ends.

`run_steps` runs numbered steps, each a verb a user runs (or a check), with one failure policy for every local
run, whatever the step:
- a step that ends other than well (a refusal, a failure, a rollback), or raises a refusal or an AWS error, stops
  the run: REFUSED (exit 2), saying where, and that nothing outside this machine changed;
- the first SIGINT, SIGTERM or SIGHUP (cli.signals_as_interrupts) stops it too: STOPPED (exit 128 + the signal);
- anything else is a bug, and keeps its traceback.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

from ..aws.clients import Aws
from ..cli import stop_signal
from ..config import Environment
from ..context import Ctx, Runner
from ..errors import UserError, describe_aws_error
from ..local import server as local_aws
from ..outcomes import Journal, Outcome, Result, result_of

# The local AWS answers at once: its waits poll this often.
LOCAL_POLL_SECONDS = 0.2
# What the clients of a local run sign with (the local AWS checks no signature; real keys never go there).
STAND_IN_CREDENTIALS = ("local", "local")
NOTHING_OUTSIDE = "nothing outside this machine changed"

Step = tuple[str, Callable[[], "Result | Outcome"]]


@dataclass(frozen=True)
class LocalRun:
    server: local_aws.LocalAws
    ctx: Ctx

    @property
    def endpoint(self) -> str:
        return self.server.endpoint


def _never_runs(cmd, stdin) -> int:
    return 1   # a local run builds no image and opens no session: any command fails as it would without docker


@contextmanager
def local_run(ctx: Ctx, env: Environment, *, port: int | None = None, generated: Path | None = None,
              poll_seconds: float | None = None, runner: Runner = _never_runs) -> Iterator[LocalRun]:
    """A local AWS of this run's own and a context for it (see the module docstring). `port`: one that must be
    free (see require_free_port); None: any free one."""
    try:
        server = local_aws.start(port or None)
    except RuntimeError as e:
        raise UserError(f"cannot start the local AWS: {e}") from None
    try:
        local = replace(ctx, aws=Aws(region=env.region, endpoint_url=server.endpoint,
                                     credentials=STAND_IN_CREDENTIALS),
                        env=env, journal=Journal(), generated=generated, runner=runner,
                        poll_seconds=poll_seconds if poll_seconds is not None else LOCAL_POLL_SECONDS)
        yield LocalRun(server, local)
    finally:
        server.stop()


def require_free_port(port: int, who: str) -> None:
    """Refuse a port something answers on or holds, before anything starts: the answers would come from someone
    else's server (another local AWS, say), and `who` must talk only to the local AWS it starts."""
    taken = local_aws.port_taken(port) if port else ""
    if taken:
        raise UserError(f"--port {port}: {taken} on 127.0.0.1, and {who} must talk only to the local AWS it starts; "
                        "choose another port, or --port 0 for any free one. Nothing was started")


def run_locally(ctx: Ctx, env: Environment, plan: Callable[[Ctx], list[Step]], *, port: int | None = None,
                generated: Path | None = None, poll_seconds: float | None = None, prefix: str = "",
                then: Callable[[LocalRun, Result], Result] | None = None) -> Result:
    """`plan`'s steps on a local AWS of their own (local_run, run_steps), then `then` if they all ended well; a
    signal anywhere in it (starting the local AWS too) ends it STOPPED, the local AWS stopped."""
    try:
        with local_run(ctx, env, port=port, generated=generated, poll_seconds=poll_seconds) as run:
            ctx.console.line(f"  a local AWS on {run.endpoint}: from here on nothing leaves this machine")
            result = run_steps(run.ctx, plan(run.ctx), prefix)
            return then(run, result) if then is not None and result.ok else result
    except KeyboardInterrupt as stop:
        return _stopped(ctx, "", getattr(stop, "signal_name", "") or "SIGINT")


def run_steps(ctx: Ctx, steps: list[Step], prefix: str = "") -> Result:
    """Each step in turn under a numbered heading; APPLIED when all ended well, else where and why it stopped."""
    console = ctx.console
    for number, (title, step) in enumerate(steps, 1):
        console.heading(f"{prefix}{number}/{len(steps)} {title}")
        try:
            ended = result_of(step())
            why = "" if ended.ok else ended.label
        except KeyboardInterrupt as stop:
            return _stopped(ctx, title, getattr(stop, "signal_name", "") or "SIGINT")
        except UserError as refusal:
            console.error(str(refusal))
            why = "refused"
        except Exception as e:
            message = describe_aws_error(e)
            if message is None:
                raise   # a bug: its traceback
            console.error(f"the local AWS failed at this step: {message} (a limit of the local AWS, or of what "
                          "it was given: the run proves nothing past here)")
            why = "failed"
        if stop_signal():   # a signal the step held until its rollback ended, say
            return _stopped(ctx, title, stop_signal())
        if why:
            console.error(f"stopped at: {title} ({why}); {NOTHING_OUTSIDE}")
            return Result(Outcome.REFUSED)
    return Result(Outcome.APPLIED)


def _stopped(ctx: Ctx, title: str, signal_name: str) -> Result:
    where = f" at: {title}" if title else ""
    ctx.console.error(f"stopped by {signal_name}{where}; the local AWS stops with it, and {NOTHING_OUTSIDE}")
    return Result(Outcome.STOPPED, detail=int(getattr(signal.Signals, signal_name, signal.SIGINT)))


def expect(wanted: Outcome, step: Callable[[], "Result | Outcome"], ctx: Ctx) -> Callable[[], Result]:
    """A step that must end with `wanted` (a refusal the scenario shows, a rollback it provokes): then it ended
    well; anything else stops the run."""
    def check() -> Result:
        try:
            ended = result_of(step())
        except UserError as refusal:
            if wanted is not Outcome.REFUSED:
                raise
            ctx.console.line(f"  refused, as it should be: {refusal}")
            return Result(Outcome.APPLIED)
        if ended.outcome is wanted:
            return Result(Outcome.APPLIED, ended.data)
        ctx.console.error(f"expected {wanted.label}, got {ended.label}")
        return Result(Outcome.NEEDS_HUMAN)
    return check
