"""Resource import on the local AWS, stated as CloudFormation documents it (plain boto3, no product code)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "us-east-2"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def template(policy: bool = True) -> str:
    secret = {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "by-hand"}}
    param = {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/by-hand", "Type": "String", "Value": "x"}}
    if policy:
        secret["DeletionPolicy"] = param["DeletionPolicy"] = "Retain"
    return json.dumps({"Resources": {"Secret": secret, "Param": param}})


IMPORTS = [{"ResourceType": "AWS::SecretsManager::Secret", "LogicalResourceId": "Secret",
            "ResourceIdentifier": {"Id": "by-hand"}},
           {"ResourceType": "AWS::SSM::Parameter", "LogicalResourceId": "Param",
            "ResourceIdentifier": {"Name": "/by-hand"}}]


def by_hand() -> str:
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/by-hand", Value="typed", Type="String")
    return boto3.client("secretsmanager", region_name=REGION).create_secret(Name="by-hand", SecretString="s3cret")["ARN"]


def test_an_existing_secret_is_imported_untouched(aws_env):
    """An IMPORT change set brings existing resources under the stack: Action Import, IMPORT_COMPLETE,
    the same ARN and the values as they were."""
    arn = by_hand()
    cs = cfn().create_change_set(StackName="imported", ChangeSetName="imp", ChangeSetType="IMPORT",
                                 TemplateBody=template(), ResourcesToImport=IMPORTS)
    changes = cfn().describe_change_set(ChangeSetName=cs["Id"])["Changes"]
    assert {c["ResourceChange"]["Action"] for c in changes} == {"Import"}
    cfn().execute_change_set(ChangeSetName=cs["Id"])
    assert cfn().describe_stacks(StackName="imported")["Stacks"][0]["StackStatus"] == "IMPORT_COMPLETE"
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                 for r in cfn().list_stack_resources(StackName="imported")["StackResourceSummaries"]}
    assert resources == {"Secret": arn, "Param": "/by-hand"}
    assert boto3.client("secretsmanager", region_name=REGION).get_secret_value(SecretId=arn)["SecretString"] == "s3cret"
    assert boto3.client("ssm", region_name=REGION).get_parameter(Name="/by-hand")["Parameter"]["Value"] == "typed"


def test_an_import_without_deletion_policy_is_refused(aws_env):
    """Every resource to import needs a DeletionPolicy in the template."""
    by_hand()
    with pytest.raises(ClientError) as caught:
        cfn().create_change_set(StackName="imported", ChangeSetName="imp", ChangeSetType="IMPORT",
                                TemplateBody=template(policy=False), ResourcesToImport=IMPORTS)
    assert "must have DeletionPolicy attribute specified in the template" in str(caught.value)


def test_importing_a_resource_that_does_not_exist_is_refused(aws_env):
    """A resource to import must exist."""
    with pytest.raises(ClientError) as caught:
        cfn().create_change_set(StackName="imported", ChangeSetName="imp", ChangeSetType="IMPORT",
                                TemplateBody=template(), ResourcesToImport=IMPORTS)
    assert "does not exist" in str(caught.value)


def test_an_import_into_a_live_stack_keeps_its_parameters(aws_env):
    """Importing into an existing stack, named by its ARN, with UsePreviousValue for its parameters (one of them
    left at its default): the stack keeps its values and its resources, and gains the imported ones."""
    body = {"Parameters": {"Tier": {"Type": "String"}, "Size": {"Type": "Number", "Default": "2"}},
            "Resources": {"Topic": {"Type": "AWS::SSM::Parameter",
                                    "Properties": {"Name": "/tier", "Type": "String", "Value": {"Ref": "Tier"}}}}}
    stack_id = cfn().create_stack(StackName="live", TemplateBody=json.dumps(body),
                                  Parameters=[{"ParameterKey": "Tier", "ParameterValue": "gold"}])["StackId"]
    arn = by_hand()
    body["Resources"].update(json.loads(template())["Resources"])
    cs = cfn().create_change_set(StackName=stack_id, ChangeSetName="imp", ChangeSetType="IMPORT",
                                 TemplateBody=json.dumps(body), ResourcesToImport=IMPORTS,
                                 Parameters=[{"ParameterKey": "Tier", "UsePreviousValue": True},
                                             {"ParameterKey": "Size", "UsePreviousValue": True}])
    assert cs["StackId"] == stack_id
    cfn().execute_change_set(ChangeSetName=cs["Id"])
    stack = cfn().describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "IMPORT_COMPLETE"
    assert sorted(stack["Parameters"], key=lambda p: p["ParameterKey"]) == [
        {"ParameterKey": "Size", "ParameterValue": "2"}, {"ParameterKey": "Tier", "ParameterValue": "gold"}]
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                 for r in cfn().list_stack_resources(StackName=stack_id)["StackResourceSummaries"]}
    assert resources == {"Topic": "/tier", "Secret": arn, "Param": "/by-hand"}


def test_use_previous_value_for_a_parameter_the_stack_lacks_is_refused(aws_env):
    """UsePreviousValue names a value the stack must already have."""
    by_hand()
    with pytest.raises(ClientError) as caught:
        cfn().create_change_set(StackName="imported", ChangeSetName="imp", ChangeSetType="IMPORT",
                                TemplateBody=template(), ResourcesToImport=IMPORTS,
                                Parameters=[{"ParameterKey": "Tier", "UsePreviousValue": True}])
    assert "Tier" in str(caught.value)
