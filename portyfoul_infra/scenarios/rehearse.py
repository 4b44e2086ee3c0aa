"""adopt --rehearse: the whole takeover replayed on a copy of the live stack, on a local AWS, before the live
stack is touched.

From AWS, read-only: the live stack's template as written, its parameter values, the names of our resources
made by hand outside it (adopt imports them), the secrets and SSM parameters its template reads, and the stacks
that import its exports. Never a secret's value: every secret of the copy holds a stand-in. Then, on a local AWS
on 127.0.0.1, the copy is built under the same names and both steps run as they would: `adopt --yes`, the
converging `stack-update --yes`, and a second stack-update that must change nothing; the witness compares
every physical ID, export, secret and SSM value, the database and the security group rules before and after.

It runs on a local AWS of its own (runner.local_run), with the runner's one failure policy: 0 when the rehearsal
went through with nothing lost; 2 when a step did not, saying which; 130 or 143 when a signal stopped it. Nothing
changes on AWS either way, and what the copy's steps change is never reported as a change on AWS.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..artifacts.generated import ensure_fresh
from ..aws.adoption import plan_takeover, read_live_stack
from ..aws.clients import print_header
from ..context import Ctx
from ..errors import UserError
from ..local import server as local_aws
from ..options import AdoptOptions, UpdateOptions
from ..outcomes import Outcome, Result
from ..verbs.adopt import adopt
from ..verbs.stack import stack_update
from .runner import Step, expect, run_locally
from .witness import compare, witness

STAND_IN = "rehearsal-stand-in-value"


class AlreadyOurs(Exception):
    """The stack runs this tool's template: nothing to rehearse (as adopt says, exit 0)."""
RESOLVE = re.compile(r"\{\{resolve:(secretsmanager|ssm|ssm-secure):([^:}]+)")


@dataclass
class LiveCopy:
    """What the rehearsal needs from AWS to build the copy (no secret value among it)."""
    template_body: str
    parameters: dict[str, str]
    stand_in_parameters: list[str] = field(default_factory=list)   # NoEcho: their values are not readable
    hand_made: list[tuple[str, str]] = field(default_factory=list)  # (type, name) of ours outside the stack
    resolved: list[tuple[str, str]] = field(default_factory=list)   # (service, name) its template reads
    ssm_parameters: dict[str, str] = field(default_factory=dict)    # AWS::SSM::Parameter::Value parameters
    importers: dict[str, list[str]] = field(default_factory=dict)   # importing stack -> export names
    resources: int = 0


def capture(ctx: Ctx, ours: dict, opts: AdoptOptions, account: str) -> LiveCopy:
    """Read the live stack and what its takeover touches, read-only."""
    cfn = ctx.client("cloudformation")
    live = read_live_stack(cfn, ctx.env)
    if live.adopted_by_us:
        raise AlreadyOurs(f"{ctx.env.stack_name} is already ours: it runs this tool's template, so there is no "
                          f"takeover to rehearse; `invoke stack-diff --env {ctx.env.name}` shows what stack-update "
                          "would change")
    body = cfn.get_template(StackName=live.info.stack_id, TemplateStage="Original")["TemplateBody"]  # as written
    declared = live.template.get("Parameters", {})
    copy = LiveCopy(body if isinstance(body, str) else json.dumps(body), {}, resources=len(live.physical_ids))
    for key, value in live.info.parameters.items():
        kind = str(declared.get(key, {}).get("Type", ""))
        if str(declared.get(key, {}).get("NoEcho", "")).lower() == "true":
            copy.parameters[key] = STAND_IN
            copy.stand_in_parameters.append(key)
        elif kind.startswith("AWS::SSM::Parameter::Value"):
            copy.parameters[key] = value
            copy.ssm_parameters[value] = live.info.resolved.get(key, STAND_IN)
        else:
            copy.parameters[key] = value
    takeover = plan_takeover(ctx, live, ours, opts.overrides(), account, opts.allow_replace, opts.allow_interruption)
    copy.hand_made = [(h.resource_type, h.name) for h in takeover.imports]
    copy.resolved = sorted({(service, name) for service, name in RESOLVE.findall(copy.template_body)})
    for export in takeover.exports:
        for stack in export.importers:
            copy.importers.setdefault(stack, []).append(export.name)
    return copy


def build_copy(ctx: Ctx, copy: LiveCopy) -> None:
    """The copy on the local AWS: what the live stack reads, our hand-made resources, the stack, its importers."""
    sm, ssm = ctx.client("secretsmanager"), ctx.client("ssm")
    made_secrets = set()
    for kind, name in copy.hand_made:
        if kind == "AWS::SecretsManager::Secret":
            sm.create_secret(Name=name, SecretString=STAND_IN)
            made_secrets.add(name)
        elif kind == "AWS::SSM::Parameter":
            ssm.put_parameter(Name=name, Value=STAND_IN, Type="String")
        elif kind == "AWS::Logs::LogGroup":
            ctx.client("logs").create_log_group(logGroupName=name)
        elif kind == "AWS::ECR::Repository":
            ctx.client("ecr").create_repository(repositoryName=name)
    for service, name in copy.resolved:
        if service == "secretsmanager" and name not in made_secrets and not name.startswith("arn:"):
            try:
                sm.create_secret(Name=name, SecretString=json.dumps({"username": "stand_in", "password": STAND_IN}))
            except Exception:  # noqa: BLE001 - the stack creates it itself, or it is already there
                pass
        elif service.startswith("ssm"):
            ssm.put_parameter(Name=name, Value=STAND_IN, Type="String", Overwrite=True)
    for name, value in copy.ssm_parameters.items():
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    cfn = ctx.client("cloudformation")
    cfn.create_stack(StackName=ctx.env.stack_name, TemplateBody=copy.template_body,
                     Capabilities=["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in copy.parameters.items()])
    status = cfn.describe_stacks(StackName=ctx.env.stack_name)["Stacks"][0]
    if status["StackStatus"] != "CREATE_COMPLETE":
        raise UserError(f"the local AWS could not build a copy of {ctx.env.stack_name}: {status['StackStatus']} "
                        f"{status.get('StackStatusReason', '')}".rstrip())
    for stack, exports in sorted(copy.importers.items()):
        resources = {f"Import{i}": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Type": "String", "Value": {"Fn::ImportValue": name}}} for i, name in enumerate(exports)}
        cfn.create_stack(StackName=stack, TemplateBody=json.dumps({"Resources": resources}))


def rehearse(ctx: Ctx, opts: AdoptOptions) -> Result:
    console, env = ctx.console, ctx.env
    ours = json.loads(ensure_fresh(ctx.generated).deploy_body)
    account = print_header(ctx)
    console.heading(f"rehearse: reading {env.stack_name} (read-only: template, parameters, names; never a secret's "
                    "value)")
    try:
        copy = capture(ctx, ours, opts, account)
    except AlreadyOurs as ours_already:
        console.ok(str(ours_already))
        return Result(Outcome.NO_CHANGES)
    console.line(f"  {copy.resources} resources; {len(copy.parameters)} parameters"
                 + (f" ({', '.join(copy.stand_in_parameters)}: NoEcho, a stand-in value)" if copy.stand_in_parameters
                    else "")
                 + f"; {len(copy.hand_made)} of ours made by hand outside it; "
                 + f"{sum(len(v) for v in copy.importers.values())} imported exports")
    result = run_locally(ctx, replace(env, account_id=local_aws.ACCOUNT_ID),
                         lambda local: _replay(local, opts, copy), generated=ctx.generated,
                         poll_seconds=ctx.poll_seconds, prefix="rehearse ")
    if result.ok:
        console.ok(f"rehearsal passed: both steps ran on a copy of {env.stack_name} with nothing replaced, deleted or "
                   f"re-valued. Nothing was changed on AWS; next: `invoke adopt --env {env.name}`, then "
                   f"`invoke stack-update --env {env.name}`")
        return Result(Outcome.NO_CHANGES)
    if result.outcome is Outcome.REFUSED:
        console.error(f"the rehearsal did not pass; nothing was changed on AWS. Settle what stopped it before "
                      f"`invoke adopt --env {env.name}`")
    return result


def _replay(ctx: Ctx, opts: AdoptOptions, copy: LiveCopy) -> list[Step]:
    console, env = ctx.console, ctx.env
    allow: dict[str, Any] = {"allow_replace": opts.allow_replace, "allow_interruption": opts.allow_interruption}
    state: dict[str, Any] = {}

    def build() -> Outcome:
        build_copy(ctx, copy)
        state["before"] = witness(ctx, env.stack_name)
        return Outcome.APPLIED

    def check() -> Outcome:
        lost = compare(state["before"], witness(ctx, env.stack_name))
        for line in lost:
            console.error(line)
        return Outcome.NEEDS_HUMAN if lost else Outcome.APPLIED

    return [
        ("build the copy under the same names, with stand-ins for secret values", build),
        ("adopt --yes", lambda: adopt(ctx, replace(opts, rehearse=False, yes=True))),
        ("stack-update --yes: the converging update", lambda: stack_update(ctx, UpdateOptions(env=env.name, yes=True,
                                                                                                 **allow))),
        ("stack-update --yes again: must change nothing",
         expect(Outcome.NO_CHANGES, lambda: stack_update(ctx, UpdateOptions(env=env.name, yes=True, **allow)), ctx)),
        ("compare: physical IDs, exports, secret and SSM values, the database, security group rules", check),
    ]
