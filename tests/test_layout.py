"""The layout's promises: the folders are the layers, the arrows run one way, operations never load the template.

Layers, top to bottom: tasks.py; verbs/ (one module per verb family); local/ (the local AWS and the sandbox);
aws/ (the AWS mechanics) and artifacts/ (what is made from the template); template/ (troposphere); the core at the
package root. Every import is read from the code (top-level, in functions and under TYPE_CHECKING alike).
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT

PACKAGE = ROOT / "portyfoul_infra"
CORE_LIMIT = 12


def layer_of(module: str) -> str:
    """core, template, aws, artifacts, verbs, local.server (the emulator), local.sandbox, or tasks."""
    if module == "tasks":
        return "tasks"
    parts = module.split(".")
    if len(parts) == 2 and not (PACKAGE / parts[1]).is_dir():
        return "core"
    if len(parts) == 1:
        return "core"
    if parts[1] == "local":
        return "local.sandbox" if parts[2:3] == ["sandbox"] else "local.server"
    return parts[1]


# What each layer may import (besides itself).
ALLOWED = {
    "core": {"core"},
    "template": {"core"},
    "aws": {"core"},
    "artifacts": {"core", "template"},
    "verbs": {"core", "aws", "artifacts"},
    "local.server": set(),                     # the emulator never agrees with the product by construction
    "local.sandbox": {"core", "aws", "artifacts", "local.server"},
    "tasks": {"core", "verbs", "aws", "local.sandbox", "local.server"},
}


def modules() -> dict[str, Path]:
    found = {"tasks": ROOT / "tasks.py"}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        found[".".join(parts)] = path
    return found


def imports_of(module: str, path: Path) -> set[str]:
    """Every package module `module` imports, wherever in the file the import stands."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    known = modules()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("portyfoul_infra"):
                continue
            for alias in node.names:  # `from . import contract` names a module; `from .x import y` names a symbol
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in known else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("portyfoul_infra")}
    return {m for m in found if m in known and m != module}


def test_at_most_twelve_modules_sit_at_the_package_root():
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= CORE_LIMIT, root
    assert {d.name for d in PACKAGE.iterdir() if d.is_dir() and (d / "__init__.py").exists()} == {
        "aws", "artifacts", "local", "template", "verbs"}


def wrong_arrows(layers: set[str]) -> list[str]:
    wrong = []
    for module, path in sorted(modules().items()):
        layer = layer_of(module)
        if layer not in layers or module == "portyfoul_infra":
            continue
        for target in sorted(imports_of(module, path)):
            to = layer_of(target)
            if to != layer and to not in ALLOWED[layer] and target != "portyfoul_infra":
                wrong.append(f"{module} ({layer}) imports {target} ({to})")
    return wrong


def test_every_arrow_runs_down_the_layers():
    wrong = wrong_arrows(set(ALLOWED) - {"local.server"})
    assert not wrong, "\n".join(wrong)


def test_the_emulator_imports_nothing_of_the_product():
    """Never let a patch agree with the plan by construction: the local AWS decides on its own."""
    wrong = wrong_arrows({"local.server"})
    assert not wrong, "\n".join(wrong)


def test_nothing_imports_a_verb_but_tasks_py():
    for module, path in modules().items():
        if module == "tasks":
            continue
        verbs = {t for t in imports_of(module, path) if layer_of(t) == "verbs"}
        assert not verbs, f"{module} imports {sorted(verbs)}"


def test_the_layer_rule_would_catch_a_wrong_arrow(tmp_path):
    """The checker itself: a mechanics module importing a verb or the template is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("from ..verbs.release import release\nfrom ..template import build\nfrom .. import contract\n")
    found = imports_of("portyfoul_infra.aws.bad", bad)
    assert {"portyfoul_infra.verbs.release", "portyfoul_infra.template.build", "portyfoul_infra.contract"} <= found
    assert {layer_of(m) for m in found} - ALLOWED["aws"] == {"verbs", "template"}


def test_no_operation_module_loads_troposphere_when_imported():
    """Every module outside template/ and artifacts/ (and tasks.py) imports without troposphere or awacs."""
    operations = sorted(m for m in modules() if layer_of(m) in ("core", "aws", "verbs", "tasks", "local.sandbox",
                                                                 "local.server") and m != "portyfoul_infra")
    code = ("import importlib, sys\n"
            f"for m in {operations!r}:\n"
            "    importlib.import_module(m)\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('troposphere', 'awacs') "
            "or m.startswith('portyfoul_infra.template'))\n"
            "print(loaded); sys.exit(1 if loaded else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert len(operations) >= 35
    assert proc.returncode == 0, f"loads {proc.stdout.strip()} {proc.stderr[-500:]}"


def test_a_new_environment_never_inherits_another_environments_names():
    from dataclasses import replace

    from portyfoul_infra.config import ENVIRONMENTS
    qa = replace(ENVIRONMENTS["dev"], name="qa")
    dev = ENVIRONMENTS["dev"]
    assert qa.stack_name == "portyfoul-qa-infra" != dev.stack_name
    assert qa.template_bucket == "portyfoul-qa-cfn-templates"
    assert qa.secret_prefix == "portyfoul/qa" and qa.parameter_prefix == "/portyfoul/qa"
    assert qa.stack_tags["Environment"] == "qa"


def test_the_operators_guide_lists_every_emulator_gap():
    from portyfoul_infra.local.patches import MOTO_GAPS, REGISTRY
    guide = (ROOT / "docs" / "operations.md").read_text()
    assert len(MOTO_GAPS) == len(REGISTRY)
    for gap in MOTO_GAPS:
        assert gap in guide, gap[:60]


def test_every_emulator_gap_names_its_test_reference_and_moto_version():
    """One registered patch per gap, each with AWS's behaviour, the reference page, the moto version and a test
    that exists."""
    import re

    from portyfoul_infra.local.patches import REGISTRY
    names = [g.name for g in REGISTRY]
    assert len(names) == len(set(names))
    for g in REGISTRY:
        assert g.aws_behaviour and g.reference.startswith("https://docs.aws.amazon.com/"), g.name
        assert re.fullmatch(r"\d+\.\d+\.\d+", g.moto_version), g.name
        path, _, test = g.test.partition("::")
        assert path.startswith("tests/test_local_"), g.name
        assert re.search(rf"^def {test}\(", (ROOT / path).read_text(), re.M), g.test


def test_moto_is_the_version_every_patch_was_checked_against():
    """The patches replace moto's internals: a new moto must be checked against each of them before it is used, so
    setup.cfg pins the one they were checked against, and the installed one must be it."""
    from importlib.metadata import version

    from portyfoul_infra.local.patches import MOTO_VERSION
    assert f"]=={MOTO_VERSION}" in (ROOT / "setup.cfg").read_text()
    assert version("moto") == MOTO_VERSION, "moto was upgraded: check every patch in local/patches, then pin it"


def test_the_readme_lists_every_task():
    from invoke import Task

    import tasks
    readme = (ROOT / "README.md").read_text()
    names = [t.name for t in vars(tasks).values() if isinstance(t, Task)]
    assert len(names) >= 26
    for name in names:
        assert f"`{name.replace('_', '-')}`" in readme, name


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.startswith("portyfoul_infra.verbs.")))
def test_every_verb_takes_ctx_and_opts(module):
    """One verb shape: each public function a verb module defines for tasks.py is `name(ctx, opts)`."""
    import tasks
    mine = {name for name, where in tasks.BODIES.items() if where.split(":")[0] == module.split(".", 1)[1]}
    tree = ast.parse(modules()[module].read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in mine:
            positional = [a.arg for a in node.args.args]
            assert positional[:2] == ["ctx", "opts"] and (len(positional) == 2 or node.args.defaults), node.name
    assert mine, module


def test_the_contract_holds_every_container_and_ssm_variable_name_once():
    """Container names and SSM variable names are written in contract.py and nowhere else in the package."""
    from portyfoul_infra.contract import CONFIG_PARAMETERS, SERVICES
    names = [f'"{s.container}"' for s in SERVICES.values()] + [f'"{p.env_var}"' for p in CONFIG_PARAMETERS if p.env_var]
    for path in PACKAGE.rglob("*.py"):
        if path.name == "contract.py" or "local" in path.parts:
            continue
        text = path.read_text()
        for quoted in names:
            if quoted.strip('"') in ("web", "worker"):
                continue  # also the service keys users type; the container name is SERVICES[key].container
            assert quoted not in text, f"{path.relative_to(ROOT)} writes {quoted} again"
    assert re.search(r'ServiceRef\("web", "web"', (PACKAGE / "contract.py").read_text())
