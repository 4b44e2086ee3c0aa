"""The tier view: the flows the plan depends on are derived from the template, and a change that breaks one
fails here. Internet reaches only the load balancer; the load balancer reaches only web; web and worker reach
the database; nothing reaches the database from a public tier."""

import copy

import pytest

from portyfoul_infra.artifacts.generated import MERMAID_FILE, generated_dir
from portyfoul_infra.artifacts.tiers import (
    ALB,
    DATABASE,
    INTERNET,
    NAT,
    PRIVATE,
    PUBLIC,
    WEB,
    WORKER,
    network_flows,
    tier_view,
    to_mermaid,
)
from portyfoul_infra.config import ENVIRONMENTS


def check_plan_flows(flows):
    """The plan's architecture as assertions; returns the first broken promise, or None."""
    if {a for a, b in flows if b == DATABASE} - {WEB, WORKER}:
        return "nothing but the services may reach the database"
    if {b for a, b in flows if a == INTERNET} != {ALB}:
        return "the internet must reach only the load balancer"
    if {b for a, b in flows if a == ALB} != {WEB}:
        return "the load balancer must reach only the web service"
    if not {(WEB, DATABASE), (WORKER, DATABASE)} <= flows:
        return "web and worker must reach the database"
    return None


def test_the_template_keeps_every_flow_the_plan_depends_on(template):
    flows = network_flows(template)
    assert check_plan_flows(flows) is None, flows
    assert flows == {(INTERNET, ALB), (ALB, WEB), (WEB, DATABASE), (WORKER, DATABASE)}


def _ingress(template, group, rule):
    broken = copy.deepcopy(template)
    broken["Resources"][group]["Properties"]["SecurityGroupIngress"].append(rule)
    return network_flows(broken)


@pytest.mark.parametrize("group, rule, broken", [
    ("DatabaseSecurityGroup", {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "0.0.0.0/0"},
     "nothing but the services may reach the database"),
    ("DatabaseSecurityGroup", {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                               "SourceSecurityGroupId": {"Ref": "LoadBalancerSecurityGroup"}},
     "nothing but the services may reach the database"),
    ("ServiceSecurityGroup", {"IpProtocol": "tcp", "FromPort": 3000, "ToPort": 3000, "CidrIp": "0.0.0.0/0"},
     "the internet must reach only the load balancer"),
])
def test_a_change_that_breaks_a_flow_is_caught(template, group, rule, broken):
    assert check_plan_flows(_ingress(template, group, rule)) == broken


def test_a_standalone_ingress_rule_counts_too(template):
    broken = copy.deepcopy(template)
    broken["Resources"]["OpenDatabase"] = {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
        "GroupId": {"Fn::GetAtt": ["DatabaseSecurityGroup", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 5432,
        "ToPort": 5432, "CidrIp": "0.0.0.0/0"}}
    assert (INTERNET, DATABASE) in network_flows(broken)


def test_the_view_groups_tiers_and_labels_come_from_the_environment(template):
    dev, prod = tier_view(template, ENVIRONMENTS["dev"]), tier_view(template, ENVIRONMENTS["prod"])
    tiers = {n.id: n.tier for n in dev.nodes}
    assert tiers[ALB] == tiers[NAT] == PUBLIC and tiers[WEB] == tiers[WORKER] == tiers[DATABASE] == PRIVATE
    labels = {n.id: n.label for n in dev.nodes}
    prod_labels = {n.id: n.label for n in prod.nodes}
    assert "single-AZ" in labels[DATABASE] and "Multi-AZ" in prod_labels[DATABASE]
    assert "db.t4g.micro" in labels[DATABASE] and "db.t4g.small" in prod_labels[DATABASE]
    assert "PostgreSQL 17.6" in labels[DATABASE]
    assert "2 tasks (2-4" in labels[WEB] and "3 tasks (3-8" in prod_labels[WEB] and "ARM64" in labels[WEB]
    assert "Fargate Spot" in labels[WORKER] and "Spot" not in prod_labels[WORKER]
    assert "JWT_SECRET" in " ".join(labels.values()) and "PRICE_UPDATE_INTERVAL_MINUTES" in " ".join(labels.values())
    assert len(dev.nodes) <= 20


def test_the_readme_picture_is_the_dev_tier_view(template):
    mermaid = (generated_dir() / MERMAID_FILE).read_text()
    assert mermaid == to_mermaid(tier_view(template, ENVIRONMENTS["dev"]))
    assert mermaid.startswith("flowchart LR") and 'subgraph private["private subnets"]' in mermaid
    assert "internet -->|HTTP :80| alb" in mermaid and "alb -->|HTTP :3000| web" in mermaid
    assert "worker -->|PostgreSQL :5432| database" in mermaid
    assert (generated_dir() / "architecture-prod.mmd").exists()
