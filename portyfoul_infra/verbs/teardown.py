"""stack-delete: tear an environment down, saying first what is deleted and what stays.

What stays is what the template retains (DeletionPolicy Retain: secrets, the
image repository, log groups, the access log bucket); the database leaves a
final snapshot (DeletionPolicy Snapshot). Termination protection is lifted
for this one deletion and put back if the deletion fails. The stack's name
must be typed (or given with --confirm NAME, or skipped with --yes), and
production needs --allow-production.
"""

from __future__ import annotations

from ..aws.clients import collect, print_header
from ..aws.lock import deployment
from ..aws.services import read_services
from ..aws.stacks import EventStream, deployed_template, report_failure, require_stack, watch
from ..context import Ctx
from ..errors import UserError
from ..options import DeleteOptions
from ..outcomes import Outcome


def stack_delete(ctx: Ctx, opts: DeleteOptions) -> Outcome:
    env = ctx.env
    if env.production and not opts.allow_production:
        raise UserError(f"environment {env.name} is production: deleting it needs --allow-production as well")
    if opts.confirm and opts.confirm != env.stack_name:
        raise UserError(f"--confirm {opts.confirm[:60]!r} does not name this environment's stack ({env.stack_name})")
    print_header(ctx)
    with deployment(ctx, "stack-delete", opts.timeout, settle_history=False):
        return _delete(ctx, opts)


def _delete(ctx: Ctx, opts: DeleteOptions) -> Outcome:
    env, console = ctx.env, ctx.console
    cfn = ctx.client("cloudformation")
    stack = require_stack(ctx)
    if stack.in_progress:
        raise UserError(f"stack {env.stack_name} is {stack.status}: wait for it (`invoke stack-status`)")
    busy = [f"{s.name} ({s.busy})" for s in read_services(ctx, stack=stack) if s.busy]
    if busy:
        raise UserError(f"a deployment is in progress on {', '.join(busy)}: wait for it (`invoke release-status "
                        f"--env {env.name}`) before deleting {env.stack_name}; nothing changed")
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
                for r in collect(cfn.list_stack_resources, "StackResourceSummaries", StackName=stack.stack_id)}
    # Resources whose condition left them out of this stack are not there to delete or keep.
    resources = {lid: r for lid, r in deployed_template(cfn, stack.stack_id).get("Resources", {}).items()
                 if lid in physical or "Condition" not in r}
    kept = sorted((lid, r["Type"]) for lid, r in resources.items() if r.get("DeletionPolicy") == "Retain")
    snapshotted = sorted((lid, r["Type"]) for lid, r in resources.items() if r.get("DeletionPolicy") == "Snapshot")
    deleted = sorted((lid, r["Type"]) for lid, r in resources.items()
                     if r.get("DeletionPolicy") not in ("Retain", "Snapshot"))
    console.heading(f"stays (retained, outside any stack afterwards): {len(kept)}")
    console.table(("resource", "type", "physical id"), [(lid, t, physical.get(lid, "")) for lid, t in kept])
    console.heading(f"final snapshot, then deleted: {len(snapshotted)}")
    for lid, t in snapshotted:
        console.line(f"  {lid} ({t}) {physical.get(lid, '')}")
    console.heading(f"deleted: {len(deleted)}")
    console.line("  " + ", ".join(lid for lid, _ in deleted))

    if not opts.confirm and not opts.yes:
        if ctx.prompt is None:
            raise UserError(f"there is no terminal to type the stack's name on: rerun with --confirm {env.stack_name} "
                            "or --yes; nothing changed")
        if not ctx.prompt.confirm_typed(f"type the stack's name ({env.stack_name}) to delete it:", env.stack_name):
            console.line("not confirmed; nothing changed")
            return Outcome.REFUSED

    protected = stack.termination_protection
    if protected:
        cfn.update_termination_protection(StackName=stack.stack_id, EnableTerminationProtection=False)
        ctx.record(f"lifted termination protection on {env.stack_name}",
                       f"`invoke stack-status --env {env.name}`")
        console.line("termination protection lifted for this deletion")
    stream = EventStream(cfn, stack.stack_id)
    stream.mark()
    try:
        cfn.delete_stack(StackName=stack.stack_id)
        ctx.record(f"started deleting {env.stack_name}", f"`invoke stack-status --env {env.name}`")
        result = watch(ctx, stack.stack_id, stream, opts.timeout)
    except KeyboardInterrupt:
        console.warn("interrupted: CloudFormation carries on deleting; follow it with `invoke stack-status`")
        return Outcome.NEEDS_HUMAN
    if result.status == "DELETE_COMPLETE":
        console.ok(f"deleted {env.stack_name}; kept: " + (", ".join(
            f"{lid} {physical.get(lid, '')}".strip() for lid, _ in kept) or "nothing"))
        if snapshotted:
            console.line("the database's final snapshot is listed by `aws rds describe-db-snapshots`")
        return Outcome.APPLIED
    report_failure(console, result, env.stack_name)
    if result.timed_out:
        console.error(f"still {result.status} after {opts.timeout}s; CloudFormation carries on (`invoke stack-status`)")
        return Outcome.NEEDS_HUMAN
    if protected:
        cfn.update_termination_protection(StackName=stack.stack_id, EnableTerminationProtection=True)
        console.line("termination protection is back on")
    console.line("a resource that cannot be deleted (one changed or in use outside the stack) keeps the stack in "
                 "DELETE_FAILED: remove what holds it (see the root cause), then run stack-delete again")
    return Outcome.NEEDS_HUMAN
