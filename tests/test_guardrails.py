"""Production guardrails: one refusal listing every missing item, pinned accounts, autoscaling that stays,
subscriptions that are confirmed, and a cost estimate that follows."""

import re
from dataclasses import replace

import boto3
import pytest

from portyfoul_infra.config import ENVIRONMENTS, production_gaps
from portyfoul_infra.errors import UserError
from portyfoul_infra.options import DiffOptions
from support import invoke, make_ctx
from support.fakes import FakeAws, FakeCloudFormation

DEV, PROD = ENVIRONMENTS["dev"], ENVIRONMENTS["prod"]
CERT = "arn:aws:acm:us-east-2:946652103073:certificate/abc"


def test_a_production_environment_lists_everything_it_lacks_at_once():
    assert production_gaps(PROD) == [
        "account_id (the AWS account, 12 digits)",
        "certificate_arn, or domain_name and hosted_zone_id (HTTPS)",
        "alarm_email (who the alarms notify)"]
    ready = replace(PROD, account_id="111122223333", certificate_arn=CERT, alarm_email="ops@example.com")
    assert production_gaps(ready) == []
    assert production_gaps(replace(ready, certificate_arn="", domain_name="app.example.com",
                                   hosted_zone_id="Z0123456789ABC")) == []
    assert "access_logs = True" in production_gaps(replace(ready, access_logs=False))[0]


@pytest.mark.parametrize("task", ["stack-diff", "stack-update"])
def test_stack_diff_and_update_refuse_an_unready_production_in_one_line(task):
    import os
    proc = invoke(task, "--env", "prod", env={**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    for key in ("account_id", "certificate_arn, or domain_name and hosted_zone_id", "alarm_email"):
        assert key in line
    assert line.startswith("error: environment prod is production and not ready")


@pytest.mark.parametrize("change, message", [
    ({"domain_name": "app.example.com"}, "domain_name and hosted_zone_id go together"),
    ({"domain_name": "app.example.com", "hosted_zone_id": "Z0123456789ABC", "certificate_arn": CERT},
     "set certificate_arn or domain_name, not both"),
    ({"domain_name": "App.Example", "hosted_zone_id": "Z0123456789ABC"}, "lowercase DNS name"),
    ({"health_check_interval_seconds": 5}, "health_check_interval_seconds must be 6..300"),
    ({"worker_capacity": "SPOT"}, "worker_capacity must be FARGATE or FARGATE_SPOT"),
    ({"account_id": "12345"}, "12-digit AWS account ID"),
])
def test_guardrail_config_is_checked_when_loaded(change, message):
    with pytest.raises(UserError, match=message):
        replace(DEV, **change)


class FakeSns:
    def __init__(self, arn):
        self.arn = arn

    def list_subscriptions_by_topic(self, TopicArn):
        return {"Subscriptions": [{"Endpoint": "ops@example.com", "Protocol": "email", "SubscriptionArn": self.arn}]}


@pytest.mark.parametrize("subscription, shown", [
    ("PendingConfirmation", "ops@example.com: PENDING: confirm the e-mail AWS sent, or alarms reach nobody"),
    ("arn:aws:sns:us-east-2:946652103073:portyfoul-dev-alarms:1", "ops@example.com: confirmed"),
])
def test_stack_status_shows_whether_the_alarm_subscription_is_confirmed(subscription, shown):
    from portyfoul_infra.options import ReadOptions
    from portyfoul_infra.verbs.stack import stack_status
    cfn = FakeCloudFormation(outputs={"AlarmTopicArn": "arn:aws:sns:us-east-2:946652103073:portyfoul-dev-alarms"})
    ctx, out = make_ctx(FakeAws(cloudformation=cfn, sns=FakeSns(subscription)), replace(DEV, alarm_email="ops@example.com"))
    stack_status(ctx, ReadOptions())
    assert f"alarm e-mail  {shown}" in out.getvalue()
    assert "rollout step  at most 35 s per old task" in out.getvalue()
    assert "https         OFF (HTTP only)" in out.getvalue()


def test_without_an_alarm_email_stack_status_says_nobody_is_notified():
    from portyfoul_infra.options import ReadOptions
    from portyfoul_infra.verbs.stack import stack_status
    ctx, out = make_ctx(FakeAws(cloudformation=FakeCloudFormation()))
    stack_status(ctx, ReadOptions())
    assert "alarm e-mail  none configured: alarms notify nobody (set alarm_email)" in out.getvalue()


def test_stack_update_never_undoes_a_scale_out(released_stack):
    """Scale web to 4, release a new tag (a new task definition), stack-update: web still runs 4."""
    from support.stacks import release_tag
    ecs = boto3.client("ecs", region_name="us-east-2")
    ecs.update_service(cluster="portyfoul-dev-cluster", service="portyfoul-dev-web-service", desiredCount=4)
    release_tag("demo0005")
    proc = invoke("stack-update", "--yes", env=released_stack)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "web runs 4 tasks (auto scaling): keeping 4, not the configured 2" in proc.stdout
    svc = ecs.describe_services(cluster="portyfoul-dev-cluster", services=["portyfoul-dev-web-service"])["services"][0]
    assert svc["desiredCount"] == 4
    params = {p["ParameterKey"]: p["ParameterValue"] for p in boto3.client(
        "cloudformation", region_name="us-east-2").describe_stacks(StackName="portyfoul-infra")["Stacks"][0]["Parameters"]}
    assert params["ImageTag"] == "demo0005" and params["WebDesiredCount"] == "4"
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert td["containerDefinitions"][0]["image"].endswith(":demo0005")


def test_http_only_dev_is_warned_about(monkeypatch):
    from portyfoul_infra.verbs.stack import stack_diff
    from support.fakes import resource_change
    cfn = FakeCloudFormation(changes=[resource_change("WebTaskDefinition", "AWS::ECS::TaskDefinition")])
    ctx, out = make_ctx(FakeAws(cloudformation=cfn))
    stack_diff(ctx, DiffOptions())
    assert "dev serves HTTP only: logins and JWTs cross the internet in clear text" in out.getvalue()


def test_the_cost_estimate_follows_spot_and_access_logs(template):
    from portyfoul_infra.artifacts.cost import estimate, options, total
    dev = {(line.group, line.item): line for line in estimate(template, DEV)}
    assert "Spot" in dev[("Fargate worker", "vCPU")].quantity
    on_demand = estimate(template, replace(DEV, worker_capacity="FARGATE"))
    assert total(on_demand) - total(estimate(template, DEV)) > 4  # Spot saves about 70% of the worker
    assert dict(options(template, DEV))["worker on on-demand Fargate"] > 4
    prod = {(line.group, line.item): line for line in estimate(template, PROD)}
    assert prod[("S3", "load balancer access logs")].monthly > 0 and dev[("S3", "load balancer access logs")].monthly == 0
    assert "Spot" not in prod[("Fargate worker", "vCPU")].quantity
    assert re.match(r"\d+ x", prod[("Fargate worker", "vCPU")].quantity)
