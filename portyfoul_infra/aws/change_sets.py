"""Change sets and the policy that guards them: what would change, and whether it may.

One runner serves every stack this tool changes (the application stack and
the deploy-role stack): a change set is created (the body inline, or through
the template bucket when it is too large), read (every page), judged by the
data-loss guard, shown as a table, then executed and watched, or deleted.
Stateful resources (the database, secrets, repository, log groups, network)
may be replaced or removed only when `--allow-replace` names them.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..context import Ctx
from ..contract import INLINE_TEMPLATE_LIMIT, POLICY_PROTECTED, STATEFUL_TYPES, VALUE_PROPERTIES
from ..errors import UserError, describe_aws_error
from .clients import collect
from .stacks import EventStream, WatchResult, describe_stack, upload_template, watch
from .wait import poll_until

# Changes to these can widen who may do what, or who may connect.
ACCESS_TYPES = frozenset({
    "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress", "AWS::SecretsManager::ResourcePolicy", "AWS::ECR::RepositoryPolicy",
})

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
class PropertyChange:
    """One changed property (or attribute) of a resource, as DescribeChangeSet with IncludePropertyValues says."""
    name: str                    # the property ("Tags", "DeletionPolicy" ... for other attributes)
    attribute: str = "Properties"
    requires_recreation: str = ""   # Never | Conditionally | Always
    evaluation: str = ""            # Static | Dynamic
    source: str = ""                # DirectModification | ParameterReference | ResourceReference | ...
    causing_entity: str = ""
    before: str | None = None       # values as CloudFormation shows them (text; None when not given)
    after: str | None = None
    change_type: str = ""           # Add | Remove | Modify


@dataclass(frozen=True)
class Change:
    action: str              # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str         # True | Conditional | False | "" (Add/Remove)
    policy_action: str       # Delete | Retain | Snapshot | ReplaceAndDelete | ... | ""
    scope: tuple[str, ...] = ()
    properties: tuple[PropertyChange, ...] = ()
    physical_id: str = ""

    @property
    def details(self) -> tuple[str, ...]:
        """The names of the changed properties."""
        return tuple(p.name for p in self.properties)

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
    def guarded(self) -> bool:
        """What the data-loss guard stops unless named: a stateful resource removed, replaced, re-valued, or
        changed in a way CloudFormation cannot tell beforehand (Dynamic)."""
        return self.stateful and (self.action in ("Remove", "Dynamic") or self.replaces or self.rewrites_value)

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
        if self.action == "Dynamic":
            return "unknown until it runs (Dynamic)"
        if self.replaces:
            return {"ReplaceAndRetain": "old kept, new one empty", "ReplaceAndSnapshot": "snapshot, old deleted, new one empty",
                    "Retain": "old kept, new one empty", "Snapshot": "snapshot, old deleted, new one empty"}.get(
                p, "old DELETED, new one empty")
        return ""


def read_change_set(cfn, stack_name: str, change_set_id: str) -> tuple[str, str, list[Change]]:
    """(status, reason, changes) of a change set, all pages, with each changed property's values."""
    changes: list[Change] = []
    status = reason = ""
    token = None
    while True:
        kwargs = {"StackName": stack_name, "ChangeSetName": change_set_id, "IncludePropertyValues": True}
        if token:
            kwargs["NextToken"] = token
        page = cfn.describe_change_set(**kwargs)
        status, reason = page["Status"], page.get("StatusReason", "")
        changes += [_change(c.get("ResourceChange", {})) for c in page.get("Changes", [])]
        token = page.get("NextToken")
        if not token:
            return status, reason, changes


def _change(rc: dict) -> Change:
    properties = []
    for d in rc.get("Details", []):
        target = d.get("Target", {})
        properties.append(PropertyChange(
            name=target.get("Name") or target.get("Attribute", ""), attribute=target.get("Attribute", ""),
            requires_recreation=target.get("RequiresRecreation", ""), evaluation=d.get("Evaluation", ""),
            source=d.get("ChangeSource", ""), causing_entity=d.get("CausingEntity", ""),
            before=target.get("BeforeValue"), after=target.get("AfterValue"),
            change_type=target.get("AttributeChangeType", "")))
    return Change(action=rc.get("Action", ""), logical_id=rc.get("LogicalResourceId", ""),
                  resource_type=rc.get("ResourceType", ""),
                  replacement=rc.get("Replacement", "") if rc.get("Action") == "Modify" else "",
                  policy_action=rc.get("PolicyAction", ""), scope=tuple(rc.get("Scope", [])),
                  properties=tuple(properties), physical_id=rc.get("PhysicalResourceId", ""))


def wait_for_change_set(ctx: Ctx, stack_name: str, change_set_id: str,
                        timeout: float = 600) -> tuple[str, str, list[Change]]:
    cfn = ctx.client("cloudformation")
    polled = poll_until(ctx, lambda: read_change_set(cfn, stack_name, change_set_id),
                        lambda answer: answer[0] in ("CREATE_COMPLETE", "FAILED"), timeout=timeout, interval=2.0,
                        waiting="CloudFormation is computing the change set ...", ceiling=30.0)
    if polled.timed_out:
        raise UserError(f"change set still {polled.value[0]} after {timeout:.0f}s")
    return polled.value


def is_empty_change_set(status: str, reason: str) -> bool:
    return status == "FAILED" and any(r in reason for r in NO_CHANGE_REASONS)


UPDATE_PREFIX, DIFF_PREFIX = "portyfoul-update-", "portyfoul-diff-"


@dataclass(frozen=True)
class ChangeSetRequest:
    """What to ask CloudFormation for: a stack, a body, its parameters and tags."""
    stack_name: str
    body: str
    change_set_type: str             # CREATE | UPDATE
    parameters: dict[str, str]
    tags: dict[str, str]
    description: str = ""
    use_previous: tuple[str, ...] = ()   # parameters passed with UsePreviousValue (carried from an adopted stack)
    content_hash: str = ""
    prefix: str = UPDATE_PREFIX
    role_arn: str = ""                 # a CloudFormation execution role (--cfn-role)
    template_bucket: str = ""          # where a body over the inline limit is uploaded ("" refuses one)
    inline_limit: int = INLINE_TEMPLATE_LIMIT


@dataclass
class ChangeSetPlan:
    change_set_id: str
    change_set_type: str        # CREATE | UPDATE
    stack_id: str
    content_hash: str = ""
    changes: list[Change] = field(default_factory=list)
    empty: bool = False
    foreign: bool = False       # the deployed template was not built by this tool (adopt it first)



def pending_updates(cfn, stack_id: str) -> list[dict]:
    """Change sets another stack-update created and has not executed or deleted yet (it awaits its y/N)."""
    return [c for c in collect(cfn.list_change_sets, "Summaries", StackName=stack_id)
            if c.get("ChangeSetName", "").startswith(UPDATE_PREFIX)
            and c.get("ExecutionStatus") in ("AVAILABLE", "EXECUTE_IN_PROGRESS", "UNAVAILABLE")
            and c.get("Status") in ("CREATE_PENDING", "CREATE_IN_PROGRESS", "CREATE_COMPLETE")]


def create_change_set(ctx: Ctx, request: ChangeSetRequest) -> ChangeSetPlan:
    """Create the change set and wait for CloudFormation to describe it; the caller executes or deletes it.

    A change set CloudFormation rejects is deleted (with the empty stack a rejected CREATE leaves) and
    refused; one with no changes comes back with `empty` set, for the caller to delete.
    """
    cfn = ctx.client("cloudformation")
    body = request.body.encode()
    kwargs: dict[str, Any] = {
        "StackName": request.stack_name,
        # Unique even when two updates start in the same second.
        "ChangeSetName": f"{request.prefix}{time.strftime('%Y%m%d-%H%M%S', time.gmtime(ctx.wall()))}-"
                         f"{secrets.token_hex(3)}",
        "ChangeSetType": request.change_set_type,
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(request.parameters.items())]
                      + [{"ParameterKey": k, "UsePreviousValue": True} for k in sorted(request.use_previous)],
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(request.tags.items())],
    }
    if request.description:
        kwargs["Description"] = request.description[:1024]
    if request.role_arn:
        kwargs["RoleARN"] = request.role_arn
    if len(body) > request.inline_limit:
        if not request.template_bucket:
            raise UserError(f"the template is {len(body):,} bytes, over CloudFormation's {request.inline_limit:,}-"
                            "byte inline limit, and this stack has no template bucket")
        key = f"{request.stack_name}/{hashlib.sha256(body).hexdigest()}.json"
        kwargs["TemplateURL"] = upload_template(ctx, request.template_bucket, key, request.body)
        ctx.console.line(f"template is {len(body):,} bytes (> {request.inline_limit:,} inline): "
                         f"uploaded to s3://{request.template_bucket}/{key}")
    else:
        kwargs["TemplateBody"] = request.body
    created = cfn.create_change_set(**kwargs)
    status, reason, changes = wait_for_change_set(ctx, request.stack_name, created["Id"])
    plan = ChangeSetPlan(created["Id"], request.change_set_type, created["StackId"], request.content_hash, changes)
    if is_empty_change_set(status, reason):
        plan.empty = True
    elif status == "FAILED":
        delete_change_set(cfn, plan)
        raise UserError(f"CloudFormation rejected the change set: {reason}")
    return plan


def execute_change_set(ctx: Ctx, plan: ChangeSetPlan, timeout: float, next_step: str,
                       poll_seconds: float = 5.0) -> WatchResult:
    """Execute the change set and follow the stack's events until the operation ends (or the deadline)."""
    cfn = ctx.client("cloudformation")
    stream = EventStream(cfn, plan.stack_id)
    stream.mark()
    try:
        cfn.execute_change_set(ChangeSetName=plan.change_set_id, StackName=plan.stack_id)
    except Exception as e:
        message = describe_aws_error(e)
        if message is None:
            raise
        delete_change_set(cfn, plan)  # ours, refused: never left behind to block the next update
        raise UserError(f"{message}; the change set was deleted and nothing changed") from None
    ctx.record(f"started executing the change set on {_stack_name(plan)}", next_step)
    return watch(ctx, plan.stack_id, stream, timeout, poll_seconds)


def _stack_name(plan: ChangeSetPlan) -> str:
    """The stack's name, from its ID (arn:...:stack/NAME/uuid)."""
    parts = plan.stack_id.split("/")
    return parts[1] if len(parts) > 2 else plan.stack_id


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
