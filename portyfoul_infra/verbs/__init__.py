"""The verbs: one module per verb family, each verb `verb(ctx, opts) -> Result` (outcomes.py). Only tasks.py and the
local runs (scenarios/) import them.

The mechanics (aws/, artifacts/) do the work and return data; a verb does the talking. A verb that reports builds
its document once and shows it one of two ways (`present`): the JSON document on stdout (`--json`), or tables for
people rendered from that same document, so the two never say different things.
"""

from __future__ import annotations

from typing import Any, Callable

from ..console import Console
from ..context import Ctx
from ..outcomes import Outcome, Result

Render = Callable[[Console, dict[str, Any]], None]


def present(ctx: Ctx, as_json: bool, outcome: Outcome, data: dict[str, Any], render: Render) -> Result:
    """The verb's Result, its document shown: as JSON (`as_json`) or through `render` (the human rendering)."""
    if as_json:
        ctx.console.json(data)
    else:
        render(ctx.console, data)
    return Result(outcome, data)
