"""Secrets and configuration: set, check, rotate, without ever showing a value.

Against moto on 127.0.0.1 after stack-update created the stack. moto's
CloudFormation does not create AWS::SecretsManager::Secret itself: the local
AWS (portyfoul_infra/local/patches/secretsmanager.py) creates them from the template,
generated values and placeholders included, as CloudFormation would. Every
integration test starts from a freshly created stack (the dev_stack fixture).
"""

from pathlib import Path

import boto3
import pytest

from portyfoul_infra.contract import PLACEHOLDER_VALUE
from portyfoul_infra.errors import UserError
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.verbs.secrets import Readers, restart_services, validate_secret_value
from support import ROOT, invoke, make_ctx
from support.fake_ecs import FakeEcs, complete, fail, release_clients, stack_outputs, stay

FINNHUB_VALUE = "fh-test-6c1f0a7e93b2"


@pytest.fixture
def stack(dev_stack):
    return dev_stack


def run(*args, env, input=None, outputs: list[str] | None = None):
    proc = invoke(*args, env=env, input=input)
    if outputs is not None:
        outputs.append(proc.stdout + proc.stderr)
    return proc


def _sm(endpoint):
    return boto3.client("secretsmanager", region_name="us-east-2", endpoint_url=endpoint)


def test_a_fresh_stack_fails_the_check_on_the_finnhub_placeholder(shared_dev_stack):
    proc = run("secrets-check", env=shared_dev_stack)
    assert proc.returncode == 2
    row = next(line for line in proc.stdout.splitlines() if "finnhub-api-key" in line)
    assert "PLACEHOLDER" in row and "web, worker" in row
    assert "optional" in next(line for line in proc.stdout.splitlines() if "coingecko" in line)
    assert "price-update-interval" in proc.stdout and "worker" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("error: required and not set: finnhub-api-key (PLACEHOLDER)")


@pytest.mark.parametrize("value, message", [
    ("", "refusing an empty value"),
    ("   \n", "refusing an empty value"),
    (PLACEHOLDER_VALUE, "refusing the placeholder value"),
    ("two\nlines", "line break"),
])
def test_bad_values_are_refused_and_nothing_is_written(shared_dev_stack, value, message):
    endpoint = shared_dev_stack["AWS_ENDPOINT_URL"]
    before = _sm(endpoint).get_secret_value(SecretId="portyfoul/dev/finnhub-api-key")["VersionId"]
    proc = run("secrets-set", "finnhub-api-key", env=shared_dev_stack, input=value)
    assert proc.returncode == 2 and message in proc.stderr
    assert _sm(endpoint).get_secret_value(SecretId="portyfoul/dev/finnhub-api-key")["VersionId"] == before


def test_unknown_and_unsettable_names_are_refused(shared_dev_stack):
    stack = shared_dev_stack
    proc = run("secrets-set", "stripe-key", env=stack, input="x")
    assert proc.returncode == 2
    assert "unknown secret 'stripe-key'; choose one of: jwt-secret, finnhub-api-key, coingecko-api-key" in proc.stderr
    proc = run("secrets-set", "rds/credentials", env=stack, input="x")
    assert proc.returncode == 2 and "managed with the database" in proc.stderr
    assert run("secrets-rotate", "finnhub-api-key", env=stack).returncode == 2


def test_set_from_stdin_then_the_check_passes(stack, local_aws):
    proc = run("secrets-set", "finnhub-api-key", env=stack, input=FINNHUB_VALUE)
    assert proc.returncode == 0, proc.stderr
    assert "portyfoul/dev/finnhub-api-key: new version" in proc.stdout
    assert "read by web, worker at task start" in proc.stdout
    assert _sm(local_aws.endpoint).get_secret_value(SecretId="portyfoul/dev/finnhub-api-key")["SecretString"] == FINNHUB_VALUE
    check = run("secrets-check", env=stack)
    assert check.returncode == 0 and "every required secret and parameter is set" in check.stdout


def test_rotate_jwt_writes_a_new_random_value_and_warns(stack, local_aws):
    before = _sm(local_aws.endpoint).get_secret_value(SecretId="portyfoul/dev/jwt-secret")["SecretString"]
    no_terminal = run("secrets-rotate", "jwt-secret", "--restart", env=stack)  # it signs everyone out: asked first
    assert no_terminal.returncode == 2 and "There is no terminal to confirm on: rerun with --yes" in no_terminal.stderr
    assert _sm(local_aws.endpoint).get_secret_value(SecretId="portyfoul/dev/jwt-secret")["SecretString"] == before
    proc = run("secrets-rotate", "jwt-secret", "--restart", "--yes", env=stack)
    assert proc.returncode == 0, proc.stderr
    assert "signed out" in proc.stderr and "restarted: web, worker" in proc.stdout
    after = _sm(local_aws.endpoint).get_secret_value(SecretId="portyfoul/dev/jwt-secret")["SecretString"]
    assert after != before and len(after) >= 32


def test_config_set_is_validated_and_restarts_only_the_readers(stack, local_aws):
    for bad in ("0", "-5", "ten", "1.5", "99999"):
        proc = run("config-set", "price-update-interval", bad, env=stack)
        assert proc.returncode == 2 and "a whole number of minutes from 1 to 1440" in proc.stderr
    assert run("config-set", "environment", "prod", env=stack).returncode == 2
    proc = run("config-set", "price-update-interval", "5", "--restart", env=stack)
    assert proc.returncode == 0, proc.stderr
    assert "worker: restarting" in proc.stdout and "web: restarting" not in proc.stdout
    show = run("config-show", env=stack)
    row = next(line for line in show.stdout.splitlines() if line.strip().startswith("price-update-interval"))
    assert row.split()[1] == "5" and row.split()[-1] == "worker"


def test_no_secret_value_ever_appears_in_output_or_files(stack, local_aws):
    outputs: list[str] = []
    for args, given in ((("secrets-check",), None), (("secrets-set", "finnhub-api-key"), FINNHUB_VALUE),
                        (("secrets-set", "coingecko-api-key", "--restart"), "cg-test-51d2b7"),
                        (("secrets-rotate", "jwt-secret", "--restart", "-y"), None), (("secrets-check",), None),
                        (("config-show",), None), (("config-set", "price-update-interval", "7"), None),
                        (("release", "--tag", "nothere9", "--no-build", "--dry-run"), None),
                        (("release-status",), None), (("stack-status",), None)):
        run(*args, env=stack, input=given, outputs=outputs)
    sm = _sm(local_aws.endpoint)
    import json
    values = [FINNHUB_VALUE, "cg-test-51d2b7",
              json.loads(sm.get_secret_value(SecretId="portyfoul/dev/rds/credentials")["SecretString"])["password"]]
    versions = sm.list_secret_version_ids(SecretId="portyfoul/dev/jwt-secret")["Versions"]
    values += [sm.get_secret_value(SecretId="portyfoul/dev/jwt-secret", VersionId=v["VersionId"])["SecretString"]
               for v in versions]
    assert len(versions) == 2  # the generated value and the rotated one
    text = "\n".join(outputs)
    assert "portyfoul/dev/finnhub-api-key: new version" in text  # the tasks did run
    for v in values:
        assert v not in text
    skip = {".git", ".venv", ".tools", "__pycache__", ".pytest_cache"}
    for path in Path(ROOT).rglob("*"):
        if path.is_file() and not (set(path.relative_to(ROOT).parts) & skip) and path.name != Path(__file__).name:
            content = path.read_bytes()
            for v in values:
                assert v.encode() not in content, f"{v[:4]}... found in {path}"


def test_debug_mode_never_prints_a_secret_value(stack, local_aws):
    """`invoke -d` and INVOKE_DEBUG=1 turn every logger to DEBUG; botocore's wire dumps must stay off."""
    outputs: list[str] = []
    debug_env = {**stack, "INVOKE_DEBUG": "1"}
    for args, given, env in ((("-d", "secrets-set", "finnhub-api-key"), FINNHUB_VALUE, stack),
                             (("-d", "secrets-check"), None, stack),
                             (("-d", "secrets-rotate", "jwt-secret"), None, stack),
                             (("secrets-check",), None, debug_env), (("config-show",), None, debug_env),
                             (("-d", "release", "--tag", "nothere9", "--no-build", "--dry-run"), None, stack)):
        run(*args, env=env, input=given, outputs=outputs)
    text = "\n".join(outputs)
    assert "invoke.program" in text and "botocore request and response logging stays off" in text  # debug was on
    sm = _sm(local_aws.endpoint)
    import json
    values = [FINNHUB_VALUE, sm.get_secret_value(SecretId="portyfoul/dev/jwt-secret")["SecretString"],
              json.loads(sm.get_secret_value(SecretId="portyfoul/dev/rds/credentials")["SecretString"])["password"]]
    for v in values:
        assert v not in text


# ---------- the restart path with a scripted ECS

def _readers():
    o = stack_outputs()
    return Readers(o["ClusterName"], {"web": o["WebServiceName"], "worker": o["WorkerServiceName"]}, {})


def test_restart_forces_a_watched_deployment():
    ecs = FakeEcs(deploy={"web": [stay, complete], "worker": [complete]})
    ctx, out = make_ctx(release_clients(ecs))
    outcome = restart_services(ctx, _readers(), ["web", "worker"], 600, "the secret's AWSPREVIOUS version")
    assert outcome is Outcome.APPLIED
    assert all(kw["taskDefinition"].endswith(":1") for kw in ecs.called("update_service"))
    assert "restarted: web, worker" in out.getvalue()


def test_a_restart_that_fails_needs_a_human():
    ecs = FakeEcs(deploy={"web": [fail]})
    ctx, out = make_ctx(release_clients(ecs))
    outcome = restart_services(ctx, _readers(), ["web"], 600, "the secret's AWSPREVIOUS version")
    assert outcome is Outcome.NEEDS_HUMAN and "AWSPREVIOUS" in out.getvalue()


def test_a_trailing_newline_from_echo_is_dropped_but_nothing_else():
    assert validate_secret_value("key-123\n") == "key-123"
    with pytest.raises(UserError, match="leading or trailing spaces"):
        validate_secret_value(" key ")
    with pytest.raises(UserError, match="65,537 bytes: Secrets Manager takes at most 65,536"):
        validate_secret_value("k" * 65_537)
    assert validate_secret_value("k" * 65_536) == "k" * 65_536
    with pytest.raises(UserError):
        validate_secret_value("\n")
