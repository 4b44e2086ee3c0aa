"""Typed outcomes of every task and the exit code each maps to.

| code | meaning |
|------|---------|
| 0 | done: applied, released, or nothing to change |
| 1 | a bug: an unexpected exception (please report it) |
| 2 | refused before any change: bad input, stale template, guard, preflight |
| 3 | a change failed and was rolled back: the system is on its previous state |
| 4 | failed and not back on a known state: needs a human |
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Callable

from .errors import UserError, describe_aws_error

if TYPE_CHECKING:
    from .console import Console

Confirm = Callable[[str], bool]  # a y/N prompt on a terminal (tasks.py); None stands for "no terminal"


class Outcome(enum.Enum):
    NO_CHANGES = ("no changes", 0)
    APPLIED = ("applied", 0)
    DRY_RUN = ("dry run", 0)
    REFUSED = ("refused, nothing changed", 2)
    ROLLED_BACK = ("failed and rolled back", 3)
    NEEDS_HUMAN = ("failed, needs a human", 4)

    def __init__(self, label: str, exit_code: int):
        self.label = label
        self.exit_code = exit_code

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Journal:
    """What this run has changed so far, so that a failure after a change is never reported as a refusal.

    Operations record each change as they make it. When an AWS error or an
    interruption ends a task, tasks.py reads the journal: empty means exit 2
    ("nothing changed"); otherwise exit 4, saying what changed and what to run next.
    """

    def __init__(self) -> None:
        self.changes: list[str] = []
        self.next_step = ""

    def record(self, change: str, next_step: str) -> None:
        self.changes.append(change)
        self.next_step = next_step

    def reset(self) -> None:
        self.changes.clear()
        self.next_step = ""

    def summary(self) -> str:
        return "already changed: " + "; ".join(self.changes) + (f". Next: {self.next_step}" if self.next_step else "")


JOURNAL = Journal()


def refused_unless_confirmed(question: str, yes: bool, confirm: Confirm | None, console: Console,
                             discard: Callable[[], None] = lambda: None) -> Outcome | None:
    """The gate before a change: None to go ahead (--yes, or the user said y); otherwise `discard()` has run
    and the refusal is returned, or raised (exit 2) when there is no terminal to ask on."""
    if yes:
        return None
    if confirm is None:
        discard()
        raise UserError(f"{question} There is no terminal to confirm on: rerun with --yes")
    if not confirm(question):
        discard()
        console.line("not confirmed; nothing changed")
        return Outcome.REFUSED
    return None


def failure_exit(exc: BaseException, changes: list[str], summary: str) -> tuple[str, int] | None:
    """(message, exit code) for how a task ended with `exc`, given what the run had changed (the journal).

    Nothing changed: exit 2, the refusal. Something changed: exit 4, with what changed and what to run
    next: a lost endpoint, expired credentials or an AWS error mid-operation leave a state to look at.
    None for an exception that is a bug (it keeps its traceback).
    """
    if isinstance(exc, UserError):
        message = str(exc)
    elif isinstance(exc, KeyboardInterrupt):
        message = "interrupted" if changes else "interrupted; nothing changed"
    else:
        message = describe_aws_error(exc)
        if message is None:
            return None
        if not changes:
            message += "; nothing changed"
    if changes:
        return f"{message}; {summary}", 4
    return message, 2
