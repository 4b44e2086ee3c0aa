"""The sandbox end to end, the architecture picture, and the cost estimate."""

import json
import os
import re
import shutil

import pytest

from portyfoul_infra.artifacts.cost import PLAN_RANGE, estimate, total
from portyfoul_infra.artifacts.diagram import GROUP_ORDER, architecture, dot_digest
from portyfoul_infra.artifacts.generated import (
    DOT_FILE,
    MERMAID_FILE,
    README_BEGIN,
    README_END,
    SVG_FILE,
    compare,
    generated_dir,
    refresh,
)
from portyfoul_infra.config import ENVIRONMENTS
from support import ROOT, invoke, make_ctx
from support.tools import need

# ---------- sandbox

@pytest.mark.integration  # starts a local AWS of its own
def test_the_sandbox_runs_the_whole_lifecycle_to_a_successful_release():
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    proc = invoke("sandbox", "--port", "0", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    out = proc.stdout
    for step in ("build the template (into a temporary directory", "1/6 create the dev stack", "CREATE_COMPLETE",
                 "2/6 set a stand-in Finnhub key", "released demo0001", "4/6 start the services", "bootstrap ends",
                 "UPDATE_COMPLETE", "5/6 release-status", "6/6 stack-status", "template      same as generated/",
                 "sandbox: created, released and checked the whole stack locally"):
        assert step in out, step
    assert re.search(r"web\s+demo0001\s+portyfoul-dev-web-task:\d\s+COMPLETED\s+2\s+2", out)
    assert re.search(r"worker\s+demo0001\s+portyfoul-dev-worker-task:\d\s+COMPLETED\s+1\s+1", out)
    assert "sandbox-stand-in-key" not in out
    endpoints = set(re.findall(r"via (http://[^\s]+)", out))
    assert endpoints and all(e.startswith("http://127.0.0.1:") for e in endpoints)


@pytest.mark.integration  # starts a local AWS of its own
def test_the_sandbox_rehearses_adopting_the_live_stack_and_nothing_is_lost():
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    proc = invoke("sandbox", "--port", "0", "--adopt", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    out = proc.stdout
    for step in ("1/7 create a stand-in for the live stack from live-stack-phases.json",
                 "2/7 stack-diff before adoption", "refused, as it should be", "is not adopted yet",
                 "step 1, adopt: rename 35 logical ID(s)", "and import 3 of ours made by hand outside the stack",
                 "step 2, `invoke stack-update --env dev`: the converging update, planned now",
                 "interruptions and behaviour changes (0): none", "replacements and deletions (0): none",
                 "VpcFlowLog (AWS::EC2::FlowLog): only in the live stack, carried as it is",
                 "portyfoul-infra-VpcId (output VpcId): imported by portyfoul-reports",
                 "adopted: portyfoul-infra's resources are under our logical IDs",
                 "never update this stack with infra/main.yaml", "is already adopted", "UPDATE_COMPLETE",
                 "termination protection on; stack policy denies replacing or deleting the database",
                 "no changes: the deployed template",
                 # 41 of the 46 have a physical ID locally (moto gives the 5 ingress rules none: their rules are
                 # compared as rules of the 3 groups)
                 "physical IDs: 41 resources, all kept; exports: 25 kept; secrets: 4 kept their value and version",
                 "rules of 3 security groups kept",
                 'database portyfoul-dev-postgres: engine 17.2, deletion protection True, parameters '
                 '{"rds.force_ssl": "0"} (as before)',
                 "nothing replaced, deleted or re-valued; termination protection and the stack policy are on",
                 "sandbox: took over the hand-built stack in place"):
        assert step in out + proc.stderr, step
    assert re.search(r"RdsInstance\s+Database\s+portyfoul-dev-postgres", out)
    assert "sandbox-finnhub-key-set-by-hand" not in out + proc.stderr


# ---------- diagram

def test_every_resource_is_in_a_resource_group_and_every_group_is_drawn(template):
    groups, edges = architecture(template)
    assert list(groups) == list(GROUP_ORDER)
    assert sum(len(m) for m in groups.values()) == len(template["Resources"])
    dot = (generated_dir() / DOT_FILE).read_text()
    for group in GROUP_ORDER:
        assert f'label="{group}"' in dot


def test_arrows_follow_the_references_and_the_internet_enters_at_the_load_balancer(template):
    _, edges = architecture(template)
    assert ("Internet", "LoadBalancer") in edges
    assert ("WebService", "WebTargetGroup") in edges and ("Database", "DatabaseSecret") in edges
    assert ("WebService", "HttpListener") in edges  # DependsOn counts
    assert not any(a == "Internet" and b != "LoadBalancer" for a, b in edges)
    dot = (generated_dir() / DOT_FILE).read_text()
    assert '"Internet" -> "LoadBalancer";' in dot


def test_the_readme_shows_the_current_mermaid_block():
    readme = (ROOT / "README.md").read_text()
    block = readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0]
    assert block.strip() == "```mermaid\n" + (generated_dir() / MERMAID_FILE).read_text() + "```"


def test_the_svg_is_rendered_from_the_current_dot_source_and_a_stale_one_is_caught(tmp_path, monkeypatch):
    need("graphviz")
    svg = (generated_dir() / SVG_FILE).read_text()
    assert dot_digest((generated_dir() / DOT_FILE).read_text()) in svg and "<svg" in svg
    target = tmp_path / "generated"
    shutil.copytree(generated_dir(), target)
    (target / SVG_FILE).write_text(svg.replace(dot_digest((generated_dir() / DOT_FILE).read_text()), "0" * 64))
    assert SVG_FILE in compare(target).changed
    assert SVG_FILE in refresh(target).changed
    assert compare(target).changed == ()


# ---------- cost

def test_dev_lands_in_the_plans_range_and_the_lines_add_up(template):
    lines = estimate(template, ENVIRONMENTS["dev"])
    low, high = PLAN_RANGE
    assert low <= total(lines) <= high
    assert round(sum(l.monthly for l in lines), 2) == total(lines)
    from portyfoul_infra.options import ReadOptions
    from portyfoul_infra.verbs.template import cost
    ctx, out = make_ctx(object())
    cost(ctx, ReadOptions())
    text = out.getvalue()
    printed = [float(m) for m in re.findall(r"^  \S.*?\s(-?\d+\.\d\d)$", text, re.M)]
    assert round(sum(printed[:-1]), 2) == printed[-1] == total(lines)  # rows, then the total row
    assert "biggest lever: the NAT gateway" in text
    assert "Multi-AZ database" in text and "+0.00" in text  # HTTPS and e-mail are free


def test_the_estimate_follows_the_template_and_the_sizes(template):
    dev = {(l.group, l.item): l.monthly for l in estimate(template, ENVIRONMENTS["dev"])}
    prod = {(l.group, l.item): l.monthly for l in estimate(template, ENVIRONMENTS["prod"])}
    assert prod[("RDS PostgreSQL", "instance")] == round(2 * 2 * dev[("RDS PostgreSQL", "instance")], 2)  # small, Multi-AZ
    assert prod[("Fargate web", "vCPU")] == round(3 * 2 * dev[("Fargate web", "vCPU")] / 2, 2)
    alarms = sum(1 for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm")
    assert dev[("CloudWatch", "alarms")] == round(alarms * 0.10, 2)
    fewer = json.loads(json.dumps(template))
    del fewer["Resources"]["NatGateway"]
    assert {(l.group, l.item): l.monthly for l in estimate(fewer, ENVIRONMENTS["dev"])}[("NAT gateway", "hours")] == 0


def test_cost_task_for_prod_shows_the_differences_from_dev():
    proc = invoke("cost", "--env", "prod")
    assert proc.returncode == 0
    assert "differences from dev:" in proc.stdout and "RDS PostgreSQL instance" in proc.stdout
