"""Put the local AWS into a known state, in-process, through the same verbs a user runs.

Every integration test builds the state it needs from an empty account with
these, so it passes alone and in any order.
"""

from __future__ import annotations

import boto3

from portyfoul_infra.local.server import seed_image
from portyfoul_infra.options import ReleaseOptions, UpdateOptions
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.verbs.release import release
from portyfoul_infra.verbs.stack import stack_update

from . import REGION, make_ctx

DEMO_TAG = "demo0001"
FINNHUB_TEST_KEY = "finnhub-test-key"


def create_stack(env_name: str = "dev") -> str:
    """stack-update --yes; returns what it printed. Raises if it did not end well."""
    ctx, out = make_ctx(env=env_name, poll_seconds=0)
    outcome = stack_update(ctx, UpdateOptions(env=env_name, yes=True))
    assert outcome.ok, out.getvalue()
    return out.getvalue()


def set_finnhub_key(value: str = FINNHUB_TEST_KEY, env_name: str = "dev") -> None:
    client("secretsmanager").put_secret_value(SecretId=f"portyfoul/{env_name}/finnhub-api-key", SecretString=value)


def release_tag(tag: str, env_name: str = "dev", expect: Outcome = Outcome.APPLIED, timeout: int = 600) -> str:
    """Seed `tag` into the local ECR and release it with --no-build; returns what it printed."""
    seed_image(client("ecr"), f"portyfoul-{env_name}", tag)
    ctx, out = make_ctx(env=env_name, poll_seconds=1)
    outcome = release(ctx, ReleaseOptions(tag=tag, env=env_name, no_build=True, timeout=timeout))
    assert outcome.outcome is expect, out.getvalue()
    return out.getvalue()


def client(name: str):
    """A boto3 client for the local AWS (AWS_ENDPOINT_URL is set by the aws_env fixture)."""
    return boto3.client(name, region_name=REGION)


def fingerprint() -> dict:
    """What a change to the dev stack would show: its status and parameters, secret and parameter versions, the
    task definition revisions and the change sets."""
    cfn, stack_name = client("cloudformation"), "portyfoul-infra"
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    secrets = client("secretsmanager")
    ssm = client("ssm")
    return {
        "stack": (stack["StackStatus"], str(stack.get("LastUpdatedTime")), sorted(
            (p["ParameterKey"], p.get("ParameterValue")) for p in stack.get("Parameters", []))),
        "secrets": sorted((s["Name"], secrets.get_secret_value(SecretId=s["ARN"])["VersionId"])
                          for s in secrets.list_secrets()["SecretList"]),
        "parameters": sorted((p["Name"], p["Version"]) for p in ssm.describe_parameters()["Parameters"]),
        "task definitions": sorted(client("ecs").list_task_definitions()["taskDefinitionArns"]),
        "change sets": [c["ChangeSetName"] for c in cfn.list_change_sets(StackName=stack_name)["Summaries"]],
    }
