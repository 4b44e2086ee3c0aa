"""delivery-plan and deliver: one application commit, from the application repository's dispatch to every
environment that is configured for it. The deploy workflow (.github/workflows/deploy.yml) calls these and decides
nothing itself.

delivery-plan reads no AWS: from the commit, the config and which <ENV>_DEPLOY_ROLE_ARN variables are set, it says
what each environment's job does: `release` (an environment without promote_from: build the commit, or release
the image ECR already has under its tag), `promote` (copy the digest its promote_from released and tested), or
`skip` (its role variable is not set, or its source is skipped this run). A misconfiguration (a role in another
account, an environment without an account, a promotion across accounts) is refused before any job starts.

deliver does one environment's part. Both are safe to run again: a tag already in ECR is released as it is, and a
tag already promoted (the same digest) is released without another copy.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Mapping

from ..aws.clients import print_header
from ..aws.lock import deployment
from ..aws.release import (
    CannotBuild,
    ReleaseRequest,
    apply_release,
    describe_release,
    plan_promotion,
    plan_release,
)
from ..config import Environment, check_promotion, check_promotions, promotion_refusal
from ..context import Ctx
from ..contract import deploy_role_variable, service_keys
from ..errors import UserError
from ..options import DeliverOptions, DeliveryPlanOptions
from ..outcomes import Outcome, Result, result_of

BUILD_SECONDS = 1800   # how long a build and push may take: the deploy job's step timeout leaves room for it

RELEASE, PROMOTE, SKIP = "release", "promote", "skip"
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}")


@dataclass(frozen=True)
class Step:
    """What one environment's job does with the commit."""
    env: Environment
    action: str          # release | promote | skip
    source: str = ""     # promote: the environment the image comes from
    why: str = ""        # skip: why

    def describe(self, tag: str) -> str:
        if self.action == RELEASE:
            return f"release {tag}: build the commit, or release the image ECR already has under {tag}"
        if self.action == PROMOTE:
            return f"promote {tag} from {self.source}: the digest {self.source} released, no rebuild"
        return f"skip: {self.why}"


def delivery_steps(environments: Mapping[str, Environment], roles: Mapping[str, str]) -> list[Step]:
    """Each environment's step, sources before the environments that promote from them. Refuses (UserError) a
    configuration that could only fail later: a role variable that is no role ARN or names another account than
    the environment's, an environment without an account, a promotion across accounts."""
    check_promotions(environments)
    steps: dict[str, Step] = {}
    for env in sorted(environments.values(), key=lambda e: _depth(environments, e)):
        variable = deploy_role_variable(env)
        role = roles.get(variable, "").strip()
        if not role:
            steps[env.name] = Step(env, SKIP, why=f"{variable} is not set (`invoke deploy-role --env {env.name}` "
                                                  "creates the role and prints it)")
            continue
        _check_role(env, variable, role)
        if not env.promote_from:
            steps[env.name] = Step(env, RELEASE)
            continue
        source = environments[env.promote_from]
        if steps[source.name].action == SKIP:
            steps[env.name] = Step(env, SKIP, why=f"it promotes from {source.name}, which this run skips")
            continue
        refusal = promotion_refusal(source, env)
        if refusal:
            raise UserError(refusal)
        steps[env.name] = Step(env, PROMOTE, source=source.name)
    return list(steps.values())


def _depth(environments: Mapping[str, Environment], env: Environment) -> int:
    """How many promotions away from a building environment (check_promotions has ruled out cycles)."""
    depth = 0
    while env.promote_from:
        env, depth = environments[env.promote_from], depth + 1
    return depth


def _check_role(env: Environment, variable: str, role: str) -> None:
    found = _ROLE_ARN.fullmatch(role)
    if not found:
        raise UserError(f"{variable} is not an IAM role ARN ({role[:80]!r}): set it to what `invoke deploy-role "
                        f"--env {env.name}` prints")
    if not env.account_id:
        raise UserError(f"{env.name} names no AWS account: set account_id for {env.name!r} in "
                        f"portyfoul_infra/config.py ({variable} is set)")
    if found.group(1) != env.account_id:
        raise UserError(f"{variable} is a role in account {found.group(1)}, but {env.name} lives in "
                        f"{env.account_id} (portyfoul_infra/config.py): set it to what `invoke deploy-role --env "
                        f"{env.name}` prints")


def delivery_plan(ctx: Ctx, opts: DeliveryPlanOptions) -> Result:
    """What delivering the commit does in each environment; with --github-output, the same as step outputs."""
    console = ctx.console
    roles = os.environ if opts.roles is None else opts.roles
    steps = delivery_steps(ctx.environments, roles)
    console.heading(f"deliver {opts.app_repository} at {opts.sha} as image tag {opts.tag}")
    console.table(("environment", "GitHub environment", "step"),
                  [(s.env.name, s.env.github_environment or "-", s.describe(opts.tag)) for s in steps])
    if all(s.action == SKIP for s in steps):
        console.warn("no environment is configured for delivery: nothing will be deployed (README, \"Deploying "
                     "from GitHub\")")
    if opts.github_output:
        owner, name = opts.app_repository.split("/")
        outputs = {"sha": opts.sha, "tag": opts.tag, "app_repository": opts.app_repository, "app_owner": owner,
                   "app_name": name, **{s.env.name: s.action for s in steps}}
        try:
            with open(opts.github_output, "a", encoding="utf-8") as out:
                out.writelines(f"{key}={value}\n" for key, value in outputs.items())
        except OSError as e:
            raise UserError(f"cannot write the step outputs to {opts.github_output}: {e.strerror}") from None
    return Result(Outcome.NO_CHANGES)


def deliver(ctx: Ctx, opts: DeliverOptions) -> Result:
    """The environment's part of delivering the commit: promote it from promote_from, or release it (building
    from --app-dir, which must be at the commit, only when ECR does not have the tag yet)."""
    env = ctx.env
    source = ctx.environment(env.promote_from) if env.promote_from else None
    if source is not None:
        check_promotion(source, env)
    elif env.migrate_on_release and not env.migration_command:
        raise UserError(f"migrate_on_release needs migration_command in the {env.name} config")
    app_dir = opts.app_dir or env.app_dir
    print_header(ctx)
    with deployment(ctx, f"deliver {opts.sha[:12]}", opts.timeout):
        if source is not None:
            ctx.console.line(f"deliver {opts.sha}: {env.name} promotes from {source.name} (promote_from)")
            plan = plan_promotion(ctx, source, opts.tag, opts.timeout)
        else:
            ctx.console.line(f"deliver {opts.sha}: {env.name} releases it")
            try:
                plan = plan_release(ctx, ReleaseRequest(tag=opts.tag, keys=tuple(service_keys("all")), build=True,
                                                        migrate=env.migrate_on_release, app_dir=app_dir,
                                                        timeout=opts.timeout))
            except CannotBuild as e:
                raise UserError(f"{e.why}, and ECR has no image {opts.tag} to release: {_way_on(e, opts, app_dir)}; "
                                "nothing was built or deployed") from None
            if plan.build:
                _require_checkout(app_dir, opts.sha)
        describe_release(ctx, plan)
        return result_of(apply_release(ctx, plan))


def _way_on(refusal: CannotBuild, opts: DeliverOptions, app_dir: str) -> str:
    """What deliver itself can do instead (it has no --no-build): build from a checkout at the commit, or release
    the image once it is in ECR under its tag, which deliver does without building."""
    again = f"`invoke deliver --env {opts.env} --sha {opts.sha}`"
    if refusal.no_dockerfile:
        return (f"check the application out at {opts.sha[:12]} and pass its directory, `invoke deliver --env "
                f"{opts.env} --sha {opts.sha} --app-dir DIR` (now {app_dir})")
    return (f"install docker with buildx, or push the image built from {opts.sha[:12]} to ECR under the tag "
            f"{opts.tag} and run {again} again: it releases an image ECR has without building")


def _require_checkout(app_dir: str, sha: str) -> None:
    """The image is built from exactly the commit being delivered, never from whatever the directory holds."""
    try:
        head = subprocess.run(["git", "-C", app_dir, "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise UserError(f"{app_dir} is not a git checkout: check the application out at {sha} there") from None
    if head.lower() != sha:
        raise UserError(f"{app_dir} is at {head[:12]}, not at the commit to deliver {sha[:12]}: check out {sha}")
