"""ECS blue/green deployments on the local AWS, stated as AWS documents them (plain boto3, no product code).

Each test builds its own service behind an Application Load Balancer: two target groups (a, the service's own,
and b, the alternate), a production rule (path /*) and a test rule (header X-Smoke: yes), both forwarding to the
two groups, and the infrastructure role. Time is the local AWS's clock, moved forward through its control plane
(support.emulator): no test waits.
"""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from support import emulator

REGION = "us-east-2"
ACCOUNT = "946652103073"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"},
                                                  "Action": "sts:AssumeRole"}]}
PAUSE = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
         "timeoutConfiguration": {"timeoutInMinutes": 30, "action": "ROLLBACK"}}
SMOKE = {"X-Smoke": "yes"}


def client(name):
    return boto3.client(name, region_name=REGION)


def image(tag: str, family: str = "web") -> str:
    return client("ecs").register_task_definition(
        family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:{tag}",
                               "portMappings": [{"containerPort": 3000}]}])["taskDefinition"]["taskDefinitionArn"]


_BUILT: dict[str, dict] = {}


@pytest.fixture
def infra(aws_env, local_aws) -> dict:
    """The load balancer side of a blue/green service, built once per local AWS and put back whole for each test
    (local/control.py's snapshots): an empty account's first VPC is most of the time a test would take."""
    if local_aws.endpoint not in _BUILT or not local_aws.restore("blue-green-infrastructure"):
        _BUILT[local_aws.endpoint] = infrastructure()
        local_aws.save("blue-green-infrastructure")
    return _BUILT[local_aws.endpoint]


def infrastructure() -> dict:
    """The load balancer side of a blue/green service, and the names tests use for it."""
    ec2, elb = client("ec2"), client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")
               ["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    lb = elb.create_load_balancer(Name="web", Subnets=subnets)["LoadBalancers"][0]
    tgs = {k: elb.create_target_group(Name=f"web-{k}", Protocol="HTTP", Port=3000, VpcId=vpc, TargetType="ip",
                                      HealthCheckPath="/api/health")["TargetGroups"][0]["TargetGroupArn"]
           for k in ("a", "b")}
    listener = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "MessageBody": "no rule"}}])
    listener_arn = listener["Listeners"][0]["ListenerArn"]

    def rule(priority, condition, keys):
        forward = {"TargetGroups": [{"TargetGroupArn": tgs[k], "Weight": 100 if i == 0 else 0}
                                    for i, k in enumerate(keys)]}
        return elb.create_rule(ListenerArn=listener_arn, Priority=priority, Conditions=[condition],
                               Actions=[{"Type": "forward", "ForwardConfig": forward}])["Rules"][0]["RuleArn"]

    prod = rule(10, {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}, ("a", "b"))
    test = rule(5, {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Smoke", "Values": ["yes"]}},
                ("a", "b"))
    role = client("iam").create_role(RoleName="ecs-infrastructure",
                                     AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    client("ecs").create_cluster(clusterName="app")
    return {"subnets": subnets, "group": group, "tgs": tgs, "prod": prod, "test": test, "role": role,
            "listener": listener_arn, "lb": lb}


def load_balancers(infra: dict, **advanced) -> list:
    adv = {"alternateTargetGroupArn": infra["tgs"]["b"], "productionListenerRule": infra["prod"],
           "testListenerRule": infra["test"], "roleArn": infra["role"], **advanced}
    return [{"targetGroupArn": infra["tgs"]["a"], "containerName": "web", "containerPort": 3000,
             "advancedConfiguration": {k: v for k, v in adv.items() if v is not None}}]


def blue_green(infra: dict, hooks=(PAUSE,), bake=10, alarms=None, tag="v1") -> dict:
    """A blue/green service running `tag` (its first deployment done) on `infra`."""
    config = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": bake, "lifecycleHooks": list(hooks)}
    if alarms:
        config["alarms"] = {"alarmNames": alarms, "enable": True, "rollback": True}
    client("ecs").create_service(
        cluster="app", serviceName="web", taskDefinition=image(tag), desiredCount=2, launchType="FARGATE",
        deploymentConfiguration=config, loadBalancers=load_balancers(infra),
        networkConfiguration={"awsvpcConfiguration": {"subnets": infra["subnets"], "securityGroups": [infra["group"]]}})
    return infra


def release(tag: str) -> dict:
    """UpdateService to a new revision of `tag`; its service deployment as DescribeServiceDeployments shows it."""
    client("ecs").update_service(cluster="app", service="web", taskDefinition=image(tag))
    return newest()


def newest() -> dict:
    ecs = client("ecs")
    arn = ecs.list_service_deployments(cluster="app", service="web")["serviceDeployments"][0]["serviceDeploymentArn"]
    return ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]


def described(deployment: dict) -> dict:
    return client("ecs").describe_service_deployments(
        serviceDeploymentArns=[deployment["serviceDeploymentArn"]])["serviceDeployments"][0]


def weights(rule_arn: str) -> dict:
    """target group name -> weight of a rule's forward action."""
    (rule,) = client("elbv2").describe_rules(RuleArns=[rule_arn])["Rules"]
    forward = next(a for a in rule["Actions"] if a["Type"] == "forward")
    groups = forward.get("ForwardConfig", {}).get("TargetGroups") or [{"TargetGroupArn": forward["TargetGroupArn"],
                                                                        "Weight": 1}]
    return {g["TargetGroupArn"].split(":targetgroup/")[1].split("/")[0]: g["Weight"] for g in groups}


def targets(tg_arn: str) -> list[str]:
    return [t["Target"]["Id"] for t in client("elbv2").describe_target_health(TargetGroupArn=tg_arn)[
        "TargetHealthDescriptions"] if t["TargetHealth"]["State"] == "healthy"]


def waiting_hook(deployment: dict) -> dict:
    (hook,) = [h for h in described(deployment)["lifecycleHookDetails"] if h["status"] == "AWAITING_ACTION"]
    return hook


def service() -> dict:
    return client("ecs").describe_services(cluster="app", services=["web"])["services"][0]


def tag_of(task_definition_arn: str) -> str:
    td = client("ecs").describe_task_definition(taskDefinition=task_definition_arn)["taskDefinition"]
    return td["containerDefinitions"][0]["image"].rsplit(":", 1)[1]


# --- the configuration -------------------------------------------------------------------------------------------

def test_a_blue_green_service_is_kept_as_given(infra):
    blue_green(infra, bake=15, alarms=["web-5xx"])
    svc = service()
    config = svc["deploymentConfiguration"]
    assert (config["strategy"], config["bakeTimeInMinutes"]) == ("BLUE_GREEN", 15)
    assert config["lifecycleHooks"] == [PAUSE]
    assert config["alarms"] == {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}
    assert svc["loadBalancers"][0]["advancedConfiguration"] == {
        "alternateTargetGroupArn": infra["tgs"]["b"], "productionListenerRule": infra["prod"],
        "testListenerRule": infra["test"], "roleArn": infra["role"]}
    assert svc["currentServiceDeployment"].startswith(f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/app/web/")


def test_a_blue_green_service_from_cloudformation_is_kept_and_deploys_only_a_new_task_definition(infra):
    cfn = client("cloudformation")

    def template(tag: str, count: int, hooks: bool = True) -> str:
        return json.dumps({"Resources": {
            "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": "web", "Cpu": "256", "Memory": "512", "NetworkMode": "awsvpc",
                "RequiresCompatibilities": ["FARGATE"],
                "ContainerDefinitions": [{"Name": "web", "Image": f"app:{tag}"}]}},
            "Service": {"Type": "AWS::ECS::Service", "Properties": {
                "Cluster": "app", "ServiceName": "web", "TaskDefinition": {"Ref": "Task"}, "DesiredCount": count,
                "LaunchType": "FARGATE",
                "DeploymentConfiguration": {"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": "5", "LifecycleHooks": [
                    {"TargetType": "PAUSE", "LifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                     "TimeoutConfiguration": {"TimeoutInMinutes": 30, "Action": "ROLLBACK"}}] if hooks else []},
                "LoadBalancers": [{"TargetGroupArn": infra["tgs"]["a"], "ContainerName": "web", "ContainerPort": 3000,
                                   "AdvancedConfiguration": {
                                       "AlternateTargetGroupArn": infra["tgs"]["b"],
                                       "ProductionListenerRule": infra["prod"], "TestListenerRule": infra["test"],
                                       "RoleArn": infra["role"]}}],
                "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": infra["subnets"],
                                                                 "SecurityGroups": [infra["group"]]}}}}}})

    cfn.create_stack(StackName="bg", TemplateBody=template("v1", 2))
    assert cfn.describe_stacks(StackName="bg")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    svc = service()
    assert svc["deploymentConfiguration"]["bakeTimeInMinutes"] == 5
    assert svc["deploymentConfiguration"]["lifecycleHooks"][0]["timeoutConfiguration"] == {
        "timeoutInMinutes": 30, "action": "ROLLBACK"}
    assert svc["loadBalancers"][0]["advancedConfiguration"]["alternateTargetGroupArn"] == infra["tgs"]["b"]
    first = newest()

    cfn.update_stack(StackName="bg", TemplateBody=template("v1", 3))   # an unrelated change: no deployment
    assert newest()["serviceDeploymentArn"] == first["serviceDeploymentArn"]
    assert weights(infra["prod"]) == {"web-a": 0, "web-b": 100}

    cfn.update_stack(StackName="bg", TemplateBody=template("v2", 3))   # a new task definition: blue/green
    deployment = newest()
    assert (deployment["status"], deployment["lifecycleStage"]) == ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT")

    cfn.update_stack(StackName="bg", TemplateBody=template("v2", 3, hooks=False))   # hooks gone from the template
    assert not service()["deploymentConfiguration"].get("lifecycleHooks")
    assert newest()["serviceDeploymentArn"] == deployment["serviceDeploymentArn"]


REFUSALS = [
    ({"bakeTimeInMinutes": None}, "bakeTimeInMinutes must be provided"),
    ({"lifecycleHooks": [{**PAUSE, "lifecycleStages": ["TEST_TRAFFIC_SHIFT"]}]},
     "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT"),
    ({"lifecycleHooks": [{"lifecycleStages": ["PRE_SCALE_UP"]}]}, "hookTargetArn must be provided"),
    ({"lifecycleHooks": [{**PAUSE, "timeoutConfiguration": {"timeoutInMinutes": 20161}}]},
     "timeoutInMinutes must be between 1 and 20160"),
    ({"advancedConfiguration": {"roleArn": None}}, "roleArn must be provided"),
    ({"advancedConfiguration": {"alternateTargetGroupArn": None}}, "alternateTargetGroupArn must be provided"),
    ({"advancedConfiguration": {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/nobody"}}, "Unable to assume the role"),
    ({"deploymentController": {"type": "EXTERNAL"}}, "requires the ECS deployment controller"),
    ({"strategy": "CANARY"}, "does not emulate CANARY"),
]


def test_what_ecs_refuses_is_refused(infra):
    """Each refusal is an InvalidParameterException, and no service is left behind."""
    td = image("v1")
    for change, refusal in REFUSALS:
        config = {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5, "lifecycleHooks": [PAUSE]}
        config.update({k: v for k, v in change.items() if k not in ("advancedConfiguration", "deploymentController")})
        config = {k: v for k, v in config.items() if v is not None}
        extra = {"deploymentController": change["deploymentController"]} if "deploymentController" in change else {}
        with pytest.raises(ClientError, match=refusal) as refused:
            client("ecs").create_service(cluster="app", serviceName="web", taskDefinition=td, desiredCount=1,
                                         deploymentConfiguration=config,
                                         loadBalancers=load_balancers(infra, **change.get("advancedConfiguration", {})),
                                         **extra)
        assert refused.value.response["Error"]["Code"] == "InvalidParameterException", refusal
        assert client("ecs").describe_services(cluster="app", services=["web"])["failures"], refusal


def test_an_update_to_blue_green_is_refused_as_a_creation_is(aws_env):
    """UpdateService is checked like CreateService: a rolling service cannot become blue/green without a bake."""
    client("ecs").create_cluster(clusterName="app")
    client("ecs").create_service(cluster="app", serviceName="web", taskDefinition=image("v1"), desiredCount=1)
    with pytest.raises(ClientError, match="bakeTimeInMinutes must be provided"):
        client("ecs").update_service(cluster="app", service="web", deploymentConfiguration={"strategy": "BLUE_GREEN"})
    assert service().get("deploymentConfiguration", {}).get("strategy", "ROLLING") == "ROLLING"


def test_a_rule_that_does_not_reach_both_groups_fails_the_deployment(infra):
    """Both target groups must be associated with the production or the test rule; when neither rule reaches the
    alternate group, the deployment fails with ECS's message."""
    for rule in (infra["prod"], infra["test"]):
        client("elbv2").modify_rule(RuleArn=rule, Actions=[{"Type": "forward", "TargetGroupArn": infra["tgs"]["a"]}])
    client("ecs").create_service(
        cluster="app", serviceName="web", taskDefinition=image("v1"), desiredCount=1, launchType="FARGATE",
        deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5},
        loadBalancers=load_balancers(infra))
    first = newest()
    assert first["status"] == "STOPPED"
    assert first["statusReason"] == ("Both targetGroup and alternateTargetGroup must be associated with the "
                                     "productionListenerRule or testListenerRule.")


# --- service deployments -----------------------------------------------------------------------------------------

def test_service_deployments_record_rolling_and_blue_green_deployments(infra):
    ecs = client("ecs")
    blue_green(infra, hooks=(), bake=10)
    ecs.create_service(cluster="app", serviceName="worker", taskDefinition=image("w1", "worker"), desiredCount=1)
    ecs.update_service(cluster="app", service="worker", taskDefinition=image("w2", "worker"))
    rolling = ecs.list_service_deployments(cluster="app", service="worker")["serviceDeployments"]
    assert [d["status"] for d in rolling] == ["SUCCESSFUL", "SUCCESSFUL"]   # newest first: the update, the creation
    update = ecs.describe_service_deployments(serviceDeploymentArns=[rolling[0]["serviceDeploymentArn"]])[
        "serviceDeployments"][0]
    assert "lifecycleStage" not in update and update["finishedAt"] >= update["startedAt"]
    assert rolling[0]["targetServiceRevisionArn"] == update["targetServiceRevision"]["arn"]
    pair = [update["sourceServiceRevisions"][0]["arn"], update["targetServiceRevision"]["arn"]]
    revisions = ecs.describe_service_revisions(serviceRevisionArns=pair)["serviceRevisions"]
    assert [tag_of(r["taskDefinition"]) for r in revisions] == ["w1", "w2"]

    deployment = release("v2")
    assert (deployment["status"], deployment["lifecycleStage"]) == ("IN_PROGRESS", "BAKE_TIME")
    assert "finishedAt" not in deployment and deployment["createdAt"] <= deployment["startedAt"]
    assert deployment["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    (source,) = deployment["sourceServiceRevisions"]
    assert (source["requestedTaskCount"], source["runningTaskCount"]) == (2, 2)
    target = deployment["targetServiceRevision"]
    assert (target["runningTaskCount"], target["requestedProductionTrafficWeight"]) == (2, 100.0)
    revisions = ecs.describe_service_revisions(serviceRevisionArns=[source["arn"], target["arn"]])["serviceRevisions"]
    assert [tag_of(r["taskDefinition"]) for r in revisions] == ["v1", "v2"]
    assert ecs.list_service_deployments(cluster="app", service="web", status=["IN_PROGRESS"])[
        "serviceDeployments"][0]["serviceDeploymentArn"] == deployment["serviceDeploymentArn"]
    missing = deployment["serviceDeploymentArn"][:-3] + "xyz"
    assert ecs.describe_service_deployments(serviceDeploymentArns=[missing])["failures"] == [
        {"arn": missing, "reason": "MISSING"}]

    emulator.advance(minutes=10)
    done = described(deployment)
    assert (done["status"], done["lifecycleStage"]) == ("SUCCESSFUL", "CLEAN_UP") and "finishedAt" in done
    assert service()["currentServiceDeployment"] == deployment["serviceDeploymentArn"]


def test_a_deleted_service_takes_its_service_deployments_along(aws_env):
    ecs = client("ecs")
    ecs.create_cluster(clusterName="app")
    ecs.create_service(cluster="app", serviceName="web", taskDefinition=image("v1"), desiredCount=1)
    release("v2")
    ecs.delete_service(cluster="app", service="web", force=True)
    ecs.create_service(cluster="app", serviceName="web", taskDefinition=image("v3"), desiredCount=1)
    (only,) = ecs.list_service_deployments(cluster="app", service="web")["serviceDeployments"]
    assert only["status"] == "SUCCESSFUL" and not newest().get("sourceServiceRevisions")


def test_an_update_walks_the_documented_stages_in_order(infra):
    """Each stage takes an hour of the local AWS's clock here (stage_seconds), so a poll sees every one (and the
    seconds the test itself takes never skip one)."""
    blue_green(infra, hooks=(), bake=0)
    emulator.stage_seconds(3600)
    deployment = release("v2")
    seen = [deployment["lifecycleStage"]]
    while described(deployment)["status"] == "IN_PROGRESS":
        emulator.advance(minutes=60)
        stage = described(deployment)["lifecycleStage"]
        if stage != seen[-1]:
            seen.append(stage)
        assert len(seen) < 20
    assert seen == ["PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
                    "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
                    "BAKE_TIME", "CLEAN_UP"]
    assert described(deployment)["status"] == "SUCCESSFUL"


def test_a_new_blue_green_service_serves_from_the_alternate_group(infra):
    """A known gap, stated: the first deployment completes at once and moves both rules to the alternate group."""
    blue_green(infra)
    first = newest()
    assert (first["status"], first["lifecycleStage"]) == ("SUCCESSFUL", "CLEAN_UP")
    assert "sourceServiceRevisions" not in first or first["sourceServiceRevisions"] == []
    assert weights(infra["prod"]) == weights(infra["test"]) == {"web-a": 0, "web-b": 100}
    assert len(targets(infra["tgs"]["b"])) == 2 and targets(infra["tgs"]["a"]) == []


# --- PAUSE hooks -------------------------------------------------------------------------------------------------

def test_a_pause_hook_waits_with_its_hook_id_until_continued(infra):
    blue_green(infra)
    deployment = release("v2")
    assert (deployment["status"], deployment["lifecycleStage"]) == ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT")
    hook = waiting_hook(deployment)
    assert hook["hookId"].startswith("ecs-pause-") and hook["targetType"] == "PAUSE"
    with pytest.raises(ClientError, match="has no lifecycle hook") as refused:
        client("ecs").continue_service_deployment(serviceDeploymentArn=deployment["serviceDeploymentArn"],
                                                  hookId="ecs-pause-nothing", action="CONTINUE")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as missing:
        client("ecs").continue_service_deployment(serviceDeploymentArn=deployment["serviceDeploymentArn"] + "x",
                                                  hookId=hook["hookId"])
    assert missing.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"
    assert hook["timeoutAction"] == "ROLLBACK"
    assert round((hook["expiresAt"] - deployment["updatedAt"]).total_seconds()) == 30 * 60
    emulator.advance(minutes=25)
    assert described(deployment)["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"   # still waiting
    client("ecs").continue_service_deployment(serviceDeploymentArn=deployment["serviceDeploymentArn"],
                                              hookId=hook["hookId"], action="CONTINUE")
    after = described(deployment)
    assert (after["status"], after["lifecycleStage"]) == ("IN_PROGRESS", "BAKE_TIME")
    assert [h["status"] for h in after["lifecycleHookDetails"]] == ["SUCCEEDED"]
    with pytest.raises(ClientError, match="is SUCCEEDED"):   # a hook answered once cannot be answered again
        client("ecs").continue_service_deployment(serviceDeploymentArn=deployment["serviceDeploymentArn"],
                                                  hookId=hook["hookId"], action="ROLLBACK")


def test_continue_with_rollback_rolls_back_before_production_traffic(infra):
    blue_green(infra)
    blue = weights(infra["prod"])
    deployment = release("v2")
    client("ecs").continue_service_deployment(serviceDeploymentArn=deployment["serviceDeploymentArn"],
                                              hookId=waiting_hook(deployment)["hookId"], action="ROLLBACK")
    after = described(deployment)
    assert after["status"] == "ROLLBACK_SUCCESSFUL"
    assert after["rollback"]["serviceRevisionArn"] == after["sourceServiceRevisions"][0]["arn"]
    assert "ROLLBACK" in after["rollback"]["reason"]
    assert weights(infra["prod"]) == weights(infra["test"]) == blue
    assert tag_of(service()["taskDefinition"]) == "v1"


@pytest.mark.parametrize("action, outcome", [("ROLLBACK", "ROLLBACK_SUCCESSFUL"), ("CONTINUE", "SUCCESSFUL")])
def test_a_hook_timeout_takes_its_action(infra, action, outcome):
    blue_green(infra, hooks=[{**PAUSE, "timeoutConfiguration": {"timeoutInMinutes": 30, "action": action}}], bake=10)
    deployment = release("v2")
    emulator.advance(minutes=45)   # the hook times out at 30; with CONTINUE the 10 minutes of bake end at 40
    after = described(deployment)
    assert after["status"] == outcome
    assert [h["status"] for h in after["lifecycleHookDetails"]] == ["TIMED_OUT"]
    assert after["finishedAt"] == after["lifecycleHookDetails"][0]["expiresAt"] + (
        __import__("datetime").timedelta(minutes=10) if action == "CONTINUE" else __import__("datetime").timedelta(0))


def test_a_new_deployment_during_a_pause_reconciles_first(infra):
    blue_green(infra)
    paused = release("v2")
    again = release("v3")
    old = described(paused)
    assert old["status"] == "STOPPED" and again["serviceDeploymentArn"] in old["statusReason"]
    assert [h["status"] for h in old["lifecycleHookDetails"]] == ["FAILED"]
    assert (again["status"], again["lifecycleStage"]) == ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT")
    assert [tag_of(r["taskDefinition"]) for r in client("ecs").describe_service_revisions(
        serviceRevisionArns=[r["arn"] for r in again["sourceServiceRevisions"]])["serviceRevisions"]] == ["v1", "v2"]
    assert emulator.get("/api/version", SMOKE).json() == {"version": "v3"}
    assert emulator.get("/api/version").json() == {"version": "v1"}
    assert weights(infra["prod"]) == {"web-a": 0, "web-b": 100}


def test_a_new_deployment_during_the_bake_starts_from_where_production_is(infra):
    """ECS's own record says where production runs: after the production shift of an unfinished deployment, its
    green revision is the new deployment's blue one."""
    blue_green(infra, hooks=(), bake=30)
    baking = release("v2")                        # production shifted to a (green), b (blue) still up
    assert weights(infra["prod"]) == {"web-a": 100, "web-b": 0}
    emulator.stage_seconds(600)
    again = release("v3")
    assert again["lifecycleStage"] == "RECONCILE_SERVICE"
    assert described(baking)["status"] == "STOPPED"
    assert [tag_of(r["taskDefinition"]) for r in client("ecs").describe_service_revisions(
        serviceRevisionArns=[r["arn"] for r in again["sourceServiceRevisions"]])["serviceRevisions"]] == ["v2", "v1"]
    emulator.advance(minutes=90)   # eight stages of ten minutes, then the half-hour bake
    assert described(again)["lifecycleStage"] == "BAKE_TIME"
    assert weights(infra["prod"]) == {"web-a": 0, "web-b": 100}   # v3 went to b; a (v2) is its blue
    assert emulator.get("/api/version").json() == {"version": "v3"}
    assert len(targets(infra["tgs"]["a"])) == 2


def test_a_rolling_service_behind_the_load_balancer_is_served_by_its_revision(infra):
    """Rolling deployments behave as before; their tasks are the targets of their group."""
    client("ecs").create_service(cluster="app", serviceName="web", taskDefinition=image("v1"), desiredCount=2,
                                 loadBalancers=[{"targetGroupArn": infra["tgs"]["a"], "containerName": "web",
                                                 "containerPort": 3000}],
                                 networkConfiguration={"awsvpcConfiguration": {"subnets": infra["subnets"],
                                                                               "securityGroups": [infra["group"]]}})
    assert len(targets(infra["tgs"]["a"])) == 2
    assert emulator.get("/api/version").json() == {"version": "v1"}
    deployment = release("v2")
    assert deployment["status"] == "SUCCESSFUL" and "lifecycleStage" not in deployment
    assert [d["rolloutState"] for d in service()["deployments"]] == ["COMPLETED"]
    answer = emulator.get("/api/version")
    assert (answer.json(), answer.group) == ({"version": "v2"}, "web-a")
    assert weights(infra["prod"]) == {"web-a": 100, "web-b": 0}   # nobody moves a rolling service's traffic


# --- traffic -----------------------------------------------------------------------------------------------------

def test_traffic_shifts_rewrite_the_rule_weights_and_a_rollback_puts_them_back(infra):
    blue_green(infra, bake=30)
    # The first deployment left production on b: b is blue now, a is green.
    deployment = release("v2")
    assert weights(infra["test"]) == {"web-a": 100, "web-b": 0}     # the test path reaches green
    assert weights(infra["prod"]) == {"web-a": 0, "web-b": 100}     # production stays on blue
    assert len(targets(infra["tgs"]["a"])) == len(targets(infra["tgs"]["b"])) == 2
    svc = service()
    assert [(d["status"], tag_of(d["taskDefinition"]), d["rolloutState"]) for d in svc["deployments"]] == [
        ("PRIMARY", "v2", "IN_PROGRESS"), ("ACTIVE", "v1", "COMPLETED")]

    client("ecs").continue_service_deployment(serviceDeploymentArn=deployment["serviceDeploymentArn"],
                                              hookId=waiting_hook(deployment)["hookId"])
    assert described(deployment)["lifecycleStage"] == "BAKE_TIME"
    assert weights(infra["prod"]) == {"web-a": 100, "web-b": 0}     # ECS rewrote the production rule
    assert emulator.get("/portfolio").group == "web-a"

    client("ecs").stop_service_deployment(serviceDeploymentArn=deployment["serviceDeploymentArn"],
                                          stopType="ROLLBACK")
    assert described(deployment)["status"] == "ROLLBACK_SUCCESSFUL"
    assert weights(infra["prod"]) == weights(infra["test"]) == {"web-a": 0, "web-b": 100}
    assert targets(infra["tgs"]["a"]) == [] and len(targets(infra["tgs"]["b"])) == 2
    assert emulator.get("/api/version").json() == {"version": "v1"}


def test_after_the_bake_the_blue_tasks_go_and_the_deployment_succeeds(infra):
    """The bake waits on the local AWS's clock, and only on it."""
    blue_green(infra, hooks=(), bake=20)
    deployment = release("v2")
    for _ in range(3):   # without the clock moving, the deployment waits in its bake as on AWS
        assert described(deployment)["lifecycleStage"] == "BAKE_TIME"
    emulator.advance(minutes=18)
    assert described(deployment)["lifecycleStage"] == "BAKE_TIME" and len(targets(infra["tgs"]["b"])) == 2
    emulator.advance(minutes=2)
    done = described(deployment)
    assert (done["status"], done["lifecycleStage"]) == ("SUCCESSFUL", "CLEAN_UP")
    assert targets(infra["tgs"]["b"]) == [] and len(targets(infra["tgs"]["a"])) == 2
    assert [(d["status"], tag_of(d["taskDefinition"]), d["rolloutState"]) for d in service()["deployments"]] == [
        ("PRIMARY", "v2", "COMPLETED")]
    assert done["sourceServiceRevisions"][0]["runningTaskCount"] == 0


def test_an_alarm_during_the_bake_sends_traffic_back_to_blue_at_once(infra):
    cloudwatch = client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="web-5xx", MetricName="HTTPCode_Target_5XX_Count",
                                Namespace="AWS/ApplicationELB", Statistic="Sum", Period=60, EvaluationPeriods=1,
                                Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold")
    blue_green(infra, hooks=(), bake=30, alarms=["web-5xx"])
    deployment = release("v2")
    assert weights(infra["prod"]) == {"web-a": 100, "web-b": 0}
    emulator.advance(minutes=5)
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx from green")
    after = described(deployment)
    assert after["status"] == "ROLLBACK_SUCCESSFUL" and after["lifecycleStage"] == "BAKE_TIME"
    assert after["alarms"] == {"status": "TRIGGERED", "alarmNames": ["web-5xx"], "triggeredAlarmNames": ["web-5xx"]}
    assert "web-5xx" in after["statusReason"]
    assert weights(infra["prod"]) == {"web-a": 0, "web-b": 100}
    assert emulator.get("/").headers["x-local-image-tag"] == "v1"


def test_an_alarm_already_in_alarm_when_a_deployment_starts_is_ignored(infra):
    cloudwatch = client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="web-5xx", MetricName="m", Namespace="n", Statistic="Sum", Period=60,
                                EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    blue_green(infra, hooks=(), bake=5, alarms=["web-5xx"])
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="already")
    deployment = release("v2")
    emulator.advance(minutes=5)
    after = described(deployment)
    assert after["status"] == "SUCCESSFUL" and after["alarms"]["status"] == "DISABLED"


@pytest.mark.parametrize("tag, minutes, reason", [("v2-crash", 0, "failed to start"),
                                                  ("v2-hang", 24 * 60, "did not become healthy within 24 hours")])
def test_crash_and_hang_fail_a_blue_green_deployment_at_scale_up(infra, tag, minutes, reason):
    blue_green(infra)
    deployment = release(tag)
    if minutes:
        assert described(deployment)["lifecycleStage"] == "SCALE_UP"
        assert described(deployment)["status"] == "IN_PROGRESS"
        emulator.advance(minutes=minutes)
    after = described(deployment)
    assert (after["status"], after["lifecycleStage"]) == ("ROLLBACK_SUCCESSFUL", "SCALE_UP")
    assert reason in after["statusReason"]
    assert weights(infra["test"]) == weights(infra["prod"]) == {"web-a": 0, "web-b": 100}
    assert tag_of(service()["taskDefinition"]) == "v1"


def test_stop_service_deployment_rolls_back_a_hanging_rolling_deployment(aws_env):
    ecs = client("ecs")
    ecs.create_cluster(clusterName="app")
    ecs.create_service(cluster="app", serviceName="web", taskDefinition=image("v1"), desiredCount=1)
    deployment = release("v2-hang")
    assert deployment["status"] == "IN_PROGRESS"
    ecs.stop_service_deployment(serviceDeploymentArn=deployment["serviceDeploymentArn"], stopType="ROLLBACK")
    after = described(deployment)
    assert after["status"] == "ROLLBACK_SUCCESSFUL"
    assert after["rollback"]["serviceRevisionArn"] == after["sourceServiceRevisions"][0]["arn"]
    assert tag_of(service()["taskDefinition"]) == "v1"
    assert [d["rolloutState"] for d in service()["deployments"]] == ["COMPLETED"]
    with pytest.raises(ClientError) as finished:
        ecs.stop_service_deployment(serviceDeploymentArn=deployment["serviceDeploymentArn"], stopType="ROLLBACK")
    assert finished.value.response["Error"]["Code"] == "ConflictException"


def test_a_lambda_hook_is_kept_but_not_invoked(infra):
    """A known gap, stated: an AWS_LAMBDA hook is listed as SUCCEEDED at once; nothing is invoked."""
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:smoke"
    blue_green(infra, hooks=[{"targetType": "AWS_LAMBDA", "hookTargetArn": function, "roleArn": f"arn:aws:iam::{ACCOUNT}:role/x",
                       "lifecycleStages": ["PRE_SCALE_UP"]}], bake=0)
    deployment = release("v2")
    assert deployment["status"] == "SUCCESSFUL"
    (hook,) = deployment["lifecycleHookDetails"]
    assert (hook["targetType"], hook["targetArn"], hook["status"]) == ("AWS_LAMBDA", function, "SUCCEEDED")


# --- the data plane ----------------------------------------------------------------------------------------------

def test_the_data_plane_routes_by_the_listener_rules_and_names_the_group(infra):
    blue_green(infra)
    release("v2")                                         # paused after the test traffic shift
    production = emulator.get("/api/version")
    assert (production.status, production.json(), production.group) == (200, {"version": "v1"}, "web-b")
    test = emulator.get("/api/version", SMOKE)
    assert (test.json(), test.group, test.headers["x-local-rule-arn"]) == ({"version": "v2"}, "web-a", infra["test"])
    assert emulator.get("/api/version", {"X-Smoke": "no"}).group == "web-b"   # a wrong secret is production
    assert emulator.get("/api/health", SMOKE).status == 200
    page = emulator.get("/portfolio", SMOKE)
    assert page.status == 200 and "v2" in page.body
    assert emulator.get("/api/nothing", SMOKE).status == 404
    by_dns = emulator.get("/api/version", {"Host": infra["lb"]["DNSName"]})
    assert by_dns.group == "web-b"
    client("elbv2").create_rule(ListenerArn=infra["listener"], Priority=1, Conditions=[
        {"Field": "host-header", "HostHeaderConfig": {"Values": ["maintenance.*"]}}], Actions=[
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503", "MessageBody": "back soon"}}])
    fixed = emulator.get("/", {"Host": "maintenance.example.com", "X-Local-Load-Balancer": "web"})
    assert (fixed.status, fixed.body, fixed.group) == (503, "back soon", "")
    client("ecs").update_service(cluster="app", service="web", desiredCount=0)   # no task runs in blue any more
    down = emulator.get("/")
    assert (down.status, down.group, targets(infra["tgs"]["b"])) == (503, "web-b", [])


def test_a_bad_tag_passes_its_health_check_and_answers_errors(infra):
    blue_green(infra)
    deployment = release("v3-bad")
    assert described(deployment)["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"   # its tasks became healthy
    assert len(targets(infra["tgs"]["a"])) == 2
    assert emulator.get("/api/health", SMOKE).status == 200      # the target group's health check path
    version = emulator.get("/api/version", SMOKE)
    assert (version.status, version.group, version.headers["x-local-image-tag"]) == (500, "web-a", "v3-bad")
    assert emulator.get("/", SMOKE).status == 500
    assert emulator.get("/api/version").json() == {"version": "v1"}   # production never saw it


def test_the_clock_moves_forward_only_and_a_reset_puts_it_back(aws_env, local_aws):
    start = emulator.clock()
    moved = local_aws.advance_clock(90 * 60)
    assert local_aws.data_plane() == emulator.data_plane() and local_aws.data_plane().startswith("http://127.0.0.1:")
    assert moved["offset_seconds"] == start["offset_seconds"] + 5400 and moved["epoch"] >= start["epoch"] + 5400
    with pytest.raises(Exception, match="400"):
        emulator.advance(seconds=-1)
    local_aws.reset()
    assert emulator.clock()["offset_seconds"] == 0 and emulator.clock()["stage_seconds"] == 0


def test_rule_conditions_match_as_an_application_load_balancer_matches_them():
    """Path patterns are case-sensitive, host and header values are not; * and ? are wildcards (no server here)."""
    from portyfoul_infra.local.alb import Request, matches

    request = Request("GET", "/API/v1/items", "debug=On&x=1", "shop.example.com",
                      {"x-smoke": ["Yes"], "user-agent": ["curl/8"]}, "127.0.0.1")

    def holds(field, config, values):
        return matches({"Field": field, config: values}, request)

    assert holds("path-pattern", "PathPatternConfig", {"Values": ["/API/*"]})
    assert not holds("path-pattern", "PathPatternConfig", {"Values": ["/api/*"]})
    assert holds("path-pattern", "PathPatternConfig", {"Values": ["/nothing", "/API/v?/items"]})
    assert holds("host-header", "HostHeaderConfig", {"Values": ["*.EXAMPLE.com"]})
    assert holds("http-header", "HttpHeaderConfig", {"HttpHeaderName": "X-Smoke", "Values": ["yes"]})
    assert not holds("http-header", "HttpHeaderConfig", {"HttpHeaderName": "X-Other", "Values": ["*"]})
    assert holds("http-request-method", "HttpRequestMethodConfig", {"Values": ["GET", "HEAD"]})
    assert not holds("http-request-method", "HttpRequestMethodConfig", {"Values": ["get"]})
    assert holds("query-string", "QueryStringConfig", {"Values": [{"Key": "DEBUG", "Value": "on"}]})
    assert not holds("query-string", "QueryStringConfig", {"Values": [{"Key": "debug", "Value": "off"}]})
    assert holds("source-ip", "SourceIpConfig", {"Values": ["127.0.0.0/8"]})
    assert not holds("source-ip", "SourceIpConfig", {"Values": ["10.0.0.0/8"]})
