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
        except KeyboardInterrupt:
            console.error("interrupted")
            raise Exit(code=Outcome.NEEDS_HUMAN.exit_code) from None
        except Exception as e:  # botocore errors: one line, never a traceback
            from portyfoul_infra.aws import describe_aws_error
            message, code = describe_aws_error(e)
            if message is None:
                raise
            console.error(message)
            raise Exit(code=code) from None
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


def _env(name):
    from portyfoul_infra.config import load_environment
    return load_environment(name)


def _aws(env):
    from portyfoul_infra.aws import connect
    return connect(env.region)


def _confirm():
    """A y/N prompt on a terminal; None without one (then --yes is required)."""
    import sys
    if not sys.stdin.isatty():
        return None
    return lambda question: input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


ENV_HELP = "Environment: dev, staging or prod (default dev)"


@task(iterable=["allow_replace"], help={
    "env": ENV_HELP,
    "yes": "Execute without asking (required without a terminal)",
    "allow_replace": "Let exactly this stateful resource (logical ID) be replaced or removed; repeatable",
    "timeout": "Seconds to follow the stack operation (default 3600)",
    "delete_failed_create": "Delete a stack whose creation rolled back (ROLLBACK_COMPLETE, empty) and create it again",
    "continue_rollback": "Continue a rollback that failed (UPDATE_ROLLBACK_FAILED)",
})
@_run
def stack_update(c, console, env="dev", yes=False, allow_replace=None, timeout=3600, delete_failed_create=False,
                 continue_rollback=False):
    """Create or update the stack through a reviewed change set; data-loss guard; live events."""
    from portyfoul_infra.stack import default_clock
    from portyfoul_infra.stack_tasks import UpdateOptions, stack_update as run
    e = _env(env)
    clock, sleep = default_clock()
    opts = UpdateOptions(yes=yes, allow_replace=tuple(allow_replace or ()), timeout=float(timeout),
                         delete_failed_create=delete_failed_create, continue_rollback=continue_rollback)
    return run(_aws(e), e, console, opts, _confirm(), clock, sleep)


@task(help={"env": ENV_HELP})
@_run
def stack_diff(c, console, env="dev"):
    """Preview what stack-update would change (a change set, deleted afterwards)."""
    from portyfoul_infra.stack import default_clock
    from portyfoul_infra.stack_tasks import stack_diff as run
    e = _env(env)
    clock, sleep = default_clock()
    return run(_aws(e), e, console, clock, sleep)


@task(help={"env": ENV_HELP})
@_run
def stack_status(c, console, env="dev"):
    """Stack status, deployed template version versus generated/, outputs."""
    from portyfoul_infra.stack_tasks import stack_status as run
    e = _env(env)
    return run(_aws(e), e, console)


@task(help={
    "tag": "Image tag to release (default: the app repository's 8-character short SHA)",
    "env": ENV_HELP,
    "service": "web, worker or all (default all)",
    "no_build": "Deploy an image already in ECR; a tag missing there is an error",
    "build_only": "Build the image locally and stop",
    "migrate": "Run the migration command as a one-off task before deploying (also when config says so)",
    "timeout": "Seconds to wait for the deployments (one deadline, default 600)",
    "dry_run": "Preflight and print what would happen; change nothing",
    "app_dir": "The application's source directory with its Dockerfile (default from config)",
})
@_run
def release(c, console, tag="", env="dev", service="all", no_build=False, build_only=False, migrate=False,
            timeout=600, dry_run=False, app_dir=""):
    """Build, push, register, (migrate,) deploy web and worker, watch, roll back on failure."""
    from portyfoul_infra.release import subprocess_runner
    from portyfoul_infra.release_tasks import ReleaseOptions, release as run
    from portyfoul_infra.stack import default_clock
    e = _env(env)
    clock, sleep = default_clock()
    opts = ReleaseOptions(tag=tag, service=service, no_build=no_build, build_only=build_only, migrate=migrate,
                          timeout=float(timeout), dry_run=dry_run, app_dir=app_dir)
    return run(_aws(e), e, console, opts, subprocess_runner, clock, sleep)


@task(help={"env": ENV_HELP, "service": "web, worker or all (default all)",
            "timeout": "Seconds to wait (default 600)"})
@_run
def rollback(c, console, env="dev", service="all", timeout=600):
    """Put services back on their previous task definition revision, watched like a release."""
    from portyfoul_infra.release_tasks import rollback as run
    from portyfoul_infra.stack import default_clock
    e = _env(env)
    clock, sleep = default_clock()
    return run(_aws(e), e, console, service, float(timeout), clock, sleep)


@task(help={"env": ENV_HELP})
@_run
def release_status(c, console, env="dev"):
    """What runs now per service: tag, revision, rollout state, running and desired counts."""
    from portyfoul_infra.release_tasks import release_status as run
    e = _env(env)
    return run(_aws(e), e, console)


@task(help={"env": ENV_HELP, "service": "web, worker or all (default all)", "since": "How far back (10m, 2h, 1d)",
            "follow": "Keep printing new lines until Ctrl-C"})
@_run
def logs(c, console, env="dev", service="all", since="10m", follow=False):
    """Tail the services' CloudWatch log groups."""
    import time
    from portyfoul_infra.release_tasks import logs as run
    e = _env(env)
    return run(_aws(e), e, console, service, since, follow, time.sleep)


def _read_secret_value(prompt):
    """A hidden prompt on a terminal, otherwise all of standard input. Never argv."""
    import getpass
    import sys
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.read()


@task(help={"env": ENV_HELP})
@_run
def secrets_check(c, console, env="dev"):
    """Every secret and parameter the services use: exists, placeholder or set, last changed, read by. Never a value."""
    from portyfoul_infra.secrets_admin import secrets_check as run
    e = _env(env)
    return run(_aws(e), e, console)


@task(positional=["name"], help={
    "name": "Short name: jwt-secret, finnhub-api-key or coingecko-api-key",
    "env": ENV_HELP,
    "restart": "Force a new deployment of the services that read it (running tasks read secrets only at start)",
})
@_run
def secrets_set(c, console, name, env="dev", restart=False):
    """Write a secret's new value from standard input or a hidden prompt (never the command line)."""
    from portyfoul_infra.secrets_admin import secrets_set as run
    from portyfoul_infra.stack import default_clock
    e = _env(env)
    clock, sleep = default_clock()
    return run(_aws(e), e, console, name, _read_secret_value, restart, clock, sleep)


@task(positional=["name"], help={"name": "jwt-secret", "env": ENV_HELP, "restart": "Restart the services that read it"})
@_run
def secrets_rotate(c, console, name, env="dev", restart=False):
    """Replace a generated secret with a new random value (jwt-secret: signs every user out)."""
    from portyfoul_infra.secrets_admin import secrets_rotate as run
    from portyfoul_infra.stack import default_clock
    e = _env(env)
    clock, sleep = default_clock()
    return run(_aws(e), e, console, name, restart, clock, sleep)


@task(help={"env": ENV_HELP})
@_run
def config_show(c, console, env="dev"):
    """The non-secret settings in SSM Parameter Store, with who reads them."""
    from portyfoul_infra.secrets_admin import config_show as run
    e = _env(env)
    return run(_aws(e), e, console)


@task(positional=["key", "value"], help={
    "key": "price-update-interval", "value": "The new value (validated)", "env": ENV_HELP,
    "restart": "Restart the services that read it so it takes effect now"})
@_run
def config_set(c, console, key, value, env="dev", restart=False):
    """Change a non-secret setting in SSM; takes effect when the services restart."""
    from portyfoul_infra.secrets_admin import config_set as run
    from portyfoul_infra.stack import default_clock
    e = _env(env)
    clock, sleep = default_clock()
    return run(_aws(e), e, console, key, value, restart, clock, sleep)


@task(help={"env": ENV_HELP})
@_run
def cost(c, console, env="dev"):
    """Monthly cost estimate, line by line, from the template and the environment's sizes."""
    from portyfoul_infra.cost import load_template, render
    from portyfoul_infra.generated import generated_dir
    return render(console, load_template(generated_dir()), _env(env))


@task(help={"port": "Port for the local AWS on 127.0.0.1 (default 5077; 0 for any free port)",
            "keep": "Keep the local AWS running afterwards and print the AWS_ENDPOINT_URL to use"})
@_run
def sandbox(c, console, port=5077, keep=False):
    """The whole lifecycle on this machine against a local AWS (moto): build, create, release, status."""
    from portyfoul_infra.sandbox import sandbox as run
    from portyfoul_infra.stack import default_clock
    clock, sleep = default_clock()
    return run(console, int(port), keep, clock, sleep)
