"""What a command ends with: its outcome, the exit code that outcome maps to (the one table, here), and its data;
and the journal of what it changed.

| outcome | exit code | meaning |
|---------|-----------|---------|
| NO_CHANGES, APPLIED, DRY_RUN | 0 | done: applied, released, or nothing to change |
| (an unexpected exception) | 1 | a bug: Python's own exit, with its traceback (please report it) |
| REFUSED | 2 | refused before any change: bad input, stale template, a guard, a preflight, a local run that failed |
| ROLLED_BACK | 3 | a change failed and was rolled back: the system is on its previous state |
| NEEDS_HUMAN | 4 | failed after something changed and not back on a known state: the message says what to run next |
| CHANGES_FOUND | 5 | `stack-diff --fail`: there are changes (nothing was changed) |
| COMMAND_FAILED | 10 + N (11-127) | `run` and `shell`: the command in the container exited N (127: N above 116) |
| STOPPED | 128 + the signal (130, 143) | the sandbox, a rehearsal: stopped by SIGINT or SIGTERM; nothing outside this machine changed |
| OUTPUT_CLOSED | 141 | the reader closed standard output (`| head`) before anything changed (128 + SIGPIPE, as `git log`) |

A verb returns a Result: its outcome, the number an outcome of the last three needs (the command's own exit
code, or the signal), and its data: the document `--json` prints, which the human tables render too.
"""

from __future__ import annotations

import enum
import signal
from dataclasses import dataclass, field
from typing import Any

from .errors import UserError, describe_aws_error


class Outcome(enum.Enum):
    NO_CHANGES = "no changes"
    APPLIED = "applied"
    DRY_RUN = "dry run"
    REFUSED = "refused, nothing changed"
    ROLLED_BACK = "failed and rolled back"
    NEEDS_HUMAN = "failed, needs a human"
    CHANGES_FOUND = "changes found"            # stack-diff --fail, for CI checks
    COMMAND_FAILED = "the command failed"      # run, shell: the command in the container exited non-zero
    STOPPED = "stopped by a signal"            # a local run (sandbox, rehearsal) stopped by SIGINT or SIGTERM
    OUTPUT_CLOSED = "standard output closed"   # the reader went away before anything changed

    @property
    def label(self) -> str:
        return self.value

    @property
    def exit_code(self) -> int:
        return exit_code(self)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


_FIXED = {Outcome.NO_CHANGES: 0, Outcome.APPLIED: 0, Outcome.DRY_RUN: 0, Outcome.REFUSED: 2,
          Outcome.ROLLED_BACK: 3, Outcome.NEEDS_HUMAN: 4, Outcome.CHANGES_FOUND: 5, Outcome.OUTPUT_CLOSED: 141}
COMMAND_FAILED_BASE, COMMAND_FAILED_CEILING = 10, 127
SIGNAL_BASE = 128


def exit_code(outcome: Outcome, detail: int = 0) -> int:
    """The one table: the exit code of `outcome` (`detail`: the command's exit code for COMMAND_FAILED, the signal
    number for STOPPED)."""
    if outcome is Outcome.COMMAND_FAILED:
        return min(COMMAND_FAILED_BASE + max(detail, 1), COMMAND_FAILED_CEILING)
    if outcome is Outcome.STOPPED:
        return SIGNAL_BASE + (detail or signal.SIGINT)
    return _FIXED[outcome]


@dataclass(frozen=True)
class Result:
    """How a verb ended: its outcome, the number the outcome needs (see exit_code), and its data (the verb's
    document: what `--json` prints and the tables show; None for a verb that has none)."""
    outcome: Outcome
    data: dict[str, Any] | None = field(default=None, compare=False)
    detail: int = 0

    @property
    def exit_code(self) -> int:
        return exit_code(self.outcome, self.detail)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def label(self) -> str:
        return self.outcome.label


def result_of(ended: Result | Outcome) -> Result:
    """A Result for what a step returned (a mechanic's Outcome, or a verb's Result)."""
    return ended if isinstance(ended, Result) else Result(ended)


class Journal:
    """What one command has changed so far, so that a failure after a change is never reported as a refusal.

    Operations record each change as they make it (Ctx.record). When an AWS
    error or an interruption ends a command, tasks.py reads the journal:
    empty means exit 2 ("nothing changed"); otherwise exit 4, saying what
    changed and what to run next. One journal per command, in its Ctx.
    """

    def __init__(self) -> None:
        self.changes: list[str] = []
        self.next_step = ""

    def record(self, change: str, next_step: str) -> None:
        self.changes.append(change)
        self.next_step = next_step

    def summary(self) -> str:
        return "already changed: " + "; ".join(self.changes) + (f". Next: {self.next_step}" if self.next_step else "")


def failure_exit(exc: BaseException, journal: Journal) -> tuple[str, int] | None:
    """(message, exit code) for how a command ended with `exc`, given what it had changed (outcome REFUSED or
    NEEDS_HUMAN).

    Nothing changed: exit 2, the refusal. Something changed: exit 4, with what changed and what to run
    next: a lost endpoint, expired credentials or an AWS error mid-operation leave a state to look at.
    None for an exception that is a bug (it keeps its traceback).
    """
    changes = journal.changes
    message: str | None
    if isinstance(exc, UserError):
        message = str(exc)
    elif isinstance(exc, KeyboardInterrupt):
        signal_name = getattr(exc, "signal_name", "")
        what = f"stopped by {signal_name}" if signal_name else "interrupted"
        message = what if changes else f"{what}; nothing changed"
    else:
        message = describe_aws_error(exc)
        if message is None:
            return None
        if not changes:
            message += "; nothing changed"
    if changes:
        return f"{message}; {journal.summary()}", Outcome.NEEDS_HUMAN.exit_code
    return message, Outcome.REFUSED.exit_code
