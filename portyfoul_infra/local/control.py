"""The local AWS's own control plane: gates that hold one AWS call, for tests that need a moment to act in.

A test that must send a signal at an exact point of a real command (between web's and worker's UpdateService,
say) cannot rely on timing. Instead it closes a gate on the call that marks that point:

    POST /portyfoul-api/gates {"action": "UpdateService", "match": "worker", "then": "drop"}  -> {"id": "1"}
    GET  /portyfoul-api/gates/1/wait?timeout=60   blocks until a matching call is held -> {"held": 1}
    POST /portyfoul-api/gates/1/open              lets every held call (and later ones) through

A held call waits until the gate opens; then it is served ("then": "apply", as AWS would if the request
reached it) or answered with an error and not applied ("drop", as if it never reached AWS). `action` is the
API operation (X-Amz-Target's or the form's Action); `match` is text the request body must contain. moto's
/moto-api/reset opens and forgets every gate.

Nothing here decides what AWS would do: it only holds the call, so the emulator's answers stay its own.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

PREFIX = "/portyfoul-api/"
HOLD_SECONDS = 300.0   # a held call is let through after this long, so a test that forgets a gate never hangs


@dataclass
class Gate:
    id: str
    action: str
    match: str
    then: str
    opened: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    held: int = 0

    def matches(self, action: str, body: str) -> bool:
        return not self.opened.is_set() and action == self.action and self.match in body


class Gates:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gates: dict[str, Gate] = {}
        self._next = 0

    def close(self, action: str, match: str, then: str) -> Gate:
        if then not in ("apply", "drop"):
            raise ValueError(f"then {then!r}: apply or drop")
        with self._lock:
            self._next += 1
            gate = Gate(str(self._next), action, match, then)
            self._gates[gate.id] = gate
            return gate

    def get(self, gate_id: str) -> Gate | None:
        with self._lock:
            return self._gates.get(gate_id)

    def matching(self, action: str, body: str) -> Gate | None:
        with self._lock:
            return next((g for g in self._gates.values() if g.matches(action, body)), None)

    def any(self) -> bool:
        with self._lock:
            return bool(self._gates)

    def open_all(self) -> None:
        with self._lock:
            gates, self._gates = list(self._gates.values()), {}
        for g in gates:
            g.opened.set()


def _action(environ: dict[str, Any], body: str) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    values = parse_qs(body).get("Action") or parse_qs(environ.get("QUERY_STRING", "")).get("Action") or [""]
    return values[0]


def _json(start_response: Callable, status: str, document: dict) -> Iterable[bytes]:
    data = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class ControlledApp:
    """moto's WSGI application behind the gates, with the control endpoints under /portyfoul-api/."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.gates = Gates()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX):
            return self._control(environ, start_response, path[len(PREFIX):].strip("/").split("/"))
        if path.startswith("/moto-api/reset"):
            self.gates.open_all()
        if not self.gates.any():
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        body = raw.decode("utf-8", "replace")
        gate = self.gates.matching(_action(environ, body), body)
        if gate is not None:
            with gate.arrived:
                gate.held += 1
                gate.arrived.notify_all()
            gate.opened.wait(HOLD_SECONDS)
            if gate.then == "drop":
                return _json(start_response, "500 Internal Server Error",
                             {"__type": "InternalFailure", "message": "dropped by a local AWS gate"})
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        return self.app(environ, start_response)

    def _control(self, environ: dict[str, Any], start_response: Callable, parts: list[str]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if parts == ["gates"] and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
                gate = self.gates.close(str(spec["action"]), str(spec.get("match", "")), str(spec.get("then", "apply")))
            except (ValueError, KeyError, TypeError) as e:
                return _json(start_response, "400 Bad Request", {"error": f"bad gate: {e}"})
            return _json(start_response, "200 OK", {"id": gate.id})
        if len(parts) == 3 and parts[0] == "gates":
            found = self.gates.get(parts[1])
            if found is None:
                return _json(start_response, "404 Not Found", {"error": f"no gate {parts[1]}"})
            if parts[2] == "wait":
                timeout = float((parse_qs(environ.get("QUERY_STRING", "")).get("timeout") or ["60"])[0])
                with found.arrived:
                    found.arrived.wait_for(lambda: found.held > 0, timeout=min(timeout, HOLD_SECONDS))
                return _json(start_response, "200 OK", {"held": found.held})
            if parts[2] == "open" and method == "POST":
                found.opened.set()
                return _json(start_response, "200 OK", {"held": found.held})
        return _json(start_response, "404 Not Found", {"error": "unknown control request"})
