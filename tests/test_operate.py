"""Operating the running app: shell, run, database snapshots and restores, drift, teardown.

Against the local AWS where moto can answer (RunTask, snapshots, restores, deleting the stack), and
with fakes and Stubbers where it cannot (ExecuteCommand and the plugin, drift detection, task exit codes).
"""

import json
import re
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber

from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.errors import UserError
from portyfoul_infra.options import DeleteOptions, DriftOptions, RunOptions, ShellOptions
from portyfoul_infra.outcomes import Outcome
from support import Answers, invoke, make_ctx
from support.fake_ecs import FakeEcs, release_clients, stack_outputs
from support.fakes import FakeAws, FakeCloudFormation, event

DEV = ENVIRONMENTS["dev"]
TOKEN = "session-token-never-printed-7f3a"


# ---------- shell (ECS Exec), with a fake ECS and a fake plugin

class ExecEcs:
    def __init__(self, exec_enabled=True, running=True):
        self.exec_enabled, self.running = exec_enabled, running
        self.calls = []

    def describe_services(self, cluster, services):
        return {"services": [{"serviceName": services[0], "status": "ACTIVE",
                              "taskDefinition": "arn:aws:ecs:us-east-2:946652103073:task-definition/portyfoul-dev-web-task:3"}]}

    def describe_task_definition(self, taskDefinition):
        return {"taskDefinition": {"taskDefinitionArn": taskDefinition, "family": "portyfoul-dev-web-task",
                                   "containerDefinitions": [{"name": "web", "image": "portyfoul-dev:v1"}]}}

    def list_tasks(self, cluster, serviceName, desiredStatus):
        return {"taskArns": ["arn:aws:ecs:us-east-2:946652103073:task/portyfoul-dev-cluster/abc123"] if self.running else []}

    def describe_tasks(self, cluster, tasks):
        return {"tasks": [{"taskArn": tasks[0], "lastStatus": "RUNNING", "enableExecuteCommand": self.exec_enabled,
                           "containers": [{"name": "web", "runtimeId": "abc123-1"}]}]}

    def execute_command(self, **kwargs):
        self.calls.append(kwargs)
        return {"session": {"sessionId": "s-1", "streamUrl": "wss://ssmmessages", "tokenValue": TOKEN}}


def shell(ecs, plugin="/usr/local/bin/session-manager-plugin", code=0, **opts):
    runs = []

    def runner(cmd, stdin):
        runs.append(cmd)
        return code

    ctx, out = make_ctx(FakeAws(cloudformation=FakeCloudFormation(outputs=stack_outputs()), ecs=ecs), runner=runner)
    from portyfoul_infra.verbs.shell import shell as body
    outcome = body(ctx, ShellOptions(**opts), which=lambda name: plugin)
    return outcome, out.getvalue(), runs


def test_shell_opens_an_exec_session_through_the_plugin_without_printing_its_token():
    ecs = ExecEcs()
    outcome, text, runs = shell(ecs)
    assert outcome.outcome is Outcome.NO_CHANGES
    (call,) = ecs.calls
    assert call["container"] == "web" and call["interactive"] is True and call["command"] == "/bin/sh"
    (cmd,) = runs
    assert cmd[0].endswith("session-manager-plugin") and cmd[2:4] == ["us-east-2", "StartSession"]
    assert json.loads(cmd[1])["tokenValue"] == TOKEN and TOKEN not in text
    assert json.loads(cmd[5]) == {"Target": "ecs:portyfoul-dev-cluster_abc123_abc123-1"}
    assert "the session is logged" in text


def test_shell_without_the_plugin_is_one_line_with_an_install_hint():
    with pytest.raises(UserError, match="Session Manager plugin is not installed"):
        shell(ExecEcs(), plugin=None)


def test_shell_refuses_a_task_that_started_before_exec_was_enabled():
    with pytest.raises(UserError, match="started before ECS Exec was enabled.*redeploy it"):
        shell(ExecEcs(exec_enabled=False))


def test_shell_refuses_when_no_task_runs_and_for_an_unknown_service():
    with pytest.raises(UserError, match="web runs no task to open a shell in"):
        shell(ExecEcs(running=False))
    with pytest.raises(UserError, match="unknown service 'db'; choose web or worker"):
        shell(ExecEcs(), service="db")


def test_a_session_that_fails_ends_as_a_failed_command_like_run():
    """A shell session that ends non-zero is the command's failure, as with `invoke run` (10 + its code), never
    this tool's "needs a human" (nothing changed)."""
    result, text, _ = shell(ExecEcs(), code=3)
    assert result.outcome is Outcome.COMMAND_FAILED and result.exit_code == 13
    assert "the session ended with exit code 3; `invoke shell` exits 13" in text
    assert shell(ExecEcs(), code=255)[0].exit_code == 127


# ---------- run: a one-off task, its log streamed, its exit code kept

def run_fake(migration, **opts):
    ecs = FakeEcs(migration=migration)
    ecs.log_lines["web/web/migration"] = ["report: 42 portfolios", "done"]
    ctx, out = make_ctx(release_clients(ecs))
    from portyfoul_infra.verbs.shell import run as body
    result = body(ctx, RunOptions(**{"command": ("npm", "run", "report"), **opts}))
    return result, out.getvalue(), ecs


def test_run_streams_the_log_and_keeps_the_commands_exit_code_apart_from_the_tools():
    result, text, ecs = run_fake([{"lastStatus": "RUNNING"}, {"lastStatus": "STOPPED", "exitCode": 3}])
    assert result.exit_code == 13  # never 3, which would read as "rolled back"
    assert "the command failed: it exited 3" in text and "`invoke run` exits 13" in text
    (call,) = ecs.called("run_task")
    assert call["overrides"]["containerOverrides"] == [{"name": "web", "command": ["npm", "run", "report"]}]
    assert call["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    assert "| report: 42 portfolios" in text
    assert text.count("report: 42 portfolios") == 1  # each line once


@pytest.mark.parametrize("code, ours", [(1, 11), (2, 12), (4, 14), (117, 127), (255, 127)])
def test_every_failing_command_maps_clear_of_the_tools_codes(code, ours):
    from portyfoul_infra.outcomes import Outcome, exit_code
    assert exit_code(Outcome.COMMAND_FAILED, code) == ours and ours not in (0, 1, 2, 3, 4, 5)


def test_the_words_after_dashes_are_kept_as_the_shell_passed_them():
    from tasks import words_after_dashes
    argv = ["invoke", "run", "--service", "web", "--", "sh", "-c", "exit 3"]
    assert words_after_dashes(argv) == ("sh", "-c", "exit 3")
    assert words_after_dashes(["invoke", "run", "--", "echo", "it's"]) == ("echo", "it's")
    assert words_after_dashes(["invoke", "run"]) == ()


def test_run_stops_the_task_at_its_timeout():
    result, text, ecs = run_fake([{"lastStatus": "RUNNING"}], timeout=30)
    assert result.outcome is Outcome.NEEDS_HUMAN and len(ecs.called("stop_task")) == 1
    assert "still RUNNING after 30s; stopped it" in text


@pytest.mark.parametrize("command", [(), ("",), ("  ", "x")])
def test_run_without_a_command_is_refused(command):
    with pytest.raises(UserError, match="no command"):
        run_fake([{"lastStatus": "STOPPED", "exitCode": 0}], command=command)


def test_run_on_the_local_aws_starts_a_task_like_the_services(dev_stack):
    proc = invoke("run", "--service", "worker", "--", "node", "scripts/report.js", "--all", env=dev_stack)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "run on worker's task definition portyfoul-dev-worker-task" in proc.stdout
    assert "node scripts/report.js --all" in proc.stdout
    tasks = boto3.client("ecs", region_name="us-east-2").list_tasks(cluster="portyfoul-dev-cluster",
                                                                     startedBy="portyfoul-run")["taskArns"]
    assert len(tasks) == 1
    quoted = invoke("run", "--", "sh", "-c", "echo \"it's\" | tr a-z A-Z; exit 0", env=dev_stack)
    assert quoted.returncode == 0, quoted.stdout + quoted.stderr
    ecs = boto3.client("ecs", region_name="us-east-2")
    arns = ecs.list_tasks(cluster="portyfoul-dev-cluster", startedBy="portyfoul-run")["taskArns"]
    commands = [t["overrides"]["containerOverrides"][0]["command"]
                for t in ecs.describe_tasks(cluster="portyfoul-dev-cluster", tasks=arns)["tasks"]]
    assert ["sh", "-c", "echo \"it's\" | tr a-z A-Z; exit 0"] in commands  # three words, as typed
    bad = invoke("run", "--service", "db", "--", "true", env=dev_stack)
    assert bad.returncode == 2 and "unknown service 'db'" in bad.stderr


# ---------- database snapshots and restores, on the local AWS

def test_snapshot_list_and_restore_into_a_new_instance(dev_stack):
    rds = boto3.client("rds", region_name="us-east-2")
    taken = invoke("db-snapshot", env=dev_stack)
    assert taken.returncode == 0, taken.stderr
    name = re.search(r"snapshot (portyfoul-dev-\d{8}-\d{6}-latest) is available", taken.stdout).group(1)
    listed = invoke("db-snapshots", env=dev_stack)
    assert listed.returncode == 0
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:] if line.startswith("  ")}
    assert rows[name][1] == "manual" and "20" in rows[name]
    assert any(r[1] == "automated" for r in rows.values())

    no_terminal = invoke("db-restore", "--snapshot", name, env=dev_stack)  # a billable instance: asked first
    assert no_terminal.returncode == 2 and "rerun with --yes" in no_terminal.stderr
    assert [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]] == ["portyfoul-dev-postgres"]
    restored = invoke("db-restore", "--snapshot", name, "--yes", env=dev_stack)
    assert restored.returncode == 0, restored.stderr
    new_id = re.search(r"into a NEW instance (portyfoul-dev-restored-\S+);", restored.stdout).group(1)
    ids = {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]}
    assert {"portyfoul-dev-postgres", new_id} <= ids
    live = rds.describe_db_instances(DBInstanceIdentifier="portyfoul-dev-postgres")["DBInstances"][0]
    assert live["DBInstanceStatus"] == "available"  # untouched
    missing = invoke("db-restore", "--snapshot", "nope", env=dev_stack)
    assert missing.returncode == 2 and "snapshot 'nope' does not exist" in missing.stderr
    assert invoke("db-restore", env=dev_stack).returncode == 2


# ---------- drift, scripted with a Stubber

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)
STACK = {"StackId": "arn:aws:cloudformation:us-east-2:946652103073:stack/portyfoul-infra/x",
         "StackName": "portyfoul-infra", "StackStatus": "UPDATE_COMPLETE", "CreationTime": NOW}


def drift(drifts, status="DRIFTED"):
    cfn = boto3.client("cloudformation", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(cfn)
    stub.add_response("describe_stacks", {"Stacks": [STACK]})
    stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "d-1"})
    base = {"StackId": STACK["StackId"], "StackDriftDetectionId": "d-1", "Timestamp": NOW}
    stub.add_response("describe_stack_drift_detection_status", {**base, "DetectionStatus": "DETECTION_IN_PROGRESS"})
    stub.add_response("describe_stack_drift_detection_status", {
        **base, "DetectionStatus": "DETECTION_COMPLETE", "StackDriftStatus": status,
        "DriftedStackResourceCount": len(drifts)})
    stub.add_response("describe_stack_resource_drifts", {"StackResourceDrifts": drifts})
    ctx, out = make_ctx(FakeAws(cloudformation=cfn))
    from portyfoul_infra.verbs.drift import stack_drift
    with stub:
        outcome = stack_drift(ctx, DriftOptions())
        stub.assert_no_pending_responses()
    return outcome, out.getvalue()


def test_drift_lists_each_changed_property_and_exits_2():
    outcome, text = drift([{
        "StackId": STACK["StackId"], "LogicalResourceId": "LoadBalancerSecurityGroup",
        "PhysicalResourceId": "sg-0abc", "ResourceType": "AWS::EC2::SecurityGroup",
        "StackResourceDriftStatus": "MODIFIED", "Timestamp": NOW,
        "PropertyDifferences": [{"PropertyPath": "/SecurityGroupIngress/2", "ExpectedValue": "null",
                                 "ActualValue": '{"CidrIp":"0.0.0.0/0","FromPort":22}', "DifferenceType": "ADD"}]}])
    assert outcome.outcome is Outcome.REFUSED
    assert "has drifted: 1 resource(s) changed outside CloudFormation" in text
    assert "LoadBalancerSecurityGroup (AWS::EC2::SecurityGroup) MODIFIED  sg-0abc" in text
    assert re.search(r"/SecurityGroupIngress/2\s+ADD\s+null\s+\{\"CidrIp\":\"0.0.0.0/0\",\"FromPort\":22\}", text)


def test_a_stack_in_sync_exits_0():
    outcome, text = drift([], status="IN_SYNC")
    assert outcome.outcome is Outcome.NO_CHANGES and "in sync with its template" in text


def test_stack_status_shows_the_last_drift_result():
    from portyfoul_infra.options import ReadOptions
    from portyfoul_infra.verbs.stack import stack_status

    class DriftedCfn(FakeCloudFormation):
        def describe_stacks(self, StackName):
            answer = super().describe_stacks(StackName)
            answer["Stacks"][0]["DriftInformation"] = {"StackDriftStatus": "DRIFTED", "LastCheckTimestamp": NOW}
            return answer

    ctx, out = make_ctx(FakeAws(cloudformation=DriftedCfn()))
    stack_status(ctx, ReadOptions())
    assert "drift         DRIFTED, checked 2026-11-26 00:00 UTC (`invoke stack-drift`)" in out.getvalue()


# ---------- teardown

def test_stack_delete_keeps_what_holds_data_and_snapshots_the_database(dev_stack):
    no_terminal = invoke("stack-delete", env=dev_stack)
    assert no_terminal.returncode == 2 and "rerun with --confirm portyfoul-infra" in no_terminal.stderr
    wrong = invoke("stack-delete", "--confirm", "portyfoul-prod-infra", env=dev_stack)
    assert wrong.returncode == 2 and "does not name this environment's stack" in wrong.stderr
    proc = invoke("stack-delete", "--confirm", "portyfoul-infra", env=dev_stack)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "final snapshot, then deleted: 1" in proc.stdout and "termination protection lifted" in proc.stdout
    assert "DELETE_COMPLETE" in proc.stdout
    sm = boto3.client("secretsmanager", region_name="us-east-2")
    assert {s["Name"] for s in sm.list_secrets()["SecretList"]} >= {
        "portyfoul/dev/jwt-secret", "portyfoul/dev/finnhub-api-key", "portyfoul/dev/rds/credentials"}
    assert boto3.client("ecr", region_name="us-east-2").describe_repositories()["repositories"][0][
        "repositoryName"] == "portyfoul-dev"
    groups = {g["logGroupName"] for g in boto3.client("logs", region_name="us-east-2").describe_log_groups()["logGroups"]}
    assert {"/ecs/portyfoul-dev-web", "/ecs/portyfoul-dev-worker", "/ecs/portyfoul-dev-exec"} <= groups
    snapshots = boto3.client("rds", region_name="us-east-2").describe_db_snapshots()["DBSnapshots"]
    assert any(s["DBSnapshotIdentifier"] == "portyfoul-infra-database-final-snapshot" for s in snapshots)


def test_production_needs_allow_production():
    from portyfoul_infra.verbs.teardown import stack_delete
    with pytest.raises(UserError, match="is production: deleting it needs --allow-production"):
        stack_delete(make_ctx(FakeAws(), "prod")[0], DeleteOptions(env="prod"))


def test_a_deletion_that_fails_explains_and_puts_protection_back():
    from portyfoul_infra.verbs.teardown import stack_delete

    class Cfn(FakeCloudFormation):
        def list_stack_resources(self, StackName, NextToken=None):
            return {"StackResourceSummaries": [{"LogicalResourceId": "Repository", "PhysicalResourceId": "portyfoul-dev"}]}

        def get_template(self, StackName, TemplateStage="Original"):
            return {"TemplateBody": {"Resources": {"Repository": {"Type": "AWS::ECR::Repository",
                                                                  "DeletionPolicy": "Retain"}}}}

    cfn = Cfn(script=[("DELETE_IN_PROGRESS", [event("portyfoul-infra", "DELETE_IN_PROGRESS", "User Initiated")]),
                      ("DELETE_FAILED", [event("VPC", "DELETE_FAILED", "The vpc has dependencies", "AWS::EC2::VPC"),
                                         event("portyfoul-infra", "DELETE_FAILED")])])
    ctx, out = make_ctx(FakeAws(cloudformation=cfn))
    outcome = stack_delete(ctx, DeleteOptions(confirm="portyfoul-infra"))
    assert outcome.outcome is Outcome.NEEDS_HUMAN
    assert "root cause: VPC (AWS::EC2::VPC) DELETE_FAILED: The vpc has dependencies" in out.getvalue()
    protection = cfn.called("update_termination_protection")
    assert [p["EnableTerminationProtection"] for p in protection] == [False, True]


def test_typing_the_wrong_name_at_the_prompt_changes_nothing():
    from portyfoul_infra.verbs.teardown import stack_delete
    cfn = FakeCloudFormation()
    cfn.list_stack_resources = lambda **kw: {"StackResourceSummaries": []}
    ctx, out = make_ctx(FakeAws(cloudformation=cfn), prompt=Answers("not the name"))
    outcome = stack_delete(ctx, DeleteOptions())
    assert outcome.outcome is Outcome.REFUSED and "not confirmed; nothing changed" in out.getvalue()
    assert not cfn.called("delete_stack") and not cfn.called("update_termination_protection")
