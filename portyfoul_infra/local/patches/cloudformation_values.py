"""Property values as CloudFormation hands them to a resource: each scalar in the type its provider schema declares."""

from __future__ import annotations

import functools
import re
from typing import Any

from . import gap

T = "tests/test_local_cloudformation_values.py::"
INTEGER = re.compile(r"\s*[-+]?\d+\s*")
NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*")


@functools.lru_cache(maxsize=None)
def _schema(resource_type: str) -> dict | None:
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
        return PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-2", resource_type).schema
    except Exception:  # noqa: BLE001 - a type without a schema is passed through untouched
        return None


def _resolve(spec: Any, schema: dict) -> dict:
    """`spec` with its $ref (#/definitions/X) followed."""
    seen = 0
    while isinstance(spec, dict) and "$ref" in spec and seen < 20:
        ref = str(spec["$ref"])
        if not ref.startswith("#/definitions/"):
            return {}
        spec = (schema.get("definitions") or {}).get(ref.rsplit("/", 1)[-1], {})
        seen += 1
    return spec if isinstance(spec, dict) else {}


def _scalar(value: Any, kind: str) -> Any:
    if kind == "integer" and isinstance(value, str) and INTEGER.fullmatch(value):
        return int(value)
    if kind == "number" and isinstance(value, str) and NUMBER.fullmatch(value):
        number = float(value)
        return int(number) if INTEGER.fullmatch(value) else number
    if kind == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if kind == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "string" and isinstance(value, (int, float)):
        return str(value)
    return value


def coerce(value: Any, spec: Any, schema: dict) -> Any:
    """`value` with every scalar the schema types (integer, number, boolean, string) in that type. Free-form
    objects (a policy document, a dashboard body) and values of several possible types are left as written."""
    spec = _resolve(spec, schema)
    kind = spec.get("type")
    if isinstance(kind, str) and kind in ("integer", "number", "boolean", "string"):
        return _scalar(value, kind)
    if isinstance(value, list) and (kind == "array" or "items" in spec):
        return [coerce(item, spec.get("items", {}), schema) for item in value]
    if isinstance(value, dict) and isinstance(spec.get("properties"), dict):
        properties = spec["properties"]
        return {k: coerce(v, properties[k], schema) if k in properties else v for k, v in value.items()}
    return value


def typed_properties(resource_type: str, properties: Any) -> Any:
    """A resource's properties as CloudFormation passes them to the resource's handler."""
    schema = _schema(resource_type)
    if not schema or not isinstance(properties, dict):
        return properties
    return coerce(properties, {"properties": schema.get("properties") or {}}, schema)


@gap("cloudformation-typed-properties",
     summary="A number or boolean written as text (a quoted number in a Mapping read through Fn::FindInMap into "
             "DesiredCount, Cpu, ContainerPort, a health check interval) reached moto's models as text, and the "
             "resource failed to create (\"unsupported operand type(s) for -: 'str' and 'int'\") or compared "
             "\"5\" > \"10\" (patched: every property is converted to the type its provider schema declares "
             "before the resource is created or updated, as CloudFormation does)",
     aws="CloudFormation validates a resource's properties against the resource type's schema and passes each "
         "value in the schema's type: a string that holds a number is accepted where an integer or number is "
         "expected, and \"true\"/\"false\" where a boolean is.",
     reference="https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html",
     test=T + "test_quoted_numbers_from_a_mapping_reach_ecs_as_numbers")
def patch_typed_properties() -> None:
    from moto.cloudformation import parsing

    original = parsing.parse_resource

    def parse_resource(resource_json, resources_map):
        parsed = original(resource_json, resources_map)
        if not parsed:
            return parsed
        resource_class, cleaned, resource_type = parsed
        if isinstance(cleaned, dict) and isinstance(cleaned.get("Properties"), dict):
            cleaned = {**cleaned, "Properties": typed_properties(resource_type, cleaned["Properties"])}
        return resource_class, cleaned, resource_type

    parsing.parse_resource = parse_resource
