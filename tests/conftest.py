"""Fixtures: the rendered template, one local AWS per test worker, and the stacks tests start from.

Tests that touch a local AWS are marked `integration` here, from the fixtures they use, so that
`-m "not integration"` never starts moto.
"""

import json
import os

import pytest

AWS_FIXTURES = {"local_aws", "aws_env", "dev_stack", "released_stack", "shared_dev_stack", "staging_stack"}


def pytest_collection_modifyitems(items):
    for item in items:
        if AWS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)

# No test may reach real AWS: fake credentials, a region, and no profile.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-2",
    "AWS_EC2_METADATA_DISABLED": "true",
})
for _var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "PORTYFOUL_POLL_SECONDS"):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def template() -> dict:
    """The template as the code renders it now (the one fixture for the template's content)."""
    from portyfoul_infra.artifacts.generated import render
    return json.loads(render().text)


@pytest.fixture(scope="session")
def resources(template) -> dict:
    return template["Resources"]


@pytest.fixture(scope="session")
def local_aws():
    """One moto server on 127.0.0.1 per test worker; every test that uses it starts from a known state."""
    from portyfoul_infra.local import server as la
    server = la.start()
    yield server
    server.stop()


@pytest.fixture
def aws_env(local_aws, monkeypatch):
    """An empty local AWS, and the environment for tasks run against it (subprocess or in-process)."""
    local_aws.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.endpoint)
    return {**os.environ, "AWS_ENDPOINT_URL": local_aws.endpoint}


def _state(local_aws, name: str, build) -> None:
    """The local AWS in the state `name`: built by `build()` the first time on this worker (from whatever state
    `build` starts with), kept whole (local/control.py), and put back whole for every later test that asks. A test
    changes only its own copy: the next one gets the state as it was built."""
    if not local_aws.restore(name):
        build()
        local_aws.save(name)


@pytest.fixture
def dev_stack(aws_env, local_aws):
    """The dev stack freshly created (bootstrapping: no image yet, services at zero tasks)."""
    from support.stacks import create_stack
    _state(local_aws, "dev_stack", lambda: create_stack("dev"))
    return aws_env


@pytest.fixture
def shared_dev_stack(dev_stack):
    """The dev stack as created (bootstrapping, the Finnhub key still a placeholder), for the tests that only read
    it. Each test gets its own copy, so nothing a test does reaches another."""
    return dev_stack


def _release(local_aws) -> None:
    from support.stacks import DEMO_TAG, create_stack, release_tag, set_finnhub_key
    assert local_aws.restore("dev_stack")
    set_finnhub_key()
    release_tag(DEMO_TAG)
    create_stack("dev")


@pytest.fixture
def released_stack(dev_stack, local_aws):
    """The dev stack with the Finnhub key set, DEMO_TAG released, and the bootstrap ended by a second update."""
    _state(local_aws, "released_stack", lambda: _release(local_aws))
    return dev_stack


def _create_staging(local_aws, staging) -> None:
    from portyfoul_infra.options import UpdateOptions
    from portyfoul_infra.verbs.stack import stack_update
    from support import make_ctx
    from support.stacks import set_finnhub_key
    assert local_aws.restore("released_stack")
    ctx, out = make_ctx(env=staging, poll_seconds=0)
    assert stack_update(ctx, UpdateOptions(env="staging", yes=True)).ok, out.getvalue()
    set_finnhub_key(env_name="staging")


@pytest.fixture
def staging_stack(released_stack, local_aws):
    """Beside the released dev stack, a new staging stack in the same (local) account, its Finnhub key set: where
    dev's images are promoted to. Returns the environment (staging with the local account)."""
    from dataclasses import replace

    from portyfoul_infra.config import ENVIRONMENTS
    from portyfoul_infra.local.server import ACCOUNT_ID
    staging = replace(ENVIRONMENTS["staging"], account_id=ACCOUNT_ID)
    _state(local_aws, "staging_stack", lambda: _create_staging(local_aws, staging))
    return staging
