"""Every failure ends honest and known: the exit code says whether anything changed, and nothing leaks.

One test (or more) per item of the failure review: exit codes after a change, impossible flags, Ctrl-C at
the prompt, pictures that must not block a deploy, tracebacks that must be one line, guard gaps,
concurrent updates, messages, the sandbox leaving generated/ alone, failures rehearsed locally.
"""

import http.server
import io
import json
import os
import re
import shutil
import threading

import pytest
from botocore.exceptions import EndpointConnectionError

from portyfoul_infra.errors import UserError
from portyfoul_infra.options import DiffOptions, ReleaseOptions, UpdateOptions
from portyfoul_infra.outcomes import Journal, Outcome, failure_exit
from support import ROOT, invoke, make_ctx
from support.fake_ecs import FakeEcs, progress, release_clients
from support.fakes import FakeAws, FakeCloudFormation, resource_change


def _last_line(proc) -> str:
    return proc.stderr.strip().splitlines()[-1]


# ---------- 2. exit 4, never 2, once anything changed

def test_losing_the_endpoint_mid_release_is_exit_4_with_what_changed():
    from portyfoul_infra.verbs.release import release
    ecs = FakeEcs(deploy={"web": [progress], "worker": [progress]})
    calls = {"n": 0}
    original = ecs.describe_services

    def lost(**kwargs):
        calls["n"] += 1
        if ecs.called("update_service"):
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:5077/")
        return original(**kwargs)

    ecs.describe_services = lost
    ctx, _ = make_ctx(release_clients(ecs), runner=lambda cmd, stdin: 0)
    with pytest.raises(EndpointConnectionError) as raised:
        release(ctx, ReleaseOptions(tag="v2", no_build=True))
    message, code = failure_exit(raised.value, ctx.journal)
    assert code == 4
    assert message.startswith("cannot reach AWS") and "started deploying portyfoul-dev-worker-task:2 to worker" in message
    assert "invoke release-status --env dev" in message


def test_the_same_error_before_any_change_is_a_refusal():
    message, code = failure_exit(EndpointConnectionError(endpoint_url="http://127.0.0.1:5077/"), Journal())
    assert code == 2 and message.endswith("nothing changed")


def test_expired_credentials_mid_watch_are_exit_4():
    from support.fakes import client_error
    journal = Journal()
    journal.record("started executing the change set on portyfoul-infra", "`invoke stack-status`")
    message, code = failure_exit(client_error("ExpiredToken", "The security token included in the request is "
                                              "expired", "DescribeStacks"), journal)
    assert code == 4 and "AWS rejected the credentials (ExpiredToken)" in message
    assert "already changed: started executing the change set on portyfoul-infra" in message


def test_a_stack_update_that_loses_aws_after_executing_is_exit_4():
    from portyfoul_infra.verbs.stack import stack_update
    cfn = FakeCloudFormation(changes=[resource_change("WebTaskDefinition", "AWS::ECS::TaskDefinition")], script=[])

    def gone(**kwargs):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:5077/")

    cfn.describe_stack_events = lambda **kw: gone() if cfn.called("execute_change_set") else {"StackEvents": []}
    ctx, _ = make_ctx(FakeAws(cloudformation=cfn))
    with pytest.raises(EndpointConnectionError) as raised:
        stack_update(ctx, UpdateOptions(yes=True))
    message, code = failure_exit(raised.value, ctx.journal)
    assert code == 4 and "started executing the change set on portyfoul-infra" in message
    assert "invoke stack-status --env dev" in message


# ---------- 4. impossible flags: one line, exit 2, before anything

@pytest.mark.parametrize("args, message", [
    (("release", "--no-build", "--build-only"), "--no-build and --build-only contradict each other"),
    (("release", "--timeout=-1"), "--timeout -1: must be from 1 to 86400"),
    (("release", "--timeout", "0"), "--timeout 0: must be from 1 to 86400"),
    (("release", "--timeout", "abc"), "--timeout 'abc': must be a whole number from 1 to 86400"),
    (("release", "--timeout", "1.5"), "--timeout '1.5': must be a whole number"),
    (("stack-update", "--timeout=-5"), "--timeout -5: must be from 1 to 86400"),
    (("rollback", "--timeout", "abc"), "--timeout 'abc': must be a whole number"),
    (("config-set", "price-update-interval", "5", "--restart", "--timeout", "x"), "--timeout 'x'"),
    (("secrets-set", "jwt-secret", "--restart", "--timeout", "99999999"), "--timeout 99999999: must be from 1"),
    (("sandbox", "--port", "abc"), "--port 'abc': must be a whole number from 0 to 65535"),
    (("sandbox", "--scenario", "nope"), "--scenario 'nope': choose one of lifecycle, adopt, failed-release"),
    (("logs", "--since", "99999999999999999999d"), "--since 99999999999999999999d: at most 90d"),
    (("secrets-set",), "did not receive required positional arguments: 'name'; usage: `invoke --help secrets-set`"),
    (("config-set", "price-update-interval"), "positional arguments: 'value'; usage: `invoke --help config-set`"),
    (("release", "--nope"), "No idea what '--nope' is!; usage: `invoke --help release`"),
])
def test_bad_flags_are_one_line_and_exit_2(args, message):
    env = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # nothing may be reached
    proc = invoke(*args, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_long_tag_is_not_echoed_in_full():
    env = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    proc = invoke("release", "--tag", "x" * 5000 + "!", env=env)
    assert proc.returncode == 2 and "(5001 characters)" in proc.stderr and len(proc.stderr) < 400


# ---------- 5. Ctrl-C at the y/N prompt

def test_ctrl_c_at_the_prompt_means_no_and_the_change_set_is_deleted(monkeypatch):
    import sys

    import tasks
    from portyfoul_infra.verbs.stack import stack_update

    class Tty(io.StringIO):
        def isatty(self):
            return True

    def interrupted(prompt):
        raise KeyboardInterrupt

    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr("builtins.input", interrupted)
    prompt = tasks.TerminalPrompt()
    assert prompt.confirm("execute?") is False
    cfn = FakeCloudFormation(changes=[resource_change("WebTaskDefinition", "AWS::ECS::TaskDefinition")])
    ctx, out = make_ctx(FakeAws(cloudformation=cfn), prompt=prompt)
    outcome = stack_update(ctx, UpdateOptions())
    assert outcome.outcome is Outcome.REFUSED and "not confirmed; nothing changed" in out.getvalue()
    assert cfn.called("delete_change_set") and not cfn.called("execute_change_set")


# ---------- 6. stack-update never changes the image a service runs

def test_a_running_tag_whose_release_failed_is_kept_and_said(monkeypatch):
    from portyfoul_infra.aws import history
    from portyfoul_infra.aws.stacks import StackInfo
    from portyfoul_infra.aws.updates import current_image_tags
    from support.fake_ecs import stack_outputs
    ecs = FakeEcs()
    ctx, out = make_ctx(release_clients(ecs))
    history.finish(ctx, history.ReleaseRecord("1", "release", "v0", "", "2026-11-25T00:00:00Z",
                                                   {"web": history.ServiceChange("a", "b")}), history.SUCCEEDED)
    history.finish(ctx, history.ReleaseRecord("2", "release", "v1", "", "2026-11-26T00:00:00Z",
                                                   {"web": history.ServiceChange("b", "c")}), history.FAILED)
    stack = StackInfo("portyfoul-infra", "id", "UPDATE_COMPLETE", "", stack_outputs(),
                      {"ImageTag": "v0", "WorkerImageTag": "v0"}, {}, None, True)
    tags, desired = current_image_tags(ctx, stack)
    assert desired == 2
    assert tags["ImageTag"] == "v1"  # what web runs: moving it is rollback's job, never a template change's
    assert ("web runs v1, whose release failed; keeping it (a stack-update never changes the image a service "
            "runs): `invoke rollback --env dev --service web`") in out.getvalue()


# ---------- 7. a picture never blocks a deploy

def test_a_stale_picture_warns_but_does_not_block(tmp_path, monkeypatch):
    from portyfoul_infra.artifacts.generated import DOT_FILE, generated_dir
    from portyfoul_infra.verbs.stack import stack_diff
    target = tmp_path / "generated"
    shutil.copytree(generated_dir(), target)
    (target / DOT_FILE).write_text("digraph stale {}\n")
    (target / "architecture.svg").unlink()
    monkeypatch.setenv("PORTYFOUL_GENERATED_DIR", str(target))
    cfn = FakeCloudFormation(changes=[resource_change("WebTaskDefinition", "AWS::ECS::TaskDefinition")])
    ctx, out = make_ctx(FakeAws(cloudformation=cfn))
    outcome = stack_diff(ctx, DiffOptions())
    assert outcome.outcome is Outcome.NO_CHANGES
    assert "the pictures in generated/ are stale (architecture.dot, architecture.svg)" in out.getvalue()


def test_a_stale_template_still_blocks(tmp_path, monkeypatch):
    from portyfoul_infra.artifacts.generated import ensure_fresh, generated_dir
    target = tmp_path / "generated"
    shutil.copytree(generated_dir(), target)
    (target / "dev.json").write_text("{}\n")
    with pytest.raises(UserError, match=r"generated/ is out of date with the code \(dev.json\)"):
        ensure_fresh(target)


def test_build_template_without_graphviz_says_once_what_was_not_drawn(tmp_path):
    env = {**os.environ, "PORTYFOUL_GENERATED_DIR": str(tmp_path), "PATH": "/nonexistent"}
    proc = invoke("build-template", env=env)
    assert proc.returncode == 0, proc.stderr
    (warning,) = proc.stderr.strip().splitlines()  # once, for every picture
    assert warning.startswith("warning: graphviz `dot` is not installed: architecture.svg, the icon pictures")
    assert "nothing else depends on them" in warning
    assert (tmp_path / "portyfoul-infra.json").exists() and not (tmp_path / "architecture-dev.png").exists()


# ---------- 8. one line, not a traceback

@pytest.mark.parametrize("content", [None, "", "{not json", "[]"])
def test_cost_with_a_missing_or_broken_template_is_one_line(tmp_path, content):
    if content is not None:
        (tmp_path / "portyfoul-infra.json").write_text(content)
    proc = invoke("cost", env={**os.environ, "PORTYFOUL_GENERATED_DIR": str(tmp_path)})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "run `invoke build-template`" in _last_line(proc) and len(proc.stderr.strip().splitlines()) == 1


def test_a_suppression_for_a_resource_that_is_gone_is_a_build_error_naming_both():
    from troposphere import Template

    from portyfoul_infra.template.suppressions import apply_suppressions
    with pytest.raises(UserError, match=r"template/suppressions.py suppresses checks on .*Database.*which the "
                                        r"template does not have"):
        apply_suppressions(Template())


class _HtmlError(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = b"<html><body><h1>500 Internal Server Error</h1>" + b"x" * 2000 + b"</body></html>"
        self.send_response(500)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_non_xml_500_from_the_endpoint_is_one_line():
    server = http.server.HTTPServer(("127.0.0.1", 0), _HtmlError)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_port}", "AWS_MAX_ATTEMPTS": "1"}
        proc = invoke("stack-update", "--yes", env=env)
    finally:
        server.shutdown()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert _last_line(proc).endswith("nothing changed") and len(_last_line(proc)) < 500


# ---------- 9. guard gaps, end to end on the local AWS

def test_renaming_the_database_is_caught_by_stack_diff_on_the_local_aws(shared_dev_stack, tmp_path, monkeypatch):
    from portyfoul_infra.artifacts import generated
    from portyfoul_infra.verbs.stack import stack_diff
    real_render = generated.render

    def renamed():
        body = json.loads(real_render().text)
        body["Resources"]["Database"]["Properties"]["DBInstanceIdentifier"] = "portyfoul-dev-postgres-2"
        body["Metadata"].pop("PortyfoulInfra")
        digest = generated.content_hash(body)
        body["Metadata"]["PortyfoulInfra"] = {"Version": "test", "ContentHash": digest}
        return generated.Rendered(json.dumps(body, indent=2, sort_keys=True) + "\n",
                                  json.dumps(body, sort_keys=True, separators=(",", ":")), digest,
                                  len(body["Resources"]))

    monkeypatch.setattr(generated, "render", renamed)
    monkeypatch.setenv("PORTYFOUL_GENERATED_DIR", str(tmp_path))
    generated.refresh(tmp_path)
    ctx, out = make_ctx()
    outcome = stack_diff(ctx, DiffOptions())
    assert outcome.outcome is Outcome.REFUSED, out.getvalue()
    assert re.search(r"Modify\s+Database\s+AWS::RDS::DBInstance\s+True", out.getvalue())
    assert "Database (AWS::RDS::DBInstance) would be replaced" in out.getvalue()


# ---------- 10. change set names (concurrency: tests/test_reliability.py)

def test_change_set_names_are_unique_within_a_second():
    from portyfoul_infra.verbs.stack import stack_diff
    names = set()
    for _ in range(5):
        cfn = FakeCloudFormation(changes=[resource_change("WebTaskDefinition", "AWS::ECS::TaskDefinition")])
        stack_diff(make_ctx(FakeAws(cloudformation=cfn))[0], DiffOptions())
        names.add(cfn.called("create_change_set")[0]["ChangeSetName"])
    assert len(names) == 5 and all(n.startswith("portyfoul-diff-") for n in names)


# ---------- 11. messages

def test_a_restart_that_fails_after_config_set_names_the_old_value_not_awspevious():
    from portyfoul_infra.verbs.secrets import Readers, restart_services
    from support.fake_ecs import fail, stack_outputs
    o = stack_outputs()
    ecs = FakeEcs(deploy={"worker": [fail]})
    ctx, out = make_ctx(release_clients(ecs))
    readers = Readers(o["ClusterName"], {"web": o["WebServiceName"], "worker": o["WorkerServiceName"]}, {})
    outcome = restart_services(ctx, readers, ["worker"], 600,
                               "'15': `invoke config-set price-update-interval 15` puts it back")
    assert outcome is Outcome.NEEDS_HUMAN
    assert "AWSPREVIOUS" not in out.getvalue() and "invoke config-set price-update-interval 15" in out.getvalue()


# ---------- 12 and 13. the sandbox leaves generated/ alone and rehearses a failed release

@pytest.mark.integration  # starts a local AWS of its own
def test_the_failed_release_scenario_rolls_back_diagnoses_and_lands_on_the_last_good_release():
    before = {p.name: p.read_bytes() for p in (ROOT / "generated").iterdir()}
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "PORTYFOUL_GENERATED_DIR")}
    proc = invoke("sandbox", "--port", "0", "--scenario", "failed-release", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    out = proc.stdout + proc.stderr
    assert "ECS rolled back to the previous revision (deployment circuit breaker)" in out
    assert "Essential container in task exited" in out and "exit code 1" in out
    assert "released demo0003" in out
    assert re.search(r"web: demo0003 \(portyfoul-dev-web-task:5\) -> demo0001 \(portyfoul-dev-web-task:2\)", out)
    assert re.search(r"release\s+demo0002-crash\s+.*failed", out)
    assert {p.name: p.read_bytes() for p in (ROOT / "generated").iterdir()} == before


def test_a_secret_deleted_outside_cloudformation_says_so(dev_stack):
    import boto3
    boto3.client("secretsmanager", region_name="us-east-2").delete_secret(
        SecretId="portyfoul/dev/finnhub-api-key", ForceDeleteWithoutRecovery=True)
    proc = invoke("secrets-set", "finnhub-api-key", env=dev_stack, input="fh-new-value")
    assert proc.returncode == 2
    assert "does not exist, although the stack does: it was deleted outside CloudFormation" in proc.stderr
    assert "create the stack first" not in proc.stderr


def test_stack_status_never_says_stale_and_same_together(tmp_path, monkeypatch):
    from portyfoul_infra.artifacts.generated import generated_dir
    from portyfoul_infra.options import ReadOptions
    from portyfoul_infra.verbs.stack import stack_status
    target = tmp_path / "generated"
    shutil.copytree(generated_dir(), target)
    (target / "dev.json").write_text("{}\n")
    monkeypatch.setenv("PORTYFOUL_GENERATED_DIR", str(target))
    ctx, out = make_ctx(FakeAws(cloudformation=FakeCloudFormation()))
    stack_status(ctx, ReadOptions())
    assert "generated/ is stale, so no comparison" in out.getvalue()
    assert "same as generated/" not in out.getvalue() and "DIFFERS" not in out.getvalue()
