"""What the tests share: the repository root, a context built for a test, and running a task as a user would."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from portyfoul_infra.config import ENVIRONMENTS, Environment
from portyfoul_infra.console import Console
from portyfoul_infra.context import Ctx

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-2"
# Subprocess tasks poll the local AWS this often (never the 5 s a real deployment is polled at).
FAST_POLL = "0.02"


class VirtualClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.001)


class Answers:
    """A scripted person at the terminal: each confirmation takes the next answer."""

    def __init__(self, *answers: bool | str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def confirm(self, question: str) -> bool:
        self.asked.append(question)
        return bool(self.answers.pop(0))

    def confirm_typed(self, question: str, expected: str) -> bool:
        self.asked.append(question)
        return self.answers.pop(0) == expected


def make_ctx(aws: Any = None, env: str | Environment = "dev", *, clock: VirtualClock | None = None,
             prompt: Any = None, runner: Any = None, read_secret: Any = None, wall: Any = None,
             poll_seconds: float | None = None, interactive: bool = False,
             environments: dict[str, Environment] | None = None) -> tuple[Ctx, io.StringIO]:
    """A context for one command, as tasks.py builds it, but with a virtual clock and a console into a buffer.

    Without `aws`, the local AWS (AWS_ENDPOINT_URL, set by the aws_env fixture) in the plan's region.
    """
    from portyfoul_infra.aws.clients import Aws

    out = io.StringIO()
    clock = clock or VirtualClock()
    environment = ENVIRONMENTS[env] if isinstance(env, str) else env
    extra: dict[str, Any] = {}
    if runner is not None:
        extra["runner"] = runner
    if read_secret is not None:
        extra["read_secret"] = read_secret
    if environments is not None:
        extra["environments"] = {**ENVIRONMENTS, **environments}
    local = Aws(REGION, endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    ctx = Ctx(aws=aws if aws is not None else local, env=environment, console=Console(out, out, interactive),
              clock=clock.clock, sleep=clock.sleep, wall=wall or time.time, prompt=prompt,
              poll_seconds=poll_seconds, **extra)
    return ctx, out


def invoke(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """Run a task as a user would: a separate process, no terminal; its waits poll fast."""
    environ = {**(env or os.environ)}
    environ.setdefault("PORTYFOUL_POLL_SECONDS", FAST_POLL)
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=environ, capture_output=True,
                          text=True, input=input, stdin=None if input is not None else subprocess.DEVNULL, timeout=300)


def run_task(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """Run a task as `invoke` would, in this process: the same command line, parsing, wrapper and exit code as
    `invoke(...)`, without starting Python again (seconds per call). Standard output and error are captured;
    standard input is `input` (never a terminal); an exception that escapes is a traceback on stderr and exit 1,
    as the real command would show it. Use `invoke(...)` where the separate process is the point (signals)."""
    import contextlib
    import signal
    import traceback

    from invoke import Collection, Program

    import tasks

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv, saved_stdin = dict(os.environ), sys.argv, sys.stdin
    # A command keeps ignoring stop signals to its exit (cli.signals_as_interrupts): in this process, until here.
    saved_signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    os.environ.clear()
    os.environ.update(env or saved_env)
    os.environ.setdefault("PORTYFOUL_POLL_SECONDS", FAST_POLL)
    sys.argv = ["invoke", *args]
    sys.stdin = io.StringIO(input or "")
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                Program(namespace=Collection.from_module(tasks), binary="invoke").run(sys.argv, exit=True)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except Exception:  # noqa: BLE001 - what the real command would print
                traceback.print_exc(file=err)
                code = 1
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv, sys.stdin = saved_argv, saved_stdin
        for s, handler in saved_signals.items():
            signal.signal(s, handler)
    return subprocess.CompletedProcess(["invoke", *args], code, out.getvalue(), err.getvalue())
