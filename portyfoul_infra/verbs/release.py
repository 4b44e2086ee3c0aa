"""release, rollback and release-status: the steps in order, printing through a Console."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .. import contract as out
from ..aws import history
from ..aws.clients import ClientSource, print_header
from ..context import Clock, Sleep
from ..config import Environment
from ..console import Console, elapsed
from ..contract import SERVICES, image_tag, service_keys, service_names
from ..aws.deployments import State, Target, deployment_id_for, in_progress, short_td, watch_deployments
from ..errors import UserError
from ..aws.images import Runner, build_image, docker_available, find_image, push_image
from ..options import ReleaseOptions, RollbackOptions
from ..outcomes import JOURNAL, Outcome
from ..aws.release import (
    check_secrets, deploy, diagnose, load_context, prune_revisions, register_revision, roll_back, run_migration,
)
from ..aws.stacks import require_stack

RECENT_RELEASES = 5
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def default_tag(app_dir: str) -> str:
    """The application repository's short SHA (8 characters, as in the plan)."""
    try:
        return subprocess.run(["git", "-C", app_dir, "rev-parse", "--short=8", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise UserError(f"no --tag given and {app_dir} is not a git checkout to take the short SHA from") from None


def release(aws: ClientSource, env: Environment, console: Console, opts: ReleaseOptions, runner: Runner,
            clock: Clock, sleep: Sleep) -> Outcome:
    start = clock()
    keys = service_keys(opts.service)
    app_dir = opts.app_dir or env.app_dir
    tag = opts.tag or default_tag(app_dir)
    if not _TAG.fullmatch(tag) or tag == "latest":
        shown = tag if len(tag) <= 40 else tag[:40] + f"... ({len(tag)} characters)"
        raise UserError(f"tag {shown!r} is not a release tag: use up to 128 letters, digits, . _ - "
                        "(and not `latest`, which moves)")
    migrate = opts.migrate or env.migrate_on_release
    if migrate and not env.migration_command:
        raise UserError(f"--migrate needs migration_command in the {env.name} config")
    if migrate and "web" not in keys:
        raise UserError("--migrate needs the web service in the release: the migration runs from its new revision")

    # 1. preflight: nothing changes until all of it passes
    print_header(aws, env, console)
    ctx = load_context(aws, env, keys)
    for w in check_secrets(aws, ctx):
        console.warn(w)
    if not opts.no_build:
        if not (Path(app_dir) / "Dockerfile").is_file():
            raise UserError(f"no Dockerfile in {app_dir}; pass --app-dir or --no-build")
        if not docker_available(runner):
            raise UserError("docker with buildx is not available; install it, or deploy an image already in ECR with --no-build")
    ecr = aws.client("ecr")
    digest = find_image(ecr, ctx.repository_name, tag)
    if opts.no_build and digest is None:
        raise UserError(f"tag {tag} is not in ECR repository {ctx.repository_name}; build and push it (drop --no-build)")
    if not opts.no_build and digest is not None:
        raise UserError(f"tag {tag} is already in ECR ({digest[:19]}) and release tags are immutable: "
                        "deploy it with --no-build, or build a new tag")
    image = f"{ctx.repository_uri}:{tag}"
    console.line(f"release {tag} to {', '.join(keys)} · platform {ctx.platform} · "
                 f"{'existing image ' + digest[:19] if digest else 'build and push'} · migrate {'yes' if migrate else 'no'}")
    for s in ctx.services:
        console.line(f"  {s.ref.key:<7} {s.name}: {short_td(s.task_definition_arn)} ({image_tag(s.image)}) -> {tag}")
    console.line(f"  rollout: each old web task leaves within {env.rollout_step_seconds} s of its replacement "
                 f"passing health checks; alarms and the circuit breaker roll back a bad release")
    if opts.dry_run:
        console.ok("dry run: preflight passed; nothing built, registered or deployed")
        return Outcome.DRY_RUN

    # 2. build and push
    if not opts.no_build:
        build_image(ctx, tag, app_dir, runner, console)
        if opts.build_only:
            console.ok(f"built {image} for {ctx.platform}; nothing pushed or deployed (--build-only)")
            return Outcome.APPLIED
        push_image(aws, ctx, tag, runner, console)
        JOURNAL.record(f"pushed {image}", f"`invoke release --tag {tag} --no-build --env {env.name}` "
                       "deploys the pushed image")
        digest = find_image(ecr, ctx.repository_name, tag)
        if digest is None:
            raise UserError(f"pushed {image}, but ECR does not list it; nothing was deployed")
    console.line(f"image {image} {digest}")

    # 3. register new revisions: the live ones, copied whole, with only the image swapped
    ecs = aws.client("ecs")
    new_arns: dict[str, str] = {}
    for s in ctx.services:
        new_arns[s.ref.key], diff = register_revision(ecs, s, image)
        JOURNAL.record(f"registered {short_td(new_arns[s.ref.key])} (inactive until deployed)",
                       f"`invoke release-status --env {env.name}`")
        for line in diff:
            console.line(line)

    # 4. migrate, after a snapshot of the database
    if migrate:
        if opts.no_snapshot:
            console.warn("--no-snapshot: migrating without a database snapshot first")
        else:
            from .database import take_snapshot
            stack = require_stack(aws.client("cloudformation"), env.stack_name, env.name)
            name = take_snapshot(aws, env, stack, console, clock, sleep, opts.timeout, opts.poll_seconds)
            if name is None:
                console.error("the snapshot before the migration did not become available: nothing was migrated "
                              "or deployed (`invoke db-snapshots`)")
                return Outcome.NEEDS_HUMAN
            console.line(f"snapshot {name} taken before migrating")
        web = next(s for s in ctx.services if s.ref.key == "web")
        if not run_migration(aws, ctx, web, new_arns["web"], env.migration_command, console, clock, sleep,
                             timeout=opts.timeout, poll=opts.poll_seconds):
            console.line("nothing was deployed: the services still run their previous revisions")
            return Outcome.ROLLED_BACK

    # 5. deploy both together; 6. watch with one deadline
    ssm = aws.client("ssm")
    record = history.start(ssm, env, "release", tag, digest, {
        s.ref.key: history.ServiceChange(previous=s.task_definition_arn, deployed=new_arns[s.ref.key])
        for s in ctx.services})
    targets = deploy(ecs, ctx, new_arns, f"`invoke release-status --env {env.name}`, then "
                     f"`invoke rollback --env {env.name}` if needed")
    interrupted = False
    try:
        watch_deployments(ecs, ctx.cluster, targets, console, clock, sleep, opts.timeout, opts.poll_seconds)
    except KeyboardInterrupt:
        interrupted = True
        for t in targets:
            if t.state is State.IN_PROGRESS:
                t.state, t.reason = State.FAILED, "interrupted (Ctrl-C)"
    if all(t.state is State.SUCCEEDED for t in targets):
        history.finish(ssm, env, record, history.SUCCEEDED)
        return _succeeded(aws, env, ctx, targets, tag, digest, console, clock() - start)
    failure = "; ".join(f"{t.key}: {t.reason}" for t in targets if t.state is not State.SUCCEEDED)

    # 7. failure, timeout or Ctrl-C: diagnose, roll every touched service back, watch that
    for t in targets:
        if t.state is not State.SUCCEEDED:
            console.error(f"{t.key}: {t.state.value}: {t.reason}")
    diagnose(aws, ctx, [t for t in targets if t.state is not State.SUCCEEDED], console)
    try:
        back = roll_back(aws, ctx, targets, console, clock, sleep, opts.timeout, opts.poll_seconds)
    except KeyboardInterrupt:
        history.finish(ssm, env, record, history.FAILED, f"{failure}; rollback interrupted")
        console.error("interrupted during rollback: check `invoke release-status`")
        return Outcome.NEEDS_HUMAN
    stuck = [b for b in back if b.state is not State.SUCCEEDED]
    history.finish(ssm, env, record, history.FAILED, failure + ("; rollback failed" if stuck else "; rolled back"))
    if stuck:
        for b in stuck:
            console.error(f"{b.key}: rollback to {short_td(b.task_definition)} {b.state.value}: {b.reason}")
        console.error("rollback failed: needs a human (`invoke release-status`, `invoke logs`)")
        return Outcome.NEEDS_HUMAN
    console.line("rolled back: " + ", ".join(f"{b.key} on {short_td(b.task_definition)}" for b in back))
    if interrupted:
        console.line("release interrupted and rolled back")
    return Outcome.ROLLED_BACK


def _succeeded(aws, env, ctx, targets: list[Target], tag, digest, console: Console, seconds: float) -> Outcome:
    ecs = aws.client("ecs")
    for s in ctx.services:
        t = next(t for t in targets if t.key == s.ref.key)
        family = s.task_definition["family"]
        removed = prune_revisions(ecs, family, env.keep_task_definition_revisions, {t.task_definition, t.previous})
        if removed:
            console.line(f"{s.ref.key}: deregistered {len(removed)} revision(s) beyond the newest "
                         f"{env.keep_task_definition_revisions}")
    console.ok(f"released {tag} ({digest[:19]}) in {elapsed(seconds)}")
    idle = [s.ref.key for s in ctx.services if s.desired_count == 0]
    if idle:
        console.warn(f"{', '.join(idle)} run no tasks yet (the stack is bootstrapping): "
                     f"run `invoke stack-update --env {env.name}` to start them on this release")
    for t in targets:
        console.line(f"  {t.key:<7} {short_td(t.task_definition)} ({elapsed(t.seconds)}); rollback target "
                     f"{short_td(t.previous)} kept ACTIVE")
    return Outcome.APPLIED


def rollback(aws: ClientSource, env: Environment, console: Console, opts: RollbackOptions, clock: Clock,
             sleep: Sleep) -> Outcome:
    """Back to the newest release that succeeded and differs from what runs now (or --to TAG), watched."""
    keys = service_keys(opts.service)
    print_header(aws, env, console)
    ecs, ssm = aws.client("ecs"), aws.client("ssm")
    stack = require_stack(aws.client("cloudformation"), env.stack_name, env.name)
    cluster = stack.outputs[out.CLUSTER_NAME]
    names = service_names(stack.outputs, keys)
    described = {s["serviceName"]: s for s in ecs.describe_services(cluster=cluster, services=list(names.values()))["services"]}
    records = history.load(ssm, env)
    if not records:
        raise UserError(f"no release history for {env.name} yet ({history.parameter_name(env)}): rollback goes to the "
                        "last release that succeeded, and none is recorded; release a known-good tag instead")
    plan = []
    for key in keys:
        svc = described.get(names[key])
        if svc is None:
            raise UserError(f"service {names[key] or key} is not in {cluster}")
        busy = in_progress(svc)
        if busy:
            raise UserError(f"{key}: a deployment is in progress ({busy}); wait for it (`invoke release-status "
                            f"--env {env.name}`), then run rollback again")
        running = svc["taskDefinition"]
        td = ecs.describe_task_definition(taskDefinition=running)["taskDefinition"]
        running_tag = image_tag(next(c["image"] for c in td["containerDefinitions"] if c["name"] == SERVICES[key].container))
        target = history.last_good(records, key, running, running_tag, opts.to)
        if target is None:
            wanted = f"no release of {opts.to[:40]} that succeeded" if opts.to else \
                "nothing to roll back to: no earlier release that succeeded and differs from what runs now"
            raise UserError(f"{key}: {wanted} (it runs {running_tag}); the history holds: "
                            + (", ".join(sorted({f"{r.tag} ({r.outcome})" for r in records if key in r.services})) or "none"))
        deployed = target.services[key].deployed
        if opts.to and deployed == running:
            raise UserError(f"{key} already runs {opts.to[:40]} ({short_td(running)})")
        status = ecs.describe_task_definition(taskDefinition=deployed)["taskDefinition"].get("status")
        if status != "ACTIVE":
            raise UserError(f"{key}: {short_td(deployed)} (release {target.tag}) is {status}; it can no longer run")
        plan.append((key, svc["serviceName"], running, running_tag, target))
    for key, _, running, running_tag, target in plan:
        console.line(f"{key}: {running_tag} ({short_td(running)}) -> {target.tag} "
                     f"({short_td(target.services[key].deployed)}), released {target.at.replace('T', ' ')}")
    record = history.start(ssm, env, "rollback", plan[0][4].tag, plan[0][4].digest, {
        key: history.ServiceChange(previous=running, deployed=target.services[key].deployed)
        for key, _, running, _, target in plan})
    watched = []
    for key, name, running, _, target in plan:
        to = target.services[key].deployed
        updated = ecs.update_service(cluster=cluster, service=name, taskDefinition=to)["service"]
        JOURNAL.record(f"started rolling {key} back to {short_td(to)}", f"`invoke release-status --env {env.name}`")
        watched.append(Target(key, name, to, running, deployment_id_for(updated, to)))
    watch_deployments(ecs, cluster, watched, console, clock, sleep, opts.timeout, opts.poll_seconds, label="rollback")
    if all(t.state is State.SUCCEEDED for t in watched):
        history.finish(ssm, env, record, history.SUCCEEDED)
        console.ok("rolled back: " + ", ".join(f"{t.key} on {target.tag} ({short_td(t.task_definition)})"
                                              for t, (_, _, _, _, target) in zip(watched, plan)))
        return Outcome.APPLIED
    failed = [t for t in watched if t.state is not State.SUCCEEDED]
    for t in failed:
        console.error(f"{t.key}: {t.state.value}: {t.reason}")
    history.finish(ssm, env, record, history.FAILED, "; ".join(f"{t.key}: {t.reason}" for t in failed))
    return Outcome.NEEDS_HUMAN


def release_status(aws: ClientSource, env: Environment, console: Console) -> Outcome:
    print_header(aws, env, console)
    stack = require_stack(aws.client("cloudformation"), env.stack_name, env.name)
    cluster = stack.outputs[out.CLUSTER_NAME]
    ecs = aws.client("ecs")
    names_by_key = service_names(stack.outputs)
    rows = []
    for svc in ecs.describe_services(cluster=cluster, services=list(names_by_key.values()))["services"]:
        td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
        key = next(k for k, name in names_by_key.items() if name == svc["serviceName"])
        primary = next((d for d in svc.get("deployments", []) if d.get("status") == "PRIMARY"), {})
        image = next(c["image"] for c in td["containerDefinitions"] if c["name"] == SERVICES[key].container)
        rows.append((key, image_tag(image), f"{td['family']}:{td['revision']}", primary.get("rolloutState", "?"),
                     svc.get("runningCount"), svc.get("desiredCount"), svc.get("pendingCount"),
                     len(svc.get("deployments", []))))
    console.table(("service", "tag", "revision", "rollout", "running", "desired", "pending", "deployments"), rows)
    records = history.load(aws.client("ssm"), env)[:RECENT_RELEASES]
    if records:
        console.heading("recent releases (newest first)")
        console.table(("at (UTC)", "kind", "tag", "revisions", "outcome"), [
            (r.at.replace("T", " ").rstrip("Z"), r.kind, r.tag,
             ", ".join(f"{k} {short_td(c.deployed)}" for k, c in sorted(r.services.items())),
             r.outcome + (f": {r.note}" if r.note and r.outcome != history.SUCCEEDED else "")) for r in records])
    else:
        console.line(f"no release history yet ({history.parameter_name(env)})")
    return Outcome.NO_CHANGES
