"""build-template, lint and cost: what is made from the template, and what it costs."""

from __future__ import annotations

import json

from .. import __version__
from ..artifacts.cost import PLAN_RANGE, estimate, options, read_template, total
from ..artifacts.generated import REPO_ROOT, TEMPLATE_FILE, compare, ensure_fresh, generated_dir, refresh
from ..artifacts.pricing import PRICES_DATE, REGION
from ..aws.clients import json_document
from ..config import ENVIRONMENTS
from ..console import Console
from ..context import Ctx
from ..contract import INLINE_TEMPLATE_LIMIT, METADATA_KEY
from ..options import BuildOptions, NoOptions, ReadOptions, VersionOptions
from ..outcomes import Outcome, Result
from . import present


def _rel(path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def build_template(ctx: Ctx, opts: BuildOptions) -> Result:
    console = ctx.console
    if opts.check:
        report = compare(ctx.generated)
        if report.changed:
            console.error(
                f"generated/ is out of date: {', '.join(report.changed)}; run `invoke build-template` and commit the diff")
            return Result(Outcome.REFUSED)
        console.ok(f"generated/ is up to date ({report.resource_count} resources, {report.content_hash[:19]})")
        return Result(Outcome.NO_CHANGES)
    report = refresh(ctx.generated)
    console.line(
        f"{_rel(report.template_path)}: {report.size:,} bytes, {report.resource_count} resources, {report.content_hash[:19]}")
    console.line(f"deployed body (compact JSON): {report.deploy_size:,} of {INLINE_TEMPLATE_LIMIT:,} bytes allowed inline")
    if report.deploy_size > INLINE_TEMPLATE_LIMIT:
        console.warn(f"the template exceeds CloudFormation's {INLINE_TEMPLATE_LIMIT:,}-byte inline limit; "
                     "stack-update will upload it to the template bucket")
    for w in report.warnings:
        console.warn(w)
    if report.changed:
        for rel in report.changed:
            console.line(f"  wrote {_rel(report.directory / rel)}")
    else:
        console.line("  no changes")
    return Result(Outcome.APPLIED if report.changed else Outcome.NO_CHANGES)


def lint(ctx: Ctx, opts: NoOptions) -> Result:
    from ..artifacts.lint import run_cfn_lint, run_checkov

    console = ctx.console
    report = ensure_fresh(ctx.generated)
    clean = True
    for result in (run_cfn_lint(report.template_path, ENVIRONMENTS["dev"].region), run_checkov(report.template_path)):
        if result.clean:
            console.ok(f"{result.tool}: {result.summary}")
        else:
            clean = False
            console.error(f"{result.tool}: {result.summary}")
            for f in result.findings:
                console.line(f"  {f}")
    return Result(Outcome.NO_CHANGES if clean else Outcome.REFUSED)


def cost(ctx: Ctx, opts: ReadOptions) -> Result:
    """The estimate for the environment from the generated template, line by line, with the levers; as one
    document (schema portyfoul.cost/1) with --json. Offline: no AWS call, so no account in it."""
    env = ctx.env
    template = read_template(ctx.generated or generated_dir())
    lines = estimate(template, env)
    groups: dict[str, float] = {}
    for l in lines:
        key = "NAT gateway" if l.group == "NAT gateway" or (l.group == "public IPv4") else l.group
        groups[key] = groups.get(key, 0) + l.monthly
    lever, amount = max(groups.items(), key=lambda kv: kv[1])
    dev = {(l.group, l.item): l.monthly for l in estimate(template, ENVIRONMENTS["dev"])}
    differences = [(l, round(l.monthly - dev.get((l.group, l.item), 0), 2)) for l in lines] if env.name != "dev" else []
    features = options(template, env)
    data = json_document(ctx, "cost", None)
    data.update({
        "currency": "USD", "prices_region": REGION, "prices_date": PRICES_DATE,
        "lines": [{"group": l.group, "item": l.item, "quantity": l.quantity, "monthly": round(l.monthly, 2)}
                  for l in lines],
        "total_monthly": round(total(lines), 2),
        "plan_range": list(PLAN_RANGE) if env.name == "dev" else None,
        "biggest_lever": {"group": lever, "monthly": round(amount, 2), "share": round(amount / total(lines), 3)},
        "options": [{"feature": label, "monthly_delta": round(delta, 2)} for label, delta in features],
        "differences_from_dev": [{"group": l.group, "item": l.item, "monthly_delta": delta}
                                 for l, delta in differences if delta] if env.name != "dev" else None,
    })
    return present(ctx, opts.json, Outcome.NO_CHANGES, data, _render_cost)


def _render_cost(console: Console, data: dict) -> None:
    lever = data["biggest_lever"]
    console.heading(f"monthly estimate for {data['environment']} ({data['prices_region']}, on-demand prices of "
                    f"{data['prices_date']}, see portyfoul_infra/artifacts/pricing.py)")
    console.table(("group", "item", "quantity", "USD/month"),
                  [(l["group"], l["item"], l["quantity"], f"{l['monthly']:9.2f}") for l in data["lines"]]
                  + [("total", "", "", f"{data['total_monthly']:9.2f}")])
    if data["plan_range"]:
        low, high = data["plan_range"]
        console.line(f"  the plan estimates ${low}-{high} a month for dev")
    console.line(f"biggest lever: the {lever['group']} (${lever['monthly']:.2f}, {100 * lever['share']:.0f}%)"
                 + (": the private tasks need it to reach ECR, Secrets Manager and the price APIs; running "
                    "them in public subnets with public IPs removes it (each task then needs a public IPv4, $3.65 a "
                    "month), at the cost of exposing the tasks" if lever["group"] == "NAT gateway" else ""))
    console.line("optional features (what each adds):")
    for option in data["options"]:
        console.line(f"  {option['feature']:<62}{option['monthly_delta']:+8.2f}")
    if data["differences_from_dev"]:
        console.line("differences from dev:")
        for d in data["differences_from_dev"]:
            console.line(f"  {d['group'] + ' ' + d['item']:<62}{d['monthly_delta']:+8.2f}")


def version(ctx: Ctx, opts: VersionOptions) -> Result:
    """This tool's version and the template's (version and content hash) in generated/; offline. One document
    (schema portyfoul.version/1) with --json."""
    import platform

    import invoke

    path = (ctx.generated or generated_dir()) / TEMPLATE_FILE
    try:
        meta = json.loads(path.read_text()).get("Metadata", {}).get(METADATA_KEY, {})
    except (OSError, ValueError):
        meta = {}
    data = {"schema": "portyfoul.version/1", "version": __version__,
            "template": {"path": _rel(path), "version": meta.get("Version"), "content_hash": meta.get("ContentHash")},
            "python": platform.python_version(), "invoke": invoke.__version__}
    return present(ctx, opts.json, Outcome.NO_CHANGES, data, _render_version)


def _render_version(console: Console, data: dict) -> None:
    template = data["template"]
    console.line(f"portyfoul-infra {data['version']}")
    if template["content_hash"]:
        console.line(f"template        {template['version'] or '?'} {template['content_hash']} ({template['path']}; "
                     "`invoke build-template --check` says whether it matches the code)")
    else:
        console.line(f"template        none in {template['path']}: `invoke build-template` writes it")
    console.line(f"python {data['python']}, invoke {data['invoke']}")
