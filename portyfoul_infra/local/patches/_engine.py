"""Stack operations as CloudFormation carries them out: resource events, failure, rollback, cleanup.

Shared by the CloudFormation patch modules. Nothing here registers a patch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ._template import canonical, dependency_order, name_property

REPLACING = "Requested update requires the creation of a new physical resource; hence creating one."
CUSTOM_NAMED = ("CloudFormation cannot update a stack when a custom-named resource requires replacing. "
                "Rename {name} and update the stack again.")


class Failure(Exception):
    """A resource (or the stack, logical_id "") that failed: the operation rolls back."""

    def __init__(self, logical_id: str, status: str, reason: str):
        super().__init__(reason)
        self.logical_id, self.status, self.reason = logical_id, status, reason


def message(error: Exception) -> str:
    return str(getattr(error, "message", None) or getattr(error, "description", None) or error)


def event(stack, logical_id: str, status: str, reason: str | None = None, resource_type: str = "",
          physical_id: str = "") -> None:
    """A resource event (or, for the stack's own name, a stack event)."""
    from moto.cloudformation.models import Event

    if logical_id == stack.name:
        stack._add_stack_event(status, resource_status_reason=reason)
        return
    stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
                              physical_resource_id=physical_id or "", resource_type=resource_type,
                              resource_status=status, resource_status_reason=reason, resource_properties=None))


def set_status(stack, status: str, reason: str | None = None) -> None:
    stack.status = status
    stack.status_reason = reason
    event(stack, stack.name, status, reason)


def physical_id(model: Any) -> str:
    value = getattr(model, "physical_resource_id", "") if model is not None else ""
    return value if isinstance(value, str) else ""


def model_of(resource_map, logical_id: str):
    model = resource_map._parsed_resources.get(logical_id)
    return None if isinstance(model, (str, int, float, list, dict)) else model


@dataclass
class Snapshot:
    """What a rollback puts back."""
    template: Any
    template_dict: dict
    parameters: dict
    map_template: dict
    json_map: dict
    parsed: dict
    input_parameters: dict
    resolved: dict
    conditions: Any
    output_map: Any
    tags: dict

    @classmethod
    def of(cls, stack) -> "Snapshot":
        rm = stack.resource_map
        return cls(stack.template, stack.template_dict, dict(stack.parameters or {}), rm._template,
                   rm._resource_json_map, dict(rm._parsed_resources), dict(rm.input_parameters or {}),
                   dict(rm.resolved_parameters), getattr(rm, "lazy_condition_map", {}), stack.output_map,
                   dict(stack.tags or {}))

    def restore(self, stack) -> None:
        rm = stack.resource_map
        stack.template, stack.template_dict, stack.parameters = self.template, self.template_dict, self.parameters
        rm._template, rm._resource_json_map = self.map_template, self.json_map
        rm._parsed_resources.clear()
        rm._parsed_resources.update(self.parsed)
        rm.input_parameters, rm.resolved_parameters = self.input_parameters, self.resolved
        rm.lazy_condition_map, stack.output_map, stack.tags = self.conditions, self.output_map, self.tags


@dataclass
class Progress:
    created: list = field(default_factory=list)      # (logical id, model, json)
    updated: list = field(default_factory=list)      # (logical id, old json)
    replaced: list = field(default_factory=list)     # (logical id, old model, old json)

    @property
    def replaced_ids(self) -> set[str]:
        return {lid for lid, _, _ in self.replaced}

    @property
    def changed_ids(self) -> set[str]:
        return self.replaced_ids | {lid for lid, _ in self.updated} | {lid for lid, _, _ in self.created}


def delete_model(stack, logical_id: str, model, resource_json: dict, policy: str) -> None:
    """Delete one resource as CloudFormation would under `policy` (Delete | Retain | Snapshot)."""
    if model is None or policy in ("Retain", "RetainExceptOnCreate"):
        return
    rm = stack.resource_map
    if policy == "Snapshot" and resource_json.get("Type") == "AWS::RDS::DBInstance":
        from .rds import final_snapshot
        final_snapshot(stack.account_id, stack.region_name, stack.name, logical_id, model)
    rm._delete_resource(model, resource_json)


def load_template(stack, body, template: dict, parameters: dict) -> None:
    """Point the stack and its resource map at a new template and parameters (resources untouched)."""
    rm = stack.resource_map
    stack.template, stack.template_dict = body, template
    rm._template = template
    rm.input_parameters = dict(parameters)
    rm.resolved_parameters = {}
    rm.load_mapping()
    rm.load_parameters()
    rm.load_conditions()
    rm._resource_json_map = template.get("Resources", {})


def create_resource(stack, logical_id: str, progress: Progress, status_prefix: str = "CREATE") -> None:
    rm = stack.resource_map
    resource_json = rm._resource_json_map[logical_id]
    kind = resource_json.get("Type", "")
    event(stack, logical_id, f"{status_prefix}_IN_PROGRESS", resource_type=kind)
    try:
        model = rm[logical_id]
    except Exception as error:  # noqa: BLE001 - any provider error fails the resource, as on AWS
        rm._parsed_resources.pop(logical_id, None)
        raise Failure(logical_id, f"{status_prefix}_FAILED", message(error)) from error
    _tag_ec2(rm, logical_id, model)
    progress.created.append((logical_id, model, resource_json))
    event(stack, logical_id, f"{status_prefix}_COMPLETE", resource_type=kind, physical_id=physical_id(model))


def _tag_ec2(rm, logical_id: str, model) -> None:
    """The aws:cloudformation:* tags CloudFormation puts on the EC2 resources it creates."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.core import TaggedEC2Resource

    if isinstance(model, TaggedEC2Resource):
        tags = {**rm.tags, "aws:cloudformation:stack-name": rm["AWS::StackName"],
                "aws:cloudformation:stack-id": rm["AWS::StackId"], "aws:cloudformation:logical-id": logical_id}
        ec2_backends[rm._account_id][rm._region_name].create_tags([model.physical_resource_id], tags)


def custom_name_conflict(stack, logical_id: str, old_json: dict, new_json: dict, written_old, written_new) -> str:
    """The refusal when a replacement would need a second resource of the same custom name ("" if none)."""
    prop = name_property(new_json.get("Type", ""))
    old_props, new_props = old_json.get("Properties") or {}, new_json.get("Properties") or {}
    if not prop or prop not in new_props or prop not in old_props:
        return ""
    if canonical(written_old.value(old_props[prop])) != canonical(written_new.value(new_props[prop])):
        return ""
    from moto.cloudformation import parsing
    try:
        name = parsing.clean_json(new_props[prop], stack.resource_map)
    except Exception:  # noqa: BLE001
        name = new_props[prop]
    return CUSTOM_NAMED.format(name=name if isinstance(name, str) else json.dumps(name))


def replace_resource(stack, logical_id: str, old_json: dict, progress: Progress) -> None:
    from moto.cloudformation import parsing

    rm = stack.resource_map
    new_json = rm._resource_json_map[logical_id]
    old_model = model_of(rm, logical_id)
    event(stack, logical_id, "UPDATE_IN_PROGRESS", REPLACING, new_json.get("Type", ""), physical_id(old_model))
    try:
        model = parsing.parse_and_create_resource(logical_id, new_json, rm, rm._account_id, rm._region_name)
    except Exception as error:  # noqa: BLE001
        raise Failure(logical_id, "UPDATE_FAILED", message(error)) from error
    rm._parsed_resources[logical_id] = model
    _tag_ec2(rm, logical_id, model)
    progress.replaced.append((logical_id, old_model, old_json))
    event(stack, logical_id, "UPDATE_COMPLETE", resource_type=new_json.get("Type", ""), physical_id=physical_id(model))


def update_resource(stack, logical_id: str, old_json: dict, progress: Progress) -> None:
    from moto.cloudformation import parsing

    rm = stack.resource_map
    new_json = rm._resource_json_map[logical_id]
    kind = new_json.get("Type", "")
    event(stack, logical_id, "UPDATE_IN_PROGRESS", resource_type=kind, physical_id=physical_id(model_of(rm, logical_id)))
    try:
        model = parsing.parse_and_update_resource(logical_id, new_json, rm, rm._account_id, rm._region_name)
    except Exception as error:  # noqa: BLE001
        raise Failure(logical_id, "UPDATE_FAILED", message(error)) from error
    if model is not None:
        rm._parsed_resources[logical_id] = model
    progress.updated.append((logical_id, old_json))
    event(stack, logical_id, "UPDATE_COMPLETE", resource_type=kind, physical_id=physical_id(model))


def undo(stack, snapshot: Snapshot, progress: Progress) -> None:
    """Put every resource back as it was before the operation (best effort, as a rollback is)."""
    from moto.cloudformation import parsing

    rm = stack.resource_map
    created = list(progress.created) + [(lid, model_of(rm, lid), rm._resource_json_map.get(lid, {}))
                                        for lid, _, _ in progress.replaced]
    snapshot.restore(stack)
    for logical_id, old_json in reversed(progress.updated):
        try:
            parsing.parse_and_update_resource(logical_id, old_json, rm, rm._account_id, rm._region_name)
        except Exception:  # noqa: BLE001 - a rollback goes on past what it cannot undo
            pass
    for _logical_id, model, resource_json in reversed(created):
        try:
            if model is not None:
                rm._delete_resource(model, resource_json)
        except Exception:  # noqa: BLE001
            pass


def delete_in_order(stack, resources: dict, models: dict, policies: dict) -> list[str]:
    """Delete `resources` (logical id -> json) dependents first; the logical ids that failed to delete."""
    failed = []
    for logical_id in reversed(dependency_order(resources)):
        model = models.get(logical_id)
        kind = resources[logical_id].get("Type", "")
        policy = policies.get(logical_id) or "Delete"
        if model is None:
            continue
        if policy in ("Retain", "RetainExceptOnCreate"):
            event(stack, logical_id, "DELETE_SKIPPED", resource_type=kind, physical_id=physical_id(model))
            continue
        event(stack, logical_id, "DELETE_IN_PROGRESS", resource_type=kind, physical_id=physical_id(model))
        try:
            delete_model(stack, logical_id, model, resources[logical_id], policy)
        except Exception as error:  # noqa: BLE001
            failed.append(logical_id)
            event(stack, logical_id, "DELETE_FAILED", message(error), kind, physical_id(model))
            continue
        event(stack, logical_id, "DELETE_COMPLETE", resource_type=kind, physical_id=physical_id(model))
    return failed
