"""Change sets: what would change (Replacement decided as CloudFormation does), property values, execution."""

from __future__ import annotations

import json

from . import gap
from ._engine import physical_id, set_status
from ._plan import ResourcePlan, as_text, plan_update
from ._template import Written, references, with_ssm_values

T = "tests/test_local_cloudformation_changesets.py::"
GUIDE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
API = "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/"
KNOWN_AFTER_APPLY = "{{changeSet:KNOWN_AFTER_APPLY}}"


def _plans(change_set) -> list[ResourcePlan]:
    stack = change_set.stack
    if change_set.change_set_type == "IMPORT":
        from .cloudformation_import import import_plans
        return import_plans(change_set)
    if change_set.change_set_type == "CREATE":
        resources = Written(change_set.template_dict, dict(change_set.parameters or {})).resources()
        from ._template import dependency_order
        return [ResourcePlan(lid, resources[lid].get("Type", ""), "Add") for lid in dependency_order(resources)]
    rm = stack.resource_map
    ids = {lid: physical_id(rm._parsed_resources.get(lid)) for lid in rm._resource_json_map}
    old = with_ssm_values(stack.template_dict, dict(rm.input_parameters or {}), stack.account_id, stack.region_name,
                          dict(rm.resolved_parameters or {}))
    new = with_ssm_values(change_set.template_dict, dict(change_set.parameters or {}), stack.account_id,
                          stack.region_name)
    return plan_update(stack.template_dict, old, change_set.template_dict, new, ids)


@gap("cloudformation-changeset-replacement",
     summary="Change sets: no Replacement, Scope or Details (patched: Replacement is decided by the emulator itself "
             "from the template as written: True when a create-only property of the provider schema changes, "
             "Conditional when it refers to a resource that may be replaced; Details name each changed property "
             "with its Evaluation, ChangeSource and CausingEntity, and PolicyAction is set)",
     aws="Replacement is True when a property that requires replacement changes, Conditional when that depends on "
         "a value CloudFormation knows only at execution (Evaluation Dynamic, e.g. a Ref to a replaced resource).",
     reference=GUIDE + "using-cfn-updating-stacks-changesets-samples.html",
     test=T + "test_a_rewritten_expression_for_a_create_only_property_means_replacement")
def patch_change_set_diff() -> None:
    from moto.cloudformation import models

    def diff(self):
        self.plans = _plans(self)
        return [models.Change(action=p.action, logical_resource_id=p.logical_id, resource_type=p.resource_type)
                for p in self.plans]

    models.ChangeSet.diff = diff


def _before(stack, raw):
    from moto.cloudformation import parsing
    rm = stack.resource_map
    values = with_ssm_values(stack.template_dict, dict(rm.input_parameters or {}), stack.account_id,
                             stack.region_name, dict(rm.resolved_parameters or {}))
    try:
        return parsing.clean_json(Written(stack.template_dict, values).value(raw), rm)
    except Exception:  # noqa: BLE001
        return raw


def _after(change_set, raw, pending: set[str]):
    from moto.cloudformation import parsing
    rm = change_set.stack.resource_map
    names = {name for name, _ in references(raw)}
    unknown = {n for n in names if n in pending or (n in (change_set.template_dict.get("Resources") or {})
                                                      and n not in rm._parsed_resources)}
    if unknown:
        return KNOWN_AFTER_APPLY
    stack = change_set.stack
    values = with_ssm_values(change_set.template_dict, dict(change_set.parameters or {}), stack.account_id,
                             stack.region_name)
    value = Written(change_set.template_dict, values).value(raw)
    try:
        return parsing.clean_json(value, rm)
    except Exception:  # noqa: BLE001
        return value


def _target(change_set, detail, pending: set[str], values: bool) -> dict:
    target = {"Attribute": detail.attribute, "RequiresRecreation": detail.recreation}
    if detail.name:
        target["Name"] = detail.name
    if values:
        target["Path"] = f"/{'Properties' if detail.attribute in ('Properties', 'Tags') else detail.attribute}/" \
                         f"{detail.name or detail.attribute}".rstrip("/")
        if detail.change_type != "Add":
            target["BeforeValue"] = as_text(_before(change_set.stack, detail.before))
        if detail.change_type != "Remove":
            target["AfterValue"] = (KNOWN_AFTER_APPLY if detail.evaluation == "Dynamic"
                                    else as_text(_after(change_set, detail.after, pending)))
        target["AttributeChangeType"] = detail.change_type
    return target


def _context(properties, resolve) -> str:
    return json.dumps({"Properties": {k: resolve(v) for k, v in (properties or {}).items()}}, default=str)


def _resource_change(change_set, plan: ResourcePlan, pending: set[str], values: bool) -> dict:
    change = {"Action": plan.action, "LogicalResourceId": plan.logical_id, "ResourceType": plan.resource_type,
              "Scope": plan.scope, "Details": []}
    if plan.physical_id:
        change["PhysicalResourceId"] = plan.physical_id
    if plan.action == "Modify":
        change["Replacement"] = plan.replacement
    if plan.policy_action:
        change["PolicyAction"] = plan.policy_action
    for d in plan.details:
        detail = {"Target": _target(change_set, d, pending, values), "Evaluation": d.evaluation,
                  "ChangeSource": d.source}
        if d.causing_entity:
            detail["CausingEntity"] = d.causing_entity
        change["Details"].append(detail)
    if values:
        old = (change_set.stack.template_dict.get("Resources") or {}).get(plan.logical_id, {})
        new = (change_set.template_dict.get("Resources") or {}).get(plan.logical_id, {})
        if plan.action in ("Modify", "Remove"):
            change["BeforeContext"] = _context(old.get("Properties"), lambda v: _before(change_set.stack, v))
        if plan.action in ("Modify", "Add", "Import"):
            change["AfterContext"] = _context(new.get("Properties"), lambda v: _after(change_set, v, pending))
    return change


def describe(change_set, values: bool) -> dict:
    plans = getattr(change_set, "plans", None) or []
    pending = {p.logical_id for p in plans if p.action == "Add" or p.replacement in ("True", "Conditional")}
    stack = change_set.stack
    out = {
        "ChangeSetName": change_set.change_set_name, "ChangeSetId": change_set.change_set_id,
        "StackId": stack.stack_id, "StackName": stack.name, "Description": change_set.description,
        "Parameters": [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in (change_set.parameters or {}).items()],
        "CreationTime": change_set.creation_time, "ExecutionStatus": change_set.execution_status,
        "Status": change_set.status, "StatusReason": change_set.status_reason,
        "NotificationARNs": change_set.notification_arns or [],
        "Tags": [{"Key": k, "Value": v} for k, v in (change_set.tags or {}).items()],
        "Changes": [{"Type": "Resource", "ResourceChange": _resource_change(change_set, p, pending, values)}
                    for p in plans],
        "IncludeNestedStacks": False,
    }
    return {k: v for k, v in out.items() if v is not None}


@gap("cloudformation-changeset-property-values",
     summary="DescribeChangeSet with IncludePropertyValues: no BeforeValue, AfterValue or contexts (patched: each "
             "changed property has Path, BeforeValue, AfterValue and AttributeChangeType, and each change its "
             "BeforeContext and AfterContext)",
     aws="With IncludePropertyValues, DescribeChangeSet shows each changed property's value before and after "
         "(Path, BeforeValue, AfterValue, AttributeChangeType) and the resource's properties before and after.",
     reference=API + "API_DescribeChangeSet.html",
     test=T + "test_include_property_values_shows_before_and_after_values")
def patch_describe_change_set() -> None:
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def describe_change_set(self):
        change_set = self.cloudformation_backend.describe_change_set(change_set_name=self._get_param("ChangeSetName"))
        return ActionResult(describe(change_set, self._get_bool_param("IncludePropertyValues", False)))

    CloudFormationResponse.describe_change_set = describe_change_set
    CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER = {  # the answer is built whole above
        k: v for k, v in CloudFormationResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER.items()
        if not k.startswith("DescribeChangeSetOutput.")}


def _execute_create(backend, change_set, stack) -> None:
    from .cloudformation_exports import refresh
    from .cloudformation_lifecycle import create_all

    stack.template, stack.parameters = change_set.template, dict(change_set.parameters or {})
    stack._parse_template()
    stack.resource_map = stack._create_resource_map()
    stack.output_map = stack._create_output_map()
    set_status(stack, "CREATE_IN_PROGRESS", "User Initiated")
    create_all(stack)
    if stack.status == "CREATE_COMPLETE":
        refresh(stack)


@gap("cloudformation-execute-change-set",
     summary="ExecuteChangeSet: outputs, parameters and tags of the stack are not refreshed, and a failure was an "
             "HTTP error instead of a rollback (patched: executed by the same engine as UpdateStack; the change set "
             "ends EXECUTE_COMPLETE, or EXECUTE_FAILED with the stack rolled back)",
     aws="Executing a change set updates the stack as UpdateStack would, with the change set's template, "
         "parameters and tags; a failure rolls the stack back.",
     reference=API + "API_ExecuteChangeSet.html",
     test=T + "test_executing_a_change_set_refreshes_outputs_parameters_and_tags")
def patch_execute_change_set() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend

    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None)
        if change_set is None:
            raise ValidationError(stack_name or change_set_name)
        if change_set.execution_status != "AVAILABLE":
            raise ValidationError(message=f"ChangeSet [{change_set.change_set_id}] cannot be executed in its "
                                          f"current execution status of [{change_set.execution_status}]")
        stack = self.stacks[change_set.stack_id]
        ok = _run(self, change_set, stack)
        change_set.execution_status = "EXECUTE_COMPLETE" if ok else "EXECUTE_FAILED"
        if ok and change_set.tags:
            stack.tags = change_set.tags

    CloudFormationBackend.execute_change_set = execute_change_set


def _run(backend, change_set, stack) -> bool:
    from .cloudformation_updates import run_update

    kind = change_set.change_set_type
    if kind == "CREATE":
        _execute_create(backend, change_set, stack)
        return stack.status == "CREATE_COMPLETE"
    if kind == "IMPORT":
        from .cloudformation_import import execute_import
        return execute_import(change_set, stack)
    return run_update(stack, change_set.template, change_set.template_dict, dict(change_set.parameters or {}))


@gap("cloudformation-changeset-type-default",
     summary="CreateChangeSet without ChangeSetType was a CREATE, so a change set for an existing stack listed every "
             "resource as Add (patched: UPDATE, as on AWS)",
     aws="ChangeSetType: the type of change set operation; to create a change set for a new stack, specify CREATE. "
         "By default, CloudFormation specifies UPDATE.",
     reference=API + "API_CreateChangeSet.html",
     test=T + "test_a_change_set_without_a_type_updates_the_existing_stack")
def patch_change_set_type_default() -> None:
    from moto.cloudformation.responses import CloudFormationResponse

    original = CloudFormationResponse._get_param

    def _get_param(self, param_name, if_none=None):
        if param_name == "ChangeSetType" and if_none == "CREATE":
            if_none = "UPDATE"
        return original(self, param_name, if_none)

    CloudFormationResponse._get_param = _get_param


@gap("cloudformation-ssm-parameters-reread",
     summary="AWS::SSM::Parameter::Value parameters were compared by the name given, so a new value in the SSM "
             "parameter was no change at all (patched: change sets and updates compare the value read at the last "
             "update with the value now, as CloudFormation re-reads them)",
     aws="CloudFormation fetches the values of Systems Manager parameter types at each stack create and update, "
         "also when the parameter is passed with UsePreviousValue; a new value changes what reads it.",
     reference=API + "API_Parameter.html",
     test=T + "test_a_new_value_in_an_ssm_typed_parameter_is_a_change")
def patch_ssm_reread() -> None:
    """_plans and run_update compare with with_ssm_values on both sides; "No updates are to be performed" is
    not said of a stack whose SSM-typed parameters read another value now."""
    from moto.cloudformation.models import Stack
    from moto.cloudformation.responses import CloudFormationResponse

    def reread_differs(stack) -> bool:
        rm = stack.resource_map
        then = with_ssm_values(stack.template_dict, {}, stack.account_id, stack.region_name,
                               dict(rm.resolved_parameters or {}))
        now = with_ssm_values(stack.template_dict, dict(stack.stack_parameters), stack.account_id, stack.region_name)
        return any(str(now.get(k)) != str(v) for k, v in then.items())

    original = CloudFormationResponse._validate_different_update

    def _validate_different_update(self, incoming_params, stack_body, old_stack):
        return None if reread_differs(old_stack) else original(self, incoming_params, stack_body, old_stack)

    has_parameters = Stack.has_parameters

    def has_the_parameters(self, parameters) -> bool:
        return has_parameters(self, parameters) and not reread_differs(self)

    CloudFormationResponse._validate_different_update = _validate_different_update
    Stack.has_parameters = has_the_parameters


@gap("cloudformation-changeset-no-changes",
     summary="CreateChangeSet for a stack whose template and parameters are unchanged answered ValidationError \"No "
             "updates are to be performed\" (UpdateStack's answer), so deploy-role with nothing to change exited 2 "
             "(patched: the change set is created and ends FAILED, ExecutionStatus UNAVAILABLE, \"The submitted "
             "information didn't contain changes\", as on AWS)",
     aws="After the CreateChangeSet call successfully completes, CloudFormation starts creating the change set; one "
         "that would change nothing ends with Status FAILED and StatusReason \"The submitted information didn't "
         "contain changes. Submit different information to create a change set.\" (UpdateStack, not "
         "CreateChangeSet, answers \"No updates are to be performed\").",
     reference=API + "API_CreateChangeSet.html",
     test=T + "test_a_change_set_with_nothing_to_change_ends_failed_not_refused")
def patch_change_set_without_changes() -> None:
    """moto's backend already marks such a change set FAILED; its response layer refused first, with UpdateStack's
    check. The check stays for UpdateStack only."""
    from moto.cloudformation.responses import CloudFormationResponse

    create, validate = CloudFormationResponse.create_change_set, CloudFormationResponse._validate_different_update

    def create_change_set(self):
        self._creating_change_set = True
        try:
            return create(self)
        finally:
            self._creating_change_set = False

    def _validate_different_update(self, incoming_params, stack_body, old_stack):
        if getattr(self, "_creating_change_set", False):
            return None
        return validate(self, incoming_params, stack_body, old_stack)

    CloudFormationResponse.create_change_set = create_change_set
    CloudFormationResponse._validate_different_update = _validate_different_update
