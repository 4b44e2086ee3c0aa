"""The emulator's own reading of templates: references, dependency order, conditions, values as written.

Deliberately independent of the product's resolver: CloudFormation decides
what changes on its own, and so does the local AWS. Resource facts come from the resource provider
schemas that cfn-lint ships (AWS's own data).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")
NO_VALUE = object()
PSEUDO = {"AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::StackId", "AWS::Partition", "AWS::URLSuffix",
          "AWS::NoValue", "AWS::NotificationARNs"}


@functools.lru_cache(maxsize=None)
def create_only(resource_type: str, region: str = "us-east-2") -> frozenset[str]:
    """Top-level properties whose change replaces the resource (the provider schema's createOnlyProperties)."""
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception:
        return frozenset()
    return frozenset(p.split("/")[2] for p in schema.get("createOnlyProperties", []) if p.count("/") >= 2)


# Name properties of the types moto's name map misses or names differently.
NAME_PROPERTIES = {
    "AWS::RDS::DBParameterGroup": "DBParameterGroupName", "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier", "AWS::SecretsManager::Secret": "Name",
    "AWS::SSM::Parameter": "Name", "AWS::ECR::Repository": "RepositoryName", "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::ECS::Cluster": "ClusterName", "AWS::ECS::Service": "ServiceName", "AWS::IAM::Role": "RoleName",
    "AWS::S3::Bucket": "BucketName", "AWS::EC2::SecurityGroup": "GroupName",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name", "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::SNS::Topic": "TopicName", "AWS::SQS::Queue": "QueueName", "AWS::DynamoDB::Table": "TableName",
    "AWS::Lambda::Function": "FunctionName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
}


def name_property(resource_type: str) -> str:
    """The property that gives a resource a custom name ("" when the type has none)."""
    return NAME_PROPERTIES.get(resource_type, "")


def canonical(value: Any) -> str:
    """A value as comparable text: CloudFormation passes every scalar as a string (7 == "7", true == "true")."""
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
    return json.dumps(scalar(value), sort_keys=True, default=str)


def references(value: Any) -> set[tuple[str, str]]:
    """(logical id, attribute or "") of every Ref, Fn::GetAtt and ${X} / ${X.Attr} in `value`."""
    found: set[tuple[str, str]] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add((arg, ""))
            elif key == "Fn::GetAtt":
                parts = arg.split(".", 1) if isinstance(arg, str) else list(arg)
                if parts and isinstance(parts[0], str):
                    found.add((parts[0], str(parts[1]) if len(parts) > 1 else ""))
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                local = set(arg[1]) if isinstance(arg, list) and len(arg) > 1 and isinstance(arg[1], dict) else set()
                for var in SUB_VAR.findall(text if isinstance(text, str) else ""):
                    name, _, attr = var.partition(".")
                    if name not in local:
                        found.add((name, attr))
                if isinstance(arg, list) and len(arg) > 1:
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return found


def depends_on(resource: dict) -> set[str]:
    depends = resource.get("DependsOn", [])
    return {depends} if isinstance(depends, str) else set(depends)


def dependencies(resources: dict, logical_id: str) -> set[str]:
    """The resources `logical_id` refers to or depends on."""
    resource = resources.get(logical_id, {})
    refs = {name for name, _ in references(resource.get("Properties", {}))}
    return (refs | depends_on(resource)) & set(resources) - {logical_id}


def dependency_order(resources: dict, names=None) -> list[str]:
    """`names` (default: all) so that every resource comes after those it refers to."""
    wanted = list(resources) if names is None else list(names)
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered or name in visiting or name not in resources:
            return
        visiting.add(name)
        for dep in sorted(dependencies(resources, name)):
            visit(dep)
        visiting.discard(name)
        ordered.append(name)

    for name in wanted:
        visit(name)
    return [n for n in ordered if n in set(wanted)]


class Written:
    """Values as written in a template, with only parameters, conditions and mappings put in.

    A change set compares templates this way: an expression rewritten (Fn::GetAZs instead of a literal) is a
    change even where both would evaluate alike; a parameter whose value changed changes what refers to it.
    """

    def __init__(self, template: dict, parameters: dict):
        self.template = template or {}
        specs = self.template.get("Parameters") or {}
        self.parameters = {name: spec.get("Default") for name, spec in specs.items()}
        self.parameters.update({k: v for k, v in (parameters or {}).items() if k in specs})
        self.mappings = self.template.get("Mappings") or {}
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            expr = (self.template.get("Conditions") or {}).get(name, True)
            self._conditions[name] = bool(self._evaluate(expr))
        return self._conditions[name]

    def _evaluate(self, expr: Any) -> Any:
        if isinstance(expr, dict) and len(expr) == 1:
            (key, arg), = expr.items()
            if key == "Fn::Equals":
                a, b = (canonical(self.value(x)) for x in arg)
                return a == b
            if key == "Fn::Not":
                return not self._evaluate(arg[0])
            if key == "Fn::And":
                return all(self._evaluate(x) for x in arg)
            if key == "Fn::Or":
                return any(self._evaluate(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
        return self.value(expr)

    def resources(self) -> dict:
        """The template's resources whose Condition holds."""
        return {k: v for k, v in (self.template.get("Resources") or {}).items()
                if not v.get("Condition") or self.condition(v["Condition"])}

    def parameter_refs(self, value: Any) -> set[str]:
        return {name for name, attr in references(value) if not attr and name in self.parameters}

    def value(self, v: Any) -> Any:
        if isinstance(v, list):
            return [x for x in (self.value(i) for i in v) if x is not NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (key, arg), = v.items()
            if key == "Ref" and isinstance(arg, str):
                if arg == "AWS::NoValue":
                    return NO_VALUE
                return self._parameter(arg) if arg in self.parameters else v
            if key == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Sub":
                return {"Fn::Sub": self._sub(arg)}
            if key == "Fn::FindInMap":
                return self._find_in_map(arg, v)
        out = {}
        for k, x in v.items():
            resolved = self.value(x)
            if resolved is not NO_VALUE:
                out[k] = resolved
        return out

    def _parameter(self, name: str) -> Any:
        value = self.parameters[name]
        spec = (self.template.get("Parameters") or {}).get(name, {})
        kind = str(spec.get("Type", "String"))
        if isinstance(value, str) and (kind == "CommaDelimitedList" or kind.startswith("List<")):
            return [x.strip() for x in value.split(",")] if value else []
        return value

    def _sub(self, arg: Any) -> Any:
        text, local = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
        if not isinstance(text, str):
            return arg

        def put(match: re.Match) -> str:
            name = match.group(1)
            if name in self.parameters and name not in local:
                return str(self._parameter(name))
            return match.group(0)

        text = SUB_VAR.sub(put, text)
        return [text, self.value(local)] if local else text

    def _find_in_map(self, arg: Any, original: dict) -> Any:
        keys = [self.value(k) for k in arg] if isinstance(arg, list) else []
        if len(keys) == 3 and all(isinstance(k, str) for k in keys):
            try:
                return self.mappings[keys[0]][keys[1]][keys[2]]
            except (KeyError, TypeError):
                pass
        return {"Fn::FindInMap": keys or arg}


def rename(value: Any, names: dict[str, str]) -> Any:
    """`value` with every reference to a logical ID in `names` (Ref, GetAtt, ${X} in Sub, DependsOn) renamed."""
    if isinstance(value, list):
        return [rename(v, names) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, arg in value.items():
        if key == "Ref" and isinstance(arg, str):
            out[key] = names.get(arg, arg)
        elif key == "Fn::GetAtt" and isinstance(arg, list) and arg:
            out[key] = [names.get(arg[0], arg[0]), *rename(arg[1:], names)]
        elif key == "Fn::GetAtt" and isinstance(arg, str):
            head, dot, rest = arg.partition(".")
            out[key] = names.get(head, head) + dot + rest
        elif key == "Fn::Sub":
            out[key] = _rename_sub(arg, names)
        elif key == "DependsOn":
            out[key] = names.get(arg, arg) if isinstance(arg, str) else [names.get(a, a) for a in arg]
        else:
            out[key] = rename(arg, names)
    return out


def _rename_sub(arg: Any, names: dict[str, str]) -> Any:
    def put(match: re.Match) -> str:
        head, dot, rest = match.group(1).partition(".")
        return "${" + names.get(head, head) + dot + rest + "}"

    if isinstance(arg, str):
        return SUB_VAR.sub(put, arg)
    if isinstance(arg, list) and arg and isinstance(arg[0], str):
        return [SUB_VAR.sub(put, arg[0]), *rename(arg[1:], names)]
    return rename(arg, names)


def rename_resources(template: dict, names: dict[str, str]) -> dict:
    """The template with resources renamed by `names` and every reference to them rewritten."""
    out = dict(template)
    out["Resources"] = {names.get(k, k): rename(v, names) for k, v in (template.get("Resources") or {}).items()}
    if "Outputs" in template:
        out["Outputs"] = rename(template["Outputs"], names)
    return out


def with_ssm_values(template: dict, parameters: dict, account: str, region: str,
                    resolved: dict | None = None) -> dict:
    """`parameters` with each AWS::SSM::Parameter::Value parameter put in as the value CloudFormation compares:
    the value read when the stack was last updated (`resolved`, the stack's own), or the parameter's value now.
    An SSM-typed parameter is re-read at every update (also with UsePreviousValue), so a new value there is a
    change of every property that reads it."""
    from moto.ssm.models import ssm_backends

    values = dict(parameters)
    for key, slot in (template.get("Parameters") or {}).items():
        if not str((slot or {}).get("Type", "")).startswith("AWS::SSM::Parameter::"):
            continue
        if resolved is not None:
            if key in resolved:
                values[key] = resolved[key]
            continue
        name = values.get(key, slot.get("Default"))
        found = ssm_backends[account][region].get_parameter(str(name)) if name else None
        if found is not None:
            values[key] = found.value
    return values
