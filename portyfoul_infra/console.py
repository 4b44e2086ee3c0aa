"""All printing goes through here; logic modules never print.

Colour is decided per stream: stdout's lines are coloured only when stdout is
a terminal, stderr's only when stderr is; never with NO_COLOR set (any
non-empty value, https://no-color.org), `--no-color`, or CI. On a terminal,
progress lines redraw in place; in CI (no terminal, or CI set) every event is
one plain line.

With `--json` a verb prints one JSON document on stdout (`json`) and every
other line goes to stderr (`text_to_stderr`), so `invoke cost --json | jq`
reads a document and nothing else.

A reader that goes away (`invoke cost | head`) closes the pipe: the next
write to stdout raises OutputClosed, a KeyboardInterrupt, so the command stops
as on Ctrl-C (a release rolls back, a watch stops), and every later write to
stdout is dropped. tasks.py ends such a command quietly with exit 141.
"""

from __future__ import annotations

import json as jsonlib
import os
import sys
from typing import Any, Iterable, Sequence, TextIO

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "dim": "2", "bold": "1"}


class OutputClosed(KeyboardInterrupt):
    """Standard output was closed by its reader (a pipe into `head`): stop as on Ctrl-C, print nothing more."""


def colour_allowed(stream: object, no_color: bool = False) -> bool:
    """Colour on `stream`: only a terminal, never with NO_COLOR (any non-empty value), --no-color or CI."""
    if no_color or os.environ.get("NO_COLOR") or os.environ.get("CI"):
        return False
    return _isatty(stream)


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):  # a closed or odd stream is no terminal
        return False


class _Discard:
    """Where output goes when there is no stdout at all (started with `>&-`)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class Console:
    def __init__(self, stream: TextIO | None = None, err: TextIO | None = None, interactive: bool | None = None,
                 colour: bool | None = None):
        """`colour`: None decides per stream (a terminal, no NO_COLOR, no CI); False never; True always (tests)."""
        self.stream: Any = stream or sys.stdout or _Discard()
        self.err: Any = err or sys.stderr or _Discard()
        self.data: Any = self.stream   # where --json documents go: always the real stdout
        if interactive is None:
            interactive = _isatty(self.stream) and not os.environ.get("CI")
        self.interactive = interactive
        self.colour_out = colour_allowed(self.stream) if colour is None else colour
        self.colour_err = colour_allowed(self.err) if colour is None else colour
        self.output_closed = False
        self._status_shown = False

    def text_to_stderr(self) -> None:
        """--json: the document alone on stdout; headings, tables and notes go to stderr."""
        self.stream = self.err
        self.colour_out = self.colour_err
        self.interactive = self.interactive and _isatty(self.err)

    @staticmethod
    def _paint(text: str, colour: str | None, enabled: bool) -> str:
        if not colour or not enabled:
            return text
        return f"\033[{_COLOURS[colour]}m{text}\033[0m"

    def _write(self, stream: Any, text: str) -> None:
        """Write and flush; a reader gone from stdout raises OutputClosed once, then output is dropped."""
        is_data = stream is self.data
        if is_data and self.output_closed:
            return
        try:
            stream.write(text)
            stream.flush()
        except (BrokenPipeError, ValueError) as e:
            if isinstance(e, ValueError) and not getattr(stream, "closed", False):
                raise  # not a closed stream (an encoding error, say): a bug to see
            if not is_data:
                return  # stderr gone too: nothing left to tell
            self.output_closed = True
            _point_at_devnull(stream)
            raise OutputClosed() from None

    def _clear_status(self) -> None:
        if self._status_shown:
            self._status_shown = False
            self._write(self.stream, "\r\033[K")

    def line(self, text: str = "", colour: str | None = None) -> None:
        self._clear_status()
        self._write(self.stream, self._paint(text, colour, self.colour_out) + "\n")

    def heading(self, text: str) -> None:
        self.line(text, "bold")

    def ok(self, text: str) -> None:
        self.line(text, "green")

    def warn(self, text: str) -> None:
        self._clear_status()
        self._write(self.err, self._paint(f"warning: {text}", "yellow", self.colour_err) + "\n")

    def error(self, text: str) -> None:
        self._clear_status()
        self._write(self.err, self._paint(f"error: {text}", "red", self.colour_err) + "\n")

    def status(self, text: str) -> None:
        """A live progress line on a terminal; silent in CI (events carry the progress there)."""
        if not self.interactive:
            return
        self._write(self.stream, "\r\033[K" + self._paint(text, "dim", self.colour_out))
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

    def json(self, document: dict) -> None:
        """One JSON document on stdout (--json): indented, keys in the documented order, never coloured."""
        self._clear_status()
        self._write(self.data, jsonlib.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _point_at_devnull(stream: Any) -> None:
    """After a broken pipe, the interpreter's last flush of stdout would fail again ("Exception ignored ...
    BrokenPipeError"): point the descriptor at /dev/null, as the Python documentation advises (signal module,
    "Note on SIGPIPE")."""
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass


def iso_time(value: object) -> str | None:
    """A timestamp for a JSON document: ISO 8601 in UTC with a Z (2026-11-26T01:02:03Z); None when unknown."""
    from datetime import datetime, timezone

    if not isinstance(value, datetime):
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


def elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def shorten(value: object, width: int = 60) -> str:
    """A value as one bounded line for a table: JSON for structures, whitespace folded, an ellipsis when cut."""
    text = value if isinstance(value, str) else jsonlib.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
