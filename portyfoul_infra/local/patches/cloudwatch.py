"""Amazon CloudWatch: alarms and dashboards as CloudFormation creates, updates and deletes them."""

from __future__ import annotations

from typing import Any

from . import gap

T = "tests/test_local_cloudwatch.py::"
CFN_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
ALARM_MODEL = None  # the CloudFormation model class, once patched


def _backend(account_id: str, region_name: str):
    from moto.cloudwatch.models import cloudwatch_backends
    return cloudwatch_backends[account_id][region_name]


def _queries(metrics: list) -> list | None:
    """A template's Metrics (metric math) as moto's MetricDataQuery objects."""
    from moto.cloudwatch.models import Dimension, MetricDataQuery, MetricStat
    from moto.cloudwatch.models import Metric as MetricModel

    if not metrics:
        return None
    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat") or {}
        inner = stat.get("Metric") or {}
        metric_stat = None
        if inner.get("MetricName"):
            metric_stat = MetricStat(
                metric=MetricModel(metric_name=inner["MetricName"], namespace=inner.get("Namespace"),
                                   dimensions=[Dimension(name=d["Name"], value=d["Value"])
                                               for d in inner.get("Dimensions") or []]),
                period=stat.get("Period"), stat=stat.get("Stat"), unit=stat.get("Unit"))
        queries.append(MetricDataQuery(query_id=metric.get("Id"), label=metric.get("Label"),
                                       period=metric.get("Period"), return_data=metric.get("ReturnData"),
                                       expression=metric.get("Expression"), metric_stat=metric_stat))
    return queries


def _number(value: Any, kind: type) -> Any:
    return None if value is None else kind(value)


def put_alarm(account_id: str, region_name: str, name: str, props: dict):
    """PutMetricAlarm with a template's alarm properties (PutMetricAlarm overwrites an alarm of the same name)."""
    return _backend(account_id, region_name).put_metric_alarm(
        name=name, namespace=props.get("Namespace"), metric_name=props.get("MetricName"),
        metric_data_queries=_queries(props.get("Metrics") or []),
        comparison_operator=props.get("ComparisonOperator"),
        evaluation_periods=_number(props.get("EvaluationPeriods"), int),
        datapoints_to_alarm=_number(props.get("DatapointsToAlarm"), int),
        period=_number(props.get("Period"), int), threshold=_number(props.get("Threshold"), float),
        statistic=props.get("Statistic"), extended_statistic=props.get("ExtendedStatistic"),
        description=props.get("AlarmDescription"), dimensions=list(props.get("Dimensions") or []),
        alarm_actions=list(props.get("AlarmActions") or []), ok_actions=list(props.get("OKActions") or []),
        insufficient_data_actions=list(props.get("InsufficientDataActions") or []), unit=props.get("Unit"),
        actions_enabled=str(props.get("ActionsEnabled", True)).lower() == "true",
        treat_missing_data=props.get("TreatMissingData"),
        evaluate_low_sample_count_percentile=props.get("EvaluateLowSampleCountPercentile"),
        threshold_metric_id=props.get("ThresholdMetricId"), tags=list(props.get("Tags") or []))


def _alarm_model():
    from moto.core.common_models import CloudFormationModel

    class CloudFormationAlarm(CloudFormationModel):
        """AWS::CloudWatch::Alarm: a metric alarm, stored so DescribeAlarms shows it."""

        __module__ = "moto.cloudwatch.models"

        def __init__(self, name: str, arn: str):
            self.name, self.arn = name, arn

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudWatch::Alarm"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name: str):
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
            if attribute_name == "Arn":
                return self.arn
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
            alarm = put_alarm(account_id, region_name, resource_name, cloudformation_json.get("Properties") or {})
            return cls(alarm.name, alarm.alarm_arn)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name):
            put_alarm(account_id, region_name, original_resource.name, cloudformation_json.get("Properties") or {})
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            _backend(account_id, region_name).delete_alarms([self.name])

    return CloudFormationAlarm


@gap("cloudwatch-alarms",
     summary="AWS::CloudWatch::Alarm: not created by moto's CloudFormation, so a stack's alarms existed nowhere "
             "(patched: created with PutMetricAlarm, the template's name or one CloudFormation generates; DescribeAlarms "
             "shows them; an update overwrites the same alarm and a deletion deletes it; Ref is the name, "
             "Fn::GetAtt Arn the ARN)",
     aws="CloudFormation creates the alarm with the template's properties (AlarmName, or a generated name); Ref "
         "returns the alarm name and Fn::GetAtt Arn its ARN. Properties other than AlarmName are updatable without "
         "interruption.",
     reference=CFN_DOCS + "aws-resource-cloudwatch-alarm.html",
     test=T + "test_an_alarm_is_stored_updated_and_deleted_with_its_stack")
def patch_alarms() -> None:
    global ALARM_MODEL
    ALARM_MODEL = _alarm_model()  # defining the class registers it with moto's CloudFormation model list


@gap("cloudwatch-dashboards",
     summary="AWS::CloudWatch::Dashboard without DashboardName was named with a random UUID, and every update deleted "
             "it and created another under a new random name (patched: named <stack>-<logical id>-<suffix> as "
             "CloudFormation names it, and an update rewrites the same dashboard; GetDashboard shows the body)",
     aws="If you don't specify a DashboardName, CloudFormation generates a unique physical ID and uses that ID for "
         "the dashboard name. DashboardBody is updatable without interruption; deleting the resource deletes the "
         "dashboard.",
     reference=CFN_DOCS + "aws-resource-cloudwatch-dashboard.html",
     test=T + "test_a_dashboard_is_stored_updated_and_deleted_with_its_stack")
def patch_dashboards() -> None:
    from moto.cloudwatch.models import Dashboard

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties") or {}
        return _backend(account_id, region_name).put_dashboard(name=str(props.get("DashboardName") or resource_name),
                                                               body=props["DashboardBody"])

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json.get("Properties") or {}
        return _backend(account_id, region_name).put_dashboard(name=original_resource.name,
                                                               body=props["DashboardBody"])

    def delete(self, account_id: str, region_name: str) -> None:
        _backend(account_id, region_name).delete_dashboards([self.name])

    Dashboard.cloudformation_name_type = staticmethod(lambda: "DashboardName")
    Dashboard.create_from_cloudformation_json = classmethod(create)
    Dashboard.update_from_cloudformation_json = classmethod(update)
    Dashboard.delete = delete
