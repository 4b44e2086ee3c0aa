"""All printing goes through here; logic modules never print.

On a terminal, progress lines redraw in place and colours are used; in CI (no
terminal, or CI set) every event is one plain, timestamped-by-elapsed line.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, Sequence, TextIO

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "dim": "2", "bold": "1"}


class Console:
    def __init__(self, stream: TextIO | None = None, err: TextIO | None = None, interactive: bool | None = None):
        self.stream = stream or sys.stdout
        self.err = err or sys.stderr
        if interactive is None:
            interactive = self.stream.isatty() and not os.environ.get("CI")
        self.interactive = interactive
        self._status_shown = False

    def _paint(self, text: str, colour: str | None) -> str:
        if not colour or not self.interactive:
            return text
        return f"\033[{_COLOURS[colour]}m{text}\033[0m"

    def _clear_status(self) -> None:
        if self._status_shown:
            self.stream.write("\r\033[K")
            self._status_shown = False

    def line(self, text: str = "", colour: str | None = None) -> None:
        self._clear_status()
        self.stream.write(self._paint(text, colour) + "\n")
        self.stream.flush()

    def heading(self, text: str) -> None:
        self.line(text, "bold")

    def ok(self, text: str) -> None:
        self.line(text, "green")

    def warn(self, text: str) -> None:
        self._clear_status()
        self.err.write(self._paint(f"warning: {text}", "yellow") + "\n")
        self.err.flush()

    def error(self, text: str) -> None:
        self._clear_status()
        self.err.write(self._paint(f"error: {text}", "red") + "\n")
        self.err.flush()

    def status(self, text: str) -> None:
        """A live progress line on a terminal; silent in CI (events carry the progress there)."""
        if not self.interactive:
            return
        self.stream.write("\r\033[K" + self._paint(text, "dim"))
        self.stream.flush()
        self._status_shown = True

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[object]], indent: str = "  ") -> None:
        cells = [[("" if c is None else str(c)) for c in r] for r in rows]
        widths = [len(h) for h in headers]
        for r in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, r, strict=True)]
        fmt = indent + "  ".join("{:<%d}" % w for w in widths)
        self.line(fmt.format(*headers).rstrip(), "bold")
        for r in cells:
            self.line(fmt.format(*r).rstrip())


def elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def shorten(value: object, width: int = 60) -> str:
    """A value as one bounded line for a table: JSON for structures, whitespace folded, an ellipsis when cut."""
    import json

    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
