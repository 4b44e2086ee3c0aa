"""stack-delete checks first: everything that would stop CloudFormation part-way is refused before anything is
deleted, naming the setting and the command; the command it names, and the guide's teardown as written, delete
everything. In-process through the verb, on the local AWS (which refuses what AWS refuses: a protected database
or load balancer, a bucket or repository that is not empty, an export in use)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import replace

import boto3
import pytest

from portyfoul_infra import options as o
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.errors import UserError
from portyfoul_infra.local.server import ACCOUNT_ID, seed_image
from portyfoul_infra.options import DeleteOptions, UpdateOptions
from portyfoul_infra.outcomes import Outcome
from portyfoul_infra.verbs.stack import stack_update
from portyfoul_infra.verbs.teardown import stack_delete
from support import ROOT, Answers, make_ctx

REGION = "us-east-2"
STAGING = replace(ENVIRONMENTS["staging"], account_id=ACCOUNT_ID)   # the local AWS's account
STAGING_STACK = STAGING.stack_name


def client(name):
    return boto3.client(name, region_name=REGION)


def create_staging() -> None:
    """staging as the guide has it: deletion protection on the database and the load balancer."""
    ctx, out = make_ctx(env=STAGING, poll_seconds=0)
    assert stack_update(ctx, UpdateOptions(env="staging", yes=True)).ok, out.getvalue()


def options_of(command: str) -> DeleteOptions:
    """A stack-delete command line as printed, parsed as invoke parses it (tasks.py's flags), into its options."""
    from invoke import Collection
    from invoke.parser import Parser

    import tasks

    argv = shlex.split(command)
    assert argv[:2] == ["invoke", "stack-delete"], command
    parsed = Parser(contexts=Collection.from_module(tasks).to_contexts()).parse_argv(argv[1:])
    return o.from_flags(DeleteOptions, {k.replace("-", "_"): a.value for k, a in parsed[0].args.items()}, "stack-delete")


def stack_status(name: str) -> str:
    stacks = client("cloudformation").describe_stacks(StackName=name)["Stacks"]
    return stacks[0]["StackStatus"]


def protections() -> dict[str, str]:
    rds, elbv2 = client("rds"), client("elbv2")
    db = rds.describe_db_instances(DBInstanceIdentifier="portyfoul-staging-postgres")["DBInstances"][0]
    (alb,) = [b for b in elbv2.describe_load_balancers()["LoadBalancers"] if "staging" in b["LoadBalancerName"]]
    attrs = {a["Key"]: a["Value"] for a in elbv2.describe_load_balancer_attributes(
        LoadBalancerArn=alb["LoadBalancerArn"])["Attributes"]}
    return {"Database": str(db["DeletionProtection"]).lower(), "LoadBalancer": attrs["deletion_protection.enabled"]}


def deleted(name: str) -> bool:
    summaries = client("cloudformation").list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    return any(s["StackName"] == name for s in summaries)


def test_a_protected_environment_is_refused_up_front_and_the_command_it_names_deletes_it(aws_env):
    """The issue's staging teardown: refused before anything changes (it used to lift termination protection,
    delete 36 resources and end DELETE_FAILED on the database), naming the setting and the command; that
    command deletes everything, the database after its final snapshot."""
    create_staging()
    ctx, out = make_ctx(env=STAGING, poll_seconds=0)
    with pytest.raises(UserError) as refused:
        stack_delete(ctx, DeleteOptions(env="staging", yes=True))
    text = str(refused.value)
    assert text.startswith(f"deleting {STAGING_STACK} would stop part-way (DELETE_FAILED, the rest already deleted), "
                           "so nothing was deleted: deletion protection is on for Database (the database "
                           "portyfoul-staging-postgres), LoadBalancer (the load balancer ")
    assert ("(the stack parameter DeletionProtection: deletion_protection of staging in portyfoul_infra/config.py)"
            in text)
    assert ctx.journal.changes == []
    assert stack_status(STAGING_STACK) in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    stack = client("cloudformation").describe_stacks(StackName=STAGING_STACK)["Stacks"][0]
    assert stack["EnableTerminationProtection"] is True
    assert protections() == {"Database": "true", "LoadBalancer": "true"}
    assert not [e for e in client("cloudformation").describe_stack_events(StackName=STAGING_STACK)["StackEvents"]
                if e["ResourceStatus"].startswith("DELETE")]

    command = re.findall(r"`([^`]+)`", text)[-1]
    assert command == ("invoke stack-delete --env staging --yes --lift-protection Database "
                       "--lift-protection LoadBalancer")
    again, out = make_ctx(env=STAGING, poll_seconds=0)
    assert stack_delete(again, options_of(command)).outcome is Outcome.APPLIED, out.getvalue()
    assert deleted(STAGING_STACK)
    assert "deletion protection lowered on Database (the database portyfoul-staging-postgres)" in out.getvalue()
    assert client("rds").describe_db_instances()["DBInstances"] == []
    assert [s["DBSnapshotIdentifier"] for s in client("rds").describe_db_snapshots()["DBSnapshots"]] == [
        f"{STAGING_STACK}-database-final-snapshot"]
    assert "portyfoul/staging/jwt-secret" in {s["Name"] for s in client("secretsmanager").list_secrets()["SecretList"]}


def test_the_guides_staging_teardown_succeeds_as_written(aws_env):
    """docs/operations.md's teardown line, typed as it stands, with the stack's name typed at the prompt."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    (line,) = [ln.split("#")[0].strip() for ln in guide.splitlines() if ln.startswith("invoke stack-delete --env staging")]
    create_staging()
    ctx, out = make_ctx(env=STAGING, poll_seconds=0, prompt=Answers(STAGING_STACK))
    assert stack_delete(ctx, options_of(line)).outcome is Outcome.APPLIED, out.getvalue()
    assert deleted(STAGING_STACK)
    assert ctx.prompt.asked == [f"type the stack's name ({STAGING_STACK}) to delete it:"]


def test_lowering_a_protection_needs_its_name_and_a_name_that_protects_nothing_is_refused(shared_dev_stack):
    ctx, _ = make_ctx(poll_seconds=0)
    with pytest.raises(UserError) as refused:
        stack_delete(ctx, DeleteOptions(yes=True, lift_protection=("Databse",)))
    assert str(refused.value) == ("--lift-protection Databse: no resource of portyfoul-infra by that logical ID has "
                                  "deletion protection on (on: none); nothing changed")
    assert ctx.journal.changes == []


def test_what_would_refuse_the_deletion_is_named_all_at_once_and_nothing_is_deleted(aws_env):
    """A stack (by the name dev's stack has) with a bucket holding objects and a repository holding images, neither
    retained; an export another stack imports; a retained subnet in the VPC the deletion removes. One
    refusal names all four; the local AWS, asked directly, shows the partial delete it spared."""
    cfn = client("cloudformation")
    cfn.create_stack(StackName="portyfoul-infra", TemplateBody=json.dumps({
        "Resources": {
            "Logs": {"Type": "AWS::S3::Bucket"},
            "Images": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "portyfoul-extra"}},
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.9.0.0/16"}},
            "Kept": {"Type": "AWS::EC2::Subnet", "DeletionPolicy": "Retain", "Properties": {
                "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.9.1.0/24"}},
            "Topic": {"Type": "AWS::SNS::Topic"},
        },
        "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}, "Export": {"Name": "portyfoul-topic"}}}}))
    cfn.create_stack(StackName="reader", TemplateBody=json.dumps({"Resources": {"P": {
        "Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": {"Fn::ImportValue": "portyfoul-topic"}}}}}))
    bucket = cfn.describe_stack_resource(StackName="portyfoul-infra", LogicalResourceId="Logs")[
        "StackResourceDetail"]["PhysicalResourceId"]
    client("s3").put_object(Bucket=bucket, Key="a.log", Body=b"x")
    seed_image(client("ecr"), "portyfoul-extra", "demo0001")
    ctx, _ = make_ctx(poll_seconds=0)
    with pytest.raises(UserError) as refused:
        stack_delete(ctx, DeleteOptions(yes=True))
    text = str(refused.value)
    assert text.startswith("deleting portyfoul-infra would stop part-way (DELETE_FAILED, the rest already deleted), "
                           "so nothing was deleted: ")
    for said in ("Images (the image repository portyfoul-extra) is deleted with the stack but holds images",
                 f"Logs (the bucket {bucket}) is deleted with the stack but holds objects",
                 f"empty it (`aws s3 rm s3://{bucket} --recursive`, and its object versions), or keep it: "
                 "DeletionPolicy Retain on Logs in the template (`invoke build-template`, then `invoke stack-update "
                 "--env dev`)",
                 "the export portyfoul-topic of portyfoul-infra is imported by reader",
                 "Kept is retained but uses the VPC Vpc, which the deletion removes, and AWS refuses to delete a VPC in use"):
        assert said in text
    assert ctx.journal.changes == [] and stack_status("portyfoul-infra") == "CREATE_COMPLETE"
    assert not [e for e in cfn.describe_stack_events(StackName="portyfoul-infra")["StackEvents"]
                if e["ResourceStatus"].startswith("DELETE")]
    # What the refusal spared: once the export is free, CloudFormation deletes what it can and stops.
    cfn.delete_stack(StackName="reader")
    cfn.delete_stack(StackName="portyfoul-infra")
    assert stack_status("portyfoul-infra") == "DELETE_FAILED"
    gone = {e["LogicalResourceId"] for e in cfn.describe_stack_events(StackName="portyfoul-infra")["StackEvents"]
            if e["ResourceStatus"] == "DELETE_COMPLETE"}
    assert "Topic" in gone  # a partial delete
