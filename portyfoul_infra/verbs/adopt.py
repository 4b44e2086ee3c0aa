"""adopt: take over a live stack built by hand, in two steps planned together before anything changes.

Step one (this verb) renames the live stack's logical IDs to ours with a stack refactor, and imports our
resources that were made by hand outside the stack. Step two is the converging `stack-update`. Both are planned
here first, from AWS, read-only: what the update will create, change in place, keep as the live stack has it
(where ours would replace, re-value, interrupt or change the behaviour of a live resource), carry (live-only
resources, exports), and what it would replace or delete. While the guards find anything the operator has not
named, nothing is renamed. See aws/adoption.py (matching, the plan) and aws/convergence.py (what is kept).
"""

from __future__ import annotations

import json

from ..artifacts.generated import ensure_fresh
from ..aws.adoption import (
    NO_RESOURCES,
    HandMade,
    LiveStack,
    Takeover,
    create_refactor,
    import_hand_made,
    import_into_new_stack,
    left_behind,
    live_stack_of,
    plan_takeover,
    read_live_stack,
    refactor_actions,
    wait_refactor,
)
from ..aws.clients import print_header
from ..aws.guards import MASKED, unknown_allowances
from ..aws.lock import deployment
from ..aws.stacks import StackInfo, describe_stack, outcome_of, report_failure, watch
from ..console import shorten
from ..context import Ctx
from ..errors import UserError
from ..options import AdoptOptions
from ..outcomes import Outcome, Result, result_of

CREATE_DONE = ("CREATE_COMPLETE", "CREATE_FAILED")
EXECUTE_DONE = ("EXECUTE_COMPLETE", "EXECUTE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "OBSOLETE")
OLD_RUNBOOK = ("from now on, never update this stack with infra/main.yaml or `aws cloudformation update-stack`: "
               "that template has the old logical IDs, and its change set would remove every resource and create "
               "new, empty ones. Every change goes through `invoke stack-update`")


def adopt(ctx: Ctx, opts: AdoptOptions) -> Result:
    env, console = ctx.env, ctx.console
    overrides = opts.overrides()
    report = ensure_fresh(ctx.generated)
    account = print_header(ctx)
    cfn = ctx.client("cloudformation")
    stack = describe_stack(cfn, env.stack_name)
    if stack is None or stack.status in NO_RESOURCES:
        return result_of(_adopt_left_behind(ctx, opts, stack, json.loads(report.deploy_body), overrides, account))
    live = live_stack_of(cfn, env, stack)
    if live.adopted_by_us:
        console.ok(f"{env.stack_name} is already ours: it runs this tool's template (nothing to adopt); "
                   f"`invoke stack-diff --env {env.name}` shows what stack-update would change")
        return Result(Outcome.NO_CHANGES)
    if live.policy:
        raise UserError(
            f"stack {env.stack_name} has a stack policy attached, and CloudFormation cannot refactor such a "
            "stack; adopt it by hand instead (docs/operations.md, \"Adopting by hand\")")
    with deployment(ctx, "adopt", opts.timeout, settle_history=False):
        return result_of(_adopt(ctx, opts, live, json.loads(report.deploy_body), overrides, account))


def _adopt(ctx: Ctx, opts: AdoptOptions, live: LiveStack, ours: dict, overrides: dict[str, str],
           account: str) -> Outcome:
    env, console, cfn = ctx.env, ctx.console, ctx.client("cloudformation")
    takeover = plan_takeover(ctx, live, ours, overrides, account, opts.allow_replace, opts.allow_interruption)
    unknown = unknown_allowances(takeover.predicted, opts.allow_replace, opts.allow_interruption)
    if unknown:
        raise UserError(f"{', '.join(unknown)}: the converging update it plans would not replace, remove or "
                        "interrupt that (a typo?); nothing was renamed")
    render_takeover(ctx, takeover)
    if takeover.verdict.blocked:
        for f in takeover.verdict.blocked:
            console.error(f.describe())
        flags = sorted({f"--allow-{'replace' if f.guard == 'data' else 'interruption'} {f.logical_id}"
                        for f in takeover.verdict.blocked})
        console.line(f"refusing: the converging stack-update would do the above to live resources nobody named; "
                     f"nothing was renamed. If that is intended: `invoke adopt --env {env.name} {' '.join(flags)}`")
        return Outcome.REFUSED
    if not takeover.renames and not takeover.imports:
        console.ok(f"{env.stack_name} is already adopted: its resources are under our logical IDs; next: "
                   f"`invoke stack-diff --env {env.name}`, then `invoke stack-update --env {env.name}`")
        return Outcome.NO_CHANGES
    steps = [f"rename {len(takeover.renames)} logical ID(s)"] if takeover.renames else []
    steps += [f"import {len(takeover.imports)} hand-made resource(s)"] if takeover.imports else []
    refused = ctx.confirmed(f"{' and '.join(steps)} in {env.stack_name} (no resource is changed)?", opts.yes)
    if refused:
        return refused
    if takeover.renames:
        outcome = _refactor(ctx, live, takeover, opts)
        if outcome is not Outcome.APPLIED:
            return outcome
    if takeover.imports:
        outcome = _import(ctx, read_live_stack(cfn, env), takeover, opts)
        if outcome is not Outcome.APPLIED:
            return outcome
    console.ok(f"adopted: {env.stack_name}'s resources are under our logical IDs; no resource was replaced or "
               "modified")
    console.warn(OLD_RUNBOOK)
    console.line(f"next: `invoke stack-diff --env {env.name}` to review the converging update above, then "
                 f"`invoke stack-update --env {env.name}`")
    return Outcome.APPLIED


def _adopt_left_behind(ctx: Ctx, opts: AdoptOptions, stack: StackInfo | None, ours: dict,
                       overrides: dict[str, str], account: str) -> Outcome:
    """No stack holds anything, but resources of ours exist under the names it would create (a deleted stack
    kept them): create the stack around them with a resource import, values untouched; stack-update then creates
    the rest. The empty stack a failed creation left (ROLLBACK_COMPLETE) is deleted first."""
    env, console = ctx.env, ctx.console
    if overrides:
        raise UserError(f"--map renames a live stack's logical IDs, and {env.stack_name} holds no resources to "
                        "rename: drop --map")
    found = left_behind(ctx, ours, account)
    if not found:
        raise UserError(f"stack {env.stack_name} does not exist: nothing to adopt; `invoke stack-update --env "
                        f"{env.name}` creates it")
    console.heading(f"{env.stack_name} holds no resources, but {len(found)} of ours exist under the names it would "
                    "create (kept by a deleted stack, or made by hand): a new stack is created around them, their "
                    "values untouched (a resource import)")
    console.table(("ours", "type", "name"), [(h.logical_id, h.resource_type, h.name) for h in found])
    if stack is not None and stack.status == "ROLLBACK_COMPLETE":
        console.line(f"  first the empty stack its failed creation left ({stack.status}) is deleted")
    console.heading(f"step 2, `invoke stack-update --env {env.name}`: creates the rest of the stack; the values of "
                    "these stay as they are")
    with deployment(ctx, "adopt", opts.timeout, settle_history=False):
        refused = ctx.confirmed(f"create {env.stack_name} around {len(found)} existing resource(s) (no resource is "
                                "changed)?", opts.yes)
        if refused:
            return refused
        if stack is not None and stack.status == "ROLLBACK_COMPLETE":
            _delete_empty(ctx, stack, opts)
        return _import_left_behind(ctx, found, ours, opts)


def _delete_empty(ctx: Ctx, stack: StackInfo, opts: AdoptOptions) -> None:
    from ..aws.stacks import EventStream

    cfn = ctx.client("cloudformation")
    stream = EventStream(cfn, stack.stack_id)
    stream.mark()
    cfn.delete_stack(StackName=stack.stack_id)
    ctx.record(f"deleted the empty stack {stack.name} a failed creation left", f"`invoke adopt --env {ctx.env.name}`")
    result = watch(ctx, stack.stack_id, stream, opts.timeout)
    if result.status != "DELETE_COMPLETE":
        report_failure(ctx.console, result, stack.name)
        raise UserError(f"the empty stack {stack.name} could not be deleted ({result.status})")


def _import_left_behind(ctx: Ctx, found: list[HandMade], ours: dict, opts: AdoptOptions) -> Outcome:
    env, console = ctx.env, ctx.console
    result = import_into_new_stack(ctx, found, ours, opts.timeout)
    outcome = outcome_of(result.status)
    if outcome is not Outcome.APPLIED:
        report_failure(console, result, env.stack_name)
        return outcome if outcome is Outcome.ROLLED_BACK else Outcome.NEEDS_HUMAN
    console.ok(f"created {env.stack_name} around {len(found)} existing resource(s), their values untouched")
    console.line(f"next: `invoke stack-update --env {env.name}` creates the rest")
    return Outcome.APPLIED


def _refactor(ctx: Ctx, live: LiveStack, takeover: Takeover, opts: AdoptOptions) -> Outcome:
    env, console, cfn = ctx.env, ctx.console, ctx.client("cloudformation")
    refactor_id = create_refactor(cfn, live, takeover.renames,
                                  f"portyfoul-infra adopt: {len(takeover.renames)} logical IDs renamed")
    console.line(f"stack refactor {refactor_id}")
    created = wait_refactor(ctx, refactor_id, "Status", CREATE_DONE, opts.timeout)
    if created.get("Status") != "CREATE_COMPLETE":
        console.error(f"CloudFormation rejected the refactor: {created.get('StatusReason') or created.get('Status')}")
        console.line(f"nothing changed: {env.stack_name} keeps its logical IDs")
        return Outcome.REFUSED
    actions = refactor_actions(cfn, refactor_id)
    console.table(("action", "from", "to", "physical id"), [
        (a.get("Action", ""), a.get("ResourceMapping", {}).get("Source", {}).get("LogicalResourceId", ""),
         a.get("ResourceMapping", {}).get("Destination", {}).get("LogicalResourceId", ""),
         a.get("PhysicalResourceId", "")) for a in actions])
    cfn.execute_stack_refactor(StackRefactorId=refactor_id)
    ctx.record(f"asked CloudFormation to execute the stack refactor {refactor_id}",
               f"`invoke adopt --env {env.name}` again: it shows what is renamed and continues")
    try:
        done = wait_refactor(ctx, refactor_id, "ExecutionStatus", EXECUTE_DONE, opts.timeout)
    except KeyboardInterrupt:
        console.warn(f"interrupted: the refactor {refactor_id} carries on in CloudFormation; "
                     f"run `invoke adopt --env {env.name}` again to see where it stands")
        return Outcome.NEEDS_HUMAN
    status = done.get("ExecutionStatus")
    if status == "EXECUTE_COMPLETE":
        console.ok(f"renamed {len(takeover.renames)} logical IDs of {env.stack_name}")
        return Outcome.APPLIED
    reason = done.get("ExecutionStatusReason") or done.get("StatusReason") or ""
    if status == "TIMED_OUT":
        console.error(f"the refactor is still running after {opts.timeout}s; CloudFormation carries on")
        console.line(f"next: `invoke adopt --env {env.name}` again in a while: it shows what is renamed")
        return Outcome.NEEDS_HUMAN
    if status in ("EXECUTE_FAILED", "ROLLBACK_COMPLETE"):
        console.error(f"the refactor failed and CloudFormation rolled it back ({status}): {reason}")
        console.line(f"{env.stack_name} is on its old logical IDs; fix the cause and run adopt again")
        return Outcome.ROLLED_BACK
    console.error(f"the refactor ended {status}: {reason}")
    console.line(f"needs a human: compare `aws cloudformation list-stack-resources --stack-name {env.stack_name}` "
                 f"with the plan above; `invoke adopt --env {env.name}` again shows what is left")
    return Outcome.NEEDS_HUMAN


def _import(ctx: Ctx, live: LiveStack, takeover: Takeover, opts: AdoptOptions) -> Outcome:
    console = ctx.console
    console.line("importing: " + ", ".join(f"{h.logical_id} ({h.name})" for h in takeover.imports))
    result = import_hand_made(ctx, live, takeover.imports, opts.timeout)
    outcome = outcome_of(result.status)
    if outcome is Outcome.APPLIED:
        console.ok(f"imported {len(takeover.imports)} resource(s) as they are")
        return outcome
    report_failure(console, result, ctx.env.stack_name)
    if result.timed_out:
        return Outcome.NEEDS_HUMAN
    # The refactor stands; the import rolled back: the stack is renamed, the hand-made resources still outside.
    console.line(f"the renames stand; the import did not. `invoke adopt --env {ctx.env.name}` again retries it")
    return Outcome.NEEDS_HUMAN


# ---------------------------------------------------------------- the plan, printed

def render_takeover(ctx: Ctx, t: Takeover) -> None:
    console, env = ctx.console, ctx.env
    c = t.convergence
    console.heading(f"step 1, adopt: rename {len(t.renames)} logical ID(s); the resources themselves stay as they are")
    if t.renames:
        console.table(("live", "ours", "physical id"),
                      [(old, new, t.live.physical_ids.get(old, "")) for old, new in t.renames.items()])
    if t.unchanged:
        console.line(f"  already under our logical IDs ({len(t.unchanged)}): {', '.join(t.unchanged)}")
    if t.imports:
        console.line(f"  and import {len(t.imports)} of ours made by hand outside the stack, values untouched "
                     "(a resource import): " + ", ".join(f"{h.logical_id} ({h.name})" for h in t.imports))
    console.heading(f"step 2, `invoke stack-update --env {env.name}`: the converging update, planned now")
    creates = [(lid, kind) for lid, kind in c.creates if lid not in {h.logical_id for h in t.imports}]
    console.line(f"  creates ({len(creates)}): " + (", ".join(lid for lid, _ in creates) or "nothing"))
    applied = [d for d in c.differences if not d.kept]
    console.line(f"  in-place changes ({len(applied)}):" + ("" if applied else " none"))
    for d in applied:
        console.line(f"    {d.name}: {_value(d, d.live)} -> {_value(d, d.ours)}")
    interrupting = [f for f in t.verdict.blocked + t.verdict.allowed if f.guard == "interruption"]
    console.line(f"  interruptions and behaviour changes ({len(interrupting)}):" + ("" if interrupting else " none"))
    for f in interrupting:
        console.line(f"    {f.describe()}")
    lost = [f for f in t.verdict.blocked + t.verdict.allowed if f.guard == "data"]
    console.line(f"  replacements and deletions ({len(lost)}):" + ("" if lost else " none"))
    for f in lost:
        console.line(f"    {f.describe()}")
    kept = [d for d in c.differences if d.kept]
    if kept or c.kept_resources or c.withheld:
        console.heading(f"kept as the live stack has them ({len(kept) + len(c.kept_resources) + len(c.withheld)}), where ours would "
                        "replace, re-value, interrupt or change the behaviour of a live resource")
        for d in kept:
            console.line(f"  {d.name}: stays {_value(d, d.live)} (ours: {_value(d, d.ours)}); {d.why_kept}")
        for lid in c.kept_resources:
            console.line(f"  {lid} ({t.update.body['Resources'][lid]['Type']}): only in the live stack, carried as "
                         "it is (never deleted unless named)")
        for lid in c.withheld:
            console.line(f"  {lid}: ours, not created yet: creating it would write into a live secret's value")
        console.line(f"  each can be given up later on its own: `invoke stack-diff --env {env.name} --converge "
                     "NAME` says what it does, `invoke stack-update --converge NAME` does it")
    if t.exports:
        console.heading(f"exports ({len(t.exports)}): carried, same names, values from our resources")
        for e in t.exports:
            console.line(f"  {e.name} (output {e.output}): imported by "
                         + (", ".join(e.importers) if e.importers else "no stack"))
    theirs = {k: v for k, v in t.live.info.tags.items() if k not in env.stack_tags}
    if theirs:
        console.line(f"  the stack's own tags stay as they are ({', '.join(sorted(theirs))}), beside ours "
                     f"({', '.join(sorted(env.stack_tags))})")
    console.line("  then termination protection on, and the stack policy that protects the database")


def _value(d, value) -> str:
    """A value from one template, for people: masked where it may be a secret."""
    if value is None:
        return "(not set)"
    if (d.resource_type, d.prop) in MASKED:
        return "(secret)" if d.resource_type != "AWS::SSM::Parameter" else "(value)"
    return shorten(value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":")), 50)

