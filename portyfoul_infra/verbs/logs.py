"""logs: the services' CloudWatch log groups, merged in time order, optionally followed."""

from __future__ import annotations

import re
import time

from ..aws.clients import ClientSource, verify_account
from ..context import Clock, Sleep
from ..config import Environment
from ..console import Console
from ..contract import SERVICES, service_keys
from ..errors import UserError
from ..options import LogsOptions
from ..outcomes import Outcome
from ..aws.stacks import require_stack

# CloudWatch Logs keeps events for at most ten years; --since is bounded well within that.
MAX_SINCE_SECONDS = 90 * 86_400


_SINCE = re.compile(r"(\d+)([smhd])")


def parse_since(text: str) -> float:
    m = _SINCE.fullmatch(text.strip())
    if not m:
        raise UserError(f"--since {text[:40]!r}: use a number and s, m, h or d (for example 10m)")
    seconds = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if seconds > MAX_SINCE_SECONDS:
        raise UserError(f"--since {text.strip()[:40]}: at most 90d")
    return seconds


def logs(aws: ClientSource, env: Environment, console: Console, opts: LogsOptions, sleep: Sleep,
         now: Clock = time.time, max_polls: int | None = None) -> Outcome:
    keys = service_keys(opts.service)
    since = parse_since(opts.since)
    verify_account(aws, env)
    stack = require_stack(aws.client("cloudformation"), env.stack_name, env.name)
    groups = {k: stack.outputs[SERVICES[k].log_output] for k in keys}
    client = aws.client("logs")
    start_ms = int((now() - since) * 1000)
    seen: set[str] = set()
    polls = 0
    while True:
        events = []
        for key, group in groups.items():
            kwargs = {"logGroupName": group, "startTime": start_ms}
            while True:
                page = client.filter_log_events(**kwargs)
                events += [(e["timestamp"], key, e) for e in page.get("events", []) if e["eventId"] not in seen]
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        for ts, key, e in sorted(events, key=lambda x: x[0]):
            seen.add(e["eventId"])
            stamp = time.strftime("%H:%M:%S", time.gmtime(ts / 1000))
            console.line(f"{stamp} {key:<6} {e['logStreamName'].rsplit('/', 1)[-1][:8]} {e['message'].rstrip()}")
            start_ms = max(start_ms, ts)
        polls += 1
        if not opts.follow or (max_polls is not None and polls >= max_polls):
            return Outcome.NO_CHANGES
        try:
            sleep(2.0)
        except KeyboardInterrupt:  # the way to stop --follow
            return Outcome.NO_CHANGES
