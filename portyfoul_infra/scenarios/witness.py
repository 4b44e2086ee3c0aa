"""What a takeover must leave as it found it, captured before and compared after.

Every physical ID of the stack's resources (security groups included), every export and its value, the value
of every secret and SSM parameter of the environment (as a version and a fingerprint: compared, never shown),
the database's engine version, deletion protection, master username and parameters, and each security group's
rules. Used by `invoke sandbox --adopt`, `invoke adopt --rehearse` and the takeover tests.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from ..aws.clients import collect
from ..context import Ctx


def witness(ctx: Ctx, stack_name: str) -> dict[str, Any]:
    """The facts a takeover must keep, read from the (local) AWS."""
    cfn = ctx.client("cloudformation")
    resources = collect(cfn.list_stack_resources, "StackResourceSummaries", StackName=stack_name)
    physical = sorted((r["ResourceType"], r["PhysicalResourceId"]) for r in resources if r.get("PhysicalResourceId"))
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {
        "stack tags": sorted((t["Key"], t["Value"]) for t in stack.get("Tags") or []),
        "physical ids": physical,
        "exports": sorted((e["Name"], e.get("Value", "")) for e in collect(cfn.list_exports, "Exports")),
        "secrets": _secrets(ctx),
        "parameters": _parameters(ctx),
        "databases": _databases(ctx, [p for t, p in physical if t == "AWS::RDS::DBInstance"]),
        "security groups": _security_groups(ctx, [p for t, p in physical if t == "AWS::EC2::SecurityGroup"]),
    }


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What the takeover lost or changed (nothing, when it went right); what it added is not a loss."""
    return (_lost_ids(before, after) + _lost_pairs(before, after) + _lost_databases(before, after)
            + _lost_rules(before, after))


def _lost_ids(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    kept_ids = Counter(map(tuple, after["physical ids"]))
    return [f"{kind} {physical} is gone (replaced or deleted)"
            for (kind, physical), count in sorted(Counter(map(tuple, before["physical ids"])).items())
            if kept_ids[(kind, physical)] < count]


def _lost_pairs(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Stack tags and exports (name -> value), secrets and parameters (name -> fingerprint)."""
    lost = []
    for kind, label, changed in (("stack tags", "stack tag", "changed"), ("exports", "export", "changed"),
                                 ("secrets", "secret", "has a new value"), ("parameters", "parameter", "has a new value")):
        now = dict(map(tuple, after.get(kind, [])))
        for name, value in before.get(kind, []):
            if name not in now:
                lost.append(f"{label} {name} is gone")
            elif now[name] != (tuple(value) if isinstance(value, list) else value):
                lost.append(f"{label} {name} {'is ' if changed == 'changed' else ''}{changed}")
    return lost


def _lost_databases(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lost = []
    for name, facts in before["databases"].items():
        now = after["databases"].get(name)
        if now is None:
            lost.append(f"database {name} is gone")
            continue
        lost += [f"database {name}: {key} was {facts[key]!r}, is {now.get(key)!r}" for key in sorted(facts)
                 if now.get(key) != facts[key]]
    return lost


def _lost_rules(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lost = []
    for group, rules in before["security groups"].items():
        now = after["security groups"].get(group)
        if now is None:
            lost.append(f"security group {group} is gone")
            continue
        missing = sorted(set(map(str, rules)) - set(map(str, now)))
        lost += [f"security group {group} lost the rule {rule}" for rule in missing]
    return lost


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _secrets(ctx: Ctx) -> list[tuple[str, tuple[str, str]]]:
    sm, prefix = ctx.client("secretsmanager"), ctx.env.secret_prefix + "/"
    found = []
    for secret in collect(sm.list_secrets, "SecretList"):
        if secret["Name"].startswith(prefix):
            value = sm.get_secret_value(SecretId=secret["ARN"])
            found.append((secret["Name"], (value["VersionId"], _fingerprint(value.get("SecretString", "")))))
            del value
    return sorted(found)


def _parameters(ctx: Ctx) -> list[tuple[str, str]]:
    ssm = ctx.client("ssm")
    found = []
    for parameter in collect(ssm.describe_parameters, "Parameters"):
        value = ssm.get_parameter(Name=parameter["Name"])["Parameter"]["Value"]
        found.append((parameter["Name"], _fingerprint(value)))
    return sorted(found)


def _databases(ctx: Ctx, identifiers: list[str]) -> dict[str, dict[str, Any]]:
    rds = ctx.client("rds")
    found = {}
    for identifier in identifiers:
        db = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
        groups = [g["DBParameterGroupName"] for g in db.get("DBParameterGroups", [])]
        parameters = {}
        for group in groups:
            for p in collect(rds.describe_db_parameters, "Parameters", "Marker", DBParameterGroupName=group,
                             Source="user"):
                parameters[p["ParameterName"]] = p.get("ParameterValue")
        found[identifier] = {"engine version": db.get("EngineVersion"),
                             "deletion protection": db.get("DeletionProtection"),
                             "allocated storage": db.get("AllocatedStorage"),
                             "backup retention": db.get("BackupRetentionPeriod"),
                             "auto minor upgrade": db.get("AutoMinorVersionUpgrade"),
                             "instance class": db.get("DBInstanceClass"), "multi-az": db.get("MultiAZ"),
                             "master username": db.get("MasterUsername"), "parameter groups": groups,
                             "parameters": json.dumps(parameters, sort_keys=True),
                             "security groups": sorted(g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", []))}
    return found


def _security_groups(ctx: Ctx, ids: list[str]) -> dict[str, list[str]]:
    if not ids:
        return {}
    groups = ctx.client("ec2").describe_security_groups(GroupIds=ids)["SecurityGroups"]
    rules: dict[str, list[str]] = {}
    for g in groups:
        found = []
        for direction, permissions in (("in", g.get("IpPermissions", [])), ("out", g.get("IpPermissionsEgress", []))):
            for p in permissions:
                sources = [r["CidrIp"] for r in p.get("IpRanges", [])] + [
                    r["GroupId"] for r in p.get("UserIdGroupPairs", [])]
                for source in sources:
                    found.append(f"{direction} {p.get('IpProtocol')} {p.get('FromPort', '')}-{p.get('ToPort', '')} "
                                 f"{source}")
        rules[g["GroupId"]] = sorted(found)
    return rules
