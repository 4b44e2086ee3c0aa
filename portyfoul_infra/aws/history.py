"""The release history of an environment, kept in AWS (SSM parameters), never on an operator's disk.

Each release and rollback is one record: the tag and digest, when, onto
which task definition revisions (from and to, per service), and how it
ended. `rollback` goes to the newest release that succeeded and differs from
what runs now; `release-status` shows the last few; stack-update checks that
the tag it keeps was released successfully. Records are written when a
deployment starts ("in progress") and again when it ends, so a release that
died half-way is never mistaken for a good one.

Where it is kept: one standard SSM parameter per record, `/<project>/<env>/releases/<record id>`, read with
GetParametersByPath. Weighed against the alternatives:

- one parameter for the whole history (what this was until now): 4 KB held five or six records, so a run of
  failures trimmed away every good release. An advanced-tier parameter only doubles that (8 KB), costs
  $0.05 a month per environment, and cannot be made standard again without deleting it.
- a store the stack owns (a DynamoDB table, an S3 object): a new resource in the application's template
  (and its deletion policy, its own IAM, and a history that dies with the stack), for about thirty records.
- one parameter per record: free (standard tier), and no size limit to trim around: a record (a tag, a
  digest, four ARNs, a short note) stays under 2 KB of the 4 KB. A write is one PutParameter of one record,
  atomic in itself, never a read-modify-write of the whole history: finishing a release rewrites its own
  record only, so a record damaged by hand elsewhere cannot stop a release from recording how it ended. A
  read costs one call per ten records plus one (the old parameter, for migration): three or four calls. IAM
  is scoped to the path. A person can repair it record by record: look at one, restore an earlier version of
  it (SSM keeps each parameter's versions), or delete it alone and keep the rest.

What is kept (`retained`): the newest KEEP_RECENT (20) records of any kind, every record still in progress,
and per service the ways back, however many failures come in between: its newest KEEP_GOOD (3) releases that
succeeded, the newest good release of each of the newest KEEP_GOOD tags it could still roll back to, with the
rollbacks that left a kept release (so that rolling back twice still walks back); and for each tag kept, its
newest release (how that tag last ended). Older records are deleted after each new one is written: 20 records
in everyday use, 23 after a run of failures, a few more after rollbacks.

Every record is validated whenever it is read: another shape, a foreign type, text that is not JSON, or a
name that is not its id is refused (HistoryError, exit 2 when nothing changed yet) naming that parameter and
how to repair it, and it is never overwritten.

Migration from the single parameter (`/<project>/<env>/release-history` and its copy
`release-history-last-good`): every read merges them in (a record in both: the newer form wins), so nothing
is lost before, during or after; the first write by this version puts each of their records into the store
(never over one already there), then deletes the two. Interrupted anywhere, the next read sees the same
history and the next write finishes the job; run twice, the second finds nothing to do.

A record left "in progress" by a process that is gone (killed, its machine lost) is reconciled with what ECS
says by the next release, rollback or stack-update (`reconcile`), which holds the environment's deploy lock,
so no other process is deploying.
"""

from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, ParamSpec, TypeVar

from ..config import Environment
from ..context import Ctx
from ..contract import SERVICES
from ..errors import UserError, error_code

STORE_PATH = "releases"                            # /<project>/<env>/releases/<record id>
LEGACY_PARAMETER = "release-history"               # the single parameter of earlier versions
LEGACY_LAST_GOOD = "release-history-last-good"     # its copy before each write
MAX_BYTES = 4096                                   # a standard SSM parameter's value: a record stays far below
KEEP_RECENT = 20
KEEP_GOOD = 3
PAGE = 10                                          # GetParametersByPath's largest page
IN_PROGRESS, SUCCEEDED, FAILED = "in progress", "succeeded", "failed"
OUTCOMES = (IN_PROGRESS, SUCCEEDED, FAILED)
KINDS = ("release", "rollback")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")   # what release accepts as a tag
AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
ID = re.compile(r"[0-9a-f]{1,16}")                 # milliseconds since the epoch, in hex: what start() writes
NOTE_CHARS = 120


class HistoryError(UserError):
    """A part of the release history holds something this tool did not write: refused, never overwritten.

    `changed`: the command had already changed something, so the message must not say that nothing changed
    (tasks.py then adds what changed and exits 4)."""

    def __init__(self, name: str, why: str, repair: str = "", changed: bool = False):
        self.name, self.why, self.changed = name, why, changed
        self.repair = repair or _legacy_repair(name)
        state = "it is not overwritten" if changed else "nothing changed, and it is not overwritten"
        super().__init__(f"the release history {name} is not what this tool writes ({why}); {state}. "
                         f"{self.repair}")

    def after_changes(self) -> "HistoryError":
        return HistoryError(self.name, self.why, self.repair, changed=True)


def _legacy_repair(name: str) -> str:
    """How to repair the single parameter of earlier versions (or its copy)."""
    prefix = name.rsplit("/", 1)[0]
    if name.endswith("/" + LEGACY_LAST_GOOD):
        return (f"Look at it: `aws ssm get-parameter --name {name}`. It is only a copy kept by an earlier version: "
                f"delete it (`aws ssm delete-parameter --name {name}`), or put back what it held")
    backup = f"{prefix}/{LEGACY_LAST_GOOD}"
    return (f"Look at it: `aws ssm get-parameter --name {name}`. Restore its last good copy: `aws ssm "
            f"put-parameter --name {name} --type String --overwrite --value \"$(aws ssm get-parameter --name "
            f"{backup} --query Parameter.Value --output text)\"`; or drop it (its releases are forgotten; those "
            f"already in {prefix}/{STORE_PATH} stay): `aws ssm delete-parameter --name {name}`")


def _record_repair(name: str, version: int) -> str:
    """How to repair one record of the store: an earlier version of it, or without it."""
    forget = f"forget that one record (the others stay): `aws ssm delete-parameter --name {name}`"
    earlier = (f"Put back its version {version - 1}: `aws ssm put-parameter --name {name} --type String "
               f"--overwrite --value \"$(aws ssm get-parameter --name {name}:{version - 1} --query Parameter.Value "
               f"--output text)\"`; or {forget}" if version > 1 else forget[0].upper() + forget[1:])
    return f"Look at it: `aws ssm get-parameter-history --name {name}`. {earlier}"


@dataclass
class ServiceChange:
    previous: str        # task definition ARN before
    deployed: str        # task definition ARN this record deployed


@dataclass
class ReleaseRecord:
    id: str
    kind: str                                   # release | rollback
    tag: str
    digest: str
    at: str                                     # UTC, ISO 8601, seconds
    services: dict[str, ServiceChange] = field(default_factory=dict)
    outcome: str = IN_PROGRESS
    note: str = ""
    extra: dict = field(default_factory=dict)   # fields a later version wrote: kept as they are on every write

    @staticmethod
    def from_dict(d: dict) -> "ReleaseRecord":
        services = {k: ServiceChange(**v) for k, v in d.get("services", {}).items()}
        known = {"id", "kind", "tag", "digest", "at", "services", "outcome", "note"}
        return ReleaseRecord(d["id"], d.get("kind", "release"), d["tag"], d.get("digest", ""), d["at"], services,
                             d.get("outcome", IN_PROGRESS), d.get("note", ""),
                             {k: v for k, v in d.items() if k not in known})

    def as_dict(self) -> dict:
        d = asdict(self)
        return {**d.pop("extra"), **d}

    def text(self) -> str:
        """The record as stored: one JSON object."""
        return json.dumps(self.as_dict(), separators=(",", ":"), sort_keys=True)


def parameter_name(env: Environment) -> str:
    """The history's name in messages: the path its records are kept under."""
    return f"{env.parameter_prefix}/{STORE_PATH}"


def record_name(env: Environment, record_id: str) -> str:
    return f"{parameter_name(env)}/{record_id}"


def legacy_names(env: Environment) -> tuple[str, str]:
    """The single parameter of earlier versions and its copy, in that order."""
    return f"{env.parameter_prefix}/{LEGACY_PARAMETER}", f"{env.parameter_prefix}/{LEGACY_LAST_GOOD}"


def newest_first(records: Iterable[ReleaseRecord]) -> list[ReleaseRecord]:
    """Newest first, by id (milliseconds, made to increase by start() under the deploy lock)."""
    return sorted(records, key=lambda r: int(r.id, 16), reverse=True)


# ---------------------------------------------------------------- parsing (pure)

def parse(value: str, name: str) -> list[ReleaseRecord]:
    """The records of the single parameter of earlier versions (a JSON list, newest first), or HistoryError
    naming what is wrong (the first problem found)."""
    data = _json(value, name)
    if not isinstance(data, list):
        raise HistoryError(name, f"a JSON {type(data).__name__} where a list of releases belongs")
    records = []
    for i, d in enumerate(data):
        problem = _problem(d)
        if problem:
            raise HistoryError(name, f"record {i + 1}: {problem}")
        records.append(ReleaseRecord.from_dict(d))
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise HistoryError(name, f"record id {next(i for i in ids if ids.count(i) > 1)[:20]!r} appears twice")
    return records


def parse_record(parameter: dict) -> ReleaseRecord:
    """One record of the store, from the parameter GetParametersByPath returned, or HistoryError naming it."""
    name, version = parameter["Name"], int(parameter.get("Version") or 1)
    repair = _record_repair(name, version)
    if parameter.get("Type", "String") != "String":
        raise HistoryError(name, f"a {parameter.get('Type')} where a String belongs", repair)
    data = _json(parameter.get("Value", ""), name, repair)
    problem = _problem(data)
    if problem or not isinstance(data, dict):
        raise HistoryError(name, problem, repair)
    record = ReleaseRecord.from_dict(data)
    if name.rsplit("/", 1)[-1] != record.id:
        raise HistoryError(name, f"it holds the record {record.id[:20]!r}, not the one its name says", repair)
    return record


def _json(value: str, name: str, repair: str = "") -> object:
    try:
        return json.loads(value)
    except ValueError:
        raise HistoryError(name, "not JSON", repair) from None
    except RecursionError:
        raise HistoryError(name, "JSON nested deeper than any history", repair) from None


def _problem(d: object) -> str:
    if not isinstance(d, dict):
        return f"a JSON {type(d).__name__} where a release record belongs"
    for key in ("id", "tag", "at"):
        if not isinstance(d.get(key), str) or not d[key]:
            return f"no {key}"
    if not ID.fullmatch(d["id"]):
        return f"id {d['id'][:20]!r} is not a record id (hexadecimal)"
    if not TAG.fullmatch(d["tag"]):
        return f"tag {d['tag'][:40]!r} is not a release tag"
    if not AT.fullmatch(d["at"]):
        return f"at {d['at'][:40]!r} is not a UTC time (2026-11-26T01:02:03Z)"
    if d.get("kind", "release") not in KINDS:
        return f"kind {str(d.get('kind'))[:20]!r} is neither release nor rollback"
    if d.get("outcome", IN_PROGRESS) not in OUTCOMES:
        return f"outcome {str(d.get('outcome'))[:20]!r} is none of {', '.join(OUTCOMES)}"
    for key in ("digest", "note"):
        if not isinstance(d.get(key, ""), str):
            return f"{key} is not text"
    return _services_problem(d.get("services"))


def _services_problem(services: object) -> str:
    if not isinstance(services, dict) or not services:
        return "no services"
    for key, change in services.items():
        if key not in SERVICES:
            return f"service {str(key)[:20]!r} is none of {', '.join(SERVICES)}"
        if not isinstance(change, dict) or set(change) != {"previous", "deployed"} or not all(
                isinstance(v, str) for v in change.values()):
            return f"service {str(key)[:20]!r} is not {{previous, deployed}}"
    return ""


# ---------------------------------------------------------------- what is kept (pure)

def retained(records: list[ReleaseRecord]) -> list[ReleaseRecord]:
    """The records to keep, newest first (`records` newest first): the newest KEEP_RECENT, every one in
    progress, each service's ways back (`_ways_back`), and for every tag kept its newest release, so that
    `tag_outcome` still says how that tag last ended. Everything else may be deleted."""
    keep = {r.id for r in records[:KEEP_RECENT]} | {r.id for r in records if r.outcome == IN_PROGRESS}
    for service in SERVICES:
        keep |= _ways_back(records, service)
    for tag in {r.tag for r in records if r.id in keep}:
        newest = next((r for r in records if r.tag == tag and r.kind == "release"), None)
        if newest is not None:
            keep.add(newest.id)
    return [r for r in records if r.id in keep]


def _ways_back(records: list[ReleaseRecord], service: str) -> set[str]:
    """The ids `service` needs to go back, whatever failed since: its newest KEEP_GOOD releases that succeeded
    (for `rollback --to`), the newest good release of each of the newest KEEP_GOOD tags that `last_good` may
    still offer (a tag released again and again counts once: rollback skips the tag that runs), and the
    newest rollback that left each kept release (so `last_good` keeps skipping it, as on the whole history).

    Why that is enough: `last_good` goes to the first good release not left by a later rollback whose tag
    and revision differ from what runs; every good release before it carries the running tag, so it is the
    newest good release of the second distinct tag at most. And a kept release is skipped exactly as before:
    the newest rollback that left it is kept with it.
    """
    abandoned: dict[str, ReleaseRecord] = {}   # revision -> the newest succeeded rollback that left it
    good: list[tuple[ReleaseRecord, bool]] = []   # succeeded releases, newest first, and whether left since
    for r in records:
        change = r.services.get(service)
        if change is None or r.outcome != SUCCEEDED:
            continue
        if r.kind == "rollback":
            abandoned.setdefault(change.previous, r)
        else:
            good.append((r, change.deployed in abandoned))
    kept = [r for r, _ in good[:KEEP_GOOD]]
    tags: list[str] = []
    for r, left in good:
        if len(tags) == KEEP_GOOD:
            break
        if not left and r.tag not in tags:
            tags.append(r.tag)
            kept.append(r)
    ids = {r.id for r in kept}
    for r in kept:
        rollback = abandoned.get(r.services[service].deployed)
        if rollback is not None:
            ids.add(rollback.id)
    return ids


def good_revisions(records: list[ReleaseRecord], service: str) -> set[str]:
    """The task definition revisions of the good releases kept as `service`'s ways back: release keeps them
    ACTIVE when it deregisters old revisions, so that a way back the history keeps can still run."""
    ids = _ways_back(records, service)
    return {r.services[service].deployed for r in records if r.id in ids and r.kind == "release"}


def kept_revisions(ctx: Ctx) -> dict[str, set[str]] | None:
    """good_revisions of every service from the stored history; None (said as a warning) when a record there
    cannot be read now: then nothing may be deregistered, and the release that asks is not failed for it."""
    try:
        records = _read_all(ctx).records
    except HistoryError as e:
        ctx.console.warn(f"no old task definition revision deregistered: {e.after_changes()}")
        return None
    return {service: good_revisions(records, service) for service in SERVICES}


# ---------------------------------------------------------------- reading

@dataclass
class Stored:
    """The history as read: the records (the store and the old single parameter merged, newest first), which
    of them the store holds, and the old parameters still there (migration left to do)."""
    records: list[ReleaseRecord]
    in_store: set[str]
    legacy: list[str]

    @property
    def to_migrate(self) -> list[ReleaseRecord]:
        return [r for r in self.records if r.id not in self.in_store]


def _read_all(ctx: Ctx, env: Environment | None = None) -> Stored:
    """Read and validate the whole history (HistoryError naming the first part this tool did not write)."""
    env = env or ctx.env
    ssm = ctx.client("ssm")
    store: dict[str, ReleaseRecord] = {}
    token = ""
    while True:
        page = ssm.get_parameters_by_path(Path=parameter_name(env), Recursive=False, MaxResults=PAGE,
                                          **({"NextToken": token} if token else {}))
        for parameter in page.get("Parameters", []):
            record = parse_record(parameter)
            store[record.id] = record
        token = page.get("NextToken") or ""
        if not token:   # a page may hold fewer than asked, even none, and still have more after it
            break
    legacy, found = _read_legacy(ssm, env)
    merged = dict(store)
    for r in legacy:
        merged.setdefault(r.id, r)   # the store's form of a record is the newer one
    return Stored(newest_first(merged.values()), set(store), found)


def _read_legacy(ssm, env: Environment) -> tuple[list[ReleaseRecord], list[str]]:
    """The records of the single parameter and its copy (the parameter's form of a record wins), and which
    of the two exist."""
    names = legacy_names(env)
    values = {p["Name"]: p["Value"] for p in ssm.get_parameters(Names=list(names)).get("Parameters", [])}
    records: dict[str, ReleaseRecord] = {}
    for name in names:   # the parameter first: its form of a record is newer than the copy's
        if name in values:
            for r in parse(values[name], name):
                records.setdefault(r.id, r)
    return list(records.values()), [n for n in names if n in values]


P = ParamSpec("P")
R = TypeVar("R")


def _honest(fn: Callable[P, R]) -> Callable[P, R]:
    """A HistoryError met after the command changed something does not say that nothing changed."""
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except HistoryError as e:
            ctx = args[0]
            if isinstance(ctx, Ctx) and ctx.journal.changes and not e.changed:
                raise e.after_changes() from None
            raise
    return wrapper


@_honest
def load(ctx: Ctx, env: Environment | None = None) -> list[ReleaseRecord]:
    """The context's environment's history (or `env`'s), newest first; [] when there is none yet; HistoryError
    (exit 2) when it holds something this tool did not write. Reads only (another environment's too)."""
    return _read_all(ctx, env).records


# ---------------------------------------------------------------- writing

def _put(ctx: Ctx, record: ReleaseRecord, create: bool) -> None:
    """One record, one PutParameter. create: refused by SSM (ParameterAlreadyExists) if the name is taken."""
    ctx.client("ssm").put_parameter(
        Name=record_name(ctx.env, record.id), Value=record.text(), Type="String", Tier="Standard",
        Overwrite=not create, Description=f"portyfoul-infra: the {record.kind} of {record.tag} (release history)")


def _migrate(ctx: Ctx, stored: Stored) -> None:
    """Put each record only the old single parameter holds into the store, never over one there, then delete
    the old parameter and its copy. Safe to interrupt and to run again (see the module's docstring)."""
    for record in stored.to_migrate:
        try:
            _put(ctx, record, create=True)
        except Exception as e:
            if error_code(e) != "ParameterAlreadyExists":
                raise
        stored.in_store.add(record.id)
    if stored.legacy:
        ctx.client("ssm").delete_parameters(Names=stored.legacy)
        stored.legacy = []


def _prune(ctx: Ctx, records: list[ReleaseRecord]) -> list[str]:
    """Delete the store's records that `retained` does not keep; their ids."""
    kept = {r.id for r in retained(records)}
    gone = [r.id for r in records if r.id not in kept]
    ssm = ctx.client("ssm")
    for i in range(0, len(gone), PAGE):
        ssm.delete_parameters(Names=[record_name(ctx.env, g) for g in gone[i:i + PAGE]])
    return gone


def _new_id(now: float, records: list[ReleaseRecord]) -> str:
    """Milliseconds since the epoch, in hex; above every id there, so the newest record is always first."""
    newest = max((int(r.id, 16) for r in records), default=-1)
    return f"{max(int(now * 1000), newest + 1):x}"


@_honest
def start(ctx: Ctx, kind: str, tag: str, digest: str, services: dict[str, ServiceChange]) -> ReleaseRecord:
    """Record a deployment as in progress, before it starts; then migrate an old history and drop the records
    no longer kept (after the new one is written, so an interruption never leaves fewer)."""
    stored = _read_all(ctx)
    now = ctx.wall()
    record = ReleaseRecord(id=_new_id(now, stored.records), kind=kind, tag=tag, digest=digest,
                           at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), services=services)
    for _ in range(5):
        try:
            _put(ctx, record, create=True)
            break
        except Exception as e:   # a name taken since the read (a clock far ahead elsewhere): the next id
            if error_code(e) != "ParameterAlreadyExists":
                raise
            record.id = f"{int(record.id, 16) + 1:x}"
    else:
        raise UserError(f"could not find a free record name under {parameter_name(ctx.env)}; nothing deployed")
    _migrate(ctx, stored)
    _prune(ctx, [record, *stored.records])
    return record


@_honest
def finish(ctx: Ctx, record: ReleaseRecord, outcome: str, note: str = "") -> None:
    """Record how a deployment ended: its own record only (read first: one this tool did not write is refused,
    never overwritten), so a record damaged elsewhere cannot stop this one from being written."""
    name = record_name(ctx.env, record.id)
    try:
        parameter = ctx.client("ssm").get_parameter(Name=name)["Parameter"]
    except Exception as e:
        if error_code(e) != "ParameterNotFound":
            raise
        parameter = None
    current = parse_record(parameter) if parameter is not None else record
    current.outcome, current.note = outcome, note[:NOTE_CHARS]
    record.outcome, record.note = current.outcome, current.note
    _put(ctx, current, create=False)


def last_good(records: list[ReleaseRecord], service: str, running: str, running_tag: str,
              tag: str = "") -> ReleaseRecord | None:
    """The release to roll `service` back to: the newest that succeeded and differs from what runs now.

    Differs means another revision *and* another image tag (going from one revision of demo0001 to an
    older one of demo0001 is no rollback). A revision that a later rollback left is skipped, so
    rolling back twice walks back through the history instead of returning to the bad release.
    With `tag`, the newest succeeded release of that tag.
    """
    abandoned: set[str] = set()
    for r in records:
        change = r.services.get(service)
        if change is None:
            continue
        if r.kind == "rollback":
            if r.outcome == SUCCEEDED:
                abandoned.add(change.previous)
            continue
        if r.outcome != SUCCEEDED:
            continue
        if tag:
            if r.tag == tag:
                return r
            continue
        if change.deployed not in abandoned and change.deployed != running and r.tag != running_tag:
            return r
    return None


def tag_outcome(records: list[ReleaseRecord], tag: str) -> str | None:
    """How the newest release of `tag` ended, or None if it was never released through this tool."""
    return next((r.outcome for r in records if r.tag == tag and r.kind == "release"), None)


def settle_abandoned(records: list[ReleaseRecord], running: dict[str, tuple[str, bool, str]]) -> list[str]:
    """Settle, in `records`, each one left "in progress" by a process that is gone, from what ECS runs now
    (`running`: service key -> (task definition ARN, a deployment in progress, the image tag)). Returns a note
    per record settled. Only for a caller that holds the deploy lock: then no live process is writing these
    records.

    A record whose every service runs what it deployed (that revision, or its image under a revision a later
    stack-update registered) succeeded; one whose services run anything else (its previous revision: rolled
    back; a later one: superseded) failed. One whose service ECS is still deploying is left as it is.
    """
    notes = []
    for r in records:
        if r.outcome != IN_PROGRESS:
            continue
        states = {key: running.get(key) for key in r.services}
        if any(state is not None and state[1] for state in states.values()):
            notes.append(f"the {r.kind} of {r.tag} ({r.at}) is still deploying in ECS: left in progress")
            continue
        landed = {key for key, state in states.items()
                  if state and (state[0] == r.services[key].deployed or state[2] == r.tag)}
        words = [f"{key} {_where(key in landed, states[key], r.services[key])}" for key in sorted(r.services)]
        r.outcome = SUCCEEDED if landed == set(r.services) else FAILED
        r.note = f"reconciled: its process was gone; ECS: {', '.join(words)}"[:NOTE_CHARS]
        notes.append(f"the {r.kind} of {r.tag} ({r.at}) was left in progress by a process that is gone: "
                     f"{r.outcome} ({', '.join(words)})")
    return notes


@_honest
def reconcile(ctx: Ctx, running: dict[str, tuple[str, bool, str]]) -> list[str]:
    """settle_abandoned on the stored history, and store the records it settled (holding the deploy lock)."""
    stored = _read_all(ctx)
    before = {r.id: r.outcome for r in stored.records}
    notes = settle_abandoned(stored.records, running)
    settled = [r for r in stored.records if r.outcome != before[r.id]]
    for r in settled:
        if r.id in stored.in_store:
            _put(ctx, r, create=False)
    if settled:
        _migrate(ctx, stored)   # the old parameter's records, those just settled among them
    return notes


def _where(landed: bool, state: tuple[str, bool, str] | None, change: ServiceChange) -> str:
    if landed:
        return "runs it"
    if state is None:
        return "is gone"
    return "went back" if state[0] == change.previous else "runs something else"


@_honest
def reconcile_with_ecs(ctx: Ctx) -> list[str]:
    """reconcile() with what the environment's services run now; nothing to do (no ECS call) when no record
    is in progress or there is no stack yet."""
    if not any(r.outcome == IN_PROGRESS for r in load(ctx)):
        return []
    from .services import read_services
    from .stacks import describe_stack

    stack = describe_stack(ctx.client("cloudformation"), ctx.env.stack_name)
    if stack is None:
        return []
    live = read_services(ctx, stack=stack)
    return reconcile(ctx, {s.key: (s.task_definition_arn, bool(s.busy), s.tag) for s in live})
