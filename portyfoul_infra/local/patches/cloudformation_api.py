"""CloudFormation API calls moto lacks or answers unlike AWS: DescribeStackResource, termination protection, drift."""

from __future__ import annotations

from . import gap

T = "tests/test_local_cloudformation_api.py::"
API = "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/"


def resource_status(stack, logical_id: str) -> tuple[str, object]:
    """(status, timestamp) of a resource's latest event."""
    for e in reversed(stack.events):
        if e.logical_resource_id == logical_id:
            return e.resource_status, e.timestamp
    return "CREATE_COMPLETE", stack.creation_time


@gap("cloudformation-describe-stack-resource",
     summary="DescribeStackResource: answered HTTP 500 when the stack held a resource type moto does not model, and "
             "lacked LastUpdatedTimestamp (patched: answered as AWS does, with the resource's own status)",
     aws="DescribeStackResource returns the resource's StackResourceDetail (LogicalResourceId, PhysicalResourceId, "
         "ResourceType, ResourceStatus, LastUpdatedTimestamp); an unknown logical ID is a ValidationError.",
     reference=API + "API_DescribeStackResource.html",
     test=T + "test_describe_stack_resource_answers_for_every_resource")
def patch_describe_stack_resource() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def describe_stack_resource(self):
        name, logical_id = self._get_param("StackName"), self._get_param("LogicalResourceId")
        stack = self.cloudformation_backend.get_stack(name)
        resource = (stack.template_dict.get("Resources") or {}).get(logical_id)
        if resource is None or logical_id not in stack.resource_map._parsed_resources:
            raise ValidationError(name, f"Resource {logical_id} does not exist for stack {name}")
        model = stack.resource_map._parsed_resources.get(logical_id)
        status, when = resource_status(stack, logical_id)
        detail = {"StackName": stack.name, "StackId": stack.stack_id, "LogicalResourceId": logical_id,
                  "PhysicalResourceId": getattr(model, "physical_resource_id", "") or "",
                  "ResourceType": resource.get("Type"), "LastUpdatedTimestamp": when, "ResourceStatus": status,
                  "Metadata": __import__("json").dumps(resource.get("Metadata")) if resource.get("Metadata") else None,
                  "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}}
        return ActionResult({"StackResourceDetail": {k: v for k, v in detail.items() if v is not None}})

    CloudFormationResponse.describe_stack_resource = describe_stack_resource


@gap("cloudformation-termination-protection",
     summary="UpdateTerminationProtection: not implemented (patched)",
     aws="UpdateTerminationProtection turns a stack's termination protection on or off; DescribeStacks shows "
         "EnableTerminationProtection.",
     reference=API + "API_UpdateTerminationProtection.html",
     test=T + "test_termination_protection_can_be_turned_on_and_off")
def patch_termination_protection() -> None:
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def update_termination_protection(self):
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = str(self._get_param("EnableTerminationProtection")).lower() == "true"
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update_termination_protection


@gap("cloudformation-drift-detection",
     summary="Drift detection (DetectStackDrift and friends): not implemented (patched: always IN_SYNC, since moto "
             "cannot tell a hand change from a template one; drift is tested with Stubbers)",
     aws="DetectStackDrift starts a detection; DescribeStackDriftDetectionStatus reports its status and the "
         "stack's drift status.",
     reference=API + "API_DetectStackDrift.html",
     test=T + "test_drift_detection_completes_in_sync")
def patch_drift() -> None:
    import itertools

    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    detections = itertools.count(1)

    def detect_stack_drift(self):
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        return ActionResult({"StackDriftDetectionId": f"{stack.stack_id}-drift-{next(detections)}"})

    def describe_stack_drift_detection_status(self):
        detection = self._get_param("StackDriftDetectionId")
        return ActionResult({"StackId": detection.split("-drift-")[0], "StackDriftDetectionId": detection,
                             "StackDriftStatus": "IN_SYNC", "DetectionStatus": "DETECTION_COMPLETE",
                             "DriftedStackResourceCount": 0, "Timestamp": "2026-01-01T00:00:00Z"})

    def describe_stack_resource_drifts(self):
        return ActionResult({"StackResourceDrifts": []})

    CloudFormationResponse.detect_stack_drift = detect_stack_drift
    CloudFormationResponse.describe_stack_drift_detection_status = describe_stack_drift_detection_status
    CloudFormationResponse.describe_stack_resource_drifts = describe_stack_resource_drifts


@gap("cloudformation-stack-drift-information",
     summary="DescribeStacks: a drift detection that completed was never recorded on the stack, so stack-status said "
             "drift was never checked right after stack-drift (patched: DriftInformation holds the last detection's "
             "StackDriftStatus and LastCheckTimestamp; NOT_CHECKED before any)",
     aws="A stack's DriftInformation gives its StackDriftStatus (DRIFTED, IN_SYNC, UNKNOWN or NOT_CHECKED: "
         "CloudFormation has not checked) and LastCheckTimestamp, the most recent time CloudFormation checked the "
         "stack for drift; a completed DetectStackDrift sets both.",
     reference=API + "API_StackDriftInformation.html",
     test=T + "test_a_completed_drift_detection_is_recorded_on_the_stack")
def patch_drift_information() -> None:
    """Wraps what patch_drift installed: the detection (always IN_SYNC here) is recorded on the stack, and its
    status reports the time it ran."""
    from moto.cloudformation.models import Stack
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.utils import utcnow

    Stack.drift_information = {"StackDriftStatus": "NOT_CHECKED"}  # a stack never checked, as AWS shows it
    detect = CloudFormationResponse.detect_stack_drift
    status_of = CloudFormationResponse.describe_stack_drift_detection_status

    def detect_stack_drift(self):
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        answer = detect(self)
        stack.drift_information = {"StackDriftStatus": "IN_SYNC", "LastCheckTimestamp": utcnow()}
        return answer

    def describe_stack_drift_detection_status(self):
        answer = status_of(self)
        stack = self.cloudformation_backend.get_stack(self._get_param("StackDriftDetectionId").split("-drift-")[0])
        result = answer.result
        if isinstance(result, dict) and "LastCheckTimestamp" in stack.drift_information:
            result["Timestamp"] = stack.drift_information["LastCheckTimestamp"]
        return answer

    CloudFormationResponse.detect_stack_drift = detect_stack_drift
    CloudFormationResponse.describe_stack_drift_detection_status = describe_stack_drift_detection_status


@gap("cloudformation-describe-parameters",
     summary="DescribeStacks listed NoEcho parameters in clear text (the check compared each value with the NoEcho "
             "keys), and an AWS::SSM::Parameter::Value parameter with the SSM value where the parameter's name "
             "belongs (patched: NoEcho values are ****; an SSM-typed parameter shows the name it was given as "
             "ParameterValue and the value as ResolvedValue, and UsePreviousValue passes that name again)",
     aws="For a parameter declared NoEcho, DescribeStacks returns the value masked as asterisks (*****). For "
         "parameters of type AWS::SSM::Parameter::Value, ParameterValue is the Systems Manager parameter's name "
         "and ResolvedValue the value CloudFormation read from it; UsePreviousValue passes the name again, and "
         "CloudFormation reads the value anew.",
     reference=API + "API_Parameter.html",
     test=T + "test_describe_stacks_masks_no_echo_and_names_ssm_parameters")
def patch_describe_parameters() -> None:
    from moto.cloudformation.models import Stack

    def parameter_list(self) -> list[dict]:
        declared = self.template_dict.get("Parameters") or {} if isinstance(self.template_dict, dict) else {}
        given = dict(self.resource_map.input_parameters or {})
        listed = []
        for key, value in self.resource_map.resolved_parameters.items():
            slot = declared.get(key) or {}
            shown = ",".join(map(str, value)) if isinstance(value, list) else value
            entry = {"ParameterKey": key, "ParameterValue": shown}
            if str(slot.get("Type", "")).startswith("AWS::SSM::Parameter::"):
                entry = {"ParameterKey": key, "ParameterValue": given.get(key, slot.get("Default", "")),
                         "ResolvedValue": shown}
            if str(slot.get("NoEcho", "")).lower() == "true":
                entry["ParameterValue"] = "****"
            listed.append(entry)
        return listed

    def stack_parameters(self) -> dict:
        """The values as given, for UsePreviousValue: an SSM-typed parameter's previous value is its name."""
        declared = self.template_dict.get("Parameters") or {} if isinstance(self.template_dict, dict) else {}
        given = dict(self.resource_map.input_parameters or {})
        values = dict(self.resource_map.resolved_parameters)
        for key, slot in declared.items():
            if str((slot or {}).get("Type", "")).startswith("AWS::SSM::Parameter::") and key in values:
                values[key] = given.get(key, slot.get("Default", ""))
        return values

    Stack.parameter_list = property(parameter_list)
    Stack.stack_parameters = property(stack_parameters)
