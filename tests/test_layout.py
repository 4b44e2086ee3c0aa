"""The layout's promises: operations never load the template code, and the contract holds no troposphere."""

import subprocess
import sys

import pytest

from conftest import ROOT

# Every task module that acts on a live stack without building a template.
OPERATION_MODULES = (
    "portyfoul_infra.release_tasks", "portyfoul_infra.logs_tasks", "portyfoul_infra.secrets_tasks",
    "portyfoul_infra.contract", "portyfoul_infra.options", "portyfoul_infra.release", "portyfoul_infra.images",
    "portyfoul_infra.deployments", "portyfoul_infra.stack", "portyfoul_infra.change_set", "tasks",
)


@pytest.mark.parametrize("module", OPERATION_MODULES)
def test_operation_modules_never_import_troposphere(module):
    code = (f"import sys, importlib; importlib.import_module({module!r}); "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('troposphere', 'awacs') "
            "or m.startswith('portyfoul_infra.template')); print(loaded); sys.exit(1 if loaded else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"{module} loads {proc.stdout.strip()} {proc.stderr[-500:]}"


def test_no_operation_module_imports_the_template_package():
    """Operations learn names from the contract; only generated.py reaches into template/."""
    package = ROOT / "portyfoul_infra"
    allowed = {"generated.py"}
    for path in package.glob("*.py"):
        if path.name in allowed:
            continue
        text = path.read_text()
        assert "from .template" not in text and "portyfoul_infra.template" not in text, path.name


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


def test_the_emulator_imports_nothing_of_the_product():
    """Never let a patch agree with the plan by construction: local/ decides on its own."""
    import re
    for path in (ROOT / "portyfoul_infra" / "local").rglob("*.py"):
        text = path.read_text()
        assert "from ..cfn_template" not in text and "portyfoul_infra.cfn_template" not in text, path.name
        if path.parent.name == "patches":
            assert not re.search(r"^\s*from \.\.", text, re.M) and "import portyfoul_infra" not in text, path.name


def test_the_readme_lists_every_task():
    import re
    readme = (ROOT / "README.md").read_text()
    tasks = re.findall(r"^def (\w+)\(console, opts\)", (ROOT / "tasks.py").read_text(), re.M)
    assert len(tasks) >= 17
    for name in tasks:
        assert f"`{name.replace('_', '-')}`" in readme, name
