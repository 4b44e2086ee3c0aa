"""db-snapshot, db-snapshots, db-restore: the database's safety net, never touching the live instance.

A snapshot is named with the environment, the time and the tag that runs, so
a restore can be matched to a release. A restore always creates a *new*
instance beside the live one; moving data back, or making it the
environment's database, is a deliberate step the output spells out.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from ..aws.clients import collect, json_document, print_header
from ..aws.snapshots import instance_id, take_snapshot
from ..aws.stacks import require_stack
from ..console import Console, iso_time
from ..context import Ctx
from ..errors import UserError, error_code
from ..options import ReadOptions, RestoreOptions, SnapshotOptions
from ..outcomes import Outcome, Result, result_of
from . import present


def db_snapshot(ctx: Ctx, opts: SnapshotOptions) -> Result:
    env, console = ctx.env, ctx.console
    print_header(ctx)
    stack = require_stack(ctx)
    name = take_snapshot(ctx, stack, opts.timeout)
    if name is None:
        console.error(f"the snapshot did not become available within {opts.timeout}s; RDS carries on: "
                      f"`invoke db-snapshots --env {env.name}`")
        return Result(Outcome.NEEDS_HUMAN)
    console.ok(f"snapshot {name} is available; restore it with `invoke db-restore --snapshot {name} --env {env.name}`")
    return Result(Outcome.APPLIED)


def db_snapshots(ctx: Ctx, opts: ReadOptions) -> Result:
    """The database's snapshots, newest first, as one document (schema portyfoul.db-snapshots/1)."""
    env = ctx.env
    data = json_document(ctx, "db-snapshots", print_header(ctx))
    stack = require_stack(ctx)
    db = instance_id(stack, env)
    rds = ctx.client("rds")
    snapshots = collect(rds.describe_db_snapshots, "DBSnapshots", "Marker", DBInstanceIdentifier=db)
    current = datetime.fromtimestamp(ctx.wall(), tz=timezone.utc)
    ordered = sorted(snapshots, key=lambda s: s.get("SnapshotCreateTime") or current, reverse=True)
    data["instance"] = db
    data["snapshots"] = [{
        "id": s["DBSnapshotIdentifier"], "type": s.get("SnapshotType"), "status": s.get("Status"),
        "created": iso_time(s.get("SnapshotCreateTime")),
        "age_seconds": int((current - s["SnapshotCreateTime"]).total_seconds())
        if isinstance(s.get("SnapshotCreateTime"), datetime) else None,
        "allocated_storage_gb": s.get("AllocatedStorage")} for s in ordered]
    return present(ctx, opts.json, Outcome.NO_CHANGES, data, _render_snapshots)


def _render_snapshots(console: Console, data: dict) -> None:
    if not data["snapshots"]:
        console.line(f"{data['instance']} has no snapshots yet; `invoke db-snapshot --env {data['environment']}` "
                     "takes one")
        return
    console.table(("snapshot", "type", "created (UTC)", "age", "size", "status"), [
        (s["id"], s["type"] or "?", (s["created"] or "?")[:16].replace("T", " "),
         _age(s["age_seconds"]) if s["age_seconds"] is not None else "?",
         f"{s['allocated_storage_gb'] if s['allocated_storage_gb'] is not None else '?'} GB", s["status"] or "?")
        for s in data["snapshots"]])


def _age(seconds: int) -> str:
    hours = seconds // 3600
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h {seconds % 3600 // 60}m"


def db_restore(ctx: Ctx, opts: RestoreOptions) -> Result:
    env, console = ctx.env, ctx.console
    print_header(ctx)
    stack = require_stack(ctx)
    rds = ctx.client("rds")
    live_id = instance_id(stack, env)
    try:
        snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier=opts.snapshot)["DBSnapshots"][0]
    except Exception as e:
        if error_code(e) in ("DBSnapshotNotFound", "DBSnapshotNotFoundFault"):
            raise UserError(f"snapshot {opts.snapshot[:80]!r} does not exist; `invoke db-snapshots --env {env.name}` "
                            "lists them") from None
        raise
    if snapshot.get("Status") != "available":
        raise UserError(f"snapshot {opts.snapshot} is {snapshot.get('Status')}; wait until it is available")
    live = rds.describe_db_instances(DBInstanceIdentifier=live_id)["DBInstances"][0]
    new_id = f"{env.project}-{env.name}-restored-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(ctx.wall()))}"
    console.line(f"restore {opts.snapshot} into a NEW instance {new_id} ({live['DBInstanceClass']}, beside "
                 f"{live_id}, which is not touched); it is billed like the live one until you delete it")
    refused = ctx.confirmed(f"create {new_id}?", opts.yes)
    if refused:
        return result_of(refused)
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=new_id,
        DBSnapshotIdentifier=opts.snapshot,
        DBInstanceClass=live["DBInstanceClass"],
        DBSubnetGroupName=live.get("DBSubnetGroup", {}).get("DBSubnetGroupName", ""),
        VpcSecurityGroupIds=[g["VpcSecurityGroupId"] for g in live.get("VpcSecurityGroups", [])],
        PubliclyAccessible=False,
        MultiAZ=False,
        DeletionProtection=False,
        Tags=[{"Key": "CreatedBy", "Value": "portyfoul-infra"}, {"Key": "RestoredFrom", "Value": opts.snapshot}],
    )
    ctx.record(f"started restoring {opts.snapshot} into the new instance {new_id}",
                   f"`aws rds delete-db-instance --db-instance-identifier {new_id}` when done with it")
    console.ok(f"restoring {opts.snapshot} into a NEW instance {new_id}; {live_id} is untouched")
    console.line(f"  it becomes available in about 10-20 minutes: `aws rds wait db-instance-available "
                 f"--db-instance-identifier {new_id}`")
    console.line("  it sits in the same private subnets and security group, so the services' tasks can reach it:")
    console.line(f"  - compare or copy data: `invoke run --env {env.name} -- sh -c 'pg_dump -h <{new_id} endpoint> "
                 "... | psql ...'` (the task has the database credentials)")
    console.line("  - make it the environment's database: see docs/operations.md, \"Restoring the database\"")
    console.line(f"  - it costs like the live instance until deleted: `aws rds delete-db-instance "
                 f"--db-instance-identifier {new_id} --skip-final-snapshot`")
    return Result(Outcome.APPLIED)
