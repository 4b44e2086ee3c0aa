"""Database snapshots: named with the environment, the time and the tag that runs, and waited for.

Used by `db-snapshot` and by `release --migrate` (a snapshot before every
migration), never touching the live instance.
"""

from __future__ import annotations

import re
import time

from ..config import Environment
from ..console import elapsed
from ..context import Ctx
from ..contract import DATABASE_INSTANCE_ID
from .services import read_services
from .stacks import StackInfo
from .wait import poll_until


def instance_id(stack: StackInfo, env: Environment) -> str:
    """The RDS instance of the environment: the stack output, or the plan's name on a stack not yet converged."""
    return stack.outputs.get(DATABASE_INSTANCE_ID) or f"{env.project}-{env.name}-postgres"


def running_tag(ctx: Ctx, stack: StackInfo) -> str:
    """The image tag the web service runs, for the snapshot's name ("" when there is none yet)."""
    services = read_services(ctx, ["web"], stack=stack)
    return services.services["web"].tag if "web" in services.services else ""


def snapshot_name(env: Environment, tag: str, when: float) -> str:
    """`portyfoul-dev-20261126-010203-1a2b3c4d`: letters, digits and single hyphens, as RDS requires."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(when))
    safe_tag = re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9]", "-", tag)).strip("-").lower()[:40]
    return "-".join(part for part in (env.project, env.name, stamp, safe_tag) if part)


def take_snapshot(ctx: Ctx, stack: StackInfo, timeout: float, poll: float = 15.0) -> str | None:
    """Create a manual snapshot and wait until it is available; its ID, or None if it did not get there."""
    rds, env = ctx.client("rds"), ctx.env
    db = instance_id(stack, env)
    name = snapshot_name(env, running_tag(ctx, stack), ctx.wall())
    ctx.console.line(f"snapshot of {db}: {name}")
    rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier=db,
                           Tags=[{"Key": "CreatedBy", "Value": "portyfoul-infra"}])
    ctx.record(f"started the database snapshot {name}", f"`invoke db-snapshots --env {env.name}`")
    shown = {"status": ""}

    def show(snapshot: dict, now: float) -> None:
        if snapshot.get("Status") != shown["status"]:
            shown["status"] = snapshot.get("Status", "?")
            progress = f" ({snapshot.get('PercentProgress', 0)}%)" if shown["status"] == "creating" else ""
            ctx.console.line(f"{elapsed(now):>6}  snapshot {shown['status']}{progress}", "dim")

    polled = poll_until(ctx, lambda: rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0],
                        lambda s: s.get("Status") in ("available", "failed", "error", "deleted"), timeout=timeout,
                        interval=poll, on_poll=show, waiting="snapshot in progress ...")
    return name if polled.value.get("Status") == "available" else None
