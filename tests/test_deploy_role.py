"""The deploy role's trust: only this repository's main branch and its GitHub environment, per environment."""

from __future__ import annotations

import ast
import json
from dataclasses import replace

import pytest

from portyfoul_infra import contract as out
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.errors import UserError
from portyfoul_infra.local.server import ACCOUNT_ID
from portyfoul_infra.options import DeployRoleOptions
from portyfoul_infra.verbs.deploy_role import deploy_role
from support import make_ctx
from support.stacks import client

REPO = "portyfoul-owners/portyfoul"
PROVIDER = "token.actions.githubusercontent.com"


def _env(name: str):
    return replace(ENVIRONMENTS[name], account_id=ACCOUNT_ID, github_repository=REPO)


def _create_provider() -> None:
    """The account's GitHub OIDC provider, made beforehand (moto's CloudFormation cannot create one)."""
    client("iam").create_open_id_connect_provider(Url=f"https://{PROVIDER}", ClientIDList=["sts.amazonaws.com"],
                                                  ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"])


def _deploy(env, provider_exists: bool = True) -> tuple[dict, str]:
    """deploy-role --yes for `env`, whose promote source (dev for staging, staging for prod) is in the same account."""
    if provider_exists:
        _create_provider()
    ctx, printed = make_ctx(env=env, poll_seconds=0, environments={"staging": _env("staging")})
    outcome = deploy_role(ctx, DeployRoleOptions(env=env.name, yes=True))
    assert outcome.ok, printed.getvalue()
    stack = client("cloudformation").describe_stacks(StackName=out.deploy_role_stack_name(env))["Stacks"][0]
    arn = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}[out.DEPLOY_ROLE_ARN]
    role = client("iam").get_role(RoleName=arn.split("/")[-1])["Role"]
    document = role["AssumeRolePolicyDocument"]
    return (json.loads(document) if isinstance(document, str) else document), printed.getvalue()


def may_assume(trust: dict, claims: dict, provider_arn: str) -> bool:
    """IAM's evaluation of a web-identity trust policy for one GitHub token (Allow statements, String* conditions)."""
    for statement in trust["Statement"]:
        if statement["Effect"] != "Allow" or "sts:AssumeRoleWithWebIdentity" not in (
                [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]):
            continue
        if statement["Principal"].get("Federated") != provider_arn:
            continue
        if all(_matches(op, key, wanted, claims) for op, tests in statement.get("Condition", {}).items()
               for key, wanted in tests.items()):
            return True
    return False


def _matches(op: str, key: str, wanted, claims: dict) -> bool:
    assert op in ("StringEquals",), f"a condition operator this evaluator does not know: {op}"
    claim = claims.get(key.split(":", 1)[1])
    return claim in ([wanted] if isinstance(wanted, str) else wanted)


def _token(sub: str, aud: str = "sts.amazonaws.com") -> dict:
    return {"sub": sub, "aud": aud}


@pytest.mark.parametrize("env_name, github_environment", [("dev", "dev"), ("staging", "staging"),
                                                           ("prod", "production")])
def test_the_trust_policy_allows_only_this_repository_main_and_its_environment(aws_env, env_name, github_environment):
    env = _env(env_name)
    trust, printed = _deploy(env)
    provider = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{PROVIDER}"
    allowed = [f"repo:{REPO}:environment:{github_environment}"]
    refused = [
        f"repo:{REPO}:ref:refs/heads/main",  # a job on main outside the environment would skip its reviewers
        f"repo:{REPO}:ref:refs/heads/feature", f"repo:{REPO}:pull_request",
        *(f"repo:{REPO}:environment:{other}" for other in ("dev", "staging", "production") if other != github_environment),
        f"repo:{REPO}-fork:ref:refs/heads/main", f"repo:someone/portyfoul:environment:{github_environment}",
        f"repo:{REPO}:ref:refs/heads/main-evil",
    ]
    assert [s for s in allowed if may_assume(trust, _token(s), provider)] == allowed
    assert [s for s in refused if may_assume(trust, _token(s), provider)] == []
    assert not may_assume(trust, _token(allowed[0], aud="https://github.com/someone"), provider)
    assert not may_assume(trust, _token(allowed[0]), provider.replace(PROVIDER, "accounts.google.com"))
    assert f"{env.name.upper()}_DEPLOY_ROLE_ARN=arn:aws:iam::{ACCOUNT_ID}:role/" in printed


def test_deploy_role_refuses_an_environment_without_a_repository(aws_env):
    env = replace(ENVIRONMENTS["staging"], account_id=ACCOUNT_ID, github_repository="")
    with pytest.raises(UserError, match="names no GitHub repository or environment"):
        deploy_role(make_ctx(env=env)[0], DeployRoleOptions(env="staging", yes=True))
    assert client("cloudformation").describe_stacks()["Stacks"] == []


def test_prods_role_may_read_what_staging_released_and_change_nothing_of_staging(aws_env):
    _deploy(_env("prod"))
    iam = client("iam")
    (name,) = iam.list_role_policies(RoleName="portyfoul-prod-github-deploy")["PolicyNames"]
    document = iam.get_role_policy(RoleName="portyfoul-prod-github-deploy", PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):  # moto's CloudFormation stores an inline policy as Python's repr of it
        document = ast.literal_eval(document)
    on_staging = {a for st in document["Statement"] for r in st["Resource"] if "staging" in r for a in st["Action"]}
    assert on_staging == {"cloudformation:DescribeStacks", "ssm:GetParametersByPath", "ssm:GetParameters",
                          "ecr:DescribeImages",
                          "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer"}
    staging_resources = sorted(r for st in document["Statement"] for r in st["Resource"] if "staging" in r)
    assert staging_resources == [
        f"arn:aws:cloudformation:us-east-2:{ACCOUNT_ID}:stack/portyfoul-staging-infra/*",
        f"arn:aws:ecr:us-east-2:{ACCOUNT_ID}:repository/portyfoul-staging",
        f"arn:aws:ssm:us-east-2:{ACCOUNT_ID}:parameter/portyfoul/staging/release-history",
        f"arn:aws:ssm:us-east-2:{ACCOUNT_ID}:parameter/portyfoul/staging/release-history-last-good",
        f"arn:aws:ssm:us-east-2:{ACCOUNT_ID}:parameter/portyfoul/staging/releases"]


def test_a_promote_source_in_another_account_is_refused(aws_env):
    other = replace(_env("staging"), account_id="111122223333")
    with pytest.raises(UserError, match=r"environment prod: promote_from staging: staging \(111122223333\) and prod "
                                        r"\(946652103073\) live in different accounts"):
        deploy_role(make_ctx(env=_env("prod"), environments={"staging": other})[0],
                    DeployRoleOptions(env="prod", yes=True))
    assert client("cloudformation").describe_stacks()["Stacks"] == []


def test_without_a_terminal_or_yes_nothing_is_left_behind(aws_env):
    _create_provider()
    with pytest.raises(UserError, match="There is no terminal to confirm on: rerun with --yes"):
        deploy_role(make_ctx(env=_env("staging"))[0], DeployRoleOptions(env="staging"))
    stacks = client("cloudformation").list_stacks()["StackSummaries"]
    assert [s["StackStatus"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"] == []


def test_stagings_role_may_read_what_dev_released_for_the_promotion_from_dev(aws_env):
    _deploy(_env("staging"))
    iam = client("iam")
    (name,) = iam.list_role_policies(RoleName="portyfoul-staging-github-deploy")["PolicyNames"]
    document = iam.get_role_policy(RoleName="portyfoul-staging-github-deploy", PolicyName=name)["PolicyDocument"]
    if isinstance(document, str):
        document = ast.literal_eval(document)
    source = {st["Sid"]: st["Resource"] for st in document["Statement"] if st["Sid"].startswith("PromoteSource")}
    assert source == {
        "PromoteSourceStack": [f"arn:aws:cloudformation:us-east-2:{ACCOUNT_ID}:stack/portyfoul-infra/*"],
        "PromoteSourceHistory": [f"arn:aws:ssm:us-east-2:{ACCOUNT_ID}:parameter/portyfoul/dev/releases"],
        "PromoteSourceHistoryBefore": [f"arn:aws:ssm:us-east-2:{ACCOUNT_ID}:parameter/portyfoul/dev/release-history",
                                       f"arn:aws:ssm:us-east-2:{ACCOUNT_ID}:parameter/portyfoul/dev/"
                                       "release-history-last-good"],
        "PromoteSourceImages": [f"arn:aws:ecr:us-east-2:{ACCOUNT_ID}:repository/portyfoul-dev"]}
