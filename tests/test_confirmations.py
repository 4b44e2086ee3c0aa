"""Every task that signs people out, costs money, deletes or restores asks first, takes --yes, and without a
terminal and without --yes refuses (exit 2) having changed nothing.

The refusals without a terminal run through invoke (tests/test_secrets.py, tests/test_operate.py show the --yes
runs); the answers at a terminal are scripted (support.Answers).
"""

import boto3
import pytest

from portyfoul_infra.options import DeleteOptions, RestoreOptions, SecretsRotateOptions
from portyfoul_infra.outcomes import Outcome
from support import Answers, invoke, make_ctx
from support.fakes import FakeAws, FakeCloudFormation, event

ASKING = ("secrets-rotate", "db-restore", "stack-delete", "stack-update", "adopt", "deploy-role")


@pytest.mark.parametrize("task", ASKING)
def test_every_asking_task_takes_yes_with_its_one_short_flag(task):
    assert "-y, --yes" in invoke("--help", task).stdout


def jwt_version(endpoint):
    sm = boto3.client("secretsmanager", region_name="us-east-2", endpoint_url=endpoint)
    return sm.get_secret_value(SecretId="portyfoul/dev/jwt-secret")["VersionId"]


def test_rotate_asks_and_a_no_changes_nothing(shared_dev_stack):
    from portyfoul_infra.verbs.secrets import secrets_rotate
    before = jwt_version(shared_dev_stack["AWS_ENDPOINT_URL"])
    person = Answers(False)
    ctx, out = make_ctx(prompt=person)
    assert secrets_rotate(ctx, SecretsRotateOptions(name="jwt-secret")).outcome is Outcome.REFUSED
    assert person.asked == ["rotate portyfoul/dev/jwt-secret now?"]
    assert "not confirmed; nothing changed" in out.getvalue()
    assert jwt_version(shared_dev_stack["AWS_ENDPOINT_URL"]) == before


def test_rotate_without_a_terminal_refuses(shared_dev_stack):
    before = jwt_version(shared_dev_stack["AWS_ENDPOINT_URL"])
    proc = invoke("secrets-rotate", "jwt-secret", env=shared_dev_stack)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: rotate portyfoul/dev/jwt-secret now? There is no terminal to confirm on: rerun with --yes")
    assert jwt_version(shared_dev_stack["AWS_ENDPOINT_URL"]) == before


def instances():
    return sorted(d["DBInstanceIdentifier"] for d in
                  boto3.client("rds", region_name="us-east-2").describe_db_instances()["DBInstances"])


def a_snapshot():
    rds = boto3.client("rds", region_name="us-east-2")
    return rds.describe_db_snapshots(DBInstanceIdentifier="portyfoul-dev-postgres")["DBSnapshots"][0][
        "DBSnapshotIdentifier"]


def test_restore_says_what_it_creates_asks_and_a_no_changes_nothing(shared_dev_stack):
    from portyfoul_infra.verbs.database import db_restore
    snapshot = a_snapshot()
    person = Answers(False)
    ctx, out = make_ctx(prompt=person)
    assert db_restore(ctx, RestoreOptions(snapshot=snapshot)).outcome is Outcome.REFUSED
    assert len(person.asked) == 1 and person.asked[0].startswith("create portyfoul-dev-restored-")
    assert "it is billed like the live one until you delete it" in out.getvalue()
    assert instances() == ["portyfoul-dev-postgres"]


def test_restore_without_a_terminal_refuses(shared_dev_stack):
    proc = invoke("db-restore", "--snapshot", a_snapshot(), env=shared_dev_stack)
    assert proc.returncode == 2 and "There is no terminal to confirm on: rerun with --yes" in proc.stderr
    assert instances() == ["portyfoul-dev-postgres"]


def test_stack_delete_without_a_terminal_names_both_ways_to_go_ahead(shared_dev_stack):
    proc = invoke("stack-delete", env=shared_dev_stack)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == ("error: there is no terminal to type the stack's name on: rerun "
                                                    "with --confirm portyfoul-infra or --yes; nothing changed")


def test_stack_delete_with_yes_goes_ahead_without_asking():
    from portyfoul_infra.verbs.teardown import stack_delete
    cfn = FakeCloudFormation(script=[("DELETE_COMPLETE", [event("portyfoul-infra", "DELETE_COMPLETE")])])
    cfn.list_stack_resources = lambda **kw: {"StackResourceSummaries": []}
    cfn.delete_stack = lambda **kw: cfn._record("delete_stack", kw)
    cfn.update_termination_protection = lambda **kw: cfn._record("update_termination_protection", kw)
    person = Answers()
    ctx, out = make_ctx(FakeAws(cloudformation=cfn), prompt=person)
    assert stack_delete(ctx, DeleteOptions(yes=True)).outcome is Outcome.APPLIED
    assert person.asked == [] and cfn.called("delete_stack")

