"""The template as a whole: golden files, determinism, metadata, --check, size."""

import json
import shutil
import subprocess
import sys

import pytest

from portyfoul_infra import __version__
from portyfoul_infra.artifacts.generated import TEMPLATE_FILE, compare, content_hash, generated_dir, render
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.contract import INLINE_TEMPLATE_LIMIT
from support import ROOT
from support.tools import need


def test_generated_directory_matches_the_code():
    """The golden files. After a reviewed change: `invoke build-template`, then commit generated/."""
    report = compare()
    assert report.changed == (), f"stale golden files {report.changed}: run `invoke build-template`"


def test_every_environment_has_a_golden_deploy_input_file():
    for name, env in ENVIRONMENTS.items():
        data = json.loads((generated_dir() / f"{name}.json").read_text())
        assert data["StackName"] == env.stack_name
        assert data["Parameters"]["Environment"] == name


def test_rendering_is_byte_for_byte_deterministic_across_processes(tmp_path):
    """Separate interpreters with different hash seeds: a set or dict order leaking into the body shows here."""
    import os
    bodies = []
    for seed in ("0", "1", "4242"):
        target = tmp_path / seed
        proc = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                               "from portyfoul_infra.artifacts.generated import render; r = render(); "
                               "Path(sys.argv[1]).write_text(r.text + r.compact)", str(target)],
                              cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        bodies.append(target.read_bytes())
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0] == (render().text + render().compact).encode()


def test_metadata_carries_version_and_a_hash_of_the_content(template):
    meta = template["Metadata"]["PortyfoulInfra"]
    assert meta["Version"] == __version__
    assert meta["ContentHash"] == content_hash(template)
    changed = json.loads(json.dumps(template))
    changed["Resources"]["Cluster"]["Properties"]["ClusterName"] = "other"
    assert content_hash(changed) != meta["ContentHash"]


def test_no_timestamps_or_secrets_in_the_body():
    text = render().text
    assert "2026-" not in text and "2025-" not in text
    assert '"SecretString": "PLACEHOLDER' in text  # the only literal secret value is the placeholder


def test_compact_deploy_body_fits_inline():
    assert render().deploy_size <= INLINE_TEMPLATE_LIMIT


def _invoke(*args, env=None):
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True, env=env)


def test_check_exits_nonzero_on_a_stale_file_and_changes_nothing(tmp_path):
    import os
    target = tmp_path / "generated"
    shutil.copytree(generated_dir(), target)
    (target / "prod.json").write_text("{}\n")
    env = {**os.environ, "PORTYFOUL_GENERATED_DIR": str(target)}
    proc = _invoke("build-template", "--check", env=env)
    assert proc.returncode == 2
    assert "out of date: prod.json" in proc.stderr
    assert (target / "prod.json").read_text() == "{}\n"

    proc = _invoke("build-template", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "prod.json" in proc.stdout
    assert _invoke("build-template", "--check", env=env).returncode == 0


def test_build_prints_path_size_and_resource_count(tmp_path):
    import os
    proc = _invoke("build-template", env={**os.environ, "PORTYFOUL_GENERATED_DIR": str(tmp_path)})
    assert proc.returncode == 0
    size = (tmp_path / TEMPLATE_FILE).stat().st_size
    assert f"{size:,} bytes" in proc.stdout
    assert "resources" in proc.stdout and f"{INLINE_TEMPLATE_LIMIT:,}" in proc.stdout


@pytest.mark.slow
def test_cfn_lint_reports_nothing():
    from portyfoul_infra.artifacts.lint import run_cfn_lint
    result = run_cfn_lint(generated_dir() / TEMPLATE_FILE, "us-east-2")
    assert result.findings == ()


@pytest.mark.slow
def test_checkov_fails_nothing_and_every_suppression_has_a_reason(resources):
    from portyfoul_infra.artifacts.lint import run_checkov
    need("checkov")
    result = run_checkov(generated_dir() / TEMPLATE_FILE)
    assert result.findings == ()
    skips = [s for r in resources.values() for s in r.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips and all(len(s["comment"]) > 30 for s in skips)
    assert len(skips) <= 16  # few: a new one is a reviewed decision
