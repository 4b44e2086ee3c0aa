"""The two guards every change set passes before it may run: data loss, and interruption.

- The data-loss guard stops what loses or overwrites data: a stateful resource (database, secrets, parameters,
  images, logs, network) removed, replaced, or given a new value. `--allow-replace ID` lets one through.
- The interruption guard stops what disturbs a live system without losing data: a restart, a re-created
  resource that moves endpoints or connections, connections cut, a protection lowered, behaviour changed (TLS
  enforced, tag mutability, log retention shortened). `--allow-interruption ID` lets one through.

The interruption table is deliberately small. Each entry is a property whose update CloudFormation's
resource reference documents as "Update requires: Some interruptions", or whose new value disconnects,
lowers a protection or changes behaviour; each says the effect in words, from the before and after values
when the change set gives them (DescribeChangeSet with IncludePropertyValues). The convergence of an adopted
stack (convergence.py) uses the same table to decide what it keeps as the live stack has it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .change_sets import Change, PropertyChange

RDS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbinstance.html"
Effect = Callable[[Any, Any], "str | None"]   # (before, after) -> the effect in words, or None when harmless


def value(text: Any) -> Any:
    """A value as a change set shows it (text, often JSON), as a plain value."""
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _truthy(v: Any) -> bool:
    return str(value(v)).lower() == "true"


def _number(v: Any) -> float | None:
    try:
        return float(value(v))
    except (TypeError, ValueError):
        return None


def _always(effect: str) -> Effect:
    return lambda before, after: effect.format(before=_show(before), after=_show(after))


def _show(v: Any) -> str:
    v = value(v)
    return "(not set)" if v is None else v if isinstance(v, str) else json.dumps(v, sort_keys=True)


def _lowered(what: str) -> Effect:
    def effect(before: Any, after: Any) -> str | None:
        return f"lowers a protection: {what} goes off" if _truthy(before) and not _truthy(after) else None
    return effect


def _decreased(unit: str, consequence: str) -> Effect:
    def effect(before: Any, after: Any) -> str | None:
        b, a = _number(before), _number(after)
        if b is None or (a is not None and a >= b):
            return None
        return f"lowers a protection: {_show(before)} -> {_show(after)} {unit}; {consequence}"
    return effect


def _backups(before: Any, after: Any) -> str | None:
    """Fewer days of backups deletes the older ones; turning automated backups on or off (0 <-> N) is an outage."""
    b, a = _number(before), _number(after)
    if b is None or a is None:
        return None
    if (b == 0) != (a == 0):
        return (f"an outage while automated backups are turned {'on' if b == 0 else 'off'} ({_show(before)} -> "
                f"{_show(after)} days)" + ("; every automated backup is deleted" if a == 0 else ""))
    return _decreased("days of automated backups", "older backups are deleted")(before, after)


def _auto_minor_upgrade(before: Any, after: Any) -> str | None:
    """Unset is on (RDS's default)."""
    was = before is None or _truthy(before)
    if not was and (after is None or _truthy(after)):
        return ("turns automatic minor version upgrades on: RDS restarts the database for one in its maintenance "
                "window")
    return None


def _storage(before: Any, after: Any) -> str | None:
    b, a = _number(before), _number(after)
    if b is not None and a is not None and a < b:
        return (f"asks RDS to shrink the storage {_show(before)} -> {_show(after)} GiB, which it cannot do: the "
                "update would fail and roll back")
    return None


def _multi_az(before: Any, after: Any) -> str | None:
    if _truthy(before) and not _truthy(after):
        return "lowers availability: the standby in a second Availability Zone is removed"
    if _truthy(after) and not _truthy(before):
        return "a standby is created in a second Availability Zone: heavy I/O on the database while it syncs"
    return None


ALLOW_ALL_EGRESS = [{"CidrIp": "0.0.0.0/0", "IpProtocol": "-1"}]


def _egress_removed(before: Any, after: Any) -> str | None:
    """As _rules_removed; a group that declares no egress rules allows all outbound traffic."""
    return _rules_removed(before if value(before) is not None else ALLOW_ALL_EGRESS,
                          after if value(after) is not None else ALLOW_ALL_EGRESS, "to")


def _rules_removed(before: Any, after: Any, direction: str = "from") -> str | None:
    """Security group rules in `before` and not in `after`: connections they allowed are cut. A rule that only
    changes (its description too) is revoked and authorized again, so it counts: traffic drops meanwhile."""
    old, new = value(before) or [], value(after) or []
    if not isinstance(old, list) or not isinstance(new, list):
        return "cuts connections: the rules change"
    keep = {_rule_key(r) for r in new}
    gone = [r for r in old if _rule_key(r) not in keep]
    if not gone:
        return None
    return ("cuts connections: removes " + "; ".join(_rule(r, direction) for r in gone[:4])
            + (" ..." if len(gone) > 4 else ""))


def _rule_key(r: Any) -> str:
    """A rule as comparable text: CloudFormation passes 5432 and "5432" alike."""
    if not isinstance(r, dict):
        return json.dumps(r, sort_keys=True)
    return json.dumps({k: str(v) if isinstance(v, (int, float, str)) else v for k, v in r.items()}, sort_keys=True)


def _rule(r: Any, direction: str) -> str:
    if not isinstance(r, dict):
        return str(r)
    peer = (r.get("CidrIp") or r.get("CidrIpv6") or r.get("SourceSecurityGroupId")
            or r.get("DestinationSecurityGroupId") or r.get("DestinationPrefixListId") or "?")
    protocol = str(r.get("IpProtocol", "?"))
    what = "all traffic" if protocol == "-1" else f"{protocol} {r.get('FromPort')}-{r.get('ToPort')}"
    return f"{what} {direction} {_show(peer)}"


def _parameters(before: Any, after: Any) -> str | None:
    old, new = value(before) or {}, value(after) or {}
    if not isinstance(old, dict) or not isinstance(new, dict):
        return "changes database behaviour: the parameters change"
    changed = [f"{k} {_show(old.get(k))} -> {_show(new.get(k))}" for k in sorted(set(old) | set(new))
               if str(old.get(k)) != str(new.get(k))]
    if not changed:
        return None
    tls = " (clients that connect without TLS are refused)" if any(k.startswith("rds.force_ssl") for k in changed) \
        else ""
    return "changes database behaviour: " + ", ".join(changed) + tls


def _lb_attributes(before: Any, after: Any) -> str | None:
    def attrs(v: Any) -> dict:
        v = value(v) or []
        return {a.get("Key"): str(a.get("Value")).lower() for a in v if isinstance(a, dict)} if isinstance(v, list) else {}
    old, new = attrs(before), attrs(after)
    if old.get("deletion_protection.enabled") == "true" and new.get("deletion_protection.enabled") != "true":
        return "lowers a protection: the load balancer's deletion protection goes off"
    return None


@dataclass(frozen=True)
class Rule:
    effect: Effect
    source: str          # the documentation that says so


INTERRUPTIONS: dict[str, dict[str, Rule]] = {
    "AWS::RDS::DBInstance": {
        # "Update requires: Some interruptions" in the CloudFormation reference:
        "EngineVersion": Rule(_always("restarts the database for an engine upgrade {before} -> {after} (minutes of "
                                      "downtime; no way back)"), RDS),
        "DBInstanceClass": Rule(_always("restarts the database on another instance class {before} -> {after} "
                                        "(minutes of downtime)"), RDS),
        "StorageType": Rule(_always("migrates the storage {before} -> {after} (degraded performance; the instance "
                                    "may restart)"), RDS),
        "DBParameterGroupName": Rule(_always("moves the database to another parameter group; static parameters "
                                             "apply only after a reboot"), RDS),
        # No interruption, but a protection lowered, availability changed, or who may connect changed:
        "DeletionProtection": Rule(_lowered("the database's deletion protection"), RDS),
        "BackupRetentionPeriod": Rule(_backups, "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
                                                "USER_WorkingWithAutomatedBackups.html"),
        "AutoMinorVersionUpgrade": Rule(_auto_minor_upgrade, "https://docs.aws.amazon.com/AmazonRDS/latest/"
                                                             "UserGuide/USER_UpgradeDBInstance.Maintenance.html"),
        "AllocatedStorage": Rule(_storage, "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
                                           "USER_PIOPS.ModifyingExisting.html"),
        "PreferredMaintenanceWindow": Rule(_always("moves the window RDS restarts the database in for maintenance "
                                                   "and upgrades: {before} -> {after} (unset: a window RDS picks)"),
                                           "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
                                           "USER_UpgradeDBInstance.Maintenance.html"),
        "PreferredBackupWindow": Rule(_always("moves the daily backup window (I/O may pause in it): {before} -> "
                                              "{after}"), "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
                                                          "USER_WorkingWithAutomatedBackups.html"),
        "MultiAZ": Rule(_multi_az, RDS),
        "VPCSecurityGroups": Rule(_always("moves the database to other security groups: connections the old "
                                          "groups allowed may be cut"), RDS),
        "MasterUserPassword": Rule(_always("sets the master password: connections with the old one fail"), RDS),
        "PubliclyAccessible": Rule(_always("changes whether the database is reachable from the internet"), RDS),
    },
    "AWS::RDS::DBParameterGroup": {
        "Parameters": Rule(_parameters, "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
                                        "USER_WorkingWithParamGroups.html"),
    },
    "AWS::EC2::SecurityGroup": {
        "SecurityGroupIngress": Rule(_rules_removed, "https://docs.aws.amazon.com/AWSCloudFormation/latest/"
                                                     "TemplateReference/aws-resource-ec2-securitygroup.html"),
        "SecurityGroupEgress": Rule(_egress_removed, "https://docs.aws.amazon.com/AWSCloudFormation/latest/"
                                                     "TemplateReference/aws-resource-ec2-securitygroup.html"),
    },
    "AWS::ElasticLoadBalancingV2::TargetGroup": {
        "HealthCheckPath": Rule(_always("judges the targets by another path, {before} -> {after}: if the "
                                        "application does not answer it, every target turns unhealthy"),
                                "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/"
                                "target-group-health-checks.html"),
    },
    "AWS::ElasticLoadBalancingV2::LoadBalancer": {
        "LoadBalancerAttributes": Rule(_lb_attributes, "https://docs.aws.amazon.com/elasticloadbalancing/latest/"
                                                       "application/application-load-balancers.html"),
    },
    "AWS::ECR::Repository": {
        "ImageTagMutability": Rule(_always("changes tag mutability {before} -> {after}: pushes that re-use a tag "
                                           "succeed or fail differently"),
                                   "https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html"),
        "LifecyclePolicy": Rule(_always("changes which images expire"),
                                "https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html"),
    },
    "AWS::Logs::LogGroup": {
        "RetentionInDays": Rule(_decreased("days of logs kept", "older log events are deleted"),
                                "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/Working-with-log-groups-"
                                "and-streams.html"),
    },
}
# Re-created, these move an endpoint or cut connections (their data, if any, is the data-loss guard's).
DISRUPTED_WHEN_REPLACED = {
    "AWS::EC2::SecurityGroup": "a new security group: every network interface moves to it and open connections "
                               "may drop",
    "AWS::ECS::Service": "a new service: the old one is deleted with its running tasks (downtime until the new "
                         "tasks are healthy)",
    "AWS::ECS::Cluster": "a new cluster: every service in it is re-created (downtime)",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "a new load balancer: a new DNS name, the old one stops answering",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "a new target group: targets register again (failed requests "
                                                "meanwhile)",
    "AWS::ElasticLoadBalancingV2::Listener": "a new listener: the port stops answering while it is re-created",
    "AWS::EC2::NatGateway": "a new NAT gateway: a new public IP address, outbound connections drop",
    "AWS::EC2::EIP": "a new Elastic IP address: whoever allows the old one no longer sees this system",
    "AWS::EC2::SecurityGroupIngress": "the rule is revoked and authorized again: the connections it allows drop "
                                      "meanwhile",
    "AWS::EC2::SecurityGroupEgress": "the rule is revoked and authorized again: the connections it allows drop "
                                     "meanwhile",
}
# Removing these cuts connections they allowed.
ACCESS_RULE_TYPES = ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")


def interruption_effect(resource_type: str, prop: str, before: Any, after: Any) -> str | None:
    """The interruption or behaviour change of one property going from `before` to `after`, in words (None: none)."""
    rule = INTERRUPTIONS.get(resource_type, {}).get(prop)
    return rule.effect(before, after) if rule else None


# ---------------------------------------------------------------- settling what CloudFormation cannot say

# Attributes that name the resource itself: they change only when the resource is replaced ("Update with No
# Interruption ... without changing the resource's physical ID", CloudFormation's update behaviours).
# Names are create-only wherever they are set, so a name attribute is one of them.
IDENTITY_ATTRIBUTES = frozenset({"Arn", "GroupId", "Id", "RoleId", "AllocationId", "LoadBalancerArn",
                                 "TargetGroupArn", "ListenerArn", "LoadBalancerFullName", "TargetGroupFullName",
                                 "DBInstanceArn", "DbiResourceId", "Name", "ServiceArn", "LoadBalancerName",
                                 "TargetGroupName", "RepositoryUri"})
# Attributes that follow one property: they change only with it (or a replacement). The endpoint's DNS name is
# made of the DB instance identifier (RDS User Guide, "Renaming a DB instance"); its port is the Port property.
FOLLOWS: dict[tuple[str, str], tuple[str, ...]] = {
    ("AWS::RDS::DBInstance", "Endpoint.Address"): ("DBInstanceIdentifier",),
    ("AWS::RDS::DBInstance", "Endpoint.Port"): ("Port",),
}
UPDATE_BEHAVIOURS = ("https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
                     "using-cfn-updating-stacks-update-behaviors.html")


def _unchanged_by(p: PropertyChange, by_id: dict[str, Change]) -> str:
    """Why a Dynamic property change resolves to its current value ("" when it may really change).

    CloudFormation marks every property that reads a modified resource as Dynamic ("because X.GroupId changes"),
    even when X is updated in place and its GroupId cannot change. A Ref or an identity attribute of a resource
    that is not replaced keeps its value.
    """
    if p.evaluation != "Dynamic" or p.source not in ("ResourceReference", "ResourceAttribute"):
        return ""
    target, _, attribute = p.causing_entity.partition(".")
    cause = by_id.get(target)
    if cause is not None and (cause.action != "Modify" or cause.replaces):
        return ""
    if p.source == "ResourceAttribute" and attribute not in IDENTITY_ATTRIBUTES:
        follows = FOLLOWS.get((cause.resource_type if cause else "", attribute))
        if follows is None or (cause is not None and set(follows) & set(cause.details)):
            return ""
        return f"{target} is updated in place and its {', '.join(follows)} stays, so its {attribute} stays"
    if cause is None:
        return f"{target} does not change, so its {attribute or 'physical ID'} stays"
    return f"{target} is updated in place, so its {attribute or 'physical ID'} stays"


def _without(c: Change, settled: set[PropertyChange]) -> Change | None:
    kept = tuple(p for p in c.properties if p not in settled)
    if not kept and "Properties" in c.scope and len(c.scope) == 1:
        return None
    replacement = c.replacement
    if c.replacement in ("True", "Conditional"):
        static_always = any(p.requires_recreation == "Always" and p.evaluation == "Static" for p in kept)
        maybe = any(p.requires_recreation in ("Always", "Conditionally") for p in kept)
        replacement = "True" if static_always else "Conditional" if maybe else "False"
    return Change(c.action, c.logical_id, c.resource_type, replacement, c.policy_action, c.scope, kept,
                  c.physical_id)


def settle(changes: Iterable[Change]) -> tuple[list[Change], dict[tuple[str, str, str], str]]:
    """The changes as they will run: Dynamic property changes that cannot change anything taken out (a change
    left with none is no change), replacement recomputed from what is left. Also returns why each one was
    taken out, by (logical id, property, causing entity), for the table."""
    current = list(changes)
    reasons: dict[tuple[str, str, str], str] = {}
    while True:
        by_id = {c.logical_id: c for c in current}
        settled_any = False
        result: list[Change] = []
        for c in current:
            why = {p: _unchanged_by(p, by_id) for p in c.properties} if c.action == "Modify" else {}
            settled = {p for p, reason in why.items() if reason}
            if not settled:
                result.append(c)
                continue
            for p in settled:
                reasons[(c.logical_id, p.name, p.causing_entity)] = why[p]
            settled_any = True
            left = _without(c, settled)
            if left is not None:
                result.append(left)
        current = result
        if not settled_any:
            return current, reasons


# ---------------------------------------------------------------- judging a change set


@dataclass(frozen=True)
class Finding:
    change: Change
    guard: str           # "data" | "interruption"
    effect: str          # what happens, in words

    @property
    def logical_id(self) -> str:
        return self.change.logical_id

    def describe(self) -> str:
        joint = " " if self.effect.startswith("would") else ": "
        return f"{self.change.logical_id} ({self.change.resource_type}){joint}{self.effect}"


# Created beside an existing secret, these write into its value (a new version): SecretTargetAttachment adds the
# database's host, port and engine to the credentials JSON.
WRITES_INTO_A_SECRET = "AWS::SecretsManager::SecretTargetAttachment"


def data_loss(change: Change, adds_a_secret: bool = False) -> Finding | None:
    c = change
    if c.action == "Add" and c.resource_type == WRITES_INTO_A_SECRET and not adds_a_secret:
        return Finding(c, "data", "would write the database's connection details into an existing secret's value "
                                  "(a new version; username and password stay)")
    if not c.guarded:
        return None
    if c.rewrites_value:
        return Finding(c, "data", f"would get a new value from the template: {c.data_consequence}, overwriting "
                                  "what secrets-set, config-set or a rotation wrote")
    verb = "removed" if c.action == "Remove" else (
        "changed, and CloudFormation cannot say how (Dynamic)" if c.action == "Dynamic" else
        "replaced" if c.replacement == "True" else "possibly replaced (Conditional)")
    return Finding(c, "data", f"would be {verb}: data {c.data_consequence or 'at risk'}")


def interruptions(change: Change) -> list[Finding]:
    c = change
    found = []
    if c.action == "Modify" and c.replaces and c.resource_type in DISRUPTED_WHEN_REPLACED:
        found.append(Finding(c, "interruption", f"would be re-created: {DISRUPTED_WHEN_REPLACED[c.resource_type]}"))
    if c.action == "Remove" and c.resource_type in ACCESS_RULE_TYPES:
        found.append(Finding(c, "interruption", "would be removed: cuts the connections the rule allowed"))
    if c.action == "Modify":
        for p in c.properties:
            effect = interruption_effect(c.resource_type, p.name, p.before, p.after)
            if effect:
                found.append(Finding(c, "interruption", f"{p.name}: {effect}"))
    return found


@dataclass
class Verdict:
    blocked: list[Finding]
    allowed: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.blocked


def judge(changes: Iterable[Change], allow_replace: Iterable[str] = (),
          allow_interruption: Iterable[str] = ()) -> Verdict:
    """Every finding of both guards, blocked unless the operator named its resource with the matching flag."""
    allowed_ids = {"data": set(allow_replace), "interruption": set(allow_interruption)}
    verdict = Verdict([], [])
    changes, _ = settle(changes)
    adds_a_secret = any(c.action == "Add" and c.resource_type == "AWS::SecretsManager::Secret" for c in changes)
    for c in changes:
        findings = [f for f in [data_loss(c, adds_a_secret)] if f] + interruptions(c)
        for f in findings:
            (verdict.allowed if f.logical_id in allowed_ids[f.guard] else verdict.blocked).append(f)
    return verdict


def unknown_allowances(changes: Iterable[Change], allow_replace: Iterable[str],
                       allow_interruption: Iterable[str]) -> list[str]:
    """Flags that name no finding of this change set (a typo, or nothing to allow), as `--flag ID`."""
    changes, _ = settle(changes)
    adds_a_secret = any(c.action == "Add" and c.resource_type == "AWS::SecretsManager::Secret" for c in changes)
    data = {c.logical_id for c in changes if data_loss(c, adds_a_secret)}
    interrupted = {c.logical_id for c in changes if interruptions(c)}
    return ([f"--allow-replace {i}" for i in sorted(set(allow_replace) - data)]
            + [f"--allow-interruption {i}" for i in sorted(set(allow_interruption) - interrupted)])


# ---------------------------------------------------------------- showing a change set

# Shown as "(secret)", never as a value, in every table and in --json.
MASKED = {("AWS::SecretsManager::Secret", "SecretString"), ("AWS::SecretsManager::Secret", "GenerateSecretString"),
          ("AWS::RDS::DBInstance", "MasterUserPassword"), ("AWS::SSM::Parameter", "Value")}
VALUE_WIDTH = 60


def shown(change: Change, prop: str, text: str | None) -> str:
    """A property value for people: masked when it may hold a secret, one bounded line otherwise."""
    from ..console import shorten

    if text is None:
        return "(not set)"
    if (change.resource_type, prop) in MASKED:
        return "(secret)" if change.resource_type != "AWS::SSM::Parameter" else "(value)"
    return shorten(text, VALUE_WIDTH)


def no_echo_properties(template: dict) -> set[tuple[str, str]]:
    """(logical id, property) of every property that reads a NoEcho parameter of `template`: CloudFormation may
    show its value before and after in a change set, and it is as secret as the parameter."""
    from ..cfn_template import SUB_VAR

    hidden = {name for name, d in (template.get("Parameters") or {}).items()
              if isinstance(d, dict) and str(d.get("NoEcho", "")).lower() == "true"}

    def reads(value: Any) -> bool:
        if isinstance(value, dict):
            if value.get("Ref") in hidden:
                return True
            sub = value.get("Fn::Sub")
            text = sub[0] if isinstance(sub, list) and sub else sub
            if isinstance(text, str) and hidden & set(SUB_VAR.findall(text)):
                return True
            return any(reads(v) for v in value.values())
        return isinstance(value, list) and any(reads(v) for v in value)

    if not hidden:
        return set()
    return {(lid, prop) for lid, r in (template.get("Resources") or {}).items()
            for prop, value in (r.get("Properties") or {}).items() if reads(value)}


def hide(changes: list[Change], secret: set[tuple[str, str]]) -> list[Change]:
    """The changes as shown: the values of properties in `secret` replaced by (secret)."""
    if not secret:
        return changes
    shown_changes = []
    for c in changes:
        props = tuple(PropertyChange(p.name, p.attribute, p.requires_recreation, p.evaluation, p.source,
                                     p.causing_entity, "(secret)" if p.before is not None else None,
                                     "(secret)" if p.after is not None else None, p.change_type)
                      if (c.logical_id, p.name) in secret else p for p in c.properties)
        shown_changes.append(Change(c.action, c.logical_id, c.resource_type, c.replacement, c.policy_action,
                                    c.scope, props, c.physical_id))
    return shown_changes


def masked(change: Change, prop: str, text: str | None) -> str | None:
    """A property value for a document: whole, but never a secret."""
    if text is None or (change.resource_type, prop) not in MASKED:
        return text
    return "(secret)" if change.resource_type != "AWS::SSM::Parameter" else "(value)"


def change_documents(changes: list[Change], verdict: Verdict | None = None) -> list[dict]:
    """The change set as data (stack-diff --json): what CloudFormation said, what it settles to, the guards'
    flags, each property before and after (secrets masked)."""
    verdict = verdict or judge(changes)
    effective, settled = settle(changes)
    runs = {c.logical_id: c for c in effective}
    findings: dict[str, list[str]] = {}
    for f in verdict.blocked + verdict.allowed:
        findings.setdefault(f.logical_id, []).append(f.guard)
    documents = []
    for c in changes:
        ran = runs.get(c.logical_id)
        documents.append({
            "action": c.action, "logical_id": c.logical_id, "type": c.resource_type,
            "replacement": c.replacement or None,
            "runs_as": None if c.action != "Modify" else (ran.replacement if ran else "no change"),
            "policy_action": c.policy_action or None, "data": (ran.data_consequence if ran else "") or None,
            "guards": sorted(set(findings.get(c.logical_id, []))), "widens_access": c.widens_access,
            "properties": [{"name": p.name, "before": masked(c, p.name, p.before),
                            "after": masked(c, p.name, p.after), "requires_recreation": p.requires_recreation or None,
                            "evaluation": p.evaluation or None, "cause": p.causing_entity or None,
                            "settled": settled.get((c.logical_id, p.name, p.causing_entity))}
                           for p in c.properties]})
    return documents


def render_changes(console, changes: list[Change], verdict: Verdict | None = None) -> None:
    """The change set as a table (action, resource, replacement, data, flags), then each changed property with
    its value before and after."""
    verdict = verdict or judge(changes)
    interrupting = {f.logical_id for f in verdict.blocked + verdict.allowed if f.guard == "interruption"}
    effective, settled = settle(changes)
    runs = {c.logical_id: c for c in effective}
    rows = []
    ordered = sorted(changes, key=lambda c: (c.action != "Remove", not c.replaces, c.logical_id))
    for c in ordered:
        ran = runs.get(c.logical_id)
        flags = (["DATA"] if ran and ran.guarded else []) + (
            ["INTERRUPTS"] if c.logical_id in interrupting else []) + (["access"] if c.widens_access else [])
        replace = c.replacement or "-"
        if c.action == "Modify" and (ran is None or ran.replacement != c.replacement):
            replace = f"{c.replacement}->{ran.replacement if ran else 'no change'}"
        rows.append((c.action, c.logical_id, c.resource_type, replace, c.policy_action or "-",
                     (ran.data_consequence if ran else "") or "-", " ".join(flags)))
    console.table(("action", "logical id", "type", "replace", "policy", "data", "flags"), rows)
    details = [(c, p) for c in ordered if c.action == "Modify" for p in c.properties]
    if details:
        console.line("changed properties (before -> after):")
        for c, p in details:
            how = {"Always": "; replaces", "Conditionally": "; may replace"}.get(p.requires_recreation, "")
            cause = f"; because {p.causing_entity} changes" if p.evaluation == "Dynamic" and p.causing_entity else ""
            why = settled.get((c.logical_id, p.name, p.causing_entity))
            if why:
                how, cause = "", f"; no change: {why}"
            console.line(f"  {c.logical_id}.{p.name}: {shown(c, p.name, p.before)} -> {shown(c, p.name, p.after)}"
                         f"{how}{cause}")
    n_access = sum(1 for c in changes if c.widens_access)
    if n_access:
        console.warn(f"{n_access} change(s) may widen access (IAM or security group ingress): review them")
