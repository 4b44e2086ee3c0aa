"""What every verb runs with: one Ctx per command (ecspresso's App, CDK's IoHost in small).

A verb is `verb(ctx, opts) -> Outcome`. The context carries the AWS clients
for the environment's region, the environment, the console, the three time
sources (a monotonic clock and its sleep for waiting, a wall clock for names
and records), the journal of what this command changed, and how to talk to
the person at the terminal, if there is one. tasks.py builds it; tests build
it with fakes, a virtual clock and a StringIO console.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from .config import ENVIRONMENTS, Environment
from .console import Console
from .errors import UserError
from .outcomes import Journal, Outcome

# Injected everywhere a task waits, so tests drive time with a virtual clock.
Clock = Callable[[], float]
Sleep = Callable[[float], None]
# Wall-clock seconds since the epoch: for names and records (snapshot names, release history), never for waiting.
Wall = Callable[[], float]
# Runs a command (docker, the Session Manager plugin) with its output shown; stdin (a password) never on argv.
Runner = Callable[[Sequence[str], "str | None"], int]
ReadValue = Callable[[str], str]


class ClientSource(Protocol):
    """boto3 clients for one region (aws.clients.Aws), or a fake with the same shape."""
    region: str

    def client(self, name: str) -> Any: ...

    def require_credentials(self) -> None: ...


class Prompt(Protocol):
    """The person at the terminal. A context without one (CI, a pipe) has prompt None."""

    def confirm(self, question: str) -> bool:
        """y/N; anything but yes (Ctrl-C, end of input) is no."""
        ...

    def confirm_typed(self, question: str, expected: str) -> bool:
        """True only when exactly `expected` is typed."""
        ...


def _no_runner(cmd: Sequence[str], stdin: str | None) -> int:
    raise UserError(f"this command cannot run {cmd[0]!r} here")


def _no_secret(prompt: str) -> str:
    raise UserError("no way to read a secret value here")


@dataclass
class Ctx:
    aws: ClientSource
    env: Environment
    console: Console
    clock: Clock = time.monotonic
    sleep: Sleep = time.sleep
    wall: Wall = time.time
    journal: Journal = field(default_factory=Journal)
    prompt: Prompt | None = None
    runner: Runner = _no_runner
    read_secret: ReadValue = _no_secret
    # Every poll interval, when set (tests and the sandbox: PORTYFOUL_POLL_SECONDS); each wait's own otherwise.
    poll_seconds: float | None = None
    # The other environments a command may read (promote's source, deploy-role's promote_from).
    environments: Mapping[str, Environment] = field(default_factory=lambda: dict(ENVIRONMENTS))
    # Where the generated template and deploy inputs are read from: None for generated/ (or
    # PORTYFOUL_GENERATED_DIR); the sandbox builds its own into a scratch directory.
    generated: Path | None = None

    def environment(self, name: str) -> Environment:
        """Another environment by name, or a one-line UserError listing the known ones."""
        if name not in self.environments:
            raise UserError(f"unknown environment {name[:40]!r}; choose one of: {', '.join(self.environments)}")
        return self.environments[name]

    def client(self, name: str) -> Any:
        return self.aws.client(name)

    def poll(self, default: float) -> float:
        """The interval to poll at: the context's override, or the wait's own default."""
        return default if self.poll_seconds is None else self.poll_seconds

    def record(self, change: str, next_step: str) -> None:
        """Note a change the moment it is made: a later failure then exits 4 and says so."""
        self.journal.record(change, next_step)

    def confirmed(self, question: str, yes: bool, discard: Callable[[], None] = lambda: None) -> Outcome | None:
        """The gate before a change: None to go ahead (--yes, or the person said y); otherwise `discard()` has
        run and the refusal is returned, or raised (exit 2) when there is no terminal to ask on."""
        if yes:
            return None
        if self.prompt is None:
            discard()
            raise UserError(f"{question} There is no terminal to confirm on: rerun with --yes")
        if not self.prompt.confirm(question):
            discard()
            self.console.line("not confirmed; nothing changed")
            return Outcome.REFUSED
        return None
