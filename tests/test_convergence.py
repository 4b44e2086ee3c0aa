"""The converging update: ours, keeping what the live stack chose wherever ours would replace, re-value,
interrupt or change the behaviour of a live resource; carrying live-only resources and exports; recording what
it keeps, and giving each up on request."""

import copy

import pytest

from portyfoul_infra.aws.adoption import Side, match
from portyfoul_infra.aws.convergence import converge, kept_record
from portyfoul_infra.cfn_template import Resolver, load_template, rename_resources
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.contract import METADATA_KEY, parameter_values
from portyfoul_infra.errors import UserError
from support import ROOT

DEV = ENVIRONMENTS["dev"]
PSEUDO = {"AWS::AccountId": "946652103073", "AWS::Region": "us-east-2", "AWS::StackName": "portyfoul-infra",
          "AWS::StackId": "arn:aws:cloudformation:us-east-2:946652103073:stack/portyfoul-infra/1",
          "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
FIXTURES = {"yaml": (ROOT / "tests" / "fixtures" / "live-stack.yaml", {}),
            "json": (ROOT / "portyfoul_infra" / "scenarios" / "stand_ins" / "live-stack-phases.json",
                     {"ProjectName": "portyfoul", "Environment": "dev", "VpcCidrBlock": "10.0.0.0/16",
                      "DBEngineVersion": "17.2", "DBInstanceClass": "db.t4g.micro"})}


def live_renamed(kind: str, ours: dict) -> tuple[dict, dict]:
    path, parameters = FIXTURES[kind]
    live = load_template(path.read_text())
    defaults = {k: str(v["Default"]) for k, v in live.get("Parameters", {}).items() if "Default" in v}
    parameters = {**defaults, **parameters}
    theirs = Side("live", live, Resolver(live, parameters, PSEUDO))
    mine = Side("ours", ours, Resolver(ours, parameter_values(DEV), PSEUDO))
    return rename_resources(live, match(theirs, mine, {})), parameters


def first(kind: str, ours: dict, give_up=()):
    deployed, parameters = live_renamed(kind, ours)
    return converge(deployed, parameters, ours, parameter_values(DEV), region="us-east-2", pseudo=PSEUDO,
                    give_up=give_up)


def props(body: dict, lid: str) -> dict:
    return body["Resources"][lid].get("Properties") or {}


@pytest.mark.parametrize("kind", ["yaml", "json"])
def test_the_first_convergence_keeps_what_would_replace_re_value_or_interrupt(template, kind):
    c = first(kind, template)
    kept = set(c.names())
    for name in ("PublicSubnet1.AvailabilityZone", "Database.EngineVersion", "DatabaseSecurityGroup.GroupDescription",
                 "ServiceSecurityGroup.GroupDescription", "LoadBalancerSecurityGroup.GroupDescription"):
        assert name in kept, name
    assert not {d.name for d in c.differences if not d.kept} & {
        "Database.EngineVersion", "Database.DeletionProtection", "Database.MasterUsername"}
    assert props(c.body, "Database")["EngineVersion"] == "17.2"
    # The record in our Metadata says what is kept, for every later update.
    assert kept_record(c.body)["Kept"] == {lid: sorted(p) for lid, p in c.kept.items()}


def test_literal_zones_stay_as_written(template):
    c = first("yaml", template)
    assert props(c.body, "PublicSubnet1")["AvailabilityZone"] == "us-east-2a"
    assert props(c.body, "PrivateSubnet2")["AvailabilityZone"] == "us-east-2b"


def test_a_live_value_that_reads_a_live_parameter_is_carried_resolved(template):
    c = first("json", template)
    engine = props(c.body, "Database")["EngineVersion"]
    assert engine == "17.2"  # the live stack's DBEngineVersion parameter, which our template does not have
    assert "DBEngineVersion" not in c.body.get("Parameters", {})



def test_a_no_echo_live_parameter_is_carried_as_a_parameter_never_as_its_value(template):
    """AWS shows a NoEcho value as ****: the kept MasterUsername keeps its Ref, and the parameter is ours too,
    passed with UsePreviousValue."""
    c = first("json", template)
    assert props(c.body, "Database")["MasterUsername"] == {"Ref": "DBMasterUsername"}
    assert c.body["Parameters"]["DBMasterUsername"]["NoEcho"] == "true"
    assert c.kept_parameters == ["DBMasterUsername"]
    assert kept_record(c.body)["KeptParameters"] == ["DBMasterUsername"]
    steady = converge(c.body, {}, template, parameter_values(DEV), region="us-east-2", pseudo=PSEUDO)
    assert steady.kept_parameters == ["DBMasterUsername"] and "DBMasterUsername" in steady.body["Parameters"]


def test_the_database_keeps_protection_and_parameters(template):
    c = first("json", template)
    assert props(c.body, "Database")["DeletionProtection"] in (True, "true")
    assert props(c.body, "DatabaseParameterGroup")["Parameters"] == {"rds.force_ssl": "0"}
    why = {d.name: d.why_kept for d in c.differences}
    assert "rds.force_ssl 0 -> 1 (clients that connect without TLS are refused)" in why[
        "DatabaseParameterGroup.Parameters"]


def test_live_only_resources_and_exports_are_carried(template):
    c = first("json", template)
    assert {"VpcFlowLog", "VpcFlowLogGroup", "RdsLogGroup", "TeamNotesParameter", "ArtifactsBucket",
            "RdsIngressVpc"} <= set(c.kept_resources)
    for lid in c.kept_resources:
        assert lid in c.body["Resources"]
    deployed, _ = live_renamed("json", template)
    live_exports = {k: o["Export"] for k, o in deployed["Outputs"].items() if "Export" in o}
    assert len(live_exports) == 25 and sorted(c.kept_outputs) == sorted(live_exports)
    for key, export in live_exports.items():
        assert c.body["Outputs"][key]["Export"] == export, key


def test_a_group_whose_rules_are_separate_resources_keeps_its_inline_rules_as_they_are(template):
    c = first("json", template)
    why = {d.name: d.why_kept for d in c.differences}
    assert "separate resources (RdsIngressEcs, RdsIngressVpc)" in why["DatabaseSecurityGroup.SecurityGroupIngress"]
    assert "SecurityGroupIngress" not in props(c.body, "DatabaseSecurityGroup")


def test_the_steady_state_keeps_the_same_things_from_the_record(template):
    c = first("json", template)
    steady = converge(c.body, {}, template, parameter_values(DEV), region="us-east-2", pseudo=PSEUDO)
    assert steady.body["Resources"] == c.body["Resources"]
    assert kept_record(steady.body) == kept_record(c.body)
    assert not steady.first and steady.names() == c.names()


def test_giving_up_a_kept_choice_takes_ours_for_it_alone(template):
    c = first("json", template)
    steady = converge(c.body, {}, template, parameter_values(DEV), region="us-east-2", pseudo=PSEUDO,
                      give_up=["Database.EngineVersion", "VpcFlowLog", "Outputs.VpcId"])
    assert props(steady.body, "Database")["EngineVersion"] == props(template, "Database")["EngineVersion"]
    assert props(steady.body, "Database")["DeletionProtection"] == props(c.body, "Database")["DeletionProtection"]
    assert "VpcFlowLog" not in steady.body["Resources"]
    assert "Database.EngineVersion" not in steady.names() and "VpcFlowLog" not in steady.names()
    assert steady.given_up == ["Database.EngineVersion", "Outputs.VpcId", "VpcFlowLog"]
    record = steady.body["Metadata"][METADATA_KEY]
    assert "EngineVersion" not in record["Kept"]["Database"] and "VpcFlowLog" not in record["KeptResources"]


def test_giving_up_what_is_not_kept_is_refused_naming_what_is(template):
    c = first("yaml", template)
    with pytest.raises(UserError, match=r"--converge Database\.Nope: nothing of that name is kept; kept: .*"
                                        r"Database\.EngineVersion"):
        converge(c.body, {}, template, parameter_values(DEV), region="us-east-2", pseudo=PSEUDO,
                 give_up=["Database.Nope"])


def test_a_stack_we_created_keeps_nothing(template):
    ours = copy.deepcopy(template)
    ours.setdefault("Metadata", {}).setdefault(METADATA_KEY, {})["ContentHash"] = "sha256:x"
    c = converge(ours, {}, template, parameter_values(DEV), region="us-east-2", pseudo=PSEUDO)
    assert c.names() == [] and c.body["Resources"] == template["Resources"]


def test_an_export_whose_value_ours_gives_differently_is_carried_beside_ours(template):
    deployed, parameters = live_renamed("json", template)
    key = next(k for k, o in deployed["Outputs"].items() if "Export" in o and k in template.get("Outputs", {}))
    deployed["Outputs"][key]["Value"] = "something-else"
    c = converge(deployed, parameters, template, parameter_values(DEV), region="us-east-2", pseudo=PSEUDO)
    assert c.body["Outputs"][key] == template["Outputs"][key]  # ours, as this tool reads it, unexported
    assert c.body["Outputs"][f"Live{key}"] == {**deployed["Outputs"][key]}  # the export as it was
    assert f"Live{key}" in c.kept_outputs


def test_an_export_ours_gives_the_same_value_is_exported_by_ours(template):
    deployed, parameters = live_renamed("json", template)
    key = next(k for k, o in deployed["Outputs"].items() if "Export" in o and k in template.get("Outputs", {}))
    deployed["Outputs"][key]["Value"] = template["Outputs"][key]["Value"]  # the very expression ours writes
    c = converge(deployed, parameters, template, parameter_values(DEV), region="us-east-2", pseudo=PSEUDO)
    assert c.body["Outputs"][key]["Export"] == deployed["Outputs"][key]["Export"]
    assert f"Live{key}" not in c.body["Outputs"]


def test_a_conditional_output_that_does_not_hold_is_no_export_to_carry(template):
    deployed, parameters = live_renamed("json", template)
    deployed.setdefault("Conditions", {})["Never"] = {"Fn::Equals": ["a", "b"]}
    deployed["Outputs"]["GhostTopic"] = {"Condition": "Never", "Value": "x", "Export": {"Name": "ghost"}}
    c = converge(deployed, parameters, template, parameter_values(DEV), region="us-east-2", pseudo=PSEUDO)
    assert "GhostTopic" not in c.kept_outputs and "GhostTopic" not in c.body["Outputs"]


def test_the_plan_lists_no_export_for_an_output_whose_condition_does_not_hold():
    from portyfoul_infra.aws.adoption import LiveStack, live_exports
    from portyfoul_infra.aws.stacks import StackInfo
    from support import make_ctx
    from support.fakes import FakeAws, client_error

    class Imports:
        def list_imports(self, ExportName, NextToken=None):
            raise client_error("ValidationError", f"Export '{ExportName}' is not imported by any stack.")

    template = {"Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
                "Outputs": {"Ghost": {"Condition": "Never", "Value": "x", "Export": {"Name": "ghost"}},
                            "Vpc": {"Value": "vpc-1", "Export": {"Name": "vpc"}}}}
    info = StackInfo("portyfoul-infra", "id", "UPDATE_COMPLETE", "", {}, {}, {}, None, False)
    ctx, _ = make_ctx(FakeAws(cloudformation=Imports()))
    assert [e.name for e in live_exports(ctx, LiveStack(info, template, {}, ""), PSEUDO)] == ["vpc"]
