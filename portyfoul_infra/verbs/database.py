"""db-snapshot, db-snapshots, db-restore: the database's safety net, never touching the live instance.

A snapshot is named with the environment, the time and the tag that runs, so
a restore can be matched to a release. A restore always creates a *new*
instance beside the live one; moving data back, or making it the
environment's database, is a deliberate step the output spells out.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Callable

from .. import contract as out
from ..aws.clients import ClientSource, collect, print_header
from ..context import Clock, Sleep
from ..errors import error_code
from ..config import Environment
from ..console import Console, elapsed
from ..contract import SERVICES, image_tag, service_names
from ..errors import UserError
from ..options import RestoreOptions, SnapshotOptions
from ..outcomes import JOURNAL, Outcome
from ..aws.stacks import StackInfo, require_stack

Wall = Callable[[], float]


def instance_id(stack: StackInfo, env: Environment) -> str:
    """The RDS instance of the environment: the stack output, or the plan's name on a stack not yet converged."""
    return stack.outputs.get(out.DATABASE_INSTANCE_ID) or f"{env.project}-{env.name}-postgres"


def running_tag(aws: ClientSource, stack: StackInfo) -> str:
    """The image tag the web service runs, for the snapshot's name ("" when there is none yet)."""
    cluster = stack.outputs.get(out.CLUSTER_NAME)
    name = service_names(stack.outputs).get("web")
    if not cluster or not name:
        return ""
    ecs = aws.client("ecs")
    services = ecs.describe_services(cluster=cluster, services=[name]).get("services", [])
    if not services:
        return ""
    td = ecs.describe_task_definition(taskDefinition=services[0]["taskDefinition"])["taskDefinition"]
    image = next((c["image"] for c in td["containerDefinitions"] if c["name"] == SERVICES["web"].container), "")
    return image_tag(image) if image else ""


def snapshot_name(env: Environment, tag: str, wall: Wall = time.time) -> str:
    """`portyfoul-dev-20261126-010203-1a2b3c4d`: letters, digits and single hyphens, as RDS requires."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(wall()))
    safe_tag = re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9]", "-", tag)).strip("-").lower()[:40]
    return "-".join(part for part in (env.project, env.name, stamp, safe_tag) if part)


def take_snapshot(aws: ClientSource, env: Environment, stack: StackInfo, console: Console, clock: Clock,
                  sleep: Sleep, timeout: float, poll: float, wall: Wall = time.time) -> str | None:
    """Create a manual snapshot and wait until it is available; its ID, or None if it did not get there."""
    rds = aws.client("rds")
    db = instance_id(stack, env)
    name = snapshot_name(env, running_tag(aws, stack), wall)
    console.line(f"snapshot of {db}: {name}")
    rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier=db,
                           Tags=[{"Key": "CreatedBy", "Value": "portyfoul-infra"}])
    JOURNAL.record(f"started the database snapshot {name}", f"`invoke db-snapshots --env {env.name}`")
    start = clock()
    status = ""
    while True:
        snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0]
        if snapshot.get("Status") != status:
            status = snapshot.get("Status", "?")
            console.line(f"{elapsed(clock() - start):>6}  snapshot {status}"
                         + (f" ({snapshot.get('PercentProgress', 0)}%)" if status == "creating" else ""), "dim")
        if status == "available":
            return name
        if status in ("failed", "error", "deleted") or clock() - start > timeout:
            return None
        sleep(poll)


def db_snapshot(aws: ClientSource, env: Environment, console: Console, opts: SnapshotOptions, clock: Clock,
                sleep: Sleep) -> Outcome:
    print_header(aws, env, console)
    stack = require_stack(aws.client("cloudformation"), env.stack_name, env.name)
    name = take_snapshot(aws, env, stack, console, clock, sleep, opts.timeout, opts.poll_seconds)
    if name is None:
        console.error(f"the snapshot did not become available within {opts.timeout}s; RDS carries on: "
                      f"`invoke db-snapshots --env {env.name}`")
        return Outcome.NEEDS_HUMAN
    console.ok(f"snapshot {name} is available; restore it with `invoke db-restore --snapshot {name} --env {env.name}`")
    return Outcome.APPLIED


def db_snapshots(aws: ClientSource, env: Environment, console: Console, now: Wall = time.time) -> Outcome:
    print_header(aws, env, console)
    stack = require_stack(aws.client("cloudformation"), env.stack_name, env.name)
    db = instance_id(stack, env)
    rds = aws.client("rds")
    snapshots = collect(rds.describe_db_snapshots, "DBSnapshots", "Marker", DBInstanceIdentifier=db)
    if not snapshots:
        console.line(f"{db} has no snapshots yet; `invoke db-snapshot --env {env.name}` takes one")
        return Outcome.NO_CHANGES
    current = datetime.fromtimestamp(now(), tz=timezone.utc)
    rows = []
    for s in sorted(snapshots, key=lambda s: s.get("SnapshotCreateTime") or current, reverse=True):
        created = s.get("SnapshotCreateTime")
        age = _age(current - created) if isinstance(created, datetime) else "?"
        rows.append((s["DBSnapshotIdentifier"], s.get("SnapshotType", "?"),
                     created.strftime("%Y-%m-%d %H:%M") if isinstance(created, datetime) else "?", age,
                     f"{s.get('AllocatedStorage', '?')} GB", s.get("Status", "?")))
    console.table(("snapshot", "type", "created (UTC)", "age", "size", "status"), rows)
    return Outcome.NO_CHANGES


def _age(delta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h {int(delta.total_seconds() % 3600 // 60)}m"


def db_restore(aws: ClientSource, env: Environment, console: Console, opts: RestoreOptions,
               wall: Wall = time.time) -> Outcome:
    print_header(aws, env, console)
    stack = require_stack(aws.client("cloudformation"), env.stack_name, env.name)
    rds = aws.client("rds")
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
    new_id = f"{env.project}-{env.name}-restored-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(wall()))}"
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
    JOURNAL.record(f"started restoring {opts.snapshot} into the new instance {new_id}",
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
    return Outcome.APPLIED
