"""The generated/ directory: write it, check it, and refuse to deploy from a stale one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

REPO_ROOT = Path(__file__).resolve().parent.parent


def generated_dir() -> Path:
    """generated/ beside the package; PORTYFOUL_GENERATED_DIR overrides (tests, CI)."""
    return Path(os.environ.get("PORTYFOUL_GENERATED_DIR") or REPO_ROOT / "generated")


@dataclass(frozen=True)
class BuildReport:
    directory: Path
    template_path: Path
    size: int
    deploy_size: int
    resource_count: int
    content_hash: str
    changed: tuple[str, ...]   # written (build) or stale (check)
    deploy_body: str = ""      # compact JSON, what stack-update sends


def build(directory: Path | None = None, check: bool = False) -> BuildReport:
    """Render everything build-template owns; write it, or with check=True only compare."""
    from . import build as b  # troposphere is imported only by tasks that build

    directory = directory or generated_dir()
    rendered = b.render()
    files = b.expected_files(rendered)
    changed = b.stale_files(directory, files) if check else b.write_files(directory, files)
    return BuildReport(
        directory=directory,
        template_path=directory / b.TEMPLATE_FILE,
        size=rendered.size,
        deploy_size=rendered.deploy_size,
        resource_count=rendered.resource_count,
        content_hash=rendered.content_hash,
        changed=tuple(changed),
        deploy_body=rendered.compact,
    )


def ensure_fresh(directory: Path | None = None) -> BuildReport:
    """The check stack-update and release run first: stale generated/ is a refusal."""
    report = build(directory, check=True)
    if report.changed:
        raise UserError(
            f"generated/ is out of date with the code ({', '.join(report.changed)}); "
            "run `invoke build-template`, review the diff, commit it"
        )
    return report
