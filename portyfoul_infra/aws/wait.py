"""Waiting on AWS: one poll loop for every wait, with a delay that backs off while AWS throttles.

Every wait in the tool (a stack operation, a change set, a refactor, ECS
deployments, a one-off task, a snapshot, drift detection, following logs)
is `poll_until`: one deadline, one interval (the context may override it:
tests and the sandbox poll fast), throttling answered by doubling the delay
up to a ceiling, and back to the interval after a good answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

from ..console import elapsed as elapsed_text
from ..context import Ctx, Sleep
from ..errors import is_throttling

T = TypeVar("T")


class Backoff:
    """A polling delay that doubles while AWS throttles and returns to its base after a good answer."""

    def __init__(self, base: float, ceiling: float = 60.0):
        self.base = self.delay = base
        self.ceiling = max(ceiling, base)

    def call(self, fn: Callable[[], T], sleep: Sleep, on_throttle: Callable[[float], None] | None = None) -> T:
        """fn() until it is not throttled, sleeping the doubling delay between throttled tries."""
        while True:
            try:
                result = fn()
            except Exception as e:
                if not is_throttling(e):
                    raise
                if on_throttle:
                    on_throttle(self.delay)
                sleep(self.delay)
                self.delay = min(max(self.delay, 0.5) * 2, self.ceiling)
                continue
            self.delay = self.base
            return result


@dataclass(frozen=True)
class Polled(Generic[T]):
    value: T              # the last answer
    timed_out: bool
    seconds: float        # elapsed when it ended


def poll_until(ctx: Ctx, fetch: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float,
               on_poll: Callable[[T, float], None] | None = None, waiting: str = "",
               ceiling: float = 60.0) -> Polled[T]:
    """fetch() until done(answer), or until `timeout` seconds have passed (the last answer is returned either way).

    `on_poll(answer, elapsed)` sees every answer (to print progress); `waiting` is shown as a live status line
    between polls on a terminal. A throttled fetch is retried with back-off, and says so on the status line.
    """
    start = ctx.clock()
    step = ctx.poll(interval)
    backoff = Backoff(step, ceiling)

    def throttled(delay: float) -> None:
        ctx.console.status(f"throttled by AWS; backing off {delay:.0f}s")

    while True:
        value = backoff.call(fetch, ctx.sleep, throttled)
        elapsed = ctx.clock() - start
        if on_poll is not None:
            on_poll(value, elapsed)
        if done(value):
            return Polled(value, False, elapsed)
        if elapsed >= timeout:
            return Polled(value, True, elapsed)
        if waiting:
            ctx.console.status(f"{elapsed_text(elapsed):>6}  {waiting}")
        ctx.sleep(min(step, max(timeout - elapsed, 0.01)) if step > 0 else 0)

