"""Cross-stack exports and imports: who imports what, and the changes CloudFormation refuses because of it."""

from __future__ import annotations

from . import gap
from ._template import SUB_VAR, Written

T = "tests/test_local_cloudformation_exports.py::"
DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-exports.html"


def _backend(stack):
    from moto.cloudformation.models import cloudformation_backends
    return cloudformation_backends[stack.account_id][stack.region_name]


def _import_names(stack) -> set[str]:
    """The export names `stack`'s template imports (Fn::ImportValue), parameters and pseudo parameters put in."""
    names: set[str] = set()
    written = Written(stack.template_dict, dict(stack.resource_map.input_parameters or {}))
    pseudo = {"AWS::StackName": stack.name, "AWS::Region": stack.region_name, "AWS::AccountId": stack.account_id,
              "AWS::StackId": stack.stack_id, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}

    def walk(value) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for key, arg in value.items():
                if key == "Fn::ImportValue":
                    name = written.value(arg)
                    if isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str):
                        name = SUB_VAR.sub(lambda m: pseudo.get(m.group(1), m.group(0)), name["Fn::Sub"])
                    if isinstance(name, str):
                        names.add(name)
                else:
                    walk(arg)

    walk(stack.template_dict.get("Resources") or {})
    walk(stack.template_dict.get("Outputs") or {})
    return names


def importers(backend, export_name: str, exclude: str = "") -> list[str]:
    """Names of the live stacks that import `export_name`."""
    return sorted(s.name for s in backend.stacks.values()
                  if s.stack_id != exclude and s.status not in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS")
                  and export_name in _import_names(s))


def _exports(stack) -> dict[str, str]:
    try:
        return {e.name: e.value for e in stack.exports}
    except Exception:  # noqa: BLE001
        return {}


def export_conflict(stack, snapshot) -> str:
    """The refusal when an update removes or changes an export that another stack imports ("" if none)."""
    backend = _backend(stack)
    old = {name: export.value for name, export in backend.exports.items()
           if export.exporting_stack_id == stack.stack_id}
    new = _exports(stack)
    for name, value in sorted(old.items()):
        users = importers(backend, name, exclude=stack.stack_id)
        if users and name not in new:
            return f"Cannot delete export {name} as it is in use by {users[0]}."
        if users and str(new[name]) != str(value):
            return f"Cannot update export {name} as it is in use by {users[0]}."
    return ""


def refresh(stack) -> None:
    """The backend's exports after `stack` changed: its old ones out, its new ones in."""
    backend = _backend(stack)
    for name in [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]:
        backend.exports.pop(name)
    for export in stack.exports:
        backend.exports[export.name] = export


def deletion_conflict(stack) -> str:
    backend = _backend(stack)
    for name in sorted(_exports(stack)):
        users = importers(backend, name, exclude=stack.stack_id)
        if users:
            return f"Cannot delete export {name} as it is in use by {users[0]}."
    return ""


@gap("cloudformation-export-in-use",
     summary="Exports: an update that removed or changed an export another stack imports succeeded, and exports "
             "were never refreshed after an update (patched: the update fails with CloudFormation's message and "
             "rolls back; a successful one refreshes ListExports)",
     aws="After another stack imports an output value, you can't delete the stack that is exporting it or modify "
         "the exported output value: Cannot delete export <name> as it is in use by <stack>.",
     reference=DOCS,
     test=T + "test_removing_an_export_another_stack_imports_fails_and_rolls_back")
def patch_export_in_use() -> None:
    """export_conflict is checked by run_update (cloudformation_updates) before it completes."""


@gap("cloudformation-delete-exporting-stack",
     summary="Exports: deleting a stack whose export another stack imports succeeded (patched: the deletion fails, "
             "DELETE_FAILED with CloudFormation's message, and the stack stays)",
     aws="You can't delete a stack whose exported output value another stack imports.",
     reference=DOCS,
     test=T + "test_a_stack_whose_export_is_imported_cannot_be_deleted")
def patch_delete_exporting_stack() -> None:
    """deletion_conflict is checked by the stack deletion (cloudformation_lifecycle)."""


@gap("cloudformation-list-imports",
     summary="ListImports: answered HTTP 500 (patched: the importing stacks, or CloudFormation's ValidationError "
             "for an export nobody imports)",
     aws="ListImports lists the stacks that import the given exported output value; for an export that no stack "
         "imports it answers a ValidationError.",
     reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ListImports.html",
     test=T + "test_list_imports_names_the_importing_stacks")
def patch_list_imports() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def list_imports(self):
        name = self._get_param("ExportName")
        users = importers(self.cloudformation_backend, name)
        if not users:
            raise ValidationError(message=f"Export '{name}' is not imported by any stack.")
        return ActionResult({"Imports": users})

    CloudFormationResponse.list_imports = list_imports


@gap("cloudformation-conditional-exports",
     summary="Exports: an output whose Condition is false was still exported, with no value (patched: it is "
             "neither an output nor an export, as on AWS)",
     aws="An output with a Condition is created only when the condition is true; its export with it.",
     reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/outputs-section-structure.html",
     test=T + "test_an_output_whose_condition_is_false_exports_nothing")
def patch_conditional_exports() -> None:
    from moto.cloudformation.parsing import Export, OutputMap, clean_json

    def exports(self) -> list:
        found = []
        conditions = getattr(self._resource_map, "lazy_condition_map", {}) or {}
        for value in (self._output_json_map or {}).values():
            if not value.get("Export"):
                continue
            condition = value.get("Condition")
            if condition and not conditions.get(condition, False):
                continue
            name = clean_json(value["Export"].get("Name"), self._resource_map)
            found.append(Export(self._stack_id, name, clean_json(value.get("Value"), self._resource_map)))
        return found

    OutputMap.exports = property(exports)
