"""Secrets created by CloudFormation on the local AWS, stated as AWS documents them (plain boto3)."""

import json

import boto3

REGION = "us-east-2"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def sm():
    return boto3.client("secretsmanager", region_name=REGION)


def secret(**props) -> str:
    return json.dumps({"Resources": {"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "app/s", **props}}}})


def test_a_secret_is_created_from_the_template_with_a_generated_value(aws_env):
    cfn().create_stack(StackName="sec", TemplateBody=secret(GenerateSecretString={
        "SecretStringTemplate": '{"username": "app"}', "GenerateStringKey": "password", "PasswordLength": 24}))
    value = json.loads(sm().get_secret_value(SecretId="app/s")["SecretString"])
    assert value["username"] == "app" and len(value["password"]) == 24


def test_a_changed_secret_string_is_written_as_a_new_version(aws_env):
    """SecretString is updatable: the template's new value becomes AWSCURRENT of the same secret."""
    cfn().create_stack(StackName="sec", TemplateBody=secret(SecretString="one"))
    arn = sm().describe_secret(SecretId="app/s")["ARN"]
    cfn().update_stack(StackName="sec", TemplateBody=secret(SecretString="two"))
    assert sm().get_secret_value(SecretId="app/s")["SecretString"] == "two"
    assert sm().describe_secret(SecretId="app/s")["ARN"] == arn


def test_a_description_change_keeps_the_value_set_by_hand(aws_env):
    """Only a change of SecretString or GenerateSecretString writes a value."""
    cfn().create_stack(StackName="sec", TemplateBody=secret(SecretString="one", Description="a"))
    sm().put_secret_value(SecretId="app/s", SecretString="by hand")
    cfn().update_stack(StackName="sec", TemplateBody=secret(SecretString="one", Description="b"))
    assert sm().get_secret_value(SecretId="app/s")["SecretString"] == "by hand"


def test_a_stack_with_a_named_secret_can_be_deleted_and_created_again(aws_env):
    """The secret goes with its stack, so the same stack can be created again."""
    cfn().create_stack(StackName="sec", TemplateBody=secret(SecretString="one"))
    cfn().delete_stack(StackName="sec")
    cfn().create_stack(StackName="sec", TemplateBody=secret(SecretString="again"))
    assert cfn().describe_stacks(StackName="sec")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert sm().get_secret_value(SecretId="app/s")["SecretString"] == "again"


def _attached(target: str = "db1", **extra) -> str:
    body = json.loads(secret(SecretString='{"username": "app", "password": "p"}'))
    body["Resources"].update({
        "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "DBInstanceIdentifier": "db1", "Engine": "postgres", "DBInstanceClass": "db.t4g.micro",
            "AllocatedStorage": "20", "MasterUsername": "app", "MasterUserPassword": "password1234"}},
        "Attach": {"Type": "AWS::SecretsManager::SecretTargetAttachment", "Properties": {
            "SecretId": {"Ref": "S"}, "TargetId": target, "TargetType": "AWS::RDS::DBInstance"},
            "DependsOn": "Db"},
        **extra})
    return json.dumps(body)


def test_a_target_attachment_writes_the_database_connection_into_the_secret(aws_env):
    """The attachment adds engine, host, port and dbInstanceIdentifier to the secret's JSON (username and password
    stay); removing it from the stack removes them again; Ref is the secret's ARN."""
    body = json.loads(_attached())
    body["Outputs"] = {"Attached": {"Value": {"Ref": "Attach"}}}
    cfn().create_stack(StackName="sec", TemplateBody=json.dumps(body))
    assert cfn().describe_stacks(StackName="sec")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    value = json.loads(sm().get_secret_value(SecretId="app/s")["SecretString"])
    host = boto3.client("rds", region_name=REGION).describe_db_instances(
        DBInstanceIdentifier="db1")["DBInstances"][0]["Endpoint"]["Address"]
    assert value == {"username": "app", "password": "p", "engine": "postgres", "host": host, "port": 5432,
                     "dbInstanceIdentifier": "db1"}
    outputs = cfn().describe_stacks(StackName="sec")["Stacks"][0]["Outputs"]
    assert outputs[0]["OutputValue"] == sm().describe_secret(SecretId="app/s")["ARN"]
    without = json.loads(_attached())
    del without["Resources"]["Attach"]
    cfn().update_stack(StackName="sec", TemplateBody=json.dumps(without))
    assert json.loads(sm().get_secret_value(SecretId="app/s")["SecretString"]) == {"username": "app", "password": "p"}


def test_a_target_attachment_to_a_database_that_does_not_exist_fails(aws_env):
    """The attachment reads the target's connection: a missing database fails the resource and the stack rolls back."""
    cfn().create_stack(StackName="sec", TemplateBody=_attached(target="nope"))
    assert cfn().describe_stacks(StackName="sec")["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [e for e in cfn().describe_stack_events(StackName="sec")["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "Attach" and "nope" in failed[0]["ResourceStatusReason"]


def test_a_secret_takes_one_target_attachment_only(aws_env):
    """A single secret resource can only have one target attached to it."""
    second = {"Again": {"Type": "AWS::SecretsManager::SecretTargetAttachment", "DependsOn": "Attach", "Properties": {
        "SecretId": {"Ref": "S"}, "TargetId": {"Ref": "Db"}, "TargetType": "AWS::RDS::DBInstance"}}}
    cfn().create_stack(StackName="sec", TemplateBody=_attached(**second))
    failed = [e for e in cfn().describe_stack_events(StackName="sec")["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "Again" and "only one" in failed[0]["ResourceStatusReason"]


def test_a_secret_scheduled_for_deletion_cannot_be_written_until_restored(aws_env):
    """PutSecretValue, like GetSecretValue, refuses a secret marked for deletion (InvalidRequestException) and
    writes nothing; RestoreSecret cancels the deletion, and the secret takes a new value again."""
    import pytest
    from botocore.exceptions import ClientError

    arn = sm().create_secret(Name="app/deleted", SecretString="before")["ARN"]
    sm().delete_secret(SecretId="app/deleted", RecoveryWindowInDays=7)
    with pytest.raises(ClientError) as caught:
        sm().put_secret_value(SecretId="app/deleted", SecretString="after")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "marked deleted" in caught.value.response["Error"]["Message"]
    sm().restore_secret(SecretId="app/deleted")
    assert sm().get_secret_value(SecretId="app/deleted")["SecretString"] == "before"  # nothing was written
    assert sm().put_secret_value(SecretId="app/deleted", SecretString="after")["ARN"] == arn
    assert sm().get_secret_value(SecretId=arn)["SecretString"] == "after"
