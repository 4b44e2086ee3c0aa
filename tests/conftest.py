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
