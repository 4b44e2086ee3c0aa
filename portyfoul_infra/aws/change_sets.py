"""Change sets and the policy that guards them: what would change, and whether it may.

A change set is created, read (every page), judged by the data-loss guard,
shown as a table, then executed or deleted. Stateful resources (the
database, secrets, repository, log groups, network) may be replaced or
removed only when `--allow-replace` names them.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from .. import __version__
from .wait import Backoff
from .clients import ClientSource, collect
from ..context import Clock, Sleep
from ..config import Environment
from ..console import Console
from ..errors import UserError
from .stacks import describe_stack, upload_template

if TYPE_CHECKING:
    from ..artifacts.generated import GeneratedReport

# Resources whose replacement or removal loses data or breaks everything that points at them: the database
# and what it stands on (subnet group, parameter group), secrets and the attachment that fills in the
# database secret's host, SSM parameters (config-set values), images, logs, the network.
STATEFUL_TYPES = frozenset({
    "AWS::RDS::DBInstance", "AWS::RDS::DBSubnetGroup", "AWS::RDS::DBParameterGroup", "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::SecretTargetAttachment", "AWS::SSM::Parameter", "AWS::ECR::Repository",
    "AWS::Logs::LogGroup", "AWS::EC2::VPC", "AWS::EC2::Subnet",
})
# Properties whose modification writes a new value over one set by hand (secrets-set, config-set, rotation).
VALUE_PROPERTIES = {
    "AWS::SecretsManager::Secret": frozenset({"SecretString", "GenerateSecretString"}),
    "AWS::SSM::Parameter": frozenset({"Value"}),
}
# Changes to these can widen who may do what, or who may connect.
ACCESS_TYPES = frozenset({
    "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress", "AWS::SecretsManager::ResourcePolicy", "AWS::ECR::RepositoryPolicy",
})
# The stack policy set on creation denies replacing or deleting these.
POLICY_PROTECTED = ("Database",)

NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")


def stack_policy(allow: Iterable[str] = ()) -> str:
    """Allow all updates except replacing or deleting the protected resources not in `allow`."""
    denied = [f"LogicalResourceId/{r}" for r in POLICY_PROTECTED if r not in set(allow)]
    statements: list[dict[str, Any]] = [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]
    if denied:
        statements.append({"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Principal": "*",
                           "Resource": denied})
    return json.dumps({"Statement": statements}, sort_keys=True)


@dataclass(frozen=True)
class Change:
    action: str              # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str         # True | Conditional | False | "" (Add/Remove)
    policy_action: str       # Delete | Retain | Snapshot | ReplaceAndDelete | ... | ""
    scope: tuple[str, ...] = ()
    details: tuple[str, ...] = ()

    @property
    def stateful(self) -> bool:
        return self.resource_type in STATEFUL_TYPES

    @property
    def replaces(self) -> bool:
        """Replaced, or possibly replaced: CloudFormation says Conditional when it only knows at run time."""
        return self.action == "Modify" and self.replacement in ("True", "Conditional")

    @property
    def rewrites_value(self) -> bool:
        """A modification that writes a new value into a secret or SSM parameter (which holds data set by hand).

        With no details at all for a property change, CloudFormation has not said; that counts as a rewrite.
        """
        props = VALUE_PROPERTIES.get(self.resource_type)
        if not props or self.action != "Modify" or self.replaces:
            return False
        if not self.details:
            return "Properties" in self.scope
        return bool(props & set(self.details))

    @property
    def widens_access(self) -> bool:
        if self.resource_type not in ACCESS_TYPES or self.action not in ("Add", "Modify"):
            return False
        if self.action == "Add" or not self.details:
            return True
        return any(re.search(r"Polic|Ingress|Principal", d) for d in self.details)

    @property
    def data_consequence(self) -> str:
        """What happens to the data of the resource this change removes, replaces or overwrites."""
        if not self.stateful:
            return ""
        if self.rewrites_value:
            props = sorted(VALUE_PROPERTIES[self.resource_type] & set(self.details)) or ["value"]
            return f"value REWRITTEN ({', '.join(props)})"
        p = self.policy_action
        if self.action == "Remove":
            return {"Retain": "kept (detached from the stack)", "Snapshot": "snapshot, then deleted"}.get(
                p, "DELETED")
        if self.replaces:
            return {"ReplaceAndRetain": "old kept, new one empty", "ReplaceAndSnapshot": "snapshot, old deleted, new one empty",
                    "Retain": "old kept, new one empty", "Snapshot": "snapshot, old deleted, new one empty"}.get(
                p, "old DELETED, new one empty")
        return ""


def read_change_set(cfn, stack_name: str, change_set_id: str) -> tuple[str, str, list[Change]]:
    """(status, reason, changes) of a change set, all pages."""
    changes: list[Change] = []
    status = reason = ""
    token = None
    while True:
        kwargs = {"StackName": stack_name, "ChangeSetName": change_set_id}
        if token:
            kwargs["NextToken"] = token
        page = cfn.describe_change_set(**kwargs)
        status, reason = page["Status"], page.get("StatusReason", "")
        for c in page.get("Changes", []):
            rc = c.get("ResourceChange", {})
            changes.append(Change(
                action=rc.get("Action", ""),
                logical_id=rc.get("LogicalResourceId", ""),
                resource_type=rc.get("ResourceType", ""),
                replacement=rc.get("Replacement", "") if rc.get("Action") == "Modify" else "",
                policy_action=rc.get("PolicyAction", ""),
                scope=tuple(rc.get("Scope", [])),
                details=tuple(
                    (d.get("Target", {}).get("Name") or d.get("Target", {}).get("Attribute", ""))
                    for d in rc.get("Details", [])),
            ))
        token = page.get("NextToken")
        if not token:
            return status, reason, changes


def wait_for_change_set(cfn, stack_name: str, change_set_id: str, clock: Clock, sleep: Sleep,
                        timeout: float = 600) -> tuple[str, str, list[Change]]:
    start = clock()
    backoff = Backoff(2.0, ceiling=30.0)
    while True:
        status, reason, changes = backoff.call(lambda: read_change_set(cfn, stack_name, change_set_id), sleep)
        if status in ("CREATE_COMPLETE", "FAILED"):
            return status, reason, changes
        if clock() - start > timeout:
            raise UserError(f"change set still {status} after {timeout:.0f}s")
        sleep(backoff.delay)


def is_empty_change_set(status: str, reason: str) -> bool:
    return status == "FAILED" and any(r in reason for r in NO_CHANGE_REASONS)


@dataclass(frozen=True)
class Violation:
    change: Change

    def describe(self) -> str:
        c = self.change
        if c.rewrites_value:
            return (f"{c.logical_id} ({c.resource_type}) would get a new value from the template: "
                    f"{c.data_consequence}, overwriting what secrets-set, config-set or a rotation wrote")
        verb = "removed" if c.action == "Remove" else (
            "replaced" if c.replacement == "True" else "possibly replaced (Conditional)")
        return f"{c.logical_id} ({c.resource_type}) would be {verb}: data {c.data_consequence}"


def guard(changes: Iterable[Change], allow_replace: Iterable[str] = ()) -> tuple[list[Violation], list[Violation]]:
    """(blocked, allowed): stateful resources a change set would replace, remove or overwrite with a new value."""
    allow = set(allow_replace)
    blocked, allowed = [], []
    for c in changes:
        if c.stateful and (c.action == "Remove" or c.replaces or c.rewrites_value):
            (allowed if c.logical_id in allow else blocked).append(Violation(c))
    return blocked, allowed


def unknown_allowances(changes: Iterable[Change], allow_replace: Iterable[str]) -> list[str]:
    """--allow-replace IDs that name no guarded change in this change set (a typo, or nothing to allow)."""
    guarded = {c.logical_id for c in changes if c.stateful and (c.action == "Remove" or c.replaces or c.rewrites_value)}
    return sorted(set(allow_replace) - guarded)


def render_changes(console: Console, changes: list[Change]) -> None:
    rows = []
    for c in sorted(changes, key=lambda c: (c.action != "Remove", not c.replaces, c.logical_id)):
        flags = []
        if c.stateful and (c.replaces or c.action == "Remove" or c.rewrites_value):
            flags.append("DATA")
        if c.widens_access:
            flags.append("access")
        rows.append((c.action, c.logical_id, c.resource_type, c.replacement or "-", c.policy_action or "-",
                     c.data_consequence or "-", " ".join(flags)))
    console.table(("action", "logical id", "type", "replace", "policy", "data", "flags"), rows)
    n_access = sum(1 for c in changes if c.widens_access)
    if n_access:
        console.warn(f"{n_access} change(s) may widen access (IAM or security group ingress): review them")


@dataclass
class ChangeSetPlan:
    change_set_id: str
    change_set_type: str        # CREATE | UPDATE
    stack_id: str
    content_hash: str = ""
    changes: list[Change] = field(default_factory=list)
    empty: bool = False
    foreign: bool = False       # the deployed template was not built by this tool (adopt it first)


UPDATE_PREFIX, DIFF_PREFIX = "portyfoul-update-", "portyfoul-diff-"


def pending_updates(cfn, stack_id: str) -> list[dict]:
    """Change sets another stack-update created and has not executed or deleted yet (it awaits its y/N)."""
    return [c for c in collect(cfn.list_change_sets, "Summaries", StackName=stack_id) if c.get("ChangeSetName", "").startswith(UPDATE_PREFIX)
            and c.get("ExecutionStatus") in ("AVAILABLE", "EXECUTE_IN_PROGRESS", "UNAVAILABLE")
            and c.get("Status") in ("CREATE_PENDING", "CREATE_IN_PROGRESS", "CREATE_COMPLETE")]


def plan_change_set(aws: ClientSource, env: Environment, report: GeneratedReport, body: str, change_set_type: str,
                    parameters: dict[str, str], console: Console, clock: Clock, sleep: Sleep,
                    inline_limit: int, prefix: str = UPDATE_PREFIX, role_arn: str = "") -> ChangeSetPlan:
    """Create the change set and wait for CloudFormation to describe it; the caller executes or deletes it."""
    cfn = aws.client("cloudformation")
    tags = {**env.stack_tags, "TemplateVersion": __version__, "TemplateHash": report.content_hash}
    kwargs = {
        "StackName": env.stack_name,
        # Unique even when two updates start in the same second.
        "ChangeSetName": f"{prefix}{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}",
        "ChangeSetType": change_set_type,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        "Description": f"portyfoul-infra {__version__} {report.content_hash[:19]}",
    }
    if role_arn:
        kwargs["RoleARN"] = role_arn
    if len(body.encode()) > inline_limit:
        key = f"{env.stack_name}/{hashlib.sha256(body.encode()).hexdigest()}.json"
        kwargs["TemplateURL"] = upload_template(aws.client("s3"), env.template_bucket, env.region, key, body)
        console.line(f"template is {len(body.encode()):,} bytes (> {inline_limit:,} inline): "
                     f"uploaded to s3://{env.template_bucket}/{key}")
    else:
        kwargs["TemplateBody"] = body
    created = cfn.create_change_set(**kwargs)
    status, reason, changes = wait_for_change_set(cfn, env.stack_name, created["Id"], clock, sleep)
    plan = ChangeSetPlan(created["Id"], change_set_type, created["StackId"], report.content_hash, changes)
    if is_empty_change_set(status, reason):
        plan.empty = True
    elif status == "FAILED":
        delete_change_set(cfn, plan)
        raise UserError(f"CloudFormation rejected the change set: {reason}")
    return plan


def delete_change_set(cfn, plan: ChangeSetPlan) -> None:
    try:
        cfn.delete_change_set(ChangeSetName=plan.change_set_id, StackName=plan.stack_id)
    except Exception:
        pass  # best effort: an unexecuted change set costs nothing
    if plan.change_set_type == "CREATE":
        # A CREATE change set leaves an empty REVIEW_IN_PROGRESS stack behind: remove it too.
        stack = describe_stack(cfn, plan.stack_id)
        if stack and stack.status == "REVIEW_IN_PROGRESS":
            cfn.delete_stack(StackName=plan.stack_id)
