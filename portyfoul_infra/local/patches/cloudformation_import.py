"""Resource import: IMPORT change sets bring existing resources under a stack without touching them."""

from __future__ import annotations

from . import gap
from ._engine import event, load_template, set_status
from ._plan import ResourcePlan

T = "tests/test_local_cloudformation_import.py::"
GUIDE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
NEEDS_POLICY = "The following resources to import [{ids}] must have DeletionPolicy attribute specified in the template."


def _secret(account, region, ident):
    from moto.secretsmanager.models import secretsmanager_backends

    from . import secretsmanager
    backend = secretsmanager_backends[account][region]
    key = ident.get("Id", "")
    if not backend._is_valid_identifier(key):
        return None
    return secretsmanager.SECRET_MODEL(backend.secrets[key].arn, {})


def _parameter(account, region, ident):
    from moto.ssm.models import ssm_backends
    return ssm_backends[account][region].get_parameter(ident.get("Name", ""))


def _log_group(account, region, ident):
    from moto.logs.models import logs_backends
    return logs_backends[account][region].groups.get(ident.get("LogGroupName", ""))


def _repository(account, region, ident):
    from moto.ecr.models import ecr_backends
    return ecr_backends[account][region].repositories.get(ident.get("RepositoryName", ""))


FINDERS = {"AWS::SecretsManager::Secret": _secret, "AWS::SSM::Parameter": _parameter,
           "AWS::Logs::LogGroup": _log_group, "AWS::ECR::Repository": _repository}


def find(account: str, region: str, resource_type: str, identifier: dict):
    finder = FINDERS.get(resource_type)
    try:
        return finder(account, region, identifier) if finder else None
    except Exception:  # noqa: BLE001 - not found
        return None


def import_plans(change_set) -> list[ResourcePlan]:
    return [ResourcePlan(r["LogicalResourceId"], r["ResourceType"], "Import",
                         physical_id="|".join(str(v) for v in r["ResourceIdentifier"].values()))
            for r in getattr(change_set, "resources_to_import", [])]


def refusal(template: dict, resources: list[dict], account: str, region: str) -> str:
    """Why CloudFormation refuses this import ("" if it does not)."""
    declared = template.get("Resources") or {}
    missing = [r["LogicalResourceId"] for r in resources if r["LogicalResourceId"] not in declared]
    if missing:
        return f"Resources [{', '.join(missing)}] to import are not in the template."
    unprotected = [r["LogicalResourceId"] for r in resources if not declared[r["LogicalResourceId"]].get("DeletionPolicy")]
    if unprotected:
        return NEEDS_POLICY.format(ids=", ".join(unprotected))
    for r in resources:
        if r["ResourceType"] not in FINDERS:
            return f"Resource type {r['ResourceType']} is not supported for import by the local AWS."
        if find(account, region, r["ResourceType"], r["ResourceIdentifier"]) is None:
            return (f"Resource {r['LogicalResourceId']} of type {r['ResourceType']} with identifier "
                    f"{r['ResourceIdentifier']} does not exist.")
    return ""


def execute_import(change_set, stack) -> bool:
    rm = stack.resource_map
    set_status(stack, "IMPORT_IN_PROGRESS", "User Initiated")
    parameters = dict(change_set.parameters or rm.input_parameters or {})
    load_template(stack, change_set.template, change_set.template_dict, parameters)
    for r in change_set.resources_to_import:
        lid, kind = r["LogicalResourceId"], r["ResourceType"]
        event(stack, lid, "IMPORT_IN_PROGRESS", "Resource import started.", kind)
        model = find(stack.account_id, stack.region_name, kind, r["ResourceIdentifier"])
        if model is not None and kind == "AWS::SecretsManager::Secret":
            model.properties = dict((change_set.template_dict["Resources"][lid].get("Properties") or {}))
        model.cf_resource_type, model.logical_resource_id = kind, lid
        rm._parsed_resources[lid] = model
        event(stack, lid, "IMPORT_COMPLETE", "Resource import completed.", kind,
              getattr(model, "physical_resource_id", ""))
    stack.parameters = parameters
    stack.output_map = stack._create_output_map()
    set_status(stack, "IMPORT_COMPLETE")
    return True


@gap("cloudformation-resource-import",
     summary="Resource import (CreateChangeSet with ChangeSetType IMPORT): not implemented, an IMPORT was treated as "
             "a CREATE (patched: secrets, SSM parameters, log groups and ECR repositories that exist are brought "
             "under the stack untouched, Action Import, IMPORT_COMPLETE; a resource without DeletionPolicy or that "
             "does not exist is refused)",
     aws="An IMPORT change set brings existing resources under a stack without changing them; each resource to "
         "import must have a DeletionPolicy in the template and must exist.",
     reference=GUIDE + "resource-import-existing-stack.html",
     test=T + "test_an_existing_secret_is_imported_untouched")
def patch_import() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    original = CloudFormationResponse.create_change_set

    def create_change_set(self):
        if self._get_param("ChangeSetType") != "IMPORT":
            return original(self)
        backend = self.cloudformation_backend
        body = self._get_param("TemplateBody") or self._get_stack_from_s3_url(self._get_param("TemplateURL"))
        resources = self._get_param("ResourcesToImport", [])
        from moto.cloudformation.models import Stack
        reason = refusal(Stack.parse_template(body), resources, self.current_account, self.region)
        if reason:
            raise ValidationError(message=reason)
        return ActionResult(_create(self, backend, body, resources))

    CloudFormationResponse.create_change_set = create_change_set


def _previous(stack) -> dict[str, str]:
    """The stack's parameter values as DescribeStacks lists them: defaults included, lists joined again."""
    if stack is None or getattr(stack, "resource_map", None) is None:
        return {}
    values = {**stack.stack_parameters, **(stack.parameters or {})}
    return {k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in values.items()
            if k in (stack.template_dict.get("Parameters") or {})}


def _create(response, backend, body: str, resources: list[dict]) -> dict:
    from moto.cloudformation.models import ChangeSet
    from moto.cloudformation.utils import generate_changeset_id, generate_stack_id

    name = response._get_param("StackName")
    stack = next((s for s in backend.stacks.values() if s.name == name or s.stack_id == name), None)
    # UsePreviousValue takes the stack's current value, as on every other change set; a key the stack
    # does not have is refused (MissingParameterError), never passed on as None.
    params = response._get_param_values(response._get_param("Parameters", []), _previous(stack))
    if stack is None:
        from moto.cloudformation.models import Stack
        stack = Stack(generate_stack_id(name, backend.region_name, backend.account_id), name, {}, params,
                      backend.account_id, backend.region_name)
        backend.stacks[stack.stack_id] = stack
        set_status(stack, "REVIEW_IN_PROGRESS", "User Initiated")
    cs_name = response._get_param("ChangeSetName")
    cs_id = generate_changeset_id(cs_name, backend.region_name, backend.account_id)
    change_set = ChangeSet.__new__(ChangeSet)
    change_set.resources_to_import = resources
    tags = {t["Key"]: t["Value"] for t in response._get_param("Tags", [])}
    ChangeSet.__init__(change_set, "IMPORT", cs_id, cs_name, stack, body, params or dict(stack.parameters or {}),
                       response._get_param("Description"), tags=tags)
    change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
    backend.change_sets[cs_id] = change_set
    return {"Id": cs_id, "StackId": stack.stack_id}
