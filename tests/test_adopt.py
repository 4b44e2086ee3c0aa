"""adopt: matching the live stack by physical identity, planning, and the refactor's every ending.

The matcher runs on tests/fixtures/live-stack.yaml (the plan's phases 1-6,
hand-written) and on variants of it. Refactor failures are scripted with
botocore Stubbers; the whole takeover runs on the local AWS in
test_sandbox_diagram_cost.py (sandbox --adopt) and below through invoke.
"""

import json

import boto3
import pytest
from botocore.stub import Stubber

from portyfoul_infra.aws.adoption import Side, match
from portyfoul_infra.cfn_template import Resolver, load_template, rename_resources
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.contract import parameter_values
from portyfoul_infra.errors import UserError
from portyfoul_infra.options import AdoptOptions
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.verbs.adopt import adopt
from support import ROOT, VirtualClock, invoke, make_ctx
from support.fakes import FakeAws
from support.scripted import Script, error
from support.template import two_service_groups

FIXTURE = ROOT / "tests" / "fixtures" / "live-stack.yaml"
DEV = ENVIRONMENTS["dev"]
PSEUDO = {"AWS::AccountId": "946652103073", "AWS::Region": "us-east-2", "AWS::StackName": "portyfoul-infra",
          "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
LIVE_PARAMETERS = {"ProjectName": "portyfoul", "Environment": "dev"}
EXPECTED = {
    "PortyfoulVPC": "VPC", "IGW": "InternetGateway", "IGWAttachment": "InternetGatewayAttachment",
    "PublicSubnetA": "PublicSubnet1", "PublicSubnetB": "PublicSubnet2", "PrivateSubnetA": "PrivateSubnet1",
    "PrivateSubnetB": "PrivateSubnet2", "NATGatewayEIP": "NatGatewayEIP", "NATGateway": "NatGateway",
    "PublicRT": "PublicRouteTable", "PrivateRT": "PrivateRouteTable", "PublicInternetRoute": "PublicDefaultRoute",
    "PrivateNATRoute": "PrivateDefaultRoute", "PrivateSubnetARTAssoc": "PrivateSubnet1RouteTableAssociation",
    "DBSecret": "DatabaseSecret", "DBSubnetGroup": "DatabaseSubnetGroup", "DBParameterGroup": "DatabaseParameterGroup",
    "DBSecurityGroup": "DatabaseSecurityGroup", "PostgresDB": "Database", "ECRRepository": "Repository",
    "ECSCluster": "Cluster", "ECSTaskExecutionRole": "TaskExecutionRole", "ECSTaskRole": "TaskRole",
    "ECSWebLogGroup": "WebLogGroup", "ECSWorkerLogGroup": "WorkerLogGroup", "ALBSecurityGroup":
    "LoadBalancerSecurityGroup", "ECSSecurityGroup": "ServiceSecurityGroup", "ApplicationLoadBalancer": "LoadBalancer",
    "ALBTargetGroupWeb": "WebTargetGroup", "ALBListenerHTTP": "HttpListener", "JWTSigningSecret": "JwtSecret",
    "FinnhubAPIKey": "FinnhubApiKeySecret", "CoinGeckoAPIKey": "CoinGeckoApiKeySecret",
    "PortyfoulWebTaskDef": "WebTaskDefinition", "PortyfoulWebService": "WebService",
}


@pytest.fixture(scope="module")
def live_template():
    return load_template(FIXTURE.read_text())


def sides(live: dict, ours: dict):
    return (Side("live", live, Resolver(live, LIVE_PARAMETERS, PSEUDO)),
            Side("ours", ours, Resolver(ours, parameter_values(DEV), PSEUDO)))


def matched(live: dict, ours: dict, overrides=None) -> dict:
    return match(*sides(live, ours), overrides or {})


# ---------- matching by identity

def test_every_phase_1_to_6_resource_is_matched_by_identity(live_template, template):
    mapping = matched(live_template, template)
    for old, new in EXPECTED.items():
        assert mapping.get(old) == new, old
    assert len(mapping) == 38 and "DBIngressFromECS" not in mapping


def test_logical_ids_play_no_part_even_when_they_are_swapped(live_template, template):
    """The live database under our repository's ID, and the repository under our database's: names decide."""
    swapped = rename_resources(live_template, {"PostgresDB": "Repository", "ECRRepository": "Database"})
    mapping = matched(swapped, template)
    assert mapping["Repository"] == "Database" and mapping["Database"] == "Repository"


def test_other_logical_ids_match_the_same_resources(live_template, template):
    renamed = rename_resources(live_template, {k: f"Legacy{k}" for k in live_template["Resources"]})
    mapping = matched(renamed, template)
    assert {k.removeprefix("Legacy"): v for k, v in mapping.items()} == matched(live_template, template)


def test_a_json_template_matches_like_the_yaml_one(live_template, template):
    as_json = load_template(json.dumps(live_template))
    assert matched(as_json, template) == matched(live_template, template)


def test_two_candidate_security_groups_are_refused_naming_both(live_template, template):
    with pytest.raises(UserError, match="ECSSecurityGroup and ECSSecurityGroup2 all match our ServiceSecurityGroup"):
        matched(two_service_groups(live_template), template)


def test_map_settles_what_identity_cannot(live_template, template):
    mapping = matched(two_service_groups(live_template), template, {"ECSSecurityGroup2": "ServiceSecurityGroup"})
    assert mapping["ECSSecurityGroup2"] == "ServiceSecurityGroup" and "ECSSecurityGroup" not in mapping


@pytest.mark.parametrize("overrides, message", [
    ({"Nope": "Database"}, "the live stack has no resource 'Nope'"),
    ({"PostgresDB": "Databse"}, "our template has no resource 'Databse'"),
    ({"PostgresDB": "Repository"}, "PostgresDB is AWS::RDS::DBInstance but Repository is AWS::ECR::Repository"),
])
def test_a_map_naming_an_unknown_or_mismatched_id_is_refused(live_template, template, overrides, message):
    with pytest.raises(UserError, match=message):
        matched(live_template, template, overrides)


# ---------- the plan

def test_renaming_rewrites_every_kind_of_reference():
    t = {"Resources": {
        "A": {"Type": "AWS::SNS::Topic"},
        "B": {"Type": "AWS::SQS::Queue", "DependsOn": ["A"], "Properties": {
            "QueueName": {"Fn::Sub": "q-${A.TopicName}-${A}-${AWS::Region}"},
            "X": {"Fn::GetAtt": "A.TopicName"}, "Y": {"Fn::GetAtt": ["A", "TopicName"]}, "Z": {"Ref": "A"},
            "W": {"Fn::Sub": ["${A}-${Local}", {"Local": {"Ref": "A"}}]}}}},
        "Outputs": {"O": {"Value": {"Ref": "A"}}}}
    r = rename_resources(t, {"A": "Topic"})
    p = r["Resources"]["B"]["Properties"]
    assert set(r["Resources"]) == {"Topic", "B"} and r["Resources"]["B"]["DependsOn"] == ["Topic"]
    assert p["QueueName"] == {"Fn::Sub": "q-${Topic.TopicName}-${Topic}-${AWS::Region}"}
    assert p["X"] == {"Fn::GetAtt": "Topic.TopicName"} and p["Y"] == {"Fn::GetAtt": ["Topic", "TopicName"]}
    assert p["Z"] == {"Ref": "Topic"} and p["W"] == {"Fn::Sub": ["${Topic}-${Local}", {"Local": {"Ref": "Topic"}}]}
    assert r["Outputs"]["O"]["Value"] == {"Ref": "Topic"}


# ---------- the refactor's endings, scripted with a Stubber

REFACTOR_ID = "arn:aws:cloudformation:us-east-2:946652103073:stackrefactor/1"


@pytest.fixture
def live(aws_env):
    """The hand-written stack, live on the local AWS."""
    boto3.client("cloudformation", region_name="us-east-2").create_stack(
        StackName="portyfoul-infra", TemplateBody=FIXTURE.read_text(), Capabilities=["CAPABILITY_NAMED_IAM"])
    return aws_env


def scripted_adopt(steps, **opts):
    """adopt against the live stack, the stack refactor's answers scripted (the local AWS cannot fail one)."""
    clock = VirtualClock()
    ctx, out = make_ctx(clock=clock)
    script = Script(ctx.client("cloudformation"))
    steps(script)
    outcome = adopt(ctx, AdoptOptions(yes=True, **opts))
    assert script.pending() == {}
    return outcome, out.getvalue(), clock, script


def refactor(create="CREATE_COMPLETE", reason="", execute=None, throttle=0):
    def steps(script):
        script.add("CreateStackRefactor", {"StackRefactorId": REFACTOR_ID})
        script.add("DescribeStackRefactor", *[error("Throttling", "Rate exceeded")] * throttle)
        script.add("DescribeStackRefactor", {"StackRefactorId": REFACTOR_ID, "Status": "CREATE_IN_PROGRESS",
                                             "ExecutionStatus": "UNAVAILABLE"})
        script.add("DescribeStackRefactor", {"StackRefactorId": REFACTOR_ID, "Status": create, "StatusReason": reason,
                                             "ExecutionStatus": "AVAILABLE" if create == "CREATE_COMPLETE"
                                             else "UNAVAILABLE"})
        if create != "CREATE_COMPLETE":
            return
        script.add("ListStackRefactorActions", {"StackRefactorActions": [
            {"Action": "MOVE", "Entity": "RESOURCE", "PhysicalResourceId": "portyfoul-dev-postgres",
             "ResourceMapping": {"Source": {"StackName": "portyfoul-infra", "LogicalResourceId": "PostgresDB"},
                                 "Destination": {"StackName": "portyfoul-infra", "LogicalResourceId": "Database"}}}]})
        script.add("ExecuteStackRefactor", {})
        script.add("DescribeStackRefactor", {"StackRefactorId": REFACTOR_ID, "Status": "CREATE_COMPLETE",
                                             "ExecutionStatus": "EXECUTE_IN_PROGRESS"})
        script.add("DescribeStackRefactor", {"StackRefactorId": REFACTOR_ID, "Status": "CREATE_COMPLETE",
                                             "ExecutionStatus": execute, "ExecutionStatusReason": reason})
    return steps


def test_a_refactor_that_completes_is_adopted_and_points_at_stack_diff(live):
    outcome, text, _, _ = scripted_adopt(refactor(execute="EXECUTE_COMPLETE"))
    assert outcome.outcome is Outcome.APPLIED
    rename_row = next(line.split() for line in text.splitlines() if line.split()[:2] == ["PostgresDB", "Database"])
    assert rename_row[2] == "portyfoul-dev-postgres"  # the plan shows the physical identity it matched on
    assert "adopted: portyfoul-infra's resources are under our logical IDs" in text
    assert "never update this stack with infra/main.yaml" in text
    assert "invoke stack-diff --env dev" in text


def test_the_refactor_renames_and_changes_nothing_else(live):
    outcome, _, _, script = scripted_adopt(refactor(create="CREATE_FAILED", reason="stop here"))
    assert outcome.outcome is Outcome.REFUSED
    sent = script.calls["CreateStackRefactor"][0]
    body = json.loads(sent["StackDefinitions"][0]["TemplateBody"])
    live_template = load_template(FIXTURE.read_text())
    assert body == rename_resources(live_template, {k: v for k, v in EXPECTED.items()} | {
        "PublicSubnetARTAssoc": "PublicSubnet1RouteTableAssociation",
        "PublicSubnetBRTAssoc": "PublicSubnet2RouteTableAssociation",
        "PrivateSubnetBRTAssoc": "PrivateSubnet2RouteTableAssociation"})
    assert body["Parameters"] == live_template["Parameters"]
    mappings = {(m["Source"]["LogicalResourceId"], m["Destination"]["LogicalResourceId"])
                for m in sent["ResourceMappings"]}
    assert ("PostgresDB", "Database") in mappings and len(mappings) == 38


def test_a_refactor_cloudformation_rejects_changes_nothing_and_exits_2(live):
    outcome, text, _, _ = scripted_adopt(refactor(create="CREATE_FAILED",
                                                  reason="Resource type AWS::Foo::Bar is not supported"))
    assert outcome.outcome is Outcome.REFUSED
    assert "CloudFormation rejected the refactor: Resource type AWS::Foo::Bar is not supported" in text
    assert "nothing changed: portyfoul-infra keeps its logical IDs" in text


def test_a_validation_error_from_create_stack_refactor_is_a_refusal_with_nothing_changed(live):
    from portyfoul_infra.outcomes import failure_exit
    ctx, _ = make_ctx()
    Script(ctx.client("cloudformation")).add("CreateStackRefactor", error("ValidationError", "Template format error"))
    with pytest.raises(Exception) as raised:
        adopt(ctx, AdoptOptions(yes=True))
    message, code = failure_exit(raised.value, ctx.journal)
    assert code == 2 and "Template format error" in message and "nothing changed" in message


def test_a_failed_execution_is_rolled_back_and_exits_3(live):
    outcome, text, _, _ = scripted_adopt(refactor(execute="ROLLBACK_COMPLETE",
                                                  reason="Resource PostgresDB is being modified"))
    assert outcome.outcome is Outcome.ROLLED_BACK
    assert "rolled it back (ROLLBACK_COMPLETE): Resource PostgresDB is being modified" in text
    assert "on its old logical IDs" in text


def test_a_rollback_that_fails_needs_a_human(live):
    outcome, text, _, _ = scripted_adopt(refactor(execute="ROLLBACK_FAILED", reason="boom"))
    assert outcome.outcome is Outcome.NEEDS_HUMAN and "needs a human" in text


def test_throttling_while_watching_backs_off_and_carries_on(live):
    outcome, _, clock, _ = scripted_adopt(refactor(execute="EXECUTE_COMPLETE", throttle=2))
    assert outcome.outcome is Outcome.APPLIED and clock.sleeps[:2] == [5.0, 10.0]


def test_a_stack_with_a_stack_policy_is_refused_before_anything(live):
    boto3.client("cloudformation", region_name="us-east-2").set_stack_policy(
        StackName="portyfoul-infra", StackPolicyBody='{"Statement": []}')
    with pytest.raises(UserError, match="has a stack policy attached, and CloudFormation cannot refactor"):
        scripted_adopt(lambda script: None)


def test_a_stack_in_progress_is_refused(live):
    stack = boto3.client("cloudformation", region_name="us-east-2").describe_stacks(
        StackName="portyfoul-infra")["Stacks"][0]
    with pytest.raises(UserError, match="is UPDATE_IN_PROGRESS: another operation is running"):
        scripted_adopt(lambda script: script.add("DescribeStacks", {
            "Stacks": [{**stack, "StackStatus": "UPDATE_IN_PROGRESS"}]}))


def test_credentials_for_another_account_are_refused_before_any_stack_call():
    from dataclasses import replace
    cfn = boto3.client("cloudformation", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(cfn)  # no responses: any call fails the test
    with stub, pytest.raises(UserError, match="credentials are for account 946652103073"):
        adopt(make_ctx(FakeAws(cloudformation=cfn), replace(DEV, account_id="111122223333"))[0],
              AdoptOptions(yes=True))


def test_a_malformed_map_is_refused():
    with pytest.raises(UserError, match="--map 'PostgresDB': use OLD=NEW"):
        AdoptOptions(map=("PostgresDB",)).overrides()


# ---------- through invoke, against the local AWS

def test_nothing_to_adopt_without_a_stack(aws_env):
    proc = invoke("adopt", "--yes", env=aws_env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: stack portyfoul-infra does not exist: nothing to adopt; `invoke stack-update --env dev` creates it")


def test_adopting_through_invoke_then_again_is_idempotent(aws_env):
    cfn = boto3.client("cloudformation", region_name="us-east-2")
    cfn.create_stack(StackName="portyfoul-infra", TemplateBody=FIXTURE.read_text(), Capabilities=["CAPABILITY_NAMED_IAM"])
    bad = invoke("adopt", "--yes", "--map", "Nope=Database", env=aws_env)
    assert bad.returncode == 2 and "the live stack has no resource 'Nope'" in bad.stderr
    assert "PostgresDB" in {r["LogicalResourceId"] for r in cfn.list_stack_resources(
        StackName="portyfoul-infra")["StackResourceSummaries"]}
    no_terminal = invoke("adopt", env=aws_env)
    assert no_terminal.returncode == 2 and "no terminal to confirm on: rerun with --yes" in no_terminal.stderr
    first = invoke("adopt", "--yes", env=aws_env)
    assert first.returncode == 0, first.stdout + first.stderr
    ids = {r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="portyfoul-infra")["StackResourceSummaries"]}
    assert {"Database", "DatabaseSecret", "Repository", "VPC"} <= ids and "PostgresDB" not in ids
    again = invoke("adopt", "--yes", env=aws_env)
    assert again.returncode == 0 and "is already adopted" in again.stdout
    diff = invoke("stack-diff", env=aws_env)
    assert diff.returncode == 0, diff.stdout + diff.stderr
    assert not [line for line in diff.stdout.splitlines() if line.strip().startswith("Remove")]
    assert "DBIngressFromECS" in diff.stdout  # the live-only rule is carried, never removed unasked


def test_a_changed_placeholder_constant_is_refused_not_applied(shared_dev_stack, tmp_path, monkeypatch):
    """The value guard end to end: the local AWS names SecretString as changed, the guard refuses."""
    from portyfoul_infra.artifacts.generated import refresh
    from portyfoul_infra.options import UpdateOptions
    from portyfoul_infra.template import secrets as template_secrets
    from portyfoul_infra.verbs.stack import stack_update

    sm = boto3.client("secretsmanager", region_name="us-east-2")
    before = sm.get_secret_value(SecretId="portyfoul/dev/coingecko-api-key")
    monkeypatch.setattr(template_secrets, "PLACEHOLDER_VALUE", "PLACEHOLDER-a-new-constant")
    monkeypatch.setenv("PORTYFOUL_GENERATED_DIR", str(tmp_path))
    refresh(tmp_path)
    ctx, out = make_ctx(poll_seconds=0)
    outcome = stack_update(ctx, UpdateOptions(yes=True))
    assert outcome.outcome is Outcome.REFUSED, out.getvalue()
    assert "CoinGeckoApiKeySecret (AWS::SecretsManager::Secret) would get a new value from the template" in out.getvalue()
    after = sm.get_secret_value(SecretId="portyfoul/dev/coingecko-api-key")
    assert after["VersionId"] == before["VersionId"] and after["SecretString"] == before["SecretString"]
