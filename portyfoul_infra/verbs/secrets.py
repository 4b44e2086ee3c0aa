"""secrets-check, secrets-set, secrets-rotate, config-show, config-set.

Secret values pass through here only to be compared with the placeholder or
written; they are never printed, logged, put on a command line or written to
a file. Which services read an item is read from the live task definitions,
not assumed.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from ..aws.clients import json_document, print_header
from ..aws.deployments import State, Target, deployment_id_for, watch_deployments
from ..aws.lock import deployment
from ..aws.services import read_services
from ..config import Environment
from ..console import Console, iso_time
from ..context import Ctx
from ..contract import APP_SECRETS, CONFIG_PARAMETERS, DB_CREDENTIALS, is_placeholder
from ..errors import UserError, error_code
from ..options import ConfigSetOptions, ReadOptions, SecretsRotateOptions, SecretsSetOptions
from ..outcomes import Outcome, Result
from . import present

ROTATABLE = {"jwt-secret": "every signed-in user is signed out once the services restart"}


@dataclass(frozen=True)
class Item:
    short: str
    name: str          # Secrets Manager name or SSM parameter name
    kind: str          # "secret" | "parameter"
    required: bool
    settable: bool


def catalogue(env: Environment) -> list[Item]:
    items = [Item(DB_CREDENTIALS, f"{env.secret_prefix}/{DB_CREDENTIALS}", "secret", True, False)]
    items += [Item(s.short_name, s.name(env), "secret", s.required, True) for s in APP_SECRETS]
    items += [Item(p.short_name, p.name(env), "parameter", True, p.settable) for p in CONFIG_PARAMETERS]
    return items


def find_item(env: Environment, short: str, kind: str, settable_only: bool = True) -> Item:
    items = [i for i in catalogue(env) if i.kind == kind and (i.settable or not settable_only or i.short == short)]
    for item in items:
        if item.short == short:
            return item
    raise UserError(f"unknown {kind} {short!r}; choose one of: {', '.join(i.short for i in items)}")


# ---------------------------------------------------------------- who reads what

@dataclass
class Readers:
    cluster: str
    services: dict[str, str]            # key -> service name
    references: dict[str, set[str]]     # valueFrom -> service keys

    def of(self, arn_or_name: str) -> list[str]:
        keys: set[str] = set()
        for value_from, svc_keys in self.references.items():
            if value_from == arn_or_name or value_from.startswith(arn_or_name + ":") or value_from.endswith(
                    f"parameter{arn_or_name}"):
                keys |= svc_keys
        return sorted(keys)


def load_readers(ctx: Ctx) -> Readers:
    live = read_services(ctx)
    refs: dict[str, set[str]] = {}
    for svc in live:
        for c in svc.task_definition.get("containerDefinitions", []):
            for secret in c.get("secrets", []):
                refs.setdefault(secret["valueFrom"], set()).add(svc.key)
    return Readers(live.cluster, {k: v.name for k, v in live.services.items()}, refs)


# ---------------------------------------------------------------- secrets-check

@dataclass
class Status:
    item: Item
    state: str          # set | PLACEHOLDER | MISSING (gone) | DELETED (scheduled for deletion) | INCOMPLETE
    changed_at: Any     # when the value last changed (a datetime), None when missing
    readers: list[str]
    deletion: Any = None  # DELETED: when Secrets Manager deletes it for good

    @property
    def changed(self) -> str:
        return _when(self.changed_at)

    @property
    def failing(self) -> bool:
        return self.item.required and self.state != "set"


def check(ctx: Ctx, readers: Readers) -> list[Status]:
    sm, ssm, env = ctx.client("secretsmanager"), ctx.client("ssm"), ctx.env
    statuses = []
    for item in catalogue(env):
        if item.kind == "parameter":
            try:
                p = ssm.get_parameter(Name=item.name)["Parameter"]
                statuses.append(Status(item, "set", p.get("LastModifiedDate"), readers.of(item.name)))
            except Exception as e:
                if error_code(e) != "ParameterNotFound":
                    raise
                statuses.append(Status(item, "MISSING", None, []))
            continue
        try:
            meta = sm.describe_secret(SecretId=item.name)
        except Exception as e:
            if error_code(e) != "ResourceNotFoundException":
                raise
            statuses.append(Status(item, "MISSING", None, []))
            continue
        if meta.get("DeletedDate"):  # scheduled for deletion: its value cannot be read, nor written, until restored
            statuses.append(Status(item, "DELETED", meta.get("LastChangedDate") or meta.get("CreatedDate"),
                                   readers.of(meta["ARN"]), meta["DeletedDate"]))
            continue
        value = sm.get_secret_value(SecretId=item.name).get("SecretString", "")
        if item.short == DB_CREDENTIALS:
            state = "set" if _has_keys(value, ("username", "password")) else "INCOMPLETE"
        else:
            state = "PLACEHOLDER" if is_placeholder(value) else "set"
        del value
        changed = meta.get("LastChangedDate") or meta.get("CreatedDate")
        statuses.append(Status(item, state, changed, readers.of(meta["ARN"])))
    return statuses


def way_back(env: Environment, status: Status) -> str:
    """What works for an item in `status.state`, as a command to run (each tested): secrets-set for a
    placeholder, restoring a secret scheduled for deletion, and for one gone for good the guide's way."""
    item = status.item
    if status.state == "DELETED":
        return deleted_secret_advice(item.name, status.deletion)
    if status.state == "MISSING" and item.kind == "secret":
        return gone_secret_advice(item.name)
    if status.state == "MISSING":
        return missing_parameter_advice(env, item.name)
    if status.state == "INCOMPLETE":
        return (f"{item.name} lacks its username or password; it is managed with the database, not by secrets-set: "
                f"find the version that has them (`aws secretsmanager list-secret-version-ids --secret-id "
                f"{item.name}`) and make it AWSCURRENT again (`aws secretsmanager update-secret-version-stage`)")
    return f"set it with `invoke secrets-set {item.short} --env {env.name}`"


def deleted_secret_advice(name: str, deleted_at: Any) -> str:
    when = f" on {_when(deleted_at)} UTC" if hasattr(deleted_at, "strftime") else ""
    return (f"{name} is scheduled for deletion{when}: restore it with `aws secretsmanager restore-secret "
            f"--secret-id {name}` (the same secret: its ARN, which the services read, and its value come back), "
            "then `invoke secrets-check`")


def missing_parameter_advice(env: Environment, name: str) -> str:
    return (f"the parameter {name} is gone although the stack lists it, and a stack-update does not recreate what "
            f"was deleted outside CloudFormation; the stack knows it by its name, so making it again under that name "
            f"brings it back: `aws ssm put-parameter --name {name} --type String --value VALUE`, then "
            f"`invoke config-show --env {env.name}`")


def gone_secret_advice(name: str) -> str:
    return (f"{name} is gone for good (deleted without a recovery window, or after it) although the stack still "
            "lists it: a stack-update does not recreate what was deleted outside CloudFormation, and a secret "
            "made again by hand gets another ARN than the services read: a human's work, see docs/operations.md, "
            "\"A secret deleted for good\"")


def _has_keys(value: str, keys) -> bool:
    try:
        data = json.loads(value)
    except ValueError:
        return False
    return isinstance(data, dict) and all(data.get(k) for k in keys)


def _when(ts) -> str:
    return ts.strftime("%Y-%m-%d %H:%M") if hasattr(ts, "strftime") else str(ts or "-")


def secrets_check(ctx: Ctx, opts: ReadOptions) -> Result:
    """Each item's state, never its value, as one document (schema portyfoul.secrets-check/1); what to do for
    every item that is not set."""
    data = json_document(ctx, "secrets-check", print_header(ctx))
    statuses = check(ctx, load_readers(ctx))
    failing = [s for s in statuses if s.failing]
    data["items"] = [{
        "name": s.item.short, "id": s.item.name, "kind": s.item.kind, "required": s.item.required,
        "settable": s.item.settable, "state": s.state.lower(), "last_changed": iso_time(s.changed_at),
        "read_by": s.readers, "next": way_back(ctx.env, s) if s.state != "set" else None} for s in statuses]
    data["ok"] = not failing
    data["failing"] = [s.item.short for s in failing]
    return present(ctx, opts.json, Outcome.REFUSED if failing else Outcome.NO_CHANGES, data, _render_check)


def _render_check(console: Console, data: dict) -> None:
    items = data["items"]
    console.table(("name", "kind", "required", "state", "last changed", "read by"), [
        (i["id"], i["kind"], "yes" if i["required"] else "optional", i["state"].upper(),
         (i["last_changed"] or "-")[:16].replace("T", " "), ", ".join(i["read_by"]) or "-") for i in items])
    for i in items:
        if i["state"] == "placeholder" and not i["required"]:
            console.warn(f"{i['name']} is optional and still a placeholder")
        elif i["state"] in ("deleted", "missing") and not i["required"]:
            console.warn(f"{i['name']} is optional and {i['next']}")
    failing = [i for i in items if i["name"] in data["failing"]]
    if failing:
        console.error("required and not set: " + "; ".join(f"{i['name']} ({i['state'].upper()}): {i['next']}"
                                                            for i in failing))
        return
    console.ok("every required secret and parameter is set")


# ---------------------------------------------------------------- writing

# Secrets Manager's limit for a secret value.
MAX_SECRET_BYTES = 65_536


# The one line ending an input may end with: what `echo` adds ("\n"), or a Windows line's ("\r\n").
LINE_ENDINGS = ("\r\n", "\n")
_NAMED = {"\n": "a line break", "\r": "a carriage return", "\x00": "a NUL", "\t": "a tab", "\x1b": "an escape",
          "\u2028": "a line separator", "\u2029": "a paragraph separator", "\ufeff": "a byte order mark"}


def line_ending(value: str) -> str:
    """The line ending `value` ends with (CR LF or LF), or "": it ends the input and is no part of the value."""
    return next((e for e in LINE_ENDINGS if value.endswith(e)), "")


def _unprintable(value: str) -> int:
    """The index of the first character no secret value holds (a control character, a line or paragraph
    separator, a byte order mark), or -1."""
    import unicodedata
    return next((i for i, c in enumerate(value)
                 if unicodedata.category(c) in ("Cc", "Zl", "Zp") or c == "\ufeff"), -1)


def validate_secret_value(value: str) -> str:
    """The value to write, or a UserError naming what is wrong with it (the value itself is never echoed).

    One line ending at the very end (`echo` adds LF; a Windows file CR LF) ends the input and is dropped;
    any other control character, wherever it is (a second line ending, a carriage return, a NUL, a tab), is
    refused with where it is, never what is around it.
    """
    value = value[:len(value) - len(line_ending(value))]
    if not value.strip():
        raise UserError("refusing an empty value; nothing was written")
    if is_placeholder(value):
        raise UserError("refusing the placeholder value; nothing was written")
    bad = _unprintable(value)
    if bad >= 0:
        char = value[bad]
        kind = _NAMED.get(char, f"a control character (U+{ord(char):04X})")
        where = "as its last character" if bad == len(value) - 1 else f"at character {bad + 1}"
        raise UserError(f"refusing a value with {kind} {where}: a secret is one line of printable characters "
                        "(one line ending at the very end, as `echo` adds, is dropped; pipe it with `printf %s`); "
                        "nothing was written")
    if value != value.strip():
        raise UserError("refusing a value with leading or trailing spaces (a paste that took too much?); "
                        "nothing was written")
    if len(value.encode()) > MAX_SECRET_BYTES:
        raise UserError(f"refusing a value of {len(value.encode()):,} bytes: Secrets Manager takes at most "
                        f"{MAX_SECRET_BYTES:,}; nothing was written")
    return value


def secrets_set(ctx: Ctx, opts: SecretsSetOptions) -> Result:
    item = find_item(ctx.env, opts.name, "secret")
    if not item.settable:
        raise UserError(f"{opts.name} is managed with the database (RDS master credentials); it cannot be set here")
    print_header(ctx)
    with _restart_lock(ctx, opts, f"secrets-set {opts.name} --restart"):
        readers = load_readers(ctx)
        _require_writable(ctx, item)
        typed = ctx.read_secret(f"new value for {item.name} (input hidden): ")
        value, ended = validate_secret_value(typed), line_ending(typed)
        del typed
        arn, version = _put_secret(ctx, item, value)
        del value
        ctx.console.ok(f"{item.name}: new version {version} written")
        if ended:
            ctx.console.line("the line ending the input ended with (what `echo` adds) is not part of the value")
        return Result(_after_write(ctx, arn, readers, opts, "the secret's AWSPREVIOUS version"))


def _restart_lock(ctx: Ctx, opts: SecretsSetOptions | SecretsRotateOptions | ConfigSetOptions,
                  command: str) -> AbstractContextManager:
    """A --restart is a deployment: it takes the environment's deploy lock first (nothing written if refused)."""
    return deployment(ctx, command, opts.timeout, settle_history=False) if opts.restart else nullcontext()


def secrets_rotate(ctx: Ctx, opts: SecretsRotateOptions) -> Result:
    short, console = opts.name, ctx.console
    if short not in ROTATABLE:
        raise UserError(f"only {', '.join(ROTATABLE)} can be rotated here; set API keys with `invoke secrets-set`")
    item = find_item(ctx.env, short, "secret")
    print_header(ctx)
    with _restart_lock(ctx, opts, f"secrets-rotate {short} --restart"):
        readers = load_readers(ctx)
        _require_writable(ctx, item)
        console.warn(f"rotating {short}: {ROTATABLE[short]}")
        refused = ctx.confirmed(f"rotate {item.name} now?", opts.yes)
        if refused:
            return Result(refused)
        value = ctx.client("secretsmanager").get_random_password(PasswordLength=64,
                                                                 ExcludePunctuation=True)["RandomPassword"]
        arn, version = _put_secret(ctx, item, value)
        del value
        console.ok(f"{item.name}: rotated, new version {version}")
        return Result(_after_write(ctx, arn, readers, opts, "the secret's AWSPREVIOUS version"))


def _require_writable(ctx: Ctx, item: Item) -> None:
    """A secret scheduled for deletion, or gone, is refused before its value is asked for, saying what works."""
    try:
        meta = ctx.client("secretsmanager").describe_secret(SecretId=item.name)
    except Exception as e:
        if error_code(e) == "ResourceNotFoundException":
            raise UserError(f"secret {item.name} does not exist, although the stack does: it was deleted outside "
                            f"CloudFormation. {gone_secret_advice(item.name)}; nothing was written") from None
        raise
    if meta.get("DeletedDate"):
        raise UserError(f"{deleted_secret_advice(item.name, meta['DeletedDate'])}; then run this again. Nothing "
                        "was written")


def _put_secret(ctx: Ctx, item: Item, value: str) -> tuple[str, str]:
    """(ARN, new version id)."""
    sm = ctx.client("secretsmanager")
    try:
        written = sm.put_secret_value(SecretId=item.name, SecretString=value)
        ctx.record(f"wrote a new version of {item.name}", "`invoke secrets-check` to see it")
        return written["ARN"], written["VersionId"]
    except Exception as e:
        if error_code(e) == "ResourceNotFoundException":  # deleted since _require_writable looked
            raise UserError(f"secret {item.name} does not exist, although the stack does: it was deleted outside "
                            f"CloudFormation. {gone_secret_advice(item.name)}; nothing was written") from None
        if error_code(e) == "InvalidRequestException" and "deleted" in str(e):
            raise UserError(f"{deleted_secret_advice(item.name, None)}; then run this again. Nothing was "
                            "written") from None
        raise


def _after_write(ctx: Ctx, ref: str, readers: Readers, opts: SecretsSetOptions | SecretsRotateOptions | ConfigSetOptions,
                 previous: str) -> Outcome:
    """Who reads `ref` (a secret ARN or parameter name), and restart them if `opts.restart`.

    `previous` says where the value before this write can be found, for the message if the restart fails.
    """
    keys, console = readers.of(ref), ctx.console
    if not keys:
        console.line("no service reads it yet")
        return Outcome.APPLIED
    if not opts.restart:
        console.line(f"read by {', '.join(keys)} at task start: running tasks keep the old value until "
                     f"they restart (rerun with --restart, or release)")
        return Outcome.APPLIED
    return restart_services(ctx, readers, keys, opts.timeout, previous)


def restart_services(ctx: Ctx, readers: Readers, keys: list[str], timeout: float, previous: str) -> Outcome:
    """A forced new deployment of each service, watched like a release."""
    ecs, console = ctx.client("ecs"), ctx.console
    targets = []
    for key in keys:
        svc = ecs.update_service(cluster=readers.cluster, service=readers.services[key], forceNewDeployment=True)["service"]
        ctx.record(f"forced a new deployment of {key}", "`invoke release-status` to follow it")
        td = svc["taskDefinition"]
        targets.append(Target(key, svc["serviceName"], td, td, deployment_id_for(svc, td)))
        console.line(f"{key}: restarting ({svc['serviceName']})")
    watch_deployments(ctx, readers.cluster, targets, timeout, label="restart")
    failed = [t for t in targets if t.state is not State.SUCCEEDED]
    if failed:
        for t in failed:
            console.error(f"{t.key}: restart {t.state.value}: {t.reason}")
        console.error(f"the new tasks did not come up with the new value: check `invoke logs`; "
                      f"the previous value is {previous}")
        return Outcome.NEEDS_HUMAN
    console.ok("restarted: " + ", ".join(t.key for t in targets))
    return Outcome.APPLIED


# ---------------------------------------------------------------- non-secret configuration

def config_show(ctx: Ctx, opts: ReadOptions) -> Result:
    """The non-secret settings as one document (schema portyfoul.config-show/1)."""
    env = ctx.env
    data = json_document(ctx, "config-show", print_header(ctx))
    readers = load_readers(ctx)
    ssm = ctx.client("ssm")
    found: list[tuple[Item, dict | None]] = []
    for item in catalogue(env):
        if item.kind != "parameter":
            continue
        try:
            found.append((item, ssm.get_parameter(Name=item.name)["Parameter"]))
        except Exception as e:
            if error_code(e) != "ParameterNotFound":
                raise
            found.append((item, None))
    data["settings"] = [{
        "key": item.short, "parameter": item.name, "exists": p is not None, "value": p["Value"] if p else None,
        "settable": item.settable, "last_changed": iso_time(p.get("LastModifiedDate")) if p else None,
        "read_by": readers.of(item.name) if p else []} for item, p in found]
    return present(ctx, opts.json, Outcome.NO_CHANGES, data, _render_settings)


def _render_settings(console: Console, data: dict) -> None:
    console.table(("key", "value", "parameter", "last changed", "read by"), [
        (i["key"], i["value"], i["parameter"], (i["last_changed"] or "-")[:16].replace("T", " "),
         ", ".join(i["read_by"]) or "-") if i["exists"] else (i["key"], "MISSING", i["parameter"], "-", "-")
        for i in data["settings"]])


def config_set(ctx: Ctx, opts: ConfigSetOptions) -> Result:
    env = ctx.env
    key, value = opts.key, opts.value
    item = find_item(env, key, "parameter")
    if not item.settable:
        raise UserError(f"{key} names the environment the stack was created for; it cannot be changed")
    value = next(p for p in CONFIG_PARAMETERS if p.short_name == key).validate(value)
    print_header(ctx)
    with _restart_lock(ctx, opts, f"config-set {key} --restart"):
        return Result(_config_set(ctx, opts, item, value))


def _config_set(ctx: Ctx, opts: ConfigSetOptions, item: Item, value: str) -> Outcome:
    env, console, key = ctx.env, ctx.console, opts.key
    readers = load_readers(ctx)
    ssm = ctx.client("ssm")
    try:
        old = ssm.get_parameter(Name=item.name)["Parameter"]["Value"]
    except Exception as e:
        if error_code(e) == "ParameterNotFound":
            raise UserError(f"{missing_parameter_advice(env, item.name)}; nothing was written") from None
        raise
    ssm.put_parameter(Name=item.name, Value=value, Type="String", Overwrite=True)
    ctx.record(f"set {item.name} to {value}", f"`invoke config-show --env {env.name}`")
    console.ok(f"{item.name} = {value} (was {old})")
    return _after_write(ctx, item.name, readers, opts,
                        f"{old!r}: `invoke config-set {key} {old} --env {env.name}` puts it back")
