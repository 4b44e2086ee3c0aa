"""portyfoul-infra tasks: the table of contents. Each task is one verb, `verb(ctx, opts) -> Outcome`.

Run `invoke --list` for the list and `invoke --help TASK` for a task's options.
A task's flags, defaults and help live in its options dataclass (portyfoul_infra/options.py); its body lives in
portyfoul_infra/verbs/ (imported only when the task runs). Exit codes: see portyfoul_infra/outcomes.py
(0 ok, 2 refused, 3 rolled back, 4 needs a human).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys

from invoke import Exit, task
from invoke.exceptions import ParseError
from invoke.parser import parser as invoke_parser

from portyfoul_infra import options as o
from portyfoul_infra.cli import CLOSED_PIPE_EXIT, VerbTask, fit_invoke, signals_as_interrupts
from portyfoul_infra.console import Console, OutputClosed
from portyfoul_infra.errors import UserError
from portyfoul_infra.outcomes import Journal, Outcome, failure_exit


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

# task name -> "module:function" of its body, filled by @verb; the sandbox runs verbs through it.
BODIES: dict[str, str] = {}


def body_of(name: str):
    """The body of the verb `name` (stack_update, release, ...), imported now."""
    module, function = BODIES[name].split(":")
    return getattr(importlib.import_module(f"portyfoul_infra.{module}"), function)


def verb(options_cls, module: str | None, env_from: str = "env"):
    """An invoke task whose flags are `options_cls`'s fields and whose body is `module`'s function of the same
    name (or the decorated function itself when module is None), called as body(ctx, opts).

    Every value is checked (UserError: one line, exit 2) before the body runs; the body's Outcome becomes the
    exit code; an AWS error or an interruption becomes one line and exit 2 (nothing changed) or 4 (the journal
    says what changed), never a traceback. Every task also takes options.Common's flags (--no-color); a task
    with --json prints its document alone on stdout. A reader that closes stdout (`| head`) ends the command
    as Ctrl-C would, quietly: exit 141 (cli.CLOSED_PIPE_EXIT), or the failure's own code if it had changed
    something.
    """
    def decorate(fn):
        name = fn.__name__
        if module is not None:
            BODIES[name] = f"{module}:{name}"
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
                    outcome = body_of(name)(ctx, opts) if module is not None else fn(ctx, opts)
            except (Exception, KeyboardInterrupt) as e:  # one line and a known exit code, never a traceback
                if console.output_closed or isinstance(e, OutputClosed):
                    _end_with_closed_output(console, journal, None)
                ended = failure_exit(e, journal)
                if ended is None:
                    raise
                console.error(ended[0])
                raise Exit(code=ended[1]) from None
            if console.output_closed:
                _end_with_closed_output(console, journal, outcome if isinstance(outcome, Outcome) else None)
            if isinstance(outcome, Outcome) and not outcome.ok:
                raise Exit(code=outcome.exit_code)
            if isinstance(outcome, int) and not isinstance(outcome, bool) and outcome != 0:
                raise Exit(code=outcome)  # `run` ends with the container's own exit code

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


def _end_with_closed_output(console: Console, journal: Journal, outcome: Outcome | None):
    """The reader closed stdout: nothing more is printed there. Nothing changed: exit 141 quietly, as `git log |
    head` does. Something changed: stderr says what, with the outcome's code (3 rolled back) or 4."""
    if not journal.changes:
        raise Exit(code=CLOSED_PIPE_EXIT)
    code = outcome.exit_code if outcome is not None and not outcome.ok else 4
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

@verb(o.VersionOptions, "verbs.template")
def version(ctx, opts):
    """This tool's version, and the version and content hash of the template in generated/ (offline).

    Example: invoke version --json
    """


@verb(o.BuildOptions, "verbs.template")
def build_template(ctx, opts):
    """Compile the infrastructure code into generated/ (template and per-environment deploy inputs).

    Example: invoke build-template --check
    """


@verb(o.NoOptions, "verbs.template")
def lint(ctx, opts):
    """cfn-lint (with informational checks) and checkov (offline) on the generated template.

    Example: invoke lint
    """


@verb(o.ReadOptions, "verbs.template")
def cost(ctx, opts):
    """Monthly cost estimate, line by line, from the template and the environment's sizes.

    Example: invoke cost --env prod --json
    """


# ---------------------------------------------------------------- stack

@verb(o.UpdateOptions, "verbs.stack")
def stack_update(ctx, opts):
    """Create or update the stack through a reviewed change set; data-loss guard; live events.

    Example: invoke stack-update --env staging --yes
    """


@verb(o.DiffOptions, "verbs.stack")
def stack_diff(ctx, opts):
    """Preview what stack-update would change (a change set, deleted afterwards).

    Example: invoke stack-diff --env staging
    """


@verb(o.ReadOptions, "verbs.stack")
def stack_status(ctx, opts):
    """Stack status, deployed template version versus generated/, outputs.

    Example: invoke stack-status --env staging --json
    """


@verb(o.AdoptOptions, None)
def adopt(ctx, opts):
    """Take over a live stack built by hand, step 1 of 2: plan both steps, rename its logical IDs to ours in place.

    Example: invoke adopt --env dev --rehearse
    """
    if opts.rehearse:  # read-only here; the takeover runs on a local AWS
        from portyfoul_infra.local.sandbox.rehearse import rehearse
        return rehearse(ctx, opts, body_of)
    return body_of("adopt")(ctx, opts)


BODIES["adopt"] = "verbs.adopt:adopt"


@verb(o.DeployRoleOptions, "verbs.deploy_role")
def deploy_role(ctx, opts):
    """Create or update the companion stack with the role GitHub Actions deploys through (OIDC, no stored keys).

    Example: invoke deploy-role --env prod --yes
    """


@verb(o.DriftOptions, "verbs.drift")
def stack_drift(ctx, opts):
    """Drift detection: every resource changed outside CloudFormation, expected against actual; exit 2 if any.

    Example: invoke stack-drift --env prod --json
    """


@verb(o.DeleteOptions, "verbs.teardown")
def stack_delete(ctx, opts):
    """Tear an environment down: shows what is deleted and what stays, asks for the stack's name, watches.

    Example: invoke stack-delete --env staging --confirm portyfoul-staging-infra
    """


# ---------------------------------------------------------------- release

@verb(o.ReleaseOptions, "verbs.release")
def release(ctx, opts):
    """Build, push, register, (migrate,) deploy web and worker, watch, roll back on failure.

    Example: invoke release --env staging --tag 1a2b3c4d --no-build --timeout 900
    """


@verb(o.PromoteOptions, "verbs.promote", env_from="to")
def promote(ctx, opts):
    """Release to --to the image --from released and tested: copied by digest, then released.

    Example: invoke promote --tag 1a2b3c4d --from staging --to prod
    """


@verb(o.DeliveryPlanOptions, "verbs.delivery")
def delivery_plan(ctx, opts):
    """What delivering an application commit does in each environment (release, promote or skip); reads no AWS.

    Example: invoke delivery-plan --sha "$APP_SHA" --app-repository owner/portyfoul --github-output "$GITHUB_OUTPUT"
    """


@verb(o.DeliverOptions, "verbs.delivery")
def deliver(ctx, opts):
    """Deliver an application commit to --env: promote it from promote_from, or release it (built only if ECR lacks it).

    Example: invoke deliver --env dev --sha "$APP_SHA" --app-dir app
    """


@verb(o.RollbackOptions, "verbs.release")
def rollback(ctx, opts):
    """Back to the newest release that succeeded and differs from what runs now (or --to TAG), watched.

    Example: invoke rollback --env prod --service web --to 1a2b3c4d
    """


@verb(o.ReadOptions, "verbs.release")
def release_status(ctx, opts):
    """What runs now per service: tag, revision, rollout state, running and desired counts; recent releases.

    Example: invoke release-status --env prod --json | jq '.services[].tag'
    """


@verb(o.LogsOptions, "verbs.logs")
def logs(ctx, opts):
    """Tail the services' CloudWatch log groups.

    Example: invoke logs --service worker --since 30m --follow
    """


# ---------------------------------------------------------------- operating the running app

@verb(o.ShellOptions, "verbs.shell")
def shell(ctx, opts):
    """A shell (or --command) in a running task of a service, through ECS Exec; every session is logged.

    Example: invoke shell --service worker --command 'node -v'
    """


@verb(o.RunOptions, "verbs.shell")
def run(ctx, opts):
    """A one-off command in a new task from a service's task definition: `invoke run -- CMD...`; its exit code.

    Example: invoke run --service web --timeout 600 -- npm run report
    """


@verb(o.ForceUnlockOptions, "verbs.lock")
def force_unlock(ctx, opts):
    """Break an environment's deploy lock on purpose, when the command holding it is gone (a cancelled job).

    Example: invoke force-unlock --env prod --id 19a2b3c4d5e-4242
    """


@verb(o.SnapshotOptions, "verbs.database")
def db_snapshot(ctx, opts):
    """A manual database snapshot, named with environment, time and running tag; waits until available.

    Example: invoke db-snapshot --env prod
    """


@verb(o.ReadOptions, "verbs.database")
def db_snapshots(ctx, opts):
    """The database's snapshots, manual and automated: age, size, status.

    Example: invoke db-snapshots --env prod --json
    """


@verb(o.RestoreOptions, "verbs.database")
def db_restore(ctx, opts):
    """Restore a snapshot into a NEW instance (never over the live one) and say how to use it.

    Example: invoke db-restore --snapshot portyfoul-prod-20261126-010203-1a2b3c4d --env prod
    """


# ---------------------------------------------------------------- secrets and configuration

@verb(o.ReadOptions, "verbs.secrets")
def secrets_check(ctx, opts):
    """Every secret and parameter the services use: exists, placeholder or set, last changed, read by. Never a value.

    Example: invoke secrets-check --env staging --json
    """


@verb(o.SecretsSetOptions, "verbs.secrets")
def secrets_set(ctx, opts):
    """Write a secret's new value from standard input or a hidden prompt (never the command line).

    Example: echo -n "$KEY" | invoke secrets-set finnhub-api-key --env staging --restart
    """


@verb(o.SecretsRotateOptions, "verbs.secrets")
def secrets_rotate(ctx, opts):
    """Replace a generated secret with a new random value (jwt-secret: signs every user out).

    Example: invoke secrets-rotate jwt-secret --env staging --restart
    """


@verb(o.ReadOptions, "verbs.secrets")
def config_show(ctx, opts):
    """The non-secret settings in SSM Parameter Store, with who reads them.

    Example: invoke config-show --env staging --json
    """


@verb(o.ConfigSetOptions, "verbs.secrets")
def config_set(ctx, opts):
    """Change a non-secret setting in SSM; takes effect when the services restart.

    Example: invoke config-set price-update-interval 5 --restart
    """


# ---------------------------------------------------------------- local

@verb(o.SandboxOptions, None)
def sandbox(ctx, opts):
    """The whole lifecycle on this machine against a local AWS (moto): build, create, release, status.

    Example: invoke sandbox --scenario failed-release --port 0
    """
    from portyfoul_infra.local.sandbox import sandbox as body
    return body(ctx, opts, body_of)
