"""The release history of an environment, kept in AWS (an SSM parameter), never on an operator's disk.

Each release and rollback is one record: the tag and digest, when, onto
which task definition revisions (from and to, per service), and how it
ended. `rollback` goes to the newest release that succeeded and differs from
what runs now; `release-status` shows the last few; stack-update checks that
the tag it keeps was released successfully. Records are written when a
deployment starts ("in progress") and again when it ends, so a release that
died half-way is never mistaken for a good one.

The parameter holds JSON, newest first, trimmed to fit a standard SSM
parameter (4 KB): about the last twenty releases. It is validated whenever it
is read: another shape, or text that is not JSON, is refused (HistoryError,
exit 2) with the parameter's name and how to repair it, and is never
overwritten. Before each write, the history as it was (valid) is copied to
`release-history-last-good`.

A record left "in progress" by a process that is gone (killed, its machine
lost) is reconciled with what ECS says by the next release, rollback or
stack-update (`reconcile`), which holds the environment's deploy lock, so no
other process is deploying.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field

from ..config import Environment
from ..context import Ctx
from ..contract import SERVICES
from ..errors import UserError, error_code

HISTORY_PARAMETER = "release-history"
LAST_GOOD = "release-history-last-good"
MAX_BYTES = 4096
IN_PROGRESS, SUCCEEDED, FAILED = "in progress", "succeeded", "failed"
OUTCOMES = (IN_PROGRESS, SUCCEEDED, FAILED)
KINDS = ("release", "rollback")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")   # what release accepts as a tag
AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


class HistoryError(UserError):
    """The release history parameter holds something this tool did not write: refused, never overwritten."""

    def __init__(self, name: str, why: str):
        backup = name.rsplit("/", 1)[0] + "/" + LAST_GOOD
        super().__init__(
            f"the release history {name} is not what this tool writes ({why}); nothing changed, and it is not "
            f"overwritten. Look at it: `aws ssm get-parameter --name {name}`. Restore its last good copy: `aws ssm "
            f"put-parameter --name {name} --type String --overwrite --value \"$(aws ssm get-parameter --name "
            f"{backup} --query Parameter.Value --output text)\"`; or start a new history (rollback then has "
            f"nothing to go back to): `aws ssm delete-parameter --name {name}`")


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


def parameter_name(env: Environment) -> str:
    return f"{env.parameter_prefix}/{HISTORY_PARAMETER}"


def parse(value: str, name: str) -> list[ReleaseRecord]:
    """The records in `value`, or HistoryError naming what is wrong (the first problem found)."""
    try:
        data = json.loads(value)
    except ValueError:
        raise HistoryError(name, "not JSON") from None
    except RecursionError:
        raise HistoryError(name, "JSON nested deeper than any history") from None
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


def _problem(d: object) -> str:
    if not isinstance(d, dict):
        return f"a JSON {type(d).__name__} where a release record belongs"
    for key in ("id", "tag", "at"):
        if not isinstance(d.get(key), str) or not d[key]:
            return f"no {key}"
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
    services = d.get("services")
    if not isinstance(services, dict) or not services:
        return "no services"
    for key, change in services.items():
        if key not in SERVICES:
            return f"service {str(key)[:20]!r} is none of {', '.join(SERVICES)}"
        if not isinstance(change, dict) or set(change) != {"previous", "deployed"} or not all(
                isinstance(v, str) for v in change.values()):
            return f"service {str(key)[:20]!r} is not {{previous, deployed}}"
    return ""


def _read(ctx: Ctx, env: Environment) -> str | None:
    try:
        return ctx.client("ssm").get_parameter(Name=parameter_name(env))["Parameter"]["Value"]
    except Exception as e:
        if error_code(e) == "ParameterNotFound":
            return None
        raise


def load(ctx: Ctx, env: Environment | None = None) -> list[ReleaseRecord]:
    """The context's environment's history (or `env`'s), newest first; [] when there is none yet; HistoryError
    (exit 2) when it holds something this tool did not write."""
    env = env or ctx.env
    value = _read(ctx, env)
    return [] if value is None else parse(value, parameter_name(env))


def _save(ctx: Ctx, records: list[ReleaseRecord]) -> None:
    """Write the history: the one there now is read and validated first (a foreign one is refused, never
    overwritten) and copied to release-history-last-good."""
    ssm, name = ctx.client("ssm"), parameter_name(ctx.env)
    current = _read(ctx, ctx.env)
    if current is not None:
        parse(current, name)
        ssm.put_parameter(Name=f"{ctx.env.parameter_prefix}/{LAST_GOOD}", Value=current, Type="String",
                          Overwrite=True, Description="portyfoul-infra: the release history before its last write")
    kept = list(records)
    while True:
        text = json.dumps([r.as_dict() for r in kept], separators=(",", ":"), sort_keys=True)
        if len(text.encode()) <= MAX_BYTES or len(kept) <= 1:
            break
        kept.pop()
    ssm.put_parameter(Name=name, Value=text, Type="String", Overwrite=True,
                      Description="portyfoul-infra release history (newest first); written by release and rollback")


def start(ctx: Ctx, kind: str, tag: str, digest: str, services: dict[str, ServiceChange]) -> ReleaseRecord:
    """Record a deployment as in progress, before it starts."""
    now = ctx.wall()
    record = ReleaseRecord(id=f"{int(now * 1000):x}", kind=kind, tag=tag, digest=digest,
                           at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), services=services)
    _save(ctx, [record, *load(ctx)])
    return record


def finish(ctx: Ctx, record: ReleaseRecord, outcome: str, note: str = "") -> None:
    records = load(ctx)
    for r in records:
        if r.id == record.id:
            r.outcome, r.note = outcome, note[:120]
            break
    else:
        record.outcome, record.note = outcome, note[:120]
        records.insert(0, record)
    _save(ctx, records)


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
        r.note = f"reconciled: its process was gone; ECS: {', '.join(words)}"[:120]
        notes.append(f"the {r.kind} of {r.tag} ({r.at}) was left in progress by a process that is gone: "
                     f"{r.outcome} ({', '.join(words)})")
    return notes


def reconcile(ctx: Ctx, running: dict[str, tuple[str, bool, str]]) -> list[str]:
    """settle_abandoned on the stored history, and store the result (holding the deploy lock)."""
    records = load(ctx)
    notes = settle_abandoned(records, running)
    if any(not n.endswith("left in progress") for n in notes):
        _save(ctx, records)
    return notes


def _where(landed: bool, state: tuple[str, bool, str] | None, change: ServiceChange) -> str:
    if landed:
        return "runs it"
    if state is None:
        return "is gone"
    return "went back" if state[0] == change.previous else "runs something else"


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
