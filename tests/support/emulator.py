"""The local AWS's clock and its load balancers' data plane, for tests (portyfoul_infra/local/control.py).

AWS counts hook timeouts and bake times in minutes; the local AWS counts them on its own clock, which a test moves
forward instead of waiting. Requests to the data plane (portyfoul_infra/local/alb.py) are real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass


def _endpoint(endpoint: str | None) -> str:
    return endpoint or os.environ["AWS_ENDPOINT_URL"]


def _control(path: str, document: dict | None = None, endpoint: str | None = None) -> dict:
    data = None if document is None else json.dumps(document).encode()
    request = urllib.request.Request(f"{_endpoint(endpoint)}/portyfoul-api/{path}", data=data,
                                     method="GET" if data is None else "POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def clock(endpoint: str | None = None) -> dict:
    """{"now", "epoch", "offset_seconds", "stage_seconds"} of the local AWS's clock."""
    return _control("clock", endpoint=endpoint)


def advance(minutes: float = 0, seconds: float = 0, endpoint: str | None = None) -> dict:
    """Move the local AWS's clock forward; whatever falls due in between happens, in order."""
    return _control("clock", {"advance_seconds": minutes * 60 + seconds}, endpoint)


def stage_seconds(seconds: float, endpoint: str | None = None) -> dict:
    """Give each lifecycle stage that waits for nothing this many seconds of the local AWS's clock (default 0)."""
    return _control("clock", {"stage_seconds": seconds}, endpoint)


def data_plane(endpoint: str | None = None) -> str:
    """The load balancers' stand-in: http://127.0.0.1:PORT."""
    return str(_control("alb", endpoint=endpoint)["address"])


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def group(self) -> str:
        """The name of the target group that answered ("" when none did)."""
        return self.headers.get("x-local-target-group", "")


def get(path: str, headers: dict[str, str] | None = None, endpoint: str | None = None) -> Response:
    """One real HTTP GET through the load balancer's data plane (redirects are not followed)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(data_plane(endpoint) + path, headers=headers or {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return Response(response.status, {k.lower(): v for k, v in response.headers.items()},
                            response.read().decode())
    except urllib.error.HTTPError as e:
        return Response(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode())
