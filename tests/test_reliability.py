"""Honest under signals, concurrency and odd input: what a process that is stopped, raced or fed an odd record
leaves behind, and what the next command says about it."""

import json
import signal
import subprocess
import sys
from types import SimpleNamespace

import boto3
import pytest

from portyfoul_infra.artifacts.generated import render
from portyfoul_infra.aws import lock
from portyfoul_infra.aws.adoption import Side, match
from portyfoul_infra.aws.lock import acquire, deployment
from portyfoul_infra.cfn_template import Resolver, load_template
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.contract import PLACEHOLDER_VALUE, is_placeholder, parameter_values
from portyfoul_infra.errors import UserError
from portyfoul_infra.local.server import seed_image
from portyfoul_infra.options import AdoptOptions, DeleteOptions, UpdateOptions
from portyfoul_infra.outcomes import Outcome, failure_exit
from portyfoul_infra.verbs import teardown
from portyfoul_infra.verbs.stack import stack_update
from support import FAST_POLL, ROOT, invoke, make_ctx
from support.fakes import STACK_ID, FakeAws, FakeCloudFormation, client_error, resource_change
from support.template import two_service_groups

REGION = "us-east-2"
HISTORY = "/portyfoul/dev/release-history"


def client(name):
    return boto3.client(name, region_name=REGION)


def history() -> list[dict]:
    from portyfoul_infra.aws.history import load
    return [r.as_dict() for r in load(make_ctx()[0])]


def put_history(records: list[dict]) -> None:
    """Write records over the stored ones, as a person or another process would (one parameter per record)."""
    for r in records:
        client("ssm").put_parameter(Name=f"/portyfoul/dev/releases/{r['id']}", Value=json.dumps(r), Type="String",
                                    Overwrite=True)


def running_task_definitions() -> dict[str, str]:
    ecs = client("ecs")
    names = ["portyfoul-dev-web-service", "portyfoul-dev-worker-service"]
    return {s["serviceName"]: s["taskDefinition"]
            for s in ecs.describe_services(cluster="portyfoul-dev-cluster", services=names)["services"]}


def start(env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=ROOT,
                            env={**env, "PORTYFOUL_POLL_SECONDS": FAST_POLL}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def wait_for(proc: subprocess.Popen, text: str) -> list[str]:
    """Read the command's output until `text` appears (an event, not a clock)."""
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never appeared:\n{''.join(seen)}")


# ---------- signals

@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGHUP"])
def test_a_release_stopped_by_a_signal_rolls_back_and_records_it(released_stack, signal_name):
    """A CI runner cancelling the job (SIGTERM) or a closed terminal (SIGHUP) mid-release: handled like Ctrl-C:
    the services go back, the history says so, exit 3 with what changed."""
    before = running_task_definitions()
    seed_image(client("ecr"), "portyfoul-dev", "demo0009-hang")
    proc = start(released_stack, "release", "--tag", "demo0009-hang", "--no-build")
    try:
        wait_for(proc, "in progress")  # the watch has started: new revisions are deploying
        proc.send_signal(getattr(signal, signal_name))
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, out + err
    assert f"interrupted ({signal_name})" in out + err
    assert running_task_definitions() == before
    newest = history()[0]
    assert newest["tag"] == "demo0009-hang" and newest["outcome"] == "failed"
    assert signal_name in newest["note"] and "rolled back" in newest["note"]


# ---------- one deployment at a time

def lock_of(ctx):
    return lock.read(ctx)


def test_a_second_deployment_is_refused_naming_the_holder_and_the_lock_is_given_back():

    aws = FakeAws(cloudformation=FakeCloudFormation(changes=[resource_change("WebTaskDefinition",
                                                                               "AWS::ECS::TaskDefinition")]))
    first, _ = make_ctx(aws)
    holder = acquire(first, "release --tag v2", 600)
    second, _ = make_ctx(aws)
    with pytest.raises(UserError) as refused:
        stack_update(second, UpdateOptions(yes=True))
    text = str(refused.value)
    assert text.startswith(f"another deployment holds dev: {holder.owner} running `release --tag v2` since")
    assert f"`invoke force-unlock --env dev --id {holder.id}`" in text and "Nothing changed" in text
    assert not aws.client("cloudformation").called("create_change_set")
    assert lock_of(first) == holder  # the refused one did not touch it


def test_a_lock_is_given_back_however_the_command_ends():

    ctx, _ = make_ctx(FakeAws())
    with pytest.raises(RuntimeError):
        with deployment(ctx, "release --tag v2", 600, settle_history=False):
            assert lock_of(ctx) is not None
            raise RuntimeError("boom")
    assert lock_of(ctx) is None


def test_two_releases_at_once_on_the_local_aws_one_is_refused(released_stack):
    """Two release processes started together: the one that does not get the lock refuses before it
    registers anything; the other deploys."""
    seed_image(client("ecr"), "portyfoul-dev", "demo0009-hang")
    seed_image(client("ecr"), "portyfoul-dev", "demo0010")
    first = start(released_stack, "release", "--tag", "demo0009-hang", "--no-build")
    try:
        wait_for(first, "in progress")  # it holds the lock and is deploying
        second = start(released_stack, "release", "--tag", "demo0010", "--no-build")
        out, err = second.communicate(timeout=120)
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    finally:
        for p in (first,):
            if p.poll() is None:
                p.kill()
    assert second.returncode == 2, out + err
    assert "another deployment holds dev:" in err and "running `release --tag demo0009-hang`" in err
    assert "demo0010" not in json.dumps(history())  # never recorded, never deployed
    assert first.returncode == 3


# ---------- the change sets a stack-update leaves

def test_a_change_set_left_behind_by_a_process_that_is_gone_is_deleted_not_a_roadblock():

    cfn = FakeCloudFormation(changes=[resource_change("WebTaskDefinition", "AWS::ECS::TaskDefinition")])
    cfn.pending_change_sets = [{"ChangeSetName": "portyfoul-update-20261126-000000-abc123", "ChangeSetId": "cs-old",
                                "Status": "CREATE_COMPLETE", "ExecutionStatus": "UNAVAILABLE",
                                "CreationTime": "2026-11-26T00:00:00Z"}]
    ctx, out = make_ctx(FakeAws(cloudformation=cfn))
    stack_update(ctx, UpdateOptions(yes=True))
    assert {"ChangeSetName": "cs-old", "StackName": STACK_ID} in cfn.called("delete_change_set")
    assert "deleted the change set portyfoul-update-20261126-000000-abc123 (UNAVAILABLE" in out.getvalue()
    assert cfn.called("create_change_set")


def test_a_change_set_aws_refuses_to_execute_is_deleted_and_nothing_changed():

    cfn = FakeCloudFormation(changes=[resource_change("WebTaskDefinition", "AWS::ECS::TaskDefinition")])

    def refuse(**kwargs):
        raise client_error("InvalidChangeSetStatus", "ChangeSet is in UNAVAILABLE state", "ExecuteChangeSet")
    cfn.execute_change_set = refuse
    ctx, _ = make_ctx(FakeAws(cloudformation=cfn))
    with pytest.raises(UserError) as refused:
        stack_update(ctx, UpdateOptions(yes=True))
    message, code = failure_exit(refused.value, ctx.journal)
    assert code == 2 and "ChangeSet is in UNAVAILABLE state" in message
    assert "the change set was deleted and nothing changed" in message
    assert cfn.called("delete_change_set") == [{"ChangeSetName": "arn:aws:cloudformation:us-east-2:946652103073:"
                                                                 "changeSet/cs/1", "StackName": STACK_ID}]


# ---------- the release history: validated on read, never overwritten

def task_definition_revisions() -> list[str]:
    return sorted(client("ecs").list_task_definitions()["taskDefinitionArns"])


SHAPES = [
    ("[1, 2, 3]", "record 1: a JSON int where a release record belongs"),
    ('"a string"', "a JSON str where a list of releases belongs"),
    ('{"a": 1}', "a JSON dict where a list of releases belongs"),
    ('[{"id": "1", "tag": "v1", "at": "2026-11-26T00:00:00Z"}]', "record 1: no services"),
    ('[{"id": "1", "tag": "v1", "at": "2026-11-26T00:00:00Z", "services": {"web": {"previous": "a"}}}]',
     "record 1: service 'web' is not {previous, deployed}"),
    ('[{"id": "1", "tag": "v1", "at": "2026-11-26T00:00:00Z", "outcome": "great", "services": {"web": {'
     '"previous": "a", "deployed": "b"}}}]', "record 1: outcome 'great' is none of in progress, succeeded, failed"),
    ('[{"id": "1", "tag": "demo0001\\nsucceeded", "at": "2026-11-26T00:00:00Z", "services": {"web": {'
     '"previous": "a", "deployed": "b"}}}]', "record 1: tag 'demo0001\\nsucceeded' is not a release tag"),
    ('[{"id": "1", "tag": "v1", "at": "yesterday", "services": {"web": {"previous": "a", "deployed": "b"}}}]',
     "record 1: at 'yesterday' is not a UTC time (2026-11-26T01:02:03Z)"),
    ('[{"id": "1", "tag": "v1", "at": "2026-11-26T00:00:00Z", "services": {"db": {"previous": "a", '
     '"deployed": "b"}}}]', "record 1: service 'db' is none of web, worker"),
    ('[{"id": "1", "tag": "v1", "at": "2026-11-26T00:00:00Z", "services": {"web": {"previous": "a", '
     '"deployed": "b"}}}, {"id": "1", "tag": "v2", "at": "2026-11-27T00:00:00Z", "services": {"web": {'
     '"previous": "b", "deployed": "c"}}}]', "record id '1' appears twice"),
    ("[" * 5000 + "]" * 5000, "JSON nested deeper than any history"),
    ("{not json", "not JSON"),
]


def test_fields_a_later_version_wrote_are_kept_on_every_write():
    from portyfoul_infra.aws.history import parse
    record = {"id": "1", "tag": "v1", "at": "2026-11-26T00:00:00Z", "services": {"web": {"previous": "a",
              "deployed": "b"}}, "outcome": "succeeded", "note": "", "digest": "", "kind": "release",
              "approved_by": "alice"}
    (parsed,) = parse(json.dumps([record]), HISTORY)
    assert parsed.as_dict() == record


@pytest.mark.parametrize("value, why", SHAPES)
def test_a_history_of_another_shape_is_named_with_what_is_wrong(value, why):
    from portyfoul_infra.aws.history import HistoryError, parse
    with pytest.raises(HistoryError) as refused:
        parse(value, HISTORY)
    assert str(refused.value).startswith(f"the release history {HISTORY} is not what this tool writes ({why}); "
                                         "nothing changed, and it is not overwritten")
    assert "release-history-last-good" in str(refused.value) and "aws ssm delete-parameter" in str(refused.value)


def test_a_history_of_another_shape_is_refused_by_every_reader_and_never_overwritten(released_stack):
    """Every task that reads it refuses in one line (exit 2) before changing anything; nothing overwrites it."""
    value, why = SHAPES[0]
    ssm = client("ssm")
    ssm.put_parameter(Name=HISTORY, Value=value, Type="String", Overwrite=True)
    revisions = task_definition_revisions()
    seed_image(client("ecr"), "portyfoul-dev", "demo0011")
    for args in (("release-status",), ("release", "--tag", "demo0011", "--no-build"), ("rollback",),
                 ("stack-update", "--yes")):
        proc = invoke(*args, env=released_stack)
        assert proc.returncode == 2, (args, proc.stdout + proc.stderr)
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: the release history {HISTORY} is not what this tool writes ({why}); "
                               "nothing changed"), (args, last)
        assert "Traceback" not in proc.stderr
    assert ssm.get_parameter(Name=HISTORY)["Parameter"]["Value"] == value  # never overwritten
    assert task_definition_revisions() == revisions  # the release registered nothing


# ---------- a record left "in progress" by a process that is gone

def abandon_newest_release():
    """As if the process that ran the newest release had been killed before recording how it ended."""
    records = history()
    records[0]["outcome"], records[0]["note"] = "in progress", ""
    put_history(records)


def test_the_next_command_settles_a_release_its_killed_process_left_in_progress(released_stack):
    abandon_newest_release()  # demo0001: ECS completed it, so it runs
    status = invoke("release-status", env=released_stack)
    assert "in progress" in status.stdout  # a read changes nothing
    proc = invoke("stack-update", "--yes", env=released_stack)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("the release of demo0001 (" in proc.stderr and "was left in progress by a process that is gone: "
            "succeeded (web runs it, worker runs it)" in proc.stderr)
    newest = history()[0]
    assert newest["outcome"] == "succeeded" and newest["note"].startswith("reconciled: its process was gone")


def test_a_release_left_in_progress_whose_services_went_back_is_settled_as_failed(released_stack):
    seed_image(client("ecr"), "portyfoul-dev", "demo0013")
    assert invoke("release", "--tag", "demo0013", "--no-build", env=released_stack).returncode == 0
    records = history()
    records[0]["outcome"] = "in progress"
    # the services were put back (by hand, or by a rollback whose process died too)
    ecs = client("ecs")
    for key, change in records[0]["services"].items():
        name = f"portyfoul-dev-{key}-service"
        ecs.update_service(cluster="portyfoul-dev-cluster", service=name, taskDefinition=change["previous"])
    put_history(records)
    proc = invoke("rollback", "--to", "demo0001", env=released_stack)
    assert "left in progress by a process that is gone: failed (web went back, worker went back)" in proc.stderr
    assert next(r for r in history() if r["tag"] == "demo0013")["outcome"] == "failed"


def test_a_stack_update_never_moves_a_service_off_the_image_it_runs(released_stack):
    """The issue's scenario: a release killed after web moved; stack-update keeps what each service runs."""
    seed_image(client("ecr"), "portyfoul-dev", "demo0014")
    assert invoke("release", "--tag", "demo0014", "--no-build", "--service", "web", env=released_stack).returncode == 0
    records = history()
    records[0]["outcome"] = "failed"
    put_history(records)
    proc = invoke("stack-update", "--yes", env=released_stack)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "web runs demo0014, whose release failed; keeping it" in proc.stderr
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in client("cloudformation").describe_stacks(
        StackName="portyfoul-infra")["Stacks"][0]["Parameters"]}
    assert parameters["ImageTag"] == "demo0014" and parameters["WorkerImageTag"] == "demo0001"
    images = {k: v.rsplit(":", 1)[1] for k, v in running_images().items()}
    assert images == {"portyfoul-dev-web-service": "demo0014", "portyfoul-dev-worker-service": "demo0001"}


def running_images() -> dict[str, str]:
    ecs = client("ecs")
    return {name: ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]["containerDefinitions"][0]["image"]
            for name, td in running_task_definitions().items()}


# ---------- smaller findings

def test_a_full_width_digit_is_refused_and_nothing_is_written(shared_dev_stack):
    proc = invoke("config-set", "price-update-interval", "５", env=shared_dev_stack)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: price-update-interval must be a whole number of minutes from 1 to 1440; "
                                   "got '５'")


def test_only_the_placeholder_itself_is_the_placeholder():
    assert is_placeholder(PLACEHOLDER_VALUE) and is_placeholder("  ") and is_placeholder(f" {PLACEHOLDER_VALUE}\n")
    assert not is_placeholder("PLACEHOLDER-but-a-real-key-a-vendor-issued")
    assert not is_placeholder("PLACEHOLDERS")


def test_two_maps_onto_one_of_ours_are_refused_in_words_not_a_tuple():
    with pytest.raises(UserError) as refused:
        AdoptOptions(map=("ECSSecurityGroup=ServiceSecurityGroup", "ECSSecurityGroup2=ServiceSecurityGroup")).overrides()
    assert str(refused.value) == (
        "--map ECSSecurityGroup=ServiceSecurityGroup and --map ECSSecurityGroup2=ServiceSecurityGroup both name our "
        "ServiceSecurityGroup: one live resource becomes it, the other stays the live stack's own")
    assert "(" not in str(refused.value).split(":")[0]


def test_an_ambiguous_match_names_the_identity_in_words():

    ours = json.loads(render().text)
    live = two_service_groups(load_template((ROOT / "tests" / "fixtures" / "live-stack.yaml").read_text()))
    pseudo = {"AWS::AccountId": "946652103073", "AWS::Region": REGION, "AWS::StackName": "portyfoul-infra",
              "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
    with pytest.raises(UserError) as refused:
        match(Side("live", live, Resolver(live, {}, pseudo)),
              Side("ours", ours, Resolver(ours, parameter_values(ENVIRONMENTS["dev"]), pseudo)), {})
    assert ("ECSSecurityGroup and ECSSecurityGroup2 all match our ServiceSecurityGroup (used by AWS::ECS::Service "
            "name portyfoul-dev-web-service); settle it with --map OLD=ServiceSecurityGroup") in str(refused.value)
    assert "('" not in str(refused.value)


def test_rollback_to_a_release_whose_image_left_ecr_is_refused_before_anything(released_stack):
    seed_image(client("ecr"), "portyfoul-dev", "demo0015")
    assert invoke("release", "--tag", "demo0015", "--no-build", env=released_stack).returncode == 0
    client("ecr").batch_delete_image(repositoryName="portyfoul-dev", imageIds=[{"imageTag": "demo0001"}])
    before = running_task_definitions()
    proc = invoke("rollback", "--to", "demo0001", env=released_stack)
    assert proc.returncode == 2
    assert "the image of release demo0001 is no longer in portyfoul-dev (expired by its lifecycle rule?)" in proc.stderr
    assert running_task_definitions() == before and history()[0]["tag"] == "demo0015"


def test_stack_delete_during_a_deployment_is_refused(released_stack):
    seed_image(client("ecr"), "portyfoul-dev", "demo0016-hang")
    release = start(released_stack, "release", "--tag", "demo0016-hang", "--no-build")
    try:
        wait_for(release, "in progress")
        held = invoke("stack-delete", "--yes", env=released_stack)
        assert held.returncode == 2 and "another deployment holds dev" in held.stderr  # the lock says so first
        release.send_signal(signal.SIGTERM)
        release.communicate(timeout=120)
    finally:
        if release.poll() is None:
            release.kill()
    assert client("cloudformation").describe_stacks(StackName="portyfoul-infra")["Stacks"][0]["StackStatus"] in (
        "UPDATE_COMPLETE", "CREATE_COMPLETE")


def test_stack_delete_while_ecs_deploys_something_started_elsewhere_is_refused(monkeypatch):
    """A deployment this tool did not start (the console, another tool) holds no lock; ECS says it runs."""

    busy = SimpleNamespace(name="portyfoul-dev-web-service", busy="PRIMARY IN_PROGRESS")
    monkeypatch.setattr(teardown, "read_services", lambda ctx, stack: [busy])
    cfn = FakeCloudFormation()
    with pytest.raises(UserError, match="a deployment is in progress on portyfoul-dev-web-service \\(PRIMARY "
                                        "IN_PROGRESS\\): wait for it"):
        teardown.stack_delete(make_ctx(FakeAws(cloudformation=cfn))[0], DeleteOptions(yes=True))
    assert not cfn.called("delete_stack") and not cfn.called("update_termination_protection")


# ---------- a tag pushed over, a deployment nothing will finish, a converging update cut short

def push_over(tag: str) -> str:
    """Another image under `tag` (deleted, then pushed again with other content): what a mutable repository, or
    someone with rights to delete, allows."""
    ecr = client("ecr")
    ecr.batch_delete_image(repositoryName="portyfoul-dev", imageIds=[{"imageTag": tag}])
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                                      "digest": "sha256:" + "c" * 64},
                           "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1,
                                       "digest": "sha256:" + "d" * 64}]}, sort_keys=True)
    return ecr.put_image(repositoryName="portyfoul-dev", imageManifest=manifest, imageTag=tag)["image"][
        "imageId"]["imageDigest"]


def test_a_rollback_to_a_tag_pushed_over_is_refused(released_stack):
    seed_image(client("ecr"), "portyfoul-dev", "demo0021")
    assert invoke("release", "--tag", "demo0021", "--no-build", env=released_stack).returncode == 0
    other = push_over("demo0001")
    before = running_task_definitions()
    proc = invoke("rollback", env=released_stack)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"the tag demo0001 now names another image in portyfoul-dev ({other[:19]}; released as" in proc.stderr
    assert running_task_definitions() == before and history()[0]["tag"] == "demo0021"


def test_a_stack_update_refuses_when_the_running_tag_names_another_image_now(released_stack):
    push_over("demo0001")  # what both services run
    proc = invoke("stack-update", "--yes", env=released_stack)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the running tag demo0001 now names another image" in proc.stderr and "Nothing changed" in proc.stderr
    client("ecr").batch_delete_image(repositoryName="portyfoul-dev", imageIds=[{"imageTag": "demo0001"}])
    gone = invoke("stack-update", "--yes", env=released_stack)
    assert gone.returncode == 2 and "the running tag demo0001 is no longer in ECR" in gone.stderr


def test_a_deployment_a_stopped_release_left_running_can_be_replaced_by_a_rollback(released_stack):
    seed_image(client("ecr"), "portyfoul-dev", "demo0022-hang")
    release = start(released_stack, "release", "--tag", "demo0022-hang", "--no-build")
    try:
        wait_for(release, "in progress")
        release.kill()   # SIGKILL: no handler runs; the deployment goes on, the lock stays
        release.wait(timeout=60)
    finally:
        if release.poll() is None:
            release.kill()
    holder = json.loads(client("ssm").get_parameter(Name="/portyfoul/dev/deploy-lock")["Parameter"]["Value"])
    assert invoke("force-unlock", "--id", holder["id"], "--yes", env=released_stack).returncode == 0
    stuck = invoke("rollback", env=released_stack)
    assert stuck.returncode == 2
    assert "`invoke rollback --env dev --replace-deployment`" in stuck.stderr  # the command run next
    replaced = invoke("rollback", "--replace-deployment", env=released_stack)
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert ("the release of demo0022-hang (" in replaced.stderr
            and "was left in progress by a process that is gone: failed" in replaced.stderr)
    assert next(r for r in history() if r["tag"] == "demo0022-hang")["outcome"] == "failed"
    assert all(image.endswith(":demo0001") for image in running_images().values())


def test_a_converging_update_cut_short_gets_its_protections_from_the_next_one():
    """An update that ended without protections (cut short after its change set ran): the next stack-update,
    with nothing to change, turns termination protection on and sets the stack policy."""
    cfn = FakeCloudFormation(change_set_status="FAILED", change_set_reason="The submitted information didn't "
                             "contain changes. Submit different information to create a change set.")
    cfn.termination_protection, cfn.policy = False, ""
    ctx, out = make_ctx(FakeAws(cloudformation=cfn))
    assert stack_update(ctx, UpdateOptions(yes=True)).outcome is Outcome.NO_CHANGES, out.getvalue()
    assert cfn.termination_protection is True and "LogicalResourceId/Database" in cfn.policy
    assert "termination protection on; stack policy denies replacing or deleting the database" in out.getvalue()
