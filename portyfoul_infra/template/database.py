"""Database (plan phase 2): PostgreSQL 17 on RDS, credentials generated into Secrets Manager.

What must never change between environments is a constant here, not a
parameter: a different DBName or engine family replaces the instance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from troposphere import Sub, Tags, Template, ec2, rds, secretsmanager

from ..contract import DATABASE as DB_INSTANCE
from .network import Network
from .parameters import Params

DB_SECURITY_GROUP = "DatabaseSecurityGroup"
DB_SUBNET_GROUP = "DatabaseSubnetGroup"
DB_PARAMETER_GROUP = "DatabaseParameterGroup"
DB_SECRET = "DatabaseSecret"
DB_SECRET_ATTACHMENT = "DatabaseSecretAttachment"
SERVICES_TO_DATABASE = "ServicesToDatabaseEgress"

DB_NAME = "portyfoul"
DB_USERNAME = "portyfoul_admin"
DB_PORT = 5432
# The plan's live instance runs 17.2, which RDS no longer accepts for new
# instances (cfn-lint W3691). 17.6 is an in-place minor upgrade for the live
# instance (stack-diff shows Modify, never Replace).
ENGINE_VERSION = "17.6"
PARAMETER_GROUP_FAMILY = "postgres17"


@dataclass(frozen=True)
class Database:
    instance: rds.DBInstance
    secret: secretsmanager.Secret
    security_group: ec2.SecurityGroup


def add_database(t: Template, p: Params, network: Network, service_security_group: ec2.SecurityGroup) -> Database:
    sg = t.add_resource(ec2.SecurityGroup(
        DB_SECURITY_GROUP,
        GroupDescription="PostgreSQL: 5432 from the ECS services only",
        VpcId=network.vpc.ref(),
        SecurityGroupIngress=[ec2.SecurityGroupRule(
            IpProtocol="tcp", FromPort=DB_PORT, ToPort=DB_PORT,
            SourceSecurityGroupId=service_security_group.ref(),
            Description="PostgreSQL from the ECS services",
        )],
        # The database starts no connections: an explicit rule that matches nothing replaces the default
        # allow-all egress (the pattern CDK uses for allowAllOutbound=False).
        SecurityGroupEgress=[ec2.SecurityGroupRule(
            IpProtocol="icmp", FromPort=252, ToPort=86, CidrIp="255.255.255.255/32",
            Description="No outbound traffic",
        )],
        Tags=Tags(Name=Sub("${ProjectName}-${Environment}-db-sg")),
    ))
    # The services' PostgreSQL egress, to this group only. A rule of its own: inline, the two groups would
    # refer to each other and CloudFormation could create neither first.
    t.add_resource(ec2.SecurityGroupEgress(
        SERVICES_TO_DATABASE,
        GroupId=service_security_group.get_att("GroupId"),
        IpProtocol="tcp", FromPort=DB_PORT, ToPort=DB_PORT,
        DestinationSecurityGroupId=sg.get_att("GroupId"),
        Description="PostgreSQL to the database only",
    ))
    subnet_group = t.add_resource(rds.DBSubnetGroup(
        DB_SUBNET_GROUP,
        DBSubnetGroupName=Sub("${ProjectName}-${Environment}-db-subnet-group"),
        DBSubnetGroupDescription="Private subnets for the database",
        SubnetIds=[s.ref() for s in network.private_subnets],
        # Deleted with the stack (after the database's final snapshot): a retained group would hold on to
        # subnets the teardown deletes. Kept if an update would replace it.
        DeletionPolicy="Delete",
        UpdateReplacePolicy="Retain",
    ))
    params = t.add_resource(rds.DBParameterGroup(
        DB_PARAMETER_GROUP,
        DBParameterGroupName=Sub("${ProjectName}-${Environment}-postgres17-params"),
        Description="PostgreSQL 17 parameters",
        Family=PARAMETER_GROUP_FAMILY,
        Parameters={"rds.force_ssl": "1", "log_min_duration_statement": "2000"},
    ))
    secret = t.add_resource(secretsmanager.Secret(
        DB_SECRET,
        Name=Sub("${ProjectName}/${Environment}/rds/credentials"),
        Description="RDS master credentials (username, password, host, port, dbname)",
        GenerateSecretString=secretsmanager.GenerateSecretString(
            SecretStringTemplate=json.dumps({"username": DB_USERNAME, "dbname": DB_NAME}, sort_keys=True),
            GenerateStringKey="password",
            PasswordLength=32,
            ExcludeCharacters="\"@/\\' `",
        ),
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
    ))
    resolve = "{{resolve:secretsmanager:${%s}:SecretString:%%s}}" % DB_SECRET
    instance = t.add_resource(rds.DBInstance(
        DB_INSTANCE,
        DBInstanceIdentifier=Sub("${ProjectName}-${Environment}-postgres"),
        DBName=DB_NAME,
        Engine="postgres",
        EngineVersion=ENGINE_VERSION,
        DBInstanceClass=p.DBInstanceClass,
        AllocatedStorage=p.DBAllocatedStorage,
        StorageType="gp3",
        StorageEncrypted=True,
        MultiAZ=p.DBMultiAZ,
        PubliclyAccessible=False,
        DBSubnetGroupName=subnet_group.ref(),
        VPCSecurityGroups=[sg.ref()],
        DBParameterGroupName=params.ref(),
        MasterUsername=Sub(resolve % "username"),
        MasterUserPassword=Sub(resolve % "password"),
        Port=str(DB_PORT),
        BackupRetentionPeriod=p.DBBackupRetentionDays,
        CopyTagsToSnapshot=True,
        DeletionProtection=p.DeletionProtection,
        EnableCloudwatchLogsExports=["postgresql"],
        EnableIAMDatabaseAuthentication=True,
        AutoMinorVersionUpgrade=True,
        AllowMajorVersionUpgrade=False,
        DeletionPolicy="Snapshot",
        UpdateReplacePolicy="Snapshot",
    ))
    # Adds host, port, engine and dbInstanceIdentifier to the secret's JSON.
    t.add_resource(secretsmanager.SecretTargetAttachment(
        DB_SECRET_ATTACHMENT,
        SecretId=secret.ref(),
        TargetId=instance.ref(),
        TargetType="AWS::RDS::DBInstance",
    ))
    return Database(instance=instance, secret=secret, security_group=sg)


def secret_key_arn(secret: secretsmanager.Secret, key: str) -> Sub:
    """ValueFrom for one JSON key of a secret, as ECS task definitions expect it."""
    return Sub("${Arn}:" + key + "::", Arn=secret.ref())
