"""stack-delete: tear an environment down, all of it or nothing, saying first what is deleted and what stays.

Before anything is deleted it asks AWS about everything the deletion would meet (aws/deletion.py): a deployment
running, deletion protection, a bucket or repository that is not empty, an export in use, a retained resource
that uses one the deletion removes. Anything that would stop CloudFormation part-way is refused up front (exit
2, nothing changed), naming the setting and how to change it: a partial delete (DELETE_FAILED with the rest
gone) is never started knowingly. Deletion protection is lowered only for the resources named with
`--lift-protection ID`, after the confirmation, and put back if the deletion fails.

What stays is what the template retains (DeletionPolicy Retain: secrets, the image repository, log groups, the
access log bucket); the database leaves a final snapshot (DeletionPolicy Snapshot). Termination protection is
lifted for this one deletion and put back if the deletion fails. The stack's name must be typed (or given with
--confirm NAME, or skipped with --yes), and production needs --allow-production.
"""

from __future__ import annotations

from ..aws.clients import collect, print_header
from ..aws.deletion import Protected, Survey, set_protection, still_there, survey
from ..aws.lock import deployment
from ..aws.services import read_services
from ..aws.stacks import EventStream, deployed_template, report_failure, require_stack, watch
from ..context import Ctx
from ..errors import UserError
from ..options import DeleteOptions
from ..outcomes import Outcome, Result, result_of


def stack_delete(ctx: Ctx, opts: DeleteOptions) -> Result:
    env = ctx.env
    if env.production and not opts.allow_production:
        raise UserError(f"environment {env.name} is production: deleting it needs --allow-production as well")
    if opts.confirm and opts.confirm != env.stack_name:
        raise UserError(f"--confirm {opts.confirm[:60]!r} does not name this environment's stack ({env.stack_name})")
    print_header(ctx)
    with deployment(ctx, "stack-delete", opts.timeout, settle_history=False):
        return result_of(_delete(ctx, opts))


def command_line(ctx: Ctx, opts: DeleteOptions, lift: list[str]) -> str:
    """This stack-delete as the operator ran it, with exactly `lift` to lower."""
    return (f"invoke stack-delete --env {ctx.env.name}" + (" --allow-production" if opts.allow_production else "")
            + (f" --confirm {opts.confirm}" if opts.confirm else "") + (" --yes" if opts.yes else "")
            + "".join(f" --lift-protection {lid}" for lid in lift))


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
    lifting = _checked(ctx, opts, survey(ctx, stack, resources, physical))
    kept, snapshotted = _show(ctx, resources, physical, lifting)

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
    lifted: list[Protected] = []
    for p in lifting:
        done = set_protection(ctx, p, False, opts.timeout)
        lifted.append(p)
        ctx.record(f"lowered the deletion protection of {p.label}",
                   f"`{command_line(ctx, opts, [q.logical_id for q in lifting])}` again")
        if not done:
            console.error(f"{p.label}: deletion protection still not off after {opts.timeout}s; nothing was deleted")
            _put_back(ctx, lifted, protected, stack.stack_id)
            return Outcome.ROLLED_BACK
        console.line(f"deletion protection lowered on {p.label}")
    stream = EventStream(cfn, stack.stack_id)
    stream.mark()
    try:
        cfn.delete_stack(StackName=stack.stack_id)
        ctx.record(f"started deleting {env.stack_name}", f"`invoke stack-status --env {env.name}`")
        result = watch(ctx, stack.stack_id, stream, opts.timeout)
    except KeyboardInterrupt:
        console.warn("interrupted: CloudFormation carries on deleting; follow it with `invoke stack-status`"
                     + (f"; deletion protection stays off on {', '.join(p.label for p in lifted)}" if lifted else ""))
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
    _put_back(ctx, lifted, protected, stack.stack_id)
    console.line("a resource that cannot be deleted (one changed or in use outside the stack) keeps the stack in "
                 "DELETE_FAILED: remove what holds it (see the root cause), then run stack-delete again")
    return Outcome.NEEDS_HUMAN


def _show(ctx: Ctx, resources: dict[str, dict], physical: dict[str, str],
          lifting: list[Protected]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """What stays, what leaves a final snapshot, what is deleted, what is lowered; (kept, snapshotted)."""
    console = ctx.console
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
    if lifting:
        console.line("deletion protection to lower for this deletion (--lift-protection): "
                     + ", ".join(p.label for p in lifting))
    return kept, snapshotted


def _checked(ctx: Ctx, opts: DeleteOptions, found: Survey) -> list[Protected]:
    """The protected resources to lower (the ones named), or a refusal of everything that would stop the deletion
    part-way: one line, nothing changed."""
    env = ctx.env
    on = {p.logical_id: p for p in found.protected}
    unknown = [lid for lid in opts.lift_protection if lid not in on]
    if unknown:
        raise UserError(f"--lift-protection {', '.join(unknown)}: no resource of {env.stack_name} by that logical ID "
                        "has deletion protection on (on: " + (", ".join(on) or "none") + "); nothing changed")
    problems = list(found.problems)
    unnamed = [p for p in found.protected if p.logical_id not in opts.lift_protection]
    if unnamed:
        problems.append(
            f"deletion protection is on for {', '.join(p.label for p in unnamed)} (the stack parameter "
            f"DeletionProtection: deletion_protection of {env.name} in portyfoul_infra/config.py), and AWS refuses to "
            f"delete a protected resource. To lower it for this deletion only (the database still leaves its final "
            f"snapshot): `{command_line(ctx, opts, list(on))}`")
    if problems:
        raise UserError(f"deleting {env.stack_name} would stop part-way (DELETE_FAILED, the rest already deleted), so "
                        "nothing was deleted: " + "; ".join(problems))
    return [on[lid] for lid in opts.lift_protection]


def _put_back(ctx: Ctx, lifted: list[Protected], termination: bool, stack_id: str) -> None:
    """After a deletion that failed: the protections this command lowered, on what is still there."""
    console = ctx.console
    for p in lifted:
        if still_there(ctx, p):
            set_protection(ctx, p, True, 0)
            console.line(f"deletion protection is back on for {p.label}")
    if termination:
        ctx.client("cloudformation").update_termination_protection(StackName=stack_id,
                                                                  EnableTerminationProtection=True)
        console.line("termination protection is back on")
