"""Stack refactoring: the four calls, renaming logical IDs within a stack as CloudFormation does."""

from __future__ import annotations

import itertools
import json

from . import gap
from ._template import Written, rename_resources, with_ssm_values

T = "tests/test_local_cloudformation_api.py::"
T_REFACTOR = "tests/test_local_cloudformation_refactor.py::"
GUIDE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
API = "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/"
_COUNTER = itertools.count(1)

# Resource types stack refactoring does not support (the user guide's "Resource limitations" of stack refactoring).
UNSUPPORTED_TYPES = frozenset({
    "AWS::ACMPCA::Certificate", "AWS::ACMPCA::CertificateAuthority", "AWS::ACMPCA::CertificateAuthorityActivation",
    "AWS::ApiGateway::BasePathMapping", "AWS::ApiGateway::Method",
    "AWS::AppConfig::ConfigurationProfile", "AWS::AppConfig::Deployment", "AWS::AppConfig::Environment",
    "AWS::AppConfig::Extension", "AWS::AppConfig::ExtensionAssociation",
    "AWS::AppStream::DirectoryConfig", "AWS::AppStream::StackFleetAssociation",
    "AWS::AppStream::StackUserAssociation", "AWS::AppStream::User", "AWS::BackupGateway::Hypervisor",
    "AWS::CodePipeline::CustomActionType", "AWS::Cognito::UserPoolRiskConfigurationAttachment",
    "AWS::Cognito::UserPoolUICustomizationAttachment", "AWS::Cognito::UserPoolUserToGroupAttachment",
    "AWS::Config::ConfigRule", "AWS::DataBrew::Dataset", "AWS::DataBrew::Job", "AWS::DataBrew::Project",
    "AWS::DataBrew::Recipe", "AWS::DataBrew::Ruleset", "AWS::DataBrew::Schedule",
    "AWS::DataZone::DataSource", "AWS::DataZone::Environment", "AWS::DataZone::EnvironmentBlueprintConfiguration",
    "AWS::DataZone::EnvironmentProfile", "AWS::DataZone::Project", "AWS::DataZone::SubscriptionTarget",
    "AWS::DynamoDB::GlobalTable", "AWS::EC2::LaunchTemplate", "AWS::EC2::SpotFleet", "AWS::EC2::VolumeAttachment",
    "AWS::EC2::VPCDHCPOptionsAssociation", "AWS::ElasticBeanstalk::ConfigurationTemplate",
    "AWS::FIS::ExperimentTemplate", "AWS::Glue::Schema", "AWS::GuardDuty::IPSet",
    "AWS::GuardDuty::PublishingDestination", "AWS::GuardDuty::ThreatIntelSet", "AWS::ImageBuilder::Component",
    "AWS::IoTFleetWise::Campaign", "AWS::IoTWireless::WirelessDeviceImportTask", "AWS::Lambda::EventInvokeConfig",
    "AWS::Lex::BotVersion", "AWS::M2::Application", "AWS::MediaTailor::Channel", "AWS::MSK::Configuration",
    "AWS::MSK::ServerlessCluster", "AWS::NeptuneGraph::PrivateGraphEndpoint", "AWS::Omics::AnnotationStore",
    "AWS::Omics::ReferenceStore", "AWS::Omics::SequenceStore", "AWS::OpenSearchServerless::Collection",
    "AWS::Panorama::PackageVersion", "AWS::PCAConnectorAD::Connector", "AWS::PCAConnectorAD::DirectoryRegistration",
    "AWS::PCAConnectorAD::Template", "AWS::PCAConnectorAD::TemplateGroupAccessControlEntry",
    "AWS::QuickSight::Theme", "AWS::RefactorSpaces::Environment", "AWS::RefactorSpaces::Route",
    "AWS::RefactorSpaces::Service", "AWS::RoboMaker::RobotApplication", "AWS::RoboMaker::SimulationApplication",
    "AWS::SageMaker::InferenceComponent", "AWS::ServiceCatalog::PortfolioPrincipalAssociation",
    "AWS::ServiceCatalog::PortfolioProductAssociation", "AWS::ServiceCatalog::PortfolioShare",
    "AWS::ServiceCatalog::TagOptionAssociation", "AWS::ServiceCatalogAppRegistry::AttributeGroupAssociation",
    "AWS::ServiceCatalogAppRegistry::ResourceAssociation", "AWS::StepFunctions::StateMachineVersion",
    "AWS::Synthetics::Canary", "AWS::VoiceID::Domain", "AWS::WAFv2::IPSet", "AWS::WAFv2::RegexPatternSet",
    "AWS::WAFv2::RuleGroup", "AWS::WAFv2::WebACL",
})

# How many DescribeStacks answers show a refactored stack still UPDATE_IN_PROGRESS after its refactor's execution
# reports EXECUTE_COMPLETE (0: settled at once). Set through the control plane (local/control.py); see the
# cloudformation-refactor-settling gap.
SETTLE_READS = 0


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


def _tag_immutable(resource_type: str) -> bool:
    """The provider schema says the type's tags cannot be updated (tagging.tagUpdatable false, or Tags create-only)."""
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-2", resource_type).schema
    except Exception:  # noqa: BLE001 - no schema: nothing known against it
        return False
    tagging = schema.get("tagging") or {}
    if tagging.get("taggable") is False:
        return False
    tag_property = tagging.get("tagProperty", "/properties/Tags")
    return tagging.get("tagUpdatable") is False or tag_property in (schema.get("createOnlyProperties") or [])


def _existing(stack, old: dict) -> dict:
    """The template's resources that exist in the stack: those whose Condition holds."""
    rm = stack.resource_map
    values = with_ssm_values(old, dict(rm.input_parameters or {}), stack.account_id, stack.region_name,
                             dict(rm.resolved_parameters or {}))
    return Written(old, values).resources()


def _check_sources(stack, old: dict, names: dict) -> str:
    """Why a mapping's source cannot be refactored ("" if every source can)."""
    declared = old.get("Resources", {})
    unknown = sorted(set(names) - set(declared))
    if unknown:
        return f"Resource mapping source {unknown[0]} is not in stack {stack.name}"
    existing = _existing(stack, old)
    for source in sorted(names):
        if source not in existing:
            return (f"Resource mapping source {source} has no physical resource in stack {stack.name}: its "
                    f"condition {declared[source].get('Condition')} is false, so the resource was never created; "
                    "leave it out of the resource mappings")
        kind = str(declared[source].get("Type", ""))
        if kind in UNSUPPORTED_TYPES:
            return f"Resource type {kind} of {source} is not supported for stack refactoring"
        if _tag_immutable(kind):
            return (f"Resource type {kind} of {source} is not supported for stack refactoring: its tags cannot be "
                    "updated")
    return ""


def _check_resources(stack, old: dict, new: dict, names: dict) -> str:
    refusal = _check_sources(stack, old, names)
    if refusal:
        return refusal
    for key in ("Parameters", "Conditions", "Mappings"):
        if not _same(old.get(key), new.get(key)):
            return f"Stack refactor cannot change {key}"
    # Only resources that exist are refactored: one whose condition is false is in neither stack, under any name.
    existing = _existing(stack, old)
    arriving = _existing(stack, new)
    expected = {names.get(k, k) for k in existing}
    if expected != set(arriving):
        extra = sorted(set(arriving) - expected)
        missing = sorted(expected - set(arriving))
        return ("Stack refactor cannot create or delete resources: "
                + (f"new {', '.join(extra)} " if extra else "")
                + (f"missing {', '.join(missing)}" if missing else "")).strip()
    renamed = rename_resources(old, names).get("Resources", {})
    for logical_id in sorted(expected):
        for part in ("Type", "Properties"):
            if not _same(renamed[logical_id].get(part), new["Resources"][logical_id].get(part)):
                return f"Stack refactor cannot modify resource configuration: {logical_id} {part} differs"
    return ""


def validate(backend, definitions: list, mappings: list) -> tuple[str, str]:
    """(status, reason) as CreateStackRefactor's validation would set them."""
    if len(definitions) != 1:
        return "CREATE_FAILED", "the local AWS refactors within one stack only"
    from .cloudformation_limits import inline_refusal
    too_long = inline_refusal(definitions[0].get("TemplateBody"), "stackDefinitions.1.member.templateBody")
    if too_long:
        from moto.cloudformation.exceptions import ValidationError
        raise ValidationError(message=too_long)
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
    if SETTLE_READS > 0:
        from ._engine import set_status
        set_status(stack, "UPDATE_IN_PROGRESS", "Stack refactor")
        stack.refactor_settling = SETTLE_READS
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


@gap("cloudformation-refactor-sources",
     summary="Stack refactoring: a resource mapping whose source has no physical resource (its Condition is false, so "
             "CloudFormation never created it) was accepted and listed with an empty physical ID, and resource types "
             "stack refactoring does not support, or whose tags cannot be updated, were refactored (patched: the "
             "refactor ends CREATE_FAILED and names the resource; a resource moto does not model but that exists on "
             "AWS stays accepted)",
     aws="A resource mapping specifies the current source of the resource and the destination it is moved to: the "
         "source must be a resource of the source stack, and a resource whose condition is false is not created. "
         "CloudFormation validates the templates and checks resource types with tag update problems; the resource "
         "types listed under the refactoring resource limitations are not supported.",
     reference=GUIDE + "stack-refactoring.html",
     test=T_REFACTOR + "test_a_mapping_of_a_resource_whose_condition_is_false_is_refused")
def patch_refactor_sources() -> None:
    """Carried out by validate (_check_sources)."""


@gap("cloudformation-refactor-settling",
     summary="Stack refactoring: a stack was stable the moment its refactor reported EXECUTE_COMPLETE; on AWS it can "
             "stay UPDATE_IN_PROGRESS a few seconds longer, and an update sent then fails (patched, off by default: "
             "POST /portyfoul-api/refactor-settle {\"reads\": N} keeps a refactored stack UPDATE_IN_PROGRESS for its "
             "next N DescribeStacks answers, then UPDATE_COMPLETE; meanwhile UpdateStack, CreateChangeSet, "
             "ExecuteChangeSet and CreateStackRefactor refuse it with CloudFormation's ValidationError)",
     aws="A stack refactor's ExecutionStatus can be EXECUTE_COMPLETE while the affected stacks are still "
         "UPDATE_IN_PROGRESS (observed 0.5-3 s); an update then fails: Stack:<arn> is in UPDATE_IN_PROGRESS state and "
         "can not be updated. Wait for the stacks to be stable after the refactor (aws-cdk-cli#1804).",
     reference=API + "API_DescribeStackRefactor.html",
     test=T_REFACTOR + "test_a_refactored_stack_can_stay_in_progress_after_execute_complete")
def patch_refactor_settling() -> None:
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse

    from ._engine import set_status

    describe = CloudFormationBackend.describe_stacks

    def describe_stacks(self, name_or_stack_id):
        stacks = describe(self, name_or_stack_id)
        for stack in stacks:
            left = getattr(stack, "refactor_settling", 0)
            if left:
                stack.refactor_settling = left - 1
                if left == 1:
                    set_status(stack, "UPDATE_COMPLETE")
        return stacks

    CloudFormationBackend.describe_stacks = describe_stacks
    for action in ("update_stack", "create_change_set", "execute_change_set", "create_stack_refactor"):
        original = getattr(CloudFormationResponse, action)
        setattr(CloudFormationResponse, action, _refusing_busy_stacks(action, original))


def _refuse_busy(stack) -> None:
    """CloudFormation's answer to an operation on a stack another operation is still running on."""
    from moto.cloudformation.exceptions import ValidationError
    if stack is not None and stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS":
        raise ValidationError(message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")


def _stack_named(response, name):
    from moto.cloudformation.exceptions import ValidationError
    try:
        return response.cloudformation_backend.get_stack(name) if name else None
    except ValidationError:
        return None


def _change_set_stack(response):
    wanted = response._get_param("ChangeSetName")
    change_sets = response.cloudformation_backend.change_sets
    change_set = change_sets.get(wanted) or next((c for c in change_sets.values() if c.change_set_name == wanted), None)
    return change_set.stack_id if change_set is not None else None


def _refusing_busy_stacks(action: str, original):
    def call(self):
        if action == "create_stack_refactor":
            for definition in self._get_param("StackDefinitions", []) or []:
                _refuse_busy(_stack_named(self, definition.get("StackName")))
        else:
            name = self._get_param("StackName")
            if action == "execute_change_set" and not name:
                name = _change_set_stack(self)
            _refuse_busy(_stack_named(self, name))
        return original(self)

    return call
