"""What every verb runs with: the clients, the environment, the console, time, and the journal of changes."""

from __future__ import annotations

import time
from typing import Callable

# Injected everywhere a task waits, so tests drive time with a virtual clock.
Clock = Callable[[], float]
Sleep = Callable[[float], None]


def default_clock() -> tuple[Clock, Sleep]:
    return time.monotonic, time.sleep
