"""stack-update, stack-diff and stack-status: the steps in order, printing through a Console."""

from __future__ import annotations

import json

from .. import __version__
from .. import contract as out
from ..aws.adoption import pin_values
from ..aws.clients import ClientSource, print_header
from ..context import Clock, Sleep
from ..aws.change_sets import (
    DIFF_PREFIX, POLICY_PROTECTED, UPDATE_PREFIX, ChangeSetPlan, delete_change_set, pending_updates, guard, plan_change_set, render_changes, stack_policy, unknown_allowances,
)
from ..config import Environment, production_gaps
from ..console import Console
from ..aws import history
from ..contract import (
    BOOTSTRAP, IMAGE_TAG, IMAGE_TAG_PARAMETERS, SERVICES, WEB_DESIRED_COUNT, WORKER_IMAGE_TAG, image_tag, parameter_values, service_names,
)
from ..aws.deployments import in_progress
from ..errors import UserError
from ..artifacts.generated import GeneratedReport, ensure_fresh
from ..options import UpdateOptions
from ..outcomes import JOURNAL, Confirm, Outcome, refused_unless_confirmed
from ..aws.stacks import (
    OK_STATES, EventStream, StackInfo, deployed_metadata, deployed_template, describe_stack, metadata_of, outcome_of, report_failure, watch,
)



def current_image_tags(aws: ClientSource, stack: StackInfo | None, env: Environment,
                       console: Console) -> tuple[dict[str, str], int | None]:
    """The tags running now, so an infrastructure update never rolls the application back; and the web
    service's desired count now (None before there is one), so it never undoes auto scaling.

    Read from the services' current task definitions (release deploys outside
    CloudFormation); falls back to the stack's parameters, then `latest`.
    Refuses while a deployment is in progress: its tag is not yet known to be
    good. A running tag that the release history records as failed is not
    kept; the service's last succeeded release is.
    """
    tags = {param: "latest" for param in IMAGE_TAG_PARAMETERS.values()}
    if stack is None:
        return tags, None
    for param in tags:
        if stack.parameters.get(param):
            tags[param] = stack.parameters[param]
    cluster = stack.outputs.get(out.CLUSTER_NAME)
    names = service_names(stack.outputs)
    if not cluster or not all(names.values()):
        return tags, None
    ecs = aws.client("ecs")
    by_name = {s["serviceName"]: s for s in ecs.describe_services(cluster=cluster, services=list(names.values()))
               .get("services", []) if s.get("status") == "ACTIVE"}
    for key, name in names.items():
        busy = in_progress(by_name.get(name, {}))
        if busy:
            raise UserError(f"service {name} has a deployment in progress ({busy}): its image is not yet known to be "
                            f"good. Wait for it (`invoke release-status --env {env.name}`), then run stack-update again")
    records = None
    for key, name in names.items():
        svc = by_name.get(name)
        if not svc:
            continue
        td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
        running = image_tag(next((c["image"] for c in td["containerDefinitions"]
                                  if c["name"] == SERVICES[key].container), td["containerDefinitions"][0]["image"]))
        param = IMAGE_TAG_PARAMETERS[key]
        if running == tags[param] or running.startswith("sha256:"):
            continue
        if records is None:  # only when a release ran since the last stack-update
            records = history.load(aws.client("ssm"), env)
        outcome = history.tag_outcome(records, running)
        if outcome in (history.FAILED, history.IN_PROGRESS):
            good = next((r.tag for r in records if r.kind == "release" and r.outcome == history.SUCCEEDED
                         and key in r.services), tags[param])
            console.warn(f"{key} runs {running}, whose release {outcome}; keeping {good}, its last good release")
            running = good
        tags[param] = running
    web = by_name.get(names["web"])
    return tags, (web.get("desiredCount") if web and web.get("desiredCount") else None)


def bootstrap_value(aws: ClientSource, stack: StackInfo | None, tags: dict[str, str]) -> str:
    """"true" while the released images do not exist yet, so a new stack can be created without one.

    On creation the repository is part of the stack and empty: the services
    start with no tasks. Once a release has pushed the images, the next update
    sets "false" and the services start. It never goes back to "true".
    """
    if stack is None or stack.status == "REVIEW_IN_PROGRESS":
        return "true"
    if stack.parameters.get(BOOTSTRAP, "false") != "true":
        return "false"
    from ..aws.images import find_image
    repository = stack.outputs.get(out.REPOSITORY_NAME)
    if not repository:
        return "true"
    ecr = aws.client("ecr")
    return "false" if all(find_image(ecr, repository, tag) for tag in set(tags.values())) else "true"


def _check_state(cfn, stack: StackInfo | None, opts: UpdateOptions, console: Console, clock: Clock,
                 sleep: Sleep) -> tuple[str, StackInfo | None] | Outcome:
    """CREATE or UPDATE, after dealing with every state that is neither."""
    if stack is None or stack.status == "REVIEW_IN_PROGRESS":
        return "CREATE", stack
    if stack.status in OK_STATES:
        return "UPDATE", stack
    if stack.in_progress:
        raise UserError(
            f"stack {stack.name} is {stack.status}: another operation is running. Refusing rather than waiting; "
            "follow it with `invoke stack-status` and run again when it completes")
    if stack.status == "ROLLBACK_COMPLETE":
        if not opts.delete_failed_create:
            raise UserError(
                f"stack {stack.name} is ROLLBACK_COMPLETE: its creation failed and rolled back, so it holds no "
                "running resources (retained secrets, repository, logs and snapshots stay). Delete it and create "
                "again with `invoke stack-update --delete-failed-create`")
        console.line(f"deleting the failed stack {stack.name} (ROLLBACK_COMPLETE) before creating it again")
        stream = EventStream(cfn, stack.stack_id)
        stream.mark()
        cfn.delete_stack(StackName=stack.stack_id)
        JOURNAL.record(f"started deleting the failed stack {stack.name}", "`invoke stack-status`")
        result = watch(cfn, stack, stream, console, clock, sleep, opts.timeout, opts.poll_seconds)
        if result.status != "DELETE_COMPLETE":
            report_failure(console, result, stack.name)
            return Outcome.NEEDS_HUMAN
        return "CREATE", None
    if stack.status == "UPDATE_ROLLBACK_FAILED":
        if not opts.continue_rollback:
            raise UserError(
                f"stack {stack.name} is UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback "
                f"({stack.reason or 'see stack events'}). Fix the cause (often a resource changed outside "
                "CloudFormation), then `invoke stack-update --continue-rollback`")
        console.line("continuing the failed rollback")
        stream = EventStream(cfn, stack.stack_id)
        stream.mark()
        cfn.continue_update_rollback(StackName=stack.stack_id)
        JOURNAL.record(f"continued the rollback of {stack.name}", "`invoke stack-status`")
        result = watch(cfn, stack, stream, console, clock, sleep, opts.timeout, opts.poll_seconds)
        if result.status == "UPDATE_ROLLBACK_COMPLETE":
            console.ok("rollback completed: the stack is back on its previous template; run stack-update again")
            return Outcome.APPLIED
        report_failure(console, result, stack.name)
        return Outcome.NEEDS_HUMAN
    raise UserError(
        f"stack {stack.name} is {stack.status} and cannot be updated ({stack.reason or 'see its events'}); "
        "this needs a human: see the troubleshooting guide in docs/operations.md")


def _up_to_date(stack: StackInfo, deployed: dict, report: GeneratedReport, parameters: dict[str, str],
                pinned: list[str]) -> bool:
    if stack.status not in OK_STATES or stack.status == "UPDATE_ROLLBACK_COMPLETE":
        return False
    meta = metadata_of(deployed)
    return (meta.get("ContentHash") == report.content_hash and stack.parameters == parameters
            and sorted(meta.get("PinnedValues", [])) == pinned)


def check_production_ready(env: Environment) -> None:
    """A production environment lists every missing checklist item in one refusal, before anything."""
    gaps = production_gaps(env)
    if env.production and gaps:
        raise UserError(f"environment {env.name} is production and not ready; set in portyfoul_infra/config.py: "
                        + "; ".join(gaps) + " (docs/operations.md, \"Production checklist\")")


def _prepare(aws, env, console, opts, clock, sleep, preview: bool = False):
    """Shared by update and diff: fresh template, header, state, parameters, then a change set."""
    check_production_ready(env)
    report = ensure_fresh()
    print_header(aws, env, console)
    if not env.https:  # dev may stay on HTTP, as the plan runs it today; never silently
        console.warn(f"{env.name} serves HTTP only: logins and JWTs cross the internet in clear text. Set "
                     "certificate_arn, or domain_name and hosted_zone_id, to turn HTTPS on")
    if report.picture_changes:
        console.warn(f"the pictures in generated/ are stale ({', '.join(report.picture_changes)}): "
                     "`invoke build-template` redraws them; they are not deployed, so nothing waits for them")
    cfn = aws.client("cloudformation")
    state = _check_state(cfn, describe_stack(cfn, env.stack_name), opts, console, clock, sleep)
    if isinstance(state, Outcome):
        return state
    change_set_type, stack = state
    tags, live_desired = current_image_tags(aws, stack, env, console)
    parameters = {**parameter_values(env), **tags, BOOTSTRAP: bootstrap_value(aws, stack, tags)}
    if live_desired is not None and parameters[BOOTSTRAP] != "true":
        # After bootstrap the running count belongs to auto scaling: carry it, never reset it.
        clamped = min(max(live_desired, env.web_min_count), env.web_max_count)
        if str(clamped) != parameters[WEB_DESIRED_COUNT]:
            console.line(f"web runs {live_desired} tasks (auto scaling): keeping {clamped}, not the configured "
                         f"{parameters[WEB_DESIRED_COUNT]}")
        parameters[WEB_DESIRED_COUNT] = str(clamped)
    if parameters[BOOTSTRAP] == "true":
        console.line("bootstrap: no released image yet, so the services start with no tasks; "
                     "after `invoke release`, run stack-update again to start them")
    elif stack is not None and stack.parameters.get(BOOTSTRAP) == "true":
        console.line("bootstrap ends: the released images exist, the services start now")
    deployed = deployed_template(cfn, stack.stack_id) if change_set_type == "UPDATE" else {}
    body, pinned = pin_values(deployed, json.loads(report.deploy_body))
    if stack is not None and change_set_type == "UPDATE" and _up_to_date(stack, deployed, report, parameters, pinned):
        console.ok(f"no changes: the deployed template ({report.content_hash[:19]}) and parameters match generated/")
        return Outcome.NO_CHANGES
    console.line(f"{'creating' if change_set_type == 'CREATE' else 'updating'} {env.stack_name} "
                 f"(template {report.content_hash[:19]}, image tags web={parameters[IMAGE_TAG]} "
                 f"worker={parameters[WORKER_IMAGE_TAG]})")
    if pinned:
        console.line(f"values kept as the adopted stack created them (pinned): {', '.join(pinned)}")
    if stack is not None and change_set_type == "UPDATE" and not preview:
        for other in pending_updates(cfn, stack.stack_id):
            raise UserError(
                f"another stack-update is under way on {env.stack_name}: its change set {other['ChangeSetName']} "
                f"({other.get('ExecutionStatus', '?')}, created {other.get('CreationTime', '?')}) has not been "
                "executed or deleted. Wait for it; if it was left behind by a crash: `aws cloudformation "
                f"delete-change-set --stack-name {env.stack_name} --change-set-name {other['ChangeSetName']}`")
    plan = plan_change_set(aws, env, report, json.dumps(body, sort_keys=True, separators=(",", ":")),
                           change_set_type, parameters, console, clock, sleep, opts.inline_limit,
                           DIFF_PREFIX if preview else UPDATE_PREFIX, opts.cfn_role)
    plan.foreign = change_set_type == "UPDATE" and not metadata_of(deployed).get("ContentHash")
    if plan.empty:
        delete_change_set(cfn, plan)
        console.ok("no changes")
        return Outcome.NO_CHANGES
    render_changes(console, plan.changes)
    return plan


def _report_guard(console: Console, env: Environment, plan: ChangeSetPlan, blocked, allowed) -> None:
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


def stack_update(aws: ClientSource, env: Environment, console: Console, opts: UpdateOptions,
                 confirm: Confirm | None, clock: Clock, sleep: Sleep) -> Outcome:
    cfn = aws.client("cloudformation")
    plan = _prepare(aws, env, console, opts, clock, sleep)
    if isinstance(plan, Outcome):
        return plan
    _check_allowances(cfn, plan, opts.allow_replace)
    blocked, allowed = guard(plan.changes, opts.allow_replace)
    _report_guard(console, env, plan, blocked, allowed)
    if blocked:
        delete_change_set(cfn, plan)
        return Outcome.REFUSED
    refused = refused_unless_confirmed(f"execute {len(plan.changes)} change(s) on {env.stack_name}?", opts.yes,
                                       confirm, console, lambda: delete_change_set(cfn, plan))
    if refused:
        return refused

    relaxed = [v.change.logical_id for v in allowed if v.change.logical_id in POLICY_PROTECTED]
    next_step = f"`invoke stack-status --env {env.name}` to follow the stack"
    if relaxed and plan.change_set_type == "UPDATE":
        console.warn(f"lifting the stack policy for {', '.join(relaxed)} for this update only")
        cfn.set_stack_policy(StackName=plan.stack_id, StackPolicyBody=stack_policy(allow=relaxed))
        JOURNAL.record(f"lifted the stack policy for {', '.join(relaxed)}", next_step)
    stream = EventStream(cfn, plan.stack_id)
    stream.mark()
    stack = StackInfo(env.stack_name, plan.stack_id, "", "", {}, {}, {}, None, False)
    try:
        cfn.execute_change_set(ChangeSetName=plan.change_set_id, StackName=plan.stack_id)
        JOURNAL.record(f"started executing the change set on {env.stack_name}", next_step)
        result = watch(cfn, stack, stream, console, clock, sleep, opts.timeout, opts.poll_seconds)
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


def stack_diff(aws: ClientSource, env: Environment, console: Console, clock: Clock, sleep: Sleep) -> Outcome:
    plan = _prepare(aws, env, console, UpdateOptions(), clock, sleep, preview=True)
    if isinstance(plan, Outcome):
        return plan
    blocked, _ = guard(plan.changes)
    _report_guard(console, env, plan, blocked, [])
    delete_change_set(aws.client("cloudformation"), plan)
    console.line("preview only: the change set was deleted, nothing changed")
    return Outcome.REFUSED if blocked else Outcome.NO_CHANGES


def alarm_subscription(aws: ClientSource, stack: StackInfo, env: Environment) -> str:
    """Whether the alarm e-mail subscription is confirmed (an unconfirmed one delivers nothing)."""
    if not env.alarm_email:
        return "none configured: alarms notify nobody (set alarm_email)"
    topic = stack.outputs.get(out.ALARM_TOPIC_ARN)
    if not topic:
        return f"{env.alarm_email}: no topic yet"
    subscriptions = aws.client("sns").list_subscriptions_by_topic(TopicArn=topic).get("Subscriptions", [])
    mine = [s for s in subscriptions if s.get("Endpoint") == env.alarm_email]
    if not mine:
        return f"{env.alarm_email}: NOT subscribed (run stack-update)"
    if mine[0].get("SubscriptionArn") in ("PendingConfirmation", "pending confirmation"):
        return f"{env.alarm_email}: PENDING: confirm the e-mail AWS sent, or alarms reach nobody"
    return f"{env.alarm_email}: confirmed"


def stack_status(aws: ClientSource, env: Environment, console: Console) -> Outcome:
    print_header(aws, env, console)
    cfn = aws.client("cloudformation")
    stack = describe_stack(cfn, env.stack_name)
    if stack is None:
        console.line(f"stack {env.stack_name} does not exist; create it with `invoke stack-update --env {env.name}`")
        return Outcome.REFUSED
    from ..artifacts.generated import compare
    local = compare()
    meta = deployed_metadata(cfn, stack.stack_id) if stack.status != "REVIEW_IN_PROGRESS" else {}
    console.line(f"status        {stack.status}" + (f"  ({stack.reason})" if stack.reason else ""))
    console.line(f"last updated  {stack.last_updated}")
    console.line(f"deployed      {meta.get('Version', '?')} {meta.get('ContentHash', '?')[:19]}")
    console.line(f"local         {__version__} {local.content_hash[:19]}"
                 + ("  (generated/ is stale: run invoke build-template)" if local.deployed_changes else ""))
    same = meta.get("ContentHash") == local.content_hash
    if local.deployed_changes:
        console.line("template      generated/ is stale, so no comparison: run `invoke build-template` first")
    else:
        console.line("template      " + ("same as generated/" if same else "DIFFERS from generated/: see `invoke stack-diff`"))
    if meta.get("PinnedValues"):
        console.line(f"pinned values {', '.join(meta['PinnedValues'])} (kept as the adopted stack created them)")
    console.line(f"protection    termination {'on' if stack.termination_protection else 'OFF'}")
    console.line(f"https         {'on' if env.https else 'OFF (HTTP only)'}"
                 + (f" ({env.domain_name})" if env.domain_name else ""))
    console.line(f"rollout step  at most {env.rollout_step_seconds} s per old task (health check "
                 f"{env.health_check_interval_seconds} s x {env.healthy_threshold} + "
                 f"{env.deregistration_delay_seconds} s draining)")
    console.line("alarm e-mail  " + alarm_subscription(aws, stack, env))
    checked = stack.drift_checked
    console.line("drift         " + (f"{stack.drift_status}, checked {checked:%Y-%m-%d %H:%M} UTC"
                                     if hasattr(checked, "strftime") else "never checked")
                 + (" (`invoke stack-drift`)" if stack.drift_status != "IN_SYNC" else ""))
    if stack.outputs:
        console.table(("output", "value"), sorted(stack.outputs.items()))
    return Outcome.NO_CHANGES
