"""What an update changes, decided as CloudFormation decides it: one plan for the change set and the execution.

A property changes statically when its value as written (parameters, conditions and mappings put in)
differs; dynamically when it refers to a resource that is replaced (Ref) or modified (Fn::GetAtt).
A create-only property (provider schema) that changes statically means Replacement True; dynamically,
Conditional.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from ._template import Written, canonical, create_only, dependency_order, references

ATTRIBUTES = ("Metadata", "DeletionPolicy", "UpdateReplacePolicy")


@dataclass
class Detail:
    attribute: str                      # Properties | Tags | Metadata | DeletionPolicy | UpdateReplacePolicy
    name: Optional[str]                 # the property, for Properties
    recreation: str                     # Never | Conditionally | Always
    evaluation: str                     # Static | Dynamic
    source: str                         # DirectModification | ParameterReference | ResourceReference | ResourceAttribute
    causing_entity: Optional[str] = None
    before: Any = None
    after: Any = None
    change_type: str = "Modify"         # Add | Remove | Modify


@dataclass
class ResourcePlan:
    logical_id: str
    resource_type: str
    action: str                         # Add | Modify | Remove | Import
    replacement: str = ""               # True | Conditional | False ("" for Add/Remove/Import)
    details: list[Detail] = field(default_factory=list)
    policy_action: str = ""
    physical_id: str = ""

    @property
    def scope(self) -> list[str]:
        return sorted({d.attribute for d in self.details})


def _static_details(logical_id: str, old: dict, new: dict, before: Written, after: Written) -> list[Detail]:
    details = []
    old_props, new_props = old.get("Properties") or {}, new.get("Properties") or {}
    recreate = create_only(new.get("Type", ""))
    for prop in sorted(set(old_props) | set(new_props)):
        a, b = before.value(old_props.get(prop)), after.value(new_props.get(prop))
        if canonical(a) == canonical(b):
            continue
        raw_same = canonical(old_props.get(prop)) == canonical(new_props.get(prop))
        causes = sorted(after.parameter_refs(new_props.get(prop))) if raw_same else []
        kind = "Add" if prop not in old_props else "Remove" if prop not in new_props else "Modify"
        details.append(Detail(
            "Tags" if prop == "Tags" else "Properties", None if prop == "Tags" else prop,
            "Always" if prop in recreate else "Never", "Static",
            "ParameterReference" if raw_same else "DirectModification", causes[0] if causes else None,
            old_props.get(prop), new_props.get(prop), kind))
    for attribute in ATTRIBUTES:
        if canonical(old.get(attribute)) != canonical(new.get(attribute)):
            details.append(Detail(attribute, None, "Never", "Static", "DirectModification",
                                  before=old.get(attribute), after=new.get(attribute)))
    return details


def _dynamic_details(resource: dict, static: list[Detail], replaced: set[str], modified: set[str]) -> list[Detail]:
    details = []
    recreate = create_only(resource.get("Type", ""))
    changed = {d.name for d in static}
    for prop, value in sorted((resource.get("Properties") or {}).items()):
        if prop in changed:
            continue
        for name, attr in sorted(references(value)):
            if attr and name in modified | replaced:
                source, entity = "ResourceAttribute", f"{name}.{attr}"
            elif not attr and name in replaced:
                source, entity = "ResourceReference", name
            else:
                continue
            details.append(Detail("Tags" if prop == "Tags" else "Properties", None if prop == "Tags" else prop,
                                  "Always" if prop in recreate else "Never", "Dynamic", source, entity,
                                  value, value))
            break
    return details


def _replacement(details: list[Detail]) -> str:
    if any(d.recreation == "Always" and d.evaluation == "Static" for d in details):
        return "True"
    if any(d.recreation in ("Always", "Conditionally") for d in details):
        return "Conditional"
    return "False"


def _policy_action(resource: dict, action: str, replacement: str) -> str:
    if action == "Remove":
        return resource.get("DeletionPolicy") or "Delete"
    if action == "Modify" and replacement in ("True", "Conditional"):
        return "ReplaceAnd" + (resource.get("UpdateReplacePolicy") or "Delete")
    return ""


def plan_update(old_template: dict, old_parameters: dict, new_template: dict, new_parameters: dict,
                physical_ids: Optional[dict] = None) -> list[ResourcePlan]:
    """The resource changes from one template (and parameters) to another, in dependency order."""
    before, after = Written(old_template, old_parameters), Written(new_template, new_parameters)
    old_rs, new_rs = before.resources(), after.resources()
    static = {lid: _static_details(lid, old_rs[lid], new_rs[lid], before, after) for lid in new_rs if lid in old_rs}
    replaced = {lid for lid, ds in static.items() if _replacement(ds) == "True"}
    modified = {lid for lid, ds in static.items() if ds}
    dynamic: dict[str, list[Detail]] = {}
    for _ in range(len(new_rs) + 1):  # until nothing more is reached
        for lid in dependency_order(new_rs, static):
            dynamic[lid] = _dynamic_details(new_rs[lid], static[lid], replaced, modified)
        grown_replaced = {lid for lid in static if _replacement(static[lid] + dynamic[lid]) != "False"}
        grown_modified = {lid for lid in static if static[lid] or dynamic[lid]}
        if grown_replaced == replaced and grown_modified == modified:
            break
        replaced, modified = grown_replaced, grown_modified
    plans = []
    ids = physical_ids or {}
    for lid in dependency_order(new_rs):
        resource = new_rs[lid]
        if lid not in old_rs:
            plans.append(ResourcePlan(lid, resource.get("Type", ""), "Add"))
        elif static[lid] or dynamic[lid]:
            details = static[lid] + dynamic[lid]
            replacement = _replacement(details)
            plans.append(ResourcePlan(lid, resource.get("Type", ""), "Modify", replacement, details,
                                      _policy_action(resource, "Modify", replacement), ids.get(lid, "")))
    for lid in reversed(dependency_order(old_rs)):
        if lid not in new_rs:
            plans.append(ResourcePlan(lid, old_rs[lid].get("Type", ""), "Remove",
                                      policy_action=_policy_action(old_rs[lid], "Remove", ""),
                                      physical_id=ids.get(lid, "")))
    return plans


def as_text(value: Any) -> str:
    """A property value as a change set shows it (strings as they are, anything else as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
