"""Property values as CloudFormation passes them to resources, on the local AWS (plain boto3)."""

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


def test_quoted_numbers_from_a_mapping_reach_ecs_as_numbers(aws_env):
    """A hand-written stack keeps its sizes in a Mapping as quoted numbers and reads them with Fn::FindInMap into
    Cpu, Memory, ContainerPort and DesiredCount: CloudFormation accepts it, and ECS answers numbers."""
    def size(key):
        return {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, key]}
    template = {
        "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
        "Mappings": {"Sizes": {"dev": {"Cpu": "256", "Memory": "512", "Port": "3000", "Count": "2"}}},
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Sub": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24"}},
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {}},
            "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": "web", "Cpu": size("Cpu"), "Memory": size("Memory"), "NetworkMode": "awsvpc",
                "RequiresCompatibilities": ["FARGATE"], "ContainerDefinitions": [{
                    "Name": "web", "Image": "app:1", "PortMappings": [{"ContainerPort": size("Port")}]}]}},
            "Service": {"Type": "AWS::ECS::Service", "Properties": {
                "Cluster": {"Ref": "Cluster"}, "TaskDefinition": {"Ref": "Task"}, "DesiredCount": size("Count"),
                "LaunchType": "FARGATE", "NetworkConfiguration": {"AwsvpcConfiguration": {
                    "Subnets": [{"Ref": "Sub"}], "AssignPublicIp": "DISABLED"}}}}}}
    cfn().create_stack(StackName="sized", TemplateBody=json.dumps(template))
    assert cfn().describe_stacks(StackName="sized")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    service = ecs().describe_services(cluster=physical("sized", "Cluster"),
                                      services=[physical("sized", "Service")])["services"][0]
    assert service["desiredCount"] == 2
    definition = ecs().describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert (definition["cpu"], definition["memory"]) == ("256", "512")
    assert definition["containerDefinitions"][0]["portMappings"][0]["containerPort"] == 3000
