"""delivery-plan and deliver: what the deploy workflow runs for an application commit, and that running it again
for the same commit succeeds.

delivery-plan reads no AWS: which environments get the commit, and how, follows from the config and which
<ENV>_DEPLOY_ROLE_ARN variables are set. deliver releases (dev) or promotes (staging, prod) one commit.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace

import pytest

from portyfoul_infra.aws.images import find_image
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.errors import UserError
from portyfoul_infra.options import DeliverOptions, DeliveryPlanOptions
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.verbs.delivery import deliver, delivery_plan, delivery_steps
from support import invoke, make_ctx
from support.docker import RegistryDocker, docker_calls, install_fake_docker
from support.stacks import client, release_tag, set_finnhub_key

SHA = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
TAG = SHA[:8]
ROLE = "arn:aws:iam::{account}:role/portyfoul-{env}-github-deploy"
ACCOUNT = ENVIRONMENTS["dev"].account_id
# All three in dev's account: what the owners set before staging's and prod's first deploy.
ONE_ACCOUNT = {n: replace(e, account_id=ACCOUNT) for n, e in ENVIRONMENTS.items()}


def roles(*names: str, account: str = ACCOUNT) -> dict[str, str]:
    return {f"{n.upper()}_DEPLOY_ROLE_ARN": ROLE.format(account=account, env=n) for n in names}


def steps(environments, configured: dict[str, str]) -> dict[str, str]:
    return {s.env.name: s.action + (f" from {s.source}" if s.source else "")
            for s in delivery_steps(environments, configured)}


def test_the_sha_is_forty_hexadecimal_characters_and_the_tag_its_first_eight():
    assert len(SHA) == 40
    opts = DeliveryPlanOptions(sha=SHA.upper(), app_repository="owners/portyfoul")
    assert opts.sha == SHA and opts.tag == TAG == DeliverOptions(sha=SHA).tag
    for bad in ("", "main", TAG, SHA + "0", SHA[:-1] + "g", f"{SHA[:39]};", "$(curl evil)"):
        with pytest.raises(UserError, match="--sha"):
            DeliverOptions(sha=bad)


def test_a_long_malformed_sha_is_refused_in_one_short_line():
    with pytest.raises(UserError) as refused:
        DeliverOptions(sha="x" * 5000)
    assert "(5000 characters)" in str(refused.value) and len(str(refused.value)) < 300


def test_only_dev_configured_today_delivers_to_dev_and_skips_the_rest():
    assert steps(ENVIRONMENTS, roles("dev")) == {"dev": "release", "staging": "skip", "prod": "skip"}
    why = {s.env.name: s.why for s in delivery_steps(ENVIRONMENTS, roles("dev"))}
    assert why["staging"].startswith("STAGING_DEPLOY_ROLE_ARN is not set (`invoke deploy-role --env staging`")


def test_every_environment_configured_builds_once_in_dev_and_promotes_the_digest_onwards():
    assert steps(ONE_ACCOUNT, roles("dev", "staging", "prod")) == {
        "dev": "release", "staging": "promote from dev", "prod": "promote from staging"}


def test_an_environment_whose_source_is_skipped_is_skipped_too():
    planned = {s.env.name: s for s in delivery_steps(ONE_ACCOUNT, roles("staging", "prod"))}
    assert {n: s.action for n, s in planned.items()} == {"dev": "skip", "staging": "skip", "prod": "skip"}
    assert planned["staging"].why == "it promotes from dev, which this run skips"
    assert planned["prod"].why == "it promotes from staging, which this run skips"


def test_prod_configured_before_staging_waits_for_it_rather_than_failing_the_run():
    environments = {**ENVIRONMENTS, "prod": replace(ENVIRONMENTS["prod"], account_id=ACCOUNT)}
    planned = {s.env.name: s for s in delivery_steps(environments, roles("dev", "prod"))}
    assert {n: s.action for n, s in planned.items()} == {"dev": "release", "staging": "skip", "prod": "skip"}
    assert planned["prod"].why == "it promotes from staging, which this run skips"


def test_staging_in_an_account_of_its_own_builds_the_commit_itself_and_prod_promotes_from_it():
    environments = {**ONE_ACCOUNT, "staging": replace(ONE_ACCOUNT["staging"], account_id="111122223333", promote_from=""),
                    "prod": replace(ONE_ACCOUNT["prod"], account_id="111122223333")}
    configured = {**roles("dev"), **roles("staging", "prod", account="111122223333")}
    assert steps(environments, configured) == {"dev": "release", "staging": "release", "prod": "promote from staging"}


@pytest.mark.parametrize("environments, configured, message", [
    (ENVIRONMENTS, roles("dev", "staging"),
     r"^staging names no AWS account: set account_id for 'staging' in portyfoul_infra/config.py "
     r"\(STAGING_DEPLOY_ROLE_ARN is set\)$"),
    (ENVIRONMENTS, roles("dev", account="111122223333"),
     r"^DEV_DEPLOY_ROLE_ARN is a role in account 111122223333, but dev lives in 946652103073"),
    (ENVIRONMENTS, {"DEV_DEPLOY_ROLE_ARN": "portyfoul-dev-github-deploy"},
     r"^DEV_DEPLOY_ROLE_ARN is not an IAM role ARN \('portyfoul-dev-github-deploy'\): set it to what `invoke "
     r"deploy-role --env dev` prints$"),
    ({**ONE_ACCOUNT, "prod": replace(ONE_ACCOUNT["prod"], promote_from="qa")}, roles("dev"),
     r"^invalid config for environment 'prod': promote_from 'qa' names an unknown environment$"),
    ({**ONE_ACCOUNT, "prod": replace(ONE_ACCOUNT["prod"], account_id="111122223333")},
     {**roles("dev", "staging"), **roles("prod", account="111122223333")},
     r"^invalid config for environment 'prod': staging \(946652103073\) and prod \(111122223333\) live in "
     r"different accounts"),
])
def test_a_configuration_that_could_only_fail_later_is_refused_before_any_job(environments, configured, message):
    """Each is a one-line refusal (exit 2) of the plan job, so that no environment is half delivered."""
    with pytest.raises(UserError, match=message):
        delivery_steps(environments, configured)


def test_delivery_plan_writes_the_step_outputs_the_workflow_reads(tmp_path):
    output = tmp_path / "github_output"
    output.write_text("earlier=kept\n")
    ctx, out = make_ctx(object(), environments=ONE_ACCOUNT)
    outcome = delivery_plan(ctx, DeliveryPlanOptions(sha=SHA, app_repository="owners/portyfoul",
                                                     github_output=str(output), roles=roles("dev", "staging")))
    assert outcome.outcome is Outcome.NO_CHANGES
    assert output.read_text().splitlines() == [
        "earlier=kept", f"sha={SHA}", f"tag={TAG}", "app_repository=owners/portyfoul", "app_owner=owners",
        "app_name=portyfoul", "dev=release", "staging=promote", "prod=skip"]
    printed = out.getvalue()
    assert f"deliver owners/portyfoul at {SHA} as image tag {TAG}" in printed
    assert f"staging      staging             promote {TAG} from dev: the digest dev released, no rebuild" in printed


def test_delivery_plan_through_invoke_needs_no_aws_and_refuses_a_bad_payload_in_one_line(tmp_path):
    """The plan job has no AWS credentials: an endpoint that answers nothing proves no call is made."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.endswith("_DEPLOY_ROLE_ARN")}
    environ.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", **roles("dev"))
    output = tmp_path / "out"
    ok = invoke("delivery-plan", "--sha", SHA, "--app-repository", "owners/portyfoul", "--github-output", str(output),
                env=environ)
    assert ok.returncode == 0, ok.stderr
    assert "dev=release" in output.read_text() and "staging=skip" in output.read_text()
    for args, message in [
        (("--sha", "main"), "error: --sha 'main' is not a commit SHA: use all 40 hexadecimal characters"),
        (("--sha", ""), "error: --sha is required: the application commit's full 40-character SHA"),
        (("--sha", SHA, "--app-repository", "portyfoul"), "error: --app-repository 'portyfoul': use owner/name"),
    ]:
        full = [*args, "--app-repository", "owners/portyfoul"] if "--app-repository" not in args else list(args)
        refused = invoke("delivery-plan", *full, env=environ)
        assert refused.returncode == 2 and refused.stderr.strip().startswith(message), refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1


def test_no_environment_configured_is_a_warning_not_a_failure():
    ctx, out = make_ctx(object())
    assert delivery_plan(ctx, DeliveryPlanOptions(sha=SHA, app_repository="o/p", roles={})).ok
    assert "warning: no environment is configured for delivery: nothing will be deployed" in out.getvalue()


# ---------------------------------------------------------------- deliver


def _app_at_a_commit(directory) -> str:
    """A git checkout of a tiny application; returns its HEAD."""
    directory.mkdir()
    (directory / "Dockerfile").write_text("FROM node:22-alpine\n")
    git = ["git", "-C", str(directory), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "app"]):
        subprocess.run([*git, *cmd], check=True, capture_output=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def dispatched(tmp_path, dev_stack):
    """A new dev stack ready for its first release, the application checked out at a commit, docker faked."""
    set_finnhub_key()
    app = tmp_path / "app"
    sha = _app_at_a_commit(app)
    bindir, log = install_fake_docker(tmp_path)
    env = {**dev_stack, "PATH": f"{bindir}:{os.environ['PATH']}", "FAKE_DOCKER_LOG": str(log)}
    return env, app, sha, log


def test_a_dispatch_builds_the_sent_commit_in_dev_and_its_rerun_succeeds_without_building(dispatched):
    env, app, sha, log = dispatched
    first = invoke("deliver", "--env", "dev", "--sha", sha, "--app-dir", str(app), env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"deliver {sha}: dev releases it" in first.stdout and f"released {sha[:8]}" in first.stdout
    assert any(a[:2] == ["buildx", "build"] and a[-1] == str(app) for a in docker_calls(log))
    log.unlink()
    again = invoke("deliver", "--env", "dev", "--sha", sha, "--app-dir", str(app), env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"tag {sha[:8]} is already in ECR" in again.stderr and "without building" in again.stderr
    assert not any(a[:2] == ["buildx", "build"] or a[:1] == ["push"] for a in docker_calls(log))


def test_a_checkout_at_another_commit_is_never_built(dispatched):
    env, app, sha, log = dispatched
    other = "f" * 40
    refused = invoke("deliver", "--env", "dev", "--sha", other, "--app-dir", str(app), env=env)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: {app} is at {sha[:12]}, not at the commit to deliver ffffffffffff: check out {other}")
    assert not any(a[:2] == ["buildx", "build"] for a in docker_calls(log))
    assert find_image(client("ecr"), "portyfoul-dev", "ffffffff") is None


def test_a_rerun_of_dev_for_a_tag_in_ecr_needs_no_checkout_at_all(dev_stack):
    set_finnhub_key()
    release_tag(TAG)
    proc = invoke("deliver", "--env", "dev", "--sha", SHA, "--app-dir", "/nonexistent/app", env=dev_stack)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"released {TAG}" in proc.stdout


def test_staging_promotes_what_dev_released_and_a_rerun_copies_nothing(staging_stack):
    release_tag(TAG)
    source = find_image(client("ecr"), "portyfoul-dev", TAG)
    for run in (1, 2):
        docker = RegistryDocker()
        ctx, out = make_ctx(env=staging_stack, runner=docker, poll_seconds=1)
        outcome = deliver(ctx, DeliverOptions(env="staging", sha=SHA))
        assert outcome.outcome is Outcome.APPLIED, out.getvalue()
        assert f"deliver {SHA}: staging promotes from dev (promote_from)" in out.getvalue()
        assert find_image(client("ecr"), "portyfoul-staging", TAG) == source
        pulls = [c for c in docker.commands if c[:2] in (["docker", "pull"], ["docker", "push"])]
        assert len(pulls) == (2 if run == 1 else 0), docker.commands  # the second run: the same digest is there


def test_staging_refuses_a_commit_dev_never_released(aws_env):
    docker = RegistryDocker()
    ctx, _ = make_ctx(env=replace(ENVIRONMENTS["staging"], account_id=ACCOUNT), runner=docker)
    with pytest.raises(UserError, match=f"{'0' * 8} was never released to dev: release and test it there first"):
        deliver(ctx, DeliverOptions(env="staging", sha="0" * 40))
    assert docker.commands == []


def test_deliver_to_an_environment_without_an_account_names_it():
    with pytest.raises(UserError, match=r"^staging names no AWS account: set account_id for 'staging'"):
        deliver(make_ctx(object(), env="staging")[0], DeliverOptions(env="staging", sha=SHA))

