import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# No test may reach real AWS: fake credentials, a region, and no profile.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-2",
    "AWS_EC2_METADATA_DISABLED": "true",
})
for _var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def template() -> dict:
    from portyfoul_infra.build import render
    return json.loads(render().text)


@pytest.fixture(scope="session")
def resources(template) -> dict:
    return template["Resources"]


@pytest.fixture(scope="module")
def local_aws():
    """A moto server on 127.0.0.1 for this test module, stopped afterwards."""
    from portyfoul_infra import local_aws as la
    server = la.start()
    yield server
    server.stop()


@pytest.fixture
def aws_env(local_aws, monkeypatch):
    """Environment for tasks run against the local server (subprocess or in-process)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.endpoint)
    return {**os.environ, "AWS_ENDPOINT_URL": local_aws.endpoint}


def invoke(*args, env=None, input=None):
    """Run a task as a user would: a separate process, no terminal."""
    import subprocess
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env or dict(os.environ),
                          capture_output=True, text=True, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL, timeout=300)
