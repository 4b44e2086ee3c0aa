"""Stack updates as CloudFormation performs them: in place or by replacement, then cleanup; or a rollback."""

from __future__ import annotations

from . import gap
from ._engine import (
    CUSTOM_NAMED,
    Failure,
    Progress,
    Snapshot,
    custom_name_conflict,
    delete_in_order,
    event,
    load_template,
    model_of,
    replace_resource,
    set_status,
    undo,
    update_resource,
)
from ._plan import plan_update
from ._template import Written, canonical, with_ssm_values

T = "tests/test_local_cloudformation_updates.py::"
GUIDE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
BEHAVIOR = GUIDE + "using-cfn-updating-stacks-update-behaviors.html"


def _must_replace(plan, progress: Progress) -> bool:
    if plan.replacement == "True":
        return True
    causes = {(d.causing_entity or "").split(".")[0] for d in plan.details
              if d.evaluation == "Dynamic" and d.recreation != "Never"}
    return plan.replacement == "Conditional" and bool(causes & progress.replaced_ids)


def _needs_update(plan, progress: Progress) -> bool:
    if any(d.evaluation == "Static" for d in plan.details):
        return True
    causes = {(d.causing_entity or "").split(".")[0] for d in plan.details}
    return bool(causes & progress.changed_ids)


def _resolved(rm, resource_json: dict) -> str | None:
    """A resource's properties with every intrinsic resolved against the stack as it is now (None: cannot)."""
    from moto.cloudformation import parsing
    try:
        return canonical(parsing.clean_json(resource_json.get("Properties") or {}, rm))
    except Exception:  # noqa: BLE001 - unresolvable: treated as changed
        return None


def dynamic_only(plans) -> list:
    """The modifications CloudFormation can only judge at run time: every detail Dynamic."""
    return [p for p in plans if p.action == "Modify" and p.details and all(d.evaluation == "Dynamic" for d in p.details)]


def _apply(stack, plans, old: dict, before: Written, after: Written, progress: Progress,
           resolved_before: dict[str, str | None]) -> None:
    from ._engine import create_resource

    rm = stack.resource_map
    for plan in plans:
        if plan.logical_id in resolved_before and not _must_replace(plan, progress):
            was = resolved_before[plan.logical_id]
            if was is not None and was == _resolved(rm, rm._resource_json_map[plan.logical_id]):
                continue  # what it reads did not change after all: nothing to update
        if plan.action == "Add":
            create_resource(stack, plan.logical_id, progress)
        elif plan.action == "Modify" and _must_replace(plan, progress):
            refusal = custom_name_conflict(stack, plan.logical_id, old[plan.logical_id],
                                           rm._resource_json_map[plan.logical_id], before, after)
            if refusal:
                raise Failure(plan.logical_id, "UPDATE_FAILED", refusal)
            replace_resource(stack, plan.logical_id, old[plan.logical_id], progress)
        elif plan.action == "Modify" and _needs_update(plan, progress):
            update_resource(stack, plan.logical_id, old[plan.logical_id], progress)


def _roll_back(stack, snapshot: Snapshot, progress: Progress, failure: Failure, rollback: str) -> None:
    kind = stack.resource_map._resource_json_map.get(failure.logical_id, {}).get("Type", "")
    if failure.logical_id:
        event(stack, failure.logical_id, failure.status, failure.reason, kind)
        verb = "create" if failure.status.startswith("CREATE") else "update"
        reason = f"The following resource(s) failed to {verb}: [{failure.logical_id}]. "
    else:
        reason = failure.reason
    set_status(stack, f"{rollback}_IN_PROGRESS", reason)
    undo(stack, snapshot, progress)
    set_status(stack, f"{rollback}_COMPLETE_CLEANUP_IN_PROGRESS")
    set_status(stack, f"{rollback}_COMPLETE", reason)


def _clean_up(stack, old_resources: dict, progress: Progress, removed: list[str], snapshot: Snapshot) -> None:
    """Delete what the update left behind: replaced resources (UpdateReplacePolicy), removed ones (DeletionPolicy)."""
    old_models = {lid: snapshot.parsed.get(lid) for lid in old_resources}
    olds = {lid: model for lid, model, _ in progress.replaced}
    delete_in_order(stack, {lid: old_resources[lid] for lid in olds}, olds,
                    {lid: old_resources[lid].get("UpdateReplacePolicy") for lid in olds})
    gone = {lid: old_resources[lid] for lid in removed}
    failed = delete_in_order(stack, gone, old_models, {lid: gone[lid].get("DeletionPolicy") for lid in gone})
    for lid in removed:
        if lid not in failed:
            stack.resource_map._parsed_resources.pop(lid, None)


def run_update(stack, body, template: dict, parameters: dict, operation: str = "UPDATE") -> bool:
    """Update `stack` to `template` and `parameters`; True if it ends {operation}_COMPLETE, False if rolled back."""
    from .cloudformation_exports import export_conflict, refresh

    rm = stack.resource_map
    snapshot = Snapshot.of(stack)
    old_resources = dict(rm._resource_json_map)
    before, after = Written(stack.template_dict, dict(rm.input_parameters or {})), Written(template, parameters)
    ids = {lid: getattr(model_of(rm, lid), "physical_resource_id", "") for lid in old_resources}
    plans = plan_update(stack.template_dict, with_ssm_values(stack.template_dict, dict(rm.input_parameters or {}),
                                                             stack.account_id, stack.region_name,
                                                             dict(rm.resolved_parameters or {})),
                        template, with_ssm_values(template, parameters, stack.account_id, stack.region_name), ids)
    resolved_before = {p.logical_id: _resolved(rm, old_resources[p.logical_id]) for p in dynamic_only(plans)}
    set_status(stack, f"{operation}_IN_PROGRESS", "User Initiated")
    progress = Progress()
    try:
        load_template(stack, body, template, parameters)
        _apply(stack, plans, old_resources, before, after, progress, resolved_before)
        stack.output_map = stack._create_output_map()
        conflict = export_conflict(stack, snapshot)
        if conflict:
            raise Failure("", "UPDATE_FAILED", conflict)
    except Failure as failure:
        _roll_back(stack, snapshot, progress, failure, f"{operation}_ROLLBACK")
        return False
    set_status(stack, f"{operation}_COMPLETE_CLEANUP_IN_PROGRESS")
    _clean_up(stack, old_resources, progress, [p.logical_id for p in plans if p.action == "Remove"], snapshot)
    stack.parameters = dict(parameters)
    refresh(stack)
    set_status(stack, f"{operation}_COMPLETE")
    return True


@gap("cloudformation-update-replaces",
     summary="Updates: a change to a create-only property (provider schema) left the same resource in place, so a "
             "replaced subnet, database, parameter group or load balancer kept its physical ID (patched: the new "
             "resource is created first, references move to it, and the old one is deleted in the cleanup phase, "
             "UpdateReplacePolicy honoured)",
     aws="Update requires replacement: CloudFormation creates a new resource with a new physical ID, points "
         "dependent resources at it, then deletes the old resource during UPDATE_COMPLETE_CLEANUP_IN_PROGRESS.",
     reference=BEHAVIOR,
     test=T + "test_a_changed_cidr_and_zone_replace_the_subnet_with_a_new_id")
def patch_update_engine() -> None:
    from moto.cloudformation.models import CloudFormationBackend, Stack

    def update(self, template, role_arn=None, parameters=None, tags=None):
        parsed = self.parse_template(template) if isinstance(template, str) else template
        if not run_update(self, template, parsed, dict(parameters or {})):
            return
        self.role_arn = role_arn
        if tags is not None:
            self.tags = tags

    def update_stack(self, name, template, role_arn, parameters, tags):
        stack = self.get_stack(name)
        resolved = self._resolve_update_parameters(instance=stack, incoming_params=parameters)
        stack.update(template, role_arn, parameters=resolved, tags=tags)
        return stack

    Stack.update = update
    CloudFormationBackend.update_stack = update_stack


@gap("cloudformation-custom-named-replacement",
     summary="Updates: replacing a custom-named resource (its name property set and unchanged) succeeded (patched: "
             "the update fails with CloudFormation's message and rolls back to UPDATE_ROLLBACK_COMPLETE)",
     aws=CUSTOM_NAMED.format(name="<name>") + " You can't perform an update that causes a custom-named resource "
         "to be replaced; specify a new name.",
     reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html",
     test=T + "test_replacing_a_custom_named_parameter_group_fails_and_rolls_back")
def patch_custom_named() -> None:
    """Carried out by run_update (custom_name_conflict before each replacement)."""


@gap("cloudformation-update-rollback",
     summary="Failed updates: an error in one resource answered the UpdateStack call with an error and left the "
             "stack half-updated (patched: the resource ends *_FAILED with its reason, the stack rolls back to its "
             "previous template, parameters and resources and ends UPDATE_ROLLBACK_COMPLETE)",
     aws="If a resource fails to update, CloudFormation rolls the stack back to the last known working state: "
         "UPDATE_ROLLBACK_IN_PROGRESS, then UPDATE_ROLLBACK_COMPLETE, with the failure in the stack events.",
     reference=GUIDE + "using-cfn-updating-stacks.html",
     test=T + "test_a_failed_update_rolls_back_template_parameters_and_resources")
def patch_update_rollback() -> None:
    """Carried out by run_update (_roll_back)."""


@gap("cloudformation-update-keeps-resources",
     summary="Updates of a resource type moto cannot update (RDS, secrets, ...) dropped the resource from the stack "
             "(patched: it stays, as an in-place update on AWS would leave it)",
     aws="An update without interruption leaves the resource in the stack with the same physical ID.",
     reference=BEHAVIOR,
     test=T + "test_a_modified_resource_moto_cannot_update_stays_in_the_stack")
def patch_updates_keep_resources() -> None:
    from moto.cloudformation import parsing

    original = parsing.parse_and_update_resource

    def parse_and_update_resource(logical_id, resource_json, resources_map, account_id, region_name):
        updated = original(logical_id, resource_json, resources_map, account_id, region_name)
        if updated is None and logical_id in resources_map._parsed_resources:
            return resources_map._parsed_resources[logical_id]
        return updated

    parsing.parse_and_update_resource = parse_and_update_resource


@gap("cloudformation-dynamic-unchanged",
     summary="Updates: a resource that only reads (Fn::GetAtt) a modified resource was updated again even when what "
             "it reads had not changed, and moto's update re-registers a task definition and revokes a security "
             "group rule it re-creates (patched: such a resource is resolved at run time and updated only when its "
             "resolved properties differ)",
     aws="A change whose Evaluation is Dynamic is decided when the stack is updated: CloudFormation resolves the "
         "Ref or Fn::GetAtt then, and a resource whose resolved properties are the same is not updated (a "
         "Conditional replacement happens only if the value changes).",
     reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChangeDetail.html",
     test=T + "test_a_rule_that_reads_a_group_updated_in_place_is_left_alone")
def patch_dynamic_unchanged() -> None:
    """Carried out by run_update (dynamic_only, then _resolved before and after)."""


@gap("cloudformation-update-dependency-order",
     summary="Updates applied resources in template order, so a service could be pointed at its old task definition "
             "before the new revision existed (patched: modified resources are updated in dependency order, as "
             "CloudFormation does)",
     aws="CloudFormation updates a resource only after the resources it refers to (Ref, Fn::GetAtt, DependsOn).",
     reference=GUIDE + "stack-failure-options.html",
     test=T + "test_a_service_is_updated_after_the_task_definition_it_refers_to")
def patch_dependency_order() -> None:
    """Carried out by run_update: plan_update lists the changes in dependency order."""


@gap("cloudformation-parameter-only-updates",
     summary="Parameter-only updates: resources that use a parameter only through a Condition (Fn::If) are not "
             "updated, and a change set never sees a parameter-only change, so it is not applied (patched: change "
             "sets compare under the new parameters and re-apply every resource that resolves differently)",
     aws="A new parameter value changes every resource whose properties refer to it, directly or through a "
         "condition (ChangeSource ParameterReference).",
     reference=GUIDE + "using-cfn-updating-stacks-changesets.html",
     test=T + "test_a_parameter_used_through_a_condition_updates_the_resource")
def patch_parameter_only() -> None:
    """Carried out by plan_update (Written puts parameters and conditions in before comparing)."""
