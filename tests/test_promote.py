"""promote against the local AWS: the image moves by digest, and only a tag that succeeded in the source moves."""

from __future__ import annotations

from dataclasses import replace

import pytest

from portyfoul_infra.aws.images import find_image
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.errors import UserError
from portyfoul_infra.local.server import ACCOUNT_ID
from portyfoul_infra.options import PromoteOptions
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.verbs.promote import promote
from support import make_ctx
from support.docker import RegistryDocker
from support.stacks import DEMO_TAG, client, release_tag

DEV = ENVIRONMENTS["dev"]
STAGING = replace(ENVIRONMENTS["staging"], account_id=ACCOUNT_ID)


def _run(tag: str, docker: RegistryDocker, source=DEV, target=STAGING):
    ctx, out = make_ctx(env=target, runner=docker, poll_seconds=1, environments={source.name: source})
    outcome = promote(ctx, PromoteOptions(tag=tag, from_=source.name, to=target.name))
    return outcome, out.getvalue()


def _digest(repository: str, tag: str):
    return find_image(client("ecr"), repository, tag)


def test_promote_copies_the_digest_and_releases_it(staging_stack):
    docker = RegistryDocker()
    outcome, printed = _run(DEMO_TAG, docker)
    assert outcome.outcome is Outcome.APPLIED, printed
    source = _digest("portyfoul-dev", DEMO_TAG)
    assert source and _digest("portyfoul-staging", DEMO_TAG) == source
    assert [c[:2] for c in docker.commands if c[0] == "docker" and c[1] != "login"] == [
        ["docker", "pull"], ["docker", "tag"], ["docker", "push"]]
    assert f"@{source}" in docker.commands[-3][2]  # pulled by digest, never by a mutable tag
    assert f"same digest {source[:19]}" in printed
    assert printed.count("environment staging · account") == 1  # one header, the release's
    web = client("ecs").describe_services(cluster="portyfoul-staging-cluster", services=["portyfoul-staging-web-service"])
    task_def = client("ecs").describe_task_definition(taskDefinition=web["services"][0]["taskDefinition"])
    assert task_def["taskDefinition"]["containerDefinitions"][0]["image"].endswith(f":{DEMO_TAG}")


def test_promote_refuses_a_tag_never_released_in_the_source(staging_stack):
    docker = RegistryDocker()
    with pytest.raises(UserError, match="never released to dev"):
        _run("feedbeef", docker)
    assert docker.commands == []
    assert _digest("portyfoul-staging", "feedbeef") is None


def test_promote_refuses_a_tag_whose_source_release_failed(staging_stack):
    release_tag("demo0002-crash", expect=Outcome.ROLLED_BACK)
    docker = RegistryDocker()
    with pytest.raises(UserError, match="demo0002-crash to dev .*only a tag that succeeded there is promoted"):
        _run("demo0002-crash", docker)
    assert docker.commands == []
    assert _digest("portyfoul-staging", "demo0002-crash") is None


def test_a_copy_with_another_digest_is_not_released(staging_stack):
    outcome, printed = _run(DEMO_TAG, RegistryDocker(rewrite=True))
    assert outcome.outcome is Outcome.NEEDS_HUMAN and outcome.exit_code == 4
    assert "not released" in printed
    web = client("ecs").describe_services(cluster="portyfoul-staging-cluster", services=["portyfoul-staging-web-service"])
    assert web["services"][0]["desiredCount"] == 0  # still the bootstrap: nothing was deployed


def test_promote_refuses_environments_in_different_accounts():
    other = replace(STAGING, account_id="111122223333")
    with pytest.raises(UserError, match=r"dev \(946652103073\) and staging \(111122223333\) live in different accounts"):
        promote(make_ctx(object(), env=other, environments={"dev": DEV})[0], PromoteOptions(tag="x", from_="dev"))


def test_promote_from_an_environment_without_an_account_names_it_and_says_what_to_set():
    """Not "different accounts": staging simply names none yet (prod neither)."""
    ctx, out = make_ctx(object(), env=ENVIRONMENTS["prod"])
    with pytest.raises(UserError) as refused:
        promote(ctx, PromoteOptions(tag="1a2b3c4d", from_="staging", to="prod"))
    assert str(refused.value).startswith("staging names no AWS account: set account_id for 'staging' in "
                                         "portyfoul_infra/config.py")
    assert "different" not in str(refused.value) and out.getvalue() == ""


def test_the_targets_preflight_runs_before_anything_is_copied(staging_stack):
    """A placeholder secret in the target refuses the promotion (exit 2) before the image is copied into it."""
    from portyfoul_infra.contract import PLACEHOLDER_VALUE
    client("secretsmanager").put_secret_value(SecretId="portyfoul/staging/finnhub-api-key", SecretString=PLACEHOLDER_VALUE)
    docker = RegistryDocker()
    with pytest.raises(UserError, match="preflight: .*FINNHUB_API_KEY: secret portyfoul/staging/finnhub-api-key still "
                                        "holds its placeholder"):
        _run(DEMO_TAG, docker)
    assert [c for c in docker.commands if c[:2] != ["docker", "login"]] == []
    assert _digest("portyfoul-staging", DEMO_TAG) is None
