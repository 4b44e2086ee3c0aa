"""The two guards every stack-update passes: data loss, and interruptions (a restart, connections cut, a
protection lowered), each refused unless the operator names the resource; and what CloudFormation's Dynamic
changes settle to."""

import pytest

from portyfoul_infra.aws.change_sets import Change, PropertyChange
from portyfoul_infra.aws.guards import (
    DISRUPTED_WHEN_REPLACED,
    INTERRUPTIONS,
    interruption_effect,
    judge,
    render_changes,
    settle,
    unknown_allowances,
)
from portyfoul_infra.console import Console

DB = "AWS::RDS::DBInstance"
SG = "AWS::EC2::SecurityGroup"


def modify(lid, kind, *props, replacement="False"):
    return Change("Modify", lid, kind, replacement, "", ("Properties",), tuple(props))


def prop(name, before, after, recreation="Never", evaluation="Static", source="DirectModification", cause=""):
    return PropertyChange(name, "Properties", recreation, evaluation, source, cause, before, after)


# ---------- the interruption table

@pytest.mark.parametrize("kind, name, before, after, effect", [
    (DB, "EngineVersion", "17.2", "17.6", "restarts the database for an engine upgrade 17.2 -> 17.6"),
    (DB, "DBInstanceClass", "db.t4g.micro", "db.t4g.small", "restarts the database on another instance class"),
    (DB, "DeletionProtection", "true", "false", "lowers a protection: the database's deletion protection goes off"),
    (DB, "BackupRetentionPeriod", "7", "1", "lowers a protection: 7 -> 1 days of automated backups"),
    (DB, "MultiAZ", "true", "false", "lowers availability"),
    (DB, "VPCSecurityGroups", '["sg-1"]', '["sg-2"]', "moves the database to other security groups"),
    ("AWS::RDS::DBParameterGroup", "Parameters", '{"rds.force_ssl": "0"}', '{"rds.force_ssl": "1"}',
     "rds.force_ssl 0 -> 1 (clients that connect without TLS are refused)"),
    (SG, "SecurityGroupEgress", None, '[{"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 443, '
     '"ToPort": 443}]', "cuts connections: removes all traffic to 0.0.0.0/0"),
    (SG, "SecurityGroupIngress", '[{"CidrIp": "10.0.0.0/16", "IpProtocol": "tcp", "FromPort": 5432, '
     '"ToPort": 5432}]', "[]", "cuts connections: removes tcp 5432-5432 from 10.0.0.0/16"),
    ("AWS::Logs::LogGroup", "RetentionInDays", "30", "7", "older log events are deleted"),
    (DB, "BackupRetentionPeriod", "0", "7", "an outage while automated backups are turned on (0 -> 7 days)"),
    (DB, "BackupRetentionPeriod", "7", "0", "every automated backup is deleted"),
    (DB, "AutoMinorVersionUpgrade", "false", None, "turns automatic minor version upgrades on"),
    (DB, "AllocatedStorage", "30", "20", "which it cannot do: the update would fail and roll back"),
    (DB, "PreferredMaintenanceWindow", "sun:05:00-sun:06:00", None, "moves the window RDS restarts the database in"),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "HealthCheckPath", "/health", "/",
     "judges the targets by another path, /health -> /: if the application does not answer it"),
    ("AWS::ECR::Repository", "ImageTagMutability", "MUTABLE", "IMMUTABLE", "changes tag mutability"),
])
def test_each_interruption_is_named_in_words(kind, name, before, after, effect):
    assert effect in interruption_effect(kind, name, before, after)


@pytest.mark.parametrize("kind, name, before, after", [
    (DB, "DeletionProtection", "false", "true"),           # a protection raised
    (DB, "BackupRetentionPeriod", "1", "7"),
    ("AWS::Logs::LogGroup", "RetentionInDays", "7", "30"),
    (SG, "SecurityGroupIngress", "[]", '[{"CidrIp": "10.0.0.0/16", "IpProtocol": "tcp", "FromPort": 1, "ToPort": 1}]'),
    (SG, "SecurityGroupIngress", '[{"CidrIp": "10.0.0.0/16", "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432}]',
     '[{"CidrIp": "10.0.0.0/16", "IpProtocol": "tcp", "FromPort": "5432", "ToPort": "5432"}]'),  # 5432 is "5432"
    (DB, "AllocatedStorage", "20", "30"),                   # growing needs no restart
    (DB, "AutoMinorVersionUpgrade", None, "true"),           # unset is on already
    (DB, "DBName", "a", "b"),                                # not in the table: no interruption
])
def test_what_interrupts_nothing_is_not_flagged(kind, name, before, after):
    assert interruption_effect(kind, name, before, after) is None


def test_every_rule_names_its_source():
    for kind, rules in INTERRUPTIONS.items():
        for name, rule in rules.items():
            assert rule.source.startswith("https://docs.aws.amazon.com/"), (kind, name)


# ---------- judging a change set

def test_an_interruption_is_refused_until_named():
    change = modify("Database", DB, prop("EngineVersion", "17.2", "17.6"))
    verdict = judge([change])
    assert [(f.logical_id, f.guard) for f in verdict.blocked] == [("Database", "interruption")]
    assert "restarts the database" in verdict.blocked[0].describe()
    allowed = judge([change], allow_interruption=["Database"])
    assert allowed.ok and [f.logical_id for f in allowed.allowed] == ["Database"]
    assert not judge([change], allow_replace=["Database"]).ok  # the other flag does not name it


def test_a_security_group_re_created_is_an_interruption():
    change = modify("ServiceSecurityGroup", SG, prop("GroupDescription", "a", "b", "Always"), replacement="True")
    verdict = judge([change])
    assert verdict.blocked and SG in DISRUPTED_WHEN_REPLACED
    assert "every network interface moves to it" in verdict.blocked[0].effect


def test_a_dynamic_change_of_the_database_is_guarded_as_data():
    change = Change("Dynamic", "Database", DB, "", "", ("Properties",))
    verdict = judge([change])
    assert [(f.logical_id, f.guard) for f in verdict.blocked] == [("Database", "data")]
    assert "CloudFormation cannot say how (Dynamic)" in verdict.blocked[0].effect


def test_a_secret_attachment_onto_an_existing_secret_is_a_rewrite_of_its_value():
    attach = Change("Add", "DatabaseSecretAttachment", "AWS::SecretsManager::SecretTargetAttachment", "", "")
    assert [f.guard for f in judge([attach]).blocked] == ["data"]
    new_secret = Change("Add", "DatabaseSecret", "AWS::SecretsManager::Secret", "", "")
    assert judge([attach, new_secret]).ok  # beside a new secret it writes the first value


def test_flags_that_name_nothing_are_reported():
    change = modify("Database", DB, prop("EngineVersion", "17.2", "17.6"))
    assert unknown_allowances([change], ["Databse"], ["Database", "Repository"]) == [
        "--allow-replace Databse", "--allow-interruption Repository"]


# ---------- what Dynamic changes settle to

def test_an_identity_attribute_of_a_resource_updated_in_place_does_not_change():
    group = modify("DatabaseSecurityGroup", SG, prop("Tags", None, '[{"Key": "Name", "Value": "db"}]'))
    db = modify("Database", DB, prop("VPCSecurityGroups", '["sg-1"]', "{{changeSet:KNOWN_AFTER_APPLY}}",
                                     evaluation="Dynamic", source="ResourceAttribute",
                                     cause="DatabaseSecurityGroup.GroupId"))
    rule = modify("RdsIngressVpc", "AWS::EC2::SecurityGroupIngress",
                  prop("GroupId", "sg-1", "{{changeSet:KNOWN_AFTER_APPLY}}", "Always", "Dynamic",
                       "ResourceAttribute", "DatabaseSecurityGroup.GroupId"), replacement="Conditional")
    changes, why = settle([group, db, rule])
    assert [c.logical_id for c in changes] == ["DatabaseSecurityGroup"]
    assert why[("Database", "VPCSecurityGroups", "DatabaseSecurityGroup.GroupId")] == (
        "DatabaseSecurityGroup is updated in place, so its GroupId stays")
    assert judge([group, db, rule]).ok


def test_a_replaced_resource_changes_what_reads_it():
    group = modify("DatabaseSecurityGroup", SG, prop("GroupDescription", "a", "b", "Always"), replacement="True")
    db = modify("Database", DB, prop("VPCSecurityGroups", '["sg-1"]', "{{changeSet:KNOWN_AFTER_APPLY}}",
                                     evaluation="Dynamic", source="ResourceAttribute",
                                     cause="DatabaseSecurityGroup.GroupId"))
    changes, _ = settle([group, db])
    assert [c.logical_id for c in changes] == ["DatabaseSecurityGroup", "Database"]
    assert {f.logical_id for f in judge([group, db]).blocked} == {"DatabaseSecurityGroup", "Database"}


def test_an_endpoint_follows_the_instance_identifier():
    reads = prop("ContainerDefinitions", "[]", "{{changeSet:KNOWN_AFTER_APPLY}}", "Always", "Dynamic",
                 "ResourceAttribute", "Database.Endpoint.Address")
    task = modify("WebTaskDefinition", "AWS::ECS::TaskDefinition", reads, replacement="Conditional")
    tagged = modify("Database", DB, prop("CopyTagsToSnapshot", None, "true"))
    assert [c.logical_id for c in settle([tagged, task])[0]] == ["Database"]
    renamed = modify("Database", DB, prop("DBInstanceIdentifier", "a", "b", "Always"), replacement="True")
    assert "WebTaskDefinition" in [c.logical_id for c in settle([renamed, task])[0]]


def test_a_change_with_a_static_part_keeps_it_and_loses_its_conditional_replacement():
    task = modify("WebTaskDefinition", "AWS::ECS::TaskDefinition",
                  prop("Cpu", "256", "512", "Always"),
                  prop("TaskRoleArn", "arn:role", "{{changeSet:KNOWN_AFTER_APPLY}}", "Always", "Dynamic",
                       "ResourceAttribute", "TaskRole.Arn"), replacement="True")
    role = modify("TaskRole", "AWS::IAM::Role", prop("Policies", "[]", "[1]"))
    (_, settled_task), _ = settle([role, task])
    assert settled_task.details == ("Cpu",) and settled_task.replacement == "True"
    only_dynamic = modify("WebTaskDefinition", "AWS::ECS::TaskDefinition", task.properties[1],
                          replacement="Conditional")
    assert [c.logical_id for c in settle([role, only_dynamic])[0]] == ["TaskRole"]


def test_the_table_shows_what_cloudformation_said_and_what_it_settles_to():
    import io
    group = modify("DatabaseSecurityGroup", SG, prop("Tags", None, "[]"))
    rule = modify("RdsIngressVpc", "AWS::EC2::SecurityGroupIngress",
                  prop("GroupId", "sg-1", "{{changeSet:KNOWN_AFTER_APPLY}}", "Always", "Dynamic",
                       "ResourceAttribute", "DatabaseSecurityGroup.GroupId"), replacement="Conditional")
    out = io.StringIO()
    render_changes(Console(out, out, False), [group, rule])
    text = out.getvalue()
    assert "Conditional->no change" in text
    assert ("RdsIngressVpc.GroupId: sg-1 -> {{changeSet:KNOWN_AFTER_APPLY}}; no change: DatabaseSecurityGroup is "
            "updated in place, so its GroupId stays") in text


def test_a_property_that_reads_a_no_echo_parameter_is_shown_as_secret():
    from portyfoul_infra.aws.guards import hide, no_echo_properties
    template = {"Parameters": {"DbUser": {"Type": "String", "NoEcho": "true"}, "Tier": {"Type": "String"}},
                "Resources": {"Database": {"Type": DB, "Properties": {
                    "MasterUsername": {"Ref": "DbUser"}, "DBName": {"Fn::Sub": "app-${Tier}"},
                    "Tags": [{"Key": "owner", "Value": {"Fn::Sub": "${DbUser}@team"}}]}}}}
    assert no_echo_properties(template) == {("Database", "MasterUsername"), ("Database", "Tags")}
    change = modify("Database", DB, prop("MasterUsername", "sekrit", "other"), prop("DBName", "app-a", "app-b"))
    (shown,) = hide([change], no_echo_properties(template))
    assert [(p.name, p.before, p.after) for p in shown.properties] == [
        ("MasterUsername", "(secret)", "(secret)"), ("DBName", "app-a", "app-b")]
