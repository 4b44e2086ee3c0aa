"""release, rollback and release-status: the steps in order, printing through a Console."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from . import contract as out
from .aws import ClientSource, Clock, Sleep, print_header
from .config import Environment
from .console import Console, elapsed
from .contract import SERVICES, image_tag, service_keys, service_names
from .deployments import State, Target, deployment_id_for, short_td, watch_deployments
from .errors import UserError
from .images import Runner, build_image, docker_available, find_image, push_image
from .options import ReleaseOptions, RollbackOptions
from .outcomes import JOURNAL, Outcome
from .release import (
    check_secrets, deploy, diagnose, load_context, previous_revision, prune_revisions, register_revision, roll_back,
    run_migration,
)
from .stack import require_stack

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
        raise UserError(f"tag {tag!r} is not a release tag: use letters, digits, . _ - (and not `latest`, which moves)")
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
    if opts.dry_run:
        console.ok("dry run: preflight passed; nothing built, registered or deployed")
        return Outcome.DRY_RUN

    # 2. build and push
    if not opts.no_build:
        build_image(ctx, tag, app_dir, runner, console)
        if opts.build_only:
            console.ok(f"built {image} for {ctx.platform}; nothing pushed or deployed (--build-only)")
            return Outcome.APPLIED
        JOURNAL.record(f"pushed {image}", f"`invoke release --tag {tag} --no-build --env {env.name}` "
                       "deploys the pushed image")
        push_image(aws, ctx, tag, runner, console)
        digest = find_image(ecr, ctx.repository_name, tag)
        if digest is None:
            raise UserError(f"pushed {image}, but ECR does not list it; nothing was deployed")
    console.line(f"image {image} {digest}")

    # 3. register new revisions: the live ones, copied whole, with only the image swapped
    ecs = aws.client("ecs")
    new_arns: dict[str, str] = {}
    JOURNAL.record("registered new task definition revisions (inactive until deployed)",
                   f"`invoke release-status --env {env.name}`")
    for s in ctx.services:
        new_arns[s.ref.key], diff = register_revision(ecs, s, image)
        for line in diff:
            console.line(line)

    # 4. migrate
    if migrate:
        web = next(s for s in ctx.services if s.ref.key == "web")
        if not run_migration(aws, ctx, web, new_arns["web"], env.migration_command, console, clock, sleep,
                             timeout=opts.timeout, poll=opts.poll_seconds):
            console.line("nothing was deployed: the services still run their previous revisions")
            return Outcome.ROLLED_BACK

    # 5. deploy both together; 6. watch with one deadline
    JOURNAL.record(f"started deploying {tag} to {', '.join(keys)}",
                   f"`invoke release-status --env {env.name}`, then `invoke rollback --env {env.name}` if needed")
    targets = deploy(ecs, ctx, new_arns)
    interrupted = False
    try:
        watch_deployments(ecs, ctx.cluster, targets, console, clock, sleep, opts.timeout, opts.poll_seconds)
    except KeyboardInterrupt:
        interrupted = True
        for t in targets:
            if t.state is State.IN_PROGRESS:
                t.state, t.reason = State.FAILED, "interrupted (Ctrl-C)"
    if all(t.state is State.SUCCEEDED for t in targets):
        return _succeeded(aws, env, ctx, targets, tag, digest, console, clock() - start)

    # 7. failure, timeout or Ctrl-C: diagnose, roll every touched service back, watch that
    for t in targets:
        if t.state is not State.SUCCEEDED:
            console.error(f"{t.key}: {t.state.value}: {t.reason}")
    diagnose(aws, ctx, [t for t in targets if t.state is not State.SUCCEEDED], console)
    try:
        back = roll_back(aws, ctx, targets, console, clock, sleep, opts.timeout, opts.poll_seconds)
    except KeyboardInterrupt:
        console.error("interrupted during rollback: check `invoke release-status`")
        return Outcome.NEEDS_HUMAN
    stuck = [b for b in back if b.state is not State.SUCCEEDED]
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
    keys = service_keys(opts.service)
    print_header(aws, env, console)
    ecs = aws.client("ecs")
    stack = require_stack(aws.client("cloudformation"), env.stack_name, env.name)
    cluster = stack.outputs[out.CLUSTER_NAME]
    names = list(service_names(stack.outputs, keys).values())
    targets = []
    for key, svc in zip(keys, ecs.describe_services(cluster=cluster, services=names)["services"]):
        current = svc["taskDefinition"]
        previous = previous_revision(ecs, current)
        if previous is None:
            raise UserError(f"{key}: no ACTIVE revision older than {short_td(current)} to roll back to")
        targets.append((key, svc["serviceName"], current, previous))
    watched = []
    JOURNAL.record(f"started rolling back {', '.join(keys)}", f"`invoke release-status --env {env.name}`")
    for key, name, current, previous in targets:
        console.line(f"{key}: {short_td(current)} -> {short_td(previous)}")
        updated = ecs.update_service(cluster=cluster, service=name, taskDefinition=previous)["service"]
        watched.append(Target(key, name, previous, current, deployment_id_for(updated, previous)))
    watch_deployments(ecs, cluster, watched, console, clock, sleep, opts.timeout, opts.poll_seconds, label="rollback")
    if all(t.state is State.SUCCEEDED for t in watched):
        console.ok("rolled back: " + ", ".join(f"{t.key} on {short_td(t.task_definition)}" for t in watched))
        return Outcome.APPLIED
    for t in watched:
        if t.state is not State.SUCCEEDED:
            console.error(f"{t.key}: {t.state.value}: {t.reason}")
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
    return Outcome.NO_CHANGES
