"""Reading CloudFormation templates that this tool did not write: load, resolve, rename.

- `load_template` takes a body as CloudFormation returns it: JSON (already a
  dict, or text) or YAML with the short-form tags (`!Ref`, `!Sub`, `!GetAtt`,
  ...), decoded by cfn-lint's loader into the long form.
- `Resolver` turns property values into comparable plain values: parameters,
  pseudo parameters, Sub, Join, Select and If are evaluated; a reference to a
  resource stays symbolic (`{"Ref": id}`, `{"Fn::GetAtt": [id, attr]}`), with
  the id passed through a rename map so two templates can be compared.
- `rename_resources` rewrites every logical ID and every reference to it: Ref,
  GetAtt (both forms), ${X} and ${X.Attr} in Sub, DependsOn, and Outputs.
- `create_only_properties` comes from the resource provider schemas cfn-lint ships.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any, Callable, Mapping

from .errors import UserError

SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def load_template(body: Any) -> dict:
    """A template body (dict, JSON text or YAML text with short-form tags) as a plain dict."""
    if isinstance(body, Mapping):
        return json.loads(json.dumps(body))
    if not isinstance(body, str) or not body.strip():
        raise UserError("the live stack's template is empty")
    from cfnlint.decode import decode_str

    template, matches = decode_str(body)
    if template is None or matches:
        detail = "; ".join(str(m.message) for m in (matches or [])[:2])
        raise UserError(f"cannot read the live stack's template: {detail or 'not JSON or YAML'}")
    return json.loads(json.dumps(template))  # cfn-lint's node types as plain dicts, lists and strings


@functools.lru_cache(maxsize=None)
def create_only_properties(resource_type: str, region: str = "us-east-2") -> frozenset[str]:
    """Top-level properties whose change makes CloudFormation replace the resource."""
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception:  # an unknown type: nothing is known to force replacement
        return frozenset()
    return frozenset(p.split("/")[2] for p in schema.get("createOnlyProperties", []) if p.count("/") == 2)


# ---------------------------------------------------------------- resolving values

def canonical(v: Any) -> str:
    """A resolved value as comparable text. CloudFormation passes every scalar as a string, so 7 and "7",
    true and "true" are the same value."""
    def scalar(x: Any) -> Any:
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, (int, float)):
            return str(x)
        if isinstance(x, dict):
            return {k: scalar(y) for k, y in x.items()}
        if isinstance(x, list):
            return [scalar(y) for y in x]
        return x
    return json.dumps(scalar(v), sort_keys=True, default=str)


def written(value: Any, parameters: Mapping[str, Any], conditions: Callable[[str], bool] | None = None) -> Any:
    """`value` as CloudFormation compares it in a change set: parameters put in (Ref and ${Name} in Sub), Fn::If
    decided when `conditions` is given, every other function left as written.

    Two values that differ here are a change, even when they would evaluate alike (a literal Availability
    Zone against Fn::Select of Fn::GetAZs): CloudFormation does not evaluate functions to decide that.
    """
    if isinstance(value, list):
        return [written(v, parameters, conditions) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref" and isinstance(arg, str) and arg in parameters:
            return parameters[arg]
        if key == "Fn::If" and conditions is not None and isinstance(arg, list) and len(arg) == 3:
            return written(arg[1] if conditions(arg[0]) else arg[2], parameters, conditions)
        if key == "Fn::Sub":
            text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
            if isinstance(text, str):
                local = set(variables or {})
                text = SUB_VAR.sub(lambda m: str(parameters[m.group(1)]) if m.group(1) in parameters and
                                    m.group(1) not in local else m.group(0), text)
            return {"Fn::Sub": [text, written(variables, parameters, conditions)] if isinstance(arg, list) else text}
    return {k: written(v, parameters, conditions) for k, v in value.items()}


class Resolver:
    """Evaluates intrinsic functions against parameter values; resource references stay symbolic."""

    def __init__(self, template: dict, parameters: Mapping[str, str], pseudo: Mapping[str, str],
                 rename: Callable[[str], str] = lambda logical_id: logical_id):
        self.template = template
        self.resources = template.get("Resources", {})
        self.parameters = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
        self.parameters.update(parameters)
        self.pseudo = dict(pseudo)
        self.rename = rename
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template.get("Conditions", {}).get(name, True)))
        return self._conditions[name]

    def value(self, v: Any) -> Any:
        if isinstance(v, list):
            return [x for x in (self.value(i) for i in v) if x is not _NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (key, arg), = v.items()
            fn = _FUNCTIONS.get(key)
            if fn is not None:
                return fn(self, arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
        out = {}
        for k, x in v.items():
            resolved = self.value(x)
            if resolved is not _NO_VALUE:
                out[k] = resolved
        return out

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return {"Ref": self.rename(name)}
        return {"Ref": name}

    def sub(self, arg: Any) -> Any:
        text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
        values = {k: self.value(x) for k, x in variables.items()}

        def replace(m: re.Match) -> str:
            name = m.group(1)
            if name in values:
                return _text(values[name])
            head, _, attr = name.partition(".")
            if attr and head in self.resources:
                return "${" + self.rename(head) + "." + attr + "}"
            resolved = self.ref(name)
            return "${" + resolved["Ref"] + "}" if isinstance(resolved, dict) else _text(resolved)

        return SUB_VAR.sub(replace, text)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True)


def _get_att(r: Resolver, arg: Any) -> Any:
    logical_id, attr = (arg[0], arg[1]) if isinstance(arg, list) else arg.split(".", 1)
    return {"Fn::GetAtt": [r.rename(logical_id), r.value(attr)]}


def _join(r: Resolver, arg: Any) -> Any:
    sep, items = arg
    items = r.value(items)
    if isinstance(items, list) and all(isinstance(i, (str, int, float)) for i in items):
        return r.value(sep).join(str(i) for i in items)
    return {"Fn::Join": [sep, items]}


def _select(r: Resolver, arg: Any) -> Any:
    index, items = r.value(arg[0]), r.value(arg[1])
    if isinstance(items, list):
        return items[int(index)]
    return {"Fn::Select": [index, items]}


def _if(r: Resolver, arg: Any) -> Any:
    name, yes, no = arg
    return r.value(yes if r.condition(name) else no)


def _equals(r: Resolver, arg: Any) -> Any:
    a, b = (r.value(x) for x in arg)
    return str(a) == str(b)


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::GetAZs": lambda r, a: {"Fn::GetAZs": r.value(a) or r.pseudo.get("AWS::Region", "")},
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::Not": lambda r, a: not r.value(a[0]),
    "Fn::And": lambda r, a: all(r.value(x) for x in a),
    "Fn::Or": lambda r, a: any(r.value(x) for x in a),
    "Fn::FindInMap": lambda r, a: r.template.get("Mappings", {}).get(r.value(a[0]), {}).get(
        r.value(a[1]), {}).get(r.value(a[2])),
}


def referenced_ids(value: Any) -> set[str]:
    """Every logical ID `value` refers to: Ref, GetAtt, and ${X} or ${X.Attr} in strings (Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str) and len(value) == 1:
            found.add(value["Ref"])
        elif "Fn::GetAtt" in value and len(value) == 1:
            target = value["Fn::GetAtt"]
            found.add(target.split(".")[0] if isinstance(target, str) else target[0])
        else:
            for v in value.values():
                found |= referenced_ids(v)
    elif isinstance(value, list):
        for v in value:
            found |= referenced_ids(v)
    elif isinstance(value, str):
        found |= sub_ids(value)
    return found


def referenced_attributes(value: Any) -> set[tuple[str, str]]:
    """(logical id, attribute) of every Fn::GetAtt and ${X.Attr} in `value` (attribute "" for a Ref or ${X})."""
    found: set[tuple[str, str]] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str) and len(value) == 1:
            found.add((value["Ref"], ""))
        elif "Fn::GetAtt" in value and len(value) == 1:
            target = value["Fn::GetAtt"]
            head, attr = (target.split(".", 1) + [""])[:2] if isinstance(target, str) else (target[0], target[1])
            found.add((head, attr if isinstance(attr, str) else json.dumps(attr)))
        else:
            for v in value.values():
                found |= referenced_attributes(v)
    elif isinstance(value, list):
        for v in value:
            found |= referenced_attributes(v)
    elif isinstance(value, str):
        found |= {(m.split(".")[0], m.partition(".")[2]) for m in re.findall(r"\$\{([^}!]+)\}", value)}
    return found


def sub_ids(text: str) -> set[str]:
    return {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}


# ---------------------------------------------------------------- renaming

def rename_resources(template: dict, mapping: Mapping[str, str]) -> dict:
    """A copy of `template` with resources renamed old -> new and every reference rewritten.

    Nothing else changes: properties, parameters, conditions, mappings and
    outputs keep their values, which is what a stack refactor requires.
    """
    out = copy.deepcopy(template)
    renamer = _Renamer(set(template.get("Resources", {})), mapping)
    resources = {}
    for logical_id, resource in out.get("Resources", {}).items():
        resource = dict(resource)
        for key in ("Properties", "Metadata", "CreationPolicy", "UpdatePolicy"):
            if key in resource:
                resource[key] = renamer.walk(resource[key])
        depends = resource.get("DependsOn")
        if isinstance(depends, str):
            resource["DependsOn"] = renamer.new(depends)
        elif isinstance(depends, list):
            resource["DependsOn"] = [renamer.new(d) for d in depends]
        resources[renamer.new(logical_id)] = resource
    out["Resources"] = resources
    if "Outputs" in out:
        out["Outputs"] = renamer.walk(out["Outputs"])
    return out


class _Renamer:
    """Rewrites references to renamed resources: Ref, GetAtt (both forms), ${X} and ${X.Attr} in Sub."""

    def __init__(self, ids: set[str], mapping: Mapping[str, str]):
        self.ids, self.mapping = ids, mapping

    def new(self, name: str) -> str:
        return self.mapping.get(name, name) if name in self.ids else name

    def walk(self, v: Any) -> Any:
        if isinstance(v, list):
            return [self.walk(x) for x in v]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (key, arg), = v.items()
            if key == "Ref" and isinstance(arg, str):
                return {"Ref": self.new(arg)}
            if key == "Fn::GetAtt":
                if isinstance(arg, str):
                    head, _, attr = arg.partition(".")
                    return {"Fn::GetAtt": f"{self.new(head)}.{attr}"}
                return {"Fn::GetAtt": [self.new(arg[0]), self.walk(arg[1])]}
            if key == "Fn::Sub":
                return {"Fn::Sub": self.sub(arg)}
        return {k: self.walk(x) for k, x in v.items()}

    def sub(self, arg: Any) -> Any:
        text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, None)
        local = set(variables or {})

        def sub_name(m: re.Match) -> str:
            head, dot, attr = m.group(1).partition(".")
            return m.group(0) if head in local else "${" + self.new(head) + dot + attr + "}"

        text = SUB_VAR.sub(sub_name, text)
        return [text, self.walk(variables)] if variables is not None else text
