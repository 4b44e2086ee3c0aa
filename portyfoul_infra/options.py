"""Each verb's options: the one place a flag's default, help text and bounds live.

tasks.py turns each dataclass into the task's command-line flags (invoke
reads them from the generated signature) and back into a dataclass, checking
every value before anything happens. Like ecspresso's option structs: a flag
added here is a flag on the command line, with nothing written twice.

Fields whose metadata says `flag=False` are for tests and the sandbox only
(poll intervals, limits); they never appear on the command line.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .contract import INLINE_TEMPLATE_LIMIT
from .errors import UserError

ENV_HELP = "Environment: dev, staging or prod"
# One day: the longest any single watch may sensibly last.
MAX_TIMEOUT_SECONDS = 86_400


def flag(default: Any, help: str, *, lo: int | None = None, hi: int | None = None, positional: bool = False) -> Any:
    meta = {"help": help, "lo": lo, "hi": hi, "positional": positional}
    if isinstance(default, (list, tuple)):
        return field(default=tuple(default), metadata={**meta, "iterable": True})
    return field(default=default, metadata=meta)


def positional(help: str) -> Any:
    """A required positional argument. Its default "" lets invoke parse a missing one, so that we, not
    invoke, refuse it: one line, the usage, exit 2."""
    return field(default="", metadata={"help": help, "positional": True})


def remainder(help: str) -> Any:
    """The words after a standalone `--` on the command line (a command to run), not a flag."""
    return field(default=(), metadata={"flag": False, "remainder": True, "help": help})


def internal(default: Any) -> Any:
    """Not a command-line flag: tests and the sandbox set it."""
    return field(default=default, metadata={"flag": False})


def timeout_flag(default: int, what: str) -> Any:
    return flag(default, f"Seconds to wait for {what}", lo=1, hi=MAX_TIMEOUT_SECONDS)


# ---------------------------------------------------------------- template

@dataclass(frozen=True)
class NoOptions:
    """A verb with no flags (lint)."""


@dataclass(frozen=True)
class BuildOptions:
    check: bool = flag(False, "Change nothing; exit 2 if generated/ is out of date with the code (for CI)")


# ---------------------------------------------------------------- stack

@dataclass(frozen=True)
class UpdateOptions:
    env: str = flag("dev", ENV_HELP)
    yes: bool = flag(False, "Execute without asking (required without a terminal)")
    allow_replace: tuple[str, ...] = flag((), "Let exactly this stateful resource (logical ID) be replaced or removed; "
                                              "repeatable")
    timeout: int = timeout_flag(3600, "the stack operation")
    delete_failed_create: bool = flag(False, "Delete a stack whose creation rolled back (ROLLBACK_COMPLETE, empty) "
                                             "and create it again")
    continue_rollback: bool = flag(False, "Continue a rollback that failed (UPDATE_ROLLBACK_FAILED)")
    cfn_role: str = flag("", "A CloudFormation execution role ARN (the deploy stack's) for CloudFormation to act with")
    inline_limit: int = internal(INLINE_TEMPLATE_LIMIT)


@dataclass(frozen=True)
class DeployRoleOptions:
    env: str = flag("dev", ENV_HELP)
    yes: bool = flag(False, "Execute without asking (required without a terminal)")
    timeout: int = timeout_flag(1800, "the stack operation")


@dataclass(frozen=True)
class PromoteOptions:
    tag: str = flag("", "The release tag to promote (it must have succeeded in --from)")
    from_: str = flag("staging", "The environment the tag was released and tested in")
    to: str = flag("prod", "The environment to release it to")
    timeout: int = timeout_flag(600, "the deployments in the target")

    def __post_init__(self) -> None:
        if not self.tag:
            raise UserError("--tag is required: the release tag to promote")
        if self.from_ == self.to:
            raise UserError("--from and --to name the same environment")


SHA_HELP = "The application commit: its full 40-character SHA (the image tag is its first 8 characters)"
_SHA = re.compile(r"[0-9a-fA-F]{40}")
_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")


def commit_sha(value: str) -> str:
    """A full commit SHA, lowercase; a one-line UserError for anything else (a dispatch's payload is input)."""
    if not value:
        raise UserError("--sha is required: the application commit's full 40-character SHA (the application "
                        "repository's dispatch sends it as client_payload.sha)")
    if not _SHA.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + f"... ({len(value)} characters)"
        raise UserError(f"--sha {shown!r} is not a commit SHA: use all 40 hexadecimal characters (github.sha in "
                        "the application repository), never a branch, a tag or a short SHA")
    return value.lower()


@dataclass(frozen=True)
class DeliveryPlanOptions:
    sha: str = flag("", SHA_HELP)
    app_repository: str = flag("", "The application repository, owner/name (the APP_REPOSITORY variable)")
    github_output: str = flag("", "Also append the plan as step outputs (name=value lines) to this file: "
                                  "$GITHUB_OUTPUT")
    # The <ENV>_DEPLOY_ROLE_ARN variables that say which environments are configured; None: the process environment.
    roles: Mapping[str, str] | None = internal(None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", commit_sha(self.sha))
        if not _REPOSITORY.fullmatch(self.app_repository):
            raise UserError(f"--app-repository {self.app_repository[:60]!r}: use owner/name (set the repository "
                            "variable APP_REPOSITORY to the application's repository)")

    @property
    def tag(self) -> str:
        return self.sha[:8]


@dataclass(frozen=True)
class DeliverOptions:
    env: str = flag("dev", ENV_HELP)
    sha: str = flag("", SHA_HELP)
    app_dir: str = flag("", "The application checked out at --sha, used only when the image must be built "
                            "(default from config)")
    timeout: int = timeout_flag(600, "the deployments (one deadline)")

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", commit_sha(self.sha))

    @property
    def tag(self) -> str:
        return self.sha[:8]


@dataclass(frozen=True)
class AdoptOptions:
    env: str = flag("dev", ENV_HELP)
    yes: bool = flag(False, "Execute the refactor without asking (required without a terminal)")
    map: tuple[str, ...] = flag((), "OLD=NEW: adopt the live resource OLD as our NEW where identity cannot tell; "
                                    "repeatable")
    timeout: int = timeout_flag(1800, "the refactor")

    def overrides(self) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for item in self.map:
            old, sep, new = item.partition("=")
            if not sep or not old.strip() or not new.strip():
                raise UserError(f"--map {item!r}: use OLD=NEW (a live logical ID, then one of ours)")
            if old.strip() in pairs:
                raise UserError(f"--map names {old.strip()} twice")
            pairs[old.strip()] = new.strip()
        return pairs


@dataclass(frozen=True)
class EnvOptions:
    """Verbs that take only the environment: stack-diff, stack-status, release-status, secrets-check, ..."""
    env: str = flag("dev", ENV_HELP)


# ---------------------------------------------------------------- release

@dataclass(frozen=True)
class ReleaseOptions:
    tag: str = flag("", "Image tag to release (default: the app repository's 8-character short SHA)")
    env: str = flag("dev", ENV_HELP)
    service: str = flag("all", "web, worker or all")
    no_build: bool = flag(False, "Deploy an image already in ECR; a tag missing there is an error")
    build_only: bool = flag(False, "Build the image locally and stop")
    migrate: bool = flag(False, "Run the migration command as a one-off task before deploying "
                                "(also when config says so); a database snapshot is taken first")
    no_snapshot: bool = flag(False, "With --migrate: skip the database snapshot before migrating")
    timeout: int = timeout_flag(600, "the deployments (one deadline)")
    dry_run: bool = flag(False, "Preflight and print what would happen; change nothing")
    app_dir: str = flag("", "The application's source directory with its Dockerfile (default from config)")

    def __post_init__(self) -> None:
        if self.no_build and self.build_only:
            raise UserError("--no-build and --build-only contradict each other: choose one")


@dataclass(frozen=True)
class RollbackOptions:
    env: str = flag("dev", ENV_HELP)
    service: str = flag("all", "web, worker or all")
    to: str = flag("", "Go back to this release tag (one that succeeded); default: the newest good release that "
                       "differs from what runs now")
    timeout: int = timeout_flag(600, "the rollback")


@dataclass(frozen=True)
class LogsOptions:
    env: str = flag("dev", ENV_HELP)
    service: str = flag("all", "web, worker or all")
    since: str = flag("10m", "How far back (10m, 2h, 1d; at most 90d)")
    follow: bool = flag(False, "Keep printing new lines until Ctrl-C")


# ---------------------------------------------------------------- secrets and configuration

@dataclass(frozen=True)
class SecretsSetOptions:
    name: str = positional("Short name: jwt-secret, finnhub-api-key or coingecko-api-key")
    env: str = flag("dev", ENV_HELP)
    restart: bool = flag(False, "Force a new deployment of the services that read it "
                                "(running tasks read secrets only at start)")
    timeout: int = timeout_flag(600, "the restart")


@dataclass(frozen=True)
class SecretsRotateOptions:
    name: str = positional("jwt-secret")
    env: str = flag("dev", ENV_HELP)
    restart: bool = flag(False, "Restart the services that read it")
    timeout: int = timeout_flag(600, "the restart")


@dataclass(frozen=True)
class ConfigSetOptions:
    key: str = positional("price-update-interval")
    value: str = positional("The new value (validated)")
    env: str = flag("dev", ENV_HELP)
    restart: bool = flag(False, "Restart the services that read it so it takes effect now")
    timeout: int = timeout_flag(600, "the restart")


# ---------------------------------------------------------------- operating the running app

@dataclass(frozen=True)
class ShellOptions:
    env: str = flag("dev", ENV_HELP)
    service: str = flag("web", "web or worker")
    task: str = flag("", "A task ID (default: any running task of the service)")
    command: str = flag("/bin/sh", "What to run in the container")


@dataclass(frozen=True)
class RunOptions:
    env: str = flag("dev", ENV_HELP)
    service: str = flag("web", "web or worker: whose task definition, network and secrets the task gets")
    timeout: int = timeout_flag(900, "the task to finish (it is stopped then)")
    command: tuple[str, ...] = remainder("The command, after --")


@dataclass(frozen=True)
class SnapshotOptions:
    env: str = flag("dev", ENV_HELP)
    timeout: int = timeout_flag(3600, "the snapshot to become available")


@dataclass(frozen=True)
class RestoreOptions:
    snapshot: str = flag("", "The snapshot to restore (see `invoke db-snapshots`)")
    env: str = flag("dev", ENV_HELP)

    def __post_init__(self) -> None:
        if not self.snapshot.strip():
            raise UserError("--snapshot ID is required (see `invoke db-snapshots`)")


@dataclass(frozen=True)
class DriftOptions:
    env: str = flag("dev", ENV_HELP)
    timeout: int = timeout_flag(900, "drift detection")


@dataclass(frozen=True)
class DeleteOptions:
    env: str = flag("dev", ENV_HELP)
    confirm: str = flag("", "The stack's name, to delete without a terminal")
    allow_production: bool = flag(False, "Allow deleting an environment marked production")
    timeout: int = timeout_flag(3600, "the deletion")


# ---------------------------------------------------------------- local

SCENARIOS = ("lifecycle", "adopt", "failed-release")

@dataclass(frozen=True)
class SandboxOptions:
    port: int = flag(5077, "Port for the local AWS on 127.0.0.1 (0 for any free port)", lo=0, hi=65535)
    keep: bool = flag(False, "Keep the local AWS running afterwards and print the AWS_ENDPOINT_URL to use")
    adopt: bool = flag(False, "Rehearse taking over the live hand-built stack (tests/fixtures/live-stack.yaml) "
                              "instead of creating one: the same as --scenario adopt")
    scenario: str = flag("lifecycle", "lifecycle, adopt, or failed-release (a crashing release, its rollback and "
                                      "diagnosis, a good release, then rollback to the last good one)")

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise UserError(f"--scenario {self.scenario[:40]!r}: choose one of {', '.join(SCENARIOS)}")
        if self.adopt:
            object.__setattr__(self, "scenario", "adopt")


# ---------------------------------------------------------------- turning flags into options

def flag_fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("flag", True)]


def usage(task: str, cls) -> str:
    args = [f.name.upper() for f in flag_fields(cls) if f.metadata.get("positional")]
    return f"invoke {task} {' '.join(args)} [--options]; see `invoke --help {task}`"


def from_flags(cls, flags: dict[str, Any], task: str = "", rest: str = ""):
    """The options dataclass from invoke's parsed flags (and the words after `--`); one-line UserError for a
    bad or missing value."""
    import shlex

    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("remainder"):
            try:
                values[f.name] = tuple(shlex.split(rest or ""))
            except ValueError as e:
                raise UserError(f"the command after --: {e}") from None
    for f in flag_fields(cls):
        if f.metadata.get("positional") and not str(flags.get(f.name) or "").strip():
            raise UserError(f"missing {f.name.upper()}: usage: {usage(task, cls)}")
    for f in flag_fields(cls):
        if f.name not in flags:
            continue
        raw = flags[f.name]
        name = "--" + f.name.replace("_", "-")
        if f.metadata.get("iterable"):
            values[f.name] = tuple(raw or ())
        elif f.type in ("int", int):
            values[f.name] = _whole_number(name, raw, f.metadata.get("lo"), f.metadata.get("hi"))
        else:
            values[f.name] = raw
    return cls(**values)


def _whole_number(name: str, raw: Any, lo: int | None, hi: int | None) -> int:
    text = str(raw).strip()
    if not text.lstrip("-").isdigit():
        raise UserError(f"{name} {raw!r}: must be a whole number" + (f" from {lo} to {hi}" if lo is not None else ""))
    value = int(text)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise UserError(f"{name} {value}: must be from {lo} to {hi}")
    return value
