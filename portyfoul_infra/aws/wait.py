"""Waiting on AWS: a polling delay that backs off while AWS throttles."""

from __future__ import annotations

from ..errors import is_throttling


class Backoff:
    """A polling delay that doubles while AWS throttles and returns to its base after a good answer."""

    def __init__(self, base: float, ceiling: float = 60.0):
        self.base = self.delay = base
        self.ceiling = ceiling

    def call(self, fn, sleep, on_throttle=None):
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
                self.delay = min(self.delay * 2, self.ceiling)
                continue
            self.delay = self.base
            return result
