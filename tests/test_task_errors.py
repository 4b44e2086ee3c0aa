"""Bad input: a clear one-line error, exit code 2, and nothing changed."""

import os
import shutil

from portyfoul_infra.artifacts.generated import generated_dir
from support import invoke


def _last_line(proc):
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr  # one line, never a traceback
    return lines[0]


def _no_credentials_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    return env


def test_unknown_environment(tmp_path):
    for task in ("stack-update", "stack-status", "stack-diff"):
        proc = invoke(task, "--env", "qa", "--yes", env=_no_credentials_env(tmp_path)) if task == "stack-update" else \
            invoke(task, "--env", "qa", env=_no_credentials_env(tmp_path))
        assert proc.returncode == 2
        assert _last_line(proc) == "error: unknown environment 'qa'; choose one of: dev, staging, prod"


def test_missing_credentials(tmp_path):
    for task in ("stack-update", "stack-status"):
        proc = invoke(task, env=_no_credentials_env(tmp_path))
        assert proc.returncode == 2
        assert _last_line(proc).startswith("error: no AWS credentials found: set AWS_PROFILE")


def test_stale_template_is_refused_before_any_aws_call(tmp_path):
    target = tmp_path / "generated"
    shutil.copytree(generated_dir(), target)
    (target / "portyfoul-infra.json").write_text("{}\n")
    # No server listens on port 9: any AWS call would fail differently.
    env = {**os.environ, "PORTYFOUL_GENERATED_DIR": str(target), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    proc = invoke("stack-update", "--yes", env=env)
    assert proc.returncode == 2
    assert _last_line(proc) == ("error: generated/ is out of date with the code (portyfoul-infra.json); "
                                "run `invoke build-template`, review the diff, commit it")


def test_unreachable_endpoint_is_one_line(tmp_path):
    env = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    proc = invoke("stack-status", env=env)
    assert proc.returncode == 2
    assert _last_line(proc).startswith("error: cannot reach AWS:")
