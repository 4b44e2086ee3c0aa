"""cfn-lint and checkov over the generated template, fully offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .generated import REPO_ROOT


@dataclass(frozen=True)
class LintResult:
    tool: str
    findings: tuple[str, ...]
    summary: str

    @property
    def clean(self) -> bool:
        return not self.findings


def run_cfn_lint(template: Path, region: str) -> LintResult:
    # --include-checks I adds the informational checks (stateful resource policies among them).
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--include-checks", "I", "--regions", region, "--format", "parseable",
         "--", str(template)],
        capture_output=True, text=True,
    )
    if proc.returncode not in (0, 2, 4, 6, 8, 10, 12, 14):  # bit flags: errors, warnings, informational
        raise UserError(f"cfn-lint could not run: {proc.stderr.strip() or proc.stdout.strip()}")
    findings = tuple(line for line in proc.stdout.splitlines() if line.strip())
    return LintResult("cfn-lint", findings, f"{len(findings)} findings")


def checkov_executable() -> str:
    """CHECKOV env var, the project's tool venv (.tools/checkov), or checkov on PATH."""
    candidates = [os.environ.get("CHECKOV"), str(REPO_ROOT / ".tools/checkov/bin/checkov"), shutil.which("checkov")]
    for c in candidates:
        if c and Path(c).exists():
            return c
    raise UserError("checkov is not installed; run ./go (it installs checkov into .tools/checkov)")


def run_checkov(template: Path) -> LintResult:
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
    proc = subprocess.run(
        [checkov_executable(), "-f", str(template), "--framework", "cloudformation", "--skip-download",
         "--quiet", "--compact", "-o", "json"],
        capture_output=True, text=True, env=env,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise UserError(f"checkov could not run: {(proc.stderr or proc.stdout).strip()[:300]}") from None
    if isinstance(report, list):
        report = report[0]
    results = report.get("results", {})
    failed = tuple(
        f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in results.get("failed_checks", [])
    )
    s = report.get("summary", {})
    return LintResult(
        "checkov", failed,
        f"{s.get('passed', 0)} passed, {s.get('failed', 0)} failed, {s.get('skipped', 0)} suppressed with reasons",
    )
