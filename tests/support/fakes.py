"""Scripted AWS fakes with the real API response shapes, and a virtual clock.

Used where moto cannot produce the state (a change set that replaces the
database, a failed update with a buried root cause, rollbacks, throttling).
Every call is recorded so tests can assert what was *not* done.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

from botocore.exceptions import ClientError

STACK_ID = "arn:aws:cloudformation:us-east-2:946652103073:stack/portyfoul-infra/abc"
_ids = itertools.count(1)


def client_error(code: str, message: str = "", op: str = "Op") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message or code}}, op)


def throttle(fake, method: str, calls: set[int], code: str = "Throttling") -> None:
    """Make `fake.method` answer its n-th calls (1-based, n in `calls`) with a throttling error, as AWS does."""
    original = getattr(fake, method)
    count = {"n": 0}

    def flaky(**kwargs):
        count["n"] += 1
        if count["n"] in calls:
            raise client_error(code, "Rate exceeded", method)
        return original(**kwargs)

    setattr(fake, method, flaky)


def event(logical_id, status, reason="", type_="AWS::ECS::Service", stack_name="portyfoul-infra"):
    return {"StackId": STACK_ID, "EventId": f"e{next(_ids)}", "StackName": stack_name,
            "LogicalResourceId": logical_id, "PhysicalResourceId": "x",
            "ResourceType": "AWS::CloudFormation::Stack" if logical_id == stack_name else type_,
            "Timestamp": datetime(2026, 11, 25, tzinfo=timezone.utc), "ResourceStatus": status,
            "ResourceStatusReason": reason}


def resource_change(logical_id, type_, action="Modify", replacement="False", policy_action=None, details=()):
    rc = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": type_, "Scope": ["Properties"],
          "Details": [{"Target": {"Attribute": "Properties", "Name": d}} for d in details]}
    if action == "Modify":
        rc["Replacement"] = replacement
    if policy_action:
        rc["PolicyAction"] = policy_action
    return {"Type": "Resource", "ResourceChange": rc}


class FakeCloudFormation:
    """A stack that exists in `status`; after execute, walks through `script`.

    script: list of (stack status, [events]) steps, one consumed per watch poll.
    """

    def __init__(self, status="UPDATE_COMPLETE", changes=(), script=(), change_set_status="CREATE_COMPLETE",
                 change_set_reason="", reason="", exists=True, outputs=None):
        self.status = status
        self.reason = reason
        self.exists = exists
        self.changes = list(changes)
        self.script = list(script)
        self.change_set_status = change_set_status
        self.change_set_reason = change_set_reason
        self.events = [event("portyfoul-infra", "UPDATE_COMPLETE", "an older operation")]  # newest first
        self.calls: list[tuple[str, dict]] = []
        self.parameters: dict[str, str] = {}
        self.outputs = outputs or {}
        self.pending_change_sets: list[dict] = []
        # A stack that exists is one this tool made: protected, with its stack policy. A new one has neither.
        from portyfoul_infra.aws.change_sets import stack_policy
        self.termination_protection = exists
        self.policy = stack_policy() if exists else ""

    def _record(self, name, kwargs):
        self.calls.append((name, kwargs))

    def called(self, name):
        return [kw for n, kw in self.calls if n == name]

    def _advance(self):
        if self.script:
            status, new_events = self.script.pop(0)
            self.status = status
            self.events[:0] = list(reversed(new_events))

    # --- API
    def describe_stacks(self, StackName):
        self._record("describe_stacks", {"StackName": StackName})
        if not self.exists:
            raise client_error("ValidationError", f"Stack with id {StackName} does not exist", "DescribeStacks")
        return {"Stacks": [{
            "StackId": STACK_ID, "StackName": "portyfoul-infra", "StackStatus": self.status,
            "StackStatusReason": self.reason, "CreationTime": datetime(2025, 11, 14, tzinfo=timezone.utc),
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()],
            "Tags": [], "EnableTerminationProtection": self.termination_protection}]}

    def describe_stack_events(self, StackName, NextToken=None):
        self._record("describe_stack_events", {"StackName": StackName})
        if self.called("execute_change_set") or self.called("continue_update_rollback") or self.called("delete_stack"):
            if len(self.called("describe_stack_events")) > 1:
                self._advance()
        return {"StackEvents": list(self.events)}

    def get_template(self, StackName, TemplateStage="Original"):
        self._record("get_template", {})
        return {"TemplateBody": {"Metadata": {"PortyfoulInfra": {"ContentHash": "sha256:old"}}}}

    def create_change_set(self, **kwargs):
        self._record("create_change_set", kwargs)
        if kwargs["ChangeSetType"] == "CREATE":
            self.exists, self.status = True, "REVIEW_IN_PROGRESS"
        return {"Id": "arn:aws:cloudformation:us-east-2:946652103073:changeSet/cs/1", "StackId": STACK_ID}

    def describe_change_set(self, StackName, ChangeSetName, NextToken=None, IncludePropertyValues=False):
        self._record("describe_change_set", {})
        return {"Status": self.change_set_status, "StatusReason": self.change_set_reason,
                "ExecutionStatus": "AVAILABLE", "Changes": self.changes}

    def list_exports(self, NextToken=None):
        self._record("list_exports", {})
        return {"Exports": []}

    def list_change_sets(self, StackName, NextToken=None):
        self._record("list_change_sets", {"StackName": StackName})
        return {"Summaries": list(self.pending_change_sets)}

    def delete_change_set(self, **kwargs):
        self._record("delete_change_set", kwargs)

    def execute_change_set(self, **kwargs):
        self._record("execute_change_set", kwargs)

    def continue_update_rollback(self, **kwargs):
        self._record("continue_update_rollback", kwargs)

    def delete_stack(self, **kwargs):
        self._record("delete_stack", kwargs)

    def set_stack_policy(self, **kwargs):
        self._record("set_stack_policy", kwargs)
        self.policy = kwargs["StackPolicyBody"]

    def get_stack_policy(self, StackName):
        self._record("get_stack_policy", {"StackName": StackName})
        return {"StackPolicyBody": self.policy} if self.policy else {}

    def update_termination_protection(self, **kwargs):
        self._record("update_termination_protection", kwargs)
        self.termination_protection = kwargs["EnableTerminationProtection"]


class FakeSts:
    def get_caller_identity(self):
        return {"Account": "946652103073", "Arn": "arn:aws:iam::946652103073:user/dev", "UserId": "x"}


class FakeParameterStore:
    """SSM Parameter Store as the tools use it: a value per name; PutParameter without Overwrite refuses a name
    that exists (the deploy lock relies on it), DeleteParameter(s), GetParameters, and GetParametersByPath one
    level deep in pages (the release history)."""

    def __init__(self):
        self.store: dict[str, str] = {}
        self.versions: dict[str, int] = {}

    def _parameter(self, name):
        return {"Name": name, "Value": self.store[name], "Type": "String", "Version": self.versions.get(name, 1)}

    def get_parameter(self, Name, WithDecryption=False):
        if Name not in self.store:
            raise client_error("ParameterNotFound", Name, "GetParameter")
        return {"Parameter": self._parameter(Name)}

    def get_parameters(self, Names, WithDecryption=False):
        return {"Parameters": [self._parameter(n) for n in Names if n in self.store],
                "InvalidParameters": [n for n in Names if n not in self.store]}

    def get_parameters_by_path(self, Path, Recursive=False, MaxResults=10, NextToken="0", **kwargs):
        names = sorted(n for n in self.store if n.startswith(Path.rstrip("/") + "/")
                       and (Recursive or "/" not in n[len(Path.rstrip("/")) + 1:]))
        start = int(NextToken)
        page = {"Parameters": [self._parameter(n) for n in names[start:start + MaxResults]]}
        if start + MaxResults < len(names):
            page["NextToken"] = str(start + MaxResults)
        return page

    def put_parameter(self, Name, Value, Overwrite=False, **kwargs):
        if Name in self.store and not Overwrite:
            raise client_error("ParameterAlreadyExists", "The parameter already exists.", "PutParameter")
        self.store[Name] = Value
        self.versions[Name] = self.versions.get(Name, 0) + 1
        return {"Version": self.versions[Name]}

    def delete_parameter(self, Name):
        if self.store.pop(Name, None) is None:
            raise client_error("ParameterNotFound", Name, "DeleteParameter")
        self.versions.pop(Name, None)
        return {}

    def delete_parameters(self, Names):
        deleted = [n for n in Names if self.store.pop(n, None) is not None]
        return {"DeletedParameters": deleted, "InvalidParameters": [n for n in Names if n not in deleted]}


class NoneOfOurs:
    """Secrets Manager, CloudWatch Logs and ECR in an account that holds none of our named resources: what
    stack-update asks before it creates the stack (aws.adoption.left_behind)."""

    def describe_secret(self, SecretId):
        raise client_error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.",
                           "DescribeSecret")

    def describe_log_groups(self, **kwargs):
        return {"logGroups": []}

    def describe_repositories(self, repositoryNames):
        raise client_error("RepositoryNotFoundException", f"The repository {repositoryNames[0]} does not exist",
                           "DescribeRepositories")


class FakeAws:
    region = "us-east-2"

    def __init__(self, **clients):
        self.clients = {"sts": FakeSts(), "ssm": FakeParameterStore(), "secretsmanager": NoneOfOurs(),
                        "logs": NoneOfOurs(), "ecr": NoneOfOurs(), **clients}

    def client(self, name):
        return self.clients[name]

    def require_credentials(self):
        pass
