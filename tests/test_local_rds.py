"""RDS resources created by CloudFormation on the local AWS, stated as AWS documents them (plain boto3)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "us-east-2"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def rds():
    return boto3.client("rds", region_name=REGION)


def body(resources: dict) -> str:
    return json.dumps({"Resources": resources})


def physical(stack: str, logical_id: str) -> str:
    return cfn().describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"]["PhysicalResourceId"]


def database(**props) -> dict:
    return {"Type": "AWS::RDS::DBInstance", "Properties": {
        "Engine": "postgres", "EngineVersion": "16.3", "DBInstanceClass": "db.t4g.micro", "AllocatedStorage": "20",
        "MasterUsername": "app", "MasterUserPassword": "pass-word-1", **props}}


def network() -> dict:
    return {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "A": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                                                         "AvailabilityZone": "us-east-2a"}},
        "B": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.2.0/24",
                                                         "AvailabilityZone": "us-east-2b"}},
        "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "db", "VpcId": {"Ref": "Vpc"}}},
        "Subnets": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
            "DBSubnetGroupDescription": "db", "SubnetIds": [{"Ref": "A"}, {"Ref": "B"}]}},
    }


def test_a_parameter_group_is_named_by_its_template_and_ref_returns_the_name(aws_env):
    cfn().create_stack(StackName="pg", TemplateBody=body({"PG": {"Type": "AWS::RDS::DBParameterGroup", "Properties": {
        "DBParameterGroupName": "named-pg", "Family": "postgres16", "Description": "d"}}}))
    assert physical("pg", "PG") == "named-pg"
    assert rds().describe_db_parameter_groups(DBParameterGroupName="named-pg")["DBParameterGroups"]


def test_changed_parameters_are_written_into_the_same_parameter_group(aws_env):
    """Parameters is updatable: the same group gets the new values."""
    group = lambda v: body({"PG": {"Type": "AWS::RDS::DBParameterGroup", "Properties": {  # noqa: E731
        "DBParameterGroupName": "named-pg", "Family": "postgres16", "Description": "d",
        "Parameters": {"log_min_duration_statement": v}}}})
    cfn().create_stack(StackName="pg", TemplateBody=group("500"))
    cfn().update_stack(StackName="pg", TemplateBody=group("250"))
    assert cfn().describe_stacks(StackName="pg")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    params = rds().describe_db_parameters(DBParameterGroupName="named-pg")["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in params}["log_min_duration_statement"] == "250"


def test_a_subnet_group_ref_is_its_name(aws_env):
    cfn().create_stack(StackName="sg", TemplateBody=body(network()))
    name = physical("sg", "Subnets")
    assert rds().describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"]


def test_a_db_instance_from_cloudformation_keeps_deletion_protection_and_its_security_groups(aws_env):
    """DeletionProtection and VPCSecurityGroups are those of the template; PostgreSQL listens on 5432; automatic
    minor upgrades are on unless the template turns them off."""
    cfn().create_stack(StackName="db", TemplateBody=body({**network(), "Db": database(
        DeletionProtection=True, VPCSecurityGroups=[{"Fn::GetAtt": ["Sg", "GroupId"]}],
        DBSubnetGroupName={"Ref": "Subnets"})}))
    instance = rds().describe_db_instances(DBInstanceIdentifier=physical("db", "Db"))["DBInstances"][0]
    assert instance["DeletionProtection"] is True
    assert [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]] == [physical("db", "Sg")]
    assert instance["Endpoint"]["Port"] == 5432
    assert instance["AutoMinorVersionUpgrade"] is True


def test_an_updated_db_instance_is_modified_in_place(aws_env):
    """EngineVersion and DeletionProtection are updatable: same instance, new values."""
    cfn().create_stack(StackName="db", TemplateBody=body({"Db": database()}))
    before = physical("db", "Db")
    cfn().update_stack(StackName="db", TemplateBody=body({"Db": database(EngineVersion="16.4", DeletionProtection=True)}))
    assert physical("db", "Db") == before
    instance = rds().describe_db_instances(DBInstanceIdentifier=before)["DBInstances"][0]
    assert (instance["EngineVersion"], instance["DeletionProtection"]) == ("16.4", True)


def test_a_protected_db_instance_cannot_be_deleted_by_its_stack(aws_env):
    """DeleteDBInstance of a protected instance fails, and so does deleting its stack (DELETE_FAILED)."""
    cfn().create_stack(StackName="db", TemplateBody=body({"Db": database(DeletionProtection=True)}))
    with pytest.raises(ClientError) as caught:
        rds().delete_db_instance(DBInstanceIdentifier=physical("db", "Db"), SkipFinalSnapshot=True)
    assert "Cannot delete protected DB Instance, please disable deletion protection and try again." in str(caught.value)
    cfn().delete_stack(StackName="db")
    assert cfn().describe_stacks(StackName="db")["Stacks"][0]["StackStatus"] == "DELETE_FAILED"
    events = cfn().describe_stack_events(StackName="db")["StackEvents"]
    assert [e for e in events if e["ResourceStatus"] == "DELETE_FAILED" and "protected" in e["ResourceStatusReason"]]


def test_replacing_a_database_creates_a_new_instance_and_deletes_the_old(aws_env):
    """MasterUsername is create-only: a new instance is created and the old one deleted (no custom name)."""
    cfn().create_stack(StackName="db", TemplateBody=body({"Db": database()}))
    before = physical("db", "Db")
    cfn().update_stack(StackName="db", TemplateBody=body({"Db": database(MasterUsername="other")}))
    after = physical("db", "Db")
    assert after != before
    assert [i["DBInstanceIdentifier"] for i in rds().describe_db_instances()["DBInstances"]] == [after]


def test_deleting_a_stack_snapshots_a_database_whose_policy_is_snapshot(aws_env):
    cfn().create_stack(StackName="db", TemplateBody=body({"Db": {**database(), "DeletionPolicy": "Snapshot"}}))
    cfn().delete_stack(StackName="db")
    snapshots = rds().describe_db_snapshots()["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in snapshots] == ["db-db-final-snapshot"]
    assert rds().describe_db_instances()["DBInstances"] == []


def test_allocated_storage_cannot_shrink(aws_env):
    """RDS cannot reduce allocated storage: ModifyDBInstance refuses, and a stack update that tries rolls back."""
    cfn().create_stack(StackName="db", TemplateBody=body({"Db": database(AllocatedStorage="30")}))
    db = physical("db", "Db")
    with pytest.raises(ClientError, match="cannot be reduced"):
        rds().modify_db_instance(DBInstanceIdentifier=db, AllocatedStorage=20, ApplyImmediately=True)
    cfn().update_stack(StackName="db", TemplateBody=body({"Db": database(AllocatedStorage="20")}))
    stack = cfn().describe_stacks(StackName="db")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert rds().describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0]["AllocatedStorage"] == 30
    grown = cfn().update_stack(StackName="db", TemplateBody=body({"Db": database(AllocatedStorage="40")}))
    assert grown and rds().describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0]["AllocatedStorage"] == 40


def test_log_exports_and_iam_authentication_change_in_place(aws_env):
    """The live database exports postgresql and upgrade logs without IAM authentication; the converged template
    exports postgresql only and turns IAM authentication on: the same instance answers that, still available."""
    live = database(DBInstanceIdentifier="db", EnableCloudwatchLogsExports=["postgresql", "upgrade"])
    cfn().create_stack(StackName="db", TemplateBody=body({"Db": live}))
    created = rds().describe_db_instances(DBInstanceIdentifier="db")["DBInstances"][0]
    assert sorted(created["EnabledCloudwatchLogsExports"]) == ["postgresql", "upgrade"]
    assert created["IAMDatabaseAuthenticationEnabled"] is False
    converged = database(DBInstanceIdentifier="db", EnableCloudwatchLogsExports=["postgresql"],
                         EnableIAMDatabaseAuthentication=True)
    cfn().update_stack(StackName="db", TemplateBody=body({"Db": converged}))
    assert physical("db", "Db") == "db"
    updated = rds().describe_db_instances(DBInstanceIdentifier="db")["DBInstances"][0]
    assert updated["EnabledCloudwatchLogsExports"] == ["postgresql"]
    assert updated["IAMDatabaseAuthenticationEnabled"] is True and updated["DBInstanceStatus"] == "available"
    cfn().update_stack(StackName="db", TemplateBody=body({"Db": database(DBInstanceIdentifier="db")}))
    dropped = rds().describe_db_instances(DBInstanceIdentifier="db")["DBInstances"][0]
    assert dropped.get("EnabledCloudwatchLogsExports", []) == [] and dropped["IAMDatabaseAuthenticationEnabled"] is False
