"""The GitHub Actions workflows: actionlint (v1.7.7, wasm, installed by ./go) finds nothing, and they do what the
README says: the application repository sends the commit its tests passed on; deploy.yml checks out exactly that
commit with a token that can read a private repository, builds it once in dev, and promotes the same digest to
staging and (behind the protected environment) prod, each only where it is configured. Every decision is an invoke
task; the YAML only calls them."""

from __future__ import annotations

import json
import math
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.contract import deploy_role_variable

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
SAMPLES = ROOT / "docs" / "app-repository"   # workflows for the application repository, not run here
ACTIONLINT = ROOT / ".tools" / "node" / "node_modules" / "@tktco" / "node-actionlint"


def actionlint(*paths: Path) -> list[str]:
    if shutil.which("node") is None or not ACTIONLINT.exists():
        pytest.skip("actionlint needs Node.js 20+ and ./go's install (.tools/node)")
    done = subprocess.run(["node", str(ROOT / "tests" / "actionlint.cjs"), str(ACTIONLINT / "build" / "index.js"), *map(str, paths)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_actionlint_finds_nothing_in_the_workflows_and_the_application_repositorys_sample():
    files = sorted(WORKFLOWS.glob("*.yml"))
    samples = sorted(SAMPLES.glob("*.yml"))
    assert [f.name for f in files] == ["ci.yml", "deploy.yml", "rollback.yml"]
    assert [f.name for f in samples] == ["notify-infra.yml"]
    assert actionlint(*files, *samples) == []


def test_actionlint_does_find_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nothing\n"
                      "    steps:\n      - run: echo ${{ github.nope }}\n")
    found = actionlint(broken)
    assert len(found) == 2 and any("nope" in f for f in found) and any("nothing" in f for f in found)


def _load(name: str, where: Path = WORKFLOWS) -> dict:
    return yaml.safe_load((where / name).read_text())


def _uses(step: dict, action: str) -> bool:
    return step.get("uses", "").split("@")[0] == action


def _env_jobs() -> dict[str, dict]:
    """Config environment name -> its job in deploy.yml (the job whose environment is its GitHub environment)."""
    jobs = _load("deploy.yml")["jobs"]
    by_github = {job.get("environment"): job for job in jobs.values()}
    return {name: by_github.get(env.github_environment) for name, env in ENVIRONMENTS.items()}


def test_deploy_runs_on_the_applications_dispatch_or_by_hand_with_a_commit():
    on = _load("deploy.yml")[True]  # YAML 1.1 reads the key `on` as True
    assert set(on) == {"repository_dispatch", "workflow_dispatch"}  # a push here does not move the application
    assert on["repository_dispatch"]["types"] == ["app-main"]
    assert on["workflow_dispatch"]["inputs"]["app_sha"]["required"] is True
    (plan_step,) = [s for s in _load("deploy.yml")["jobs"]["plan"]["steps"] if s.get("id") == "plan"]
    assert plan_step["env"]["APP_SHA"] == "${{ github.event.client_payload.sha || inputs.app_sha }}"
    assert plan_step["run"].startswith('exec invoke delivery-plan --sha "$APP_SHA"')  # validated there, never in bash


def test_every_environment_has_a_job_that_delivers_it_and_dev_comes_first():
    jobs = _load("deploy.yml")["jobs"]
    env_jobs = _env_jobs()
    assert all(env_jobs.values()), f"an environment without a job in deploy.yml: {env_jobs}"
    assert [j for j in jobs if j != "plan"] == ["dev", "staging", "production"]
    assert jobs["dev"]["needs"] == "plan"
    assert jobs["staging"]["needs"] == ["plan", "dev"] and jobs["production"]["needs"] == ["plan", "dev", "staging"]
    assert jobs["production"]["environment"] == "production"  # the protected one: its reviewers approve first
    for name, job in env_jobs.items():
        output = f"needs.plan.outputs.{name}"
        assert f"{output} != 'skip'" in job["if"], name  # skipped cleanly where not configured
        if name != "dev":
            assert "!cancelled() && !failure()" in job["if"]  # after dev succeeded, or dev was skipped
        runs = [s["run"] for s in job["steps"] if "run" in s]
        assert runs[-1] == f'exec invoke deliver --env {name} --sha "$APP_SHA" --app-dir app --timeout 600'
        assert job["steps"][-1]["env"]["APP_SHA"] == "${{ needs.plan.outputs.sha }}"
        assert not any("--no-build" in r or "docker " in r or "invoke release" in r for r in runs)
        (aws,) = [s for s in job["steps"] if _uses(s, "aws-actions/configure-aws-credentials")]
        assert aws["with"]["role-to-assume"] == f"${{{{ vars.{deploy_role_variable(ENVIRONMENTS[name])} }}}}"
        assert job["concurrency"] == {"group": f"deploy-{name}", "cancel-in-progress": False}


def test_the_application_is_checked_out_at_the_sent_commit_with_a_token_that_can_read_a_private_repository():
    for name, job in _env_jobs().items():
        building = f"needs.plan.outputs.{name} == 'release'"
        (token,) = [s for s in job["steps"] if _uses(s, "actions/create-github-app-token")]
        assert token["id"] == "app-token" and token["if"] == f"{building} && vars.APP_READER_APP_ID != ''"
        assert token["with"] == {
            "app-id": "${{ vars.APP_READER_APP_ID }}", "private-key": "${{ secrets.APP_READER_PRIVATE_KEY }}",
            "owner": "${{ needs.plan.outputs.app_owner }}", "repositories": "${{ needs.plan.outputs.app_name }}",
            "permission-contents": "read"}  # this one repository, read only
        (app,) = [s for s in job["steps"] if _uses(s, "actions/checkout") and "with" in s]
        assert app["if"] == building
        assert app["with"] == {
            "repository": "${{ needs.plan.outputs.app_repository }}", "ref": "${{ needs.plan.outputs.sha }}",
            "token": "${{ steps.app-token.outputs.token || secrets.APP_REPOSITORY_TOKEN || github.token }}",
            "path": "app", "persist-credentials": False}
        steps = job["steps"]
        assert steps.index(token) < steps.index(app)
        assert any(_uses(s, "docker/setup-buildx-action") and s["if"] == building for s in steps)


def test_the_plan_job_declares_exactly_the_outputs_delivery_plan_writes(tmp_path):
    from portyfoul_infra.options import DeliveryPlanOptions
    from portyfoul_infra.verbs.delivery import delivery_plan
    from support import make_ctx

    plan = _load("deploy.yml")["jobs"]["plan"]
    (step,) = [s for s in plan["steps"] if s.get("id") == "plan"]
    variables = [deploy_role_variable(e) for e in ENVIRONMENTS.values()]
    assert {k: v for k, v in step["env"].items() if k.endswith("_DEPLOY_ROLE_ARN")} == {
        v: f"${{{{ vars.{v} }}}}" for v in variables}
    output = tmp_path / "github_output"
    ctx, _ = make_ctx(object())
    delivery_plan(ctx, DeliveryPlanOptions(sha="a" * 40, app_repository="owners/portyfoul",
                                           github_output=str(output), roles={}))
    written = [line.split("=", 1)[0] for line in output.read_text().splitlines()]
    assert plan["outputs"] == {k: f"${{{{ steps.plan.outputs.{k} }}}}" for k in written}
    used = set(re.findall(r"needs\.plan\.outputs\.(\w+)", (WORKFLOWS / "deploy.yml").read_text()))
    assert used <= set(written) and set(ENVIRONMENTS) <= used


def test_only_the_jobs_that_assume_a_role_may_ask_for_an_oidc_token():
    for name in ("deploy.yml", "rollback.yml", "ci.yml"):
        workflow = _load(name)
        assert workflow["permissions"] == {"contents": "read"}, name
        for job_name, job in workflow["jobs"].items():
            assumes = any(_uses(s, "aws-actions/configure-aws-credentials") for s in job["steps"])
            assert "permissions" in job or name == "ci.yml", f"{name}: {job_name}"
            assert job.get("permissions", {}).get("id-token") == ("write" if assumes else None), f"{name}: {job_name}"
    assert _load("deploy.yml")["jobs"]["plan"]["permissions"] == {"contents": "read"}
    assert "aws-access-key-id" not in (WORKFLOWS / "deploy.yml").read_text()  # no stored keys


def test_every_step_runs_one_command():
    for path in [*WORKFLOWS.glob("*.yml"), *SAMPLES.glob("*.yml")]:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                command = step.get("run")
                if command is None:
                    continue
                assert "\n" not in command.strip() and not re.search(r"&&|\|\||;|\$\(|`", command), (path.name, command)


def test_the_sample_for_the_application_repository_sends_what_deploy_reads():
    sample = _load("notify-infra.yml", SAMPLES)
    trigger = sample[True]["workflow_run"]
    assert trigger["types"] == ["completed"] and trigger["branches"] == ["main"]
    job = sample["jobs"]["dispatch"]
    for condition in ("github.event.workflow_run.conclusion == 'success'", "github.event.workflow_run.event == 'push'",
                      "github.event.workflow_run.head_repository.full_name == github.repository"):
        assert condition in job["if"]  # after the tests passed on a push to main here, never a fork's "main"
    assert sample["permissions"] == {} and job["permissions"] == {}
    (token,) = [s for s in job["steps"] if _uses(s, "actions/create-github-app-token")]
    assert token["with"]["permission-contents"] == "write" and token["with"]["repositories"] == "${{ env.INFRA_NAME }}"
    (dispatch,) = [s for s in job["steps"] if _uses(s, "peter-evans/repository-dispatch")]
    assert [dispatch["with"]["event-type"]] == _load("deploy.yml")[True]["repository_dispatch"]["types"]
    payload = json.loads(dispatch["with"]["client-payload"].replace("${{ github.event.workflow_run.head_sha }}", "a" * 40)
                         .replace("${{ github.repository }}", "owners/portyfoul"))
    assert payload["sha"] == "a" * 40  # the tested commit, read by deploy.yml as client_payload.sha
    assert dispatch["with"]["token"] == "${{ steps.token.outputs.token || secrets.INFRA_DISPATCH_TOKEN }}"


def test_ci_runs_the_readmes_test_command_and_the_checks():
    runs = [s.get("run", "") for s in _load("ci.yml")["jobs"]["test"]["steps"]]
    assert any(r.startswith("./go test") for r in runs)
    assert any("build-template --check" in r for r in runs) and any("invoke lint" in r for r in runs)
    assert "./go test" in (ROOT / "README.md").read_text()


def test_rollback_is_a_manual_workflow_for_every_environment_that_runs_invoke_rollback():
    workflow = _load("rollback.yml")
    assert list(workflow[True]) == ["workflow_dispatch"]  # YAML 1.1 reads the key `on` as True
    assert workflow[True]["workflow_dispatch"]["inputs"]["environment"]["options"] == list(ENVIRONMENTS)
    job = workflow["jobs"]["rollback"]
    assert any("invoke rollback --env" in s.get("run", "") for s in job["steps"])
    assert job["environment"] == "${{ inputs.environment == 'prod' && 'production' || inputs.environment }}"
    assert {n: e.github_environment for n, e in ENVIRONMENTS.items() if n != "prod"} == {"dev": "dev", "staging": "staging"}
    (aws,) = [s for s in job["steps"] if _uses(s, "aws-actions/configure-aws-credentials")]
    for name in ENVIRONMENTS:  # each environment's choice names its own role variable, never another's
        assert f"'{name.upper()}'" in aws["with"]["role-to-assume"]


# ---------- GitHub's cancel reaches invoke, and each step's timeout leaves room for a rollback

def _runs(path: Path) -> list[tuple[str, dict, dict]]:
    """(job name, job, step) for every `run:` step of a workflow."""
    return [(name, job, step) for name, job in yaml.safe_load(path.read_text())["jobs"].items()
            for step in job["steps"] if "run" in step]


def passes_signals_on(command: str) -> bool:
    """Whether a `run:` line that starts invoke lets GitHub's cancel reach it. The runner signals the step's entry
    process, bash, which does not pass SIGINT or SIGTERM on to the command it waits for; `exec` makes invoke that
    entry process. A line that does not start invoke passes."""
    words = shlex.split(command)
    runs_invoke = any(w == "invoke" or w.endswith("/invoke") for w in words[:2])
    return not runs_invoke or (words[0] == "exec" and (words[1] == "invoke" or words[1].endswith("/invoke")))


def test_the_check_for_passing_signals_on_tells_exec_from_its_absence():
    assert passes_signals_on('exec invoke deliver --env dev --sha "$APP_SHA"')
    assert passes_signals_on("exec .venv/bin/invoke lint") and passes_signals_on("./go test -q")
    assert not passes_signals_on('invoke deliver --env dev --sha "$APP_SHA"')
    assert not passes_signals_on(".venv/bin/invoke lint")


def test_every_step_that_starts_invoke_hands_it_githubs_cancel():
    for path in [*WORKFLOWS.glob("*.yml"), *SAMPLES.glob("*.yml")]:
        for job_name, _, step in _runs(path):
            assert passes_signals_on(step["run"]), (path.name, job_name, step["run"])
    execed = {shlex.split(step["run"])[2] for path in WORKFLOWS.glob("*.yml") for _, _, step in _runs(path)
              if step["run"].startswith("exec ")}
    assert execed == {"delivery-plan", "deliver", "rollback", "release-status", "build-template", "lint"}
    cited = "https://docs.github.com/en/actions/reference/workflow-cancellation-reference"
    for name in ("deploy.yml", "rollback.yml"):
        comment = (WORKFLOWS / name).read_text()
        assert cited in comment and "SIGINT" in comment and "7500 ms" in comment, name


def _timeout(command: str) -> int:
    words = shlex.split(command)
    assert "--timeout" in words, f"give invoke's own deadline explicitly, to weigh the step's against it: {command}"
    return int(words[words.index("--timeout") + 1])


SPARE_SECONDS = 300   # for starting up, the lease, reading the history, printing


def test_each_deploy_step_outlasts_invoke_s_own_deadlines_with_room_for_the_rollback():
    """A step's timeout-minutes ends it as a cancel does. invoke must meet its own deadlines first: the deployment a
    cancelled attempt left (settled, within --timeout), a build (BUILD_SECONDS), a migration with its snapshot
    (within --timeout each, where the environment migrates on release), the release's watch and its rollback's
    (within --timeout each)."""
    from portyfoul_infra.verbs.delivery import BUILD_SECONDS

    for name, job in _env_jobs().items():
        (step,) = [s for s in job["steps"] if "invoke deliver" in s.get("run", "")]
        timeout = _timeout(step["run"])
        deadlines = 3 + (2 if ENVIRONMENTS[name].migrate_on_release else 0)
        needed = BUILD_SECONDS + deadlines * timeout + SPARE_SECONDS
        assert step["timeout-minutes"] * 60 >= needed, (name, step["timeout-minutes"], math.ceil(needed / 60))
        assert job["timeout-minutes"] >= step["timeout-minutes"] + 10, name  # and the steps before it


def test_the_rollback_step_outlasts_invoke_s_own_deadlines():
    job = _load("rollback.yml")["jobs"]["rollback"]
    (step,) = [s for s in job["steps"] if "invoke rollback" in s.get("run", "")]
    assert step["timeout-minutes"] * 60 >= 2 * _timeout(step["run"]) + SPARE_SECONDS  # a deployment left, the rollback
    (status,) = [s for s in job["steps"] if "invoke release-status" in s.get("run", "")]
    assert status["if"] == "always()"  # also after a cancel or a failure: what runs now
    assert job["timeout-minutes"] >= step["timeout-minutes"] + status["timeout-minutes"] + 5


def _step_script(tmp_path: Path, line: str) -> Path:
    script = tmp_path / "step.sh"  # the runner writes a run: step to a file and starts `bash -e FILE`
    script.write_text(line + "\n")
    return script


CHILD = """import signal, sys
got = []
def note(signum, frame):
    got.append(signal.Signals(signum).name)
    print(got[-1], flush=True)
signal.signal(signal.SIGINT, note)
signal.signal(signal.SIGTERM, note)
print("ready", flush=True)
sys.stdin.read()
print("done", *got, flush=True)
"""


def _start_step(tmp_path: Path, line: str) -> subprocess.Popen:
    return subprocess.Popen(["bash", "-e", str(_step_script(tmp_path, line))], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                                                signal.SIG_DFL))


def test_githubs_cancel_reaches_a_command_the_step_execs_and_never_one_it_only_starts(tmp_path):
    """GitHub's cancel, sent as the runner sends it: SIGINT, then SIGTERM, to the step's bash. With `exec` the
    command receives both; without, bash dies of the SIGTERM and the command never hears a thing (the runner then
    kills it 2.5 s later, with no chance to roll back or give back its lease)."""
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    with_exec = _start_step(tmp_path, f"exec {shlex.quote(sys.executable)} {child}")
    try:
        assert with_exec.stdout.readline() == "ready\n"
        with_exec.send_signal(signal.SIGINT)
        assert with_exec.stdout.readline() == "SIGINT\n"
        with_exec.send_signal(signal.SIGTERM)
        assert with_exec.stdout.readline() == "SIGTERM\n"
        with_exec.stdin.close()
        assert with_exec.stdout.read() == "done SIGINT SIGTERM\n" and with_exec.wait(timeout=30) == 0
    finally:
        with_exec.kill()
    without = _start_step(tmp_path, f"{shlex.quote(sys.executable)} {child}")
    try:
        assert without.stdout.readline() == "ready\n"
        without.send_signal(signal.SIGINT)
        without.send_signal(signal.SIGTERM)
        assert without.wait(timeout=30) == -signal.SIGTERM  # bash is gone; its command runs on, unsignalled
        without.stdin.close()
        assert without.stdout.read() == "done\n"
    finally:
        without.kill()
