"""Stack creation and deletion as CloudFormation performs them: events per resource, failure and rollback."""

from __future__ import annotations

from . import gap
from ._engine import Failure, Progress, create_resource, delete_in_order, event, set_status
from ._template import Written, dependency_order

T = "tests/test_local_cloudformation.py::"
GUIDE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
PROTECTED = "Stack [{name}] cannot be deleted while TerminationProtection is enabled"


def create_all(stack) -> None:
    """Create every resource of the stack's template in dependency order; on failure roll back."""
    rm = stack.resource_map
    rm.tags.update({"aws:cloudformation:stack-name": stack.name, "aws:cloudformation:stack-id": stack.stack_id})
    stack.description = stack.template_dict.get("Description")
    progress = Progress()
    resources = Written(stack.template_dict, dict(rm.input_parameters or {})).resources()
    try:
        for logical_id in dependency_order(resources):
            create_resource(stack, logical_id, progress)
    except Failure as failure:
        kind = rm._resource_json_map.get(failure.logical_id, {}).get("Type", "")
        event(stack, failure.logical_id, failure.status, failure.reason, kind)
        reason = f"The following resource(s) failed to create: [{failure.logical_id}]. "
        set_status(stack, "ROLLBACK_IN_PROGRESS", reason + "Rollback requested by user.")
        created = {lid: json for lid, _, json in progress.created}
        delete_in_order(stack, created, {lid: m for lid, m, _ in progress.created}, {})
        for lid in created:
            rm._parsed_resources.pop(lid, None)
        set_status(stack, "ROLLBACK_COMPLETE", reason + "Rollback requested by user.")
        return
    set_status(stack, "CREATE_COMPLETE")


@gap("cloudformation-create-failure-rollback",
     summary="Stack creation: a resource that failed to create answered the CreateStack call with a non-XML error and "
             "left the stack CREATE_IN_PROGRESS (patched: the resource ends CREATE_FAILED with its reason, what was "
             "created is deleted and the stack ends ROLLBACK_COMPLETE)",
     aws="If a resource can't be created, CloudFormation rolls the stack back and deletes the resources it created: "
         "ROLLBACK_IN_PROGRESS, then ROLLBACK_COMPLETE; the failure is in the stack events.",
     reference=GUIDE + "stack-failure-options.html",
     test=T + "test_a_resource_that_fails_to_create_rolls_the_stack_back")
def patch_create() -> None:
    from moto.cloudformation.models import Stack

    def create_resources(self):
        self.status = "CREATE_IN_PROGRESS"
        create_all(self)

    Stack.create_resources = create_resources


def delete_all(stack) -> bool:
    """Delete the stack's resources (DeletionPolicy honoured); False if one failed (DELETE_FAILED)."""
    from .cloudformation_exports import deletion_conflict

    rm = stack.resource_map
    set_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
    conflict = deletion_conflict(stack)
    if conflict:
        set_status(stack, "DELETE_FAILED", conflict)
        return False
    resources = {lid: json for lid, json in rm._resource_json_map.items() if lid in rm._parsed_resources}
    models = {lid: rm._parsed_resources.get(lid) for lid in resources}
    failed = delete_in_order(stack, resources, models, {lid: j.get("DeletionPolicy") for lid, j in resources.items()})
    for lid in resources:
        if lid not in failed:
            rm._parsed_resources.pop(lid, None)
    if failed:
        set_status(stack, "DELETE_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}]. ")
        return False
    set_status(stack, "DELETE_COMPLETE")
    return True


@gap("cloudformation-delete-stack",
     summary="Stack deletion: a resource that failed to delete (a protected database) answered DeleteStack with an "
             "error, DeletionPolicy Snapshot was ignored, and termination protection was not enforced (patched: "
             "DELETE_FAILED with the resource's reason, a final snapshot first, and the ValidationError AWS answers "
             "for a protected stack)",
     aws="DeleteStack deletes resources in reverse dependency order (DeletionPolicy honoured); a resource that "
         "fails to delete leaves the stack DELETE_FAILED. A stack with termination protection can't be deleted.",
     reference=GUIDE + "using-cfn-protect-stacks.html",
     test=T + "test_a_stack_with_termination_protection_cannot_be_deleted")
def patch_delete() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend

    def delete_stack(self, name_or_stack_id):
        stack = next((s for s in self.stacks.values() if name_or_stack_id in (s.name, s.stack_id)), None)
        if stack is None:
            return
        if stack.enable_termination_protection:
            raise ValidationError(message=PROTECTED.format(name=stack.name))
        if stack.status != "REVIEW_IN_PROGRESS" and not delete_all(stack):
            return
        if stack.status == "REVIEW_IN_PROGRESS":
            set_status(stack, "DELETE_COMPLETE")
        self.stacks.pop(stack.stack_id, None)
        self.deleted_stacks[stack.stack_id] = stack
        for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
            self.exports.pop(name)

    CloudFormationBackend.delete_stack = delete_stack


@gap("cloudformation-recreate-deleted-stack",
     summary="A stack deleted and created again with the same name ended in a traceback (a non-XML answer): its "
             "resources outlived it (patched: resources are deleted with the stack, and a failure becomes a stack "
             "event, never an HTTP error)",
     aws="After DELETE_COMPLETE, a stack of the same name can be created again; it gets a new stack ID.",
     reference=GUIDE + "cfn-console-delete-stack.html",
     test=T + "test_a_stack_deleted_and_created_again_gets_a_new_id_and_completes")
def patch_recreate() -> None:
    """Carried out by delete_all (every model deleted) and create_all (failures as events)."""


# A stack in these states has none of its resources (its creation failed and was rolled back, or has not run):
# it has no outputs either.
NO_RESOURCES = ("REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED",
                "ROLLBACK_COMPLETE", "DELETE_COMPLETE")


@gap("cloudformation-rolled-back-stack-outputs",
     summary="DescribeStacks on a stack whose creation rolled back (a retained log group, secret or repository of a "
             "deleted stack already there under the same name) created the missing resources again to show its "
             "outputs, and answered the resource's own error as non-XML: a traceback for the caller (patched: such a "
             "stack has no outputs, and describing it creates nothing)",
     aws="A stack whose creation failed and rolled back is ROLLBACK_COMPLETE: what was created has been deleted, "
         "DescribeStacks lists its status and reason and no outputs; its events name the resource that failed "
         "(\"... already exists\").",
     reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html",
     test=T + "test_a_creation_that_meets_a_retained_resource_rolls_back_and_can_be_described")
def patch_rolled_back_outputs() -> None:
    from moto.cloudformation.models import Stack

    outputs = Stack.outputs

    def stack_outputs(self):
        if self.status in NO_RESOURCES:
            return None
        return outputs.fget(self)

    Stack.outputs = property(stack_outputs)
