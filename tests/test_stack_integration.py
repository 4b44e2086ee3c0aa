"""stack-update, stack-status and stack-diff through the real invoke tasks against moto on 127.0.0.1."""


import boto3
import pytest

from portyfoul_infra.aws.clients import Aws
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.errors import UserError
from portyfoul_infra.local.server import ACCOUNT_ID
from portyfoul_infra.options import UpdateOptions
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.verbs.stack import stack_update
from support import invoke, make_ctx


def _cfn(endpoint):
    return boto3.client("cloudformation", region_name="us-east-2", endpoint_url=endpoint)


def test_create_from_nothing_then_no_changes(aws_env, local_aws):
    first = invoke("stack-update", "--env", "dev", "--yes", env=aws_env)
    assert first.returncode == 0, first.stderr
    assert "environment dev · account 946652103073 · region us-east-2 · stack portyfoul-infra" in first.stdout
    assert "CREATE_COMPLETE" in first.stdout
    stack = _cfn(local_aws.endpoint).describe_stacks(StackName="portyfoul-infra")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE" and stack["EnableTerminationProtection"] is True
    tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
    assert tags["TemplateHash"].startswith("sha256:") and tags["Environment"] == "dev"
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert params["DBInstanceClass"] == "db.t4g.micro" and params["ImageTag"] == "latest"
    assert params["Bootstrap"] == "true" and "services start with no tasks" in first.stdout

    again = invoke("stack-update", "--env", "dev", "--yes", env=aws_env)
    assert again.returncode == 0 and "no changes" in again.stdout
    assert _cfn(local_aws.endpoint).describe_stacks(StackName="portyfoul-infra")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_outputs_are_read_back(shared_dev_stack):
    aws_env = shared_dev_stack
    status = invoke("stack-status", env=aws_env)
    assert status.returncode == 0, status.stderr
    assert "template      same as generated/" in status.stdout
    for expected in ("ClusterName                  portyfoul-dev-cluster", "portyfoul-dev-web-service",
                     "portyfoul-dev-worker-service", "/ecs/portyfoul-dev-worker", "dkr.ecr.us-east-2.amazonaws.com/portyfoul-dev"):
        assert expected in status.stdout


def test_a_real_update_puts_the_parameters_back(dev_stack, local_aws):
    aws_env = dev_stack
    cfn = _cfn(local_aws.endpoint)
    stack = cfn.describe_stacks(StackName="portyfoul-infra")["Stacks"][0]
    drifted = [{"ParameterKey": p["ParameterKey"],
                "ParameterValue": "14" if p["ParameterKey"] == "LogRetentionDays" else p["ParameterValue"]}
               for p in stack["Parameters"]]
    # The template is over the 51,200 bytes AWS takes inline: the hand change reuses the stack's own.
    cfn.update_stack(StackName="portyfoul-infra", UsePreviousTemplate=True, Parameters=drifted,
                     Capabilities=["CAPABILITY_NAMED_IAM"])

    # Back to 7 days would delete a week of logs: the interruption guard names it, and stops.
    diff = invoke("stack-diff", env=aws_env)
    assert diff.returncode == 2 and "preview only" in diff.stdout
    assert ("WebLogGroup (AWS::Logs::LogGroup): RetentionInDays: lowers a protection: 14 -> 7 days of logs kept; "
            "older log events are deleted") in diff.stderr
    refused = invoke("stack-update", "--yes", env=aws_env)
    assert refused.returncode == 2 and "--allow-interruption WebLogGroup" in refused.stdout
    assert {p["ParameterKey"]: p["ParameterValue"] for p in cfn.describe_stacks(
        StackName="portyfoul-infra")["Stacks"][0]["Parameters"]}["LogRetentionDays"] == "14"

    named = [f"--allow-interruption={lid}" for lid in ("ExecLogGroup", "WebLogGroup", "WorkerLogGroup")]
    update = invoke("stack-update", "--yes", *named, env=aws_env)
    assert update.returncode == 0, update.stdout + update.stderr
    assert "updating portyfoul-infra" in update.stdout and "UPDATE_COMPLETE" in update.stdout
    params = {p["ParameterKey"]: p["ParameterValue"]
              for p in cfn.describe_stacks(StackName="portyfoul-infra")["Stacks"][0]["Parameters"]}
    assert params["LogRetentionDays"] == "7"


def test_without_a_terminal_and_without_yes_nothing_changes(aws_env, template):
    from portyfoul_infra.cfn_template import Resolver
    from portyfoul_infra.contract import parameter_values
    # A CREATE change set lists what CloudFormation will create: the resources whose condition is true for dev.
    conditions = Resolver(template, {**parameter_values(ENVIRONMENTS["dev"]), "Bootstrap": "true"}, {})
    created = [r for r in template["Resources"].values() if conditions.condition(r.get("Condition", "")) or
               "Condition" not in r]
    assert 50 < len(created) < len(template["Resources"])
    proc = invoke("stack-update", "--env", "dev", env=aws_env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: execute {len(created)} change(s) on portyfoul-infra? There is no terminal to confirm on: rerun "
        "with --yes")
    status = invoke("stack-status", "--env", "dev", env=aws_env)
    assert "does not exist" in status.stdout  # the empty REVIEW_IN_PROGRESS stack was removed too


@pytest.mark.parametrize("task", ["stack-update", "stack-status", "release-status", "secrets-check", "logs"])
def test_an_environment_without_an_account_refuses_with_the_key_to_set(aws_env, task):
    proc = invoke(task, "--env", "staging", env=aws_env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: environment staging names no AWS account: set account_id for 'staging' in "
        "portyfoul_infra/config.py (12 digits) so no task can run against the wrong account")
    assert _cfn(aws_env["AWS_ENDPOINT_URL"]).list_stacks()["StackSummaries"] == []


def test_credentials_for_another_account_are_refused_before_anything(aws_env):
    from dataclasses import replace
    other = replace(ENVIRONMENTS["dev"], account_id="111122223333")
    with pytest.raises(UserError, match="credentials are for account 946652103073, but environment dev lives in "
                                        "111122223333"):
        stack_update(make_ctx(env=other)[0], UpdateOptions(yes=True))
    assert _cfn(aws_env["AWS_ENDPOINT_URL"]).list_stacks()["StackSummaries"] == []


class CountingAws(Aws):
    """Counts every AWS API call made through the client factory."""

    def __init__(self, region):
        super().__init__(region=region)
        self.calls: list[str] = []

    def client(self, name):
        real = super().client(name)
        calls = self.calls

        class Proxy:
            def __getattr__(self, attr):
                target = getattr(real, attr)
                if callable(target) and not attr.startswith(("get_paginator", "meta")):
                    def counted(*a, **kw):
                        calls.append(f"{name}.{attr}")
                        return target(*a, **kw)
                    return counted
                return target
        return Proxy()


def test_a_no_op_update_makes_few_api_calls(shared_dev_stack):
    aws = CountingAws("us-east-2")
    ctx, out = make_ctx(aws)
    outcome = stack_update(ctx, UpdateOptions(yes=True))
    assert outcome.outcome is Outcome.NO_CHANGES, out.getvalue()
    print(f"no-op update: {len(aws.calls)} API calls: {aws.calls}")
    # 7 calls; 8 while the stack is still bootstrapping (one ECR look-up for the image), as here (one of them the
    # explicit step before planning: a change set a stack-update that is gone left behind?); and 5 for the
    # deploy lock: take it, read the history (anything left in progress? its records by path, and the single
    # parameter of earlier versions), check it is still ours, give it back.
    lock = ["ssm.put_parameter", "ssm.get_parameters_by_path", "ssm.get_parameters", "ssm.get_parameter",
            "ssm.delete_parameter"]
    assert sorted(c for c in aws.calls if c.startswith("ssm.")) == sorted(lock)
    assert len(aws.calls) <= 8 + len(lock)
    assert aws.calls.count("ecr.describe_images") <= 1
    assert not any(c.startswith("cloudformation.create_change_set") for c in aws.calls)


def test_large_templates_go_through_a_versioned_private_bucket(aws_env, local_aws):
    from dataclasses import replace
    certificate = boto3.client("acm", region_name="us-east-2").request_certificate(
        DomainName="portyfoul.example.com", ValidationMethod="DNS")["CertificateArn"]
    env = replace(ENVIRONMENTS["prod"], account_id=ACCOUNT_ID, alarm_email="ops@example.com",
                  certificate_arn=certificate)  # the production checklist, complete
    ctx, out = make_ctx(env=env, poll_seconds=0)
    outcome = stack_update(ctx, UpdateOptions(env="prod", yes=True, inline_limit=1000))
    assert outcome.outcome is Outcome.APPLIED, out.getvalue()
    assert f"uploaded to s3://{env.template_bucket}/" in out.getvalue()
    s3 = boto3.client("s3", region_name=env.region, endpoint_url=local_aws.endpoint)
    assert s3.get_bucket_versioning(Bucket=env.template_bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=env.template_bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    (obj,) = s3.list_objects_v2(Bucket=env.template_bucket)["Contents"]
    assert obj["Key"].startswith("portyfoul-prod-infra/")
    stack = _cfn(local_aws.endpoint).describe_stacks(StackName=env.stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
