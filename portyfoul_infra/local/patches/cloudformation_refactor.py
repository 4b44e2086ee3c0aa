"""Stack refactoring: the four calls, renaming logical IDs within a stack as CloudFormation does."""

from __future__ import annotations

import itertools
import json

from . import gap
from ._template import rename_resources

T = "tests/test_local_cloudformation_api.py::"
_COUNTER = itertools.count(1)


def _refactors(backend) -> dict:
    if not hasattr(backend, "stack_refactors"):
        backend.stack_refactors = {}
    return backend.stack_refactors


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _check_stack(backend, name: str):
    from moto.cloudformation.exceptions import ValidationError
    try:
        stack = backend.get_stack(name)
    except ValidationError:
        return None, f"Stack {name} does not exist"
    if stack.policy:
        return stack, "Stack refactor does not support stacks with a stack policy attached"
    if stack.status.endswith("_IN_PROGRESS"):
        return stack, f"Stack {stack.name} is in {stack.status} state"
    return stack, ""


def _check_resources(stack, old: dict, new: dict, names: dict) -> str:
    unknown = sorted(set(names) - set(old.get("Resources", {})))
    if unknown:
        return f"Resource mapping source {unknown[0]} is not in stack {stack.name}"
    expected = {names.get(k, k) for k in old.get("Resources", {})}
    if expected != set(new.get("Resources", {})):
        extra = sorted(set(new.get("Resources", {})) - expected)
        missing = sorted(expected - set(new.get("Resources", {})))
        return ("Stack refactor cannot create or delete resources: "
                + (f"new {', '.join(extra)} " if extra else "")
                + (f"missing {', '.join(missing)}" if missing else "")).strip()
    for key in ("Parameters", "Conditions", "Mappings"):
        if not _same(old.get(key), new.get(key)):
            return f"Stack refactor cannot change {key}"
    for logical_id, resource in rename_resources(old, names).get("Resources", {}).items():
        for part in ("Type", "Properties"):
            if not _same(resource.get(part), new["Resources"][logical_id].get(part)):
                return f"Stack refactor cannot modify resource configuration: {logical_id} {part} differs"
    return ""


def validate(backend, definitions: list, mappings: list) -> tuple[str, str]:
    """(status, reason) as CreateStackRefactor's validation would set them."""
    if len(definitions) != 1:
        return "CREATE_FAILED", "the local AWS refactors within one stack only"
    stack, reason = _check_stack(backend, definitions[0]["StackName"])
    if not reason:
        new = stack.parse_template(definitions[0]["TemplateBody"])
        names = {m["Source"]["LogicalResourceId"]: m["Destination"]["LogicalResourceId"] for m in mappings}
        old = stack.parse_template(stack.template) if isinstance(stack.template, str) else stack.template_dict
        reason = _check_resources(stack, old, new, names)
    return ("CREATE_FAILED", reason) if reason else ("CREATE_COMPLETE", "")


def _physical_id(backend, stack_id: str, logical_id: str) -> str:
    try:
        model = backend.get_stack(stack_id).resource_map._parsed_resources.get(logical_id)
    except Exception:  # noqa: BLE001
        return ""
    return getattr(model, "physical_resource_id", "") or ""


def _find(response) -> dict:
    from moto.cloudformation.exceptions import ValidationError
    refactor_id = response._get_param("StackRefactorId")
    found = _refactors(response.cloudformation_backend).get(refactor_id)
    if found is None:
        raise ValidationError(message=f"Stack refactor {refactor_id} does not exist")
    return found


def create_stack_refactor(self):
    from moto.cloudformation.exceptions import ValidationError
    from moto.core.responses import ActionResult

    definitions, mappings = self._get_param("StackDefinitions", []), self._get_param("ResourceMappings", [])
    refactor_id = f"arn:aws:cloudformation:{self.region}:{self.current_account}:stackrefactor/{next(_COUNTER)}"
    status, reason = validate(self.cloudformation_backend, definitions, mappings)
    stack_ids = []
    for d in definitions:
        try:
            stack_ids.append(self.cloudformation_backend.get_stack(d["StackName"]).stack_id)
        except ValidationError:
            pass
    _refactors(self.cloudformation_backend)[refactor_id] = {
        "StackRefactorId": refactor_id, "Description": self._get_param("Description") or "",
        "StackIds": stack_ids, "Status": status, "StatusReason": reason,
        "ExecutionStatus": "AVAILABLE" if status == "CREATE_COMPLETE" else "UNAVAILABLE",
        "definitions": definitions, "mappings": mappings,
    }
    return ActionResult({"StackRefactorId": refactor_id})


def describe_stack_refactor(self):
    from moto.core.responses import ActionResult
    return ActionResult({k: v for k, v in _find(self).items() if k[0].isupper()})


def list_stack_refactor_actions(self):
    from moto.core.responses import ActionResult
    r = _find(self)
    stack_id = r["StackIds"][0] if r["StackIds"] else ""
    return ActionResult({"StackRefactorActions": [{
        "Action": "MOVE", "Entity": "RESOURCE", "Detection": "MANUAL", "Description": "Resource logical ID renamed",
        "ResourceMapping": {"Source": m["Source"], "Destination": m["Destination"]},
        "PhysicalResourceId": _physical_id(self.cloudformation_backend, stack_id, m["Source"]["LogicalResourceId"]),
    } for m in r["mappings"]]})


def execute_stack_refactor(self):
    from moto.cloudformation.exceptions import ValidationError
    from moto.core.responses import EmptyResult

    r = _find(self)
    if r["ExecutionStatus"] != "AVAILABLE":
        raise ValidationError(message=f"Stack refactor is {r['ExecutionStatus']} and cannot be executed")
    stack = self.cloudformation_backend.get_stack(r["definitions"][0]["StackName"])
    names = {m["Source"]["LogicalResourceId"]: m["Destination"]["LogicalResourceId"] for m in r["mappings"]}
    resource_map = stack.resource_map
    parsed = {}
    for old_id, model in resource_map._parsed_resources.items():
        new_id = names.get(old_id, old_id)
        if model is not None and hasattr(model, "logical_resource_id"):
            model.logical_resource_id = new_id
        parsed[new_id] = model
    stack.template = r["definitions"][0]["TemplateBody"]
    stack._parse_template()
    resource_map._template = stack.template_dict
    resource_map._resource_json_map = stack.template_dict["Resources"]
    resource_map._parsed_resources = parsed
    stack.output_map = stack._create_output_map()
    r["ExecutionStatus"] = "EXECUTE_COMPLETE"
    return EmptyResult()


@gap("cloudformation-stack-refactor",
     summary="Stack refactoring (CreateStackRefactor, DescribeStackRefactor, ListStackRefactorActions, "
             "ExecuteStackRefactor): not implemented (patched: logical IDs are renamed in the stack model; a property "
             "change, a missing or extra resource, and a stack with a stack policy are rejected as on AWS)",
     aws="A stack refactor moves or renames resources without replacing them; it refuses resource configuration "
         "changes and resources created or deleted by the refactor.",
     reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-refactoring.html",
     test=T + "test_a_stack_refactor_renames_a_logical_id_and_keeps_the_resource")
def patch_stack_refactor() -> None:
    from moto.cloudformation.responses import CloudFormationResponse

    CloudFormationResponse.create_stack_refactor = create_stack_refactor
    CloudFormationResponse.describe_stack_refactor = describe_stack_refactor
    CloudFormationResponse.list_stack_refactor_actions = list_stack_refactor_actions
    CloudFormationResponse.execute_stack_refactor = execute_stack_refactor
