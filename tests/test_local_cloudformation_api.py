"""CloudFormation API calls on the local AWS, stated as AWS documents them (plain boto3, no product code)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

REGION = "us-east-2"
VPC = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}
ALARM = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
    "MetricName": "CPUUtilization", "Namespace": "AWS/ECS", "Statistic": "Average", "Period": 60,
    "EvaluationPeriods": 1, "Threshold": 80, "ComparisonOperator": "GreaterThanThreshold"}}


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def test_describe_stack_resource_answers_for_every_resource(aws_env):
    """DescribeStackResource returns the resource's detail, even beside a type moto does not model; an unknown
    logical ID is a ValidationError."""
    cfn().create_stack(StackName="api", TemplateBody=json.dumps({"Resources": {"Vpc": VPC, "Alarm": ALARM}}))
    detail = cfn().describe_stack_resource(StackName="api", LogicalResourceId="Vpc")["StackResourceDetail"]
    assert detail["PhysicalResourceId"].startswith("vpc-")
    assert (detail["ResourceType"], detail["ResourceStatus"]) == ("AWS::EC2::VPC", "CREATE_COMPLETE")
    assert detail["LastUpdatedTimestamp"]
    with pytest.raises(ClientError) as caught:
        cfn().describe_stack_resource(StackName="api", LogicalResourceId="Nope")
    assert caught.value.response["Error"]["Code"] == "ValidationError"


def test_termination_protection_can_be_turned_on_and_off(aws_env):
    cfn().create_stack(StackName="api", TemplateBody=json.dumps({"Resources": {"Vpc": VPC}}))
    cfn().update_termination_protection(StackName="api", EnableTerminationProtection=True)
    assert cfn().describe_stacks(StackName="api")["Stacks"][0]["EnableTerminationProtection"] is True
    cfn().update_termination_protection(StackName="api", EnableTerminationProtection=False)
    cfn().delete_stack(StackName="api")
    assert not [s for s in cfn().list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]


def test_drift_detection_completes_in_sync(aws_env):
    cfn().create_stack(StackName="api", TemplateBody=json.dumps({"Resources": {"Vpc": VPC}}))
    detection = cfn().detect_stack_drift(StackName="api")["StackDriftDetectionId"]
    answer = cfn().describe_stack_drift_detection_status(StackDriftDetectionId=detection)
    assert (answer["DetectionStatus"], answer["StackDriftStatus"]) == ("DETECTION_COMPLETE", "IN_SYNC")


def test_a_stack_refactor_renames_a_logical_id_and_keeps_the_resource(aws_env):
    """A refactor renames a logical ID without replacing the resource; a property change is refused."""
    cfn().create_stack(StackName="api", TemplateBody=json.dumps({"Resources": {"Vpc": VPC}}))
    vpc = cfn().describe_stack_resource(StackName="api", LogicalResourceId="Vpc")["StackResourceDetail"]
    renamed = json.dumps({"Resources": {"Network": VPC}})
    refactor = cfn().create_stack_refactor(
        StackDefinitions=[{"StackName": "api", "TemplateBody": renamed}],
        ResourceMappings=[{"Source": {"StackName": "api", "LogicalResourceId": "Vpc"},
                           "Destination": {"StackName": "api", "LogicalResourceId": "Network"}}])["StackRefactorId"]
    assert cfn().describe_stack_refactor(StackRefactorId=refactor)["Status"] == "CREATE_COMPLETE"
    cfn().execute_stack_refactor(StackRefactorId=refactor)
    moved = cfn().describe_stack_resource(StackName="api", LogicalResourceId="Network")["StackResourceDetail"]
    assert moved["PhysicalResourceId"] == vpc["PhysicalResourceId"]
    changed = json.dumps({"Resources": {"Other": {**VPC, "Properties": {"CidrBlock": "10.9.0.0/16"}}}})
    bad = cfn().create_stack_refactor(
        StackDefinitions=[{"StackName": "api", "TemplateBody": changed}],
        ResourceMappings=[{"Source": {"StackName": "api", "LogicalResourceId": "Network"},
                           "Destination": {"StackName": "api", "LogicalResourceId": "Other"}}])["StackRefactorId"]
    assert cfn().describe_stack_refactor(StackRefactorId=bad)["Status"] == "CREATE_FAILED"


def test_describe_stacks_masks_no_echo_and_names_ssm_parameters(aws_env):
    """A NoEcho parameter is listed as ****; an SSM-typed one by the parameter name given, its value apart."""
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/team/pg-version", Value="17.2", Type="String")
    template = {"Parameters": {"DbUser": {"Type": "String", "NoEcho": True},
                               "PgVersion": {"Type": "AWS::SSM::Parameter::Value<String>",
                                             "Default": "/team/pg-version"},
                               "Tier": {"Type": "String"}},
                "Resources": {"Vpc": VPC}}
    cfn().create_stack(StackName="params", TemplateBody=json.dumps(template), Parameters=[
        {"ParameterKey": "DbUser", "ParameterValue": "portyfoul_admin"},
        {"ParameterKey": "Tier", "ParameterValue": "gold"}])
    listed = {p["ParameterKey"]: p for p in cfn().describe_stacks(StackName="params")["Stacks"][0]["Parameters"]}
    assert listed["DbUser"]["ParameterValue"] == "****"
    assert listed["PgVersion"]["ParameterValue"] == "/team/pg-version" and listed["PgVersion"]["ResolvedValue"] == "17.2"
    assert listed["Tier"] == {"ParameterKey": "Tier", "ParameterValue": "gold"}


def test_use_previous_value_of_an_ssm_parameter_reads_it_again(aws_env):
    """UsePreviousValue for an SSM-typed parameter passes its name again: the update reads the value anew."""
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/team/cidr", Value="10.1.0.0/16", Type="String")
    template = {"Parameters": {"Cidr": {"Type": "AWS::SSM::Parameter::Value<String>"}},
                "Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Ref": "Cidr"}}},
                              "Note": {"Type": "AWS::SSM::Parameter", "Properties": {
                                  "Type": "String", "Value": "one"}}}}
    cfn().create_stack(StackName="ssmp", TemplateBody=json.dumps(template),
                       Parameters=[{"ParameterKey": "Cidr", "ParameterValue": "/team/cidr"}])
    template["Resources"]["Note"]["Properties"]["Value"] = "two"
    cs = cfn().create_change_set(StackName="ssmp", ChangeSetName="again", TemplateBody=json.dumps(template),
                                 Parameters=[{"ParameterKey": "Cidr", "UsePreviousValue": True}])
    cfn().execute_change_set(ChangeSetName=cs["Id"])
    stack = cfn().describe_stacks(StackName="ssmp")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack["Parameters"] == [{"ParameterKey": "Cidr", "ParameterValue": "/team/cidr",
                                    "ResolvedValue": "10.1.0.0/16"}]


def test_a_completed_drift_detection_is_recorded_on_the_stack(aws_env):
    """Before any detection a stack's DriftInformation is NOT_CHECKED without a time; after one completes,
    DescribeStacks gives its status and LastCheckTimestamp, the time the detection reports."""
    cfn().create_stack(StackName="api", TemplateBody=json.dumps({"Resources": {"Vpc": VPC}}))
    before = cfn().describe_stacks(StackName="api")["Stacks"][0]["DriftInformation"]
    assert before == {"StackDriftStatus": "NOT_CHECKED"}
    detection = cfn().detect_stack_drift(StackName="api")["StackDriftDetectionId"]
    status = cfn().describe_stack_drift_detection_status(StackDriftDetectionId=detection)
    after = cfn().describe_stacks(StackName="api")["Stacks"][0]["DriftInformation"]
    assert after["StackDriftStatus"] == status["StackDriftStatus"] == "IN_SYNC"
    assert after["LastCheckTimestamp"] == status["Timestamp"]
