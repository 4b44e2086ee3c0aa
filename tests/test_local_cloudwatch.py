"""CloudWatch alarms and dashboards created by CloudFormation on the local AWS, stated as AWS documents them."""

import json

import boto3

REGION = "us-east-2"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def cloudwatch():
    return boto3.client("cloudwatch", region_name=REGION)


def physical(stack, logical_id):
    return cfn().describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"]["PhysicalResourceId"]


def alarm(threshold, **props) -> str:
    return json.dumps({"Resources": {"Cpu": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "Namespace": "AWS/ECS", "MetricName": "CPUUtilization", "Statistic": "Average", "Period": 60,
        "EvaluationPeriods": 3, "Threshold": threshold, "ComparisonOperator": "GreaterThanThreshold",
        "Dimensions": [{"Name": "ClusterName", "Value": "web"}], "TreatMissingData": "notBreaching", **props}}},
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Cpu", "Arn"]}}}})


def test_an_alarm_is_stored_updated_and_deleted_with_its_stack(aws_env):
    """DescribeAlarms shows the stack's alarm under the name CloudFormation generates (Ref); an update changes the same
    alarm; deleting the stack deletes it."""
    cfn().create_stack(StackName="mon", TemplateBody=alarm(80))
    name = physical("mon", "Cpu")
    assert name.startswith("mon-Cpu-")
    described = cloudwatch().describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert (described["Threshold"], described["EvaluationPeriods"], described["Dimensions"]) == (
        80.0, 3, [{"Name": "ClusterName", "Value": "web"}])
    outputs = cfn().describe_stacks(StackName="mon")["Stacks"][0]["Outputs"]
    assert outputs[0]["OutputValue"] == described["AlarmArn"]
    cfn().update_stack(StackName="mon", TemplateBody=alarm(90, AlarmDescription="CPU high"))
    assert physical("mon", "Cpu") == name
    updated = cloudwatch().describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert (updated["Threshold"], updated["AlarmDescription"]) == (90.0, "CPU high")
    cfn().delete_stack(StackName="mon")
    assert cloudwatch().describe_alarms()["MetricAlarms"] == []


def dashboard(title) -> str:
    body = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 3, "properties": {"markdown": title}}]}
    return json.dumps({"Resources": {"Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardBody": json.dumps(body)}}}})


def test_a_dashboard_is_stored_updated_and_deleted_with_its_stack(aws_env):
    """Without DashboardName the dashboard is named <stack>-<logical id>-<suffix>; GetDashboard shows the body; an
    update rewrites the same dashboard; deleting the stack deletes it."""
    cfn().create_stack(StackName="mon", TemplateBody=dashboard("one"))
    name = physical("mon", "Board")
    assert name.startswith("mon-Board-")
    assert "one" in cloudwatch().get_dashboard(DashboardName=name)["DashboardBody"]
    cfn().update_stack(StackName="mon", TemplateBody=dashboard("two"))
    assert physical("mon", "Board") == name
    assert "two" in cloudwatch().get_dashboard(DashboardName=name)["DashboardBody"]
    cfn().delete_stack(StackName="mon")
    assert cloudwatch().list_dashboards()["DashboardEntries"] == []
