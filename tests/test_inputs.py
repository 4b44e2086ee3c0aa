"""Input that must never mean something else: an environment is always named, numbers are digits, a secret is one
line, a flag that allows or maps something names what exists, and every refusal's suggestion works (issue 27,
items 1 and 8).

Most of these are refusals that never reach AWS: options.from_flags and the tasks' own wrappers are called in
this process. One `invoke` subprocess shows what a user's shell sees when a script's `$ENV` is unset.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest
from invoke import Context, Exit, Task

import tasks
from portyfoul_infra import options as o
from portyfoul_infra.errors import UserError
from portyfoul_infra.local.server import ACCOUNT_ID, seed_image
from portyfoul_infra.outcomes import Outcome
from support import ROOT, invoke, make_ctx
from support.fakes import FakeAws, FakeCloudFormation, resource_change
from support.stacks import client, set_finnhub_key

CLOSED = "http://127.0.0.1:9"   # loopback, nothing listens: a task that got as far as AWS would say so
HEADER = f"environment dev · account {ACCOUNT_ID} · region us-east-2 · stack portyfoul-infra"


def task_named(name: str) -> Task:
    return getattr(tasks, name.replace("-", "_"))


def run_task(name: str, capsys, **flags) -> tuple[int, str, str]:
    """A task run in this process as invoke runs it (its flags' defaults as invoke passes them, positional
    arguments given), with no AWS to reach: (exit code, stdout, stderr)."""
    task = task_named(name)
    signature = task.body.__signature__
    given = {p.name: ("x" if p.default is None else p.default) for p in list(signature.parameters.values())[1:]}
    capsys.readouterr()
    try:
        task(Context(), **{**given, **flags})
        code = 0
    except Exit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def environment_flags() -> list[tuple[str, str]]:
    """(task, flag parameter) for every task flag that names an environment (its value shown as ENV): --env, and
    promote's --from and --to (rollback's --to is a tag)."""
    found = []
    for task in vars(tasks).values():
        if isinstance(task, Task):
            found += [(task.name.replace("_", "-"), name) for name, shown in task.metavars.items() if shown == "ENV"]
    return sorted(found)


# ---------------------------------------------------------------- 1. an environment is always named

def test_an_unset_env_in_a_script_deletes_nothing_and_says_so_in_one_line(shared_dev_stack):
    """The reported run: `invoke stack-delete --env "$ENV" --yes` with ENV unset deleted the dev stack. Now one
    line on stderr, exit 2, nothing on stdout, nothing changed (the shared stack's fixture checks)."""
    proc = invoke("stack-delete", "--env", "", "--yes", env=shared_dev_stack)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == ("error: --env '' names no environment: choose dev, staging, prod; an empty value never "
                           "means one (an unset variable in a script?); nothing changed\n")
    assert client("cloudformation").describe_stacks(StackName="portyfoul-infra")["Stacks"]


def test_every_environment_flag_is_known():
    assert ("promote", "from_") in environment_flags() and ("promote", "to") in environment_flags()
    assert ("stack-delete", "env") in environment_flags() and len(environment_flags()) >= 25


@pytest.mark.parametrize("task, flag", environment_flags())
@pytest.mark.parametrize("value", ["", " ", "\t"])
def test_an_empty_or_blank_environment_is_refused_before_anything(task, flag, value, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", CLOSED)
    extra = {"tag": "1a2b3c4d"} if task == "promote" else {}
    code, out, err = run_task(task, capsys, **{flag: value}, **extra)
    shown = "--" + flag.rstrip("_")
    assert code == 2 and out == ""
    assert err == (f"error: {shown} {value!r} names no environment: choose dev, staging, prod; an empty value "
                   "never means one (an unset variable in a script?); nothing changed\n")


def test_no_code_path_turns_an_empty_name_into_dev():
    from portyfoul_infra.console import Console
    from portyfoul_infra.outcomes import Journal
    with pytest.raises(UserError, match=r"^unknown environment ''"):
        tasks.make_ctx("", Console(), Journal())


def test_what_deletes_restores_or_signs_people_out_names_environment_and_account_first(dev_stack):
    """Run with --yes and no terminal (no prompt), each such task's first line is the environment and the account
    it acts on: secrets-rotate and secrets-set of the JWT key (they sign everyone out), force-unlock, db-restore,
    stack-delete."""
    from portyfoul_infra.options import (
        DeleteOptions,
        ForceUnlockOptions,
        RestoreOptions,
        SecretsRotateOptions,
        SecretsSetOptions,
    )
    from portyfoul_infra.verbs.database import db_restore
    from portyfoul_infra.verbs.lock import force_unlock
    from portyfoul_infra.verbs.secrets import secrets_rotate, secrets_set
    from portyfoul_infra.verbs.teardown import stack_delete

    rds = client("rds")
    rds.create_db_snapshot(DBInstanceIdentifier="portyfoul-dev-postgres", DBSnapshotIdentifier="before")
    runs = [(secrets_rotate, SecretsRotateOptions(name="jwt-secret", yes=True), {}),
            (secrets_set, SecretsSetOptions(name="jwt-secret"), {"read_secret": lambda prompt: "a-new-jwt-key"}),
            (force_unlock, ForceUnlockOptions(id="19a2b3c4d5e-4242", yes=True), {}),
            (db_restore, RestoreOptions(snapshot="before", yes=True), {}),
            (stack_delete, DeleteOptions(yes=True), {})]
    for verb, opts, extra in runs:
        ctx, out = make_ctx(poll_seconds=0, **extra)
        assert ctx.prompt is None
        verb(ctx, opts)
        first = out.getvalue().splitlines()[0]
        assert first.startswith(HEADER), (verb.__name__, out.getvalue()[:500])


# ---------------------------------------------------------------- 2. numbers are ASCII digits

def number_flags() -> list[tuple[type, str]]:
    found = []
    for value in vars(o).values():
        if isinstance(value, type) and dataclasses.is_dataclass(value):
            found += [(value, f.name) for f in o.flag_fields(value) if f.type in ("int", int)]
    return found


@pytest.mark.parametrize("cls, name", number_flags(), ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("typed", ["²", "--5", "٣", "5\x00", "1e3", "0x10", "+5", "9" * 5000, "-" + "9" * 5000])
def test_every_number_flag_takes_ascii_digits_only_in_one_line(cls, name, typed):
    given = {f.name: "x" for f in o.flag_fields(cls) if f.metadata.get("positional")}
    with pytest.raises(UserError) as refused:
        o.from_flags(cls, {**given, name: typed})
    message = str(refused.value)
    assert message.startswith(f"--{name.replace('_', '-')} ") and "\n" not in message and len(message) < 160


@pytest.mark.parametrize("task, flags", [
    ("release", {"timeout": "²"}), ("release", {"timeout": "--5"}), ("sandbox", {"port": "²"}),
    ("stack-update", {"timeout": "٣"}), ("run", {"timeout": "1" + "0" * 5000}),
])
def test_the_reported_tracebacks_are_one_line_and_exit_2(task, flags, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", CLOSED)
    code, out, err = run_task(task, capsys, **flags)
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: --{next(iter(flags))} ") and "Traceback" not in err


def test_other_numbers_typed_by_people_are_ascii_too(monkeypatch):
    from portyfoul_infra.aws.clients import _int_env
    from portyfoul_infra.verbs.logs import parse_since
    with pytest.raises(UserError, match=r"^--since '٣m': use a number"):
        parse_since("٣m")
    with pytest.raises(UserError, match=r"at most 90d$"):
        parse_since("1" + "0" * 5000 + "s")
    assert parse_since("10m") == 600
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "²")
    with pytest.raises(UserError, match=r"^AWS_MAX_ATTEMPTS='²': must be a whole number from 1 to 20$"):
        _int_env("AWS_MAX_ATTEMPTS", 8)


# ---------------------------------------------------------------- 3. a secret is one line of printable characters

SECRET = "s3cr3t-VALUE-9f2"


@pytest.mark.parametrize("value, where", [
    (SECRET[:4] + "\r" + SECRET[4:], "a carriage return at character 5"),
    (SECRET[:4] + "\x00" + SECRET[4:], "a NUL at character 5"),
    (SECRET + "\r", "a carriage return as its last character"),
    (SECRET + "\n\n", "a line break as its last character"),
    (SECRET + "\r\r\n", "a carriage return as its last character"),
    ("\t" + SECRET, "a tab at character 1"),
    (SECRET + "\x1b[0m", "an escape at character 17"),
    (SECRET[:3] + "\u2028" + SECRET[3:], "a line separator at character 4"),
    ("\ufeff" + SECRET, "a byte order mark at character 1"),
    (SECRET[:2] + "\x7f" + SECRET[2:], "a control character (U+007F) at character 3"),
])
def test_a_control_character_in_a_value_is_refused_saying_where_never_what(value, where):
    from portyfoul_infra.verbs.secrets import validate_secret_value
    with pytest.raises(UserError) as refused:
        validate_secret_value(value)
    message = str(refused.value)
    assert f"refusing a value with {where}" in message and "nothing was written" in message
    assert SECRET[:4] not in message and SECRET[4:] not in message and "\n" not in message


def test_one_line_ending_at_the_very_end_ends_the_input():
    from portyfoul_infra.verbs.secrets import line_ending, validate_secret_value
    assert validate_secret_value(SECRET + "\n") == SECRET            # echo "$KEY" |
    assert validate_secret_value(SECRET + "\r\n") == SECRET          # a line of a Windows file
    assert validate_secret_value(SECRET) == SECRET                   # printf %s "$KEY" |, or the hidden prompt
    assert (line_ending(SECRET + "\n"), line_ending(SECRET + "\r\n"), line_ending(SECRET)) == ("\n", "\r\n", "")


def test_secrets_set_writes_the_value_without_its_line_ending_and_says_so(dev_stack):
    from portyfoul_infra.options import SecretsSetOptions
    from portyfoul_infra.verbs.secrets import secrets_set
    sm = client("secretsmanager")
    before = sm.get_secret_value(SecretId="portyfoul/dev/finnhub-api-key")["VersionId"]
    ctx, out = make_ctx(read_secret=lambda prompt: "fh-" + SECRET[:4] + "\r" + SECRET[4:])
    with pytest.raises(UserError, match="a carriage return at character 8"):
        secrets_set(ctx, SecretsSetOptions(name="finnhub-api-key"))
    assert sm.get_secret_value(SecretId="portyfoul/dev/finnhub-api-key")["VersionId"] == before
    ctx, out = make_ctx(read_secret=lambda prompt: "fh-" + SECRET + "\r\n")
    assert secrets_set(ctx, SecretsSetOptions(name="finnhub-api-key")).outcome is Outcome.APPLIED
    assert sm.get_secret_value(SecretId="portyfoul/dev/finnhub-api-key")["SecretString"] == "fh-" + SECRET
    assert "the line ending the input ended with (what `echo` adds) is not part of the value" in out.getvalue()
    assert SECRET not in out.getvalue()


# ---------------------------------------------------------------- 4. --allow-* names a finding, in diff as in update

DB_REPLACED = resource_change("Database", "AWS::RDS::DBInstance", replacement="True",
                              policy_action="ReplaceAndSnapshot", details=("DBName",))
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."


@pytest.mark.parametrize("cfn_args, expected", [
    ({"changes": [DB_REPLACED]},
     "--allow-interruption Databse: this change set has no such finding; it needs: --allow-replace Database"),
    ({"change_set_status": "FAILED", "change_set_reason": NO_CHANGES},
     "there is nothing to change, so --allow-interruption Databse allows nothing (a typo?)"),
])
def test_stack_diff_refuses_the_allowance_typo_stack_update_refuses_in_the_same_words(cfn_args, expected):
    from portyfoul_infra.verbs.stack import stack_diff, stack_update
    said = []
    for verb, opts in ((stack_diff, o.DiffOptions(allow_interruption=("Databse",))),
                       (stack_update, o.UpdateOptions(yes=True, allow_interruption=("Databse",)))):
        cfn = FakeCloudFormation(**cfn_args)
        with pytest.raises(UserError) as refused:
            verb(make_ctx(FakeAws(cloudformation=cfn))[0], opts)
        said.append(str(refused.value))
        assert cfn.called("execute_change_set") == [] and cfn.called("delete_change_set")
    assert said == [expected, expected]


def test_stack_diff_with_an_allowance_that_names_a_finding_previews_it():
    from portyfoul_infra.verbs.stack import stack_diff
    ctx, out = make_ctx(FakeAws(cloudformation=FakeCloudFormation(changes=[DB_REPLACED])))
    assert stack_diff(ctx, o.DiffOptions(allow_replace=("Database",))).outcome is Outcome.NO_CHANGES
    assert "allowed by --allow-replace: Database" in out.getvalue()


# ---------------------------------------------------------------- 5. deliver suggests what deliver has

def _checkout(directory) -> str:
    """A git checkout of a tiny application (its own content, so its own commit); returns its HEAD."""
    directory.mkdir()
    (directory / "Dockerfile").write_text("FROM node:22-alpine\n")
    (directory / "README").write_text(f"{directory.name}\n")
    git = ["git", "-C", str(directory), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "app"]):
        subprocess.run([*git, *cmd], check=True, capture_output=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


class Docker:
    """docker as the build and push see it: buildx there (or not), a push puts the image into the local ECR."""

    def __init__(self, available: bool = True):
        self.available, self.commands = available, []

    def __call__(self, cmd, stdin):
        self.commands.append(list(cmd))
        if cmd[:3] == ["docker", "buildx", "version"]:
            return 0 if self.available else 1
        if cmd[:2] == ["docker", "push"]:
            uri, tag = cmd[2].rsplit(":", 1)
            if tag != "latest":
                seed_image(client("ecr"), uri.split("/", 1)[1], tag)
        return 0


def test_a_deliver_that_cannot_build_suggests_what_deliver_has_and_the_suggestion_works(dev_stack, tmp_path,
                                                                                         monkeypatch):
    from portyfoul_infra.options import DeliverOptions
    from portyfoul_infra.verbs.delivery import deliver
    from support.docker import install_fake_docker

    set_finnhub_key()
    bindir, _ = install_fake_docker(tmp_path)
    monkeypatch.setenv("PATH", f"{bindir}:{__import__('os').environ['PATH']}")   # `docker` is on the PATH
    bare, app = tmp_path / "bare", tmp_path / "app"
    sha = _checkout(app)
    bare.mkdir()

    ctx, _ = make_ctx(runner=Docker(), poll_seconds=0)
    with pytest.raises(UserError) as refused:
        deliver(ctx, DeliverOptions(env="dev", sha=sha, app_dir=str(bare)))
    message = str(refused.value)
    assert "--no-build" not in message and "nothing was built or deployed" in message
    assert f"`invoke deliver --env dev --sha {sha} --app-dir DIR`" in message
    docker = Docker()
    ctx, out = make_ctx(runner=docker, poll_seconds=0)               # the suggestion: --app-dir at the checkout
    assert deliver(ctx, DeliverOptions(env="dev", sha=sha, app_dir=str(app))).outcome is Outcome.APPLIED, out.getvalue()
    assert any(c[:3] == ["docker", "buildx", "build"] for c in docker.commands)

    other = _checkout(tmp_path / "other")
    ctx, _ = make_ctx(runner=Docker(available=False), poll_seconds=0)
    with pytest.raises(UserError) as refused:
        deliver(ctx, DeliverOptions(env="dev", sha=other, app_dir=str(tmp_path / "other")))
    message = str(refused.value)
    assert "--no-build" not in message and message.startswith("docker with buildx is not available")
    assert f"push the image built from {other[:12]} to ECR under the tag {other[:8]} and run `invoke deliver " \
           f"--env dev --sha {other}` again" in message
    seed_image(client("ecr"), "portyfoul-dev", other[:8])             # the suggestion: pushed from elsewhere
    docker = Docker(available=False)
    ctx, out = make_ctx(runner=docker, poll_seconds=0)
    assert deliver(ctx, DeliverOptions(env="dev", sha=other)).outcome is Outcome.APPLIED, out.getvalue()
    assert f"released {other[:8]}" in out.getvalue() and not any("build" in c for c in docker.commands)


# ---------------------------------------------------------------- 6. --map settles a tie, never contradicts identity

FIXTURE = ROOT / "tests" / "fixtures" / "live-stack.yaml"


def _match(overrides: dict, template: dict, live: dict | None = None) -> dict:
    from portyfoul_infra.aws.adoption import Side, match
    from portyfoul_infra.cfn_template import Resolver, load_template
    from portyfoul_infra.config import ENVIRONMENTS
    from portyfoul_infra.contract import parameter_values
    pseudo = {"AWS::AccountId": ACCOUNT_ID, "AWS::Region": "us-east-2", "AWS::StackName": "portyfoul-infra",
              "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
    live = live or load_template(FIXTURE.read_text())
    return match(Side("live", live, Resolver(live, {"ProjectName": "portyfoul", "Environment": "dev"}, pseudo)),
                 Side("ours", template, Resolver(template, parameter_values(ENVIRONMENTS["dev"]), pseudo)), overrides)


@pytest.mark.parametrize("overrides, said", [
    ({"Database": "PostgresDB"}, "--map Database=PostgresDB is the wrong way round: left of = is the live stack's "
                                 "logical ID (PostgresDB), right of = is ours (Database): --map PostgresDB=Database"),
    ({"PostgresDB": "Repository"}, "--map PostgresDB=Repository: PostgresDB is AWS::RDS::DBInstance but Repository "
                                   "is AWS::ECR::Repository (the live PostgresDB left of =, our Repository right of "
                                   "=): a map joins two resources of one type"),
    ({"PostgresDB": "Databse"}, "--map PostgresDB=Databse: right of = is our logical ID, and our template has no "
                                "resource 'Databse'; its logical IDs: "),
    ({"Nope": "Database"}, "--map Nope=Database: left of = is the live stack's logical ID, and the live stack has "
                           "no resource 'Nope'; its logical IDs: "),
    ({"ALBSecurityGroup": "ServiceSecurityGroup", "ECSSecurityGroup": "LoadBalancerSecurityGroup"},
     "--map ALBSecurityGroup=ServiceSecurityGroup contradicts what identity tells: the live ALBSecurityGroup (left of "
     "=) is used by AWS::ElasticLoadBalancingV2::LoadBalancer name portyfoul-dev-alb, which is our "
     "LoadBalancerSecurityGroup, and our ServiceSecurityGroup (right of =) is used by AWS::ECS::Service name "
     "portyfoul-dev-web-service, which is the live ECSSecurityGroup. --map only settles a tie between resources "
     "identity cannot tell apart"),
    ({"PublicSubnetA": "PrivateSubnet1"}, "--map PublicSubnetA=PrivateSubnet1 contradicts what identity tells: the "
                                          "live PublicSubnetA (left of =) is cidr 10.0.1.0/24, which is our "
                                          "PublicSubnet1, and our PrivateSubnet1 (right of =) is cidr 10.0.2.0/24, "
                                          "which is the live PrivateSubnetA"),
])
def test_a_map_against_identity_or_the_wrong_way_round_is_refused_in_one_line(template, overrides, said):
    with pytest.raises(UserError) as refused:
        _match(overrides, template)
    assert str(refused.value).startswith(said) and "\n" not in str(refused.value)


def test_a_map_that_settles_a_tie_is_still_taken(template):
    from portyfoul_infra.cfn_template import load_template
    from support.template import two_service_groups
    live = two_service_groups(load_template(FIXTURE.read_text()))
    assert _match({"ECSSecurityGroup2": "ServiceSecurityGroup"}, template, live)["ECSSecurityGroup2"] == \
        "ServiceSecurityGroup"


def test_a_swapped_pair_of_maps_is_refused_before_anything_is_renamed(aws_env):
    """The reported run: adopt said "adopted", then stack-update refused. Now adopt refuses, renaming nothing."""
    from portyfoul_infra.scenarios.sandbox import create_stand_in
    from portyfoul_infra.verbs.adopt import adopt
    ctx, out = make_ctx(poll_seconds=0)
    create_stand_in(ctx, FIXTURE.read_text(), {}, {})
    cfn = client("cloudformation")
    before = sorted(r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="portyfoul-infra")[
        "StackResourceSummaries"])
    with pytest.raises(UserError, match="contradicts what identity tells"):
        adopt(ctx, o.AdoptOptions(yes=True, map=("JWTSigningSecret=FinnhubApiKeySecret",
                                                 "FinnhubAPIKey=JwtSecret")))
    after = sorted(r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="portyfoul-infra")[
        "StackResourceSummaries"])
    assert after == before and "adopted" not in out.getvalue()


# ---------------------------------------------------------------- 7. the sandbox: one scenario

@pytest.mark.parametrize("scenario", ["failed-release", "lifecycle"])
def test_sandbox_adopt_with_another_scenario_is_a_contradiction(scenario, capsys):
    code, out, err = run_task("sandbox", capsys, adopt=True, scenario=scenario, port="0")
    assert code == 2 and out == ""
    assert err == (f"error: --adopt and --scenario {scenario} contradict each other: --adopt is the same as "
                   "--scenario adopt; choose one scenario\n")


def test_sandbox_adopt_alone_or_with_its_own_scenario_is_the_adopt_scenario():
    assert o.SandboxOptions(adopt=True).scenario == "adopt"
    assert o.SandboxOptions(adopt=True, scenario="adopt").scenario == "adopt"
    assert o.SandboxOptions().scenario == "lifecycle"
    assert o.SandboxOptions(scenario="failed-release").scenario == "failed-release"


# ---------------------------------------------------------------- 8. a deleted secret: the advice that works

def test_a_secret_scheduled_for_deletion_is_restored_as_the_advice_says(dev_stack):
    from portyfoul_infra.options import ReadOptions, SecretsSetOptions
    from portyfoul_infra.verbs.secrets import secrets_check, secrets_set
    name = "portyfoul/dev/finnhub-api-key"
    sm = client("secretsmanager")
    arn = sm.describe_secret(SecretId=name)["ARN"]
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    advice = f"restore it with `aws secretsmanager restore-secret --secret-id {name}`"

    ctx, out = make_ctx()
    assert secrets_check(ctx, ReadOptions()).outcome is Outcome.REFUSED
    failing = out.getvalue().strip().splitlines()[-1]
    assert failing.startswith("error: required and not set: finnhub-api-key (DELETED): ") and advice in failing
    assert "secrets-set" not in failing
    ctx, _ = make_ctx(read_secret=lambda prompt: pytest.fail("asked for a value it cannot write"))
    with pytest.raises(UserError, match=f"scheduled for deletion .*{advice}.*Nothing was written"):
        secrets_set(ctx, SecretsSetOptions(name="finnhub-api-key"))

    sm.restore_secret(SecretId=name)      # what `aws secretsmanager restore-secret --secret-id NAME` calls
    ctx, _ = make_ctx(read_secret=lambda prompt: "fh-restored-key")
    assert secrets_set(ctx, SecretsSetOptions(name="finnhub-api-key")).outcome is Outcome.APPLIED
    assert sm.describe_secret(SecretId=name)["ARN"] == arn      # the same secret: what the services read
    ctx, out = make_ctx()
    assert secrets_check(ctx, ReadOptions()).outcome is Outcome.NO_CHANGES, out.getvalue()


def test_a_secret_or_setting_gone_for_good_gets_the_advice_that_is_true(dev_stack):
    from portyfoul_infra.options import ConfigSetOptions, ReadOptions, SecretsSetOptions
    from portyfoul_infra.verbs.secrets import config_set, secrets_check, secrets_set
    client("secretsmanager").delete_secret(SecretId="portyfoul/dev/finnhub-api-key", ForceDeleteWithoutRecovery=True)
    ssm, parameter = client("ssm"), "/portyfoul/dev/price-update-interval"
    ssm.delete_parameter(Name=parameter)
    ctx, out = make_ctx()
    assert secrets_check(ctx, ReadOptions()).outcome is Outcome.REFUSED
    failing = out.getvalue().strip().splitlines()[-1]
    assert "finnhub-api-key (MISSING): portyfoul/dev/finnhub-api-key is gone for good" in failing
    assert "a stack-update does not recreate what was deleted outside CloudFormation" in failing
    assert 'a human\'s work, see docs/operations.md, "A secret deleted for good"' in failing
    assert "### A secret deleted for good" in (ROOT / "docs" / "operations.md").read_text()
    put_back = f"`aws ssm put-parameter --name {parameter} --type String --value VALUE`"
    assert f"price-update-interval (MISSING): the parameter {parameter} is gone" in failing and put_back in failing
    assert "secrets-set" not in failing
    ctx, _ = make_ctx(read_secret=lambda prompt: pytest.fail("asked for a value it cannot write"))
    with pytest.raises(UserError, match="is gone for good"):
        secrets_set(ctx, SecretsSetOptions(name="finnhub-api-key"))
    with pytest.raises(UserError, match=f"{put_back.replace('$', '')}.*nothing was written"):
        config_set(make_ctx()[0], ConfigSetOptions(key="price-update-interval", value="5"))

    ssm.put_parameter(Name=parameter, Type="String", Value="15")   # what the advice's command does
    ctx, out = make_ctx()
    assert config_set(ctx, ConfigSetOptions(key="price-update-interval", value="5")).outcome is Outcome.APPLIED
    assert f"{parameter} = 5 (was 15)" in out.getvalue()


# ---------------------------------------------------------------- 9. the local AWS, through the verbs

def test_stack_status_right_after_stack_drift_says_when_it_was_checked(dev_stack):
    from portyfoul_infra.options import DriftOptions, ReadOptions
    from portyfoul_infra.verbs.drift import stack_drift
    from portyfoul_infra.verbs.stack import stack_status
    ctx, out = make_ctx(poll_seconds=0)
    stack_status(ctx, ReadOptions())
    assert "drift         never checked (`invoke stack-drift`)" in out.getvalue()
    assert stack_drift(make_ctx(poll_seconds=0)[0], DriftOptions()).outcome is Outcome.NO_CHANGES
    ctx, out = make_ctx(poll_seconds=0)
    stack_status(ctx, ReadOptions())
    assert "drift         IN_SYNC, checked " in out.getvalue() and "never checked" not in out.getvalue()


def test_deploy_role_with_nothing_to_change_exits_0_and_says_so(aws_env):
    from dataclasses import replace

    from portyfoul_infra.config import ENVIRONMENTS
    from portyfoul_infra.verbs.deploy_role import deploy_role
    env = replace(ENVIRONMENTS["dev"], github_repository="portyfoul-owners/portyfoul")
    client("iam").create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"])
    ctx, out = make_ctx(env=env, poll_seconds=0)
    assert deploy_role(ctx, o.DeployRoleOptions(yes=True)).outcome is Outcome.APPLIED, out.getvalue()
    ctx, out = make_ctx(env=env, poll_seconds=0)
    again = deploy_role(ctx, o.DeployRoleOptions(yes=True))
    assert again.outcome is Outcome.NO_CHANGES and again.exit_code == 0, out.getvalue()
    assert "no changes: portyfoul-dev-deploy is up to date" in out.getvalue()
    assert "deploy role: arn:aws:iam::946652103073:role/portyfoul-dev-github-deploy" in out.getvalue()


CONNECTION = ("engine", "host", "port", "dbInstanceIdentifier", "dbClusterIdentifier")


def test_a_deleted_stack_is_created_again_around_what_it_kept(dev_stack):
    """stack-delete keeps the secrets, the repository and the log groups. Creating the stack again over them used
    to end in a traceback (the local AWS) and, on AWS, in a rollback that `--delete-failed-create` repeats. Now
    stack-update refuses before anything and names adopt, which creates the stack around them (a failed creation's
    empty stack deleted first); stack-update creates the rest. Every kept value and image is still there."""
    from portyfoul_infra.verbs.adopt import adopt
    from portyfoul_infra.verbs.stack import stack_diff, stack_update
    from portyfoul_infra.verbs.teardown import stack_delete

    set_finnhub_key()
    sm, ecr, cfn = client("secretsmanager"), client("ecr"), client("cloudformation")
    digest = seed_image(ecr, "portyfoul-dev", "kept0001")
    kept = {s["Name"]: sm.get_secret_value(SecretId=s["ARN"])["SecretString"] for s in sm.list_secrets()["SecretList"]}
    assert stack_delete(make_ctx(poll_seconds=0)[0], o.DeleteOptions(yes=True)).outcome is Outcome.APPLIED

    for verb, opts in ((stack_update, o.UpdateOptions(yes=True)), (stack_diff, o.DiffOptions())):
        with pytest.raises(UserError) as refused:
            verb(make_ctx(poll_seconds=0)[0], opts)
        assert "stack portyfoul-infra does not exist, but 8 of its resources exist under the names" in str(
            refused.value)
        assert "`invoke adopt --env dev` creates the stack around them" in str(refused.value)
    assert [s for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"] == []

    # A creation that ran into them anyway (an older version of this tool): an empty ROLLBACK_COMPLETE stack.
    cfn.create_stack(StackName="portyfoul-infra", TemplateBody=json.dumps({"Resources": {"Logs": {
        "Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/ecs/portyfoul-dev-web"}}}}))
    assert cfn.describe_stacks(StackName="portyfoul-infra")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    with pytest.raises(UserError, match="is ROLLBACK_COMPLETE and holds no resources, but 8 of its resources"):
        stack_update(make_ctx(poll_seconds=0)[0], o.UpdateOptions(yes=True, delete_failed_create=True))

    ctx, out = make_ctx(poll_seconds=0)
    assert adopt(ctx, o.AdoptOptions(yes=True)).outcome is Outcome.APPLIED, out.getvalue()
    assert "first the empty stack its failed creation left (ROLLBACK_COMPLETE) is deleted" in out.getvalue()
    ctx, out = make_ctx(poll_seconds=0)
    assert stack_update(ctx, o.UpdateOptions(yes=True)).outcome is Outcome.APPLIED, out.getvalue()
    assert stack_update(make_ctx(poll_seconds=0)[0], o.UpdateOptions(yes=True)).outcome is Outcome.NO_CHANGES
    # The database secret's connection keys (host, port, engine, dbInstanceIdentifier) are its
    # SecretTargetAttachment's: deleting the stack removes them with the attachment, as AWS does, and adopt keeps the
    # attachment out. The credentials and every other value are as they were.
    def values(found: dict) -> dict:
        return {name: {k: v for k, v in json.loads(text).items() if k not in CONNECTION} if text.startswith("{")
                else text for name, text in found.items()}
    assert values({s["Name"]: sm.get_secret_value(SecretId=s["ARN"])["SecretString"]
                   for s in sm.list_secrets()["SecretList"]}) == values(kept)
    assert ecr.describe_images(repositoryName="portyfoul-dev", imageIds=[{"imageTag": "kept0001"}])[
        "imageDetails"][0]["imageDigest"] == digest
    stack = cfn.describe_stacks(StackName="portyfoul-infra")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE" and stack["EnableTerminationProtection"] is True
