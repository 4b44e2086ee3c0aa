"""Monitoring (plan phase 10): an alarm topic, alarms on services, database and load balancer, a dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass

from troposphere import Equals, Not, Sub, Template, cloudwatch, sns

from .cluster import Cluster
from .containers import WEB_5XX_ALARM, WEB_UNHEALTHY_ALARM, WORKER_NOT_RUNNING_ALARM, alarm_name
from .database import Database
from .load_balancer import LoadBalancer
from .parameters import Params
from .web_service import WebService
from .worker_service import WorkerService

ALARM_TOPIC = "AlarmTopic"
ALARM_SUBSCRIPTION = "AlarmEmailSubscription"
HAS_ALARM_EMAIL = "HasAlarmEmail"
DASHBOARD = "Dashboard"


@dataclass(frozen=True)
class Monitoring:
    topic: sns.Topic
    alarms: tuple[cloudwatch.Alarm, ...]
    dashboard: cloudwatch.Dashboard


def add_monitoring(
    t: Template, p: Params, cluster: Cluster, lb: LoadBalancer, database: Database,
    web: WebService, worker: WorkerService,
) -> Monitoring:
    t.add_condition(HAS_ALARM_EMAIL, Not(Equals(p.AlarmEmail, "")))
    topic = t.add_resource(sns.Topic(ALARM_TOPIC, TopicName=Sub("${ProjectName}-${Environment}-alarms")))
    t.add_resource(sns.SubscriptionResource(
        ALARM_SUBSCRIPTION, Condition=HAS_ALARM_EMAIL, TopicArn=topic.ref(), Protocol="email", Endpoint=p.AlarmEmail,
    ))

    def alarm(logical_id, suffix, description, namespace, metric, dimensions, statistic, comparison,
              threshold, periods=3, period=300, missing="missing"):
        return t.add_resource(cloudwatch.Alarm(
            logical_id,
            AlarmName=alarm_name(suffix),
            AlarmDescription=description,
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[cloudwatch.MetricDimension(Name=k, Value=v) for k, v in dimensions.items()],
            Statistic=statistic,
            Period=period,
            EvaluationPeriods=periods,
            Threshold=threshold,
            ComparisonOperator=comparison,
            TreatMissingData=missing,
            AlarmActions=[topic.ref()],
            OKActions=[topic.ref()],
        ))

    alarms = []
    for label, svc in (("Web", web.service), ("Worker", worker.service)):
        dims = {"ClusterName": cluster.cluster.ref(), "ServiceName": svc.get_att("Name")}
        alarms.append(alarm(f"{label}CpuAlarm", f"{label.lower()}-cpu-high", f"{label} service CPU high",
                            "AWS/ECS", "CPUUtilization", dims, "Average", "GreaterThanThreshold", p.AlarmCpuPercent))
        alarms.append(alarm(f"{label}MemoryAlarm", f"{label.lower()}-memory-high", f"{label} service memory high",
                            "AWS/ECS", "MemoryUtilization", dims, "Average", "GreaterThanThreshold", p.AlarmMemoryPercent))
    alarms.append(alarm(
        "WorkerNotRunningAlarm", WORKER_NOT_RUNNING_ALARM, "No price worker running: prices are going stale",
        "ECS/ContainerInsights", "RunningTaskCount",
        {"ClusterName": cluster.cluster.ref(), "ServiceName": worker.service.get_att("Name")},
        "Minimum", "LessThanThreshold", 1, periods=3, period=300, missing="breaching"))
    db_dims = {"DBInstanceIdentifier": database.instance.ref()}
    alarms.append(alarm("DatabaseCpuAlarm", "db-cpu-high", "Database CPU high",
                        "AWS/RDS", "CPUUtilization", db_dims, "Average", "GreaterThanThreshold", p.AlarmDbCpuPercent))
    alarms.append(alarm("DatabaseStorageAlarm", "db-free-storage-low", "Database free storage low",
                        "AWS/RDS", "FreeStorageSpace", db_dims, "Minimum", "LessThanThreshold",
                        p.AlarmDbFreeStorageBytes, periods=1))
    alarms.append(alarm("DatabaseConnectionsAlarm", "db-connections-high", "Database connections high",
                        "AWS/RDS", "DatabaseConnections", db_dims, "Maximum", "GreaterThanThreshold",
                        p.AlarmDbConnections))
    alb_dims = {"LoadBalancer": lb.load_balancer.get_att("LoadBalancerFullName")}
    alarms.append(alarm("Target5xxAlarm", WEB_5XX_ALARM, "Web responses with 5xx status",
                        "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", alb_dims, "Sum",
                        "GreaterThanThreshold", p.AlarmAlb5xx, periods=1, missing="notBreaching"))
    alarms.append(alarm("Alb5xxAlarm", "alb-5xx", "Load balancer 5xx (often: no healthy web task)",
                        "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", alb_dims, "Sum",
                        "GreaterThanThreshold", p.AlarmAlb5xx, periods=1, missing="notBreaching"))
    alarms.append(alarm("UnhealthyTargetsAlarm", WEB_UNHEALTHY_ALARM, "Web targets failing health checks",
                        "AWS/ApplicationELB", "UnHealthyHostCount",
                        {**alb_dims, "TargetGroup": lb.target_group.get_att("TargetGroupFullName")},
                        "Maximum", "GreaterThanThreshold", 0, periods=3, period=60, missing="notBreaching"))

    dashboard = t.add_resource(cloudwatch.Dashboard(
        DASHBOARD,
        DashboardName=Sub("${ProjectName}-${Environment}"),
        DashboardBody=Sub(json.dumps(_dashboard_body(), sort_keys=True), **{
            "Cluster": cluster.cluster.ref(),
            "WebService": web.service.get_att("Name"),
            "WorkerService": worker.service.get_att("Name"),
            "Alb": lb.load_balancer.get_att("LoadBalancerFullName"),
            "Db": database.instance.ref(),
        }),
    ))
    return Monitoring(topic, tuple(alarms), dashboard)


def _dashboard_body() -> dict:
    def widget(x, y, title, metrics, stat="Average"):
        return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
                "properties": {"title": title, "region": "${AWS::Region}", "stat": stat, "period": 300,
                               "view": "timeSeries", "metrics": metrics}}

    ecs = ["AWS/ECS"]
    return {"widgets": [
        widget(0, 0, "ECS CPU %", [
            ecs + ["CPUUtilization", "ClusterName", "${Cluster}", "ServiceName", "${WebService}"],
            ecs + ["CPUUtilization", "ClusterName", "${Cluster}", "ServiceName", "${WorkerService}"]]),
        widget(12, 0, "ECS memory %", [
            ecs + ["MemoryUtilization", "ClusterName", "${Cluster}", "ServiceName", "${WebService}"],
            ecs + ["MemoryUtilization", "ClusterName", "${Cluster}", "ServiceName", "${WorkerService}"]]),
        widget(0, 6, "ECS running tasks", [
            ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", "${Cluster}", "ServiceName", "${WebService}"],
            ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", "${Cluster}", "ServiceName", "${WorkerService}"]]),
        widget(12, 6, "ALB requests and errors", [
            ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", "${Alb}"],
            ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", "${Alb}"],
            ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", "${Alb}"]], stat="Sum"),
        widget(0, 12, "ALB latency (p95)", [
            ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", "${Alb}"]], stat="p95"),
        widget(12, 12, "RDS CPU and connections", [
            ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", "${Db}"],
            ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", "${Db}"]]),
        widget(0, 18, "RDS free storage (bytes)", [
            ["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", "${Db}"]], stat="Minimum"),
    ]}


