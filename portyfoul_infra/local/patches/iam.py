"""AWS IAM: roles and their policies as CloudFormation and the API leave them on AWS."""

from __future__ import annotations

import functools
import json
from typing import Any

from . import gap

T = "tests/test_local_iam.py::"
CFN_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy/"


def _backend(account_id: str):
    from moto.iam.models import iam_backends
    return iam_backends[account_id]["aws"]


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@functools.lru_cache(maxsize=1)
def _aws_policy_data() -> dict:
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    return json.loads(aws_managed_policies_data)


def materialise_aws_policy(backend, arn: str) -> None:
    """Put the AWS managed policy `arn` into `backend` if AWS has it and the backend does not yet."""
    if not arn.startswith(AWS_POLICY_PREFIX) or arn in backend.managed_policies:
        return
    from moto.iam.models import AWSManagedPolicy
    for name, data in _aws_policy_data().items():
        if f"arn:aws:iam::aws:policy{data.get('Path') or '/'}{name}" == arn:
            policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
            backend.managed_policies[policy.arn] = policy
            return


@gap("iam-aws-managed-policies",
     summary="AWS managed policies (arn:aws:iam::aws:policy/..., such as service-role/"
             "AmazonECSTaskExecutionRolePolicy) did not exist, so AttachRolePolicy refused them and a role's "
             "ManagedPolicyArns could not name one (patched: each AWS managed policy moto knows is there when first "
             "named; an ARN AWS does not have is still refused)",
     aws="AWS managed policies are created and administered by AWS and can be attached to any role in any account "
         "by their ARN, arn:aws:iam::aws:policy/<path><name>.",
     reference="https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html",
     test=T + "test_an_aws_managed_policy_can_be_attached_by_its_arn")
def patch_aws_managed_policies() -> None:
    from moto.iam.models import IAMBackend

    for method in ("attach_role_policy", "attach_user_policy", "attach_group_policy", "get_policy",
                   "get_policy_version", "list_policy_versions"):
        original = getattr(IAMBackend, method)

        def wrapped(self, *args, __original=original, **kwargs):
            arn = kwargs.get("policy_arn", args[0] if args else "")
            materialise_aws_policy(self, str(arn))
            return __original(self, *args, **kwargs)

        setattr(IAMBackend, method, wrapped)


def _policies(props: dict) -> dict[str, str]:
    return {str(p["PolicyName"]): _document(p["PolicyDocument"]) for p in props.get("Policies") or []
            if isinstance(p, dict) and "PolicyName" in p}


def _sync_role(role, props: dict, old: dict) -> None:
    """Make the role's template-declared policies what `props` declares, starting from `old` (what the template
    declared before): put and delete inline policies, attach and detach managed ones. Policies the template never
    declared (an AWS::IAM::Policy, a ManagedPolicy's Roles, a hand change) are left alone."""
    backend = _backend(role.account_id)
    new_inline, old_inline = _policies(props), _policies(old)
    for name in old_inline.keys() - new_inline.keys():
        if name in role.policies:
            role.delete_policy(name)
    for name, document in new_inline.items():  # unvalidated, as moto's own CloudFormation role puts them
        if old_inline.get(name) != document or name not in role.policies:
            role.put_policy(name, document)
    new_arns = [str(a) for a in props.get("ManagedPolicyArns") or []]
    old_arns = [str(a) for a in old.get("ManagedPolicyArns") or []]
    for arn in old_arns:
        if arn not in new_arns and arn in role.managed_policies:
            backend.detach_role_policy(arn, role.name)
    for arn in new_arns:
        if arn not in role.managed_policies:
            backend.attach_role_policy(arn, role.name)


@gap("iam-role-policies",
     summary="AWS::IAM::Role: ManagedPolicyArns were never attached, and an update changed neither the inline Policies "
             "(added, changed or removed) nor the managed policies, the trust policy or MaxSessionDuration (patched: "
             "attached on create; on update inline policies are put and deleted and managed policies attached and "
             "detached as the template's list changed, leaving policies the template never declared alone; a "
             "deleted role has its policies removed first)",
     aws="Policies, ManagedPolicyArns, AssumeRolePolicyDocument, Description and MaxSessionDuration are updatable "
         "without interruption: CloudFormation puts and deletes the inline policies and attaches and detaches the "
         "managed policies so that the role has those the template lists.",
     reference=CFN_DOCS + "aws-resource-iam-role.html",
     test=T + "test_a_roles_inline_and_managed_policies_follow_the_template")
def patch_role_policies() -> None:
    from moto.iam.models import Role

    original_create = Role.create_from_cloudformation_json.__func__
    original_delete = Role.delete_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = dict(cloudformation_json.get("Properties") or {})
        props["Policies"] = [{**p, "PolicyDocument": _document(p["PolicyDocument"])}
                             for p in props.get("Policies") or [] if isinstance(p, dict) and "PolicyDocument" in p]
        role = original_create(cls, resource_name, {**cloudformation_json, "Properties": props}, account_id,
                               region_name, **kwargs)
        _sync_role(role, props, {})
        role.cfn_properties = props
        return role

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json.get("Properties") or {}
        role = original_resource
        backend = _backend(account_id)
        _sync_role(role, props, getattr(role, "cfn_properties", {}))
        trust = props.get("AssumeRolePolicyDocument")
        if trust is not None and _document(trust) != role.assume_role_policy_document:
            backend.update_assume_role_policy(role.name, _document(trust))
        role.description = props.get("Description", "")
        role.max_session_duration = int(props.get("MaxSessionDuration") or 3600)
        role.cfn_properties = dict(props)
        return role

    def delete(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = _backend(account_id)
        role = next((r for r in backend.roles.values() if r.name == resource_name), None)
        if role is not None:
            for arn in list(role.managed_policies):
                backend.detach_role_policy(arn, role.name)
        return original_delete(cls, resource_name, cloudformation_json, account_id, region_name)

    Role.create_from_cloudformation_json = classmethod(create)
    Role.update_from_cloudformation_json = classmethod(update)
    Role.delete_from_cloudformation_json = classmethod(delete)


def _attach(backend, policy, kind: str, names: list[str], attach: bool) -> None:
    for name in names:
        owner = {"Roles": backend.get_role, "Users": backend.get_user, "Groups": backend.get_group}[kind](name)
        if attach and policy.arn not in owner.managed_policies:
            policy.attach_to(owner)
        elif not attach and policy.arn in owner.managed_policies:
            policy.detach_from(owner)


@gap("iam-managed-policy-update",
     summary="AWS::IAM::ManagedPolicy: an update changed neither the policy document nor the roles, users and groups "
             "it is attached to, and deleting it (or its stack) left it in the account, attached (patched: a new "
             "document becomes the policy's new default version, attachments follow Roles, Users and Groups, and a "
             "deleted policy is detached everywhere and deleted with its versions)",
     aws="PolicyDocument, Roles, Users and Groups are updatable without interruption: a changed document is a new "
         "default policy version (CloudFormation deletes the oldest version when five exist); attachments follow "
         "the lists. Deleting the resource detaches the policy and deletes it.",
     reference=CFN_DOCS + "aws-resource-iam-managedpolicy.html",
     test=T + "test_a_managed_policy_follows_its_template_and_goes_with_its_stack")
def patch_managed_policy_update() -> None:
    from moto.iam.models import ManagedPolicy

    original_create = ManagedPolicy.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        policy = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        policy.cfn_properties = dict(cloudformation_json.get("Properties") or {})
        return policy

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json.get("Properties") or {}
        old = getattr(original_resource, "cfn_properties", {})
        backend = _backend(account_id)
        policy = original_resource
        document = _document(props.get("PolicyDocument"))
        if document != _document(old.get("PolicyDocument")):
            versions = [v for v in policy.versions if not v.is_default]
            if len(policy.versions) >= 5 and versions:
                backend.delete_policy_version(policy.arn, versions[0].version_id)
            backend.create_policy_version(policy.arn, document, set_as_default=True)
        for kind in ("Roles", "Users", "Groups"):
            new, before = [str(n) for n in props.get(kind) or []], [str(n) for n in old.get(kind) or []]
            _attach(backend, policy, kind, [n for n in before if n not in new], attach=False)
            _attach(backend, policy, kind, [n for n in new if n not in before], attach=True)
        policy.cfn_properties = dict(props)
        return policy

    def delete(self, account_id, region_name):
        backend = _backend(account_id)
        for owner in [*backend.roles.values(), *backend.users.values(), *backend.groups.values()]:
            if self.arn in owner.managed_policies:
                self.detach_from(owner)
        backend.managed_policies.pop(self.arn, None)

    ManagedPolicy.create_from_cloudformation_json = classmethod(create)
    ManagedPolicy.update_from_cloudformation_json = classmethod(update)
    ManagedPolicy.delete = delete
