"""Each verb's options: the one place a flag's default, help text and bounds live.

tasks.py turns each dataclass into the task's command-line flags (invoke
reads them from the generated signature) and back into a dataclass, checking
every value before anything happens. Like ecspresso's option structs: a flag
added here is a flag on the command line, with nothing written twice.

Fields whose metadata says `flag=False` are not command-line flags: `internal`
ones are set by tests and the local runs (limits, the deploy-role variables),
and a `remainder` one holds the words after `--` (the command `invoke run`
runs), exactly as the shell passed them.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .config import ENVIRONMENTS
from .contract import INLINE_TEMPLATE_LIMIT
from .errors import UserError

ENV_HELP = "Environment: dev, staging or prod"
# One day: the longest any single watch may sensibly last.
MAX_TIMEOUT_SECONDS = 86_400


# The only short flags, each with one meaning in every task that has it (invoke's automatic ones are off:
# they made -t mean --timeout, --tag, --to or --task depending on the task).
SHORT_FLAGS = {"env": "e", "yes": "y", "service": "s"}


def flag(default: Any, help: str, *, lo: int | None = None, hi: int | None = None, metavar: str = "",
         environment: bool = False) -> Any:
    """A command-line flag. `metavar` names its value in the help (SECONDS, TAG, ...); the default is the type
    (INT, TEXT). Its short flag, if any, comes from SHORT_FLAGS by name. `environment`: it names an environment
    (--env, --from, --to), so an empty or blank value is refused, never read as the default."""
    meta = {"help": help, "lo": lo, "hi": hi, "positional": False, "metavar": metavar, "environment": environment}
    if isinstance(default, (list, tuple)):
        return field(default=tuple(default), metadata={**meta, "iterable": True})
    return field(default=default, metadata=meta)


def positional(help: str, metavar: str) -> Any:
    """A required positional argument, shown as METAVAR in the usage. Its default "" lets invoke parse a
    missing one, so that we, not invoke, refuse it: one line, the usage, exit 2."""
    return field(default="", metadata={"help": help, "positional": True, "metavar": metavar})


def remainder(help: str) -> Any:
    """The words after a standalone `--` on the command line (a command to run), not a flag."""
    return field(default=(), metadata={"flag": False, "remainder": True, "help": help})


def internal(default: Any) -> Any:
    """Not a command-line flag: tests and the sandbox set it."""
    return field(default=default, metadata={"flag": False})


def timeout_flag(default: int, what: str) -> Any:
    return flag(default, f"Seconds to wait for {what}", lo=1, hi=MAX_TIMEOUT_SECONDS, metavar="SECONDS")


def env_flag(default: str = "dev", help: str = ENV_HELP) -> Any:
    return flag(default, help, metavar="ENV", environment=True)


def yes_flag(what: str = "Go ahead without asking") -> Any:
    return flag(False, f"{what} (required without a terminal)")


def service_flag(default: str, help: str) -> Any:
    return flag(default, help, metavar="SERVICE")


def metavar(f: dataclasses.Field) -> str:
    """How the help names a flag's value: its metavar, else its type; "" for a switch."""
    if f.metadata.get("metavar"):
        return f.metadata["metavar"]
    if f.type in ("bool", bool):
        return ""
    return "INT" if f.type in ("int", int) else "TEXT"


def help_text(f: dataclasses.Field) -> str:
    """The help line of a flag: its text, its bounds and its default."""
    notes = []
    if f.metadata.get("lo") is not None and f.metadata.get("hi") is not None:
        notes.append(f"{f.metadata['lo']} to {f.metadata['hi']}")
    if f.default not in (None, "", False, ()) and not isinstance(f.default, bool):
        notes.append(f"default {f.default}")
    return f.metadata.get("help", "") + (f" ({'; '.join(notes)})" if notes else "")


# ---------------------------------------------------------------- every task

@dataclass(frozen=True)
class Common:
    """Flags every task takes (tasks.py adds them): how it prints, not what it does."""
    no_color: bool = flag(False, "No colour on either stream (so does NO_COLOR=1; colour is only ever used on a "
                                 "terminal)")


@dataclass(frozen=True)
class JsonOutput:
    """For the read verbs: one JSON document on stdout instead of the tables."""
    json: bool = flag(False, "Print one JSON document on stdout (schema in docs/operations.md, \"JSON output\"); "
                             "the header and notes go to stderr; same exit code")


# ---------------------------------------------------------------- template

@dataclass(frozen=True)
class NoOptions:
    """A verb with no flags (lint)."""


@dataclass(frozen=True)
class VersionOptions(JsonOutput):
    """version: offline, from the package and generated/."""


@dataclass(frozen=True)
class BuildOptions:
    check: bool = flag(False, "Change nothing; exit 2 if generated/ is out of date with the code (for CI)")


# ---------------------------------------------------------------- stack

@dataclass(frozen=True)
class UpdateOptions:
    env: str = env_flag()
    yes: bool = yes_flag("Execute without asking")
    allow_replace: tuple[str, ...] = flag((), "Let exactly this stateful resource (logical ID) be replaced or removed; "
                                              "repeatable", metavar="LOGICAL_ID")
    allow_interruption: tuple[str, ...] = flag((), "Let exactly this resource (logical ID) be interrupted: restarted, "
                                                   "re-created, disconnected, or a protection lowered; repeatable",
                                               metavar="LOGICAL_ID")
    converge: tuple[str, ...] = flag((), "Give up one choice kept from the adopted live stack and take ours "
                                         "(Database.EngineVersion, a live-only resource, Outputs.NAME); repeatable; "
                                         "`invoke stack-status` lists them", metavar="NAME")
    timeout: int = timeout_flag(3600, "the stack operation")
    delete_failed_create: bool = flag(False, "Delete a stack whose creation rolled back (ROLLBACK_COMPLETE, empty) "
                                             "and create it again")
    continue_rollback: bool = flag(False, "Continue a rollback that failed (UPDATE_ROLLBACK_FAILED)")
    cfn_role: str = flag("", "A CloudFormation execution role ARN (the deploy stack's) for CloudFormation to act with",
                         metavar="ARN")
    inline_limit: int = internal(INLINE_TEMPLATE_LIMIT)


@dataclass(frozen=True)
class DeployRoleOptions:
    env: str = env_flag()
    yes: bool = yes_flag("Execute without asking")
    timeout: int = timeout_flag(1800, "the stack operation")


@dataclass(frozen=True)
class PromoteOptions:
    tag: str = flag("", "The release tag to promote (it must have succeeded in --from)", metavar="TAG")
    from_: str = env_flag("staging", "The environment the tag was released and tested in")
    to: str = env_flag("prod", "The environment to release it to")
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
    sha: str = flag("", SHA_HELP, metavar="SHA")
    app_repository: str = flag("", "The application repository, owner/name (the APP_REPOSITORY variable)",
                               metavar="OWNER/NAME")
    github_output: str = flag("", "Also append the plan as step outputs (name=value lines) to this file: "
                                  "$GITHUB_OUTPUT", metavar="FILE")
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
    env: str = env_flag()
    sha: str = flag("", SHA_HELP, metavar="SHA")
    app_dir: str = flag("", "The application checked out at --sha, used only when the image must be built "
                            "(default from config)", metavar="DIR")
    timeout: int = timeout_flag(600, "the deployments (one deadline)")

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", commit_sha(self.sha))

    @property
    def tag(self) -> str:
        return self.sha[:8]


@dataclass(frozen=True)
class AdoptOptions:
    env: str = env_flag()
    yes: bool = yes_flag("Execute the refactor without asking")
    map: tuple[str, ...] = flag((), "OLD=NEW: adopt the live resource OLD as our NEW where identity cannot tell; "
                                    "repeatable", metavar="OLD=NEW")
    allow_replace: tuple[str, ...] = flag((), "Accept that the converging update replaces or removes this stateful "
                                              "resource (logical ID); repeatable", metavar="LOGICAL_ID")
    allow_interruption: tuple[str, ...] = flag((), "Accept that the converging update interrupts this resource "
                                                   "(logical ID); repeatable", metavar="LOGICAL_ID")
    rehearse: bool = flag(False, "Read the live stack (read-only), replay the whole takeover (adopt, then the "
                                 "converging update) on a local AWS, and report; changes nothing on AWS")
    timeout: int = timeout_flag(1800, "the refactor")

    def overrides(self) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for item in self.map:
            old, sep, new = item.partition("=")
            if not sep or not old.strip() or not new.strip():
                raise UserError(f"--map {item!r}: use OLD=NEW (a live logical ID, then one of ours)")
            if old.strip() in pairs:
                raise UserError(f"--map names {old.strip()} twice")
            taken = next((o for o, n in pairs.items() if n == new.strip()), None)
            if taken:
                raise UserError(f"--map {taken}={new.strip()} and --map {old.strip()}={new.strip()} both name our "
                                f"{new.strip()}: one live resource becomes it, the other stays the live stack's own")
            pairs[old.strip()] = new.strip()
        return pairs


@dataclass(frozen=True)
class EnvOptions:
    """Verbs that take only the environment."""
    env: str = env_flag()


@dataclass(frozen=True)
class ReadOptions(JsonOutput, EnvOptions):
    """The read verbs: the environment, and --json (stack-status, release-status, secrets-check, cost,
    db-snapshots, config-show)."""


@dataclass(frozen=True)
class DiffOptions(JsonOutput, EnvOptions):
    converge: tuple[str, ...] = flag((), "Preview giving up this kept choice of the adopted stack (see stack-update "
                                         "--converge); repeatable", metavar="NAME")
    allow_replace: tuple[str, ...] = flag((), "Preview as stack-update --allow-replace would run it; repeatable",
                                          metavar="LOGICAL_ID")
    allow_interruption: tuple[str, ...] = flag((), "Preview as stack-update --allow-interruption would run it; "
                                                   "repeatable", metavar="LOGICAL_ID")
    fail: bool = flag(False, "Exit 5 when there are changes (for CI checks, like `cdk diff --fail`)")


# ---------------------------------------------------------------- release

@dataclass(frozen=True)
class ReleaseOptions:
    tag: str = flag("", "Image tag to release (default: the app repository's 8-character short SHA)", metavar="TAG")
    env: str = env_flag()
    service: str = service_flag("all", "web, worker or all")
    no_build: bool = flag(False, "Deploy an image already in ECR; a tag missing there is an error")
    build_only: bool = flag(False, "Build the image locally and stop")
    migrate: bool = flag(False, "Run the migration command as a one-off task before deploying "
                                "(also when config says so); a database snapshot is taken first")
    no_snapshot: bool = flag(False, "With --migrate: skip the database snapshot before migrating")
    timeout: int = timeout_flag(600, "the deployments (one deadline)")
    dry_run: bool = flag(False, "Preflight and print what would happen; change nothing")
    app_dir: str = flag("", "The application's source directory with its Dockerfile (default from config)", metavar="DIR")

    def __post_init__(self) -> None:
        if self.no_build and self.build_only:
            raise UserError("--no-build and --build-only contradict each other: choose one")


@dataclass(frozen=True)
class RollbackOptions:
    env: str = env_flag()
    service: str = service_flag("all", "web, worker or all")
    to: str = flag("", "Go back to this release tag (one that succeeded); default: the newest good release that "
                       "differs from what runs now", metavar="TAG")
    timeout: int = timeout_flag(600, "the rollback")
    replace_deployment: bool = flag(False, "Roll back even while a deployment is in progress (one a stopped release "
                                           "left running): ECS replaces it with the rollback's")


@dataclass(frozen=True)
class LogsOptions:
    env: str = env_flag()
    service: str = service_flag("all", "web, worker or all")
    since: str = flag("10m", "How far back: a number and s, m, h or d (10m, 2h, 1d; at most 90d)", metavar="DURATION")
    follow: bool = flag(False, "Keep printing new lines until Ctrl-C")


# ---------------------------------------------------------------- secrets and configuration

@dataclass(frozen=True)
class SecretsSetOptions:
    name: str = positional("Short name: jwt-secret, finnhub-api-key or coingecko-api-key", "NAME")
    env: str = env_flag()
    restart: bool = flag(False, "Force a new deployment of the services that read it "
                                "(running tasks read secrets only at start)")
    timeout: int = timeout_flag(600, "the restart")


@dataclass(frozen=True)
class SecretsRotateOptions:
    name: str = positional("The secret to rotate: jwt-secret (signs every user out)", "NAME")
    env: str = env_flag()
    yes: bool = yes_flag("Rotate without asking")
    restart: bool = flag(False, "Restart the services that read it")
    timeout: int = timeout_flag(600, "the restart")


@dataclass(frozen=True)
class ConfigSetOptions:
    key: str = positional("The setting: price-update-interval", "KEY")
    value: str = positional("The new value (validated: price-update-interval is minutes, 1 to 1440)", "VALUE")
    env: str = env_flag()
    restart: bool = flag(False, "Restart the services that read it so it takes effect now")
    timeout: int = timeout_flag(600, "the restart")


# ---------------------------------------------------------------- operating the running app

@dataclass(frozen=True)
class ShellOptions:
    env: str = env_flag()
    service: str = service_flag("web", "web or worker")
    task: str = flag("", "A task ID (default: any running task of the service)", metavar="TASK_ID")
    command: str = flag("/bin/sh", "What to run in the container", metavar="COMMAND")


@dataclass(frozen=True)
class RunOptions:
    env: str = env_flag()
    service: str = service_flag("web", "web or worker: whose task definition, network and secrets the task gets")
    timeout: int = timeout_flag(900, "the task to finish (it is stopped then)")
    command: tuple[str, ...] = remainder("The command, after --")


@dataclass(frozen=True)
class ForceUnlockOptions:
    env: str = env_flag()
    id: str = flag("", "The lock to break, as the refusal names it (a lock you do not name is never broken)",
                   metavar="LOCK_ID")
    yes: bool = yes_flag("Break it without asking")

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise UserError("--id LOCK_ID is required: the refusal that named the lock gives it "
                            "(`invoke force-unlock --env ENV --id LOCK_ID`)")


@dataclass(frozen=True)
class SnapshotOptions:
    env: str = env_flag()
    timeout: int = timeout_flag(3600, "the snapshot to become available")


@dataclass(frozen=True)
class RestoreOptions:
    snapshot: str = flag("", "The snapshot to restore (see `invoke db-snapshots`)", metavar="SNAPSHOT_ID")
    env: str = env_flag()
    yes: bool = yes_flag("Create the new (billable) instance without asking")

    def __post_init__(self) -> None:
        if not self.snapshot.strip():
            raise UserError("--snapshot ID is required (see `invoke db-snapshots`)")


@dataclass(frozen=True)
class DriftOptions(JsonOutput):
    env: str = env_flag()
    timeout: int = timeout_flag(900, "drift detection")


@dataclass(frozen=True)
class DeleteOptions:
    env: str = env_flag()
    yes: bool = yes_flag("Delete without asking for the stack's name")
    confirm: str = flag("", "The stack's name, typed ahead: deletes without asking (as --yes), and only that stack",
                        metavar="STACK_NAME")
    allow_production: bool = flag(False, "Allow deleting an environment marked production")
    lift_protection: tuple[str, ...] = flag((), "Lower exactly this resource's deletion protection (logical ID: "
                                                "Database, LoadBalancer) for this deletion; repeatable",
                                            metavar="LOGICAL_ID")
    timeout: int = timeout_flag(3600, "the deletion")


# ---------------------------------------------------------------- local

SCENARIOS = ("lifecycle", "adopt", "failed-release")

@dataclass(frozen=True)
class SandboxOptions:
    port: int = flag(5077, "Port for the local AWS on 127.0.0.1 (0 for any free port); refused if something "
                                "answers there already", lo=0, hi=65535, metavar="PORT")
    keep: bool = flag(False, "Keep the local AWS running afterwards and print the AWS_ENDPOINT_URL to use")
    adopt: bool = flag(False, "Rehearse taking over the live hand-built stack (a stand-in of the plan's phases 1-6 "
                              "written by hand) instead of creating one: the same as --scenario adopt")
    # "" (not given) is lifecycle, so that --adopt beside any --scenario, lifecycle too, is seen as a contradiction.
    scenario: str = flag("", "lifecycle (the default), adopt, or failed-release (a crashing release, its rollback and "
                             "diagnosis, a good release, then rollback to the last good one)", metavar="SCENARIO")

    def __post_init__(self) -> None:
        if self.scenario and self.scenario not in SCENARIOS:
            raise UserError(f"--scenario {self.scenario[:40]!r}: choose one of {', '.join(SCENARIOS)}")
        if self.adopt and self.scenario not in ("", "adopt"):
            raise UserError(f"--adopt and --scenario {self.scenario} contradict each other: --adopt is the same as "
                            "--scenario adopt; choose one scenario")
        object.__setattr__(self, "scenario", "adopt" if self.adopt else self.scenario or "lifecycle")


# ---------------------------------------------------------------- turning flags into options

def flag_fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("flag", True)]


def usage(task: str, cls) -> str:
    args = [metavar(f) for f in flag_fields(cls) if f.metadata.get("positional")]
    return f"invoke {task} {' '.join(args)} [--options]; see `invoke --help {task}`"


def flag_name(f: dataclasses.Field) -> str:
    """The flag as typed: --allow-replace for allow_replace, --from for from_."""
    return "--" + f.name.rstrip("_").replace("_", "-")


def from_flags(cls, flags: dict[str, Any], task: str = "", rest: Sequence[str] = ()):
    """The options dataclass from invoke's parsed flags (and the words after `--`, exactly as the shell passed
    them: never joined and split again); one-line UserError for a bad or missing value."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("remainder"):
            values[f.name] = tuple(rest)
    for f in flag_fields(cls):
        if f.metadata.get("positional") and not str(flags.get(f.name) or "").strip():
            raise UserError(f"missing {metavar(f)}: usage: {usage(task, cls)}")
    for f in flag_fields(cls):
        if f.name not in flags:
            continue
        raw = flags[f.name]
        name = flag_name(f)
        if f.metadata.get("iterable"):
            values[f.name] = tuple(raw or ())
        elif f.metadata.get("environment"):
            values[f.name] = environment_name(name, raw)
        elif f.type in ("int", int):
            values[f.name] = whole_number(name, raw, f.metadata.get("lo"), f.metadata.get("hi"))
        else:
            values[f.name] = raw
    return cls(**values)


def environment_name(name: str, raw: Any) -> str:
    """The environment a flag names. Empty or blank is refused: an unset variable in a script (`--env "$ENV"`)
    must never mean the default environment. An unknown name is refused where the environment is loaded."""
    text = "" if raw is None else str(raw)
    if not text.strip():
        raise UserError(f"{name} {text!r} names no environment: choose {', '.join(ENVIRONMENTS)}; an empty value "
                        "never means one (an unset variable in a script?); nothing changed")
    return text


# A whole number as typed: ASCII digits only ("²" and "٣" are digits to str.isdigit, and int() reads "٣" as 3),
# and one optional minus.
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
# More digits than any bound here has: out of range, without asking int() (which refuses over 4,300 digits).
_MAX_DIGITS = 18


def whole_number(name: str, raw: Any, lo: int | None, hi: int | None) -> int:
    """A number flag's value, or one UserError line naming the flag, the bounds and (shortened) what was typed."""
    text = str(raw).strip(" \t")
    if not _WHOLE_NUMBER.fullmatch(text):
        shown = text[:30] + ("..." if len(text) > 30 else "")
        bounds = f" from {lo} to {hi}" if lo is not None and hi is not None else ""
        raise UserError(f"{name} {shown!r}: must be a whole number{bounds}, in the digits 0-9")
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise UserError(f"{name} {text[:20]}... ({len(text.lstrip('-'))} digits): must be from {lo} to {hi}")
    value = int(text)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise UserError(f"{name} {value}: must be from {lo} to {hi}")
    return value
