"""stack-update, stack-diff and stack-status: plan the change set, show it, guard it, apply it."""

from __future__ import annotations

import json

from .. import __version__
from ..artifacts.generated import GeneratedReport, compare, ensure_fresh
from ..aws.change_sets import (
    DIFF_PREFIX,
    UPDATE_PREFIX,
    ChangeSetPlan,
    ChangeSetRequest,
    Violation,
    create_change_set,
    delete_change_set,
    execute_change_set,
    guard,
    pending_updates,
    render_changes,
    stack_policy,
    unknown_allowances,
)
from ..aws.clients import json_document, print_header
from ..aws.stacks import StackInfo, deployed_metadata, describe_stack, outcome_of, report_failure
from ..aws.updates import UpdatePlan, check_production_ready, plan_update, settle_state
from ..console import iso_time
from ..context import Ctx
from ..contract import ALARM_TOPIC_ARN, IMAGE_TAG, POLICY_PROTECTED, WORKER_IMAGE_TAG
from ..errors import UserError
from ..options import EnvOptions, ReadOptions, UpdateOptions
from ..outcomes import Outcome


def _prepare(ctx: Ctx, opts: UpdateOptions, preview: bool) -> tuple[UpdatePlan, ChangeSetPlan] | Outcome:
    """Shared by update and diff: fresh template, header, state, parameters, then a change set."""
    env, console = ctx.env, ctx.console
    check_production_ready(env)
    report = ensure_fresh()
    print_header(ctx)
    if not env.https:  # dev may stay on HTTP, as the plan runs it today; never silently
        console.warn(f"{env.name} serves HTTP only: logins and JWTs cross the internet in clear text. Set "
                     "certificate_arn, or domain_name and hosted_zone_id, to turn HTTPS on")
    if report.picture_changes:
        console.warn(f"the pictures in generated/ are stale ({', '.join(report.picture_changes)}): "
                     "`invoke build-template` redraws them; they are not deployed, so nothing waits for them")
    cfn = ctx.client("cloudformation")
    state = settle_state(ctx, describe_stack(cfn, env.stack_name), opts.timeout, opts.delete_failed_create,
                         opts.continue_rollback)
    if isinstance(state, Outcome):
        return state
    change_set_type, stack = state
    update = plan_update(ctx, stack, change_set_type, json.loads(report.deploy_body))
    for note in update.notes:
        console.line(note)
    if update.up_to_date(report.content_hash):
        console.ok(f"no changes: the deployed template ({report.content_hash[:19]}) and parameters match generated/")
        return Outcome.NO_CHANGES
    console.line(f"{'creating' if change_set_type == 'CREATE' else 'updating'} {env.stack_name} "
                 f"(template {report.content_hash[:19]}, image tags web={update.parameters[IMAGE_TAG]} "
                 f"worker={update.parameters[WORKER_IMAGE_TAG]})")
    if update.pinned:
        console.line(f"values kept as the adopted stack created them (pinned): {', '.join(update.pinned)}")
    if stack is not None and change_set_type == "UPDATE" and not preview:
        for other in pending_updates(cfn, stack.stack_id):
            raise UserError(
                f"another stack-update is under way on {env.stack_name}: its change set {other['ChangeSetName']} "
                f"({other.get('ExecutionStatus', '?')}, created {other.get('CreationTime', '?')}) has not been "
                "executed or deleted. Wait for it; if it was left behind by a crash: `aws cloudformation "
                f"delete-change-set --stack-name {env.stack_name} --change-set-name {other['ChangeSetName']}`")
    plan = create_change_set(ctx, _request(ctx, report, update, opts, DIFF_PREFIX if preview else UPDATE_PREFIX))
    plan.foreign = update.foreign
    if plan.empty:
        delete_change_set(cfn, plan)
        console.ok("no changes")
        return Outcome.NO_CHANGES
    render_changes(console, plan.changes)
    return update, plan


def _request(ctx: Ctx, report: GeneratedReport, update: UpdatePlan, opts: UpdateOptions,
             prefix: str) -> ChangeSetRequest:
    env = ctx.env
    return ChangeSetRequest(
        stack_name=env.stack_name, body=json.dumps(update.body, sort_keys=True, separators=(",", ":")),
        change_set_type=update.change_set_type, parameters=update.parameters,
        tags={**env.stack_tags, "TemplateVersion": __version__, "TemplateHash": report.content_hash},
        description=f"portyfoul-infra {__version__} {report.content_hash[:19]}", content_hash=report.content_hash,
        prefix=prefix, role_arn=opts.cfn_role, template_bucket=env.template_bucket, inline_limit=opts.inline_limit)


def _report_guard(ctx: Ctx, plan: ChangeSetPlan, blocked: list[Violation], allowed: list[Violation]) -> None:
    env, console = ctx.env, ctx.console
    for v in allowed:
        console.warn(f"allowed by --allow-replace: {v.describe()}")
    if blocked and plan.foreign and any(v.change.action == "Remove" for v in blocked):
        removed = sorted(v.change.logical_id for v in blocked if v.change.action == "Remove")
        console.error(f"{env.stack_name} was not built by this tool: its stateful resources sit under other "
                      f"logical IDs ({', '.join(removed[:6])}{', ...' if len(removed) > 6 else ''}), so this update "
                      "would remove them and create new, empty ones")
        console.line(f"refusing. Take the stack over in place first: `invoke adopt --env {env.name}` renames its "
                     "logical IDs to ours without touching a resource")
        return
    for v in blocked:
        console.error(v.describe())
    if blocked:
        ids = " ".join(f"--allow-replace {v.change.logical_id}" for v in blocked)
        console.line(f"refusing: {len(blocked)} stateful resource(s) would lose data, be recreated or get a new "
                     f"value. If that is truly intended, take a backup and rerun with {ids}")


def _check_allowances(cfn, plan: ChangeSetPlan, allow_replace) -> None:
    """Every --allow-replace must name a guarded change of this change set; a typo is refused."""
    unknown = unknown_allowances(plan.changes, allow_replace)
    if unknown:
        delete_change_set(cfn, plan)
        guarded = sorted({v.change.logical_id for v in guard(plan.changes)[0]})
        raise UserError(f"--allow-replace {', '.join(unknown)}: no such resource is replaced, removed or "
                        f"overwritten by this change set; it guards: {', '.join(guarded) or 'nothing'}")


def stack_update(ctx: Ctx, opts: UpdateOptions) -> Outcome:
    env, console = ctx.env, ctx.console
    cfn = ctx.client("cloudformation")
    prepared = _prepare(ctx, opts, preview=False)
    if isinstance(prepared, Outcome):
        return prepared
    _, plan = prepared
    _check_allowances(cfn, plan, opts.allow_replace)
    blocked, allowed = guard(plan.changes, opts.allow_replace)
    _report_guard(ctx, plan, blocked, allowed)
    if blocked:
        delete_change_set(cfn, plan)
        return Outcome.REFUSED
    refused = ctx.confirmed(f"execute {len(plan.changes)} change(s) on {env.stack_name}?", opts.yes,
                            lambda: delete_change_set(cfn, plan))
    if refused:
        return refused

    relaxed = [v.change.logical_id for v in allowed if v.change.logical_id in POLICY_PROTECTED]
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
        if plan.change_set_type == "CREATE":
            cfn.update_termination_protection(StackName=plan.stack_id, EnableTerminationProtection=True)
            cfn.set_stack_policy(StackName=plan.stack_id, StackPolicyBody=stack_policy())
            console.line("termination protection on; stack policy denies replacing or deleting the database")
        console.ok(f"{result.status}: {env.stack_name} is on template {plan.content_hash[:19]}")
        return outcome
    report_failure(console, result, env.stack_name)
    if result.status == "ROLLBACK_COMPLETE":
        console.line("the creation rolled back and left an empty stack; remove it and try again with "
                     "`invoke stack-update --delete-failed-create`")
    elif result.status == "UPDATE_ROLLBACK_FAILED":
        console.line("the rollback failed too: fix the cause, then `invoke stack-update --continue-rollback`")
    return outcome


def stack_diff(ctx: Ctx, opts: EnvOptions) -> Outcome:
    prepared = _prepare(ctx, UpdateOptions(env=opts.env), preview=True)
    if isinstance(prepared, Outcome):
        return prepared
    _, plan = prepared
    blocked, _ = guard(plan.changes)
    _report_guard(ctx, plan, blocked, [])
    delete_change_set(ctx.client("cloudformation"), plan)
    ctx.console.line("preview only: the change set was deleted, nothing changed")
    return Outcome.REFUSED if blocked else Outcome.NO_CHANGES


def alarm_subscription(ctx: Ctx, stack: StackInfo) -> tuple[str, str]:
    """(state, what to tell) for the alarm e-mail subscription (an unconfirmed one delivers nothing); state is
    none, no-topic, not-subscribed, pending or confirmed."""
    env = ctx.env
    if not env.alarm_email:
        return "none", "none configured: alarms notify nobody (set alarm_email)"
    topic = stack.outputs.get(ALARM_TOPIC_ARN)
    if not topic:
        return "no-topic", f"{env.alarm_email}: no topic yet"
    subscriptions = ctx.client("sns").list_subscriptions_by_topic(TopicArn=topic).get("Subscriptions", [])
    mine = [s for s in subscriptions if s.get("Endpoint") == env.alarm_email]
    if not mine:
        return "not-subscribed", f"{env.alarm_email}: NOT subscribed (run stack-update)"
    if mine[0].get("SubscriptionArn") in ("PendingConfirmation", "pending confirmation"):
        return "pending", f"{env.alarm_email}: PENDING: confirm the e-mail AWS sent, or alarms reach nobody"
    return "confirmed", f"{env.alarm_email}: confirmed"


def stack_status(ctx: Ctx, opts: ReadOptions) -> Outcome:
    """The status as one document (schema portyfoul.stack-status/1), shown as lines or printed as JSON."""
    env, console = ctx.env, ctx.console
    data = json_document(ctx, "stack-status", print_header(ctx))
    cfn = ctx.client("cloudformation")
    stack = describe_stack(cfn, env.stack_name)
    data["exists"] = stack is not None
    if stack is None:
        console.line(f"stack {env.stack_name} does not exist; create it with `invoke stack-update --env {env.name}`")
        if opts.json:
            console.json(data)
        return Outcome.REFUSED
    local = compare()
    meta = deployed_metadata(cfn, stack.stack_id) if stack.status != "REVIEW_IN_PROGRESS" else {}
    stale = bool(local.deployed_changes)
    alarm_state, alarm_text = alarm_subscription(ctx, stack)
    data.update({
        "status": stack.status, "status_reason": stack.reason or None, "last_updated": iso_time(stack.last_updated),
        "deployed": {"version": meta.get("Version"), "content_hash": meta.get("ContentHash")},
        "local": {"version": __version__, "content_hash": local.content_hash, "stale": stale},
        "template": "unknown" if stale else ("same" if meta.get("ContentHash") == local.content_hash else "differs"),
        "pinned_values": list(meta.get("PinnedValues") or []),
        "termination_protection": stack.termination_protection,
        "https": env.https, "domain_name": env.domain_name or None,
        "rollout": {"step_seconds": env.rollout_step_seconds,
                    "health_check_interval_seconds": env.health_check_interval_seconds,
                    "healthy_threshold": env.healthy_threshold,
                    "deregistration_delay_seconds": env.deregistration_delay_seconds},
        "alarm_email": {"address": env.alarm_email or None, "state": alarm_state},
        "drift": {"status": stack.drift_status, "checked": iso_time(stack.drift_checked)},
        "outputs": dict(sorted(stack.outputs.items())),
    })
    if opts.json:
        console.json(data)
        return Outcome.NO_CHANGES
    deployed = data["deployed"]
    console.line(f"status        {stack.status}" + (f"  ({stack.reason})" if stack.reason else ""))
    console.line(f"last updated  {stack.last_updated}")
    console.line(f"deployed      {deployed['version'] or '?'} {(deployed['content_hash'] or '?')[:19]}")
    console.line(f"local         {__version__} {local.content_hash[:19]}"
                 + ("  (generated/ is stale: run invoke build-template)" if stale else ""))
    console.line("template      " + {"unknown": "generated/ is stale, so no comparison: run `invoke build-template` first",
                                     "same": "same as generated/",
                                     "differs": "DIFFERS from generated/: see `invoke stack-diff`"}[data["template"]])
    if data["pinned_values"]:
        console.line(f"pinned values {', '.join(data['pinned_values'])} (kept as the adopted stack created them)")
    console.line(f"protection    termination {'on' if stack.termination_protection else 'OFF'}")
    console.line(f"https         {'on' if env.https else 'OFF (HTTP only)'}"
                 + (f" ({env.domain_name})" if env.domain_name else ""))
    console.line(f"rollout step  at most {env.rollout_step_seconds} s per old task (health check "
                 f"{env.health_check_interval_seconds} s x {env.healthy_threshold} + "
                 f"{env.deregistration_delay_seconds} s draining)")
    console.line("alarm e-mail  " + alarm_text)
    checked = stack.drift_checked
    console.line("drift         " + (f"{stack.drift_status}, checked {checked:%Y-%m-%d %H:%M} UTC"
                                     if hasattr(checked, "strftime") else "never checked")
                 + (" (`invoke stack-drift`)" if stack.drift_status != "IN_SYNC" else ""))
    if stack.outputs:
        console.table(("output", "value"), sorted(stack.outputs.items()))
    return Outcome.NO_CHANGES
