"""Where the tasks meet invoke's command line: short flags, help, and how a command ends.

- Short flags: invoke's automatic ones are off (they made `-t` mean --timeout, --tag, --to or --task,
  depending on the task). A flag has the short form options.SHORT_FLAGS gives its name, with that one
  meaning in every task, or none.
- Help names each value by its type or unit (`--timeout=SECONDS`, `--port=PORT`, `--tag=TAG`), not
  invoke's `=STRING` (every default reaches invoke as a string so that options.from_flags, not invoke,
  parses and bounds it). Positional arguments appear as such: `invoke config-set KEY VALUE [--options]`
  and under "Arguments:", never as `--key`.
- tasks.py calls `fit_invoke()` once, when invoke loads it; only tasks built as VerbTask change.

Like ecspresso's and the CDK's help, each task's help ends with one example (its docstring's last line).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from invoke import Task
from invoke.parser.context import ParserContext, flag_key, to_flag
from invoke.program import Program

# The conventional exit status of a process whose reader closed its output pipe: 128 + SIGPIPE (13), what
# `git log | head` or `cat big | head` report under `set -o pipefail`.
CLOSED_PIPE_EXIT = 141


class VerbTask(Task):
    """A task whose short flags and value names come from its options dataclass, not from invoke's guesses."""

    def __init__(self, body: Callable, *, shortflags: dict[str, str] | None = None,
                 metavars: dict[str, str] | None = None, **kwargs: Any) -> None:
        self.shortflags = dict(shortflags or {})
        self.metavars = dict(metavars or {})
        kwargs["auto_shortflags"] = False
        super().__init__(body, **kwargs)

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        short = self.shortflags.get(name)
        if short and short not in taken_names:
            opts["names"].append(short)
        return opts

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list:
        arguments = super().get_arguments(ignore_unknown_help)
        for argument in arguments:
            argument.metavar = self.metavars.get(argument.name or "", "")  # type: ignore[attr-defined]
        return arguments


_invoke_help_for = ParserContext.help_for
_invoke_print_task_help = Program.print_task_help


def _help_for(self: ParserContext, flag: str) -> tuple[str, str]:
    """`-e ENV, --env=ENV` and `--timeout=SECONDS` instead of `=STRING`; a repeatable flag shows its value."""
    names, text = _invoke_help_for(self, flag)
    argument = self.flags[flag]
    metavar = getattr(argument, "metavar", "")
    if not metavar:
        return names, text
    shown = [name + (f" {metavar}" if len(name.strip("-")) == 1 else f"={metavar}")
             for name in sorted(self.names_for(flag), key=len)]
    return ", ".join(shown), text


def _print_task_help(self: Program, name: str) -> None:
    """invoke's task help, with positional arguments in the usage line and under "Arguments:"."""
    task = self.collection[name]
    if not isinstance(task, VerbTask):
        return _invoke_print_task_help(self, name)
    import inspect

    context = self.parser.contexts[name]
    positional = list(context.positional_args)
    words = "".join(f"{getattr(a, 'metavar', '') or a.name.upper()} " for a in positional)
    flags = [a for a in sorted(context.flags.values(), key=flag_key) if not a.positional]
    print(f"Usage: {self.binary} [--core-opts] {name} {words}{'[--options] ' if flags else ''}"
          "[other tasks here ...]")
    print("")
    print("Docstring:")
    for line in (inspect.getdoc(task) or "none").splitlines():
        print(self.leading_indent + line if line.strip() else "")
    print("")
    if positional:
        print("Arguments:")
        self.print_columns([(getattr(a, "metavar", "") or a.name.upper(), a.help or "") for a in positional])
    print("Options:")
    if flags:
        self.print_columns([context.help_for(to_flag(a.name)) for a in flags])
    else:
        print(self.leading_indent + "none")
        print("")
    return None


def fit_invoke() -> None:
    """Install the help above (idempotent): invoke builds its parser from our tasks after loading tasks.py."""
    ParserContext.help_for = _help_for  # type: ignore[method-assign]
    Program.print_task_help = _print_task_help  # type: ignore[method-assign]


# ---------------------------------------------------------------- signals

class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI runner cancelling a job, `kill`) or SIGHUP (a closed terminal), raised where the command is,
    as Ctrl-C is: every verb's own handling of an interruption applies (a release rolls back and records it,
    a watch says what carries on in AWS), and the command ends 3 or 4 saying what changed."""

    def __init__(self, signum: int) -> None:
        import signal
        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)


@contextmanager
def signals_as_interrupts(warn: Callable[[str], None]) -> Iterator[None]:
    """SIGTERM and SIGHUP raise Terminated once; a repeat is noted and ignored, so that what the first one
    started (a rollback, the record of how it ended) is finished rather than cut off in its turn."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised: list[str] = []

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if raised:
            warn(f"{name} again: already stopping; finishing what is under way first")
            return
        raised.append(name)
        raise Terminated(signum)

    signals = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
