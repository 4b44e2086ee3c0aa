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
