"""The full reference graph, drawn from the generated template (never by hand): for reviewers.

Every resource, grouped by the resource group that created them (the
template's group map), with arrows for the references between them (Ref,
GetAtt, Sub, DependsOn). Output: Graphviz DOT (committed, and rendered to SVG
when `dot` is installed). The picture a reader wants, how Portyfoul runs, is
the tier view in tiers.py.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess

from ..cfn_template import referenced_ids
from ..contract import resource_groups

INTERNET = "Internet"
GROUP_ORDER = ("network", "load balancer", "web service", "worker service", "database", "registry",
               "secrets and parameters", "cluster and IAM", "monitoring")


def architecture(template: dict) -> tuple[dict[str, list[tuple[str, str]]], list[tuple[str, str]]]:
    """(group -> [(logical id, type)], edges (from, to) meaning "from refers to to")."""
    resources = template["Resources"]
    groups: dict[str, list[tuple[str, str]]] = {}
    group_of = resource_groups(template)
    for lid, r in sorted(resources.items()):
        group = group_of.get(lid, "other")
        groups.setdefault(group, []).append((lid, r["Type"]))
    edges: set[tuple[str, str]] = {(INTERNET, lid) for lid, r in resources.items()
                                   if r["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"}
    for lid, r in resources.items():
        depends = r.get("DependsOn", [])
        targets = referenced_ids(r.get("Properties", {})) | set([depends] if isinstance(depends, str) else depends)
        edges |= {(lid, t) for t in targets if t in resources and t != lid}
    ordered = {g: groups[g] for g in (*GROUP_ORDER, *sorted(set(groups) - set(GROUP_ORDER))) if g in groups}
    return ordered, sorted(edges)


def _short_type(type_: str) -> str:
    return type_.removeprefix("AWS::").replace("ElasticLoadBalancingV2", "ELBv2").replace("ApplicationAutoScaling", "AutoScaling")


def to_dot(template: dict) -> str:
    groups, edges = architecture(template)
    lines = ["digraph portyfoul {", '  graph [rankdir=LR, fontname="Helvetica", fontsize=12, compound=true, '
             'label="Portyfoul on AWS (arrows: refers to)", labelloc=t];',
             '  node [shape=box, style="rounded,filled", fillcolor="#f5f7fa", fontname="Helvetica", fontsize=10];',
             '  edge [color="#7a869a", arrowsize=0.6];',
             f'  "{INTERNET}" [shape=ellipse, fillcolor="#ffe8cc"];']
    for i, (group, members) in enumerate(groups.items()):
        lines.append(f'  subgraph "cluster_{i}" {{')
        lines.append(f'    label="{group}"; style="rounded"; color="#b3bac5";')
        for lid, type_ in members:
            lines.append(f'    "{lid}" [label="{lid}\\n{_short_type(type_)}"];')
        lines.append("  }")
    for a, b in edges:
        lines.append(f'  "{a}" -> "{b}";')
    lines.append("}")
    body = "\n".join(lines) + "\n"
    digest = hashlib.sha256(body.encode()).hexdigest()
    # The hash travels into the SVG as a comment, so --check can tell a stale SVG
    # without depending on which Graphviz version rendered it.
    return body.replace("digraph portyfoul {", f'digraph portyfoul {{\n  comment="dot-source {digest}";', 1)


def dot_digest(dot_source: str) -> str:
    m = re.search(r'comment="dot-source ([0-9a-f]{64})"', dot_source)
    return m.group(1) if m else ""


def render_svg(dot_source: str) -> str | None:
    """SVG from Graphviz, or None when `dot` is not installed."""
    if shutil.which("dot") is None:
        return None
    return subprocess.run(["dot", "-Tsvg"], input=dot_source, capture_output=True, text=True, check=True).stdout
