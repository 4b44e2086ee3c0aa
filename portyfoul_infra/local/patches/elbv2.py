"""Elastic Load Balancing v2: the load balancer's attributes as CloudFormation sets them, its deletion protection as
AWS enforces it, and what CloudFormation deletes."""

from __future__ import annotations

from . import gap

T = "tests/test_local_elbv2.py::"
PROTECTION = "deletion_protection.enabled"


def _attributes(cloudformation_json: dict) -> dict[str, str]:
    """The template's LoadBalancerAttributes as key -> value (booleans as AWS writes them: "true", "false")."""
    found = {}
    for item in (cloudformation_json.get("Properties") or {}).get("LoadBalancerAttributes") or []:
        if not isinstance(item, dict) or not isinstance(item.get("Value"), (str, bool, int)):
            continue  # an entry Fn::If left out (AWS::NoValue)
        value = item["Value"]
        found[str(item.get("Key"))] = str(value).lower() if isinstance(value, bool) else str(value)
    return found


@gap("elbv2-load-balancer-attributes",
     summary="AWS::ElasticLoadBalancingV2::LoadBalancer: LoadBalancerAttributes from the template were dropped, and "
             "DeleteLoadBalancer ignored deletion protection (patched: the attributes are set on creation and update; "
             "a protected load balancer refuses deletion with OperationNotPermitted, so a stack deletion that meets "
             "it ends DELETE_FAILED)",
     aws="A load balancer with deletion protection enabled cannot be deleted (OperationNotPermitted); the "
         "LoadBalancerAttributes of the template are applied on creation and on update.",
     reference="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/"
               "edit-load-balancer-attributes.html#deletion-protection",
     test=T + "test_a_protected_load_balancer_cannot_be_deleted_by_its_stack")
def patch_load_balancer_attributes() -> None:
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend, FakeLoadBalancer

    original_create = FakeLoadBalancer.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        balancer = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        balancer.attrs.update(_attributes(cloudformation_json))
        return balancer

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        original_resource.attrs.update(_attributes(cloudformation_json))
        return original_resource

    FakeLoadBalancer.create_from_cloudformation_json = classmethod(create)
    FakeLoadBalancer.update_from_cloudformation_json = classmethod(update)
    original_delete = ELBv2Backend.delete_load_balancer

    def delete_load_balancer(self, arn):
        balancer = self.load_balancers.get(arn)
        if balancer is not None and str(balancer.attrs.get(PROTECTION, "false")).lower() == "true":
            raise ELBClientError("OperationNotPermitted", f"Load balancer '{arn}' cannot be deleted because deletion "
                                                          "protection is enabled")
        return original_delete(self, arn)

    ELBv2Backend.delete_load_balancer = delete_load_balancer


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
