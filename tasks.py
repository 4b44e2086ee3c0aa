"""portyfoul-infra tasks. Each task parses its options, calls one function, maps the outcome to an exit code.

Run `invoke --list` for the list and `invoke --help TASK` for a task's options.
Flags, defaults and help live in portyfoul_infra/options.py, once.
Exit codes: see portyfoul_infra/outcomes.py (0 ok, 2 refused, 3 rolled back, 4 needs a human).
"""

from __future__ import annotations

import inspect

from invoke import Exit, task
from invoke.exceptions import ParseError
from invoke.parser import parser as invoke_parser

from portyfoul_infra import options as o
from portyfoul_infra.console import Console
from portyfoul_infra.outcomes import JOURNAL, Outcome


class _BadCommandLine(ParseError, Exit):
    """A command line invoke cannot parse (a missing positional argument, an unknown flag) is bad input: one
    line with where to find the usage, and exit 2 like every other refusal. invoke's own ParseError exits 1."""

    def __init__(self, msg, context=None):
        where = f"; usage: `invoke --help {context.name}`" if getattr(context, "name", None) else ""
        self.text = f"error: {msg}{where}"
        ParseError.__init__(self, self.text, context)
        self.message, self._code = None, Outcome.REFUSED.exit_code

    def __str__(self) -> str:
        return self.text


invoke_parser.ParseError = _BadCommandLine  # where invoke raises it; Program.run still catches it as a ParseError


def verb(options_cls=None):
    """An invoke task whose flags are `options_cls`'s fields; the body gets (console, opts).

    Every value is checked (UserError: one line, exit 2) before the body runs;
    the body's Outcome becomes the exit code; botocore errors become one line.
    """
    def decorate(body):
        fields = o.flag_fields(options_cls) if options_cls else []

        def wrapper(c, **flags):
            console = Console()
            JOURNAL.reset()
            try:
                opts = (o.from_flags(options_cls, flags, body.__name__.replace("_", "-"), getattr(c, "remainder", ""))
                        if options_cls else None)
                outcome = body(console, opts)
            except (Exception, KeyboardInterrupt) as e:  # one line and a known exit code, never a traceback
                from portyfoul_infra.outcomes import failure_exit
                ended = failure_exit(e, JOURNAL.changes, JOURNAL.summary())
                if ended is None:
                    raise
                console.error(ended[0])
                raise Exit(code=ended[1]) from None
            if isinstance(outcome, Outcome) and not outcome.ok:
                raise Exit(code=outcome.exit_code)
            if isinstance(outcome, int) and not isinstance(outcome, bool) and outcome != 0:
                raise Exit(code=outcome)  # `run` ends with the container's own exit code

        params = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        helps, positional, iterable = {}, [], []
        for f in fields:
            if f.metadata.get("positional"):
                positional.append(f.name)
                default = None  # None lets invoke parse a missing one; from_flags refuses it with the usage
            elif f.metadata.get("iterable"):
                iterable.append(f.name)
                default = []
            elif isinstance(f.default, bool):
                default = f.default
            else:
                default = str(f.default)  # parsed and bounded by options.from_flags, never by invoke
            params.append(inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
            shown = f.default
            suffix = f" (default {shown})" if shown not in (None, "", False, ()) and not isinstance(shown, bool) else ""
            helps[f.name] = f.metadata.get("help", "") + suffix
        wrapper.__name__ = body.__name__
        wrapper.__doc__ = body.__doc__
        wrapper.__signature__ = inspect.Signature(params)
        return task(help=helps, positional=positional, iterable=iterable)(wrapper)
    return decorate


def _env(name):
    from portyfoul_infra.config import load_environment
    return load_environment(name)


def _aws(env):
    from portyfoul_infra.aws.clients import connect
    return connect(env.region)


def _clock():
    from portyfoul_infra.context import default_clock
    return default_clock()


def _answer(question):
    """One line typed on the terminal, stripped; "" for Ctrl-C or EOF (which mean no)."""
    try:
        return input(f"{question} ").strip()
    except (KeyboardInterrupt, EOFError):
        print()
        return ""


def _confirm():
    """A y/N prompt on a terminal; None without one (then --yes is required)."""
    import sys
    if not sys.stdin.isatty():
        return None
    return lambda question: _answer(f"{question} [y/N]").lower() in ("y", "yes")


def _read_secret_value(prompt):
    """A hidden prompt on a terminal, otherwise all of standard input. Never argv."""
    import getpass
    import sys
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.read()


# ---------------------------------------------------------------- template

@verb(o.BuildOptions)
def build_template(console, opts):
    """Compile the infrastructure code into generated/ (template and per-environment deploy inputs)."""
    from portyfoul_infra.verbs.template import build_template as run
    return run(console, opts)


@verb()
def lint(console, opts):
    """cfn-lint (with informational checks) and checkov (offline) on the generated template."""
    from portyfoul_infra.verbs.template import lint as run
    return run(console)


@verb(o.EnvOptions)
def cost(console, opts):
    """Monthly cost estimate, line by line, from the template and the environment's sizes."""
    from portyfoul_infra.artifacts.cost import cost as run
    return run(console, _env(opts.env))


# ---------------------------------------------------------------- stack

@verb(o.UpdateOptions)
def stack_update(console, opts):
    """Create or update the stack through a reviewed change set; data-loss guard; live events."""
    from portyfoul_infra.verbs.stack import stack_update as run
    e = _env(opts.env)
    return run(_aws(e), e, console, opts, _confirm(), *_clock())


@verb(o.EnvOptions)
def stack_diff(console, opts):
    """Preview what stack-update would change (a change set, deleted afterwards)."""
    from portyfoul_infra.verbs.stack import stack_diff as run
    e = _env(opts.env)
    return run(_aws(e), e, console, *_clock())


@verb(o.EnvOptions)
def stack_status(console, opts):
    """Stack status, deployed template version versus generated/, outputs."""
    from portyfoul_infra.verbs.stack import stack_status as run
    e = _env(opts.env)
    return run(_aws(e), e, console)


@verb(o.AdoptOptions)
def adopt(console, opts):
    """Take over a live stack built by hand: match its resources, rename their logical IDs to ours in place."""
    from portyfoul_infra.verbs.adopt import adopt as run
    e = _env(opts.env)
    return run(_aws(e), e, console, opts, _confirm(), *_clock())


# ---------------------------------------------------------------- release

@verb(o.ReleaseOptions)
def release(console, opts):
    """Build, push, register, (migrate,) deploy web and worker, watch, roll back on failure."""
    from portyfoul_infra.aws.images import subprocess_runner
    from portyfoul_infra.verbs.release import release as run
    e = _env(opts.env)
    return run(_aws(e), e, console, opts, subprocess_runner, *_clock())


@verb(o.PromoteOptions)
def promote(console, opts):
    """Release to --to the image --from released and tested: copied by digest, then released."""
    from portyfoul_infra.aws.images import subprocess_runner
    from portyfoul_infra.verbs.promote import promote as body
    source, target = _env(opts.from_), _env(opts.to)
    return body(_aws(target), source, target, console, opts, subprocess_runner, *_clock())


@verb(o.DeployRoleOptions)
def deploy_role(console, opts):
    """Create or update the companion stack with the role GitHub Actions deploys through (OIDC, no stored keys)."""
    from portyfoul_infra.verbs.deploy_role import deploy_role as body
    e = _env(opts.env)
    source = _env(e.promote_from) if e.promote_from else None
    return body(_aws(e), e, console, opts, _confirm(), *_clock(), source=source)


@verb(o.RollbackOptions)
def rollback(console, opts):
    """Put services back on their previous task definition revision, watched like a release."""
    from portyfoul_infra.verbs.release import rollback as run
    e = _env(opts.env)
    return run(_aws(e), e, console, opts, *_clock())


@verb(o.EnvOptions)
def release_status(console, opts):
    """What runs now per service: tag, revision, rollout state, running and desired counts."""
    from portyfoul_infra.verbs.release import release_status as run
    e = _env(opts.env)
    return run(_aws(e), e, console)


@verb(o.LogsOptions)
def logs(console, opts):
    """Tail the services' CloudWatch log groups."""
    import time
    from portyfoul_infra.verbs.logs import logs as run
    e = _env(opts.env)
    return run(_aws(e), e, console, opts, time.sleep)


# ---------------------------------------------------------------- operating the running app

@verb(o.ShellOptions)
def shell(console, opts):
    """A shell (or --command) in a running task of a service, through ECS Exec; every session is logged."""
    import subprocess

    from portyfoul_infra.verbs.shell import shell as run
    e = _env(opts.env)
    return run(_aws(e), e, console, opts, lambda cmd, stdin: subprocess.run(list(cmd)).returncode)


@verb(o.RunOptions)
def run(console, opts):
    """A one-off command in a new task from a service's task definition: `invoke run -- CMD...`; its exit code."""
    from portyfoul_infra.verbs.shell import run as body
    e = _env(opts.env)
    return body(_aws(e), e, console, opts, *_clock())


@verb(o.SnapshotOptions)
def db_snapshot(console, opts):
    """A manual database snapshot, named with environment, time and running tag; waits until available."""
    from portyfoul_infra.verbs.database import db_snapshot as body
    e = _env(opts.env)
    return body(_aws(e), e, console, opts, *_clock())


@verb(o.EnvOptions)
def db_snapshots(console, opts):
    """The database's snapshots, manual and automated: age, size, status."""
    from portyfoul_infra.verbs.database import db_snapshots as body
    e = _env(opts.env)
    return body(_aws(e), e, console)


@verb(o.RestoreOptions)
def db_restore(console, opts):
    """Restore a snapshot into a NEW instance (never over the live one) and say how to use it."""
    from portyfoul_infra.verbs.database import db_restore as body
    e = _env(opts.env)
    return body(_aws(e), e, console, opts)


@verb(o.DriftOptions)
def stack_drift(console, opts):
    """Drift detection: every resource changed outside CloudFormation, expected against actual; exit 2 if any."""
    from portyfoul_infra.verbs.drift import stack_drift as body
    e = _env(opts.env)
    return body(_aws(e), e, console, opts, *_clock())


@verb(o.DeleteOptions)
def stack_delete(console, opts):
    """Tear an environment down: shows what is deleted and what stays, asks for the stack's name, watches."""
    from portyfoul_infra.verbs.teardown import stack_delete as body
    e = _env(opts.env)
    return body(_aws(e), e, console, opts, _typed_confirmation(), *_clock())


def _typed_confirmation():
    """A prompt that must be answered with the exact text asked for; None without a terminal."""
    import sys
    if not sys.stdin.isatty():
        return None
    return lambda question, expected: _answer(question) == expected


# ---------------------------------------------------------------- secrets and configuration

@verb(o.EnvOptions)
def secrets_check(console, opts):
    """Every secret and parameter the services use: exists, placeholder or set, last changed, read by. Never a value."""
    from portyfoul_infra.verbs.secrets import secrets_check as run
    e = _env(opts.env)
    return run(_aws(e), e, console)


@verb(o.SecretsSetOptions)
def secrets_set(console, opts):
    """Write a secret's new value from standard input or a hidden prompt (never the command line)."""
    from portyfoul_infra.verbs.secrets import secrets_set as run
    e = _env(opts.env)
    return run(_aws(e), e, console, opts, _read_secret_value, *_clock())


@verb(o.SecretsRotateOptions)
def secrets_rotate(console, opts):
    """Replace a generated secret with a new random value (jwt-secret: signs every user out)."""
    from portyfoul_infra.verbs.secrets import secrets_rotate as run
    e = _env(opts.env)
    return run(_aws(e), e, console, opts, *_clock())


@verb(o.EnvOptions)
def config_show(console, opts):
    """The non-secret settings in SSM Parameter Store, with who reads them."""
    from portyfoul_infra.verbs.secrets import config_show as run
    e = _env(opts.env)
    return run(_aws(e), e, console)


@verb(o.ConfigSetOptions)
def config_set(console, opts):
    """Change a non-secret setting in SSM; takes effect when the services restart."""
    from portyfoul_infra.verbs.secrets import config_set as run
    e = _env(opts.env)
    return run(_aws(e), e, console, opts, *_clock())


# ---------------------------------------------------------------- local

@verb(o.SandboxOptions)
def sandbox(console, opts):
    """The whole lifecycle on this machine against a local AWS (moto): build, create, release, status."""
    from portyfoul_infra.local.sandbox import sandbox as run
    return run(console, opts, *_clock())
