"""deploy-role: create or update the companion stack holding the role GitHub Actions deploys through.

The stack is `<project>-<env>-deploy` (template: generated/deploy-role.json). The account's GitHub OIDC
provider is created by the first environment that needs it and referred to by the others.
"""

from __future__ import annotations


from .. import contract as out
from ..aws.clients import ClientSource, print_header
from ..context import Clock, Sleep
from ..aws.change_sets import (
    ChangeSetPlan, delete_change_set, is_empty_change_set, render_changes, wait_for_change_set,
)
from ..config import Environment
from ..console import Console
from ..errors import UserError
from ..artifacts.generated import DEPLOY_ROLE_FILE, ensure_fresh
from ..options import DeployRoleOptions
from ..outcomes import JOURNAL, Confirm, Outcome, refused_unless_confirmed
from ..aws.stacks import EventStream, describe_stack, outcome_of, report_failure, watch

GITHUB_PROVIDER_HOST = "token.actions.githubusercontent.com"


def deploy_role(aws: ClientSource, env: Environment, console: Console, opts: DeployRoleOptions,
                confirm: Confirm | None, clock: Clock, sleep: Sleep, source: Environment | None = None) -> Outcome:
    """`source` is the environment `promote` brings images from (config: promote_from); its role may read it."""
    if not env.github_repository or not env.github_environment:
        raise UserError(f"environment {env.name} names no GitHub repository or environment: set github_repository "
                        "(owner/name) and github_environment in portyfoul_infra/config.py")
    _check_source(env, source)
    report = ensure_fresh()
    print_header(aws, env, console)
    cfn = aws.client("cloudformation")
    name = out.deploy_role_stack_name(env)
    stack = describe_stack(cfn, name)
    if stack is not None and stack.in_progress:
        raise UserError(f"stack {name} is {stack.status}; run again when it completes")
    provider = _provider(aws, stack)
    parameters = out.deploy_role_parameters(env, provider, source)
    console.line(f"deploy role for jobs of {env.github_repository} in its GitHub environment "
                 f"{env.github_environment!r} (allow only main there); OIDC provider: "
                 f"{provider or 'created by this stack'}")
    kind = "UPDATE" if stack is not None and stack.status != "REVIEW_IN_PROGRESS" else "CREATE"
    created = cfn.create_change_set(
        StackName=name, ChangeSetName=f"portyfoul-update-deploy-role-{int(clock() * 1000) % 10**9}",
        ChangeSetType=kind, TemplateBody=(report.directory / DEPLOY_ROLE_FILE).read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
        Capabilities=["CAPABILITY_NAMED_IAM"], Tags=[{"Key": k, "Value": v} for k, v in sorted(env.stack_tags.items())])
    status, reason, changes = wait_for_change_set(cfn, name, created["Id"], clock, sleep)
    plan = ChangeSetPlan(created["Id"], kind, created["StackId"], changes=changes)
    if is_empty_change_set(status, reason):
        delete_change_set(cfn, plan)
        console.ok(f"no changes: {name} is up to date")
        return _print_outputs(cfn, name, env, console)
    if status == "FAILED":
        delete_change_set(cfn, plan)  # a CREATE's empty REVIEW_IN_PROGRESS stack goes too
        raise UserError(f"CloudFormation rejected the change set: {reason}")
    render_changes(console, changes)
    refused = refused_unless_confirmed(f"execute {len(changes)} change(s) on {name}?", opts.yes, confirm, console,
                                       lambda: delete_change_set(cfn, plan))
    if refused:
        return refused
    info = describe_stack(cfn, plan.stack_id)
    stream = EventStream(cfn, plan.stack_id)
    stream.mark()
    cfn.execute_change_set(ChangeSetName=plan.change_set_id, StackName=plan.stack_id)
    JOURNAL.record(f"started executing the change set on {name}", f"`invoke deploy-role --env {env.name}`")
    result = watch(cfn, info, stream, console, clock, sleep, opts.timeout, opts.poll_seconds)
    outcome = outcome_of(result.status)
    if outcome is not Outcome.APPLIED:
        report_failure(console, result, name)
        return outcome
    return _print_outputs(cfn, name, env, console)


def _check_source(env: Environment, source: Environment | None) -> None:
    if source is None:
        return
    if source.name == env.name:
        raise UserError(f"environment {env.name}: promote_from names the environment itself")
    if source.account_id != env.account_id:
        raise UserError(f"environment {env.name}: promote_from {source.name} is in another account; promote "
                        "copies within one account")


def _provider(aws: ClientSource, stack) -> str:
    """"" to create the account's GitHub OIDC provider in this stack, or the ARN of the one that exists."""
    if stack is not None and stack.parameters.get(out.OIDC_PROVIDER_ARN, "x") == "" and stack.outputs.get(out.OIDC_PROVIDER_ARN):
        return ""  # this stack created it: keep it here
    providers = aws.client("iam").list_open_id_connect_providers().get("OpenIDConnectProviderList", [])
    return next((p["Arn"] for p in providers if p["Arn"].endswith(GITHUB_PROVIDER_HOST)), "")


def _print_outputs(cfn, name: str, env: Environment, console: Console) -> Outcome:
    stack = describe_stack(cfn, name)
    outputs = stack.outputs if stack else {}
    role = outputs.get(out.DEPLOY_ROLE_ARN, "?")
    console.ok(f"deploy role: {role}")
    console.line(f"set the repository variable {env.name.upper()}_DEPLOY_ROLE_ARN={role} in "
                 f"{env.github_repository} (Settings, Secrets and variables, Actions, Variables)")
    if outputs.get(out.CFN_ROLE_ARN):
        console.line(f"stack-update from CI: `invoke stack-update --env {env.name} --yes --cfn-role "
                     f"{outputs[out.CFN_ROLE_ARN]}`")
    return Outcome.APPLIED
