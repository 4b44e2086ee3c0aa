"""The release history of an environment, kept in AWS (an SSM parameter), never on an operator's disk.

Each release and rollback is one record: the tag and digest, when, onto
which task definition revisions (from and to, per service), and how it
ended. `rollback` goes to the newest release that succeeded and differs from
what runs now; `release-status` shows the last few; stack-update checks that
the tag it keeps was released successfully. Records are written when a
deployment starts ("in progress") and again when it ends, so a release that
died half-way is never mistaken for a good one.

The parameter holds JSON, newest first, trimmed to fit a standard SSM
parameter (4 KB): about the last twenty releases.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from ..config import Environment
from ..context import Ctx
from ..errors import error_code

HISTORY_PARAMETER = "release-history"
MAX_BYTES = 4096
IN_PROGRESS, SUCCEEDED, FAILED = "in progress", "succeeded", "failed"


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

    @staticmethod
    def from_dict(d: dict) -> "ReleaseRecord":
        services = {k: ServiceChange(**v) for k, v in d.get("services", {}).items()}
        return ReleaseRecord(d["id"], d.get("kind", "release"), d["tag"], d.get("digest", ""), d["at"], services,
                             d.get("outcome", IN_PROGRESS), d.get("note", ""))


def parameter_name(env: Environment) -> str:
    return f"{env.parameter_prefix}/{HISTORY_PARAMETER}"


def load(ctx: Ctx, env: Environment | None = None) -> list[ReleaseRecord]:
    """The context's environment's history (or `env`'s), newest first; [] when there is none yet."""
    ssm, env = ctx.client("ssm"), env or ctx.env
    try:
        value = ssm.get_parameter(Name=parameter_name(env))["Parameter"]["Value"]
    except Exception as e:
        if error_code(e) == "ParameterNotFound":
            return []
        raise
    try:
        return [ReleaseRecord.from_dict(d) for d in json.loads(value)]
    except (ValueError, KeyError, TypeError):
        return []


def _save(ctx: Ctx, records: list[ReleaseRecord]) -> None:
    kept = list(records)
    while True:
        text = json.dumps([asdict(r) for r in kept], separators=(",", ":"), sort_keys=True)
        if len(text.encode()) <= MAX_BYTES or len(kept) <= 1:
            break
        kept.pop()
    ctx.client("ssm").put_parameter(Name=parameter_name(ctx.env), Value=text, Type="String", Overwrite=True,
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
