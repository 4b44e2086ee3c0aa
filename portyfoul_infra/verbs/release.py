"""release, rollback and release-status: plan (read-only), print, apply."""

from __future__ import annotations

import re
import subprocess

from ..aws import history, lock
from ..aws.clients import json_document, print_header
from ..aws.deployments import short_td
from ..aws.lock import deployment
from ..aws.release import (
    ReleaseRequest,
    apply_release,
    apply_rollback,
    describe_release,
    plan_release,
    plan_rollback,
)
from ..aws.services import read_services
from ..console import Console
from ..context import Ctx
from ..contract import service_keys
from ..errors import UserError
from ..options import ReadOptions, ReleaseOptions, RollbackOptions
from ..outcomes import Outcome, Result
from . import present

RECENT_RELEASES = 5
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def default_tag(app_dir: str) -> str:
    """The application repository's short SHA (8 characters, as in the plan)."""
    try:
        return subprocess.run(["git", "-C", app_dir, "rev-parse", "--short=8", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise UserError(f"no --tag given and {app_dir} is not a git checkout to take the short SHA from") from None


def release_request(ctx: Ctx, opts: ReleaseOptions) -> ReleaseRequest:
    """The options as a request, refusing what makes no sense before anything is read."""
    env = ctx.env
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
    return ReleaseRequest(tag=tag, keys=tuple(keys), build=not opts.no_build, build_only=opts.build_only,
                          migrate=migrate, snapshot=not opts.no_snapshot, app_dir=app_dir, timeout=opts.timeout)


def release(ctx: Ctx, opts: ReleaseOptions) -> Result:
    request = release_request(ctx, opts)
    print_header(ctx)
    if opts.dry_run or request.build_only:  # nothing deployed: no lock
        plan = plan_release(ctx, request)
        describe_release(ctx, plan)
        if opts.dry_run:
            ctx.console.ok("dry run: preflight passed; nothing built, registered or deployed")
            return Result(Outcome.DRY_RUN)
        return Result(apply_release(ctx, plan))
    with deployment(ctx, f"release --tag {request.tag}", request.timeout):
        plan = plan_release(ctx, request)
        describe_release(ctx, plan)
        return Result(apply_release(ctx, plan))


def rollback(ctx: Ctx, opts: RollbackOptions) -> Result:
    """Back to the newest release that succeeded and differs from what runs now (or --to TAG), watched."""
    keys = service_keys(opts.service)
    print_header(ctx)
    with deployment(ctx, "rollback" + (f" --to {opts.to}" if opts.to else ""), opts.timeout,
                    wait_for_ecs=not opts.replace_deployment):
        live, steps = plan_rollback(ctx, keys, opts.to, opts.replace_deployment)
        for s in steps:
            ctx.console.line(f"{s.service.key}: {s.service.tag} ({short_td(s.service.task_definition_arn)}) -> "
                             f"{s.target.tag} ({short_td(s.to)}), released {s.target.at.replace('T', ' ')}"
                             + (f"; continues the rollback of {s.continues.at.replace('T', ' ')}, which did not "
                                f"finish ({s.continues.outcome})" if s.continues else ""))
        outcome = apply_rollback(ctx, live, steps, opts.timeout)
        if opts.replace_deployment:  # the release whose deployment it replaced is settled now, not left in progress
            for note in history.reconcile_with_ecs(ctx):
                ctx.console.warn(note)
        return Result(outcome)


def release_status(ctx: Ctx, opts: ReadOptions) -> Result:
    """What runs, the deploy lease and the recent releases as one document (schema portyfoul.release-status/1)."""
    data = json_document(ctx, "release-status", print_header(ctx))
    live = read_services(ctx)
    records = history.load(ctx)[:RECENT_RELEASES]
    data["cluster"] = live.cluster or None
    data["services"] = [{
        "service": s.key, "name": s.name, "tag": s.tag,
        "task_definition": f"{s.task_definition['family']}:{s.task_definition['revision']}",
        "task_definition_arn": s.task_definition_arn, "rollout_state": s.primary.get("rolloutState"),
        "running": s.description.get("runningCount"), "desired": s.description.get("desiredCount"),
        "pending": s.description.get("pendingCount"), "deployments": len(s.deployments)} for s in live]
    data["missing_services"] = list(live.missing)
    data["lock"] = lock.status(ctx, lock.read(ctx))
    data["history_parameter"] = history.parameter_name(ctx.env)
    data["releases"] = [{
        "id": r.id, "kind": r.kind, "tag": r.tag, "digest": r.digest or None, "at": r.at, "outcome": r.outcome,
        "note": r.note or None,
        "services": {k: {"previous": c.previous, "deployed": c.deployed} for k, c in sorted(r.services.items())},
    } for r in records]
    return present(ctx, opts.json, Outcome.NO_CHANGES, data, _render_status)


def _render_status(console: Console, data: dict) -> None:
    console.table(("service", "tag", "revision", "rollout", "running", "desired", "pending", "deployments"), [
        (s["service"], s["tag"], s["task_definition"], s["rollout_state"] or "?", s["running"], s["desired"],
         s["pending"], s["deployments"]) for s in data["services"]])
    _render_lease(console, data["environment"], data["lock"])
    if data["releases"]:
        console.heading("recent releases (newest first)")
        console.table(("at (UTC)", "kind", "tag", "revisions", "outcome"), [
            (r["at"].replace("T", " ").rstrip("Z"), r["kind"], r["tag"],
             ", ".join(f"{k} {short_td(c['deployed'])}" for k, c in r["services"].items()),
             r["outcome"] + (f": {r['note']}" if r["note"] and r["outcome"] != history.SUCCEEDED else ""))
            for r in data["releases"]])
    else:
        console.line(f"no release history yet ({data['history_parameter']})")


def _render_lease(console: Console, env: str, lease: dict | None) -> None:
    """Who holds the environment's deploy lease, until when, and what the next command does about it."""
    if lease is None:
        console.line(f"deploy lease: none (nothing deploys to {env} through this tool now)")
        return
    console.heading(f"deploy lease {lease['id']}: held by {lease['owner']}, running `{lease['command']}`")
    run = lease["run"]
    if run is not None:
        console.line(f"  GitHub Actions run {run['run_id']} attempt {run['attempt']}, job {run['job'] or '?'} "
                     f"({run['url']})")
    if lease["since"]:
        renewed = f", last renewed {lease['renewed']}" if lease["renewed"] else ""
        console.line(f"  since {lease['since']}{renewed}, until {lease['until']}")
    console.line(f"  {lease['state']}")
    console.line(f"  to break it on purpose: `{lease['force_unlock']}`")
