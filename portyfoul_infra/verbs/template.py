"""build-template, lint and cost: what is made from the template, and what it costs."""

from __future__ import annotations

import json

from .. import __version__
from ..artifacts.cost import PLAN_RANGE, estimate, options, read_template, total
from ..artifacts.generated import REPO_ROOT, TEMPLATE_FILE, compare, ensure_fresh, generated_dir, refresh
from ..artifacts.pricing import PRICES_DATE, REGION
from ..aws.clients import json_document
from ..config import ENVIRONMENTS
from ..context import Ctx
from ..contract import INLINE_TEMPLATE_LIMIT, METADATA_KEY
from ..options import BuildOptions, NoOptions, ReadOptions, VersionOptions
from ..outcomes import Outcome


def _rel(path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def build_template(ctx: Ctx, opts: BuildOptions) -> Outcome:
    console = ctx.console
    if opts.check:
        report = compare()
        if report.changed:
            console.error(
                f"generated/ is out of date: {', '.join(report.changed)}; run `invoke build-template` and commit the diff")
            return Outcome.REFUSED
        console.ok(f"generated/ is up to date ({report.resource_count} resources, {report.content_hash[:19]})")
        return Outcome.NO_CHANGES
    report = refresh()
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
    return Outcome.APPLIED if report.changed else Outcome.NO_CHANGES


def lint(ctx: Ctx, opts: NoOptions) -> Outcome:
    from ..artifacts.lint import run_cfn_lint, run_checkov

    console = ctx.console
    report = ensure_fresh()
    clean = True
    for result in (run_cfn_lint(report.template_path, ENVIRONMENTS["dev"].region), run_checkov(report.template_path)):
        if result.clean:
            console.ok(f"{result.tool}: {result.summary}")
        else:
            clean = False
            console.error(f"{result.tool}: {result.summary}")
            for f in result.findings:
                console.line(f"  {f}")
    return Outcome.NO_CHANGES if clean else Outcome.REFUSED


def cost(ctx: Ctx, opts: ReadOptions) -> Outcome:
    """The estimate for the environment from the generated template, line by line, with the levers; as one
    document (schema portyfoul.cost/1) with --json. Offline: no AWS call, so no account in it."""
    env, console = ctx.env, ctx.console
    template = read_template(generated_dir())
    lines = estimate(template, env)
    groups: dict[str, float] = {}
    for l in lines:
        key = "NAT gateway" if l.group == "NAT gateway" or (l.group == "public IPv4") else l.group
        groups[key] = groups.get(key, 0) + l.monthly
    lever, amount = max(groups.items(), key=lambda kv: kv[1])
    dev = {(l.group, l.item): l.monthly for l in estimate(template, ENVIRONMENTS["dev"])}
    differences = [(l, round(l.monthly - dev.get((l.group, l.item), 0), 2)) for l in lines] if env.name != "dev" else []
    features = options(template, env)
    if opts.json:
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
        console.json(data)
        return Outcome.NO_CHANGES
    console.heading(f"monthly estimate for {env.name} ({REGION}, on-demand prices of {PRICES_DATE}, "
                    "see portyfoul_infra/pricing.py)")
    console.table(("group", "item", "quantity", "USD/month"),
                  [(l.group, l.item, l.quantity, f"{l.monthly:9.2f}") for l in lines]
                  + [("total", "", "", f"{total(lines):9.2f}")])
    if env.name == "dev":
        low, high = PLAN_RANGE
        console.line(f"  the plan estimates ${low}-{high} a month for dev")
    console.line(f"biggest lever: the {lever} (${amount:.2f}, {100 * amount / total(lines):.0f}%)"
                 + (": the private tasks need it to reach ECR, Secrets Manager and the price APIs; running "
                    "them in public subnets with public IPs removes it (each task then needs a public IPv4, $3.65 a month), at the cost of exposing the tasks"
                    if lever == "NAT gateway" else ""))
    console.line("optional features (what each adds):")
    for label, delta in features:
        console.line(f"  {label:<62}{delta:+8.2f}")
    if differences:
        console.line("differences from dev:")
        for l, delta in differences:
            if delta:
                console.line(f"  {l.group + ' ' + l.item:<62}{delta:+8.2f}")
    return Outcome.NO_CHANGES


def version(ctx: Ctx, opts: VersionOptions) -> Outcome:
    """This tool's version and the template's (version and content hash) in generated/; offline. One document
    (schema portyfoul.version/1) with --json."""
    import platform

    import invoke

    path = generated_dir() / TEMPLATE_FILE
    try:
        meta = json.loads(path.read_text()).get("Metadata", {}).get(METADATA_KEY, {})
    except (OSError, ValueError):
        meta = {}
    data = {"schema": "portyfoul.version/1", "version": __version__,
            "template": {"path": _rel(path), "version": meta.get("Version"), "content_hash": meta.get("ContentHash")},
            "python": platform.python_version(), "invoke": invoke.__version__}
    if opts.json:
        ctx.console.json(data)
        return Outcome.NO_CHANGES
    ctx.console.line(f"portyfoul-infra {__version__}")
    if meta:
        ctx.console.line(f"template        {meta.get('Version', '?')} {meta.get('ContentHash', '?')} ({_rel(path)}; "
                         "`invoke build-template --check` says whether it matches the code)")
    else:
        ctx.console.line(f"template        none in {_rel(path)}: `invoke build-template` writes it")
    ctx.console.line(f"python {data['python']}, invoke {data['invoke']}")
    return Outcome.NO_CHANGES
