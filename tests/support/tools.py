"""The tools a few tests need beyond Python: checkov, actionlint (on Node.js) and Graphviz.

One policy for a missing one, everywhere: the test is skipped, and the skip says how to install it. Why not fail:
`./go` installs checkov and actionlint itself, so on a machine set up by the README only Graphviz can be missing,
and it is a system package `./go` cannot install (`.ci/run` installs it); a laptop without it can still run every
other test. Why not skip quietly: `pytest -ra` (setup.cfg) lists every skip with its reason at the end of the run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from . import ROOT

ACTIONLINT = ROOT / ".tools" / "node" / "node_modules" / "@tktco" / "node-actionlint"


def _checkov() -> bool:
    from portyfoul_infra.artifacts.lint import checkov_executable
    from portyfoul_infra.errors import UserError
    try:
        return bool(checkov_executable())
    except UserError:
        return False


TOOLS = {
    "checkov": (_checkov, "run ./go (it installs checkov 3.3.30 into .tools/checkov)"),
    "actionlint": (lambda: shutil.which("node") is not None and Path(ACTIONLINT).exists(),
                   "install Node.js 20+ and run ./go (it installs actionlint into .tools/node)"),
    "graphviz": (lambda: shutil.which("dot") is not None, "apt-get install graphviz (or brew install graphviz)"),
}


def present(tool: str) -> bool:
    return TOOLS[tool][0]()


def need(tool: str) -> None:
    """Skip the calling test, saying how to install `tool`, when it is missing."""
    found, hint = TOOLS[tool]
    if not found():
        pytest.skip(f"{tool} is not installed: {hint}")
