"""--json on the read verbs: one document on stdout, the documented keys, the same exit code, never a secret.

Each verb runs through invoke against the local AWS, and its document is compared, key by key, with the
example in docs/operations.md ("JSON output"), so the documentation cannot drift from the code.
"""

import json

import boto3
import pytest

from support import invoke
from support.documents import documented, same_keys

VERBS = ("stack-status", "stack-diff", "release-status", "secrets-check", "cost", "db-snapshots", "stack-drift",
         "config-show")


def run_json(verb, env):
    proc = invoke(verb, "--json", env=env)
    document = json.loads(proc.stdout)  # stdout is the document and nothing else
    return proc, document


def test_the_guide_documents_one_schema_per_read_verb():
    assert set(documented()) == {f"portyfoul.{verb}/1" for verb in VERBS} | {"portyfoul.version/1"}


@pytest.mark.parametrize("verb, code", [("stack-status", 0), ("stack-diff", 0), ("release-status", 0), ("secrets-check", 2),
                                        ("db-snapshots", 0), ("stack-drift", 0), ("config-show", 0)])
def test_each_read_verb_prints_its_documented_document(shared_dev_stack, verb, code):
    proc, document = run_json(verb, shared_dev_stack)
    assert proc.returncode == code, proc.stderr
    assert document["schema"] == f"portyfoul.{verb}/1"
    same_keys(documented()[document["schema"]], document)
    assert document["environment"] == "dev" and document["account"] == "946652103073"
    assert document["stack"] == "portyfoul-infra" and document["region"] == "us-east-2"
    # The header a person reads goes to stderr, never into the document.
    assert proc.stderr.startswith("environment dev · account 946652103073 · region us-east-2 · stack portyfoul-infra")
    assert "\x1b[" not in proc.stdout


def test_the_documents_say_what_the_tables_say(shared_dev_stack):
    _, secrets = run_json("secrets-check", shared_dev_stack)
    states = {i["name"]: i["state"] for i in secrets["items"]}
    assert states["finnhub-api-key"] == "placeholder" and states["jwt-secret"] == "set"
    assert secrets["ok"] is False and secrets["failing"] == ["finnhub-api-key"]
    _, config = run_json("config-show", shared_dev_stack)
    interval = next(s for s in config["settings"] if s["key"] == "price-update-interval")
    assert interval["value"] == "15" and interval["read_by"] == ["worker"]
    _, status = run_json("stack-status", shared_dev_stack)
    assert status["exists"] is True and status["template"] == "same" and status["rollout"]["step_seconds"] == 35
    assert status["outputs"]["DatabaseInstanceId"] == "portyfoul-dev-postgres"
    _, services = run_json("release-status", shared_dev_stack)
    assert [s["service"] for s in services["services"]] == ["web", "worker"] and services["releases"] == []
    _, drift = run_json("stack-drift", shared_dev_stack)
    assert drift["drifted"] is False and drift["resources"] == []
    _, snapshots = run_json("db-snapshots", shared_dev_stack)
    assert snapshots["instance"] == "portyfoul-dev-postgres"


def test_cost_is_offline_and_adds_up():
    proc, document = run_json("cost", None)
    assert proc.returncode == 0 and proc.stderr == ""
    same_keys(documented()["portyfoul.cost/1"], document)
    assert document["account"] is None and document["currency"] == "USD" and document["plan_range"] == [100, 120]
    assert round(sum(line["monthly"] for line in document["lines"]), 2) == pytest.approx(document["total_monthly"],
                                                                                      abs=0.05)
    prod = json.loads(invoke("cost", "--env", "prod", "--json").stdout)
    same_keys(documented()["portyfoul.cost/1"], prod)
    assert prod["plan_range"] is None and prod["differences_from_dev"]


def test_a_stack_that_does_not_exist_is_a_document_too(aws_env):
    proc, document = run_json("stack-status", aws_env)
    assert proc.returncode == 2
    assert document == {"schema": "portyfoul.stack-status/1", "environment": "dev", "account": "946652103073",
                        "region": "us-east-2", "stack": "portyfoul-infra", "exists": False,
                        "create": "invoke stack-update --env dev"}
    assert "does not exist" in proc.stderr


def test_drift_documents_each_difference_and_never_a_secret_value():
    """Drift is scripted (the local AWS always answers IN_SYNC): a hand-changed rule, and a secret changed by hand."""
    from datetime import datetime, timezone

    from botocore.stub import Stubber

    from portyfoul_infra.options import DriftOptions
    from portyfoul_infra.outcomes import Outcome
    from portyfoul_infra.verbs.drift import stack_drift
    from support import make_ctx
    from support.fakes import FakeAws

    now = datetime(2026, 11, 26, tzinfo=timezone.utc)
    stack = {"StackId": "arn:aws:cloudformation:us-east-2:946652103073:stack/portyfoul-infra/x",
             "StackName": "portyfoul-infra", "StackStatus": "UPDATE_COMPLETE", "CreationTime": now}
    cfn = boto3.client("cloudformation", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(cfn)
    stub.add_response("describe_stacks", {"Stacks": [stack]})
    stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "d-1"})
    stub.add_response("describe_stack_drift_detection_status", {
        "StackId": stack["StackId"], "StackDriftDetectionId": "d-1", "Timestamp": now,
        "DetectionStatus": "DETECTION_COMPLETE", "StackDriftStatus": "DRIFTED", "DriftedStackResourceCount": 2})
    secret = "hand-typed-secret-3e1d"
    stub.add_response("describe_stack_resource_drifts", {"StackResourceDrifts": [
        {"StackId": stack["StackId"], "LogicalResourceId": "LoadBalancerSecurityGroup", "PhysicalResourceId": "sg-0abc",
         "ResourceType": "AWS::EC2::SecurityGroup", "StackResourceDriftStatus": "MODIFIED", "Timestamp": now,
         "PropertyDifferences": [{"PropertyPath": "/SecurityGroupIngress/2", "ExpectedValue": "",
                                  "ActualValue": '{"CidrIp":"0.0.0.0/0","FromPort":22}', "DifferenceType": "ADD"}]},
        {"StackId": stack["StackId"], "LogicalResourceId": "FinnhubApiKeySecret", "PhysicalResourceId": "arn:x",
         "ResourceType": "AWS::SecretsManager::Secret", "StackResourceDriftStatus": "MODIFIED", "Timestamp": now,
         "PropertyDifferences": [{"PropertyPath": "/SecretString", "ExpectedValue": "PLACEHOLDER",
                                  "ActualValue": secret, "DifferenceType": "NOT_EQUAL"}]}]})
    ctx, out = make_ctx(FakeAws(cloudformation=cfn))
    with stub:
        outcome = stack_drift(ctx, DriftOptions(json=True))
    text = out.getvalue()
    document = json.loads(text[text.index("{"):])
    assert outcome.outcome is Outcome.REFUSED and document["drifted"] is True
    same_keys(documented()["portyfoul.stack-drift/1"], document)
    secret_drift, rule = document["resources"]  # by logical ID
    assert rule["logical_id"] == "LoadBalancerSecurityGroup" and rule["differences"][0]["difference"] == "ADD"
    assert secret_drift["differences"][0]["actual"] == "(a secret value: not shown)"
    assert secret not in text


def test_no_json_document_ever_holds_a_secret_value(released_stack, local_aws):
    sm = boto3.client("secretsmanager", region_name="us-east-2", endpoint_url=local_aws.endpoint)
    coingecko = "cg-json-test-8a2c41"
    assert invoke("secrets-set", "coingecko-api-key", env=released_stack, input=coingecko).returncode == 0
    values = [coingecko, json.loads(sm.get_secret_value(SecretId="portyfoul/dev/rds/credentials")["SecretString"])[
        "password"]]
    values += [sm.get_secret_value(SecretId=f"portyfoul/dev/{name}")["SecretString"]
               for name in ("jwt-secret", "finnhub-api-key")]
    text = ""
    for verb in VERBS + ("version",):
        proc = invoke(verb, "--json", env=released_stack)
        json.loads(proc.stdout)
        text += proc.stdout + proc.stderr
    assert '"state": "set"' in text and "portyfoul/dev/jwt-secret" in text  # the documents were written
    for value in values:
        assert value not in text
