"""Reading a stack and following one of its operations: status, events, root cause, outcome.

What waits takes a Ctx (clients, clock, sleep, console), so tests drive it
with fakes and a virtual clock. Change sets are change_sets.py's, the guards
guards.py's; the verbs in verbs/stack.py put the pieces in order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..config import Environment
from ..console import Console, elapsed
from ..context import Ctx
from ..contract import METADATA_KEY
from ..errors import UserError, error_code
from ..outcomes import Outcome
from .wait import poll_until

OK_STATES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
                       "IMPORT_ROLLBACK_COMPLETE"})
_CANCELLED = re.compile(r"^Resource (creation|update|deletion) cancelled", re.I)

# ---------------------------------------------------------------- reading a stack

@dataclass(frozen=True)
class StackInfo:
    name: str
    stack_id: str
    status: str
    reason: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    tags: dict[str, str]
    last_updated: Any
    termination_protection: bool
    drift_status: str = "NOT_CHECKED"
    drift_checked: Any = None
    resolved: dict[str, str] = field(default_factory=dict)   # ResolvedValue of SSM-typed parameters

    @property
    def resolved_parameters(self) -> dict[str, str]:
        """The values the stack's resources got: an SSM-typed parameter's value, not its name (a NoEcho one
        stays ****: AWS never tells it)."""
        return {**self.parameters, **self.resolved}

    @property
    def in_progress(self) -> bool:
        return self.status.endswith("_IN_PROGRESS")


def pseudo_parameters(env: Environment, stack_id: str = "", account: str = "") -> dict[str, str]:
    """The pseudo parameters CloudFormation gives the environment's stack (for resolving its templates here)."""
    return {"AWS::AccountId": account or env.account_id, "AWS::Region": env.region, "AWS::StackName": env.stack_name,
            "AWS::StackId": stack_id, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


def describe_stack(cfn, name: str) -> StackInfo | None:
    """The stack, or None when it does not exist (or was deleted)."""
    try:
        s = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except Exception as e:  # botocore ClientError
        if error_code(e) == "ValidationError" and "does not exist" in str(e):
            return None
        raise
    if s["StackStatus"] == "DELETE_COMPLETE":
        return None
    return StackInfo(
        name=s["StackName"], stack_id=s["StackId"], status=s["StackStatus"], reason=s.get("StackStatusReason", ""),
        outputs={o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs") or []},
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in s.get("Parameters") or []},
        tags={t["Key"]: t["Value"] for t in s.get("Tags") or []},
        last_updated=s.get("LastUpdatedTime") or s.get("CreationTime"),
        termination_protection=bool(s.get("EnableTerminationProtection")),
        drift_status=s.get("DriftInformation", {}).get("StackDriftStatus", "NOT_CHECKED"),
        drift_checked=s.get("DriftInformation", {}).get("LastCheckTimestamp"),
        resolved={p["ParameterKey"]: p["ResolvedValue"] for p in s.get("Parameters") or [] if "ResolvedValue" in p},
    )


def require_stack(ctx: Ctx, env: Environment | None = None) -> StackInfo:
    """The environment's stack (the context's, or `env`'s), or a UserError saying how to create it."""
    env = env or ctx.env
    stack = describe_stack(ctx.client("cloudformation"), env.stack_name)
    if stack is None:
        raise UserError(f"stack {env.stack_name} does not exist; create it with `invoke stack-update --env {env.name}`")
    return stack


def deployed_template(cfn, name: str) -> dict:
    """The deployed template as a dict: ours is JSON; a hand-written one may be YAML with short-form tags."""
    body = cfn.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            from ..cfn_template import load_template
            try:
                return load_template(body)
            except UserError:
                return {}
    return dict(body or {})


def metadata_of(template: dict) -> dict:
    """Our entry in a template's Metadata: version, content hash, and what an adopted stack keeps ({} if none)."""
    return dict((template or {}).get("Metadata", {}).get(METADATA_KEY, {}))


# ---------------------------------------------------------------- events

@dataclass(frozen=True)
class StackEvent:
    event_id: str
    logical_id: str
    resource_type: str
    status: str
    reason: str
    timestamp: Any


class EventStream:
    """The events of one operation: everything newer than what existed when it was marked.

    Events are told apart by EventId, never by timestamp, so a quick update
    with a skewed clock still shows every event.
    """

    def __init__(self, cfn, stack_id: str):
        self.cfn = cfn
        self.stack_id = stack_id
        self.seen: set[str] = set()

    def mark(self) -> None:
        """Remember the newest existing events: they belong to earlier operations."""
        try:
            page = self.cfn.describe_stack_events(StackName=self.stack_id)
        except Exception as e:
            if error_code(e) == "ValidationError":
                return
            raise
        self.seen.update(e["EventId"] for e in page.get("StackEvents", []))

    def poll(self) -> list[StackEvent]:
        """New events since the last poll, oldest first."""
        fresh: list[dict] = []
        token = None
        done = False
        while not done:
            kwargs = {"StackName": self.stack_id}
            if token:
                kwargs["NextToken"] = token
            page = self.cfn.describe_stack_events(**kwargs)
            for e in page.get("StackEvents", []):
                if e["EventId"] in self.seen:
                    done = True
                    break
                fresh.append(e)
            token = page.get("NextToken")
            if not token:
                done = True
        self.seen.update(e["EventId"] for e in fresh)
        return [StackEvent(e["EventId"], e.get("LogicalResourceId", ""), e.get("ResourceType", ""),
                           e.get("ResourceStatus", ""), e.get("ResourceStatusReason", ""), e.get("Timestamp"))
                for e in reversed(fresh)]


def root_cause(events: list[StackEvent], stack_name: str) -> StackEvent | None:
    """The first genuine resource failure of an operation, not a cancellation or the stack summary."""
    for e in events:
        if e.status.endswith("_FAILED") and e.logical_id != stack_name and not _CANCELLED.match(e.reason or ""):
            return e
    for e in events:
        if e.status.endswith("_FAILED") or (e.logical_id == stack_name and "ROLLBACK" in e.status and e.reason):
            return e
    return None


@dataclass
class WatchResult:
    status: str
    events: list[StackEvent] = field(default_factory=list)
    timed_out: bool = False


def watch(ctx: Ctx, stack_id: str, stream: EventStream, timeout: float, poll_seconds: float = 5.0) -> WatchResult:
    """Stream this operation's events until the stack leaves *_IN_PROGRESS (or the deadline passes)."""
    cfn = ctx.client("cloudformation")
    result = WatchResult(status="")

    def fetch() -> tuple[list[StackEvent], StackInfo | None]:
        return stream.poll(), describe_stack(cfn, stack_id)

    def show(answer: tuple[list[StackEvent], StackInfo | None], now: float) -> None:
        events, current = answer
        for e in events:
            result.events.append(e)
            reason = f"  {e.reason}" if e.reason else ""
            colour = "red" if e.status.endswith("FAILED") else ("green" if e.status.endswith("COMPLETE") else None)
            ctx.console.line(f"{elapsed(now):>6}  {e.status:<28} {e.resource_type:<42} {e.logical_id}{reason}", colour)
        result.status = current.status if current else "DELETE_COMPLETE"

    polled = poll_until(ctx, fetch, lambda _: not result.status.endswith("_IN_PROGRESS"), timeout=timeout,
                        interval=poll_seconds, on_poll=show, waiting="stack operation in progress ...")
    result.timed_out = polled.timed_out
    return result


def outcome_of(status: str) -> Outcome:
    if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "DELETE_COMPLETE"):
        return Outcome.APPLIED
    if status in ("UPDATE_ROLLBACK_COMPLETE", "ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"):
        return Outcome.ROLLED_BACK
    return Outcome.NEEDS_HUMAN


def report_failure(console: Console, result: WatchResult, stack_name: str) -> None:
    cause = root_cause(result.events, stack_name)
    if cause:
        console.error(f"root cause: {cause.logical_id} ({cause.resource_type}) {cause.status}: {cause.reason}")
    console.line(f"final stack status: {result.status}")


# ---------------------------------------------------------------- templates too big for a body

def upload_template(ctx: Ctx, bucket: str, key: str, body: str) -> str:
    """Upload to a versioned, private bucket (created on first use); returns the TemplateURL."""
    s3, region = ctx.client("s3"), ctx.env.region
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as e:
        if error_code(e) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
        ctx.record(f"created the template bucket {bucket}", "run the same command again")
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    # CloudFormation fetches the template itself, so this is always the AWS URL, never our endpoint.
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"
