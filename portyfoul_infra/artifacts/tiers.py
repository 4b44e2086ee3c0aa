"""The tier view: how Portyfoul runs, drawn from the generated template for one environment.

Where requests enter, what runs where, what talks to the database, and what
goes out through the NAT gateway; labels come from the environment's resolved
values, so dev's and prod's pictures differ where the environments do. The
flows are *derived*, not drawn: who may connect to whom comes from the
security groups (their ingress rules and who uses them) and from the load
balancer's routing, so a template change that opens the database to the
internet changes the picture and fails the flow tests.

Outputs: a Mermaid block (the README's, about 20 nodes), and a picture with
AWS service icons through the `diagrams` package when it and Graphviz are
present. The per-resource reference graph stays in diagram.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from ..cfn_template import Resolver, referenced_ids
from ..config import Environment
from ..contract import CONFIG_PARAMETERS, WEB_TASK_DEFINITION, WORKER_TASK_DEFINITION, parameter_values
from ..contract import DATABASE as DATABASE_ID

INTERNET, ALB, WEB, WORKER, DATABASE, NAT = "internet", "alb", "web", "worker", "database", "nat"
ECR, SECRETS, PARAMETERS, PRICE_APIS, MONITORING = "ecr", "secrets", "parameters", "price_apis", "monitoring"
PUBLIC, PRIVATE, AWS_SERVICES, OUTSIDE = "public subnets", "private subnets", "AWS services", "outside AWS"
# Bump when render_icons draws differently: the pictures in generated/ are then drawn again.
ICON_DRAWING = 2
_PSEUDO = {"AWS::Region": "us-east-2", "AWS::AccountId": "111122223333", "AWS::StackName": "stack",
           "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    tier: str        # PUBLIC, PRIVATE, AWS_SERVICES, OUTSIDE, or "" (the internet)
    icon: str        # a key of ICONS


@dataclass
class TierView:
    environment: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)   # (from, to, label)

    def digest(self) -> str:
        """What the icon pictures were drawn from: the view, and how render_icons draws (ICON_DRAWING)."""
        body = json.dumps({"nodes": [n.__dict__ for n in self.nodes], "edges": self.edges, "drawing": ICON_DRAWING},
                          sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- who may talk to whom

def network_flows(template: dict) -> set[tuple[str, str]]:
    """(from, to) between internet, alb, web, worker and database, from security groups and load balancer routing.

    A security group's members are the resources that use it. Ingress from 0.0.0.0/0 (or ::/0) is the
    internet; ingress from another group is from that group's members. The load balancer reaches only
    the services registered in its target groups.
    """
    resources = template["Resources"]
    members = _group_members(resources)
    flows: set[tuple[str, str]] = set()
    for group, rule in _ingress_rules(resources):
        sources: set[str] = set()
        if rule.get("CidrIp") in ("0.0.0.0/0",) or rule.get("CidrIpv6") in ("::/0",):
            sources = {INTERNET}
        for g in referenced_ids(rule.get("SourceSecurityGroupId")):
            sources |= members.get(g, set())
        for target in members.get(group, set()):
            for source in sources - {target}:
                flows.add((source, target))
    # The load balancer forwards only to services registered in its target groups.
    routed = {WEB if "Worker" not in lid else WORKER for lid, r in resources.items()
              if r["Type"] == "AWS::ECS::Service" and r.get("Properties", {}).get("LoadBalancers")}
    return {(a, b) for a, b in flows if a != ALB or b not in (WEB, WORKER) or b in routed}


def _role(logical_id: str, resource_type: str) -> str | None:
    if resource_type == "AWS::ElasticLoadBalancingV2::LoadBalancer":
        return ALB
    if resource_type == "AWS::RDS::DBInstance":
        return DATABASE
    if resource_type == "AWS::ECS::Service":
        return WORKER if "Worker" in logical_id else WEB
    return None


def _group_members(resources: dict) -> dict[str, set[str]]:
    """security group logical id -> the roles (alb, web, worker, database) of the resources that use it."""
    members: dict[str, set[str]] = {}
    for logical_id, r in resources.items():
        who = _role(logical_id, r["Type"])
        if who is None:
            continue
        props = r.get("Properties", {})
        groups = props.get("SecurityGroups") or props.get("VPCSecurityGroups") or props.get(
            "NetworkConfiguration", {}).get("AwsvpcConfiguration", {}).get("SecurityGroups", [])
        for g in referenced_ids(groups):
            members.setdefault(g, set()).add(who)
    return members


def _ingress_rules(resources: dict) -> list[tuple[str, dict]]:
    """(security group logical id, rule): inline rules and separate ingress resources alike."""
    rules: list[tuple[str, dict]] = []
    for logical_id, r in resources.items():
        if r["Type"] == "AWS::EC2::SecurityGroup":
            rules += [(logical_id, rule) for rule in r.get("Properties", {}).get("SecurityGroupIngress", [])]
        elif r["Type"] == "AWS::EC2::SecurityGroupIngress":
            (target,) = referenced_ids(r["Properties"].get("GroupId")) or {""}
            rules.append((target, r["Properties"]))
    return rules


# ---------------------------------------------------------------- the view

def tier_view(template: dict, env: Environment) -> TierView:
    """The picture's nodes and edges for `env`, labelled with its resolved values."""
    r = Resolver(template, parameter_values(env), _PSEUDO)
    res = template["Resources"]

    def props(logical_id: str) -> dict:
        return r.value(res[logical_id].get("Properties", {}))

    db = props(DATABASE_ID)
    https = env.https
    listeners = "HTTPS :443, HTTP :80 redirects" if https else "HTTP :80"
    alarms = sum(1 for x in res.values() if x["Type"] == "AWS::CloudWatch::Alarm")
    log_groups = sum(1 for x in res.values() if x["Type"] == "AWS::Logs::LogGroup")
    reads = {WEB: _secrets_read(res, WEB_TASK_DEFINITION), WORKER: _secrets_read(res, WORKER_TASK_DEFINITION)}
    worker_capacity = "Fargate Spot" if env.worker_capacity == "FARGATE_SPOT" else "Fargate"
    nodes = [
        Node(INTERNET, "Internet (users)", "", "users"),
        Node(ALB, f"Application Load Balancer<br/>{listeners}<br/>2 public subnets, 2 AZs"
                  + ("<br/>access logs to S3" if env.access_logs else ""), PUBLIC, "alb"),
        Node(NAT, "NAT gateway<br/>outbound only", PUBLIC, "nat"),
        Node(WEB, f"web service: Next.js :3000<br/>{env.web_desired_count} tasks ({env.web_min_count}-"
                  f"{env.web_max_count}, CPU {env.web_cpu_target_percent}%)<br/>{env.web.cpu / 1024:g} vCPU / "
                  f"{env.web.memory} MiB {env.cpu_architecture}", PRIVATE, "fargate"),
        Node(WORKER, f"worker: price updates<br/>1 task (singleton), {worker_capacity}<br/>"
                     f"{env.worker.cpu / 1024:g} vCPU / {env.worker.memory} MiB {env.cpu_architecture}",
             PRIVATE, "fargate"),
        Node(DATABASE, f"RDS PostgreSQL {db.get('EngineVersion')}<br/>{env.db_instance_class}, "
                       f"{env.db_allocated_storage_gb} GB gp3<br/>{'Multi-AZ' if env.db_multi_az else 'single-AZ'}, "
                       "encrypted, private", PRIVATE, "rds"),
        Node(ECR, f"ECR {env.project}-{env.name}<br/>images", AWS_SERVICES, "ecr"),
        Node(SECRETS, "Secrets Manager<br/>" + _lines(sorted((reads[WEB] | reads[WORKER]) - _parameters())),
             AWS_SERVICES, "secrets"),
        Node(PARAMETERS, "SSM Parameter Store<br/>" + _lines(sorted(_parameters())), AWS_SERVICES, "ssm"),
        Node(MONITORING, f"CloudWatch<br/>{log_groups} log groups, {alarms} alarms<br/>SNS topic"
                         + (" to e-mail" if env.alarm_email else " (no e-mail set)"), AWS_SERVICES, "cloudwatch"),
        Node(PRICE_APIS, "Finnhub, CoinGecko<br/>price APIs", OUTSIDE, "internet"),
    ]
    flows = network_flows(template)
    order = [n.id for n in nodes]
    edges: list[tuple[str, str, str]] = []
    for a, b in sorted(flows, key=lambda f: (order.index(f[0]), order.index(f[1]))):
        label = {(INTERNET, ALB): listeners.split(",")[0].split(" ")[0] + " :" + ("443" if https else "80"),
                 (ALB, WEB): "HTTP :3000"}.get((a, b), "PostgreSQL :5432" if b == DATABASE else "")
        edges.append((a, b, label))
    edges += [(WEB, NAT, "HTTPS :443"), (WORKER, NAT, "HTTPS :443"), (NAT, ECR, "image pulls"),
              (NAT, SECRETS, "at task start"), (NAT, PARAMETERS, "at task start"), (NAT, PRICE_APIS, "prices"),
              (WEB, MONITORING, "logs, metrics"), (WORKER, MONITORING, "logs, metrics")]
    return TierView(env.name, nodes, edges)


def _secrets_read(resources: dict, task_definition: str) -> set[str]:
    containers = resources.get(task_definition, {}).get("Properties", {}).get("ContainerDefinitions", [])
    return {s["Name"] for c in containers for s in c.get("Secrets", [])}


def _lines(names: list[str], per_line: int = 2) -> str:
    return "<br/>".join(", ".join(names[i:i + per_line]) for i in range(0, len(names), per_line))


def _parameters() -> set[str]:
    return {p.env_var for p in CONFIG_PARAMETERS if p.env_var}


# ---------------------------------------------------------------- Mermaid

def to_mermaid(view: TierView) -> str:
    lines = ["flowchart LR"]
    by_tier: dict[str, list[Node]] = {}
    for n in view.nodes:
        by_tier.setdefault(n.tier, []).append(n)

    def node(n: Node) -> str:
        shape = ("[(", ")]") if n.id == DATABASE else (("((", "))") if n.id == INTERNET else ("[", "]"))
        label = n.label.replace('"', "'")
        return f'  {n.id}{shape[0]}"{label}"{shape[1]}'

    for n in by_tier.get("", []):
        lines.append(node(n))
    lines.append(f'  subgraph vpc["VPC {view.environment}"]')
    for tier in (PUBLIC, PRIVATE):
        lines.append(f'    subgraph {tier.split()[0]}["{tier}"]')
        lines += ["  " + node(n) for n in by_tier.get(tier, [])]
        lines.append("    end")
    lines.append("  end")
    for tier in (AWS_SERVICES, OUTSIDE):
        lines.append(f'  subgraph {tier.split()[0].lower()}["{tier}"]')
        lines += [node(n) for n in by_tier.get(tier, [])]
        lines.append("  end")
    for a, b, label in view.edges:
        lines.append(f"  {a} -->|{label}| {b}" if label else f"  {a} --> {b}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- icons (diagrams + Graphviz)

ICONS = {
    "users": ("diagrams.onprem.client", "Users"), "alb": ("diagrams.aws.network", "ElbApplicationLoadBalancer"),
    "nat": ("diagrams.aws.network", "NATGateway"), "fargate": ("diagrams.aws.compute", "Fargate"),
    "rds": ("diagrams.aws.database", "RDSPostgresqlInstance"), "ecr": ("diagrams.aws.compute", "EC2ContainerRegistry"),
    "secrets": ("diagrams.aws.security", "SecretsManager"),
    "ssm": ("diagrams.aws.management", "SystemsManagerParameterStore"),
    "cloudwatch": ("diagrams.aws.management", "Cloudwatch"), "internet": ("diagrams.onprem.network", "Internet"),
}


# The icon's side, in points, above each node's text.
ICON_POINTS = 64
# Each node: a visible rounded box sized by Graphviz to hold its icon and every line of its label (no fixed
# width that a long label would overflow, and a border that every arrow ends on).
NODE_STYLE = {"shape": "box", "style": "rounded", "color": "#B0BEC5", "penwidth": "1.2", "fixedsize": "false",
              "width": "0", "height": "0", "margin": "0.12,0.06", "image": "", "labelloc": "c"}


def node_label(icon_path: str, label: str) -> str:
    """A Graphviz HTML label: the icon, then the label's lines, centred (Graphviz measures both)."""
    from html import escape

    lines = "<BR/>".join(escape(line) for line in label.split("<br/>"))
    return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
            f'<TR><TD FIXEDSIZE="TRUE" WIDTH="{ICON_POINTS}" HEIGHT="{ICON_POINTS}">'
            f'<IMG SRC="{escape(icon_path)}" SCALE="TRUE"/></TD></TR>'
            f'<TR><TD>{lines}</TD></TR></TABLE>>')


def render_icons(view: TierView, path_without_suffix: str) -> str | None:
    """Draw the PNG and self-contained SVG with AWS icons: None when drawn; otherwise (nothing written) the reason,
    such as Graphviz's `dot` or the `diagrams` package missing."""
    import importlib
    import shutil
    from pathlib import Path

    if shutil.which("dot") is None:
        return "graphviz `dot` is not installed"
    try:
        import diagrams
        from diagrams import Cluster, Diagram, Edge
    except ImportError:
        return "the `diagrams` package is not installed"
    package = Path(diagrams.__file__).resolve().parent.parent
    made = {}
    graph = {"fontsize": "20", "pad": "0.4", "splines": "spline", "nodesep": "0.5", "ranksep": "1.1"}
    with Diagram(f"Portyfoul {view.environment}", filename=path_without_suffix, outformat=["png", "svg"],
                 show=False, direction="LR", graph_attr=graph):
        def make(n: Node):
            module, name = ICONS[n.icon]
            cls = getattr(importlib.import_module(module), name)
            icon = package / cls._icon_dir / cls._icon
            made[n.id] = cls(node_label(str(icon), n.label), **NODE_STYLE)

        for n in view.nodes:
            if n.tier == "":
                make(n)
        with Cluster(f"VPC {view.environment}"):
            for tier in (PUBLIC, PRIVATE):
                with Cluster(tier):
                    for n in view.nodes:
                        if n.tier == tier:
                            make(n)
        for tier in (AWS_SERVICES, OUTSIDE):
            with Cluster(tier):
                for n in view.nodes:
                    if n.tier == tier:
                        make(n)
        for a, b, label in view.edges:
            made[a] >> Edge(label=label) >> made[b]
    _inline_svg_images(path_without_suffix + ".svg")
    return None


def _inline_svg_images(svg_path: str) -> None:
    """diagrams' SVG points at icon files on this machine: inline them so the file stands alone."""
    import base64
    import re
    from pathlib import Path

    path = Path(svg_path)
    text = path.read_text()

    def inline(m: re.Match) -> str:
        icon = Path(m.group(2))
        if not icon.is_file():
            return m.group(0)
        data = base64.b64encode(icon.read_bytes()).decode()
        return f'{m.group(1)}"data:image/png;base64,{data}"'

    path.write_text(re.sub(r'(xlink:href=)"([^"]+\.png)"', inline, text))
