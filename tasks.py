"""portyfoul-infra tasks. Each task parses its arguments, calls one function, maps the outcome to an exit code.

Run `invoke --list` for the list and `invoke --help TASK` for a task's options.
Exit codes: see portyfoul_infra/outcomes.py (0 ok, 2 refused, 3 rolled back, 4 needs a human).
"""

from __future__ import annotations

import functools
import inspect

from invoke import Exit, task

from portyfoul_infra.console import Console
from portyfoul_infra.errors import UserError
from portyfoul_infra.outcomes import Outcome


def _run(fn):
    """Map a task body's Outcome (or UserError) to an exit code and a one-line error."""
    @functools.wraps(fn)
    def wrapper(c, *args, **kwargs):
        console = Console()
        try:
            outcome = fn(c, console, *args, **kwargs)
        except UserError as e:
            console.error(str(e))
            raise Exit(code=Outcome.REFUSED.exit_code) from None
        if isinstance(outcome, Outcome) and not outcome.ok:
            raise Exit(code=outcome.exit_code)
    # Invoke reads the signature for the command-line flags: show it without `console`.
    sig = inspect.signature(fn)
    del wrapper.__wrapped__
    wrapper.__signature__ = sig.replace(parameters=[p for n, p in sig.parameters.items() if n != "console"])
    return wrapper


@task(help={"check": "Change nothing; exit 2 if generated/ is out of date with the code (for CI)"})
@_run
def build_template(c, console, check=False):
    """Compile the infrastructure code into generated/ (template and per-environment deploy inputs)."""
    from portyfoul_infra.template_tasks import build_template as run
    return run(console, check=check)


@task
@_run
def lint(c, console):
    """cfn-lint (with informational checks) and checkov (offline) on the generated template."""
    from portyfoul_infra.template_tasks import lint as run
    return run(console)
