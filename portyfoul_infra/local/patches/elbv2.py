"""Elastic Load Balancing v2: what CloudFormation deletes."""

from __future__ import annotations

from . import gap

T = "tests/test_local_elbv2.py::"


@gap("elbv2-stack-deletes",
     summary="Stack deletion: listeners and target groups had no delete, so a target group outlived its stack and "
             "creating the stack again failed on its name (patched: deleted as CloudFormation does, the listener "
             "before the target group it forwards to)",
     aws="Deleting a stack deletes its AWS::ElasticLoadBalancingV2::Listener and AWS::ElasticLoadBalancingV2::"
         "TargetGroup; a target group's name is free again afterwards.",
     reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-console-delete-stack.html",
     test=T + "test_a_stack_with_a_load_balancer_listener_and_target_group_can_be_deleted_and_created_again")
def patch_stack_deletes() -> None:
    from moto.elbv2.models import FakeListener, FakeTargetGroup, elbv2_backends

    def listener_delete(self, account_id, region_name):
        backend = elbv2_backends[account_id][region_name]
        for load_balancer in backend.load_balancers.values():
            load_balancer.listeners.pop(self.arn, None)

    def target_group_delete(self, account_id, region_name):
        elbv2_backends[account_id][region_name].target_groups.pop(self.arn, None)

    FakeListener.delete = listener_delete
    FakeTargetGroup.delete = target_group_delete
