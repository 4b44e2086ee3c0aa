"""Cross-stack exports on the local AWS, stated as CloudFormation documents them (plain boto3)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "us-east-2"
PARAM = {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "shared"}}}


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def exporter(with_export: bool = True, value: str = "shared") -> str:
    resources = {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": value}}}
    out = {"Outputs": {"Out": {"Value": value, "Export": {"Name": "shared-value"}},
                       "Name": {"Value": {"Ref": "P"}}}} if with_export else {"Outputs": {"Name": {"Value": {"Ref": "P"}}}}
    return json.dumps({"Resources": resources, **out})


def importer() -> str:
    return json.dumps({"Resources": {"Q": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Type": "String", "Value": {"Fn::ImportValue": "shared-value"}}}}})


def both():
    cfn().create_stack(StackName="producer", TemplateBody=exporter())
    cfn().create_stack(StackName="consumer", TemplateBody=importer())


def test_list_imports_names_the_importing_stacks(aws_env):
    """ListImports lists the stacks importing an export; for one nobody imports it is a ValidationError."""
    both()
    assert cfn().list_imports(ExportName="shared-value")["Imports"] == ["consumer"]
    assert [e["Name"] for e in cfn().list_exports()["Exports"]] == ["shared-value"]
    with pytest.raises(ClientError) as caught:
        cfn().list_imports(ExportName="nobody-imports-this")
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def test_removing_an_export_another_stack_imports_fails_and_rolls_back(aws_env):
    """An update that deletes an export in use fails: Cannot delete export <name> as it is in use by <stack>."""
    both()
    cfn().update_stack(StackName="producer", TemplateBody=exporter(with_export=False))
    stack = cfn().describe_stacks(StackName="producer")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack["StackStatusReason"] == "Cannot delete export shared-value as it is in use by consumer."
    assert [e["Name"] for e in cfn().list_exports()["Exports"]] == ["shared-value"]


def test_changing_an_exported_value_in_use_fails(aws_env):
    """An update that changes an exported value in use fails: Cannot update export <name> ..."""
    both()
    cfn().update_stack(StackName="producer", TemplateBody=exporter(value="changed"))
    stack = cfn().describe_stacks(StackName="producer")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack["StackStatusReason"] == "Cannot update export shared-value as it is in use by consumer."


def test_a_stack_whose_export_is_imported_cannot_be_deleted(aws_env):
    """Deleting a stack whose export another stack imports fails (DELETE_FAILED); the export stays."""
    both()
    cfn().delete_stack(StackName="producer")
    stack = cfn().describe_stacks(StackName="producer")["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert "in use by consumer" in stack["StackStatusReason"]
    cfn().delete_stack(StackName="consumer")
    cfn().delete_stack(StackName="producer")
    assert cfn().list_exports()["Exports"] == []


def test_an_output_whose_condition_is_false_exports_nothing(aws_env):
    """An output (and its export) exists only when its Condition holds."""
    template = {"Parameters": {"Stage": {"Type": "String", "Default": "dev"}},
                "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Condition": "IsProd"},
                              "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}},
                "Outputs": {"TopicArn": {"Condition": "IsProd", "Value": {"Ref": "Topic"}, "Export": {"Name": "topic"}},
                            "VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": "vpc"}}}}
    boto3.client("cloudformation", region_name="us-east-2").create_stack(StackName="cond",
                                                                         TemplateBody=json.dumps(template))
    exports = boto3.client("cloudformation", region_name="us-east-2").list_exports()["Exports"]
    assert [e["Name"] for e in exports] == ["vpc"] and exports[0]["Value"].startswith("vpc-")
