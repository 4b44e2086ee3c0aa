"""The --json documents the operator's guide shows, and a comparison of a real document with one of them."""

import json
import re

from support import ROOT


def documented() -> dict[str, dict]:
    """schema -> the example document of docs/operations.md's "JSON output" section."""
    guide = (ROOT / "docs" / "operations.md").read_text()
    section = guide.split("\n## JSON output\n", 1)[1].split("\n## ", 1)[0]
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]
    return {e["schema"]: e for e in examples}


def same_keys(example, real, path="$"):
    """The keys of `real` are those of the documented `example`, all the way down. A map whose one documented key
    is a <placeholder> (stack outputs, services by name) may hold any keys, each value shaped like its example."""
    if isinstance(example, dict) and isinstance(real, dict):
        if len(example) == 1 and next(iter(example)).startswith("<"):
            (shape,) = example.values()
            for key, value in real.items():
                same_keys(shape, value, f"{path}.{key}")
            return
        assert set(real) == set(example), f"{path}: {sorted(set(real) ^ set(example))}"
        for key in example:
            same_keys(example[key], real[key], f"{path}.{key}")
    elif isinstance(example, list) and isinstance(real, list) and example:
        for i, item in enumerate(real):
            same_keys(example[0], item, f"{path}[{i}]")
