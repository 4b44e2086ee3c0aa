"""The layout's promises: the folders are the layers, the arrows run one way, operations never load the template.

Layers, top to bottom: tasks.py; scenarios/ (the local runs: the sandbox and the rehearsal); verbs/ (one module per
verb family); aws/ (the AWS mechanics) and artifacts/ (what is made from the template); template/ (troposphere);
the core at the package root; and beside them local/, the local AWS, which imports nothing of the product. Every
import is read from the code (top-level, in functions and under TYPE_CHECKING alike).
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

from support import ROOT

PACKAGE = ROOT / "portyfoul_infra"
CORE_LIMIT = 12


def layer_of(module: str) -> str:
    """core, template, aws, artifacts, verbs, local (the emulator), scenarios, or tasks."""
    if module == "tasks":
        return "tasks"
    parts = module.split(".")
    if len(parts) == 2 and not (PACKAGE / parts[1]).is_dir():
        return "core"
    if len(parts) == 1:
        return "core"
    return parts[1]


# What each layer may import (besides itself).
ALLOWED = {
    "core": {"core"},
    "template": {"core"},
    "aws": {"core"},
    "artifacts": {"core", "template"},
    "verbs": {"core", "aws", "artifacts"},
    "local": set(),                            # the emulator never agrees with the product by construction
    "scenarios": {"core", "aws", "artifacts", "verbs", "local"},
    "tasks": {"core", "verbs", "scenarios", "aws", "local"},
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
        "aws", "artifacts", "local", "scenarios", "template", "verbs"}


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
    wrong = wrong_arrows(set(ALLOWED) - {"local"})
    assert not wrong, "\n".join(wrong)


def test_the_emulator_imports_nothing_of_the_product():
    """Never let a patch agree with the plan by construction: the local AWS decides on its own."""
    wrong = wrong_arrows({"local"})
    assert not wrong, "\n".join(wrong)


def test_nothing_imports_a_verb_but_tasks_py_and_the_local_runs():
    """No verb imports another (they share only what verbs/__init__.py holds: `present`)."""
    for module, path in modules().items():
        if module == "tasks" or layer_of(module) == "scenarios":
            continue
        verbs = {t for t in imports_of(module, path) if layer_of(t) == "verbs" and t != "portyfoul_infra.verbs"}
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
    operations = sorted(m for m in modules() if layer_of(m) in ("core", "aws", "verbs", "tasks", "scenarios", "local")
                        and m != "portyfoul_infra")
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


def task_bodies() -> dict[str, list[tuple[str, str]]]:
    """task -> the (module, function) its stub calls, read from tasks.py's code: `from portyfoul_infra.verbs import
    stack` then `return stack.stack_update(ctx, opts)`."""
    found: dict[str, list[tuple[str, str]]] = {}
    for node in ast.parse((ROOT / "tasks.py").read_text()).body:
        if not (isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "id", "") == "verb" for d in node.decorator_list)):
            continue
        names = {alias.asname or alias.name: f"{stmt.module}.{alias.name}" for stmt in ast.walk(node)
                 if isinstance(stmt, ast.ImportFrom) and stmt.module for alias in stmt.names}
        found[node.name] = [(names[call.func.value.id], call.func.attr) for call in ast.walk(node)
                            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                            and isinstance(call.func.value, ast.Name) and call.func.value.id in names]
    return found


def test_every_task_calls_a_verb_that_exists_and_takes_ctx_and_opts():
    """The table of contents names each body in code, never in a string: a renamed or moved body fails here (and in
    mypy), not in a user's command. One verb shape: `name(ctx, opts)`."""
    import importlib
    import inspect

    from invoke import Task

    import tasks
    bodies = task_bodies()
    assert set(bodies) == {t.name.replace("-", "_") for t in vars(tasks).values() if isinstance(t, Task)}
    for task, calls in bodies.items():
        assert calls, f"{task} calls no verb"
        for module, function in calls:
            body = getattr(importlib.import_module(module), function, None)
            assert body is not None, f"{task}: {module} has no {function}"
            positional = list(inspect.signature(body).parameters)
            assert positional[:2] == ["ctx", "opts"], f"{task}: {module}.{function}{positional}"


def test_the_body_check_would_catch_a_renamed_verb(tmp_path, monkeypatch):
    import importlib
    stub = ast.parse("@verb(o.X)\ndef force_unlock(ctx, opts):\n    from portyfoul_infra.verbs import lock\n"
                     "    return lock.force_unlockk(ctx, opts)\n").body[0]
    module, function = [(n.func.value.id, n.func.attr) for n in ast.walk(stub) if isinstance(n, ast.Call)
                        and isinstance(n.func, ast.Attribute)][0]
    assert getattr(importlib.import_module(f"portyfoul_infra.verbs.{module}"), function, None) is None


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
