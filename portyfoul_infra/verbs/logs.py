"""logs: the services' CloudWatch log groups, merged in time order, optionally followed."""

from __future__ import annotations

import math
import re
import time

from ..aws.clients import collect, print_header
from ..aws.stacks import require_stack
from ..aws.wait import poll_until
from ..context import Ctx
from ..contract import SERVICES, service_keys
from ..errors import UserError
from ..options import LogsOptions
from ..outcomes import Outcome, Result

# CloudWatch Logs keeps events for at most ten years; --since is bounded well within that.
MAX_SINCE_SECONDS = 90 * 86_400


# ASCII digits only: \d would take "٣" (and int() read it as 3).
_SINCE = re.compile(r"([0-9]+)([smhd])")


def parse_since(text: str) -> float:
    m = _SINCE.fullmatch(text.strip())
    if not m:
        raise UserError(f"--since {text[:40]!r}: use a number and s, m, h or d (for example 10m)")
    digits = m.group(1)
    seconds = int(digits[-12:]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if seconds > MAX_SINCE_SECONDS or len(digits.lstrip("0")) > 12:
        raise UserError(f"--since {text.strip()[:40]}: at most 90d")
    return seconds


def logs(ctx: Ctx, opts: LogsOptions) -> Result:
    keys = service_keys(opts.service)
    since = parse_since(opts.since)
    print_header(ctx)
    stack = require_stack(ctx)
    groups = {k: stack.outputs[SERVICES[k].log_output] for k in keys}
    client = ctx.client("logs")
    window = {"start_ms": int((ctx.wall() - since) * 1000), "shown": 0}
    seen: set[str] = set()

    def fetch() -> list[tuple[int, str, dict]]:
        events = []
        for key, group in groups.items():
            page = collect(client.filter_log_events, "events", logGroupName=group, startTime=window["start_ms"])
            events += [(e["timestamp"], key, e) for e in page if e["eventId"] not in seen]
        return sorted(events, key=lambda x: x[0])

    def show(events: list[tuple[int, str, dict]], now: float) -> None:
        for ts, key, e in events:
            seen.add(e["eventId"])
            stamp = time.strftime("%H:%M:%S", time.gmtime(ts / 1000))
            ctx.console.line(f"{stamp} {key:<6} {e['logStreamName'].rsplit('/', 1)[-1][:8]} {e['message'].rstrip()}")
            window["start_ms"] = max(window["start_ms"], ts)
        window["shown"] += len(events)

    try:
        poll_until(ctx, fetch, lambda _: not opts.follow, timeout=math.inf, interval=2.0, on_poll=show,
                   waiting="following; Ctrl-C stops")
    except KeyboardInterrupt:  # the way to stop --follow
        pass
    if not window["shown"]:
        ctx.console.line(f"no log events from {', '.join(keys)} in the last {opts.since}"
                         + (" (followed until stopped)" if opts.follow else ""))
    return Result(Outcome.NO_CHANGES)
