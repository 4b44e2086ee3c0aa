"""A test's hold on one AWS call of a real command: the local AWS keeps the call waiting at a gate until the
test has done what it must do at that exact point (send a signal, say), then lets it through or drops it.
No timing: the test waits for the call to arrive, not for a number of seconds. See portyfoul_infra/local/control.py.
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass


def _call(url: str, document: dict | None = None, timeout: float = 90) -> dict:
    data = None if document is None else json.dumps(document).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data is not None or url.endswith("/open")
                                     else "GET")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class Gate:
    endpoint: str
    id: str

    def wait(self, timeout: float = 60) -> int:
        """Block until a matching call is held; the number held. Fails the test if none came."""
        held = _call(f"{self.endpoint}/portyfoul-api/gates/{self.id}/wait?timeout={timeout}", timeout=timeout + 30)
        assert held["held"] > 0, f"no call reached gate {self.id} within {timeout} s"
        return held["held"]

    def open(self) -> None:
        _call(f"{self.endpoint}/portyfoul-api/gates/{self.id}/open", {})


def gate(action: str, match: str = "", then: str = "apply", endpoint: str | None = None) -> Gate:
    """Hold the next calls of `action` whose body contains `match` on the local AWS (AWS_ENDPOINT_URL)."""
    endpoint = endpoint or os.environ["AWS_ENDPOINT_URL"]
    created = _call(f"{endpoint}/portyfoul-api/gates", {"action": action, "match": match, "then": then})
    return Gate(endpoint, created["id"])


def settle_refactors(reads: int, endpoint: str | None = None) -> None:
    """Keep each stack a refactor executes on the local AWS UPDATE_IN_PROGRESS for its next `reads` DescribeStacks
    answers after the refactor reports EXECUTE_COMPLETE, as AWS sometimes does (0: settled at once, the default; a
    reset or a snapshot restore turns it off again)."""
    endpoint = endpoint or os.environ["AWS_ENDPOINT_URL"]
    _call(f"{endpoint}/portyfoul-api/refactor-settle", {"reads": reads})
