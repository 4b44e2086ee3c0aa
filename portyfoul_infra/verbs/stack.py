"""stack-update, stack-diff and stack-status: plan the change set, show it, guard it, apply it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .. import __version__
from ..artifacts.generated import GeneratedReport, compare, ensure_fresh
from ..aws.adoption import NO_RESOURCES, left_behind, pending_renames
from ..aws.change_sets import (
    DIFF_PREFIX,
    UPDATE_PREFIX,
    ChangeSetPlan,
    ChangeSetRequest,
    create_change_set,
    delete_change_set,
    execute_change_set,
    pending_updates,
    stack_policy,
)
from ..aws.clients import json_document, print_header
from ..aws.convergence import kept_record
from ..aws.guards import (
    Verdict,
    change_documents,
    hide,
    judge,
    no_echo_properties,
    render_changes,
    unknown_allowances,
)
from ..aws.lock import deployment
from ..aws.stacks import (
    OK_STATES,
    StackInfo,
    deployed_template,
    describe_stack,
    metadata_of,
    outcome_of,
    report_failure,
)
from ..aws.updates import (
    UpdatePlan,
    change_set_type_for,
    check_exports,
    check_production_ready,
    plan_update,
    recover,
)
from ..console import Console, iso_time
from ..context import Ctx
from ..contract import ALARM_TOPIC_ARN, IMAGE_TAG, INLINE_TEMPLATE_LIMIT, POLICY_PROTECTED, WORKER_IMAGE_TAG
from ..errors import UserError
from ..options import DiffOptions, ReadOptions, UpdateOptions
from ..outcomes import Outcome, Result
from . import present

# The stack tag this tool puts on every stack it updates: a foreign template under it was put there by hand.
OURS_TAG = "TemplateHash"


@dataclass(frozen=True)
class StackRequest:
    """What stack-update and stack-diff plan from: the options they share."""
    converge: tuple[str, ...] = ()
    cfn_role: str = ""
    inline_limit: int = INLINE_TEMPLATE_LIMIT


@dataclass
class Prepared:
    """What update and diff start from: the account, then either an outcome (nothing to change) or the plan and
    its change set."""
    account: str
    outcome: Outcome | None = None
    update: UpdatePlan | None = None
    plan: ChangeSetPlan | None = None


def _start(ctx: Ctx) -> tuple[GeneratedReport, str]:
    """Shared by update and diff, before anything is read from the stack: ready, fresh, the right account."""
    env, console = ctx.env, ctx.console
    check_production_ready(env)
    report = ensure_fresh(ctx.generated)
    account = print_header(ctx)
    if not env.https:  # dev may stay on HTTP, as the plan runs it today; never silently
        console.warn(f"{env.name} serves HTTP only: logins and JWTs cross the internet in clear text. Set "
                     "certificate_arn, or domain_name and hosted_zone_id, to turn HTTPS on")
    if report.picture_changes:
        console.warn(f"the pictures in generated/ are stale ({', '.join(report.picture_changes)}): "
                     "`invoke build-template` redraws them; they are not deployed, so nothing waits for them")
    return report, account


def _recover(ctx: Ctx, opts: UpdateOptions, report: GeneratedReport,
             account: str) -> tuple[Outcome | None, StackInfo | None]:
    """stack-update's explicit steps before planning, each a change of its own: the recovery a flag names
    (deleting a creation that rolled back, continuing a failed rollback), and deleting the change sets a
    stack-update that is gone left behind. An outcome when the command ends there; the stack as it now is."""
    env, console = ctx.env, ctx.console
    cfn = ctx.client("cloudformation")
    stack = describe_stack(cfn, env.stack_name)
    if stack is None or stack.status in NO_RESOURCES:
        _refuse_over_left_behind(ctx, stack, json.loads(report.deploy_body), account)  # before a failed one goes
    recovered = recover(ctx, stack, opts.timeout, opts.delete_failed_create, opts.continue_rollback)
    if stack is not None and stack.status == "ROLLBACK_COMPLETE" and opts.delete_failed_create and recovered is None:
        return None, None   # deleted: created again from nothing
    if recovered is not None or stack is None or stack.status not in OK_STATES:
        return recovered, stack
    # Under the deploy lock no other stack-update runs: a change set of ours still here was left behind by a
    # process that is gone, and would otherwise stand in the way of every update after it.
    for other in pending_updates(cfn, stack.stack_id):
        cfn.delete_change_set(ChangeSetName=other["ChangeSetId"], StackName=stack.stack_id)
        console.warn(f"deleted the change set {other['ChangeSetName']} ({other.get('ExecutionStatus', '?')}, "
                     f"created {other.get('CreationTime', '?')}): a stack-update that is gone left it behind")
    return None, stack


def _prepare(ctx: Ctx, request: StackRequest, preview: bool, report: GeneratedReport, account: str,
             found: StackInfo | None) -> Prepared:
    """Shared by update and diff, read-only but for the change set it creates: from the stack as `found`, the
    parameters and body (plan_update), then a change set."""
    env, console = ctx.env, ctx.console
    cfn = ctx.client("cloudformation")
    ours = json.loads(report.deploy_body)
    if found is None or found.status in NO_RESOURCES:
        _refuse_over_left_behind(ctx, found, ours, account)
    change_set_type, stack = change_set_type_for(found)
    deployed = deployed_template(cfn, stack.stack_id) if stack is not None and change_set_type == "UPDATE" else {}
    if stack is not None and change_set_type == "UPDATE" and not metadata_of(deployed).get("ContentHash"):
        _require_adopted(ctx, stack, ours)  # before planning: a foreign template is adopted, not converged
    update = plan_update(ctx, stack, change_set_type, ours, request.converge, deployed=deployed)
    for note in update.notes:
        console.line(note)
    if update.foreign and stack is not None and stack.tags.get(OURS_TAG):
        console.warn(f"{env.stack_name} was last updated by this tool (template {stack.tags[OURS_TAG][:19]}), but "
                     "its template is not ours now: someone updated it by hand with another template (the old "
                     "runbook's `aws cloudformation update-stack` with infra/main.yaml?). Never do that again: its "
                     "logical IDs and values are the hand-written template's; `invoke adopt --env "
                     f"{env.name}` takes them over again")
    if update.up_to_date(report.content_hash):
        console.ok(f"no changes: the deployed template ({report.content_hash[:19]}) and parameters match generated/")
        _show_kept(ctx, update)
        return Prepared(account, Outcome.NO_CHANGES, update)
    if stack is not None and change_set_type == "UPDATE":
        for warning in check_exports(ctx, stack, update):
            console.warn(warning)
    console.line(f"{'creating' if change_set_type == 'CREATE' else 'updating'} {env.stack_name} "
                 f"(template {report.content_hash[:19]}, image tags web={update.parameters[IMAGE_TAG]} "
                 f"worker={update.parameters[WORKER_IMAGE_TAG]})")
    _show_kept(ctx, update)
    plan = create_change_set(ctx, _request(ctx, report, update, request, DIFF_PREFIX if preview else UPDATE_PREFIX))
    plan.foreign = update.foreign
    if plan.empty:
        delete_change_set(cfn, plan)
        console.ok("no changes")
        return Prepared(account, Outcome.NO_CHANGES, update)
    return Prepared(account, None, update, plan)


def _refuse_over_left_behind(ctx: Ctx, stack: StackInfo | None, ours: dict, account: str) -> None:
    """A creation over resources of ours that exist outside any stack (a deleted stack kept them) would fail on
    the first name that is taken and roll back, again and again: refused before anything, naming them and the way
    on, which keeps their values (adopt imports them into a new stack)."""
    env = ctx.env
    kept = left_behind(ctx, ours, account)
    if not kept:
        return
    where = "does not exist" if stack is None else f"is {stack.status} and holds no resources"
    names = ", ".join(h.name for h in kept[:6]) + (", ..." if len(kept) > 6 else "")
    raise UserError(f"stack {env.stack_name} {where}, but {len(kept)} of its resources exist under the names a "
                    f"creation would take ({names}; kept by a deleted stack?), and CloudFormation cannot create over a "
                    f"taken name. `invoke adopt --env {env.name}` creates the stack around them, values kept; then "
                    f"`invoke stack-update --env {env.name}` creates the rest. Nothing changed")


def _secret_properties(update: UpdatePlan) -> set[tuple[str, str]]:
    """Properties whose value before or after reads a NoEcho parameter: shown as (secret)."""
    return no_echo_properties(update.deployed) | no_echo_properties(update.body)


def _require_adopted(ctx: Ctx, stack: StackInfo, ours: dict) -> None:
    """A template this tool did not write is converged only once adopt has put its resources under our logical
    IDs: otherwise every live resource would look like one of the live stack's own, and every one of ours new."""
    renames = pending_renames(ctx, ours, ctx.env.account_id)
    if renames:
        shown = ", ".join(f"{old} -> {new}" for old, new in list(renames.items())[:4])
        raise UserError(f"{stack.name} was not built by this tool and is not adopted yet: its resources sit under "
                        f"other logical IDs ({shown}{', ...' if len(renames) > 4 else ''}), so an update would "
                        f"create a second copy of everything beside them. Take it over in place first: `invoke adopt "
                        f"--env {ctx.env.name}`")


def _show_kept(ctx: Ctx, update: UpdatePlan) -> None:
    c = update.convergence
    if c.given_up:
        ctx.console.line(f"converging (taking ours for): {', '.join(c.given_up)}")
    if c.names():
        ctx.console.line(f"kept as the adopted live stack has them ({len(c.names())}): {', '.join(c.names())}; "
                         "`invoke stack-status` says what converging each would do")


def _request(ctx: Ctx, report: GeneratedReport, update: UpdatePlan, request: StackRequest,
             prefix: str) -> ChangeSetRequest:
    env = ctx.env
    return ChangeSetRequest(
        stack_name=env.stack_name, body=json.dumps(update.body, sort_keys=True, separators=(",", ":")),
        change_set_type=update.change_set_type, parameters=update.parameters,
        use_previous=tuple(update.convergence.kept_parameters),
        # The stack's own tags stay (an adopted stack's CostCenter, Owner...): CloudFormation passes stack tags on
        # to the resources, where cost allocation, tag-based access and backup plans read them.
        tags={**(update.stack.tags if update.stack else {}), **env.stack_tags, "TemplateVersion": __version__,
              OURS_TAG: report.content_hash},
        description=f"portyfoul-infra {__version__} {report.content_hash[:19]}", content_hash=report.content_hash,
        prefix=prefix, role_arn=request.cfn_role, template_bucket=env.template_bucket,
        inline_limit=request.inline_limit)


def _report_guards(ctx: Ctx, plan: ChangeSetPlan, verdict: Verdict, preview: bool = False) -> None:
    env, console = ctx.env, ctx.console
    refusing = "stack-update would refuse this" if preview else "refusing"
    for f in verdict.allowed:
        console.warn(f"allowed by --allow-{'replace' if f.guard == 'data' else 'interruption'}: {f.describe()}")
    removed = sorted({f.logical_id for f in verdict.blocked if f.guard == "data" and f.change.action == "Remove"})
    if removed and plan.foreign:
        console.error(f"{env.stack_name} was not built by this tool: its stateful resources sit under other "
                      f"logical IDs ({', '.join(removed[:6])}{', ...' if len(removed) > 6 else ''}), so this update "
                      "would remove them and create new, empty ones")
        console.line(f"refusing. Take the stack over in place first: `invoke adopt --env {env.name}` renames its "
                     "logical IDs to ours without touching a resource")
        return
    for f in verdict.blocked:
        console.error(f.describe())
    data = sorted({f.logical_id for f in verdict.blocked if f.guard == "data"})
    interrupted = sorted({f.logical_id for f in verdict.blocked if f.guard == "interruption"})
    if data:
        console.line(f"{refusing}: {len(data)} stateful resource(s) would lose data, be recreated or get a new value. "
                     "If that is truly intended, take a backup and rerun with "
                     + " ".join(f"--allow-replace {i}" for i in data))
    if interrupted:
        console.line(f"{refusing}: {len(interrupted)} live resource(s) would be interrupted, disconnected or lose a "
                     "protection. To accept exactly that, rerun with "
                     + " ".join(f"--allow-interruption {i}" for i in interrupted))


def check_allowances(cfn, plan: ChangeSetPlan | None, allow_replace: tuple[str, ...],
                     allow_interruption: tuple[str, ...]) -> None:
    """Every --allow-replace and --allow-interruption must name a finding of this change set (None: there is
    nothing to change); a typo is refused, with what the change set does need. stack-update and stack-diff both
    ask this one function, so a preview never accepts what the update then refuses. The change set is deleted
    before the refusal."""
    if not allow_replace and not allow_interruption:
        return
    if plan is None:
        raise UserError("there is nothing to change, so "
                        + ", ".join([f"--allow-replace {i}" for i in allow_replace]
                                    + [f"--allow-interruption {i}" for i in allow_interruption])
                        + " allows nothing (a typo?)")
    unknown = unknown_allowances(plan.changes, allow_replace, allow_interruption)
    if unknown:
        delete_change_set(cfn, plan)
        found = judge(plan.changes).blocked
        named = sorted({f"--allow-{'replace' if f.guard == 'data' else 'interruption'} {f.logical_id}"
                        for f in found})
        raise UserError(f"{', '.join(unknown)}: this change set has no such finding; it needs: "
                        f"{', '.join(named) or 'nothing'}")


def stack_update(ctx: Ctx, opts: UpdateOptions) -> Result:
    """Recover (what a flag names), plan (a change set), show it with both guards' verdict, confirm, apply."""
    report, account = _start(ctx)
    with deployment(ctx, "stack-update", opts.timeout):
        recovered, stack = _recover(ctx, opts, report, account)
        if recovered is not None:
            return Result(recovered)
        return Result(_update(ctx, opts, report, account, stack))


def _update(ctx: Ctx, opts: UpdateOptions, report: GeneratedReport, account: str, found: StackInfo | None) -> Outcome:
    env, console = ctx.env, ctx.console
    cfn = ctx.client("cloudformation")
    prepared = _prepare(ctx, StackRequest(opts.converge, opts.cfn_role, opts.inline_limit), False, report, account,
                        found)
    if prepared.plan is None or prepared.update is None:
        if prepared.outcome is Outcome.NO_CHANGES:
            check_allowances(cfn, None, opts.allow_replace, opts.allow_interruption)
        stack = prepared.update.stack if prepared.update else None
        if prepared.outcome is Outcome.NO_CHANGES and stack is not None and not stack.termination_protection:
            _protect(ctx, stack.stack_id)  # a converging update stopped before its end left the stack bare
        return prepared.outcome or Outcome.NO_CHANGES
    plan = prepared.plan
    verdict = judge(plan.changes, opts.allow_replace, opts.allow_interruption)
    render_changes(console, hide(plan.changes, _secret_properties(prepared.update)), verdict)
    check_allowances(cfn, plan, opts.allow_replace, opts.allow_interruption)
    _report_guards(ctx, plan, verdict)
    if verdict.blocked:
        delete_change_set(cfn, plan)
        return Outcome.REFUSED
    refused = ctx.confirmed(f"execute {len(plan.changes)} change(s) on {env.stack_name}?", opts.yes,
                            lambda: delete_change_set(cfn, plan))
    if refused:
        return refused

    relaxed = [f.logical_id for f in verdict.allowed if f.guard == "data" and f.logical_id in POLICY_PROTECTED]
    next_step = f"`invoke stack-status --env {env.name}` to follow the stack"
    if relaxed and plan.change_set_type == "UPDATE":
        console.warn(f"lifting the stack policy for {', '.join(relaxed)} for this update only")
        cfn.set_stack_policy(StackName=plan.stack_id, StackPolicyBody=stack_policy(allow=relaxed))
        ctx.record(f"lifted the stack policy for {', '.join(relaxed)}", next_step)
    try:
        result = execute_change_set(ctx, plan, opts.timeout, next_step)
    except KeyboardInterrupt:
        console.warn("interrupted: CloudFormation carries on with the operation; follow it with `invoke stack-status`")
        return Outcome.NEEDS_HUMAN
    finally:
        if relaxed and plan.change_set_type == "UPDATE":
            cfn.set_stack_policy(StackName=plan.stack_id, StackPolicyBody=stack_policy())
    if result.timed_out:
        console.error(f"still {result.status} after {opts.timeout:.0f}s; CloudFormation carries on. "
                      "Follow it with `invoke stack-status`")
        return Outcome.NEEDS_HUMAN
    outcome = outcome_of(result.status)
    if outcome is Outcome.APPLIED:
        _protect(ctx, plan.stack_id)
        console.ok(f"{result.status}: {env.stack_name} is on template {plan.content_hash[:19]}")
        return outcome
    report_failure(console, result, env.stack_name)
    if result.status == "ROLLBACK_COMPLETE":
        console.line("the creation rolled back and left an empty stack; remove it and try again with "
                     "`invoke stack-update --delete-failed-create`")
    elif result.status == "UPDATE_ROLLBACK_FAILED":
        console.line("the rollback failed too: fix the cause, then `invoke stack-update --continue-rollback`")
    return outcome


def _protect(ctx: Ctx, stack_id: str) -> None:
    """Termination protection on, and the stack policy that denies replacing or deleting the database: as every
    stack this tool created has them from the start, and an adopted one from its first converging update."""
    cfn = ctx.client("cloudformation")
    stack = describe_stack(cfn, stack_id)
    done = []
    if stack is not None and not stack.termination_protection:
        cfn.update_termination_protection(StackName=stack_id, EnableTerminationProtection=True)
        ctx.record("turned termination protection on", "`invoke stack-status`")
        done.append("termination protection on")
    current = cfn.get_stack_policy(StackName=stack_id).get("StackPolicyBody") or ""
    if not current or json.loads(current) != json.loads(stack_policy()):
        cfn.set_stack_policy(StackName=stack_id, StackPolicyBody=stack_policy())
        ctx.record("set the stack policy", "`invoke stack-status`")
        done.append("stack policy denies replacing or deleting the database")
    if done:
        ctx.console.line("; ".join(done))


def stack_diff(ctx: Ctx, opts: DiffOptions) -> Result:
    """The change set stack-update would run, judged by its guards, then deleted: one document (schema
    portyfoul.stack-diff/1), shown as the change table or printed as JSON; exit 2 when stack-update would refuse
    it, 5 with --fail when it changes anything."""
    console = ctx.console
    report, account = _start(ctx)
    prepared = _prepare(ctx, StackRequest(opts.converge), True, report, account,
                        describe_stack(ctx.client("cloudformation"), ctx.env.stack_name))
    data = json_document(ctx, "stack-diff", prepared.account)
    update, plan = prepared.update, prepared.plan
    data["converging"] = list(update.convergence.given_up) if update else []
    data["kept"] = update.convergence.names() if update else []
    if plan is None:
        outcome = prepared.outcome or Outcome.NO_CHANGES
        if outcome is Outcome.NO_CHANGES:
            check_allowances(ctx.client("cloudformation"), None, opts.allow_replace, opts.allow_interruption)
        data.update({"changes": [], "guards": {"blocked": [], "allowed": []}, "outcome": _diff_label(outcome)})
        return present(ctx, opts.json, outcome, data, lambda console, data: None)
    verdict = judge(plan.changes, opts.allow_replace, opts.allow_interruption)
    shown = hide(plan.changes, _secret_properties(update)) if update else plan.changes
    if not opts.json:
        render_changes(console, shown, verdict)
    check_allowances(ctx.client("cloudformation"), plan, opts.allow_replace, opts.allow_interruption)
    _report_guards(ctx, plan, verdict, preview=True)
    delete_change_set(ctx.client("cloudformation"), plan)
    console.line("preview only: the change set was deleted, nothing changed")
    outcome = Outcome.REFUSED if verdict.blocked else Outcome.CHANGES_FOUND if opts.fail else Outcome.NO_CHANGES
    data.update({"changes": change_documents(shown, verdict),
                 "guards": {kind: [{"logical_id": f.logical_id, "guard": f.guard, "effect": f.effect}
                                   for f in findings]
                            for kind, findings in (("blocked", verdict.blocked), ("allowed", verdict.allowed))},
                 "outcome": "refused" if verdict.blocked else "changes"})
    return present(ctx, opts.json, outcome, data, lambda console, data: None)


def _diff_label(outcome: Outcome) -> str:
    return "no-changes" if outcome is Outcome.NO_CHANGES else outcome.label


def alarm_subscription(ctx: Ctx, stack: StackInfo) -> str:
    """The state of the alarm e-mail subscription (an unconfirmed one delivers nothing): none, no-topic,
    not-subscribed, pending or confirmed."""
    env = ctx.env
    if not env.alarm_email:
        return "none"
    topic = stack.outputs.get(ALARM_TOPIC_ARN)
    if not topic:
        return "no-topic"
    subscriptions = ctx.client("sns").list_subscriptions_by_topic(TopicArn=topic).get("Subscriptions", [])
    mine = [s for s in subscriptions if s.get("Endpoint") == env.alarm_email]
    if not mine:
        return "not-subscribed"
    if mine[0].get("SubscriptionArn") in ("PendingConfirmation", "pending confirmation"):
        return "pending"
    return "confirmed"


ALARM_WORDS = {
    "none": "none configured: alarms notify nobody (set alarm_email)",
    "no-topic": "{address}: no topic yet",
    "not-subscribed": "{address}: NOT subscribed (run stack-update)",
    "pending": "{address}: PENDING: confirm the e-mail AWS sent, or alarms reach nobody",
    "confirmed": "{address}: confirmed",
}


def stack_status(ctx: Ctx, opts: ReadOptions) -> Result:
    """The status as one document (schema portyfoul.stack-status/1), shown as lines or printed as JSON."""
    env = ctx.env
    data = json_document(ctx, "stack-status", print_header(ctx))
    cfn = ctx.client("cloudformation")
    stack = describe_stack(cfn, env.stack_name)
    data["exists"] = stack is not None
    if stack is None:
        data["create"] = f"invoke stack-update --env {env.name}"
        ctx.console.line(f"stack {env.stack_name} does not exist; create it with `{data['create']}`")
        return present(ctx, opts.json, Outcome.REFUSED, data, lambda console, data: None)
    local = compare(ctx.generated)
    deployed_body = deployed_template(cfn, stack.stack_id) if stack.status != "REVIEW_IN_PROGRESS" else {}
    meta = metadata_of(deployed_body)
    stale = bool(local.deployed_changes)
    kept = kept_items(deployed_body)
    data.update({
        "status": stack.status, "status_reason": stack.reason or None, "last_updated": iso_time(stack.last_updated),
        "deployed": {"version": meta.get("Version"), "content_hash": meta.get("ContentHash")},
        "local": {"version": __version__, "content_hash": local.content_hash, "stale": stale},
        "template": "unknown" if stale else ("same" if meta.get("ContentHash") == local.content_hash else "differs"),
        "kept": sorted(kept),
        "kept_notes": {name: note for name, note in sorted(kept.items()) if note},
        "termination_protection": stack.termination_protection,
        "https": env.https, "domain_name": env.domain_name or None,
        "rollout": {"step_seconds": env.rollout_step_seconds,
                    "health_check_interval_seconds": env.health_check_interval_seconds,
                    "healthy_threshold": env.healthy_threshold,
                    "deregistration_delay_seconds": env.deregistration_delay_seconds},
        "alarm_email": {"address": env.alarm_email or None, "state": alarm_subscription(ctx, stack)},
        "drift": {"status": stack.drift_status, "checked": iso_time(stack.drift_checked)},
        "outputs": dict(sorted(stack.outputs.items())),
    })
    return present(ctx, opts.json, Outcome.NO_CHANGES, data, _render_status)


def _render_status(console: Console, data: dict) -> None:
    deployed, local, drift = data["deployed"], data["local"], data["drift"]
    console.line(f"status        {data['status']}" + (f"  ({data['status_reason']})" if data["status_reason"] else ""))
    console.line(f"last updated  {(data['last_updated'] or 'never').replace('T', ' ')}")
    console.line(f"deployed      {deployed['version'] or '?'} {(deployed['content_hash'] or '?')[:19]}")
    console.line(f"local         {local['version']} {local['content_hash'][:19]}"
                 + ("  (generated/ is stale: run invoke build-template)" if local["stale"] else ""))
    console.line("template      " + {"unknown": "generated/ is stale, so no comparison: run `invoke build-template` first",
                                     "same": "same as generated/",
                                     "differs": "DIFFERS from generated/: see `invoke stack-diff`"}[data["template"]])
    if data["kept"]:
        console.line("kept          as the adopted live stack has them; preview giving one up with `invoke "
                     "stack-diff --converge NAME`, then `invoke stack-update --converge NAME`:")
        for name in data["kept"]:
            note = data["kept_notes"].get(name)
            console.line(f"  {name}" + (f"  ({note})" if note else ""))
    console.line(f"protection    termination {'on' if data['termination_protection'] else 'OFF'}")
    console.line(f"https         {'on' if data['https'] else 'OFF (HTTP only)'}"
                 + (f" ({data['domain_name']})" if data["domain_name"] else ""))
    rollout = data["rollout"]
    console.line(f"rollout step  at most {rollout['step_seconds']} s per old task (health check "
                 f"{rollout['health_check_interval_seconds']} s x {rollout['healthy_threshold']} + "
                 f"{rollout['deregistration_delay_seconds']} s draining)")
    alarm = data["alarm_email"]
    console.line("alarm e-mail  " + ALARM_WORDS[alarm["state"]].format(address=alarm["address"]))
    checked = drift["checked"]
    console.line("drift         " + (f"{drift['status']}, checked {checked[:16].replace('T', ' ')} UTC" if checked
                                     else "never checked")
                 + (" (`invoke stack-drift`)" if drift["status"] != "IN_SYNC" else ""))
    if data["outputs"]:
        console.table(("output", "value"), sorted(data["outputs"].items()))


def kept_items(deployed: dict) -> dict[str, str]:
    """Every choice the adopted live stack keeps, as `--converge` names it, with what giving it up means ("" when
    nothing needs saying); {} for a stack this tool built."""
    from ..aws.guards import INTERRUPTIONS

    record = kept_record(deployed)
    resources = deployed.get("Resources", {})
    items: dict[str, str] = {}
    for lid, props in record["Kept"].items():
        for p in props:
            rule = INTERRUPTIONS.get(resources.get(lid, {}).get("Type", ""), {}).get(p)
            items[f"{lid}.{p}"] = "converging it may interrupt: stack-diff says how" if rule else ""
    for lid in record["KeptResources"]:
        items[lid] = "only in the live stack; converging it removes it"
    for key in record["KeptOutputs"]:
        items[f"Outputs.{key}"] = "an export other stacks may import; converging it removes it"
    for lid in record["Withheld"]:
        items[lid] = "ours, not created yet: creating it writes into a live secret's value"
    return items
