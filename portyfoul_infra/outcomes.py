"""Typed outcomes of every task, the exit code each maps to, and the journal of what a command changed.

| code | meaning |
|------|---------|
| 0 | done: applied, released, or nothing to change |
| 1 | a bug: an unexpected exception (please report it) |
| 2 | refused before any change: bad input, stale template, guard, preflight |
| 3 | a change failed and was rolled back: the system is on its previous state |
| 4 | failed and not back on a known state: needs a human |
| 5 | `stack-diff --fail`: there are changes (nothing was changed) |
"""

from __future__ import annotations

import enum

from .errors import UserError, describe_aws_error


class Outcome(enum.Enum):
    NO_CHANGES = ("no changes", 0)
    APPLIED = ("applied", 0)
    DRY_RUN = ("dry run", 0)
    REFUSED = ("refused, nothing changed", 2)
    ROLLED_BACK = ("failed and rolled back", 3)
    NEEDS_HUMAN = ("failed, needs a human", 4)
    CHANGES_FOUND = ("changes found", 5)   # stack-diff --fail, for CI checks

    def __init__(self, label: str, exit_code: int):
        self.label = label
        self.exit_code = exit_code

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


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
    """(message, exit code) for how a command ended with `exc`, given what it had changed.

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
        return f"{message}; {journal.summary()}", 4
    return message, 2
