"""The icon pictures (generated/architecture-<env>.svg): every label inside its node's box and on the canvas, and
every arrow ending on the box of the node it points at.

Text widths come from Graphviz itself (`dot -Tjson` lays each text out with the fonts that drew the picture),
so the check measures what a reader sees; without Graphviz the width checks are skipped, the rest still runs.
"""

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import pytest

from portyfoul_infra.artifacts.generated import PICTURE_ENVIRONMENTS, generated_dir

SVG = "{http://www.w3.org/2000/svg}"
# How far (points) an arrow's tip may sit from its node's border, and a text from its box's edge.
TOLERANCE = 1.5


@dataclass
class Text:
    content: str
    x: float
    y: float
    anchor: str
    font: str
    size: float


@dataclass
class Shape:
    id: str
    box: tuple[float, float, float, float] | None      # min x, min y, max x, max y of its drawn border
    texts: list[Text] = field(default_factory=list)


@dataclass
class Arrow:
    source: str
    target: str
    tip: tuple[float, float]
    texts: list[Text] = field(default_factory=list)


def _points(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", text)]


def _bounds(points):
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _texts(group) -> list[Text]:
    return [Text("".join(t.itertext()), float(t.get("x")), float(t.get("y")), t.get("text-anchor", "start"),
                 t.get("font-family", ""), float(t.get("font-size", "14"))) for t in group.iter(f"{SVG}text")]


def read_svg(text: str) -> tuple[dict[str, Shape], list[Arrow], list[Text], tuple[float, float, float, float]]:
    """(nodes by id, arrows, every text, the canvas) in the graph's coordinates."""
    root = ET.fromstring(text)
    graph = root.find(f"{SVG}g")
    dx, dy = (float(v) for v in re.search(r"translate\(([-\d.]+) ([-\d.]+)\)", graph.get("transform")).groups())
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    canvas = (-dx, -dy, width - dx, height - dy)
    nodes, arrows = {}, []
    for g in graph.iter(f"{SVG}g"):
        kind, title = g.get("class"), g.findtext(f"{SVG}title")
        if kind == "node":
            borders = [_points(p.get("d")) for p in g.findall(f"{SVG}path")]
            borders += [_points(p.get("points")) for p in g.findall(f"{SVG}polygon")]
            box = _bounds([pt for b in borders for pt in b]) if borders else None
            nodes[title] = Shape(title, box, _texts(g))
        elif kind == "edge":
            source, target = title.split("->")
            end = _points(g.find(f"{SVG}path").get("d"))[-1]
            head = _points(g.find(f"{SVG}polygon").get("points"))
            tip = max(head, key=lambda p: (p[0] - end[0]) ** 2 + (p[1] - end[1]) ** 2)
            arrows.append(Arrow(source, target, tip, _texts(g)))
    return nodes, arrows, _texts(graph), canvas


def text_widths(texts: list[Text]) -> dict[tuple[str, str, float], float]:
    """(content, font, size) -> the width Graphviz gives it, for all of them in one run of `dot`."""
    keys = sorted({(t.content, t.font, t.size) for t in texts})
    lines = ["digraph { node [shape=plaintext, margin=0, width=0, height=0];"]
    for i, (content, font, size) in enumerate(keys):
        quoted = content.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'n{i} [label="{quoted}", fontname="{font}", fontsize="{size:.2f}"];')
    answer = subprocess.run(["dot", "-Tjson"], input="\n".join(lines) + "}", capture_output=True, text=True,
                            check=True, timeout=60)
    widths = {}
    for obj in json.loads(answer.stdout)["objects"]:
        ops = [op for op in obj.get("_ldraw_", []) if op["op"] == "T"]
        widths[keys[int(obj["name"][1:])]] = sum(op["width"] for op in ops)
    return widths


def extent(t: Text, width: float) -> tuple[float, float]:
    left = {"start": t.x, "middle": t.x - width / 2, "end": t.x - width}[t.anchor]
    return left, left + width


def problems(svg_text: str, measure: bool = True) -> list[str]:
    """Everything wrong with a picture: a node without a visible border (arrows then end in empty space), an
    arrow whose tip is not on its target's border, a label wider than its node's box, a text off the canvas."""
    nodes, arrows, texts, canvas = read_svg(svg_text)
    found = []
    for node in nodes.values():
        if node.box is None:
            found.append(f"node {node.texts[0].content if node.texts else node.id}: no visible border")
    for arrow in arrows:
        box, (x, y) = nodes[arrow.target].box, arrow.tip
        if box is None:
            continue
        inside = box[0] - TOLERANCE <= x <= box[2] + TOLERANCE and box[1] - TOLERANCE <= y <= box[3] + TOLERANCE
        on_border = min(abs(x - box[0]), abs(x - box[2]), abs(y - box[1]), abs(y - box[3])) <= TOLERANCE
        if not (inside and on_border):
            label = nodes[arrow.target].texts[0].content if nodes[arrow.target].texts else arrow.target
            found.append(f"the arrow to {label} ends at {x:.0f},{y:.0f}, off its border {box}")
    if not measure:
        return found
    widths = text_widths(texts)
    for node in nodes.values():
        for t in node.texts:
            left, right = extent(t, widths[(t.content, t.font, t.size)])
            if node.box and (left < node.box[0] - TOLERANCE or right > node.box[2] + TOLERANCE):
                found.append(f"{t.content!r} ({left:.0f} to {right:.0f}) overflows its node ({node.box[0]:.0f} to "
                             f"{node.box[2]:.0f})")
    for t in texts:
        left, right = extent(t, widths[(t.content, t.font, t.size)])
        if left < canvas[0] - TOLERANCE or right > canvas[2] + TOLERANCE:
            found.append(f"{t.content!r} is cut at the edge of the picture")
    return found


GRAPHVIZ = shutil.which("dot") is not None


@pytest.mark.parametrize("env", PICTURE_ENVIRONMENTS)
def test_no_label_is_clipped_and_every_arrow_ends_on_a_node(env):
    svg = (generated_dir() / f"architecture-{env}.svg").read_text()
    nodes, arrows, _, _ = read_svg(svg)
    assert len(nodes) == 11 and len(arrows) == 12
    assert problems(svg, measure=GRAPHVIZ) == []


# A picture as the `diagrams` defaults drew it: a fixed 1.4-inch node without a border, its label wider than it.
CLIPPED = """<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 300 200">
<g id="graph0" class="graph" transform="scale(1 1) rotate(0) translate(4 196)">
<g id="node1" class="node"><title>a</title>
<image xlink:href="ssm.png" width="100" height="100" x="150" y="-190"/>
<text text-anchor="middle" x="200" y="-60" font-family="Sans-Serif" font-size="13.00">SSM Parameter Store</text>
<text text-anchor="middle" x="200" y="-45" font-family="Sans-Serif" font-size="13.00">PRICE_UPDATE_INTERVAL_MINUTES</text>
</g>
<g id="node2" class="node"><title>b</title>
<path fill="none" stroke="#b0bec5" d="M10,-150C10,-150 60,-150 60,-150 60,-150 60,-100 60,-100 60,-100 10,-100 10,-100 10,-100 10,-150 10,-150"/>
<text text-anchor="middle" x="35" y="-120" font-family="Sans-Serif" font-size="13.00">NAT</text>
</g>
<g id="edge1" class="edge"><title>b&#45;&gt;a</title>
<path fill="none" stroke="#7b8894" d="M60,-125C100,-125 120,-150 135,-160"/>
<polygon fill="#7b8894" stroke="#7b8894" points="134,-163 145,-168 137,-157 134,-163"/>
</g>
</g></svg>"""


def test_the_check_catches_a_clipped_label_and_an_arrow_into_empty_space():
    found = problems(CLIPPED, measure=GRAPHVIZ)
    assert "node SSM Parameter Store: no visible border" in found
    if GRAPHVIZ:
        assert "'PRICE_UPDATE_INTERVAL_MINUTES' is cut at the edge of the picture" in found
    nodes, arrows, _, _ = read_svg(CLIPPED)
    assert arrows[0].tip == (145.0, -168.0) and nodes["b"].box == (10.0, -150.0, 60.0, -100.0)
    bordered = CLIPPED.replace('<image xlink:href="ssm.png"', '<polygon points="150,-190 250,-190 250,-30 150,-30"/>'
                                                              '<image xlink:href="ssm.png"')
    found = problems(bordered, measure=GRAPHVIZ)
    assert any(p.startswith("the arrow to SSM Parameter Store ends at 145,-168") for p in found)
    if GRAPHVIZ:
        assert any(p.startswith("'PRICE_UPDATE_INTERVAL_MINUTES' (") and "overflows its node (150 to 250)" in p
                   for p in found)
