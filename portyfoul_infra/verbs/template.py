"""build-template and lint: the task bodies, printing through a Console."""

from __future__ import annotations

from ..console import Console
from ..contract import INLINE_TEMPLATE_LIMIT
from ..artifacts.generated import REPO_ROOT, compare, ensure_fresh, refresh
from ..options import BuildOptions
from ..outcomes import Outcome


def _rel(path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def build_template(console: Console, opts: BuildOptions) -> Outcome:
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


def lint(console: Console) -> Outcome:
    from ..config import ENVIRONMENTS
    from ..artifacts.lint import run_cfn_lint, run_checkov

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
