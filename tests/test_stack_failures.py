"""stack-update against scripted CloudFormation: the states and failures moto cannot produce.

Each test asserts what the user sees, the outcome (exit code), and what was
or was not done.
"""

import json

import pytest

from portyfoul_infra.errors import UserError
from portyfoul_infra.options import DiffOptions, UpdateOptions
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.verbs.stack import stack_diff, stack_update
from support import Answers, VirtualClock, make_ctx
from support.fakes import FakeAws, FakeCloudFormation, event, resource_change, throttle

DB_REPLACED = resource_change("Database", "AWS::RDS::DBInstance", replacement="True", policy_action="ReplaceAndSnapshot",
                              details=("DBName",))
WEB_TD = resource_change("WebTaskDefinition", "AWS::ECS::TaskDefinition", replacement="True")


def run(cfn, yes=True, allow=(), prompt=None, **opts):
    clock = VirtualClock()
    ctx, out = make_ctx(FakeAws(cloudformation=cfn), clock=clock, prompt=prompt)
    outcome = stack_update(ctx, UpdateOptions(yes=yes, allow_replace=tuple(allow), **opts))
    return outcome, out.getvalue(), clock


def done(status="UPDATE_COMPLETE"):
    return [("UPDATE_IN_PROGRESS", [event("portyfoul-infra", "UPDATE_IN_PROGRESS", "User Initiated")]),
            (status, [event("portyfoul-infra", status)])]


# ---------- the data-loss guard

def test_replacing_the_database_is_blocked_before_anything_executes():
    cfn = FakeCloudFormation(changes=[WEB_TD, DB_REPLACED], script=done())
    outcome, text, _ = run(cfn)
    assert outcome.outcome is Outcome.REFUSED and outcome.exit_code == 2
    assert "Database (AWS::RDS::DBInstance) would be replaced: data snapshot, old deleted, new one empty" in text
    assert "--allow-replace Database" in text
    assert cfn.called("execute_change_set") == [] and cfn.called("set_stack_policy") == []
    assert len(cfn.called("delete_change_set")) == 1


def test_allow_replace_lets_exactly_that_resource_through_and_restores_the_policy():
    cfn = FakeCloudFormation(changes=[WEB_TD, DB_REPLACED], script=done())
    outcome, text, _ = run(cfn, allow=["Database"])
    assert outcome.outcome is Outcome.APPLIED
    assert "allowed by --allow-replace: Database" in text
    policies = [json.loads(kw["StackPolicyBody"]) for kw in cfn.called("set_stack_policy")]
    assert len(policies) == 2
    assert all(s["Effect"] == "Allow" for s in policies[0]["Statement"])        # lifted for this update
    deny = [s for s in policies[1]["Statement"] if s["Effect"] == "Deny"]           # restored afterwards
    assert deny and deny[0]["Resource"] == ["LogicalResourceId/Database"]
    names = [n for n, _ in cfn.calls]
    assert names.index("execute_change_set") < len(names) - names[::-1].index("set_stack_policy") - 1


def test_allowing_another_resource_does_not_let_the_database_through():
    cfn = FakeCloudFormation(changes=[DB_REPLACED], script=done())
    with pytest.raises(UserError, match="--allow-replace Repository: this change set has no such finding; it needs: "
                                        "--allow-replace Database"):
        run(cfn, allow=["Repository"])
    assert cfn.called("execute_change_set") == [] and cfn.called("delete_change_set")


def test_a_typo_in_allow_replace_is_refused_naming_what_the_change_set_guards():
    cfn = FakeCloudFormation(changes=[DB_REPLACED], script=done())
    with pytest.raises(UserError, match="--allow-replace Databse: .*it needs: --allow-replace Database"):
        run(cfn, allow=["Database", "Databse"])
    assert cfn.called("execute_change_set") == []


@pytest.mark.parametrize("change, what", [
    (resource_change("FinnhubApiKeySecret", "AWS::SecretsManager::Secret", details=["SecretString"]), "SecretString"),
    (resource_change("JwtSecret", "AWS::SecretsManager::Secret", details=["GenerateSecretString", "Description"]),
     "GenerateSecretString"),
    (resource_change("PriceUpdateIntervalParameter", "AWS::SSM::Parameter", details=["Value"]), "Value"),
])
def test_a_new_value_for_a_secret_or_parameter_is_refused_as_data_loss(change, what):
    cfn = FakeCloudFormation(changes=[change], script=done())
    outcome, text, _ = run(cfn)
    assert outcome.outcome is Outcome.REFUSED and cfn.called("execute_change_set") == []
    assert f"value REWRITTEN ({what})" in text and f"--allow-replace {change['ResourceChange']['LogicalResourceId']}" in text


def test_a_description_change_on_a_secret_passes_the_value_guard():
    change = resource_change("FinnhubApiKeySecret", "AWS::SecretsManager::Secret", details=["Description"])
    outcome, _, _ = run(FakeCloudFormation(changes=[change], script=done()))
    assert outcome.outcome is Outcome.APPLIED


def test_a_parameter_group_replacement_and_a_removed_ssm_parameter_are_guarded():
    changes = [resource_change("DatabaseParameterGroup", "AWS::RDS::DBParameterGroup", replacement="True"),
               resource_change("PriceUpdateIntervalParameter", "AWS::SSM::Parameter", action="Remove")]
    outcome, text, _ = run(FakeCloudFormation(changes=changes, script=done()))
    assert outcome.outcome is Outcome.REFUSED
    assert "DatabaseParameterGroup" in text and "PriceUpdateIntervalParameter" in text


@pytest.mark.parametrize("change, words", [
    (resource_change("JwtSecret", "AWS::SecretsManager::Secret", replacement="Conditional"), "possibly replaced"),
    (resource_change("WebLogGroup", "AWS::Logs::LogGroup", action="Remove"), "removed: data DELETED"),
    (resource_change("Repository", "AWS::ECR::Repository", replacement="True", policy_action="ReplaceAndRetain"),
     "old kept, new one empty"),
    (resource_change("PrivateSubnet1", "AWS::EC2::Subnet", replacement="True"), "PrivateSubnet1"),
])
def test_every_stateful_replacement_or_removal_is_blocked(change, words):
    cfn = FakeCloudFormation(changes=[change], script=done())
    outcome, text, _ = run(cfn)
    assert outcome.outcome is Outcome.REFUSED and words in text
    assert cfn.called("execute_change_set") == []


def test_stateless_replacements_pass_and_access_changes_are_marked():
    changes = [WEB_TD, resource_change("TaskExecutionRole", "AWS::IAM::Role", details=("Policies",))]
    cfn = FakeCloudFormation(changes=changes, script=done())
    outcome, text, _ = run(cfn)
    assert outcome.outcome is Outcome.APPLIED
    row = next(line for line in text.splitlines() if "TaskExecutionRole" in line)
    assert row.rstrip().endswith("access")
    assert "may widen access" in text


def test_stack_diff_reports_the_guard_and_executes_nothing():
    cfn = FakeCloudFormation(changes=[DB_REPLACED])
    ctx, out = make_ctx(FakeAws(cloudformation=cfn))
    outcome = stack_diff(ctx, DiffOptions())
    assert outcome.outcome is Outcome.REFUSED
    assert "would be replaced" in out.getvalue() and "preview only" in out.getvalue()
    assert cfn.called("execute_change_set") == [] and len(cfn.called("delete_change_set")) == 1


# ---------- confirmation

def test_without_a_terminal_yes_is_required_and_nothing_executes():
    cfn = FakeCloudFormation(changes=[WEB_TD], script=done())
    with pytest.raises(UserError, match="no terminal to confirm on: rerun with --yes"):
        run(cfn, yes=False, prompt=None)
    assert cfn.called("execute_change_set") == [] and len(cfn.called("delete_change_set")) == 1


def test_declining_the_prompt_changes_nothing():
    person = Answers(False)
    cfn = FakeCloudFormation(changes=[WEB_TD], script=done())
    outcome, text, _ = run(cfn, yes=False, prompt=person)
    assert outcome.outcome is Outcome.REFUSED and person.asked == ["execute 1 change(s) on portyfoul-infra?"]
    assert cfn.called("execute_change_set") == []


def test_empty_change_set_is_success_and_is_deleted():
    cfn = FakeCloudFormation(change_set_status="FAILED",
                             change_set_reason="The submitted information didn't contain changes. Submit different information")
    outcome, text, _ = run(cfn)
    assert outcome.outcome is Outcome.NO_CHANGES and "no changes" in text
    assert len(cfn.called("delete_change_set")) == 1 and cfn.called("execute_change_set") == []


def test_a_rejected_change_set_is_a_clear_refusal():
    cfn = FakeCloudFormation(change_set_status="FAILED", change_set_reason="Template format error: Unresolved resource")
    with pytest.raises(UserError, match="CloudFormation rejected the change set: Template format error"):
        run(cfn)


# ---------- failures while executing

def test_failed_update_prints_the_buried_root_cause_and_exits_rolled_back():
    script = [
        ("UPDATE_IN_PROGRESS", [event("portyfoul-infra", "UPDATE_IN_PROGRESS", "User Initiated"),
                                event("WebTaskDefinition", "UPDATE_IN_PROGRESS", type_="AWS::ECS::TaskDefinition")]),
        ("UPDATE_ROLLBACK_IN_PROGRESS", [
            event("Database", "UPDATE_FAILED", "Cannot upgrade postgres from 17.6 to 16.4", type_="AWS::RDS::DBInstance"),
            event("WebService", "UPDATE_FAILED", "Resource update cancelled"),
            event("portyfoul-infra", "UPDATE_ROLLBACK_IN_PROGRESS",
                  "The following resource(s) failed to update: [Database, WebService]."),
        ]),
        ("UPDATE_ROLLBACK_COMPLETE", [event("portyfoul-infra", "UPDATE_ROLLBACK_COMPLETE")]),
    ]
    cfn = FakeCloudFormation(changes=[WEB_TD], script=script)
    outcome, text, _ = run(cfn)
    assert outcome.outcome is Outcome.ROLLED_BACK and outcome.exit_code == 3
    assert "root cause: Database (AWS::RDS::DBInstance) UPDATE_FAILED: Cannot upgrade postgres from 17.6 to 16.4" in text
    assert "final stack status: UPDATE_ROLLBACK_COMPLETE" in text


def test_failed_rollback_needs_a_human_and_says_how_to_continue():
    script = [("UPDATE_ROLLBACK_IN_PROGRESS", [event("WebService", "UPDATE_FAILED", "Service did not stabilize")]),
              ("UPDATE_ROLLBACK_FAILED", [event("portyfoul-infra", "UPDATE_ROLLBACK_FAILED", "rollback failed")])]
    outcome, text, _ = run(FakeCloudFormation(changes=[WEB_TD], script=script))
    assert outcome.outcome is Outcome.NEEDS_HUMAN and outcome.exit_code == 4
    assert "--continue-rollback" in text and "Service did not stabilize" in text


def test_a_failed_creation_says_how_to_clean_up():
    script = [("CREATE_IN_PROGRESS", [event("portyfoul-infra", "CREATE_IN_PROGRESS")]),
              ("ROLLBACK_COMPLETE", [event("NatGateway", "CREATE_FAILED", "Elastic IP limit exceeded",
                                           type_="AWS::EC2::NatGateway"),
                                     event("portyfoul-infra", "ROLLBACK_COMPLETE")])]
    cfn = FakeCloudFormation(exists=False, changes=[resource_change("VPC", "AWS::EC2::VPC", action="Add")], script=script)
    outcome, text, _ = run(cfn)
    assert outcome.outcome is Outcome.ROLLED_BACK
    assert "root cause: NatGateway" in text and "--delete-failed-create" in text
    assert cfn.called("update_termination_protection") == []


def test_only_this_operations_events_are_shown():
    cfn = FakeCloudFormation(changes=[WEB_TD], script=done())
    _, text, _ = run(cfn)
    assert "an older operation" not in text
    assert "UPDATE_COMPLETE" in text


def test_throttling_while_watching_backs_off_and_carries_on():
    cfn = FakeCloudFormation(changes=[WEB_TD], script=done())
    throttle(cfn, "describe_stack_events", {2, 3})  # the first two polls after execution
    outcome, text, clock = run(cfn)
    assert outcome.outcome is Outcome.APPLIED
    assert clock.sleeps[:2] == [5.0, 10.0]  # doubled back-off


def test_watch_timeout_needs_a_human_and_says_cloudformation_continues():
    script = [("UPDATE_IN_PROGRESS", [])] * 50
    outcome, text, clock = run(FakeCloudFormation(changes=[WEB_TD], script=script), timeout=60)
    assert outcome.outcome is Outcome.NEEDS_HUMAN and "still UPDATE_IN_PROGRESS after 60s" in text
    assert clock.now <= 70


def test_create_turns_on_termination_protection_and_the_stack_policy():
    script = [("CREATE_IN_PROGRESS", [event("portyfoul-infra", "CREATE_IN_PROGRESS")]),
              ("CREATE_COMPLETE", [event("portyfoul-infra", "CREATE_COMPLETE")])]
    cfn = FakeCloudFormation(exists=False, changes=[resource_change("VPC", "AWS::EC2::VPC", action="Add")], script=script)
    outcome, _, _ = run(cfn)
    assert outcome.outcome is Outcome.APPLIED
    assert cfn.called("update_termination_protection") == [
        {"StackName": cfn.called("execute_change_set")[0]["StackName"], "EnableTerminationProtection": True}]
    (policy,) = cfn.called("set_stack_policy")
    assert "LogicalResourceId/Database" in policy["StackPolicyBody"]
    (created,) = cfn.called("create_change_set")
    assert created["ChangeSetType"] == "CREATE" and created["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    tags = {t["Key"]: t["Value"] for t in created["Tags"]}
    assert tags["TemplateHash"].startswith("sha256:") and tags["TemplateVersion"]


# ---------- states that are not updatable

def test_an_update_in_progress_is_refused_without_a_change_set():
    cfn = FakeCloudFormation(status="UPDATE_IN_PROGRESS")
    with pytest.raises(UserError, match="UPDATE_IN_PROGRESS: another operation is running. Refusing rather than waiting"):
        run(cfn)
    assert cfn.called("create_change_set") == []


def test_update_rollback_failed_is_explained():
    cfn = FakeCloudFormation(status="UPDATE_ROLLBACK_FAILED", reason="WebService: Resource not found")
    with pytest.raises(UserError, match=r"UPDATE_ROLLBACK_FAILED.*WebService: Resource not found.*--continue-rollback"):
        run(cfn)
    assert cfn.called("create_change_set") == [] and cfn.called("continue_update_rollback") == []


def test_continue_rollback_recovers_the_stack():
    script = [("UPDATE_ROLLBACK_IN_PROGRESS", [event("portyfoul-infra", "UPDATE_ROLLBACK_IN_PROGRESS")]),
              ("UPDATE_ROLLBACK_COMPLETE", [event("portyfoul-infra", "UPDATE_ROLLBACK_COMPLETE")])]
    cfn = FakeCloudFormation(status="UPDATE_ROLLBACK_FAILED", script=script)
    outcome, text, _ = run(cfn, continue_rollback=True)
    assert outcome.outcome is Outcome.APPLIED and len(cfn.called("continue_update_rollback")) == 1
    assert "back on its previous template" in text and cfn.called("create_change_set") == []


def test_rolled_back_creation_is_refused_until_deleted_by_flag():
    cfn = FakeCloudFormation(status="ROLLBACK_COMPLETE")
    with pytest.raises(UserError, match="ROLLBACK_COMPLETE.*--delete-failed-create"):
        run(cfn)
    assert cfn.called("delete_stack") == []


def test_delete_failed_create_deletes_then_creates():
    script = [("DELETE_IN_PROGRESS", [event("portyfoul-infra", "DELETE_IN_PROGRESS")]),
              ("DELETE_COMPLETE", [event("portyfoul-infra", "DELETE_COMPLETE")])]
    cfn = FakeCloudFormation(status="ROLLBACK_COMPLETE", script=script,
                             changes=[resource_change("VPC", "AWS::EC2::VPC", action="Add")])
    real_describe = cfn.describe_stacks

    def describe(StackName):
        if cfn.status == "DELETE_COMPLETE":
            cfn.exists = False
        return real_describe(StackName)

    cfn.describe_stacks = describe
    outcome, text, _ = run(cfn, delete_failed_create=True)
    assert "deleting the failed stack" in text
    assert len(cfn.called("delete_stack")) == 1
    assert cfn.called("create_change_set")[0]["ChangeSetType"] == "CREATE"


@pytest.mark.parametrize("status", ["ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_FAILED"])
def test_broken_states_are_refused_with_the_status(status):
    with pytest.raises(UserError, match=f"{status} and cannot be updated"):
        run(FakeCloudFormation(status=status))


def test_throttling_while_the_change_set_is_created_backs_off_too():
    cfn = FakeCloudFormation(changes=[WEB_TD], script=done())
    throttle(cfn, "describe_change_set", {1, 2})
    outcome, _, clock = run(cfn)
    assert outcome.outcome is Outcome.APPLIED
    assert clock.sleeps[:2] == [2.0, 4.0]
