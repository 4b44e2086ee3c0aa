"""adopt: take over a live stack built by hand, renaming its logical IDs to ours in place.

The steps: read the live stack, match every resource by physical identity,
print the whole plan, confirm, run a CloudFormation stack refactor, watch it.
Nothing changes before the confirmation; a refactor that CloudFormation
rejects changes nothing either. See adoption.py for how resources are matched.
"""

from __future__ import annotations

import json

from ..artifacts.generated import ensure_fresh
from ..aws.adoption import (
    AdoptionPlan,
    LiveStack,
    Side,
    create_refactor,
    match,
    plan,
    read_live_stack,
    refactor_actions,
    wait_refactor,
)
from ..aws.clients import print_header
from ..cfn_template import Resolver
from ..console import shorten
from ..context import Ctx
from ..contract import STATEFUL_TYPES, parameter_values
from ..errors import UserError, error_code
from ..options import AdoptOptions
from ..outcomes import Outcome

CREATE_DONE = ("CREATE_COMPLETE", "CREATE_FAILED")
EXECUTE_DONE = ("EXECUTE_COMPLETE", "EXECUTE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "OBSOLETE")


def adopt(ctx: Ctx, opts: AdoptOptions) -> Outcome:
    env, console = ctx.env, ctx.console
    overrides = opts.overrides()
    report = ensure_fresh()
    account = print_header(ctx)
    cfn = ctx.client("cloudformation")
    live = read_live_stack(cfn, env)
    if live.policy:
        raise UserError(
            f"stack {env.stack_name} has a stack policy attached, and CloudFormation cannot refactor such a "
            "stack; adopt it by hand instead (docs/operations.md, \"Adopting by hand\")")
    pseudo = {"AWS::AccountId": account, "AWS::Region": env.region, "AWS::StackName": env.stack_name,
              "AWS::StackId": live.info.stack_id, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
    ours_template = json.loads(report.deploy_body)
    ours = Side("ours", ours_template, Resolver(ours_template, parameter_values(env), pseudo))
    theirs = Side("live", live.template, Resolver(live.template, live.info.parameters, pseudo),
                  live.physical_ids, facts=_ec2_facts(ctx.client("ec2")))
    mapping = match(theirs, ours, overrides)
    the_plan = plan(theirs, ours, mapping, env.region)
    if the_plan.already_adopted:
        console.ok(f"{env.stack_name} is already adopted: {len(the_plan.unchanged)} resources are under our logical "
                   f"IDs, {len(the_plan.live_only)} only in the live stack, {len(the_plan.ours_only)} still to create; "
                   f"`invoke stack-diff --env {env.name}` shows what stack-update would change")
        return Outcome.NO_CHANGES
    render_plan(ctx, the_plan)

    refused = ctx.confirmed(
        f"rename {len(the_plan.renames)} logical ID(s) in {env.stack_name} (no resource is touched)?", opts.yes)
    if refused:
        return refused
    return _refactor(ctx, live, the_plan, opts)


def _refactor(ctx: Ctx, live: LiveStack, the_plan: AdoptionPlan, opts: AdoptOptions) -> Outcome:
    env, console, cfn = ctx.env, ctx.console, ctx.client("cloudformation")
    refactor_id = create_refactor(cfn, live, the_plan.renames,
                                  f"portyfoul-infra adopt: {len(the_plan.renames)} logical IDs renamed")
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
        console.ok(f"adopted: {len(the_plan.renames)} resources of {env.stack_name} are under our logical IDs; "
                   "no resource was replaced or modified")
        console.line(f"next: `invoke stack-diff --env {env.name}` to review the convergence, then "
                     f"`invoke stack-update --env {env.name}`")
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


def _ec2_facts(ec2):
    """The CIDR block of a live VPC or subnet, from describing it (the truth, not the template)."""
    def facts(resource_type: str, logical_id: str, physical_id: str) -> str | None:
        try:
            if resource_type == "AWS::EC2::VPC":
                return ec2.describe_vpcs(VpcIds=[physical_id])["Vpcs"][0]["CidrBlock"]
            return ec2.describe_subnets(SubnetIds=[physical_id])["Subnets"][0]["CidrBlock"]
        except Exception as e:
            if error_code(e).startswith("Invalid") or isinstance(e, (IndexError, KeyError)):
                return None
            raise
    return facts


# ---------------------------------------------------------------- the plan, printed

def render_plan(ctx: Ctx, p: AdoptionPlan) -> None:
    console = ctx.console
    console.heading(f"renames ({len(p.renames)}): live logical ID -> ours; the resources themselves stay as they are")
    if p.renames:
        console.table(("live", "ours", "physical id"),
                      [(old, new, p.physical_ids.get(old, "")) for old, new in p.renames.items()])
    if p.unchanged:
        console.line(f"already under our logical IDs ({len(p.unchanged)}): {', '.join(p.unchanged)}")
    if p.live_only:
        console.heading(f"only in the live stack ({len(p.live_only)}): the next stack-update removes them")
        for logical_id, t in p.live_only:
            flag = "  DATA: stateful; the data-loss guard refuses to remove it" if t in STATEFUL_TYPES else ""
            console.line(f"  {logical_id} ({t}){flag}")
    if p.ours_only:
        console.heading(f"only in ours ({len(p.ours_only)}): the next stack-update creates them")
        console.line("  " + ", ".join(logical_id for logical_id, _ in p.ours_only))
    if p.differences:
        console.heading(f"property differences the converging stack-update applies ({len(p.differences)})")
        rows = []
        for d in p.differences:
            live, ours = ("(set by hand)", "(ours)") if d.value else (shorten(d.live, 44), shorten(d.ours, 44))
            rows.append((d.logical_id, d.prop, live, ours, d.describe()))
        console.table(("resource", "property", "live", "ours", "flags"), rows)
    replaced = sorted({d.logical_id for d in p.differences if d.replaces})
    if replaced:
        console.warn(f"the converging stack-update would replace {', '.join(replaced)} (create-only properties "
                     "differ); for stateful ones the guard refuses it unless --allow-replace names them")
    overwritten = sorted({d.logical_id for d in p.differences if d.value and not d.pinned})
    if overwritten:
        console.warn(f"the values of {', '.join(overwritten)} cannot be pinned (their value properties refer to "
                     "other parts of the live template): the guard refuses to rewrite them")
    pinned = sorted({d.logical_id for d in p.differences if d.pinned})
    if pinned:
        console.line(f"values kept: {', '.join(pinned)} keep the value properties they were created with in every "
                     "stack-update (pinned), so no secret or parameter value is rewritten")
