"""The converging update: our template, keeping what the live system chose wherever ours would hurt it.

The first stack-update after `adopt` finds the live stack's own template (renamed to our logical IDs) deployed.
It compares every adopted resource property by property, as written (parameters put in, functions as they
are: see cfn_template.written). Where ours would
- replace the resource (a create-only property, from the provider schema),
- give a secret or parameter a new value (contract.VALUE_PROPERTIES), or
- interrupt it or change its behaviour (guards.INTERRUPTIONS: a restart, connections cut, a protection
  lowered, TLS enforced, tag mutability, shorter retention),
the live value is kept, as the live stack wrote it; every other difference becomes ours. Resources only the
live stack has, and its exports, are carried as they are: nothing live is deleted, and no importing stack
breaks. A kept value that refers to what our template lacks stays as written where it can: a live mapping is
carried (Fn::FindInMap stays), and a live parameter whose value this tool cannot or must not write into a
template (NoEcho: AWS shows ****; an AWS::SSM::Parameter::Value type: read anew at every update) is carried as
a parameter of ours, passed with UsePreviousValue. Any other live parameter and a live condition are put in
(CloudFormation compares values with parameters put in and Fn::If decided).

What is kept is recorded in our template's Metadata (Kept, KeptResources, KeptOutputs, KeptParameters,
KeptMappings), and every later
stack-update keeps it the same way, copied from the deployed template, until `--converge NAME` gives one up:
`--converge Database.EngineVersion` takes our engine version (a restart the interruption guard then names),
`--converge VPCFlowLog` stops carrying a live-only resource (its removal), `--converge Outputs.VPCId` drops an
export.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..cfn_template import SUB_VAR, Resolver, canonical, create_only_properties, written
from ..contract import METADATA_KEY, STATEFUL_TYPES, VALUE_PROPERTIES
from ..errors import UserError
from .guards import DISRUPTED_WHEN_REPLACED, IDENTITY_ATTRIBUTES, WRITES_INTO_A_SECRET, interruption_effect

# Properties that only make sense together: keeping one keeps the others as the live stack has them.
COUPLED: dict[str, tuple[tuple[str, ...], ...]] = {
    "AWS::ECR::Repository": (("ImageTagMutability", "ImageTagMutabilityExclusionFilters"),),
    "AWS::ECS::Service": (("LaunchType", "CapacityProviderStrategy", "PlatformVersion"),),
    "AWS::RDS::DBInstance": (("StorageType", "Iops", "StorageThroughput"),),
}
OUTPUTS = "Outputs"
LEGACY_PINNED = "PinnedValues"   # what the first version of adopt recorded: the value properties it kept


@dataclass(frozen=True)
class Difference:
    """One property of an adopted resource where the live stack and ours differ, as written."""
    logical_id: str
    resource_type: str
    prop: str
    live: Any            # as the live stack wrote it (references renamed to ours)
    ours: Any
    why_kept: str        # why the live value stays ("" when ours is applied)

    @property
    def kept(self) -> bool:
        return bool(self.why_kept)

    @property
    def name(self) -> str:
        return f"{self.logical_id}.{self.prop}"


@dataclass
class Convergence:
    body: dict                                    # what stack-update deploys
    kept: dict[str, list[str]] = field(default_factory=dict)     # logical id -> kept properties
    kept_resources: list[str] = field(default_factory=list)      # live-only resources, carried
    kept_outputs: list[str] = field(default_factory=list)        # live exports, carried
    kept_parameters: list[str] = field(default_factory=list)     # live parameters carried (UsePreviousValue)
    kept_mappings: list[str] = field(default_factory=list)       # live mappings carried
    withheld: list[str] = field(default_factory=list)            # ours, not created: it would re-value a live one
    differences: list[Difference] = field(default_factory=list)  # the first convergence's comparison
    creates: list[tuple[str, str]] = field(default_factory=list)  # (logical id, type) only in ours
    first: bool = False                           # the deployed template was the live stack's own
    given_up: list[str] = field(default_factory=list)

    def names(self) -> list[str]:
        """Every kept item, as `--converge` names it."""
        return sorted([f"{lid}.{p}" for lid, props in self.kept.items() for p in props] + self.kept_resources
                      + self.withheld + [f"{OUTPUTS}.{o}" for o in self.kept_outputs])


def kept_record(template: dict) -> dict:
    """The Kept, KeptResources and KeptOutputs a deployed template of ours records ({} for a foreign one)."""
    meta = (template or {}).get("Metadata", {}).get(METADATA_KEY, {})
    kept = {lid: list(props) for lid, props in (meta.get("Kept") or {}).items()}
    resources = (template or {}).get("Resources", {})
    for lid in meta.get(LEGACY_PINNED, []):   # stacks adopted before Kept existed
        if lid in resources:
            kept.setdefault(lid, [])
            kept[lid] += [p for p in sorted(VALUE_PROPERTIES.get(resources[lid]["Type"], ())) if p not in kept[lid]]
    return {"Kept": kept, "KeptResources": list(meta.get("KeptResources", [])),
            "KeptOutputs": list(meta.get("KeptOutputs", [])), "Withheld": list(meta.get("Withheld", [])),
            "KeptParameters": list(meta.get("KeptParameters", [])), "KeptMappings": list(meta.get("KeptMappings", []))}


def converge(deployed: dict, deployed_parameters: Mapping[str, str], ours: dict, our_parameters: Mapping[str, str],
             *, region: str, pseudo: Mapping[str, str], give_up: Iterable[str] = ()) -> Convergence:
    """The body a stack-update deploys over `deployed`: ours, with what the live system keeps.

    A deployed template of ours (its Metadata has our ContentHash) keeps what its Metadata records; a foreign
    one (the first update after adopt) is compared property by property. `give_up` names kept items to take
    ours for (`--converge`); naming one that is not kept is refused.
    """
    deployed = deployed or {}
    meta = deployed.get("Metadata", {}).get(METADATA_KEY, {})
    if deployed.get("Resources") and not meta.get("ContentHash"):
        result = _first(deployed, deployed_parameters, ours, our_parameters, region, pseudo)
    else:
        result = _steady(deployed, ours)
    _give_up(result, ours, set(give_up))
    _record(result)
    return result


# ---------------------------------------------------------------- the first convergence

class _Live:
    """The live template: its values as written, resolved, and carried into ours."""

    def __init__(self, template: dict, parameters: Mapping[str, str], pseudo: Mapping[str, str],
                 ours: dict, our_parameters: Mapping[str, str]):
        self.template = template
        self.resolver = Resolver(template, parameters, pseudo)
        self.parameters = dict(self.resolver.parameters)
        declared = template.get("Parameters", {}) or {}
        # A live parameter stays a Ref where ours declares it and gives it the same value, and where its value
        # cannot or must not be written into a template (held: carried as a parameter of ours).
        self.held = {name for name, d in declared.items() if isinstance(d, dict) and (
            str(d.get("NoEcho", "")).lower() == "true" or str(d.get("Type", "")).startswith("AWS::SSM::Parameter::"))}
        self.shared = {name for name, value in self.parameters.items() if name not in self.held
                       and name in ours.get("Parameters", {}) and str(our_parameters.get(name)) == str(value)}
        self.our_parameters = set(ours.get("Parameters", {}))
        self.our_parameter_values = our_parameters
        self.our_condition = Resolver(ours, our_parameters, pseudo).condition
        self.our_mappings = ours.get("Mappings", {}) or {}
        self.needed_parameters: set[str] = set()
        self.mappings: dict[str, str] = {}          # live mapping -> its name in ours

    def resources(self) -> dict[str, dict]:
        """The live resources that exist (their Condition, if any, holds)."""
        return {lid: r for lid, r in self.template.get("Resources", {}).items()
                if not r.get("Condition") or self.resolver.condition(r["Condition"])}

    def written(self, value: Any) -> Any:
        return written(value, self.parameters, self.resolver.condition)

    def carry(self, value: Any) -> Any:
        """`value` as it can stand in our template: a live-only parameter, condition or mapping resolved."""
        if isinstance(value, list):
            return [self.carry(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref" and isinstance(arg, str) and arg in self.held:
                self._hold(arg)
                return value
            if key == "Ref" and isinstance(arg, str) and arg in self.parameters and arg not in self.shared:
                return self.parameters[arg]
            if key == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
                return self.carry(arg[1] if self.resolver.condition(arg[0]) else arg[2])
            if key == "Fn::FindInMap" and isinstance(arg, list) and arg and isinstance(arg[0], str):
                return {"Fn::FindInMap": [self._mapping(arg[0]), *self.carry(arg[1:])]}
            if key == "Fn::Sub":
                return {"Fn::Sub": self._sub(arg)}
        return {k: self.carry(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> Any:
        text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, None)
        local = set(variables or {})
        if isinstance(text, str):
            for name in SUB_VAR.findall(text):
                if name in self.held and name not in local:
                    self._hold(name)
            text = SUB_VAR.sub(lambda m: str(self.parameters[m.group(1)]) if (
                m.group(1) in self.parameters and m.group(1) not in self.shared and m.group(1) not in local
                and m.group(1) not in self.held) else m.group(0), text)
        return [text, self.carry(variables)] if variables is not None else text

    def _hold(self, name: str) -> None:
        if name in self.our_parameters:
            raise UserError(f"keeping a live value needs the live parameter {name} (NoEcho or read from SSM, so "
                            f"never written into a template), and ours declares a parameter {name} too; rename "
                            "the live one by hand before adopting (a stack update with the renamed parameter and "
                            "UsePreviousValue for the others)")
        self.needed_parameters.add(name)

    def _mapping(self, name: str) -> str:
        """The name a live mapping goes by in ours: its own, or Live<name> where ours has another by that name."""
        if name not in self.mappings:
            live = (self.template.get("Mappings") or {}).get(name)
            ours = self.our_mappings.get(name)
            target = name if ours is None or canonical(ours) == canonical(live) else f"Live{name}"
            while target != name and target in self.our_mappings:
                target = f"Live{target}"
            self.mappings[name] = target
        return self.mappings[name]

    def declarations(self) -> tuple[dict[str, dict], dict[str, dict]]:
        """The live parameters and mappings the carried values need, as ours will declare them."""
        declared = self.template.get("Parameters", {}) or {}
        parameters = {n: copy.deepcopy(declared[n]) for n in sorted(self.needed_parameters)}
        mappings = {target: copy.deepcopy((self.template.get("Mappings") or {})[name])
                    for name, target in sorted(self.mappings.items()) if target not in self.our_mappings}
        return parameters, mappings


def _first(deployed: dict, deployed_parameters: Mapping[str, str], ours: dict, our_parameters: Mapping[str, str],
           region: str, pseudo: Mapping[str, str]) -> Convergence:
    live = _Live(deployed, deployed_parameters, pseudo, ours, our_parameters)
    mine = Resolver(ours, our_parameters, pseudo)
    body = copy.deepcopy(ours)
    result = Convergence(body, first=True)
    live_resources = live.resources()
    our_resources = {lid: r for lid, r in body.get("Resources", {}).items()
                     if not r.get("Condition") or mine.condition(r["Condition"])}
    for lid, theirs in sorted(live_resources.items()):
        resource = our_resources.get(lid)
        if resource is None:
            body["Resources"][lid] = _carried_resource(live, theirs, set(body["Resources"]) | set(live_resources))
            result.kept_resources.append(lid)
            continue
        if resource["Type"] != theirs["Type"]:
            raise UserError(f"{lid} is {theirs['Type']} in the live stack but {resource['Type']} in ours; "
                            "adopt matched them wrongly: settle it with `invoke adopt --map`")
        result.differences += _compare(lid, theirs, resource, live, mine, our_parameters, region)
    result.differences = _keep_standalone_rules(result.differences, live_resources)
    result.differences = _keep_what_would_recreate(result.differences, live_resources, region)
    for d in result.differences:
        if d.kept:
            result.kept.setdefault(d.logical_id, []).append(d.prop)
    for lid, props in result.kept.items():
        _keep(body["Resources"][lid], live_resources[lid], props, live)
    for lid, resource in sorted(our_resources.items()):
        if lid not in live_resources and _writes_into_live_secret(resource, live_resources):
            del body["Resources"][lid]
            result.withheld.append(lid)
    result.creates = sorted((lid, r["Type"]) for lid, r in our_resources.items()
                            if lid not in live_resources and lid not in result.withheld)
    _carry_exports(result, live)
    parameters, mappings = live.declarations()
    body.setdefault("Parameters", {}).update(parameters)
    if mappings:
        body.setdefault("Mappings", {}).update(mappings)
    result.kept_parameters, result.kept_mappings = sorted(parameters), sorted(mappings)
    return result


def _writes_into_live_secret(resource: dict, live_resources: dict[str, dict]) -> bool:
    """A SecretTargetAttachment on a secret the live stack already has: creating it writes into its value."""
    from ..cfn_template import referenced_ids

    if resource["Type"] != WRITES_INTO_A_SECRET:
        return False
    secret = referenced_ids(resource.get("Properties", {}).get("SecretId"))
    return any(live_resources.get(s, {}).get("Type") == "AWS::SecretsManager::Secret" for s in secret)


def _compare(lid: str, theirs: dict, resource: dict, live: _Live, mine: Resolver, our_parameters: Mapping[str, str],
             region: str) -> list[Difference]:
    kind = resource["Type"]
    live_props, our_props = theirs.get("Properties") or {}, resource.get("Properties") or {}
    create_only = create_only_properties(kind, region)
    found = []
    for prop in sorted(set(live_props) | set(our_props)):
        before = live.written(live_props.get(prop))
        after = written(our_props.get(prop), our_parameters, mine.condition)
        if canonical(before) == canonical(after):
            continue
        why = ""
        if prop in VALUE_PROPERTIES.get(kind, ()):
            why = "keeps the value set by hand (a new one would overwrite it)"
        elif prop in create_only:
            why = "a different value would replace the resource (create-only property)"
        else:
            effect = interruption_effect(kind, prop, live.resolver.value(live_props.get(prop)),
                                         mine.value(our_props.get(prop)))
            if effect:
                why = effect
        found.append(Difference(lid, kind, prop, before, after, why))
    for attribute in POLICIES:
        live_policy, our_policy = theirs.get(attribute), resource.get(attribute)
        if _strength(our_policy) < _strength(live_policy):
            found.append(Difference(lid, kind, attribute, live_policy, our_policy,
                                    f"lowers a protection: {attribute} {live_policy} -> {our_policy or 'Delete'}"))
    kept = {d.prop for d in found if d.kept}
    for group in COUPLED.get(kind, ()):
        if kept & set(group):
            for d in list(found):
                if d.prop in group and not d.kept:
                    found[found.index(d)] = Difference(d.logical_id, d.resource_type, d.prop, d.live, d.ours,
                                                       f"goes with {', '.join(sorted(kept & set(group)))}")
    return found


# A security group's rules written as separate resources, and the group property the same rules would take inline.
RULE_PROPERTY = {"AWS::EC2::SecurityGroupIngress": "SecurityGroupIngress",
                 "AWS::EC2::SecurityGroupEgress": "SecurityGroupEgress"}


def _keep_standalone_rules(differences: list[Difference], live_resources: dict[str, dict]) -> list[Difference]:
    """Where the live stack writes a group's rules as separate resources, the group's inline rules stay as they
    are: inline rules beside separate ones fight over the same rules (an update of the group rewrites its rules
    to the inline list and revokes the others)."""
    from ..cfn_template import referenced_ids

    owners: dict[tuple[str, str], list[str]] = {}
    for lid, resource in sorted(live_resources.items()):
        prop = RULE_PROPERTY.get(resource["Type"])
        if prop:
            for group in referenced_ids((resource.get("Properties") or {}).get("GroupId")):
                owners.setdefault((group, prop), []).append(lid)
    return [Difference(d.logical_id, d.resource_type, d.prop, d.live, d.ours,
                       f"the live stack writes these rules as separate resources "
                       f"({', '.join(owners[(d.logical_id, d.prop)])}); inline rules beside them would overwrite them")
            if (d.logical_id, d.prop) in owners and not d.kept else d for d in differences]


def _keep_what_would_recreate(differences: list[Difference], live_resources: dict[str, dict],
                              region: str) -> list[Difference]:
    """Keep X as it is where changing it in place would put another live resource at risk of re-creation.

    CloudFormation cannot know beforehand whether an attribute of a modified resource changes, so a create-only
    property that reads one (Fn::GetAtt) makes its resource "possibly replaced" (Conditional). An identity
    attribute (GroupId, Arn, AllocationId...) of a resource changed in place cannot change (guards.settle says
    so); any other (a database's Endpoint.Address) might. Where the resource reading it is stateful or disrupted
    by re-creation, the change to X waits.
    """
    from ..cfn_template import referenced_attributes

    while True:
        changed = {d.logical_id for d in differences if not d.kept}
        holding: dict[str, str] = {}
        for lid, resource in live_resources.items():
            kind = resource["Type"]
            if kind not in STATEFUL_TYPES and kind not in DISRUPTED_WHEN_REPLACED:
                continue
            for prop in create_only_properties(kind, region) & set(resource.get("Properties") or {}):
                for target, attribute in referenced_attributes(resource["Properties"][prop]):
                    if target in changed and attribute not in ("", *IDENTITY_ATTRIBUTES) and target not in holding:
                        holding[target] = f"keeps {lid} from re-creation (its {prop} reads {target}.{attribute})"
        if not holding:
            return differences
        differences = [Difference(d.logical_id, d.resource_type, d.prop, d.live, d.ours, holding[d.logical_id])
                       if d.logical_id in holding and not d.kept else d for d in differences]


# Resource attributes that protect what a deletion or a replacement would leave: kept where ours is weaker.
POLICIES = ("DeletionPolicy", "UpdateReplacePolicy")


def _strength(policy: Any) -> int:
    return {"Retain": 3, "RetainExceptOnCreate": 3, "Snapshot": 2}.get(str(policy or "Delete"), 0)


def _put(resource: dict, source: dict, prop: str, value: Any) -> None:
    """Set `prop` of our resource: a policy at the resource's top level, anything else among its Properties."""
    target = resource if prop in POLICIES else resource.setdefault("Properties", {})
    if prop in source:
        target[prop] = value
    else:
        target.pop(prop, None)


def _keep(resource: dict, theirs: dict, props: Iterable[str], live: _Live) -> None:
    """Put the live values of `props` into our resource (a property the live stack leaves out is left out)."""
    target = resource.setdefault("Properties", {})
    source = theirs.get("Properties") or {}
    for prop in props:
        if prop in POLICIES:
            _put(resource, theirs, prop, theirs.get(prop))
            continue
        if prop in source:
            target[prop] = live.carry(source[prop])
        else:
            target.pop(prop, None)


def _carried_resource(live: _Live, resource: dict, known: set[str]) -> dict:
    carried = {k: live.carry(v) for k, v in resource.items() if k not in ("Condition", "DependsOn")}
    depends = resource.get("DependsOn")
    depends = [depends] if isinstance(depends, str) else list(depends or [])
    depends = [d for d in depends if d in known]
    if depends:
        carried["DependsOn"] = depends
    return carried


def _carry_exports(result: Convergence, live: _Live) -> None:
    """The live outputs with an Export, carried: no importing stack loses what it imports."""
    outputs = result.body.setdefault(OUTPUTS, {})
    for key, output in sorted(live.template.get(OUTPUTS, {}).items()):
        if "Export" not in output or (output.get("Condition") and not live.resolver.condition(output["Condition"])):
            continue
        carried = {k: live.carry(v) for k, v in output.items() if k != "Condition"}
        if key in outputs and canonical(live.written(output.get("Value"))) == canonical(
                written(outputs[key].get("Value"), live.our_parameter_values, live.our_condition)):
            outputs[key]["Export"] = carried["Export"]   # the same value: ours exports it under the live name
        elif key in outputs:
            # Ours gives this output another value (and this tool reads ours by its key): the live export is
            # carried beside it, under a key of its own, with its own value; ours stays unexported.
            target = f"Live{key}"
            while target in outputs:
                target = f"Live{target}"
            outputs[target] = carried
            key = target
        else:
            outputs[key] = carried
        result.kept_outputs.append(key)


def _export_name(output: dict) -> str:
    name = output.get("Export", {}).get("Name")
    return name if isinstance(name, str) else json.dumps(name, sort_keys=True)


# ---------------------------------------------------------------- every later convergence

def _steady(deployed: dict, ours: dict) -> Convergence:
    record = kept_record(deployed)
    result = Convergence(copy.deepcopy(ours))
    _steady_resources(result, deployed, record)
    body = result.body
    for name in record["KeptParameters"]:
        if name in deployed.get("Parameters", {}):
            body.setdefault("Parameters", {})[name] = copy.deepcopy(deployed["Parameters"][name])
            result.kept_parameters.append(name)
    for name in record["KeptMappings"]:
        if name in deployed.get("Mappings", {}):
            body.setdefault("Mappings", {})[name] = copy.deepcopy(deployed["Mappings"][name])
            result.kept_mappings.append(name)
    outputs = body.setdefault(OUTPUTS, {})
    for key in record["KeptOutputs"]:
        output = deployed.get(OUTPUTS, {}).get(key)
        if output is None:
            continue
        if key in outputs and "Export" in output:
            outputs[key]["Export"] = copy.deepcopy(output["Export"])
        else:
            outputs[key] = copy.deepcopy(output)
        result.kept_outputs.append(key)
    return result


def _steady_resources(result: Convergence, deployed: dict, record: dict) -> None:
    """The kept properties, carried live-only resources and withheld ones, as the deployed template has them."""
    body, deployed_resources = result.body, deployed.get("Resources", {})
    for lid, props in record["Kept"].items():
        if lid not in body.get("Resources", {}) or lid not in deployed_resources:
            continue
        if body["Resources"][lid]["Type"] != deployed_resources[lid]["Type"]:
            continue
        source = deployed_resources[lid].get("Properties") or {}
        for prop in props:
            if prop in POLICIES:
                _put(body["Resources"][lid], deployed_resources[lid], prop, deployed_resources[lid].get(prop))
            else:
                _put(body["Resources"][lid], source, prop, copy.deepcopy(source.get(prop)))
        result.kept[lid] = list(props)
    for lid in record["KeptResources"]:
        if lid in deployed_resources and lid not in body.get("Resources", {}):
            body["Resources"][lid] = copy.deepcopy(deployed_resources[lid])
            result.kept_resources.append(lid)
    for lid in record["Withheld"]:
        if lid in body.get("Resources", {}) and lid not in deployed_resources:
            del body["Resources"][lid]
            result.withheld.append(lid)


# ---------------------------------------------------------------- giving a kept choice up, and the record

def _give_up(result: Convergence, ours: dict, names: set[str]) -> None:
    """Take ours for each named kept item: a property, every kept property of a resource, a carried live-only
    resource (then removed from the stack), or a carried export (`Outputs.KEY`)."""
    if not names:
        return
    known = set(result.names()) | set(result.kept)
    unknown = sorted(names - known)
    if unknown:
        raise UserError(f"--converge {unknown[0]}: nothing of that name is kept; kept: "
                        + (", ".join(result.names()) or "nothing"))
    body = result.body
    for name in sorted(names):
        head, _, prop = name.partition(".")
        if head == OUTPUTS:
            result.kept_outputs.remove(prop)
            if prop in ours.get(OUTPUTS, {}):
                body[OUTPUTS][prop] = copy.deepcopy(ours[OUTPUTS][prop])
            else:
                body[OUTPUTS].pop(prop, None)
            result.given_up.append(name)
        elif head in result.kept_resources and not prop:
            result.kept_resources.remove(head)
            body["Resources"].pop(head, None)
            result.given_up.append(name)
        elif head in result.withheld and not prop:
            result.withheld.remove(head)
            body["Resources"][head] = copy.deepcopy(ours["Resources"][head])
            result.given_up.append(name)
        else:
            for p in ([prop] if prop else list(result.kept.get(head, []))):
                if p in POLICIES:
                    _put(body["Resources"][head], ours["Resources"][head], p, ours["Resources"][head].get(p))
                else:
                    mine = ours["Resources"][head].get("Properties") or {}
                    _put(body["Resources"][head], mine, p, copy.deepcopy(mine.get(p)))
                result.kept[head].remove(p)
                result.given_up.append(f"{head}.{p}")
            if not result.kept.get(head):
                result.kept.pop(head, None)


def _record(result: Convergence) -> None:
    meta = result.body.setdefault("Metadata", {}).setdefault(METADATA_KEY, {})
    meta.pop(LEGACY_PINNED, None)
    for key, value in (("Kept", {lid: sorted(props) for lid, props in sorted(result.kept.items()) if props}),
                       ("KeptResources", sorted(result.kept_resources)),
                       ("KeptOutputs", sorted(result.kept_outputs)), ("Withheld", sorted(result.withheld)),
                       ("KeptParameters", sorted(result.kept_parameters)),
                       ("KeptMappings", sorted(result.kept_mappings))):
        if value:
            meta[key] = value
        else:
            meta.pop(key, None)
