"""Taking over a stack this tool did not build: match its resources to ours, rename them in place.

The live stack's resources are matched to our template's by physical
identity, never by similar-looking logical IDs:

- named resources by their names: from the live physical IDs (the truth), and
  from our name properties resolved for the environment;
- the VPC and subnets by their CIDR blocks, from describing them;
- everything else by what it is attached to, anchored on those: a route table
  by the subnets associated with it, a route by its table and destination, a
  security group by what uses it (database, load balancer, services), a NAT
  gateway by its subnet, its EIP by its NAT gateway, and so on.

A CloudFormation stack refactor then renames the live logical IDs to ours
without touching a resource. The refactored template is the live template
itself with only the IDs (and every reference to them) rewritten: a refactor
may not change properties, parameters, conditions or mappings.

Values are data: the value-generating properties of an adopted secret
(SecretString, GenerateSecretString) or SSM parameter (Value) are *pinned*,
kept as the live stack has them, by every later stack-update (see
pin_values), so the takeover never writes a new value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ..cfn_template import Resolver, canonical, create_only_properties, load_template, referenced_ids, rename_resources
from ..config import Environment
from ..console import elapsed
from ..context import Ctx
from ..contract import METADATA_KEY, VALUE_PROPERTIES, secret_name_of
from ..errors import UserError
from .clients import collect
from .stacks import StackInfo, describe_stack
from .wait import poll_until

# Where a resource's name lives, for the types whose name is their identity.
NAME_PROPERTIES = {
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
    "AWS::RDS::DBParameterGroup": "DBParameterGroupName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::Service": "ServiceName",
    "AWS::ECS::TaskDefinition": "Family",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": "PolicyName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::SSM::Parameter": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "PolicyName",
}
# Who uses a security group, strongest identity first.
_SG_USERS = (
    ("AWS::RDS::DBInstance", ("VPCSecurityGroups", "VpcSecurityGroupIds")),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", ("SecurityGroups",)),
    ("AWS::ECS::Service", ("NetworkConfiguration",)),
)


# ---------------------------------------------------------------- reading the live stack

@dataclass(frozen=True)
class LiveStack:
    info: StackInfo
    template: dict
    physical_ids: dict[str, str]          # logical id -> physical id
    policy: str

    @property
    def adopted_by_us(self) -> bool:
        return bool(self.template.get("Metadata", {}).get(METADATA_KEY, {}).get("ContentHash"))


def read_live_stack(cfn, env: Environment) -> LiveStack:
    """The live stack, or a UserError for every state adopt refuses to start from."""
    info = describe_stack(cfn, env.stack_name)
    if info is None or info.status == "REVIEW_IN_PROGRESS":
        raise UserError(f"stack {env.stack_name} does not exist: nothing to adopt; "
                        f"`invoke stack-update --env {env.name}` creates it")
    if info.in_progress:
        raise UserError(f"stack {env.stack_name} is {info.status}: another operation is running; "
                        "run adopt again when it completes (`invoke stack-status`)")
    if not info.status.endswith("_COMPLETE") or info.status in ("ROLLBACK_COMPLETE", "DELETE_COMPLETE"):
        raise UserError(f"stack {env.stack_name} is {info.status}: adopt needs a stable stack (*_COMPLETE)")
    template = load_template(cfn.get_template(StackName=info.stack_id, TemplateStage="Original")["TemplateBody"])
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in collect(cfn.list_stack_resources, "StackResourceSummaries", StackName=info.stack_id)
                if r.get("PhysicalResourceId")}
    policy = cfn.get_stack_policy(StackName=info.stack_id).get("StackPolicyBody") or ""
    return LiveStack(info, template, physical, policy)


def name_from_physical_id(resource_type: str, physical_id: str) -> str:
    """The resource's name inside its physical ID (an ARN or the name itself)."""
    if not physical_id.startswith("arn:"):
        return physical_id
    if resource_type == "AWS::SecretsManager::Secret":
        return secret_name_of(physical_id)
    if resource_type in ("AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::TargetGroup"):
        return physical_id.split("/")[-2]
    if resource_type == "AWS::ECS::TaskDefinition":
        return physical_id.rsplit("/", 1)[-1].rsplit(":", 1)[0]
    tail = physical_id.rsplit("/", 1)[-1]
    return tail.rsplit(":", 1)[-1] if "/" not in physical_id else tail


# ---------------------------------------------------------------- identity

Facts = Callable[[str, str, str], "str | None"]   # (type, logical id, physical id) -> CIDR


class Side:
    """One template's resources with an identity key each (see the module docstring)."""

    def __init__(self, label: str, template: dict, resolver: Resolver, physical_ids: Mapping[str, str] | None = None,
                 facts: Facts | None = None):
        self.label = label
        self.template = template
        self.resources: dict[str, dict] = template.get("Resources", {})
        self.resolver = resolver
        self.physical_ids = dict(physical_ids or {})
        self.facts = facts
        self._keys: dict[str, tuple | None] = {}
        self._props: dict[str, dict] = {}
        self._visiting: set[str] = set()

    def type_of(self, logical_id: str) -> str:
        return self.resources[logical_id]["Type"]

    def props(self, logical_id: str) -> dict:
        if logical_id not in self._props:
            resolved = self.resolver.value(self.resources[logical_id].get("Properties", {}))
            self._props[logical_id] = resolved if isinstance(resolved, dict) else {}
        return self._props[logical_id]

    def key(self, logical_id: str) -> tuple | None:
        if logical_id in self._keys:
            return self._keys[logical_id]
        if logical_id not in self.resources or logical_id in self._visiting:
            return None
        self._visiting.add(logical_id)
        try:
            raw = self._identity(logical_id, self.type_of(logical_id))
        finally:
            self._visiting.discard(logical_id)
        key = (self.type_of(logical_id), *raw) if raw is not None else None
        self._keys[logical_id] = key
        return key

    def ref_key(self, value: Any) -> tuple | None:
        """The key of the resource a resolved value refers to (Ref or GetAtt)."""
        if isinstance(value, dict):
            if "Ref" in value:
                return self.key(value["Ref"])
            if "Fn::GetAtt" in value:
                return self.key(value["Fn::GetAtt"][0])
        return None

    def referrers(self, logical_id: str, resource_type: str) -> list[str]:
        """Resources of `resource_type` whose properties refer to `logical_id`."""
        found = []
        for other, r in self.resources.items():
            if r["Type"] == resource_type and logical_id in referenced_ids(self.props(other)):
                found.append(other)
        return found

    def _identity(self, logical_id: str, t: str) -> tuple | None:  # noqa: C901 (one branch per type)
        p = self.props(logical_id)
        if t in NAME_PROPERTIES:
            physical = self.physical_ids.get(logical_id)
            name = name_from_physical_id(t, physical) if physical else p.get(NAME_PROPERTIES[t])
            return ("name", name) if isinstance(name, str) and name else None
        if t in ("AWS::EC2::VPC", "AWS::EC2::Subnet"):
            physical = self.physical_ids.get(logical_id)
            cidr = self.facts(t, logical_id, physical) if (self.facts and physical) else p.get("CidrBlock")
            return ("cidr", cidr) if isinstance(cidr, str) else None
        if t == "AWS::EC2::InternetGateway":
            attachments = self.referrers(logical_id, "AWS::EC2::VPCGatewayAttachment")
            vpc = _sole(self.ref_key(self.props(a).get("VpcId")) for a in attachments)
            return ("attached to", vpc) if vpc else None
        if t == "AWS::EC2::VPCGatewayAttachment":
            return _of(("vpc", self.ref_key(p.get("VpcId"))))
        if t == "AWS::EC2::NatGateway":
            return _of(("subnet", self.ref_key(p.get("SubnetId"))))
        if t == "AWS::EC2::EIP":
            nat = _sole(self.key(n) for n in self.referrers(logical_id, "AWS::EC2::NatGateway"))
            return ("for", nat) if nat else None
        if t == "AWS::EC2::RouteTable":
            subnets = frozenset(self.ref_key(self.props(a).get("SubnetId"))
                                for a in self.referrers(logical_id, "AWS::EC2::SubnetRouteTableAssociation"))
            return ("subnets", tuple(sorted(subnets, key=str))) if subnets and None not in subnets else None
        if t == "AWS::EC2::SubnetRouteTableAssociation":
            return _of(("subnet", self.ref_key(p.get("SubnetId"))))
        if t == "AWS::EC2::Route":
            return _of(("table", self.ref_key(p.get("RouteTableId"))), p.get("DestinationCidrBlock"))
        if t == "AWS::EC2::SecurityGroup":
            for user_type, _ in _SG_USERS:
                users = {self.key(u) for u in self.referrers(logical_id, user_type)} - {None}
                if users:
                    return ("used by", min(users, key=str))
            return None
        if t in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            source = (self.ref_key(p.get("SourceSecurityGroupId")) or self.ref_key(p.get("DestinationSecurityGroupId"))
                      or p.get("CidrIp") or p.get("DestinationPrefixListId"))
            return _of(("group", self.ref_key(p.get("GroupId"))), p.get("IpProtocol"), str(p.get("FromPort")),
                       str(p.get("ToPort")), str(source))
        if t == "AWS::ElasticLoadBalancingV2::Listener":
            return _of(("load balancer", self.ref_key(p.get("LoadBalancerArn"))), str(p.get("Port")))
        if t == "AWS::ElasticLoadBalancingV2::ListenerRule":
            return _of(("listener", self.ref_key(p.get("ListenerArn"))), str(p.get("Priority")))
        if t == "AWS::SecretsManager::SecretTargetAttachment":
            return _of(("secret", self.ref_key(p.get("SecretId"))))
        if t == "AWS::SNS::Subscription":
            return _of(("topic", self.ref_key(p.get("TopicArn"))), str(p.get("Endpoint")))
        if t == "AWS::ApplicationAutoScaling::ScalableTarget":
            service = _sole(self.key(i) for i in referenced_ids(p)
                            if self.resources.get(i, {}).get("Type") == "AWS::ECS::Service")
            return ("service", service, p.get("ScalableDimension")) if service else None
        return None


def _sole(keys: Iterable[tuple | None]) -> tuple | None:
    """The one identity among `keys` (None ignored), or None when there is none or more than one."""
    found = {k for k in keys if k is not None}
    return next(iter(found)) if len(found) == 1 else None


def _of(*parts) -> tuple | None:
    """A key from its parts, or None when a referenced part has no identity."""
    for part in parts:
        if part is None or (isinstance(part, tuple) and part[-1] is None):
            return None
    return parts


# ---------------------------------------------------------------- matching and the plan

@dataclass(frozen=True)
class PropertyDifference:
    logical_id: str
    resource_type: str
    prop: str
    live: Any
    ours: Any
    replaces: bool        # a create-only property: the next stack-update replaces the resource
    value: bool           # a value-generating property of a secret or SSM parameter
    pinned: bool = False  # ...kept as live by every stack-update, so no value is written

    def describe(self) -> str:
        flags = []
        if self.replaces:
            flags.append("REPLACES")
        if self.value:
            flags.append("value kept (pinned)" if self.pinned else "OVERWRITES VALUE")
        return " ".join(flags)


@dataclass
class AdoptionPlan:
    renames: dict[str, str]                      # live logical id -> ours
    unchanged: list[str]                         # already under our logical id
    live_only: list[tuple[str, str]]             # (live id, type): the next stack-update removes them
    ours_only: list[tuple[str, str]]             # (our id, type): the next stack-update creates them
    differences: list[PropertyDifference] = field(default_factory=list)
    physical_ids: dict[str, str] = field(default_factory=dict)

    @property
    def already_adopted(self) -> bool:
        return not self.renames


def match(live: Side, ours: Side, overrides: Mapping[str, str]) -> dict[str, str]:
    """live logical id -> our logical id, by identity; refuses ambiguity and contradictions."""
    _check_overrides(live, ours, overrides)
    by_key: dict[tuple, list[str]] = {}
    for logical_id in ours.resources:
        k = ours.key(logical_id)
        if k is not None:
            by_key.setdefault(k, []).append(logical_id)
    mapping: dict[str, str] = dict(overrides)
    problems: list[str] = []
    for logical_id in sorted(live.resources):
        if logical_id in overrides:
            continue
        k = live.key(logical_id)
        candidates = [c for c in by_key.get(k, []) if c not in overrides.values()] if k else []
        if len(candidates) > 1:
            problems.append(f"{logical_id} matches {' and '.join(sorted(candidates))}; "
                            f"settle it with --map {logical_id}=ONE_OF_THEM")
        elif candidates:
            mapping[logical_id] = candidates[0]
    claimed: dict[str, list[str]] = {}
    for old, new in mapping.items():
        claimed.setdefault(new, []).append(old)
    for new, olds in sorted(claimed.items()):
        if len(olds) > 1:
            key = ours.key(new)
            problems.append(f"{' and '.join(sorted(olds))} all match our {new} "
                            f"({key[1:] if key else ''}); settle it with --map OLD={new} for the one to keep")
    if problems:
        raise UserError("cannot match the live stack unambiguously: " + "; ".join(problems))
    return mapping


def _check_overrides(live: Side, ours: Side, overrides: Mapping[str, str]) -> None:
    """Every --map names a live resource and one of ours, of the same type."""
    unknown_old = sorted(set(overrides) - set(live.resources))
    unknown_new = sorted(set(overrides.values()) - set(ours.resources))
    if unknown_old:
        raise UserError(f"--map {unknown_old[0]}=...: the live stack has no resource {unknown_old[0]!r}; "
                        f"its logical IDs: {', '.join(sorted(live.resources))}")
    if unknown_new:
        raise UserError(f"--map ...={unknown_new[0]}: our template has no resource {unknown_new[0]!r}; "
                        f"its logical IDs: {', '.join(sorted(ours.resources))}")
    for old, new in overrides.items():
        if live.type_of(old) != ours.type_of(new):
            raise UserError(f"--map {old}={new}: {old} is {live.type_of(old)} but {new} is {ours.type_of(new)}")


def plan(live: Side, ours: Side, mapping: Mapping[str, str], region: str) -> AdoptionPlan:
    renames = {old: new for old, new in mapping.items() if old != new}
    unchanged = sorted(old for old, new in mapping.items() if old == new)
    matched_ours = set(mapping.values())
    result = AdoptionPlan(
        renames=dict(sorted(renames.items())),
        unchanged=unchanged,
        live_only=sorted((i, live.type_of(i)) for i in live.resources if i not in mapping),
        ours_only=sorted((i, ours.type_of(i)) for i in ours.resources if i not in matched_ours),
        physical_ids=live.physical_ids,
    )
    renamed = Resolver(live.template, live.resolver.parameters, live.resolver.pseudo,
                       rename=lambda i: mapping.get(i, i))
    for old, new in sorted(mapping.items()):
        t = ours.type_of(new)
        before = renamed.value(live.resources[old].get("Properties", {})) or {}
        after = ours.props(new)
        create_only = create_only_properties(t, region)
        for prop in sorted(set(before) | set(after)):
            if canonical(before.get(prop)) == canonical(after.get(prop)):
                continue
            value = prop in VALUE_PROPERTIES.get(t, ())
            result.differences.append(PropertyDifference(
                new, t, prop, before.get(prop), after.get(prop), replaces=prop in create_only, value=value,
                pinned=value and pinnable(live.resources[old], prop)))
    return result


def pinnable(resource: dict, prop: str) -> bool:
    """A value property can be carried verbatim when it refers to nothing that might not exist in our template."""
    return not referenced_ids(resource.get("Properties", {}).get(prop))


# ---------------------------------------------------------------- pinned values in every stack-update

def pin_values(deployed: dict, ours: dict) -> tuple[dict, list[str]]:
    """`ours` with the value properties of adopted secrets and SSM parameters kept as deployed.

    Which resources are pinned is recorded in the deployed template's
    Metadata (PinnedValues). A stack this tool did not build (no ContentHash
    there: the first update after adopt) pins every secret and parameter
    whose value properties differ from ours. A stack we created pins nothing,
    so the data-loss guard sees a changed value there and refuses it.
    """
    meta = deployed.get("Metadata", {}).get(METADATA_KEY, {})
    foreign = not meta.get("ContentHash")
    pinned: set[str] = set(meta.get("PinnedValues", []))
    body = json.loads(json.dumps(ours))
    deployed_resources = deployed.get("Resources", {})
    for logical_id, resource in body.get("Resources", {}).items():
        props = VALUE_PROPERTIES.get(resource["Type"])
        live = deployed_resources.get(logical_id)
        if not props or not live or live.get("Type") != resource["Type"]:
            continue
        live_props = live.get("Properties", {})
        differs = any(canonical(live_props.get(p)) != canonical(resource.get("Properties", {}).get(p))
                      for p in props)
        if (logical_id in pinned or (foreign and differs)) and all(pinnable(live, p) for p in props):
            pinned.add(logical_id)
            target = resource.setdefault("Properties", {})
            for p in props:
                if p in live_props:
                    target[p] = live_props[p]
                else:
                    target.pop(p, None)
    pinned &= set(body.get("Resources", {}))
    if pinned:
        body.setdefault("Metadata", {}).setdefault(METADATA_KEY, {})["PinnedValues"] = sorted(pinned)
    return body, sorted(pinned)


# ---------------------------------------------------------------- the refactor

def refactor_body(live: LiveStack, renames: Mapping[str, str]) -> str:
    return json.dumps(rename_resources(live.template, renames), sort_keys=True, separators=(",", ":"))


def create_refactor(cfn, live: LiveStack, renames: Mapping[str, str], description: str) -> str:
    return cfn.create_stack_refactor(
        Description=description[:1024],
        EnableStackCreation=False,
        ResourceMappings=[{"Source": {"StackName": live.info.stack_id, "LogicalResourceId": old},
                           "Destination": {"StackName": live.info.stack_id, "LogicalResourceId": new}}
                          for old, new in renames.items()],
        StackDefinitions=[{"StackName": live.info.stack_id, "TemplateBody": refactor_body(live, renames)}],
    )["StackRefactorId"]


def wait_refactor(ctx: Ctx, refactor_id: str, field_name: str, done: Iterable[str], timeout: float,
                  poll: float = 5.0) -> dict:
    """DescribeStackRefactor until `field_name` (Status or ExecutionStatus) leaves its in-progress states."""
    cfn, finished = ctx.client("cloudformation"), set(done)
    shown = {"state": ""}
    label = field_name[0].lower() + field_name[1:]

    def show(described: dict, now: float) -> None:
        state = described.get(field_name, "")
        if state != shown["state"]:
            ctx.console.line(f"{elapsed(now):>6}  refactor {label} {state}")
            shown["state"] = state

    polled = poll_until(ctx, lambda: cfn.describe_stack_refactor(StackRefactorId=refactor_id),
                        lambda described: described.get(field_name, "") in finished, timeout=timeout, interval=poll,
                        on_poll=show, waiting=f"refactor {label} ...")
    return {**polled.value, field_name: "TIMED_OUT"} if polled.timed_out else polled.value


def refactor_actions(cfn, refactor_id: str) -> list[dict]:
    return collect(cfn.list_stack_refactor_actions, "StackRefactorActions", StackRefactorId=refactor_id)
