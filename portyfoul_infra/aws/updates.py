"""Planning a stack-update: from the stack's state to the parameters and body a change set is made of.

Read-only but for the two recoveries the operator asks for by flag (deleting
a creation that rolled back, continuing a failed rollback). The parameters
come from config, except what the live system owns: the image tags the
services run (release deploys outside CloudFormation), the web service's
desired count (auto scaling), and Bootstrap (true until the first image
exists). The body is ours with what an adopted stack keeps (convergence.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..cfn_template import Resolver, canonical, written
from ..config import Environment, production_gaps
from ..context import Ctx
from ..contract import (
    BOOTSTRAP,
    IMAGE_TAG_PARAMETERS,
    REPOSITORY_NAME,
    WEB_DESIRED_COUNT,
    parameter_values,
)
from ..errors import UserError
from ..outcomes import Outcome
from . import history
from .convergence import Convergence, converge, kept_record
from .images import find_image
from .services import read_services
from .stacks import (
    OK_STATES,
    EventStream,
    StackInfo,
    deployed_template,
    metadata_of,
    pseudo_parameters,
    report_failure,
    watch,
)


@dataclass
class UpdatePlan:
    """What the change set is made of, and what the operator should read first."""
    stack: StackInfo | None
    change_set_type: str                 # CREATE | UPDATE
    parameters: dict[str, str]
    convergence: Convergence             # the body: ours, with what an adopted stack keeps
    deployed: dict                       # the deployed template ({} for a new stack)
    notes: list[str] = field(default_factory=list)
    reread: list[str] = field(default_factory=list)   # carried SSM-typed parameters whose value changed since

    @property
    def body(self) -> dict:
        return self.convergence.body

    @property
    def foreign(self) -> bool:
        """The deployed template was not built by this tool (adopt it first)."""
        return self.change_set_type == "UPDATE" and not metadata_of(self.deployed).get("ContentHash")

    def up_to_date(self, content_hash: str) -> bool:
        stack = self.stack
        if stack is None or self.change_set_type != "UPDATE":
            return False
        if stack.status not in OK_STATES or stack.status == "UPDATE_ROLLBACK_COMPLETE":
            return False
        meta = metadata_of(self.deployed)
        carried = set(self.convergence.kept_parameters)   # passed with UsePreviousValue: never a change
        ours = {k: v for k, v in stack.parameters.items() if k not in carried}
        return (meta.get("ContentHash") == content_hash and ours == self.parameters and not self.reread
                and kept_record(self.deployed) == kept_record(self.body) and not self.convergence.given_up)


def check_production_ready(env: Environment) -> None:
    """A production environment lists every missing checklist item in one refusal, before anything."""
    gaps = production_gaps(env)
    if env.production and gaps:
        raise UserError(f"environment {env.name} is production and not ready; set in portyfoul_infra/config.py: "
                        + "; ".join(gaps) + " (docs/operations.md, \"Production checklist\")")


def change_set_type_for(stack: StackInfo | None) -> tuple[str, StackInfo | None]:
    """CREATE or UPDATE for the stack as it is (read-only); a UserError for every other state, naming the
    recovery (a stack-update flag) where there is one."""
    if stack is None or stack.status == "REVIEW_IN_PROGRESS":
        return "CREATE", stack
    if stack.status in OK_STATES:
        return "UPDATE", stack
    if stack.in_progress:
        raise UserError(
            f"stack {stack.name} is {stack.status}: another operation is running. Refusing rather than waiting; "
            "follow it with `invoke stack-status` and run again when it completes")
    if stack.status == "ROLLBACK_COMPLETE":
        raise UserError(
            f"stack {stack.name} is ROLLBACK_COMPLETE: its creation failed and rolled back, so it holds no "
            "running resources (retained secrets, repository, logs and snapshots stay). Delete it and create "
            "again with `invoke stack-update --delete-failed-create`")
    if stack.status == "UPDATE_ROLLBACK_FAILED":
        raise UserError(
            f"stack {stack.name} is UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback "
            f"({stack.reason or 'see stack events'}). Fix the cause (often a resource changed outside "
            "CloudFormation), then `invoke stack-update --continue-rollback`")
    raise UserError(
        f"stack {stack.name} is {stack.status} and cannot be updated ({stack.reason or 'see its events'}); "
        "this needs a human: see the troubleshooting guide in docs/operations.md")


def recover(ctx: Ctx, stack: StackInfo | None, timeout: float, delete_failed_create: bool,
            continue_rollback: bool) -> Outcome | None:
    """The recoveries the operator asked for by flag, each only in the state it is for: delete a creation that
    rolled back (then None: go on and create), or continue a failed rollback (its outcome: the command ends
    there). None when there is nothing to recover."""
    if stack is None:
        return None
    if delete_failed_create and stack.status == "ROLLBACK_COMPLETE":
        ctx.console.line(f"deleting the failed stack {stack.name} (ROLLBACK_COMPLETE) before creating it again")
        result = _operate(ctx, stack, "delete_stack", f"started deleting the failed stack {stack.name}", timeout)
        if result.status != "DELETE_COMPLETE":
            report_failure(ctx.console, result, stack.name)
            return Outcome.NEEDS_HUMAN
        return None
    if continue_rollback and stack.status == "UPDATE_ROLLBACK_FAILED":
        ctx.console.line("continuing the failed rollback")
        result = _operate(ctx, stack, "continue_update_rollback", f"continued the rollback of {stack.name}", timeout)
        if result.status == "UPDATE_ROLLBACK_COMPLETE":
            ctx.console.ok("rollback completed: the stack is back on its previous template; run stack-update again")
            return Outcome.APPLIED
        report_failure(ctx.console, result, stack.name)
        return Outcome.NEEDS_HUMAN
    return None


def _operate(ctx: Ctx, stack: StackInfo, call: str, change: str, timeout: float):
    cfn = ctx.client("cloudformation")
    stream = EventStream(cfn, stack.stack_id)
    stream.mark()
    getattr(cfn, call)(StackName=stack.stack_id)
    ctx.record(change, "`invoke stack-status`")
    return watch(ctx, stack.stack_id, stream, timeout)


def current_image_tags(ctx: Ctx, stack: StackInfo | None) -> tuple[dict[str, str], int | None]:
    """The tags the services run now, so an infrastructure update never changes the image a service runs; and
    the web service's desired count now (None before there is one), so it never undoes auto scaling.

    Read from the services' current task definitions (release deploys outside CloudFormation); falls back to
    the stack's parameters, then `latest`. Refuses while a deployment is in progress: what it ends on is not
    known yet. A running tag whose release failed is kept all the same, and said: moving a service to another
    image is rollback's job, watched and recorded, never a side effect of a template change.
    """
    tags = {param: "latest" for param in IMAGE_TAG_PARAMETERS.values()}
    if stack is None:
        return tags, None
    for param in tags:
        if stack.parameters.get(param):
            tags[param] = stack.parameters[param]
    live = read_services(ctx, stack=stack)
    for s in live:
        if s.busy:
            raise UserError(f"service {s.name} has a deployment in progress ({s.busy}): what it ends on is not known "
                            f"yet. Wait for it (`invoke release-status --env {ctx.env.name}`), then run stack-update "
                            "again. If nothing will finish it (its release was stopped): `invoke rollback --env "
                            f"{ctx.env.name} --service {s.key} --replace-deployment`")
    released = any(not s.tag.startswith("sha256:") and s.tag != "latest" for s in live)
    records = history.load(ctx) if released else []
    for s in live:
        param = IMAGE_TAG_PARAMETERS[s.key]
        running = s.tag
        if running.startswith("sha256:"):
            continue
        if running != tags[param]:
            outcome = history.tag_outcome(records, running)
            if outcome in (history.FAILED, history.IN_PROGRESS):
                ctx.console.warn(f"{s.key} runs {running}, whose release {outcome}; keeping it (a stack-update never "
                                 f"changes the image a service runs): `invoke rollback --env {ctx.env.name} "
                                 f"--service {s.key}` moves it to its last good release")
        tags[param] = running
    _check_tags_name_their_images(ctx, stack, records, tags)
    web = live.services.get("web")
    return tags, (web.desired_count if web and web.desired_count else None)


def _check_tags_name_their_images(ctx: Ctx, stack: StackInfo, records: list, tags: dict[str, str]) -> None:
    """The task definitions name images by tag, and any stack-update may register them again: a tag that no
    longer names the image its release recorded (pushed over, or gone) would deploy another image, or none."""
    repository = stack.outputs.get(REPOSITORY_NAME)
    recorded = {}
    for tag in set(tags.values()):
        release = next((r for r in records if r.tag == tag and r.kind == "release" and r.digest), None)
        if release is not None:
            recorded[tag] = release.digest
    if not repository or not recorded:
        return
    ecr = ctx.client("ecr")
    for tag, digest in sorted(recorded.items()):
        now = find_image(ecr, repository, tag)
        if now == digest:
            continue
        what = "is no longer in ECR" if now is None else f"now names another image ({now[:19]}; released as {digest[:19]})"
        raise UserError(f"the running tag {tag} {what}: this update registers the task definitions again by tag, "
                        f"and would deploy {'nothing that can start' if now is None else 'an image nobody released'}. "
                        f"Nothing changed; push the released image back under {tag}, or release a new tag first")


def bootstrap_value(ctx: Ctx, stack: StackInfo | None, tags: dict[str, str]) -> str:
    """"true" while the released images do not exist yet, so a new stack can be created without one.

    On creation the repository is part of the stack and empty: the services
    start with no tasks. Once a release has pushed the images, the next update
    sets "false" and the services start. It never goes back to "true".
    """
    if stack is None or stack.status == "REVIEW_IN_PROGRESS":
        return "true"
    if stack.parameters.get(BOOTSTRAP, "false") != "true":
        return "false"
    repository = stack.outputs.get(REPOSITORY_NAME)
    if not repository:
        return "true"
    ecr = ctx.client("ecr")
    return "false" if all(find_image(ecr, repository, tag) for tag in set(tags.values())) else "true"


def plan_update(ctx: Ctx, stack: StackInfo | None, change_set_type: str, ours: dict, give_up: tuple[str, ...] = (),
                deployed: dict | None = None) -> UpdatePlan:
    """The parameters (config, with what the live system owns) and the body (ours, with what an adopted stack
    keeps; `give_up` names kept items to converge). `deployed` stands in for the deployed template (adopt plans
    the converging update over the live template renamed, before renaming anything)."""
    env = ctx.env
    tags, live_desired = current_image_tags(ctx, stack)
    parameters = {**parameter_values(env), **tags, BOOTSTRAP: bootstrap_value(ctx, stack, tags)}
    notes: list[str] = []
    if live_desired is not None and parameters[BOOTSTRAP] != "true":
        # After bootstrap the running count belongs to auto scaling: carry it, never reset it.
        clamped = min(max(live_desired, env.web_min_count), env.web_max_count)
        if str(clamped) != parameters[WEB_DESIRED_COUNT]:
            notes.append(f"web runs {live_desired} tasks (auto scaling): keeping {clamped}, not the configured "
                         f"{parameters[WEB_DESIRED_COUNT]}")
        parameters[WEB_DESIRED_COUNT] = str(clamped)
    if parameters[BOOTSTRAP] == "true":
        notes.append("bootstrap: no released image yet, so the services start with no tasks; "
                     "after `invoke release`, run stack-update again to start them")
    elif stack is not None and stack.parameters.get(BOOTSTRAP) == "true":
        notes.append("bootstrap ends: the released images exist, the services start now")
    if deployed is None:
        deployed = (deployed_template(ctx.client("cloudformation"), stack.stack_id)
                    if stack is not None and change_set_type == "UPDATE" else {})
    pseudo = pseudo_parameters(env, stack.stack_id if stack else "")
    convergence = converge(deployed, stack.resolved_parameters if stack else {}, ours, parameters, region=env.region,
                           pseudo=pseudo, give_up=give_up)
    plan = UpdatePlan(stack, change_set_type, parameters, convergence, deployed, notes)
    if stack is not None:
        plan.reread = _reread(ctx, stack, convergence, notes)
    return plan


def _reread(ctx: Ctx, stack: StackInfo, convergence: Convergence, notes: list[str]) -> list[str]:
    """Carried SSM-typed parameters whose value is not the one the stack last read: CloudFormation reads it
    again at this update, so what reads it changes (the guards judge how)."""
    from ..errors import error_code

    changed = []
    for name in convergence.kept_parameters:
        kind = str(convergence.body.get("Parameters", {}).get(name, {}).get("Type", ""))
        source = stack.parameters.get(name)
        if not kind.startswith("AWS::SSM::Parameter::") or not source:
            continue
        try:
            now = ctx.client("ssm").get_parameter(Name=source)["Parameter"]["Value"]
        except Exception as e:
            if error_code(e) != "ParameterNotFound":
                raise
            raise UserError(f"the stack's parameter {name} reads the SSM parameter {source}, which no longer "
                            "exists: CloudFormation could not update the stack. Put it back, then run again") from None
        if now != stack.resolved.get(name):
            notes.append(f"{name} reads the SSM parameter {source}, which now holds {now!r} (the stack last read "
                         f"{stack.resolved.get(name)!r}): this update applies it to what reads it")
            changed.append(name)
    return changed


def check_exports(ctx: Ctx, stack: StackInfo, update: UpdatePlan) -> list[str]:
    """Exports the update would remove or re-express, against the stacks that import them (ListImports).

    One in use is refused before any change set (exit 2): CloudFormation would refuse it mid-update and roll
    back ("Cannot delete export ... as it is in use by ..."). One nobody imports is returned as a warning.
    """
    from ..errors import error_code
    from .clients import collect

    if not update.deployed:
        return []
    cfn = ctx.client("cloudformation")
    live = {e["Name"]: e for e in collect(cfn.list_exports, "Exports") if e.get("ExportingStackId") == stack.stack_id}
    if not live:
        return []
    pseudo = pseudo_parameters(ctx.env, stack.stack_id)
    before = _exports_of(update.deployed, stack.resolved_parameters, pseudo)
    after = _exports_of(update.body, {**stack.resolved_parameters, **update.parameters}, pseudo)
    problems, warnings = [], []
    for name in sorted(live):
        if name in after and canonical(after[name][1]) == canonical(before.get(name, ("", after[name][1]))[1]):
            continue
        what = "removes" if name not in after else "changes the value of"
        try:
            importers = sorted(collect(cfn.list_imports, "Imports", ExportName=name))
        except Exception as e:
            if error_code(e) != "ValidationError":
                raise
            importers = []   # CloudFormation answers ValidationError for an export nobody imports
        if importers:
            problems.append(f"this update {what} the export {name}, which {', '.join(importers)} import(s): "
                            "CloudFormation refuses that mid-update and rolls back. Move those stacks off it first"
                            + (f" (or keep it: drop `--converge Outputs.{before[name][0]}`)" if name in before else ""))
        else:
            warnings.append(f"this update {what} the export {name} (no stack imports it)")
    if problems:
        raise UserError("; ".join(problems) + "; nothing changed")
    return warnings


def _exports_of(template: dict, parameters: Mapping[str, str], pseudo: Mapping[str, str]) -> dict[str, tuple]:
    """export name -> (output key, the value as written) of a template's outputs (its conditions decided)."""
    resolver = Resolver(template, parameters, pseudo)
    found = {}
    for key, output in (template.get("Outputs") or {}).items():
        if "Export" not in output or (output.get("Condition") and not resolver.condition(output["Condition"])):
            continue
        name = resolver.value(output["Export"].get("Name"))
        if isinstance(name, str):
            found[name] = (key, written(output.get("Value"), parameters, resolver.condition))
    return found
