"""The deploy role GitHub Actions assumes, in a small companion stack per environment (portyfoul-<env>-deploy).

A companion stack, not the application's: the GitHub OIDC provider exists
once per account (so one environment creates it and the others refer to it),
the role (who may deploy) changes on another rhythm than the application
(what is deployed), and the application's template stays under
CloudFormation's inline body limit.

Trust: only tokens GitHub issues to jobs of one repository that run in one
named GitHub environment, and that environment admits the main branch only
(its deployment branch rule, set once in GitHub): main AND the environment,
so a job on main that skips the environment's reviewers gets no credentials.

Permissions: exactly what stack-update (through a CloudFormation execution
role it may pass and nothing else), release, promote, rollback and
release-status call, each scoped to this environment's resources by ARN
where the API allows it.
"""

from __future__ import annotations

from awacs import cloudformation as aw_cfn
from awacs import cloudwatch as aw_cloudwatch
from awacs import ecr as aw_ecr
from awacs import ecs as aw_ecs
from awacs import iam as aw_iam
from awacs import logs as aw_logs
from awacs import rds as aw_rds
from awacs import s3 as aw_s3
from awacs import secretsmanager as aw_secrets
from awacs import ssm as aw_ssm
from awacs import sts as aw_sts
from awacs.aws import Action, Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import Equals, GetAtt, If, Output, Parameter, Ref, Sub, Template, iam

from .. import contract as out

OIDC_PROVIDER = "GitHubOidcProvider"
DEPLOY_ROLE = "DeployRole"
CFN_EXECUTION_ROLE = "CloudFormationExecutionRole"
CREATE_PROVIDER = "CreateOidcProvider"
GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_THUMBPRINT = "6938fd4d98bab03faadb97b34396831e3780aea1"
# What the application stack's resources are made of: the execution role may manage these, nothing else.
ROLE_ACTIONS = ("CreateRole", "DeleteRole", "GetRole", "UpdateRole", "UpdateAssumeRolePolicy", "PassRole",
                "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy", "ListRolePolicies", "AttachRolePolicy",
                "DetachRolePolicy", "ListAttachedRolePolicies", "TagRole", "UntagRole")
# The release history's SSM names under /<project>/<env>/ (aws/history.py: the template may not import it).
HISTORY_PATH = "releases"
LEGACY_HISTORY = ("release-history", "release-history-last-good")
CFN_SERVICES = ("ec2", "ecs", "rds", "elasticloadbalancing", "logs", "secretsmanager", "ssm", "ecr", "cloudwatch",
                "sns", "application-autoscaling", "acm", "route53", "s3")


def build_deploy_role_template() -> Template:
    t = Template(Description="portyfoul-infra: the role GitHub Actions assumes to deploy one environment")
    t.set_version("2010-09-09")
    p = {name: t.add_parameter(Parameter(name, Type="String", **kw)) for name, kw in (
        ("ProjectName", {}), ("Environment", {}), ("StackName", {"Description": "The application stack"}),
        ("TemplateBucket", {}), ("GitHubRepository", {"Description": "owner/name", "AllowedPattern": r"[\w.-]+/[\w.-]+"}),
        ("GitHubEnvironment", {"Description": "The GitHub environment whose jobs may deploy"}),
        (out.OIDC_PROVIDER_ARN, {"Default": "", "Description": "The account's GitHub OIDC provider; empty creates it"}),
        ("PromoteFromEnvironment", {"Description": "The environment promote copies images from (or this one)"}),
        ("PromoteFromStack", {"Description": "That environment's application stack"}),
    )}
    t.add_condition(CREATE_PROVIDER, Equals(Ref(p[out.OIDC_PROVIDER_ARN]), ""))
    provider = t.add_resource(iam.OIDCProvider(
        OIDC_PROVIDER, Condition=CREATE_PROVIDER, Url=GITHUB_OIDC_URL, ClientIdList=["sts.amazonaws.com"],
        ThumbprintList=[GITHUB_THUMBPRINT],
    ))
    prefix = "${ProjectName}-${Environment}"
    cfn_role = t.add_resource(iam.Role(
        CFN_EXECUTION_ROLE,
        RoleName=Sub(prefix + "-cloudformation"),
        AssumeRolePolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[Statement(
            Effect=Allow, Principal=Principal("Service", ["cloudformation.amazonaws.com"]),
            Action=[aw_sts.AssumeRole])]),
        Policies=[iam.Policy(PolicyName="manage-the-application-stack", PolicyDocument=PolicyDocument(
            Version="2012-10-17", Statement=[
                Statement(Sid="ApplicationResources", Effect=Allow, Resource=["*"],
                          Action=[_all(service) for service in CFN_SERVICES]),
                # IAM only for this environment's roles: the stack cannot grant itself anything else.
                Statement(Sid="OwnRoles", Effect=Allow, Action=[Action("iam", a) for a in ROLE_ACTIONS],
                          Resource=[Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + prefix + "-*")]),
                Statement(Sid="ServiceLinkedRoles", Effect=Allow, Action=[aw_iam.CreateServiceLinkedRole],
                          Resource=[Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/*")]),
            ]))],
    ))
    federated = If(CREATE_PROVIDER, Ref(provider), Ref(p[out.OIDC_PROVIDER_ARN]))
    arn = "arn:${AWS::Partition}:%s:${AWS::Region}:${AWS::AccountId}:"
    statements = [
        Statement(Sid="ApplicationStack", Effect=Allow, Resource=[
            Sub((arn % "cloudformation") + "stack/${StackName}/*")], Action=[
            aw_cfn.DescribeStacks, aw_cfn.DescribeStackEvents, aw_cfn.DescribeStackResources, aw_cfn.GetTemplate,
            aw_cfn.ListStackResources, aw_cfn.CreateChangeSet, aw_cfn.DescribeChangeSet, aw_cfn.ExecuteChangeSet,
            aw_cfn.DeleteChangeSet, aw_cfn.ListChangeSets, aw_cfn.SetStackPolicy, aw_cfn.GetStackPolicy,
            aw_cfn.UpdateTerminationProtection]),
        Statement(Sid="PassOnlyTheExecutionRole", Effect=Allow, Action=[aw_iam.PassRole],
                  Resource=[GetAtt(cfn_role, "Arn")],
                  Condition=Condition(StringEquals({"iam:PassedToService": "cloudformation.amazonaws.com"}))),
        Statement(Sid="PassTheTaskRoles", Effect=Allow, Action=[aw_iam.PassRole],
                  Resource=[Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + prefix + "-ecs-task-*")],
                  Condition=Condition(StringEquals({"iam:PassedToService": "ecs-tasks.amazonaws.com"}))),
        Statement(Sid="Services", Effect=Allow, Action=[aw_ecs.DescribeServices, aw_ecs.UpdateService], Resource=[
            Sub((arn % "ecs") + "service/" + prefix + "-cluster/*")]),
        Statement(Sid="Tasks", Effect=Allow, Action=[aw_ecs.ListTasks, aw_ecs.DescribeTasks, aw_ecs.StopTask,
                                                     aw_ecs.RunTask, aw_ecs.RegisterTaskDefinition], Resource=[
            Sub((arn % "ecs") + "task/" + prefix + "-cluster/*"),
            Sub((arn % "ecs") + "container-instance/" + prefix + "-cluster/*"),
            Sub((arn % "ecs") + "task-definition/" + prefix + "-*")]),
        # These task definition calls have no resource-level permissions in ECS.
        Statement(Sid="TaskDefinitions", Effect=Allow, Resource=["*"], Action=[
            aw_ecs.DeregisterTaskDefinition, aw_ecs.DescribeTaskDefinition, aw_ecs.ListTaskDefinitions]),
        Statement(Sid="EcrToken", Effect=Allow, Action=[aw_ecr.GetAuthorizationToken], Resource=["*"]),
        Statement(Sid="Images", Effect=Allow, Resource=[Sub((arn % "ecr") + "repository/" + prefix)], Action=[
            aw_ecr.DescribeImages, aw_ecr.BatchGetImage, aw_ecr.BatchCheckLayerAvailability,
            aw_ecr.GetDownloadUrlForLayer, aw_ecr.InitiateLayerUpload, aw_ecr.UploadLayerPart,
            aw_ecr.CompleteLayerUpload, aw_ecr.PutImage]),
        Statement(Sid="ReleaseHistoryAndConfig", Effect=Allow, Action=[
            aw_ssm.GetParameter, aw_ssm.GetParameters, aw_ssm.PutParameter], Resource=[
            Sub((arn % "ssm") + "parameter/${ProjectName}/${Environment}/*")]),
        # The release history: one parameter per record under .../releases (read by path; written above);
        # records beyond what it keeps are deleted, and so, once migrated, is the single parameter of earlier
        # versions with its copy. Nothing else of the environment's parameters may be deleted or listed.
        Statement(Sid="ReleaseHistoryRead", Effect=Allow, Action=[aw_ssm.GetParametersByPath], Resource=[
            Sub((arn % "ssm") + "parameter/${ProjectName}/${Environment}/" + HISTORY_PATH)]),
        Statement(Sid="ReleaseHistoryRetention", Effect=Allow, Action=[
            aw_ssm.DeleteParameter, aw_ssm.DeleteParameters], Resource=[
            Sub((arn % "ssm") + "parameter/${ProjectName}/${Environment}/" + HISTORY_PATH + "/*"),
            *[Sub((arn % "ssm") + "parameter/${ProjectName}/${Environment}/" + name) for name in LEGACY_HISTORY]]),
        # One deployment at a time: the deploy lease is created only if absent and deleted when the job ends; a
        # job taking over a gone holder's lease does so under a takeover claim it deletes afterwards.
        Statement(Sid="DeployLock", Effect=Allow, Action=[aw_ssm.DeleteParameter], Resource=[
            Sub((arn % "ssm") + "parameter/${ProjectName}/${Environment}/deploy-lock"),
            Sub((arn % "ssm") + "parameter/${ProjectName}/${Environment}/deploy-lock-takeover")]),
        Statement(Sid="SecretsPreflight", Effect=Allow, Action=[aw_secrets.DescribeSecret, aw_secrets.GetSecretValue],
                  Resource=[Sub((arn % "secretsmanager") + "secret:${ProjectName}/${Environment}/*")]),
        Statement(Sid="Diagnosis", Effect=Allow, Action=[aw_logs.GetLogEvents, aw_logs.FilterLogEvents], Resource=[
            Sub((arn % "logs") + "log-group:/ecs/" + prefix + "-*")]),
        Statement(Sid="DeploymentAlarms", Effect=Allow, Action=[aw_cloudwatch.DescribeAlarms], Resource=[
            Sub((arn % "cloudwatch") + "alarm:" + prefix + "-*")]),
        Statement(Sid="SnapshotBeforeMigrating", Effect=Allow, Action=[
            aw_rds.CreateDBSnapshot, aw_rds.DescribeDBSnapshots, aw_rds.AddTagsToResource], Resource=[
            Sub((arn % "rds") + "db:" + prefix + "-postgres"), Sub((arn % "rds") + "snapshot:" + prefix + "-*")]),
        # promote: read what the source environment released (its history, stack outputs, image), never write.
        Statement(Sid="PromoteSourceStack", Effect=Allow, Action=[aw_cfn.DescribeStacks], Resource=[
            Sub((arn % "cloudformation") + "stack/${PromoteFromStack}/*")]),
        Statement(Sid="PromoteSourceHistory", Effect=Allow, Action=[aw_ssm.GetParametersByPath], Resource=[
            Sub((arn % "ssm") + "parameter/${ProjectName}/${PromoteFromEnvironment}/" + HISTORY_PATH)]),
        # ... and, until the source's first release by this version migrates it, its history of earlier versions.
        Statement(Sid="PromoteSourceHistoryBefore", Effect=Allow, Action=[aw_ssm.GetParameters], Resource=[
            Sub((arn % "ssm") + "parameter/${ProjectName}/${PromoteFromEnvironment}/" + name)
            for name in LEGACY_HISTORY]),
        Statement(Sid="PromoteSourceImages", Effect=Allow, Action=[
            aw_ecr.DescribeImages, aw_ecr.BatchGetImage, aw_ecr.BatchCheckLayerAvailability,
            aw_ecr.GetDownloadUrlForLayer], Resource=[
            Sub((arn % "ecr") + "repository/${ProjectName}-${PromoteFromEnvironment}")]),
        Statement(Sid="LargeTemplates", Effect=Allow, Action=[aw_s3.PutObject, aw_s3.GetObject], Resource=[
            Sub("arn:${AWS::Partition}:s3:::${TemplateBucket}/*")]),
    ]
    role = t.add_resource(iam.Role(
        DEPLOY_ROLE,
        RoleName=Sub(prefix + "-github-deploy"),
        MaxSessionDuration=3600,
        AssumeRolePolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[Statement(
            Effect=Allow, Principal=Principal("Federated", federated), Action=[aw_sts.AssumeRoleWithWebIdentity],
            Condition=Condition(StringEquals({
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                # Only the environment's jobs: a job on main that names no environment would skip its
                # reviewers. GitHub runs the environment on main only (its deployment branch rule).
                "token.actions.githubusercontent.com:sub":
                    Sub("repo:${GitHubRepository}:environment:${GitHubEnvironment}"),
            })))]),
        Policies=[iam.Policy(PolicyName="deploy", PolicyDocument=PolicyDocument(Version="2012-10-17",
                                                                               Statement=statements))],
    ))
    t.add_output(Output(out.DEPLOY_ROLE_ARN, Value=GetAtt(role, "Arn"), Description="The role GitHub Actions assumes"))
    t.add_output(Output(out.CFN_ROLE_ARN, Value=GetAtt(cfn_role, "Arn"),
                        Description="stack-update --cfn-role: CloudFormation acts with this role"))
    t.add_output(Output(out.OIDC_PROVIDER_ARN, Value=If(CREATE_PROVIDER, Ref(provider), Ref(p[out.OIDC_PROVIDER_ARN]))))
    return t


def _all(service: str) -> Action:
    return Action(service, "*")
