"""Per resource group: the facts from the plan that users rely on."""

import json

import pytest

from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.contract import parameter_values as values_for
from support.template import of_type, props, refs_in

STATEFUL = ("AWS::RDS::DBInstance", "AWS::SecretsManager::Secret", "AWS::ECR::Repository",
            "AWS::Logs::LogGroup", "AWS::RDS::DBSubnetGroup")


# ---------- network (phases 1 and 5)

def test_vpc_has_dns_and_four_subnets_over_two_azs(resources, template):
    vpc = props(resources, "VPC")
    assert vpc["EnableDnsHostnames"] is True and vpc["EnableDnsSupport"] is True
    subnets = of_type(resources, "AWS::EC2::Subnet")
    assert sorted(subnets) == ["PrivateSubnet1", "PrivateSubnet2", "PublicSubnet1", "PublicSubnet2"]
    azs = {k: json.dumps(v["Properties"]["AvailabilityZone"]) for k, v in subnets.items()}
    assert all('"Fn::GetAZs"' in a for a in azs.values())  # never hard-coded
    assert azs["PublicSubnet1"] != azs["PublicSubnet2"] and azs["PrivateSubnet1"] != azs["PrivateSubnet2"]
    dev = values_for(ENVIRONMENTS["dev"])
    cidrs = {k: dev[v["Properties"]["CidrBlock"]["Ref"]] for k, v in subnets.items()}
    assert cidrs == {"PublicSubnet1": "10.0.1.0/24", "PublicSubnet2": "10.0.4.0/24",
                     "PrivateSubnet1": "10.0.2.0/24", "PrivateSubnet2": "10.0.3.0/24"}


def test_private_subnets_route_through_one_nat_and_public_through_the_igw(resources):
    assert len(of_type(resources, "AWS::EC2::NatGateway")) == 1
    assert props(resources, "NatGateway")["SubnetId"] == {"Ref": "PublicSubnet1"}
    assert props(resources, "PrivateDefaultRoute")["NatGatewayId"] == {"Ref": "NatGateway"}
    assert props(resources, "PublicDefaultRoute")["GatewayId"] == {"Ref": "InternetGateway"}
    assocs = of_type(resources, "AWS::EC2::SubnetRouteTableAssociation")
    table_of = {a["Properties"]["SubnetId"]["Ref"]: a["Properties"]["RouteTableId"]["Ref"] for a in assocs.values()}
    assert table_of == {"PublicSubnet1": "PublicRouteTable", "PublicSubnet2": "PublicRouteTable",
                        "PrivateSubnet1": "PrivateRouteTable", "PrivateSubnet2": "PrivateRouteTable"}


# ---------- database (phase 2)

def test_database_settings(resources):
    db = resources["Database"]
    p = db["Properties"]
    assert p["Engine"] == "postgres" and p["EngineVersion"].startswith("17.")
    assert p["DBInstanceClass"] == {"Ref": "DBInstanceClass"}
    assert p["StorageType"] == "gp3" and p["StorageEncrypted"] is True
    assert p["PubliclyAccessible"] is False
    assert p["EnableCloudwatchLogsExports"] == ["postgresql"]
    assert p["CopyTagsToSnapshot"] is True
    assert p["BackupRetentionPeriod"] == {"Ref": "DBBackupRetentionDays"}
    assert values_for(ENVIRONMENTS["dev"])["DBBackupRetentionDays"] == "7"
    assert p["DeletionProtection"] == {"Ref": "DeletionProtection"}
    assert props(resources, "DatabaseSubnetGroup")["SubnetIds"] == [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}]
    assert props(resources, "DatabaseParameterGroup")["Family"] == "postgres17"


def test_database_survives_deletion_and_replacement(resources):
    db = resources["Database"]
    assert db["DeletionPolicy"] == "Snapshot" and db["UpdateReplacePolicy"] == "Snapshot"


def test_every_stateful_resource_states_its_policies(resources):
    stateful = {k: v for k, v in resources.items() if v["Type"] in STATEFUL}
    assert len(stateful) == 10  # database and its subnet group, 4 secrets, repository, 3 log groups (web, worker, exec)
    for logical_id, r in stateful.items():
        # The subnet group goes with the stack (after the database's final snapshot), so a teardown can
        # delete the subnets; everything else that holds data stays.
        expected = ("Delete",) if logical_id == "DatabaseSubnetGroup" else ("Snapshot", "Retain")
        assert r.get("DeletionPolicy") in expected, logical_id
        assert r.get("UpdateReplacePolicy") in ("Snapshot", "Retain"), logical_id


def test_database_is_reachable_only_from_the_services(resources):
    rules = props(resources, "DatabaseSecurityGroup")["SecurityGroupIngress"]
    assert rules == [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                      "SourceSecurityGroupId": {"Ref": "ServiceSecurityGroup"},
                      "Description": "PostgreSQL from the ECS services"}]
    for svc in ("WebService", "WorkerService"):
        sgs = props(resources, svc)["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
        assert sgs == [{"Ref": "ServiceSecurityGroup"}]


def test_database_credentials_are_generated_and_never_in_the_template(resources):
    secret = props(resources, "DatabaseSecret")
    gen = secret["GenerateSecretString"]
    assert gen["GenerateStringKey"] == "password"
    assert json.loads(gen["SecretStringTemplate"]) == {"username": "portyfoul_admin", "dbname": "portyfoul"}
    assert secret["Name"] == {"Fn::Sub": "${ProjectName}/${Environment}/rds/credentials"}
    pw = props(resources, "Database")["MasterUserPassword"]
    assert "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:password}}" in json.dumps(pw)
    assert props(resources, "DatabaseSecretAttachment")["TargetId"] == {"Ref": "Database"}


# ---------- registry (phase 3)

def test_repository(resources):
    repo = props(resources, "Repository")
    assert repo["RepositoryName"] == {"Fn::Sub": "${ProjectName}-${Environment}"}
    assert repo["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repo["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert [f["ImageTagMutabilityExclusionFilterValue"] for f in repo["ImageTagMutabilityExclusionFilters"]] == ["latest"]
    rules = json.loads(repo["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    untagged = next(r for r in rules if r["selection"]["tagStatus"] == "untagged")
    tagged = next(r for r in rules if r["selection"]["tagStatus"] == "tagged")
    assert (untagged["selection"]["countType"], untagged["selection"]["countNumber"]) == ("sinceImagePushed", 7)
    assert (tagged["selection"]["countType"], tagged["selection"]["countNumber"]) == ("imageCountMoreThan", 10)


# ---------- cluster and IAM (phase 4)

def test_cluster_and_log_groups(resources):
    c = props(resources, "Cluster")
    assert c["ClusterName"] == {"Fn::Sub": "${ProjectName}-${Environment}-cluster"}
    assert {"Name": "containerInsights", "Value": "enabled"} in c["ClusterSettings"]
    assert props(resources, "WebLogGroup")["LogGroupName"] == {"Fn::Sub": "/ecs/${ProjectName}-${Environment}-web"}
    assert props(resources, "WorkerLogGroup")["LogGroupName"] == {"Fn::Sub": "/ecs/${ProjectName}-${Environment}-worker"}
    assert values_for(ENVIRONMENTS["dev"])["LogRetentionDays"] == "7"


def _statements(resources, role):
    return [s for p in props(resources, role)["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_execution_role_reads_exactly_this_projects_secrets(resources):
    stmts = {s["Sid"]: s for s in _statements(resources, "TaskExecutionRole")}
    secret_ids = {k for k, v in resources.items() if v["Type"] == "AWS::SecretsManager::Secret"}
    assert refs_in(stmts["ReadSecrets"]["Resource"]) == secret_ids
    assert stmts["ReadSecrets"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert refs_in(stmts["EcrPull"]["Resource"]) == {"Repository"}
    assert refs_in(stmts["WriteLogs"]["Resource"]) == {"WebLogGroup", "WorkerLogGroup"}
    # Only GetAuthorizationToken (which has no resource ARN) may use "*".
    assert [s["Sid"] for s in stmts.values() if "*" in s["Resource"]] == ["EcrToken"]


def test_task_role_may_put_its_own_metrics_and_open_exec_channels_only(resources):
    stmts = {s["Sid"]: s for s in _statements(resources, "TaskRole")}
    assert set(stmts) == {"PutOwnMetrics", "ExecChannels", "ExecSessionLogs", "ExecSessionLogStreams"}
    assert stmts["PutOwnMetrics"]["Action"] == ["cloudwatch:PutMetricData"]
    assert stmts["PutOwnMetrics"]["Condition"]["StringEquals"] == {"cloudwatch:namespace": "Portyfoul"}
    assert all(a.startswith("ssmmessages:") for a in stmts["ExecChannels"]["Action"])
    assert refs_in(stmts["ExecSessionLogStreams"]["Resource"]) == {"ExecLogGroup"}


def test_ecs_exec_is_on_and_every_session_is_logged(resources):
    for svc in ("WebService", "WorkerService"):
        assert props(resources, svc)["EnableExecuteCommand"] is True
    config = props(resources, "Cluster")["Configuration"]["ExecuteCommandConfiguration"]
    assert config["Logging"] == "OVERRIDE"
    assert config["LogConfiguration"]["CloudWatchLogGroupName"] == {"Ref": "ExecLogGroup"}


def test_roles_trust_only_ecs_tasks_of_this_account(resources):
    for role in ("TaskExecutionRole", "TaskRole"):
        (stmt,) = props(resources, role)["AssumeRolePolicyDocument"]["Statement"]
        assert stmt["Principal"] == {"Service": ["ecs-tasks.amazonaws.com"]}
        assert stmt["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_execution_role_differs_from_task_role(resources):
    for td in of_type(resources, "AWS::ECS::TaskDefinition").values():
        p = td["Properties"]
        assert p["ExecutionRoleArn"] != p["TaskRoleArn"]


# ---------- load balancer (phase 5)

def test_load_balancer_and_target_group(resources):
    alb = props(resources, "LoadBalancer")
    assert alb["Scheme"] == "internet-facing"
    assert alb["Subnets"] == [{"Ref": "PublicSubnet1"}, {"Ref": "PublicSubnet2"}]
    attrs = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"] if "Key" in a}
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    tg = props(resources, "WebTargetGroup")
    assert (tg["Protocol"], tg["Port"], tg["TargetType"]) == ("HTTP", 3000, "ip")
    assert tg["HealthCheckPath"] == {"Ref": "HealthCheckPath"}
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthyThresholdCount"], tg["UnhealthyThresholdCount"]) == (
        {"Ref": "HealthCheckIntervalSeconds"}, {"Ref": "HealthyThreshold"}, {"Ref": "UnhealthyThreshold"})
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": {"Ref": "DeregistrationDelaySeconds"}} in \
        tg["TargetGroupAttributes"]
    assert values_for(ENVIRONMENTS["dev"])["HealthCheckPath"] == "/"


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_an_old_task_leaves_a_rollout_step_within_45_seconds(name):
    env = ENVIRONMENTS[name]
    values = values_for(env)
    bound = int(values["HealthCheckIntervalSeconds"]) * int(values["HealthyThreshold"]) + \
        int(values["DeregistrationDelaySeconds"])
    assert bound == env.rollout_step_seconds <= 45


def test_alb_is_open_on_80_and_443_and_tasks_only_to_the_alb(resources):
    ingress = props(resources, "LoadBalancerSecurityGroup")["SecurityGroupIngress"]
    assert sorted((r["FromPort"], r["CidrIp"]) for r in ingress) == [(80, "0.0.0.0/0"), (443, "0.0.0.0/0")]
    (rule,) = props(resources, "ServiceSecurityGroup")["SecurityGroupIngress"]
    assert rule["FromPort"] == rule["ToPort"] == 3000
    assert rule["SourceSecurityGroupId"] == {"Ref": "LoadBalancerSecurityGroup"}
    assert "CidrIp" not in rule


def test_https_and_redirect_only_with_a_certificate(resources, template):
    c = template["Conditions"]
    assert c["HasCertificateArn"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CertificateArn"}, ""]}]}
    assert c["HasDomain"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "DomainName"}, ""]}]}
    assert c["HasCertificate"] == {"Fn::Or": [{"Condition": "HasCertificateArn"}, {"Condition": "HasDomain"}]}
    https = resources["HttpsListener"]
    assert https["Condition"] == "HasCertificate" and https["Properties"]["Port"] == 443
    (cert,) = https["Properties"]["Certificates"]
    assert cert["CertificateArn"] == {"Fn::If": ["HasCertificateArn", {"Ref": "CertificateArn"}, {"Ref": "Certificate"}]}
    (action,) = props(resources, "HttpListener")["DefaultActions"]
    with_cert, without = action["Fn::If"][1:]
    assert action["Fn::If"][0] == "HasCertificate"
    assert with_cert["Type"] == "redirect" and with_cert["RedirectConfig"]["Protocol"] == "HTTPS"
    assert without["Type"] == "forward"


def test_a_domain_gets_a_dns_validated_certificate_and_an_alias_record(resources):
    cert = resources["Certificate"]
    assert cert["Condition"] == "HasDomain" and cert["Properties"]["ValidationMethod"] == "DNS"
    assert cert["Properties"]["DomainValidationOptions"] == [
        {"DomainName": {"Ref": "DomainName"}, "HostedZoneId": {"Ref": "HostedZoneId"}}]
    record = resources["DnsRecord"]
    assert record["Condition"] == "HasDomain" and record["Properties"]["Type"] == "A"
    assert record["Properties"]["AliasTarget"]["DNSName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}


def test_services_egress_is_https_out_and_postgres_to_the_database_only(resources):
    (egress,) = props(resources, "ServiceSecurityGroup")["SecurityGroupEgress"]
    assert (egress["IpProtocol"], egress["FromPort"], egress["ToPort"], egress["CidrIp"]) == ("tcp", 443, 443, "0.0.0.0/0")
    rules = of_type(resources, "AWS::EC2::SecurityGroupEgress")
    assert list(rules) == ["ServicesToDatabaseEgress"]
    rule = rules["ServicesToDatabaseEgress"]["Properties"]
    assert rule["GroupId"] == {"Fn::GetAtt": ["ServiceSecurityGroup", "GroupId"]}
    assert rule["DestinationSecurityGroupId"] == {"Fn::GetAtt": ["DatabaseSecurityGroup", "GroupId"]}
    assert (rule["FromPort"], rule["ToPort"]) == (5432, 5432)
    for sg in of_type(resources, "AWS::EC2::SecurityGroup").values():
        for r in sg["Properties"].get("SecurityGroupEgress", []):
            assert r["IpProtocol"] != "-1"  # no all-protocol egress anywhere


def test_the_database_starts_no_connections(resources):
    (rule,) = props(resources, "DatabaseSecurityGroup")["SecurityGroupEgress"]
    assert rule["CidrIp"] == "255.255.255.255/32" and rule["IpProtocol"] == "icmp"  # matches nothing


def test_access_logs_go_to_a_private_encrypted_expiring_bucket(resources, template):
    bucket = resources["AccessLogBucket"]
    assert bucket["Condition"] == "HasAccessLogs"
    p = bucket["Properties"]
    assert p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    assert all(p["PublicAccessBlockConfiguration"].values())
    assert p["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 90
    (statement,) = props(resources, "AccessLogBucketPolicy")["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["s3:PutObject"]
    assert statement["Principal"]["AWS"]["Fn::Sub"][1]["Account"] == {
        "Fn::FindInMap": ["ElbLogDeliveryAccounts", {"Ref": "AWS::Region"}, "Account"]}
    assert template["Mappings"]["ElbLogDeliveryAccounts"]["us-east-2"]["Account"] == "033677994240"
    assert values_for(ENVIRONMENTS["prod"])["AccessLogs"] == "true"
    assert values_for(ENVIRONMENTS["dev"])["AccessLogs"] == "false"


def test_deployment_alarms_roll_a_bad_release_back(resources):
    names = {props(resources, a)["AlarmName"]["Fn::Sub"]: a for a in of_type(resources, "AWS::CloudWatch::Alarm")}
    for svc, expected in (("WebService", {"Target5xxAlarm", "UnhealthyTargetsAlarm"}),
                          ("WorkerService", {"WorkerNotRunningAlarm"})):
        alarms = props(resources, svc)["DeploymentConfiguration"]["Alarms"]
        assert alarms["Enable"] is True and alarms["Rollback"] is True
        assert {names[a["Fn::Sub"]] for a in alarms["AlarmNames"]} == expected


def test_container_health_checks(resources):
    web = _container(resources, "WebTaskDefinition")["HealthCheck"]
    assert web["Command"][0] == "CMD-SHELL" and "node -e" in web["Command"][1]["Fn::Sub"][0]
    assert "curl" not in json.dumps(web) and web["Command"][1]["Fn::Sub"][1]["Path"] == {"Ref": "HealthCheckPath"}
    worker = _container(resources, "WorkerTaskDefinition")["HealthCheck"]
    assert worker["Fn::If"][0] == "HasWorkerHealthCheck" and worker["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    assert values_for(ENVIRONMENTS["dev"])["WorkerHealthCommand"] == ""  # off until the app has one


def test_the_worker_runs_on_spot_in_dev_and_on_demand_in_production(resources):
    (strategy,) = props(resources, "WorkerService")["CapacityProviderStrategy"]
    assert strategy == {"CapacityProvider": {"Ref": "WorkerCapacityProvider"}, "Weight": 1}
    assert "LaunchType" not in props(resources, "WorkerService")
    assert props(resources, "Cluster")["CapacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert values_for(ENVIRONMENTS["dev"])["WorkerCapacityProvider"] == "FARGATE_SPOT"
    assert values_for(ENVIRONMENTS["prod"])["WorkerCapacityProvider"] == "FARGATE"


# ---------- web and worker services (phases 6 and 7)

def _container(resources, td):
    (c,) = props(resources, td)["ContainerDefinitions"]
    return c


def test_web_task_definition(resources):
    td = props(resources, "WebTaskDefinition")
    assert td["Family"] == {"Fn::Sub": "${ProjectName}-${Environment}-web-task"}
    assert td["RuntimePlatform"] == {"CpuArchitecture": {"Ref": "CpuArchitecture"}, "OperatingSystemFamily": "LINUX"}
    assert (td["NetworkMode"], td["RequiresCompatibilities"]) == ("awsvpc", ["FARGATE"])
    c = _container(resources, "WebTaskDefinition")
    assert c["Name"] == "web" and c["PortMappings"] == [{"ContainerPort": 3000, "Protocol": "tcp"}]
    env = {e["Name"]: e["Value"] for e in c["Environment"]}
    assert env["NODE_ENV"] == "production" and env["PRICE_UPDATE_WORKER_ENABLED"] == "false"
    assert {"POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB"} <= set(env)
    assert json.dumps(c["Image"]).count("ImageTag") == 1


@pytest.mark.parametrize("td", ["WebTaskDefinition", "WorkerTaskDefinition"])
def test_every_secret_is_injected_by_arn(resources, td):
    secrets = {s["Name"]: s["ValueFrom"] for s in _container(resources, td)["Secrets"]}
    assert {"JWT_SECRET", "FINNHUB_API_KEY", "COINGECKO_API_KEY", "POSTGRES_USER", "POSTGRES_PASSWORD"} <= set(secrets)
    assert secrets["JWT_SECRET"] == {"Ref": "JwtSecret"}
    assert secrets["POSTGRES_PASSWORD"] == {"Fn::Sub": ["${Arn}:password::", {"Arn": {"Ref": "DatabaseSecret"}}]}
    env_names = {e["Name"] for e in _container(resources, td)["Environment"]}
    assert not env_names & set(secrets)


def test_web_service(resources):
    s = props(resources, "WebService")
    assert s["ServiceName"] == {"Fn::Sub": "${ProjectName}-${Environment}-web-service"}
    assert s["DesiredCount"] == {"Fn::If": ["Bootstrapping", 0, {"Ref": "WebDesiredCount"}]}
    assert values_for(ENVIRONMENTS["dev"])["WebDesiredCount"] == "2"
    assert s["LoadBalancers"] == [{"ContainerName": "web", "ContainerPort": 3000, "TargetGroupArn": {"Ref": "WebTargetGroup"}}]
    assert s["HealthCheckGracePeriodSeconds"] == 60
    dc = s["DeploymentConfiguration"]
    assert (dc["MaximumPercent"], dc["MinimumHealthyPercent"]) == (200, 100)
    assert props(resources, "WebCpuScalingPolicy")["TargetTrackingScalingPolicyConfiguration"][
        "PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    target = props(resources, "WebScalableTarget")
    assert target["MinCapacity"] == {"Fn::If": ["Bootstrapping", 0, {"Ref": "WebMinCount"}]}
    assert target["MaxCapacity"] == {"Ref": "WebMaxCount"}


def test_worker_can_never_run_two_copies(resources):
    s = props(resources, "WorkerService")
    assert s["DesiredCount"] == {"Fn::If": ["Bootstrapping", 0, 1]}  # exactly one, or none before the first image
    dc = s["DeploymentConfiguration"]
    # With one task, 100% maximum means the new task cannot start until the old one has stopped.
    assert (dc["MaximumPercent"], dc["MinimumHealthyPercent"]) == (100, 0)
    assert "LoadBalancers" not in s
    assert not any(v["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
                   and "WorkerService" in refs_in(v["Properties"]) for v in resources.values())


def test_worker_container(resources):
    td = props(resources, "WorkerTaskDefinition")
    assert td["Family"] == {"Fn::Sub": "${ProjectName}-${Environment}-worker-task"}
    c = _container(resources, "WorkerTaskDefinition")
    assert "PortMappings" not in c
    env = {e["Name"]: e["Value"] for e in c["Environment"]}
    assert env["PRICE_UPDATE_WORKER_ENABLED"] == "true"
    secrets = {s["Name"]: s["ValueFrom"] for s in c["Secrets"]}
    assert "PriceUpdateIntervalParameter" in refs_in(secrets["PRICE_UPDATE_INTERVAL_MINUTES"])
    assert json.dumps(c["Image"]).count("WorkerImageTag") == 1


@pytest.mark.parametrize("svc", ["WebService", "WorkerService"])
def test_services_have_circuit_breaker_and_no_public_ip(resources, svc):
    s = props(resources, svc)
    assert s["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    net = s["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert net["AssignPublicIp"] == "DISABLED"
    assert net["Subnets"] == [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}]
    if svc == "WebService":
        assert s["LaunchType"] == "FARGATE" and "CapacityProviderStrategy" not in s
    else:  # FARGATE or FARGATE_SPOT per environment (config.worker_capacity), never EC2
        assert "LaunchType" not in s
        assert s["CapacityProviderStrategy"] == [{"CapacityProvider": {"Ref": "WorkerCapacityProvider"}, "Weight": 1}]


# ---------- secrets and parameters (phases 6 and 9)

def test_secrets_and_parameters(resources):
    from portyfoul_infra.contract import PLACEHOLDER_VALUE
    names = {props(resources, k)["Name"]["Fn::Sub"]: v for k, v in of_type(resources, "AWS::SecretsManager::Secret").items()}
    assert set(names) == {"${ProjectName}/${Environment}/rds/credentials", "${ProjectName}/${Environment}/jwt-secret",
                          "${ProjectName}/${Environment}/finnhub-api-key", "${ProjectName}/${Environment}/coingecko-api-key"}
    assert "GenerateSecretString" in names["${ProjectName}/${Environment}/jwt-secret"]["Properties"]
    for key in ("finnhub-api-key", "coingecko-api-key"):
        assert names["${ProjectName}/${Environment}/" + key]["Properties"]["SecretString"] == PLACEHOLDER_VALUE
    params = {v["Properties"]["Name"]["Fn::Sub"] for v in of_type(resources, "AWS::SSM::Parameter").values()}
    assert params == {"/${ProjectName}/${Environment}/price-update-interval", "/${ProjectName}/${Environment}/environment"}
    assert values_for(ENVIRONMENTS["dev"])["PriceUpdateIntervalMinutes"] == "15"


def test_services_start_empty_only_while_bootstrapping(template):
    assert template["Conditions"]["Bootstrapping"] == {"Fn::Equals": [{"Ref": "Bootstrap"}, "true"]}
    assert template["Parameters"]["Bootstrap"]["Default"] == "false"
    assert "Bootstrap" not in values_for(ENVIRONMENTS["prod"])  # set from the live state, never config


def test_no_secret_is_a_stack_parameter(template):
    for name in template["Parameters"]:
        assert not any(w in name.lower() for w in ("secret", "password", "apikey", "token"))


# ---------- monitoring (phase 10)

def test_alarms_cover_services_database_and_load_balancer(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    metrics = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms.values()}
    assert {("AWS/ECS", "CPUUtilization"), ("AWS/ECS", "MemoryUtilization"), ("AWS/RDS", "CPUUtilization"),
            ("AWS/RDS", "FreeStorageSpace"), ("AWS/RDS", "DatabaseConnections"),
            ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"), ("AWS/ApplicationELB", "UnHealthyHostCount")} <= metrics
    for svc in ("WebService", "WorkerService"):
        assert sum(1 for a in alarms.values() if a["Properties"]["Namespace"] == "AWS/ECS"
                   and svc in refs_in(a["Properties"]["Dimensions"])) == 2
    for a in alarms.values():
        assert a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_alarm_email_is_optional(resources):
    assert resources["AlarmEmailSubscription"]["Condition"] == "HasAlarmEmail"


def test_dashboard_shows_ecs_alb_and_rds(resources):
    body = props(resources, "Dashboard")["DashboardBody"]["Fn::Sub"][0]
    for ns in ("AWS/ECS", "AWS/ApplicationELB", "AWS/RDS"):
        assert ns in body


def test_outputs_the_tasks_need(template):
    from portyfoul_infra.contract import OUTPUT_KEYS, SERVICES
    assert set(OUTPUT_KEYS) == set(template["Outputs"])
    for ref in SERVICES.values():
        assert {ref.service_output, ref.log_output, ref.family_output} <= set(template["Outputs"])
