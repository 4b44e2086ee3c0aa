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

The takeover is planned whole before anything changes (plan_takeover): the
renames, the converging stack-update after them (convergence.py: what it
keeps of the live stack, what it changes, what it creates), the resources of
ours that exist outside the stack (made by hand) and are brought in with a
resource import, and the live exports with the stacks that import them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ..cfn_template import Resolver, load_template, referenced_ids, rename_resources
from ..config import Environment
from ..console import elapsed
from ..context import Ctx
from ..contract import METADATA_KEY, VALUE_PROPERTIES, secret_name_of
from ..errors import UserError
from .clients import collect
from .stacks import StackInfo, describe_stack, pseudo_parameters
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
    return live_stack_of(cfn, env, describe_stack(cfn, env.stack_name))


def live_stack_of(cfn, env: Environment, info: StackInfo | None) -> LiveStack:
    """read_live_stack, for a stack described already."""
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
            identity = " ".join(_flat(key[1:])) if key else "no identity"
            problems.append(f"{' and '.join(sorted(olds))} all match our {new} "
                            f"({identity}); settle it with --map OLD={new} for the one to keep")
    if problems:
        raise UserError("cannot match the live stack unambiguously: " + "; ".join(problems))
    return mapping


def takeover_mapping(live: Side, ours: Side, overrides: Mapping[str, str]) -> dict[str, str]:
    """live logical id -> its logical id after adopt: ours where matched; and a live-only resource whose logical
    ID ours uses for something else (a bucket the team called Repository) moves aside to Live<ID>, so that it
    is carried under a name of its own instead of standing in the way of ours."""
    mapping = match(live, ours, with_settled(live, ours, overrides))
    taken = set(ours.resources) | set(live.resources) | set(mapping.values())
    for lid in sorted(live.resources):
        if lid in mapping or lid not in ours.resources:
            continue
        new = f"Live{lid}"
        while new in taken:
            new = f"Live{new}"
        mapping[lid] = new
        taken.add(new)
    return mapping


def _flat(value: Any) -> list[str]:
    """An identity key as words (nested keys flattened), for a message."""
    if isinstance(value, (tuple, list)):
        return [w for v in value for w in _flat(v)]
    return [str(value)]


def with_settled(live: Side, ours: Side, overrides: Mapping[str, str]) -> dict[str, str]:
    """`overrides`, plus every live resource already under our logical ID (same type, identity agreeing): once a
    refactor has run (a --map included), what it renamed stays matched to itself, and a second candidate for the
    same one of ours is no longer a rival."""
    taken = set(overrides) | set(overrides.values())
    settled = {lid: lid for lid in live.resources
               if lid in ours.resources and lid not in taken and live.type_of(lid) == ours.type_of(lid)
               and live.key(lid) == ours.key(lid)}
    return {**settled, **overrides}


def _check_overrides(live: Side, ours: Side, overrides: Mapping[str, str]) -> None:
    """Every --map OLD=NEW names a live resource on the left and one of ours on the right, of one type and of one
    identity: a map settles a tie that identity cannot break (two live security groups both used by the web
    service), never contradicts it. A map against identity would be renamed by adopt and then seen by every
    stack-update after it as a stack not adopted yet (pending_renames matches by identity alone)."""
    for old, new in overrides.items():
        if old not in live.resources and old in ours.resources and new in live.resources:
            raise UserError(f"--map {old}={new} is the wrong way round: left of = is the live stack's logical ID "
                            f"({new}), right of = is ours ({old}): --map {new}={old}")
        if old not in live.resources:
            raise UserError(f"--map {old}={new}: left of = is the live stack's logical ID, and the live stack has no "
                            f"resource {old!r}; its logical IDs: {', '.join(sorted(live.resources))}")
        if new not in ours.resources:
            raise UserError(f"--map {old}={new}: right of = is our logical ID, and our template has no resource "
                            f"{new!r}; its logical IDs: {', '.join(sorted(ours.resources))}")
        if live.type_of(old) != ours.type_of(new):
            raise UserError(f"--map {old}={new}: {old} is {live.type_of(old)} but {new} is {ours.type_of(new)} (the "
                            f"live {old} left of =, our {new} right of =): a map joins two resources of one type")
        theirs, mine = live.key(old), ours.key(new)
        if theirs != mine:
            raise UserError(f"--map {old}={new} contradicts what identity tells: the live {old} (left of =) is "
                            f"{_identity(theirs)}{_known_as(ours, theirs, 'our')}, and our {new} (right of =) is "
                            f"{_identity(mine)}{_known_as(live, mine, 'the live')}. --map only settles a tie between "
                            "resources identity cannot tell apart")


def _identity(key: tuple | None) -> str:
    return " ".join(_flat(key[1:])) if key else "of no identity this tool can read"


def _known_as(side: Side, key: tuple | None, label: str) -> str:
    """", which is our X" when `key` is the identity of exactly one resource on `side`."""
    same = [lid for lid in side.resources if key is not None and side.key(lid) == key]
    return f", which is {label} {same[0]}" if len(same) == 1 else ""


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


# ---------------------------------------------------------------- the whole takeover, planned before anything

# Our resources a team may have made by hand outside the stack (the plan's phase 6 secrets, a parameter, a log
# group, the repository), which a CloudFormation resource import brings in untouched: type -> (the name property,
# the import identifier key).
IMPORTABLE = {
    "AWS::SecretsManager::Secret": ("Name", "Id"),
    "AWS::SSM::Parameter": ("Name", "Name"),
    "AWS::Logs::LogGroup": ("LogGroupName", "LogGroupName"),
    "AWS::ECR::Repository": ("RepositoryName", "RepositoryName"),
}


@dataclass(frozen=True)
class HandMade:
    """One of our resources that exists outside the stack, under our name: imported, never created again."""
    logical_id: str
    resource_type: str
    name: str
    identifier: dict          # ResourceIdentifier for the IMPORT change set
    definition: dict          # the resource as the IMPORT template declares it (values as they are)


@dataclass(frozen=True)
class Export:
    output: str               # the output's key
    name: str                 # the export's name
    importers: tuple[str, ...]


@dataclass
class Takeover:
    live: LiveStack
    renames: dict[str, str]
    unchanged: list[str]
    update: Any                               # updates.UpdatePlan: the converging update, over the renamed template
    imports: list[HandMade] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    predicted: list = field(default_factory=list)   # change_sets.Change, as we expect CloudFormation to list them
    verdict: Any = None                       # guards.Verdict on the predicted changes

    @property
    def convergence(self):
        return self.update.convergence


def plan_takeover(ctx: Ctx, live: LiveStack, ours: dict, overrides: Mapping[str, str], account: str,
                  allow_replace: Iterable[str] = (), allow_interruption: Iterable[str] = ()) -> Takeover:
    """Everything adopt and the converging stack-update after it will do, read from AWS; changes nothing."""
    from .guards import judge
    from .updates import plan_update

    theirs, mine, pseudo = _sides(ctx, live, ours, account)
    mapping = takeover_mapping(theirs, mine, overrides)
    renamed = rename_resources(live.template, mapping)
    update = plan_update(ctx, live.info, "UPDATE", ours, deployed=renamed)
    takeover = Takeover(live, {o: n for o, n in sorted(mapping.items()) if o != n},
                        sorted(o for o, n in mapping.items() if o == n), update)
    takeover.imports = find_hand_made(ctx, ours, update.parameters, pseudo,
                                      [lid for lid, _ in update.convergence.creates])
    takeover.exports = live_exports(ctx, live, pseudo)
    takeover.predicted = predicted_changes(update.convergence, {h.logical_id for h in takeover.imports})
    takeover.verdict = judge(takeover.predicted, allow_replace, allow_interruption)
    return takeover


def _sides(ctx: Ctx, live: LiveStack, ours: dict, account: str) -> tuple[Side, Side, dict[str, str]]:
    """The live stack and ours, each resolved as CloudFormation would (the live one with its own parameter
    values), ready to be matched; and the pseudo parameters both use."""
    from ..contract import parameter_values

    pseudo = pseudo_parameters(ctx.env, live.info.stack_id, account)
    mine = Side("ours", ours, Resolver(ours, parameter_values(ctx.env), pseudo))
    theirs = Side("live", live.template, Resolver(live.template, live.info.resolved_parameters, pseudo),
                  live.physical_ids, facts=ec2_facts(ctx.client("ec2")))
    return theirs, mine, pseudo


def pending_renames(ctx: Ctx, ours: dict, account: str) -> dict[str, str]:
    """The renames adopt would still make on the environment's stack (read-only): {} once it is adopted."""
    live = read_live_stack(ctx.client("cloudformation"), ctx.env)
    theirs, mine, _ = _sides(ctx, live, ours, account)
    try:
        mapping = takeover_mapping(theirs, mine, {})
    except UserError:
        return {"(ambiguous)": "(adopt settles it with --map)"}
    return {old: new for old, new in mapping.items() if old != new}


def predicted_changes(convergence, imported: set[str]) -> list:
    """The converging update's changes, as we expect CloudFormation to list them: what it creates, and what it
    changes in place (kept values are not changes; live-only resources and exports are carried)."""
    from .change_sets import Change, PropertyChange

    changes = [Change("Add", lid, kind, "", "") for lid, kind in convergence.creates if lid not in imported]
    applied: dict[str, list] = {}
    for d in convergence.differences:
        if not d.kept:
            applied.setdefault(d.logical_id, []).append(d)
    for lid, ds in sorted(applied.items()):
        changes.append(Change("Modify", lid, ds[0].resource_type, "False", "", ("Properties",), tuple(
            PropertyChange(d.prop, "Properties", "Never", "Static", "DirectModification", "",
                           _text(d.live), _text(d.ours)) for d in ds)))
    return changes


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def find_hand_made(ctx: Ctx, ours: dict, parameters: Mapping[str, str], pseudo: Mapping[str, str],
                   candidates: Iterable[str]) -> list[HandMade]:
    """Our resources (among `candidates`, the ones the converging update would create) that already exist under
    their name outside the stack: creating them would fail, so they are imported as they are."""
    resolver = Resolver(ours, parameters, pseudo)
    found = []
    for lid in candidates:
        resource = ours["Resources"][lid]
        kind = resource["Type"]
        if kind not in IMPORTABLE:
            continue
        name_prop, key = IMPORTABLE[kind]
        props = resolver.value(resource.get("Properties", {}))
        name = props.get(name_prop)
        if not isinstance(name, str):
            continue
        existing = _existing(ctx, kind, name)
        if existing is None:
            continue
        identifier, value = existing
        definition = {k: v for k, v in resource.items() if k not in ("Condition", "DependsOn")}
        definition["Properties"] = {k: v for k, v in props.items() if k not in VALUE_PROPERTIES.get(kind, ())}
        if value is not None:
            definition["Properties"]["Value"] = value   # SSM requires it: the value the parameter has
        definition["DeletionPolicy"] = definition.get("DeletionPolicy") or "Retain"
        found.append(HandMade(lid, kind, name, {key: identifier}, definition))
    return found


def _existing(ctx: Ctx, kind: str, name: str) -> tuple[str, str | None] | None:
    """(the import identifier, an SSM parameter's value) when a resource of `kind` is named `name`; else None."""
    from ..errors import error_code

    try:
        if kind == "AWS::SecretsManager::Secret":
            described = ctx.client("secretsmanager").describe_secret(SecretId=name)
            return (described["ARN"], None) if not described.get("DeletedDate") else None
        if kind == "AWS::SSM::Parameter":
            parameter = ctx.client("ssm").get_parameter(Name=name)["Parameter"]
            if parameter.get("Type", "String") != "String":
                raise UserError(
                    f"the parameter {name} was made by hand as a {parameter.get('Type')}, and ours is a String: "
                    "CloudFormation cannot manage a SecureString (\"SecureString isn't currently supported for "
                    "CloudFormation templates\"), nor import one as a String without losing its value. It holds a "
                    f"setting, not a secret: make it a String with the same value (`aws ssm delete-parameter --name "
                    f"{name}`, then `aws ssm put-parameter --name {name} --type String --value VALUE`), then run "
                    "adopt again; nothing was renamed")
            return parameter["Name"], parameter["Value"]
        if kind == "AWS::Logs::LogGroup":
            groups = ctx.client("logs").describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
            return (name, None) if any(g["logGroupName"] == name for g in groups) else None
        if kind == "AWS::ECR::Repository":
            ctx.client("ecr").describe_repositories(repositoryNames=[name])
            return name, None
    except Exception as e:
        if error_code(e) in ("ResourceNotFoundException", "ParameterNotFound", "RepositoryNotFoundException"):
            return None
        raise
    return None


def live_exports(ctx: Ctx, live: LiveStack, pseudo: Mapping[str, str]) -> list[Export]:
    """The live stack's exports, each with the stacks that import it (ListImports)."""
    from ..errors import error_code

    resolver = Resolver(live.template, live.info.resolved_parameters, pseudo)
    cfn = ctx.client("cloudformation")
    found = []
    for key, output in sorted(live.template.get("Outputs", {}).items()):
        if "Export" not in output or (output.get("Condition") and not resolver.condition(output["Condition"])):
            continue  # an output whose condition does not hold exists nowhere
        name = resolver.value(output["Export"].get("Name"))
        if not isinstance(name, str):
            continue
        try:
            importers = tuple(sorted(collect(cfn.list_imports, "Imports", ExportName=name)))
        except Exception as e:
            if error_code(e) != "ValidationError":
                raise
            importers = ()  # CloudFormation answers ValidationError for an export nobody imports
        found.append(Export(key, name, importers))
    return found


def ec2_facts(ec2):
    """The CIDR block of a live VPC or subnet, from describing it (the truth, not the template)."""
    from ..errors import error_code

    def facts(resource_type: str, logical_id: str, physical_id: str) -> str | None:
        try:
            if resource_type == "AWS::EC2::VPC":
                return ec2.describe_vpcs(VpcIds=[physical_id])["Vpcs"][0]["CidrBlock"]
            return ec2.describe_subnets(SubnetIds=[physical_id])["Subnets"][0]["CidrBlock"]
        except Exception as e:
            if error_code(e).startswith("Invalid") or isinstance(e, (IndexError, KeyError)):
                return None
            raise
    return facts


IMPORT_PREFIX = "portyfoul-import-"


def import_hand_made(ctx: Ctx, live: LiveStack, imports: list[HandMade], timeout: float) -> Any:
    """Bring the hand-made resources into the stack with an IMPORT change set: the template is the deployed one
    plus their definitions, nothing else changes, and the resources are left as they are."""
    from .change_sets import ChangeSetPlan, delete_change_set, execute_change_set, wait_for_change_set

    cfn = ctx.client("cloudformation")
    for left in collect(cfn.list_change_sets, "Summaries", StackName=live.info.stack_id):
        if left.get("ChangeSetName", "").startswith(IMPORT_PREFIX):   # an adopt that was stopped left it
            cfn.delete_change_set(ChangeSetName=left["ChangeSetId"], StackName=live.info.stack_id)
    current = load_template(cfn.get_template(StackName=live.info.stack_id, TemplateStage="Original")["TemplateBody"])
    template = json.loads(json.dumps(current))
    for h in imports:
        template.setdefault("Resources", {})[h.logical_id] = h.definition
    created = cfn.create_change_set(
        StackName=live.info.stack_id, ChangeSetName=f"{IMPORT_PREFIX}{int(ctx.wall())}", ChangeSetType="IMPORT",
        TemplateBody=json.dumps(template, sort_keys=True, separators=(",", ":")),
        Parameters=[{"ParameterKey": k, "UsePreviousValue": True} for k in sorted(live.info.parameters)],
        Capabilities=["CAPABILITY_NAMED_IAM"],
        ResourcesToImport=[{"ResourceType": h.resource_type, "LogicalResourceId": h.logical_id,
                            "ResourceIdentifier": h.identifier} for h in imports])
    plan = ChangeSetPlan(created["Id"], "IMPORT", created["StackId"])
    status, reason, _ = wait_for_change_set(ctx, live.info.stack_id, created["Id"])
    if status != "CREATE_COMPLETE":
        delete_change_set(cfn, plan)
        raise UserError(f"CloudFormation refused to import {', '.join(h.logical_id for h in imports)}: {reason}")
    return execute_change_set(ctx, plan, timeout, f"`invoke adopt --env {ctx.env.name}` again: it imports what is "
                                                  "still outside the stack")


# ---------------------------------------------------------------- what a deleted stack left behind

# A stack in these states holds none of its resources: a creation over what is left behind starts from none.
NO_RESOURCES = ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE")


def left_behind(ctx: Ctx, ours: dict, account: str) -> list[HandMade]:
    """Our resources that exist outside any stack under the names our template gives them: what a deleted stack
    retained (secrets, the image repository, log groups), or what was made by hand. CloudFormation cannot create a
    resource whose name is taken, so a stack created over them fails; they are imported instead, as they are."""
    from ..contract import parameter_values

    parameters = parameter_values(ctx.env)
    resolver = Resolver(ours, parameters, pseudo_parameters(ctx.env, "", account))
    present = [lid for lid, r in ours.get("Resources", {}).items()
               if not r.get("Condition") or resolver.condition(r["Condition"])]
    return find_hand_made(ctx, ours, parameters, pseudo_parameters(ctx.env, "", account), present)


def import_into_new_stack(ctx: Ctx, imports: list[HandMade], ours: dict, timeout: float) -> Any:
    """Create the environment's stack around `imports` with an IMPORT change set: nothing is created or changed.
    Each is declared as our template writes it (with the parameters it reads), without its value properties (a
    secret's value, kept as it is) and with DeletionPolicy Retain, so that the converging stack-update after it
    sees no difference but the values it keeps, and creates the rest."""
    from ..contract import parameter_values
    from .change_sets import ChangeSetPlan, delete_change_set, execute_change_set, wait_for_change_set

    env, cfn = ctx.env, ctx.client("cloudformation")
    resources: dict[str, dict] = {}
    for h in imports:
        written = ours["Resources"][h.logical_id]
        definition = {k: v for k, v in written.items() if k not in ("Condition", "DependsOn")}
        definition["Properties"] = {k: v for k, v in written.get("Properties", {}).items()
                                    if k not in VALUE_PROPERTIES.get(h.resource_type, ())}
        if "Value" in h.definition.get("Properties", {}):
            definition["Properties"]["Value"] = h.definition["Properties"]["Value"]  # SSM: the value it has
        definition["DeletionPolicy"] = definition.get("DeletionPolicy") or "Retain"
        resources[h.logical_id] = definition
    declared = ours.get("Parameters", {})
    read = sorted(set().union(*(referenced_ids(r) for r in resources.values())) & set(declared))
    values = parameter_values(env)
    template = {"AWSTemplateFormatVersion": "2010-09-09",
                "Description": f"portyfoul-infra {env.name}: what a deleted stack kept, imported as it is",
                "Parameters": {name: declared[name] for name in read}, "Resources": resources}
    created = cfn.create_change_set(
        StackName=env.stack_name, ChangeSetName=f"{IMPORT_PREFIX}{int(ctx.wall())}", ChangeSetType="IMPORT",
        TemplateBody=json.dumps(template, sort_keys=True, separators=(",", ":")),
        Parameters=[{"ParameterKey": name, "ParameterValue": values[name]} for name in read if name in values],
        Capabilities=["CAPABILITY_NAMED_IAM"], Tags=[{"Key": k, "Value": v} for k, v in sorted(env.stack_tags.items())],
        ResourcesToImport=[{"ResourceType": h.resource_type, "LogicalResourceId": h.logical_id,
                            "ResourceIdentifier": h.identifier} for h in imports])
    plan = ChangeSetPlan(created["Id"], "IMPORT", created["StackId"])
    status, reason, _ = wait_for_change_set(ctx, env.stack_name, created["Id"])
    if status != "CREATE_COMPLETE":
        delete_change_set(cfn, plan)
        cfn.delete_stack(StackName=created["StackId"])  # the empty REVIEW_IN_PROGRESS stack the change set made
        raise UserError(f"CloudFormation refused to import {', '.join(h.logical_id for h in imports)}: {reason}; "
                        "nothing changed")
    return execute_change_set(ctx, plan, timeout, f"`invoke stack-status --env {env.name}`; `invoke adopt --env "
                                                  f"{env.name}` again once it is IMPORT_COMPLETE or gone")
