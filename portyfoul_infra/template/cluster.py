"""Cluster and IAM (plan phase 4): the Fargate cluster, both task roles, both log groups.

The execution role (used by ECS to start tasks) may pull from this repository,
write these log groups and read exactly this project's secrets and
parameters. The task role (used by the application) may put metrics in its
own namespace, and open the ECS Exec channels and write their session log
(invoke shell). Both trust ecs-tasks only on behalf of this account.
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs import cloudwatch as aw_cloudwatch
from awacs import ecr as aw_ecr
from awacs import logs as aw_logs
from awacs import secretsmanager as aw_secrets
from awacs import ssm as aw_ssm
from awacs import ssmmessages as aw_ssmmessages
from awacs import sts as aw_sts
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import AccountId, Sub, Template, ecs, iam, logs

from .database import Database
from .parameters import Params
from .registry import Registry
from .secrets import Secrets

CLUSTER = "Cluster"
EXECUTION_ROLE = "TaskExecutionRole"
TASK_ROLE = "TaskRole"
WEB_LOG_GROUP = "WebLogGroup"
EXEC_LOG_GROUP = "ExecLogGroup"
WORKER_LOG_GROUP = "WorkerLogGroup"
METRICS_NAMESPACE = "Portyfoul"


@dataclass(frozen=True)
class Cluster:
    cluster: ecs.Cluster
    execution_role: iam.Role
    task_role: iam.Role
    web_log_group: logs.LogGroup
    worker_log_group: logs.LogGroup


def _ecs_tasks_trust() -> PolicyDocument:
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[Statement(
            Effect=Allow,
            Principal=Principal("Service", ["ecs-tasks.amazonaws.com"]),
            Action=[aw_sts.AssumeRole],
            # Confused-deputy guard: only ECS acting for this account may assume the role.
            Condition=Condition([
                StringEquals({"aws:SourceAccount": AccountId}),
                ArnLike({"aws:SourceArn": Sub("arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*")}),
            ]),
        )],
    )


def add_cluster(t: Template, p: Params, registry: Registry, database: Database, secrets: Secrets) -> Cluster:
    # Every ECS Exec session (invoke shell) is logged: who ran what in a production container is on record.
    exec_logs = t.add_resource(logs.LogGroup(
        EXEC_LOG_GROUP,
        LogGroupName=Sub("/ecs/${ProjectName}-${Environment}-exec"),
        RetentionInDays=p.LogRetentionDays,
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
    ))
    cluster = t.add_resource(ecs.Cluster(
        CLUSTER,
        ClusterName=Sub("${ProjectName}-${Environment}-cluster"),
        ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
        # The worker may run on Spot (WorkerCapacityProvider); the web service keeps its FARGATE launch type.
        CapacityProviders=["FARGATE", "FARGATE_SPOT"],
        Configuration=ecs.ClusterConfiguration(ExecuteCommandConfiguration=ecs.ExecuteCommandConfiguration(
            Logging="OVERRIDE",
            LogConfiguration=ecs.ExecuteCommandLogConfiguration(
                CloudWatchLogGroupName=exec_logs.ref(), CloudWatchEncryptionEnabled=False),
        )),
    ))
    log_groups = []
    for logical_id, suffix in ((WEB_LOG_GROUP, "web"), (WORKER_LOG_GROUP, "worker")):
        log_groups.append(t.add_resource(logs.LogGroup(
            logical_id,
            LogGroupName=Sub("/ecs/${ProjectName}-${Environment}-" + suffix),
            RetentionInDays=p.LogRetentionDays,
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )))
    web_logs, worker_logs = log_groups

    secret_arns = [database.secret.ref()] + [s.resource.ref() for s in secrets.app_secrets]
    parameter_arns = [
        Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}", Name=c.resource.ref())
        for c in secrets.parameters if c.env_var
    ]
    execution_role = t.add_resource(iam.Role(
        EXECUTION_ROLE,
        RoleName=Sub("${ProjectName}-${Environment}-ecs-task-execution-role"),
        AssumeRolePolicyDocument=_ecs_tasks_trust(),
        Policies=[iam.Policy(
            PolicyName="start-tasks",
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    # GetAuthorizationToken has no resource-level permissions.
                    Statement(Sid="EcrToken", Effect=Allow, Action=[aw_ecr.GetAuthorizationToken], Resource=["*"]),
                    Statement(Sid="EcrPull", Effect=Allow,
                              Action=[aw_ecr.BatchCheckLayerAvailability, aw_ecr.GetDownloadUrlForLayer, aw_ecr.BatchGetImage],
                              Resource=[registry.repository.get_att("Arn")]),
                    Statement(Sid="WriteLogs", Effect=Allow,
                              Action=[aw_logs.CreateLogStream, aw_logs.PutLogEvents],
                              Resource=[web_logs.get_att("Arn"), worker_logs.get_att("Arn")]),
                    Statement(Sid="ReadSecrets", Effect=Allow, Action=[aw_secrets.GetSecretValue], Resource=secret_arns),
                    Statement(Sid="ReadParameters", Effect=Allow, Action=[aw_ssm.GetParameters], Resource=parameter_arns),
                ],
            ),
        )],
    ))
    task_role = t.add_resource(iam.Role(
        TASK_ROLE,
        RoleName=Sub("${ProjectName}-${Environment}-ecs-task-role"),
        AssumeRolePolicyDocument=_ecs_tasks_trust(),
        Policies=[iam.Policy(
            PolicyName="application",
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Sid="PutOwnMetrics", Effect=Allow, Action=[aw_cloudwatch.PutMetricData], Resource=["*"],
                        # PutMetricData has no resource ARNs; the namespace is the scope.
                        Condition=Condition(StringEquals({"cloudwatch:namespace": METRICS_NAMESPACE})),
                    ),
                    # ECS Exec (invoke shell): the SSM agent's channels have no resource-level permissions.
                    Statement(Sid="ExecChannels", Effect=Allow, Resource=["*"], Action=[
                        aw_ssmmessages.CreateControlChannel, aw_ssmmessages.CreateDataChannel,
                        aw_ssmmessages.OpenControlChannel, aw_ssmmessages.OpenDataChannel]),
                    Statement(Sid="ExecSessionLogs", Effect=Allow, Resource=["*"],
                              Action=[aw_logs.DescribeLogGroups]),
                    Statement(Sid="ExecSessionLogStreams", Effect=Allow, Resource=[exec_logs.get_att("Arn")],
                              Action=[aw_logs.CreateLogStream, aw_logs.DescribeLogStreams, aw_logs.PutLogEvents]),
                ],
            ),
        )],
    ))
    return Cluster(cluster, execution_role, task_role, web_logs, worker_logs)


