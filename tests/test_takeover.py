"""The takeover end to end: a hand-written live stack, adopted and converged through invoke with only --yes.

Two stand-ins written unlike each other and unlike our template (tests/fixtures/live-stack.yaml: YAML short
form, literal zones, inline rules, secrets in the stack; portyfoul_infra/scenarios/stand_ins/live-stack-phases.json: JSON phase by
phase, parameters with defaults, Fn::Join names, a dynamic reference for the password, separate ingress
resources, exports imported by another stack, a flow log, an RDS log group, a bucket and an SSM parameter of
its own, the phase 6 secrets made by hand outside the stack). After both steps nothing the witness records may
differ: physical IDs, exports, secret and SSM values, the database's engine, protection and parameters, every
security group rule; termination protection and the stack policy are on; a second stack-update is a no-op.
"""

import json
import re

import boto3
import pytest

from portyfoul_infra.aws.lock import acquire, release
from portyfoul_infra.cfn_template import load_template
from portyfoul_infra.options import AdoptOptions, UpdateOptions
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.scenarios.sandbox import (
    CONSUMER_FIXTURE,
    CONSUMER_STACK,
    LIVE_FIXTURE,
    SANDBOX_FINNHUB_KEY,
    create_stand_in,
)
from portyfoul_infra.scenarios.witness import compare, witness
from portyfoul_infra.verbs.adopt import adopt
from portyfoul_infra.verbs.stack import stack_update
from support import ROOT, invoke, make_ctx
from support.documents import documented, same_keys
from support.template import two_service_groups

YAML_FIXTURE = ROOT / "tests" / "fixtures" / "live-stack.yaml"
HAND_MADE = {"portyfoul/dev/jwt-secret": "a-jwt-key-made-with-openssl", "portyfoul/dev/finnhub-api-key":
             SANDBOX_FINNHUB_KEY, "portyfoul/dev/coingecko-api-key": "a-coingecko-key"}


REVIEW_FIXTURE = ROOT / "tests" / "fixtures" / "live-stack-review.yaml"
FINNHUB_KEY = "FINNHUB-REAL-KEY-123456"   # a NoEcho parameter of the review stand-in: never shown, never written
DB_USER = "sekrit_dbuser_77"              # another: the master username
REVIEW_CONSUMER = json.dumps({"Resources": {
    "A": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {
        "Fn::ImportValue": "portyfoul-infra::network::vpc"}}},
    "B": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {
        "Fn::ImportValue": "portyfoul-infra/db/endpoint"}}}}})


def stand_in(kind: str) -> None:
    ctx, _ = make_ctx()
    if kind == "yaml":
        create_stand_in(ctx, YAML_FIXTURE.read_text(), {}, {})
    elif kind == "review":
        ssm = boto3.client("ssm", region_name="us-east-2")
        ssm.put_parameter(Name="/portyfoul/dev/pg-version", Value="17.2", Type="String")
        create_stand_in(ctx, REVIEW_FIXTURE.read_text(), {"FinnhubToken": FINNHUB_KEY, "DbUser": DB_USER},
                        {"portyfoul/dev/coingecko-api-key": "a-coingecko-key"}, REVIEW_CONSUMER,
                        tags={"CostCenter": "portfolio", "Owner": "platform-team"})
    else:
        create_stand_in(ctx, LIVE_FIXTURE.read_text(), {"ProjectName": "portyfoul", "Environment": "dev"}, HAND_MADE,
                        CONSUMER_FIXTURE.read_text())


@pytest.mark.parametrize("kind", ["yaml", "json", "review"])
def test_a_hand_written_stack_is_taken_over_with_nothing_lost(aws_env, kind):
    stand_in(kind)
    ctx, _ = make_ctx()
    before = witness(ctx, "portyfoul-infra")
    adopted = invoke("adopt", "--yes", env=aws_env)
    assert adopted.returncode == 0, adopted.stdout[-4000:] + adopted.stderr
    assert "interruptions and behaviour changes (0): none" in adopted.stdout
    assert "replacements and deletions (0): none" in adopted.stdout
    converged = invoke("stack-update", "--yes", env=aws_env)
    assert converged.returncode == 0, converged.stdout[-4000:] + converged.stderr
    again = invoke("stack-update", "--yes", env=aws_env)
    assert again.returncode == 0 and "no changes" in again.stdout, again.stdout[-2000:] + again.stderr
    after = witness(ctx, "portyfoul-infra")
    assert compare(before, after) == []
    database = next(iter(after["databases"].values()))
    assert database["engine version"] == "17.2" and database["deletion protection"] is True
    cfn = boto3.client("cloudformation", region_name="us-east-2")
    stack = cfn.describe_stacks(StackName="portyfoul-infra")["Stacks"][0]
    assert stack["EnableTerminationProtection"] is True
    assert "LogicalResourceId/Database" in cfn.get_stack_policy(StackName="portyfoul-infra")["StackPolicyBody"]
    for proc in (adopted, converged, again):
        for secret in (SANDBOX_FINNHUB_KEY, FINNHUB_KEY, DB_USER):
            assert secret not in proc.stdout + proc.stderr
    deployed = cfn.get_template(StackName="portyfoul-infra")["TemplateBody"]
    for secret in (FINNHUB_KEY, DB_USER):
        assert secret not in json.dumps(deployed)  # a NoEcho value is passed on, never written into a template
    if kind == "review":
        assert "the stack's own tags stay as they are (CostCenter, Owner)" in adopted.stdout
        tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
        assert tags["CostCenter"] == "portfolio" and tags["Owner"] == "platform-team" and "TemplateHash" in tags
        assert (database["allocated storage"], database["backup retention"], database["auto minor upgrade"]) == (
            30, 0, False)
        ids = {r["LogicalResourceId"]: r["ResourceType"] for r in cfn.list_stack_resources(
            StackName="portyfoul-infra")["StackResourceSummaries"]}
        assert ids["Repository"] == "AWS::ECR::Repository" and ids["LiveRepository"] == "AWS::S3::Bucket"
        parameters = {p["ParameterKey"]: p for p in stack["Parameters"]}
        assert parameters["PgVersion"]["ResolvedValue"] == "17.2" and parameters["FinnhubToken"]["ParameterValue"] == "****"
    if kind == "json":
        assert database["parameters"] == '{"rds.force_ssl": "0"}'
        assert len(before["exports"]) == 25 and before["exports"] == after["exports"]
        assert cfn.list_imports(ExportName="portyfoul-infra-VpcId")["Imports"] == [CONSUMER_STACK]
        assert {"VpcFlowLog", "RdsLogGroup", "TeamNotesParameter", "ArtifactsBucket"} <= {
            r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="portyfoul-infra")[
                "StackResourceSummaries"]}


def take_over(aws_env, kind: str) -> None:
    stand_in(kind)
    for args in (("adopt", "--yes"), ("stack-update", "--yes")):
        proc = invoke(*args, env=aws_env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr


def engine() -> str:
    rds = boto3.client("rds", region_name="us-east-2")
    return rds.describe_db_instances(DBInstanceIdentifier="portyfoul-dev-postgres")["DBInstances"][0]["EngineVersion"]


def test_a_kept_choice_is_given_up_on_its_own_step_that_names_the_restart(aws_env):
    take_over(aws_env, "yaml")
    status = invoke("stack-status", env=aws_env)
    assert "Database.EngineVersion" in status.stdout, status.stdout
    preview = invoke("stack-diff", "--json", "--converge", "Database.EngineVersion", env=aws_env)
    assert preview.returncode == 2, preview.stdout[-3000:] + preview.stderr
    assert "converging (taking ours for): Database.EngineVersion" in preview.stderr  # --json: text on stderr
    assert "restarts the database for an engine upgrade 17.2 -> 17.6" in preview.stderr
    assert "stack-update would refuse this" in preview.stderr and "--allow-interruption Database" in preview.stderr
    document = json.loads(preview.stdout)
    same_keys(documented()["portyfoul.stack-diff/1"], document)
    database = next(c for c in document["changes"] if c["logical_id"] == "Database")
    assert document["outcome"] == "refused" and document["converging"] == ["Database.EngineVersion"]
    assert [(p["name"], p["before"], p["after"]) for p in database["properties"]] == [
        ("EngineVersion", "17.2", "17.6")]
    assert document["guards"]["blocked"][0]["logical_id"] == "Database"
    assert "Database.DeletionProtection" in document["kept"]
    accepted = invoke("stack-diff", "--converge", "Database.EngineVersion", "--allow-interruption", "Database",
                      env=aws_env)
    assert accepted.returncode == 0, accepted.stdout[-3000:] + accepted.stderr
    assert "allowed by --allow-interruption: Database (AWS::RDS::DBInstance): EngineVersion: restarts" in (
        accepted.stdout + accepted.stderr)
    changed = [line.split()[1] for line in accepted.stdout.splitlines()
               if line.split()[:1] == ["Modify"] and "no change" not in line]
    assert changed == ["Database"], accepted.stdout  # nothing but the database, and only its engine
    refused = invoke("stack-update", "--yes", "--converge", "Database.EngineVersion", env=aws_env)
    assert refused.returncode == 2, refused.stdout[-3000:] + refused.stderr
    assert "--allow-interruption Database" in refused.stdout + refused.stderr and engine() == "17.2"
    done = invoke("stack-update", "--yes", "--converge", "Database.EngineVersion", "--allow-interruption",
                  "Database", env=aws_env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert engine() == "17.6"
    again = invoke("stack-update", "--yes", env=aws_env)
    assert again.returncode == 0 and "no changes" in again.stdout
    assert "Database.EngineVersion" not in again.stdout and "Database.DeletionProtection" in again.stdout


def test_adopting_a_stack_this_tool_built_changes_nothing(shared_dev_stack):
    proc = invoke("adopt", "--yes", env=shared_dev_stack)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is already ours: it runs this tool's template (nothing to adopt)" in proc.stdout


def test_an_unadopted_stack_is_refused_by_stack_update_with_the_way_forward(aws_env):
    stand_in("json")
    proc = invoke("stack-update", "--yes", env=aws_env)
    assert proc.returncode == 2
    assert "is not adopted yet" in proc.stderr and "`invoke adopt --env dev`" in proc.stderr
    ids = {r["LogicalResourceId"] for r in boto3.client("cloudformation", region_name="us-east-2")
           .list_stack_resources(StackName="portyfoul-infra")["StackResourceSummaries"]}
    assert "RdsInstance" in ids and "Database" not in ids


def test_a_rehearsal_replays_the_takeover_on_a_copy_and_touches_nothing(aws_env):
    """adopt --rehearse reads the live stack (here: the stand-in on this test's local AWS, playing the real one)
    and replays both steps on a second local AWS; the live stack keeps its logical IDs and every value."""
    stand_in("json")
    ctx, _ = make_ctx()
    before = witness(ctx, "portyfoul-infra")
    cfn = boto3.client("cloudformation", region_name="us-east-2")
    events = len(cfn.describe_stack_events(StackName="portyfoul-infra")["StackEvents"])
    proc = invoke("adopt", "--rehearse", env=aws_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    out = proc.stdout
    for line in ("rehearse: reading portyfoul-infra (read-only", "3 of ours made by hand outside it; 2 imported exports",
                 "rehearse 2/5 adopt --yes", "step 1, adopt: rename 35 logical ID(s)",
                 "rehearse 4/5 stack-update --yes again: must change nothing", "no changes: the deployed template",
                 "rehearsal passed: both steps ran on a copy of portyfoul-infra"):
        assert line in out, line
    endpoints = set(re.findall(r"via (http://[^\s]+)", out + proc.stderr))
    assert all(e.startswith("http://127.0.0.1:") for e in endpoints) and len(endpoints) == 2
    assert compare(before, witness(ctx, "portyfoul-infra")) == []
    ids = {r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="portyfoul-infra")["StackResourceSummaries"]}
    assert "RdsInstance" in ids and "Database" not in ids
    assert len(cfn.describe_stack_events(StackName="portyfoul-infra")["StackEvents"]) == events
    assert SANDBOX_FINNHUB_KEY not in out + proc.stderr


def test_a_rehearsal_that_stops_says_where_and_changes_nothing(aws_env):
    """Two live groups that both match our service group: the rehearsal refuses (exit 2) with the --map way out."""
    ctx, _ = make_ctx()
    create_stand_in(ctx, json.dumps(two_service_groups(load_template(YAML_FIXTURE.read_text()))), {}, {})
    proc = invoke("adopt", "--rehearse", env=aws_env)
    assert proc.returncode == 2
    assert "ECSSecurityGroup and ECSSecurityGroup2 all match our ServiceSecurityGroup" in proc.stderr



def test_a_stack_adopted_with_a_map_converges_with_the_same_choice(aws_env):
    """--map settles an ambiguous match for adopt; the converging update and every later one keep that choice
    (the renamed resource stays matched to itself; the other group is carried as the live stack's own)."""
    ctx, out = make_ctx(poll_seconds=0)
    create_stand_in(ctx, json.dumps(two_service_groups(load_template(YAML_FIXTURE.read_text()))), {}, {})
    assert adopt(ctx, AdoptOptions(yes=True, map=("ECSSecurityGroup2=ServiceSecurityGroup",))).ok, out.getvalue()
    assert stack_update(ctx, UpdateOptions(yes=True)).ok, out.getvalue()
    assert stack_update(ctx, UpdateOptions(yes=True)).outcome is Outcome.NO_CHANGES, out.getvalue()
    ids = {r["LogicalResourceId"] for r in boto3.client("cloudformation", region_name="us-east-2")
           .list_stack_resources(StackName="portyfoul-infra")["StackResourceSummaries"]}
    assert {"ServiceSecurityGroup", "ECSSecurityGroup"} <= ids and "ECSSecurityGroup2" not in ids


def test_giving_up_an_export_another_stack_imports_is_refused_before_any_change(aws_env):
    take_over(aws_env, "json")
    for args in (("stack-diff", "--converge", "Outputs.VpcId"), ("stack-update", "--yes", "--converge", "Outputs.VpcId")):
        proc = invoke(*args, env=aws_env)
        assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr
        assert ("this update removes the export portyfoul-infra-VpcId, which portyfoul-reports import(s): "
                "CloudFormation refuses that mid-update") in proc.stderr
        assert "drop `--converge Outputs.VpcId`" in proc.stderr
    exports = {e["Name"] for e in boto3.client("cloudformation", region_name="us-east-2").list_exports()["Exports"]}
    assert "portyfoul-infra-VpcId" in exports
    unused = invoke("stack-diff", "--converge", "Outputs.VpcCidr", env=aws_env)
    assert unused.returncode == 0 and "removes the export portyfoul-infra-VpcCidr (no stack imports it)" in unused.stderr


def test_a_setting_made_by_hand_as_a_secure_string_is_refused_before_anything(aws_env):
    """CloudFormation cannot manage a SecureString: adopt (and its rehearsal) refuses to import one, names the
    way forward, and renames nothing; once it is a String, the takeover goes through."""
    stand_in("review")
    ssm = boto3.client("ssm", region_name="us-east-2")
    ssm.put_parameter(Name="/portyfoul/dev/price-update-interval", Value="15", Type="SecureString")
    for args in (("adopt", "--rehearse"), ("adopt", "--yes")):
        proc = invoke(*args, env=aws_env)
        assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr
        assert "the parameter /portyfoul/dev/price-update-interval was made by hand as a SecureString" in proc.stderr
        assert "nothing was renamed" in proc.stderr
    ids = {r["LogicalResourceId"] for r in boto3.client("cloudformation", region_name="us-east-2")
           .list_stack_resources(StackName="portyfoul-infra")["StackResourceSummaries"]}
    assert "Pg" in ids and "Database" not in ids
    ssm.delete_parameter(Name="/portyfoul/dev/price-update-interval")
    ssm.put_parameter(Name="/portyfoul/dev/price-update-interval", Value="15", Type="String")
    ctx, out = make_ctx(poll_seconds=0)
    assert adopt(ctx, AdoptOptions(yes=True)).ok, out.getvalue()
    assert "PriceUpdateIntervalParameter (/portyfoul/dev/price-update-interval)" in out.getvalue()  # imported
    assert ssm.get_parameter(Name="/portyfoul/dev/price-update-interval")["Parameter"]["Value"] == "15"


def test_a_new_value_in_the_ssm_parameter_a_kept_value_reads_is_a_change_the_guard_judges(aws_env):
    """The review stand-in's engine version is read from SSM: a new value there is not "no changes", and the
    upgrade it means is refused until named."""
    take_over(aws_env, "review")
    boto3.client("ssm", region_name="us-east-2").put_parameter(Name="/portyfoul/dev/pg-version", Value="17.6",
                                                               Type="String", Overwrite=True)
    proc = invoke("stack-update", "--yes", env=aws_env)
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr
    assert ("PgVersion reads the SSM parameter /portyfoul/dev/pg-version, which now holds '17.6' (the stack last "
            "read '17.2')") in proc.stdout
    assert "no changes" not in proc.stdout
    assert "restarts the database for an engine upgrade 17.2 -> 17.6" in proc.stdout + proc.stderr
    assert engine() == "17.2"
    username = invoke("stack-diff", "--converge", "Database.MasterUsername", env=aws_env)
    assert "Database.MasterUsername: (secret) -> (secret)" in username.stdout, username.stdout[-3000:]
    assert DB_USER not in username.stdout + username.stderr  # NoEcho: as secret as its parameter


def test_rehearsing_a_stack_this_tool_built_says_so_and_ends_well(shared_dev_stack):
    proc = invoke("adopt", "--rehearse", env=shared_dev_stack)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is already ours: it runs this tool's template, so there is no takeover to rehearse" in proc.stdout


def test_adopt_holds_the_deploy_lock_and_a_release_waits_for_it(aws_env):
    """adopt renames under the environment's deploy lock: another deployment is refused meanwhile."""
    stand_in("yaml")
    ctx, _ = make_ctx()
    holder = acquire(ctx, "release --tag v2", 600)
    proc = invoke("adopt", "--yes", env=aws_env)
    assert proc.returncode == 2 and "running `release --tag v2` since" in proc.stderr
    ids = {r["LogicalResourceId"] for r in boto3.client("cloudformation", region_name="us-east-2")
           .list_stack_resources(StackName="portyfoul-infra")["StackResourceSummaries"]}
    assert "PostgresDB" in ids  # nothing renamed
    release(ctx, holder)
    assert invoke("adopt", "--yes", env=aws_env).returncode == 0
