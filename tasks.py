"""portyfoul-infra tasks: the table of contents. Each task is one verb, `verb(ctx, opts) -> Result`.

Run `invoke --list` for the list and `invoke --help TASK` for a task's options.
A task's flags, defaults and help live in its options dataclass (portyfoul_infra/options.py); its body lives in
portyfoul_infra/verbs/ (or portyfoul_infra/scenarios/ for the local runs), imported when the task runs. Exit codes:
the one table in portyfoul_infra/outcomes.py.
"""

from __future__ import annotations

import inspect
import os
import sys

from invoke import Exit, task
from invoke.exceptions import ParseError
from invoke.parser import parser as invoke_parser

from portyfoul_infra import options as o
from portyfoul_infra.cli import VerbTask, fit_invoke, signals_as_interrupts
from portyfoul_infra.console import Console, OutputClosed
from portyfoul_infra.errors import UserError
from portyfoul_infra.outcomes import Journal, Outcome, Result, failure_exit, result_of


class _BadCommandLine(ParseError, Exit):
    """A command line invoke cannot parse (a missing positional argument, an unknown flag) is bad input: one
    line with where to find the usage, and exit 2 like every other refusal. invoke's own ParseError exits 1."""

    def __init__(self, msg, context=None):
        where = f"; usage: `invoke --help {context.name}`" if getattr(context, "name", None) else ""
        self.text = f"error: {_plain(str(msg))}{where}"
        ParseError.__init__(self, self.text, context)
        self.message, self._code = None, Outcome.REFUSED.exit_code

    def __str__(self) -> str:
        return self.text


def _plain(msg: str) -> str:
    """invoke's "Flag <Argument: env (e)> needed value and was not given one!" as `--env needs a value`."""
    import re
    found = re.fullmatch(r"Flag <Argument: ([\w-]+)(?: \(\w\))?> needed value and was not given one!", msg)
    return f"--{found.group(1).rstrip('_').replace('_', '-')} needs a value" if found else msg


invoke_parser.ParseError = _BadCommandLine  # type: ignore[misc]  # where invoke raises it; Program.run still catches it as a ParseError
fit_invoke()  # help: types and units, positional arguments as positional (portyfoul_infra/cli.py)

def verb(options_cls, env_from: str = "env"):
    """An invoke task whose flags are `options_cls`'s fields; the decorated stub calls its verb as
    verb(ctx, opts), importing the verb's module when it runs (so `invoke --list` loads no boto3), by name in
    the code: a renamed verb fails the type check and tests/test_layout.py, never a user's command.

    Every value is checked (UserError: one line, exit 2) before the body runs; the verb's Result gives the exit
    code (outcomes.py: the one table); an AWS error or an interruption becomes one line and exit 2 (nothing
    changed) or 4 (the journal says what changed), never a traceback. Every task also takes options.Common's flags (--no-color); a task
    with --json prints its document alone on stdout. A reader that closes stdout (`| head`) ends the command
    as Ctrl-C would, quietly: exit 141 (Outcome.OUTPUT_CLOSED), or the failure's own code if it had changed
    something.
    """
    def decorate(fn):
        name = fn.__name__
        fields = o.flag_fields(o.Common) + o.flag_fields(options_cls)

        def wrapper(c, **flags):
            console = Console(colour=False if flags.get("no_color") else None)
            journal = Journal()
            try:
                opts = o.from_flags(options_cls, flags, name.replace("_", "-"), words_after_dashes())
                if getattr(opts, "json", False):
                    console.text_to_stderr()
                # A task without an environment flag (build-template, sandbox) reads dev's settings; one with a
                # flag has a name there: from_flags refused an empty one, and load_environment refuses the unknown.
                ctx = make_ctx(getattr(opts, env_from, "dev"), console, journal)
                with signals_as_interrupts(console.warn):
                    result = result_of(fn(ctx, opts))
            except (Exception, KeyboardInterrupt) as e:  # one line and a known exit code, never a traceback
                if console.output_closed or isinstance(e, OutputClosed):
                    _end_with_closed_output(console, journal, None)
                ended = failure_exit(e, journal)
                if ended is None:
                    raise
                console.error(ended[0])
                raise Exit(code=ended[1]) from None
            if console.output_closed:
                _end_with_closed_output(console, journal, result)
            if not result.ok:
                raise Exit(code=result.exit_code)

        wrapper.__name__ = name
        wrapper.__doc__ = fn.__doc__
        wrapper.__signature__, helps, positional, iterable = _signature(fields)  # type: ignore[attr-defined]
        return task(help=helps, positional=positional, iterable=iterable, klass=VerbTask,
                    shortflags={f.name: o.SHORT_FLAGS[f.name] for f in fields if f.name in o.SHORT_FLAGS},
                    metavars={f.name: o.metavar(f) for f in fields})(wrapper)
    return decorate


def _signature(fields) -> tuple[inspect.Signature, dict[str, str], list[str], list[str]]:
    """What invoke reads a task's flags from: the signature (every default a string, so that options.from_flags,
    not invoke, parses and bounds each value), the help texts, the positional and the repeatable ones."""
    params = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    helps, positional, iterable = {}, [], []
    for f in fields:
        default: object
        if f.metadata.get("positional"):
            positional.append(f.name)
            default = None  # None lets invoke parse a missing one; from_flags refuses it with the usage
        elif f.metadata.get("iterable"):
            iterable.append(f.name)
            default = []
        elif isinstance(f.default, bool):
            default = f.default
        else:
            default = str(f.default)
        params.append(inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
        helps[f.name] = f.metadata.get("help", "") if f.metadata.get("positional") else o.help_text(f)
    return inspect.Signature(params), helps, positional, iterable


def _end_with_closed_output(console: Console, journal: Journal, result: Result | None):
    """The reader closed stdout: nothing more is printed there. Nothing changed: exit 141 quietly, as `git log |
    head` does. Something changed: stderr says what, with the result's code (3 rolled back) or 4."""
    if not journal.changes:
        raise Exit(code=Outcome.OUTPUT_CLOSED.exit_code)
    code = result.exit_code if result is not None and not result.ok else Outcome.NEEDS_HUMAN.exit_code
    console.error(f"standard output was closed, so the command stopped as on Ctrl-C; {journal.summary()}")
    raise Exit(code=code)


def words_after_dashes(argv: list[str] | None = None) -> tuple[str, ...]:
    """The words after `--` exactly as the shell passed them. invoke joins them into one string (its
    `remainder`), and splitting that again would lose the quoting: `-- sh -c 'exit 3'` must stay three words."""
    argv = sys.argv if argv is None else argv
    return tuple(argv[argv.index("--") + 1:]) if "--" in argv else ()


def make_ctx(env_name: str, console: Console, journal: Journal):
    """The context a command runs with: the environment's clients, this terminal (if any), real time."""
    from portyfoul_infra.aws.clients import connect
    from portyfoul_infra.aws.images import subprocess_runner
    from portyfoul_infra.config import load_environment
    from portyfoul_infra.context import Ctx

    env = load_environment(env_name)
    return Ctx(aws=connect(env.region), env=env, console=console, journal=journal,
               prompt=TerminalPrompt() if sys.stdin.isatty() else None, runner=subprocess_runner,
               read_secret=_read_secret_value, poll_seconds=_poll_override())


def _poll_override() -> float | None:
    """PORTYFOUL_POLL_SECONDS: poll every wait this often (the tests and the sandbox; never needed on AWS)."""
    value = os.environ.get("PORTYFOUL_POLL_SECONDS", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise UserError(f"PORTYFOUL_POLL_SECONDS={value[:20]!r}: must be a number of seconds from 0 to 60")
    return seconds


def _answer(question):
    """One line typed on the terminal, stripped; "" for Ctrl-C or EOF (which mean no)."""
    try:
        return input(f"{question} ").strip()
    except (KeyboardInterrupt, EOFError):
        print()
        return ""


class TerminalPrompt:
    """The person at this terminal: y/N questions and typed confirmations."""

    def confirm(self, question: str) -> bool:
        return _answer(f"{question} [y/N]").lower() in ("y", "yes")

    def confirm_typed(self, question: str, expected: str) -> bool:
        return _answer(question) == expected


def _read_secret_value(prompt):
    """A hidden prompt on a terminal, otherwise all of standard input. Never argv."""
    import getpass
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.read()


# ---------------------------------------------------------------- template

@verb(o.VersionOptions)
def version(ctx, opts):
    """This tool's version, and the version and content hash of the template in generated/ (offline).

    Example: invoke version --json
    """
    from portyfoul_infra.verbs import template
    return template.version(ctx, opts)


@verb(o.BuildOptions)
def build_template(ctx, opts):
    """Compile the infrastructure code into generated/ (template and per-environment deploy inputs).

    Example: invoke build-template --check
    """
    from portyfoul_infra.verbs import template
    return template.build_template(ctx, opts)


@verb(o.NoOptions)
def lint(ctx, opts):
    """cfn-lint (with informational checks) and checkov (offline) on the generated template.

    Example: invoke lint
    """
    from portyfoul_infra.verbs import template
    return template.lint(ctx, opts)


@verb(o.ReadOptions)
def cost(ctx, opts):
    """Monthly cost estimate, line by line, from the template and the environment's sizes.

    Example: invoke cost --env prod --json
    """
    from portyfoul_infra.verbs import template
    return template.cost(ctx, opts)


# ---------------------------------------------------------------- stack

@verb(o.UpdateOptions)
def stack_update(ctx, opts):
    """Create or update the stack through a reviewed change set; data-loss guard; live events.

    Example: invoke stack-update --env staging --yes
    """
    from portyfoul_infra.verbs import stack
    return stack.stack_update(ctx, opts)


@verb(o.DiffOptions)
def stack_diff(ctx, opts):
    """Preview what stack-update would change (a change set, deleted afterwards).

    Example: invoke stack-diff --env staging
    """
    from portyfoul_infra.verbs import stack
    return stack.stack_diff(ctx, opts)


@verb(o.ReadOptions)
def stack_status(ctx, opts):
    """Stack status, deployed template version versus generated/, outputs.

    Example: invoke stack-status --env staging --json
    """
    from portyfoul_infra.verbs import stack
    return stack.stack_status(ctx, opts)


@verb(o.AdoptOptions)
def adopt(ctx, opts):
    """Take over a live stack built by hand, step 1 of 2: plan both steps, rename its logical IDs to ours in place.

    Example: invoke adopt --env dev --rehearse
    """
    if opts.rehearse:  # read-only here; the takeover runs on a local AWS
        from portyfoul_infra.scenarios import rehearse
        return rehearse.rehearse(ctx, opts)
    from portyfoul_infra.verbs import adopt as adoption
    return adoption.adopt(ctx, opts)


@verb(o.DeployRoleOptions)
def deploy_role(ctx, opts):
    """Create or update the companion stack with the role GitHub Actions deploys through (OIDC, no stored keys).

    Example: invoke deploy-role --env prod --yes
    """
    from portyfoul_infra.verbs import deploy_role
    return deploy_role.deploy_role(ctx, opts)


@verb(o.DriftOptions)
def stack_drift(ctx, opts):
    """Drift detection: every resource changed outside CloudFormation, expected against actual; exit 2 if any.

    Example: invoke stack-drift --env prod --json
    """
    from portyfoul_infra.verbs import drift
    return drift.stack_drift(ctx, opts)


@verb(o.DeleteOptions)
def stack_delete(ctx, opts):
    """Tear an environment down: shows what is deleted and what stays, asks for the stack's name, watches.

    Example: invoke stack-delete --env staging --confirm portyfoul-staging-infra
    """
    from portyfoul_infra.verbs import teardown
    return teardown.stack_delete(ctx, opts)


# ---------------------------------------------------------------- release

@verb(o.ReleaseOptions)
def release(ctx, opts):
    """Build, push, register, (migrate,) deploy web and worker, watch, roll back on failure.

    Example: invoke release --env staging --tag 1a2b3c4d --no-build --timeout 900
    """
    from portyfoul_infra.verbs import release
    return release.release(ctx, opts)


@verb(o.PromoteOptions, env_from="to")
def promote(ctx, opts):
    """Release to --to the image --from released and tested: copied by digest, then released.

    Example: invoke promote --tag 1a2b3c4d --from staging --to prod
    """
    from portyfoul_infra.verbs import promote
    return promote.promote(ctx, opts)


@verb(o.DeliveryPlanOptions)
def delivery_plan(ctx, opts):
    """What delivering an application commit does in each environment (release, promote or skip); reads no AWS.

    Example: invoke delivery-plan --sha "$APP_SHA" --app-repository owner/portyfoul --github-output "$GITHUB_OUTPUT"
    """
    from portyfoul_infra.verbs import delivery
    return delivery.delivery_plan(ctx, opts)


@verb(o.DeliverOptions)
def deliver(ctx, opts):
    """Deliver an application commit to --env: promote it from promote_from, or release it (built only if ECR lacks it).

    Example: invoke deliver --env dev --sha "$APP_SHA" --app-dir app
    """
    from portyfoul_infra.verbs import delivery
    return delivery.deliver(ctx, opts)


@verb(o.RollbackOptions)
def rollback(ctx, opts):
    """Back to the newest release that succeeded and differs from what runs now (or --to TAG), watched.

    Example: invoke rollback --env prod --service web --to 1a2b3c4d
    """
    from portyfoul_infra.verbs import release
    return release.rollback(ctx, opts)


@verb(o.ReadOptions)
def release_status(ctx, opts):
    """What runs now per service: tag, revision, rollout state, running and desired counts; recent releases.

    Example: invoke release-status --env prod --json | jq '.services[].tag'
    """
    from portyfoul_infra.verbs import release
    return release.release_status(ctx, opts)


@verb(o.LogsOptions)
def logs(ctx, opts):
    """Tail the services' CloudWatch log groups.

    Example: invoke logs --service worker --since 30m --follow
    """
    from portyfoul_infra.verbs import logs
    return logs.logs(ctx, opts)


# ---------------------------------------------------------------- operating the running app

@verb(o.ShellOptions)
def shell(ctx, opts):
    """A shell (or --command) in a running task of a service, through ECS Exec; every session is logged.

    Example: invoke shell --service worker --command 'node -v'
    """
    from portyfoul_infra.verbs import shell
    return shell.shell(ctx, opts)


@verb(o.RunOptions)
def run(ctx, opts):
    """A one-off command in a new task from a service's task definition: `invoke run -- CMD...`; its exit code.

    Example: invoke run --service web --timeout 600 -- npm run report
    """
    from portyfoul_infra.verbs import shell
    return shell.run(ctx, opts)


@verb(o.ForceUnlockOptions)
def force_unlock(ctx, opts):
    """Break an environment's deploy lock on purpose, when the command holding it is gone (a cancelled job).

    Example: invoke force-unlock --env prod --id 19a2b3c4d5e-4242
    """
    from portyfoul_infra.verbs import lock
    return lock.force_unlock(ctx, opts)


@verb(o.SnapshotOptions)
def db_snapshot(ctx, opts):
    """A manual database snapshot, named with environment, time and running tag; waits until available.

    Example: invoke db-snapshot --env prod
    """
    from portyfoul_infra.verbs import database
    return database.db_snapshot(ctx, opts)


@verb(o.ReadOptions)
def db_snapshots(ctx, opts):
    """The database's snapshots, manual and automated: age, size, status.

    Example: invoke db-snapshots --env prod --json
    """
    from portyfoul_infra.verbs import database
    return database.db_snapshots(ctx, opts)


@verb(o.RestoreOptions)
def db_restore(ctx, opts):
    """Restore a snapshot into a NEW instance (never over the live one) and say how to use it.

    Example: invoke db-restore --snapshot portyfoul-prod-20261126-010203-1a2b3c4d --env prod
    """
    from portyfoul_infra.verbs import database
    return database.db_restore(ctx, opts)


# ---------------------------------------------------------------- secrets and configuration

@verb(o.ReadOptions)
def secrets_check(ctx, opts):
    """Every secret and parameter the services use: exists, placeholder or set, last changed, read by. Never a value.

    Example: invoke secrets-check --env staging --json
    """
    from portyfoul_infra.verbs import secrets
    return secrets.secrets_check(ctx, opts)


@verb(o.SecretsSetOptions)
def secrets_set(ctx, opts):
    """Write a secret's new value from standard input or a hidden prompt (never the command line).

    Example: echo -n "$KEY" | invoke secrets-set finnhub-api-key --env staging --restart
    """
    from portyfoul_infra.verbs import secrets
    return secrets.secrets_set(ctx, opts)


@verb(o.SecretsRotateOptions)
def secrets_rotate(ctx, opts):
    """Replace a generated secret with a new random value (jwt-secret: signs every user out).

    Example: invoke secrets-rotate jwt-secret --env staging --restart
    """
    from portyfoul_infra.verbs import secrets
    return secrets.secrets_rotate(ctx, opts)


@verb(o.ReadOptions)
def config_show(ctx, opts):
    """The non-secret settings in SSM Parameter Store, with who reads them.

    Example: invoke config-show --env staging --json
    """
    from portyfoul_infra.verbs import secrets
    return secrets.config_show(ctx, opts)


@verb(o.ConfigSetOptions)
def config_set(ctx, opts):
    """Change a non-secret setting in SSM; takes effect when the services restart.

    Example: invoke config-set price-update-interval 5 --restart
    """
    from portyfoul_infra.verbs import secrets
    return secrets.config_set(ctx, opts)


# ---------------------------------------------------------------- local

@verb(o.SandboxOptions)
def sandbox(ctx, opts):
    """The whole lifecycle on this machine against a local AWS (moto): build, create, release, status.

    Example: invoke sandbox --scenario failed-release --port 0
    """
    from portyfoul_infra.scenarios import sandbox as scenarios
    return scenarios.sandbox(ctx, opts)
