"""Where moto behaves unlike AWS in a way that would hide a real bug, the local AWS is made faithful here.

One registered patch per gap. Each module covers one service (or one part of
CloudFormation) and registers its patches with `@gap(...)`: the gap's name,
AWS's documented behaviour, the reference page, the moto version the patch
was written against and the test that states the behaviour. `patch_moto()`
applies them in the order of MODULES, then of definition; MOTO_GAPS is the
one-line text of each, which the operator's guide repeats.

The patches run only inside the local server process (local/server.py), never
in the tools themselves, and import nothing from the product: the emulator
decides what CloudFormation would do on its own (see _template.py), so a
rehearsal can disagree with the product's plan.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Optional

# The moto every patch was checked against; setup.cfg pins exactly this one (tests/test_layout.py holds both).
MOTO_VERSION = "5.2.6"


@dataclass(frozen=True)
class Gap:
    """One way moto differs from AWS, and what the local AWS does about it."""
    name: str
    summary: str            # one line for MOTO_GAPS and the operator's guide
    aws_behaviour: str      # what AWS does, in AWS's terms
    reference: str          # the AWS page that documents it
    test: str               # tests/<file>.py::<test> that states the behaviour
    moto_version: str = MOTO_VERSION
    apply: Optional[Callable[[], None]] = None  # None: a known gap the local AWS does not close
    module: str = ""


REGISTRY: list[Gap] = []


def gap(name: str, *, summary: str, aws: str, reference: str, test: str,
        moto_version: str = MOTO_VERSION) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register the decorated function as the patch that closes one gap."""
    def register(fn: Callable[[], None]) -> Callable[[], None]:
        REGISTRY.append(Gap(name, summary, aws, reference, test, moto_version, fn, fn.__module__))
        return fn
    return register


def known_gap(name: str, *, summary: str, aws: str, reference: str, test: str,
              moto_version: str = MOTO_VERSION) -> None:
    """Register a gap the local AWS leaves open (listed, so nobody mistakes it for AWS's behaviour)."""
    import inspect
    module = inspect.currentframe().f_back.f_globals.get("__name__", "")  # type: ignore[union-attr]
    REGISTRY.append(Gap(name, summary, aws, reference, test, moto_version, None, module))


# Applied in this order. cloudformation_models first: it clears moto's model caches after name-type changes.
MODULES = (
    "rds", "secretsmanager", "ssm", "elbv2", "iam", "cloudwatch", "cloudformation_models", "cloudformation_intrinsics",
    "cloudformation_values", "ecs", "ecr", "ec2", "s3",
    "cloudformation_lifecycle", "cloudformation_updates", "cloudformation_changesets", "cloudformation_exports",
    "cloudformation_import", "cloudformation_api", "cloudformation_refactor", "cloudformation_limits",
)

# ECS's service deployments and blue/green, and the load balancers' data plane: right after "ecs", whose rolling
# deployments they wrap.
MODULES = MODULES[:MODULES.index("ecs") + 1] + ("ecs_deployments", "elbv2_data_plane") + \
    MODULES[MODULES.index("ecs") + 1:]

for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")

MOTO_GAPS: tuple[str, ...] = tuple(g.summary for g in REGISTRY)

_applied = False


def patch_moto() -> None:
    """Apply every registered patch once, in registry order."""
    global _applied
    if _applied:
        return
    for g in REGISTRY:
        if g.apply is not None:
            g.apply()
    _applied = True
