"""deploy-role: create or update the companion stack holding the role GitHub Actions deploys through.

The stack is `<project>-<env>-deploy` (template: generated/deploy-role.json). The account's GitHub OIDC
provider is created by the first environment that needs it and referred to by the others.
"""

from __future__ import annotations

from ..artifacts.generated import DEPLOY_ROLE_FILE, ensure_fresh
from ..aws.change_sets import ChangeSetRequest, create_change_set, delete_change_set, execute_change_set
from ..aws.clients import print_header
from ..aws.guards import render_changes
from ..aws.stacks import describe_stack, outcome_of, report_failure
from ..config import Environment, promotion_refusal
from ..context import Ctx
from ..contract import (
    CFN_ROLE_ARN,
    DEPLOY_ROLE_ARN,
    OIDC_PROVIDER_ARN,
    deploy_role_parameters,
    deploy_role_stack_name,
    deploy_role_variable,
)
from ..errors import UserError
from ..options import DeployRoleOptions
from ..outcomes import Outcome, Result, result_of

GITHUB_PROVIDER_HOST = "token.actions.githubusercontent.com"


def deploy_role(ctx: Ctx, opts: DeployRoleOptions) -> Result:
    """The companion stack of the environment; its role may also read what promote_from released."""
    env, console = ctx.env, ctx.console
    if not env.github_repository or not env.github_environment:
        raise UserError(f"environment {env.name} names no GitHub repository or environment: set github_repository "
                        "(owner/name) and github_environment in portyfoul_infra/config.py")
    source = ctx.environment(env.promote_from) if env.promote_from else None
    _check_source(env, source)
    report = ensure_fresh(ctx.generated)
    print_header(ctx)
    cfn = ctx.client("cloudformation")
    name = deploy_role_stack_name(env)
    stack = describe_stack(cfn, name)
    if stack is not None and stack.in_progress:
        raise UserError(f"stack {name} is {stack.status}; run again when it completes")
    provider = _provider(ctx, stack)
    console.line(f"deploy role for jobs of {env.github_repository} in its GitHub environment "
                 f"{env.github_environment!r} (allow only main there); OIDC provider: "
                 f"{provider or 'created by this stack'}")
    kind = "UPDATE" if stack is not None and stack.status != "REVIEW_IN_PROGRESS" else "CREATE"
    plan = create_change_set(ctx, ChangeSetRequest(
        stack_name=name, body=(report.directory / DEPLOY_ROLE_FILE).read_text(), change_set_type=kind,
        parameters=deploy_role_parameters(env, provider, source), tags=env.stack_tags,
        prefix="portyfoul-update-deploy-role-", template_bucket=""))
    if plan.empty:
        delete_change_set(cfn, plan)
        console.ok(f"no changes: {name} is up to date")
        _print_outputs(ctx, name)
        return Result(Outcome.NO_CHANGES)
    render_changes(console, plan.changes)
    refused = ctx.confirmed(f"execute {len(plan.changes)} change(s) on {name}?", opts.yes,
                            lambda: delete_change_set(cfn, plan))
    if refused:
        return result_of(refused)
    result = execute_change_set(ctx, plan, opts.timeout, f"`invoke deploy-role --env {env.name}`")
    outcome = outcome_of(result.status)
    if outcome is not Outcome.APPLIED:
        report_failure(console, result, name)
        return result_of(outcome)
    return result_of(_print_outputs(ctx, name))


def _check_source(env: Environment, source: Environment | None) -> None:
    if source is None:
        return
    if source.name == env.name:
        raise UserError(f"environment {env.name}: promote_from names the environment itself")
    refusal = promotion_refusal(source, env)
    if refusal:
        raise UserError(f"environment {env.name}: promote_from {source.name}: {refusal}")


def _provider(ctx: Ctx, stack) -> str:
    """"" to create the account's GitHub OIDC provider in this stack, or the ARN of the one that exists."""
    if stack is not None and stack.parameters.get(OIDC_PROVIDER_ARN, "x") == "" and stack.outputs.get(OIDC_PROVIDER_ARN):
        return ""  # this stack created it: keep it here
    providers = ctx.client("iam").list_open_id_connect_providers().get("OpenIDConnectProviderList", [])
    return next((p["Arn"] for p in providers if p["Arn"].endswith(GITHUB_PROVIDER_HOST)), "")


def _print_outputs(ctx: Ctx, name: str) -> Outcome:
    env, console = ctx.env, ctx.console
    stack = describe_stack(ctx.client("cloudformation"), name)
    outputs = stack.outputs if stack else {}
    role = outputs.get(DEPLOY_ROLE_ARN, "?")
    console.ok(f"deploy role: {role}")
    console.line(f"set the repository variable {deploy_role_variable(env)}={role} in "
                 f"{env.github_repository} (Settings, Secrets and variables, Actions, Variables)")
    if outputs.get(CFN_ROLE_ARN):
        console.line(f"stack-update from CI: `invoke stack-update --env {env.name} --yes --cfn-role "
                     f"{outputs[CFN_ROLE_ARN]}`")
    return Outcome.APPLIED
