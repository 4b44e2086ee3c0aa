"""Put the local AWS into a known state, in-process, through the same task functions a user runs.

Every integration test builds the state it needs from an empty account with
these, so it passes alone and in any order.
"""

from __future__ import annotations

import io

import boto3

from portyfoul_infra.aws.clients import Aws
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.console import Console
from portyfoul_infra.local.server import seed_image
from portyfoul_infra.options import ReleaseOptions, UpdateOptions
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.verbs.release import release
from portyfoul_infra.verbs.stack import stack_update

DEMO_TAG = "demo0001"
FINNHUB_TEST_KEY = "finnhub-test-key"
REGION = "us-east-2"


def _no_clock():
    return 0.0


def _no_sleep(_seconds):
    return None


def create_stack(env_name: str = "dev") -> str:
    """stack-update --yes; returns what it printed. Raises if it did not end well."""
    out = io.StringIO()
    outcome = stack_update(Aws(REGION), ENVIRONMENTS[env_name], Console(out, out, False),
                           UpdateOptions(yes=True, poll_seconds=0), None, _no_clock, _no_sleep)
    assert outcome.ok, out.getvalue()
    return out.getvalue()


def set_finnhub_key(value: str = FINNHUB_TEST_KEY) -> None:
    client("secretsmanager").put_secret_value(SecretId="portyfoul/dev/finnhub-api-key", SecretString=value)


def release_tag(tag: str, env_name: str = "dev", expect: Outcome = Outcome.APPLIED, timeout: int = 600) -> str:
    """Seed `tag` into the local ECR and release it with --no-build; returns what it printed."""
    seed_image(client("ecr"), f"portyfoul-{env_name}", tag)
    out = io.StringIO()
    clock = {"now": 0.0}

    def sleep(seconds):
        clock["now"] += max(seconds, 1.0)

    outcome = release(Aws(REGION), ENVIRONMENTS[env_name], Console(out, out, False),
                      ReleaseOptions(tag=tag, no_build=True, poll_seconds=1, timeout=timeout), lambda cmd, stdin: 1,
                      lambda: clock["now"], sleep)
    assert outcome is expect, out.getvalue()
    return out.getvalue()


def client(name: str):
    """A boto3 client for the local AWS (AWS_ENDPOINT_URL is set by the aws_env fixture)."""
    return boto3.client(name, region_name=REGION)
