"""ECS on the local AWS, stated as AWS documents it (plain boto3, no product code)."""

import json

import boto3

REGION = "us-east-2"


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def ecs():
    return boto3.client("ecs", region_name=REGION)


def physical(stack, logical_id):
    return cfn().describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)[
        "StackResourceDetail"]["PhysicalResourceId"]


def stack(image="app:1") -> str:
    return json.dumps({"Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Sub": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24"}},
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {}},
        "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": "web", "Cpu": "256", "Memory": "512", "NetworkMode": "awsvpc",
            "RequiresCompatibilities": ["FARGATE"], "TaskRoleArn": "arn:aws:iam::946652103073:role/task",
            "ExecutionRoleArn": "arn:aws:iam::946652103073:role/exec",
            "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
            "Tags": [{"Key": "app", "Value": "web"}],
            "ContainerDefinitions": [{"Name": "web", "Image": image}]}},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {
            "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "Task"}, "DesiredCount": 1,
            "LaunchType": "FARGATE", "EnableExecuteCommand": True, "NetworkConfiguration": {"AwsvpcConfiguration": {
                "Subnets": [{"Ref": "Sub"}], "AssignPublicIp": "DISABLED"}}}}}})


def test_a_task_definition_from_cloudformation_keeps_cpu_roles_platform_and_tags(aws_env):
    cfn().create_stack(StackName="ecs", TemplateBody=stack())
    described = ecs().describe_task_definition(taskDefinition="web", include=["TAGS"])
    td = described["taskDefinition"]
    assert (td["cpu"], td["memory"], td["taskRoleArn"]) == ("256", "512", "arn:aws:iam::946652103073:role/task")
    assert td["runtimePlatform"]["cpuArchitecture"] == "ARM64"
    assert described["tags"] == [{"key": "app", "value": "web"}]


def test_a_service_from_cloudformation_keeps_its_network_and_exec_setting(aws_env):
    cfn().create_stack(StackName="ecs", TemplateBody=stack())
    service = ecs().describe_services(cluster=physical("ecs", "Cluster"), services=[physical("ecs", "Service")])["services"][0]
    assert service["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [physical("ecs", "Sub")]
    assert service["enableExecuteCommand"] is True


def test_update_service_starts_a_primary_deployment_of_the_new_revision(aws_env):
    cfn().create_stack(StackName="ecs", TemplateBody=stack())
    cluster, name = physical("ecs", "Cluster"), physical("ecs", "Service")
    revision = ecs().register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "app:2",
                                                                                   "memory": 128}])
    arn = revision["taskDefinition"]["taskDefinitionArn"]
    ecs().update_service(cluster=cluster, service=name, taskDefinition=arn)
    deployments = ecs().describe_services(cluster=cluster, services=[name])["services"][0]["deployments"]
    primary = [d for d in deployments if d["status"] == "PRIMARY"]
    assert primary[0]["taskDefinition"] == arn and primary[0]["rolloutState"] == "COMPLETED"


def test_a_crashing_image_is_rolled_back_by_the_circuit_breaker(aws_env):
    """Rehearsal switch: a tag ending in -crash fails to start; the circuit breaker returns to the old revision."""
    cfn().create_stack(StackName="ecs", TemplateBody=stack())
    cluster, name = physical("ecs", "Cluster"), physical("ecs", "Service")
    old = ecs().describe_services(cluster=cluster, services=[name])["services"][0]["taskDefinition"]
    bad = ecs().register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": "app:v2-crash", "memory": 128}])["taskDefinition"]["taskDefinitionArn"]
    ecs().update_service(cluster=cluster, service=name, taskDefinition=bad)
    service = ecs().describe_services(cluster=cluster, services=[name])["services"][0]
    assert service["taskDefinition"] == old
    assert "circuit breaker" in service["deployments"][0]["rolloutStateReason"]
    stopped = ecs().list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
    assert stopped


def test_run_task_accepts_a_fargate_definition_with_task_level_sizes_only(aws_env):
    """Fargate task definitions may size the task only (no container memory); RunTask like the services'."""
    cfn().create_stack(StackName="ecs", TemplateBody=stack())
    td = ecs().describe_task_definition(taskDefinition="web")["taskDefinition"]
    assert "memory" not in td["containerDefinitions"][0] and td["memory"] == "512"
    group = boto3.client("ec2", region_name=REGION).create_security_group(
        GroupName="tasks", Description="tasks", VpcId=physical("ecs", "Vpc"))["GroupId"]
    tasks = ecs().run_task(cluster=physical("ecs", "Cluster"), taskDefinition=td["taskDefinitionArn"],
                           launchType="FARGATE", count=1, networkConfiguration={"awsvpcConfiguration": {
                               "subnets": [physical("ecs", "Sub")], "securityGroups": [group]}})
    assert [t["taskDefinitionArn"] for t in tasks["tasks"]] == [td["taskDefinitionArn"]]


def test_run_task_without_security_groups_gets_the_vpcs_default_group(aws_env):
    """securityGroups is optional in awsvpcConfiguration: the task then gets the VPC's default security group."""
    cfn().create_stack(StackName="ecs", TemplateBody=stack())
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = physical("ecs", "Vpc")
    (default,) = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                       {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    tasks = ecs().run_task(cluster=physical("ecs", "Cluster"), taskDefinition="web", launchType="FARGATE", count=1,
                           networkConfiguration={"awsvpcConfiguration": {"subnets": [physical("ecs", "Sub")]}})
    (task,) = tasks["tasks"]
    (attachment,) = task["attachments"]
    eni = next(d["value"] for d in attachment["details"] if d["name"] == "networkInterfaceId")
    groups = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["Groups"]
    assert [g["GroupId"] for g in groups] == [default["GroupId"]]


def _service(**props) -> str:
    template = json.loads(stack())
    template["Resources"]["Service"]["Properties"].update(props)
    return json.dumps(template)


def _described():
    return ecs().describe_services(cluster=physical("ecs", "Cluster"), services=[physical("ecs", "Service")])[
        "services"][0]


def test_service_settings_are_kept_and_changed_by_the_template(aws_env):
    """DeploymentConfiguration, PlatformVersion, PropagateTags, HealthCheckGracePeriodSeconds and LaunchType are what
    the template says, AWS's defaults where it says nothing, and an update changes them on the same service."""
    cfn().create_stack(StackName="ecs", TemplateBody=stack())
    created = _described()
    assert created["launchType"] == "FARGATE" and created["platformVersion"] == "LATEST"
    assert created["propagateTags"] == "NONE"
    assert created["deploymentConfiguration"] == {"maximumPercent": 200, "minimumHealthyPercent": 100,
                                                  "deploymentCircuitBreaker": {"enable": False, "rollback": False}}
    cfn().update_stack(StackName="ecs", TemplateBody=_service(
        DeploymentConfiguration={"MaximumPercent": 200, "MinimumHealthyPercent": 50,
                                 "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}},
        PropagateTags="SERVICE", HealthCheckGracePeriodSeconds=60, EnableExecuteCommand=False))
    updated = _described()
    assert updated["serviceArn"] == created["serviceArn"]
    assert updated["deploymentConfiguration"] == {"maximumPercent": 200, "minimumHealthyPercent": 50,
                                                  "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    assert (updated["propagateTags"], updated["healthCheckGracePeriodSeconds"], updated["enableExecuteCommand"]) == (
        "SERVICE", 60, False)


def test_only_parameters_that_trigger_a_deployment_start_one(aws_env):
    """A change of DeploymentConfiguration, EnableExecuteCommand, PropagateTags or the grace period (or passing the
    revision it runs) starts no deployment; a new PlatformVersion does, through CloudFormation and through
    UpdateService."""
    cfn().create_stack(StackName="ecs", TemplateBody=stack())
    first = _described()["deployments"][0]["id"]
    cfn().update_stack(StackName="ecs", TemplateBody=_service(
        DeploymentConfiguration={"MaximumPercent": 150, "MinimumHealthyPercent": 50}, EnableExecuteCommand=False,
        PropagateTags="SERVICE", HealthCheckGracePeriodSeconds=30))
    assert [d["id"] for d in _described()["deployments"]] == [first]
    running = _described()["taskDefinition"]
    ecs().update_service(cluster=physical("ecs", "Cluster"), service=physical("ecs", "Service"),
                         taskDefinition=running, desiredCount=2)
    assert [d["id"] for d in _described()["deployments"]] == [first]
    cfn().update_stack(StackName="ecs", TemplateBody=_service(PlatformVersion="1.4.0"))
    redeployed = _described()["deployments"]
    assert redeployed[0]["id"] != first and redeployed[0]["platformVersion"] == "1.4.0"
    ecs().update_service(cluster=physical("ecs", "Cluster"), service=physical("ecs", "Service"),
                         platformVersion="LATEST")
    again = _described()["deployments"]
    assert again[0]["id"] != redeployed[0]["id"] and again[0]["platformVersion"] == "LATEST"


def test_a_stack_with_a_cluster_and_a_service_can_be_deleted(aws_env):
    """Deleting the stack deletes its service and cluster (both INACTIVE afterwards, as AWS shows them); the same
    stack created again gets an ACTIVE cluster and service of the same names."""
    cfn().create_stack(StackName="ecs", TemplateBody=stack())
    cluster, service = physical("ecs", "Cluster"), physical("ecs", "Service")
    cfn().delete_stack(StackName="ecs")
    assert [c["status"] for c in ecs().describe_clusters(clusters=[cluster])["clusters"]] == ["INACTIVE"]
    assert [s["status"] for s in ecs().describe_services(cluster=cluster, services=[service])["services"]] == [
        "INACTIVE"]
    cfn().create_stack(StackName="ecs", TemplateBody=stack())
    assert cfn().describe_stacks(StackName="ecs")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    again = physical("ecs", "Cluster")
    assert [c["status"] for c in ecs().describe_clusters(clusters=[again])["clusters"]] == ["ACTIVE"]
