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
