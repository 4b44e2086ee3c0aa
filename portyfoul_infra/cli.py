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
#
# SIGINT (Ctrl-C; GitHub's cancel sends it first), SIGTERM (a CI runner cancelling a job, `kill`; GitHub's second)
# and SIGHUP (a closed terminal) are one thing to a command: a request to stop. The first one stops the command
# where it is (Terminated, a KeyboardInterrupt), and each verb's handling of an interruption applies: a release
# rolls back and records it, a watch says what carries on in AWS. A command then finishes what that started:
# every later signal, in any order, is acknowledged in one line and ignored, up to the process's exit, so that a
# rollback, its record and the deploy lock are never cut off half-way. Code that must not be stopped even by a
# first signal (a rollback under way, recording how it ended) runs `held(...)`; once a command's outcome is
# decided, `hold_to_the_end(...)` holds the rest (giving back the lock, exiting).

SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


class Terminated(KeyboardInterrupt):
    """The first SIGINT, SIGTERM or SIGHUP, raised where the command is, as Ctrl-C is: every verb's own handling
    of an interruption applies, and the command ends 3 or 4 saying what changed."""

    def __init__(self, signum: int) -> None:
        import signal
        self.signal_name = signal.Signals(signum).name
        super().__init__(self.signal_name)


class SignalGuard:
    """How one command answers the stop signals (see above). `warn` prints the one-line acknowledgement."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self.warn = warn
        self.first = ""               # the first signal's name, once one came
        self.holds: list[str] = []    # what runs under held() now, innermost last
        self.ending = ""              # set by hold_to_the_end: what the command still does before it exits

    def handle(self, signum: int, frame: Any) -> None:
        import signal
        name = signal.Signals(signum).name
        until = self.ending or (self.holds[-1] if self.holds else "")
        if self.first:
            self.warn(f"{name} (after {self.first}): already stopping; ignored until "
                      f"{until or 'what is under way ends'}")
            return
        self.first = name
        if until:
            self.warn(f"{name}: ignored until {until}")
            return
        raise Terminated(signum)


_guard: SignalGuard | None = None


@contextmanager
def signals_as_interrupts(warn: Callable[[str], None]) -> Iterator[SignalGuard | None]:
    """Answer SIGINT, SIGTERM and SIGHUP with a SignalGuard while the block runs (the main thread only).

    Once a signal came or the block held its end, the guard stays the handler after the block too, ignoring
    every later signal until the process exits: nothing between the verb's end and the exit (its last line,
    the exit code) can be cut off. Otherwise the previous handlers come back.
    """
    import signal
    import threading

    global _guard
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    guard = SignalGuard(warn)
    signals = [s for s in (getattr(signal, name, None) for name in SIGNALS) if s is not None]
    previous = {s: signal.signal(s, guard.handle) for s in signals}
    outer, _guard = _guard, guard
    try:
        yield guard
    finally:
        _guard = outer
        if guard.first or guard.ending:
            guard.ending = guard.ending or "the command exits"
        else:
            for s, old in previous.items():
                signal.signal(s, old)


@contextmanager
def held(until: str) -> Iterator[None]:
    """No signal stops the block (`until` says what must finish first: "the rollback ends"); each is
    acknowledged and ignored. Without a guard (a test calling a verb, a thread) nothing changes."""
    guard = _guard
    if guard is None:
        yield
        return
    guard.holds.append(until)
    try:
        yield
    finally:
        guard.holds.pop()


def hold_to_the_end(until: str) -> None:
    """The command's outcome is decided and recorded: from now until the process exits, signals are
    acknowledged and ignored (`until`: "the deploy lock is given back")."""
    if _guard is not None:
        _guard.ending = until


def stop_signal() -> str:
    """The name of the first stop signal this command got ("" if none)."""
    return _guard.first if _guard is not None else ""
