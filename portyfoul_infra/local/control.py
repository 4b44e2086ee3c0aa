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

The clock: AWS measures hook timeouts and bake times in minutes. The local AWS keeps its own time for them, the
wall clock plus an offset that only a caller moves forward, so a test advances an hour instead of waiting one:

    GET  /portyfoul-api/clock                            -> {"now": ISO 8601, "epoch": ..., "offset_seconds": ...,
                                                             "stage_seconds": ...}
    POST /portyfoul-api/clock {"advance_seconds": 600}   the local AWS's time jumps ten minutes ahead; whatever
                                                         falls due in between happens, in order
    POST /portyfoul-api/clock {"stage_seconds": 60}      each lifecycle stage that waits for nothing takes a minute
                                                         of this time (default 0: such stages pass at once)

Without advancing, time passes as on the wall, so a deployment waits at its pause or bake as on AWS. moto's
/moto-api/reset puts the clock back to the wall with stages that take no time.

The load balancer's data plane (local/alb.py): GET /portyfoul-api/alb -> {"address": "http://127.0.0.1:PORT"}.

Snapshots: the whole state of the local AWS (every account, region and service), kept under a name and put back
whole, so that tests that start from the same stack build it once per server instead of once per test:

    POST /portyfoul-api/snapshots/NAME           keep the state as it is now under NAME
    POST /portyfoul-api/snapshots/NAME/restore   put it back (404 if there is no such snapshot)

A snapshot is a deep copy of moto's backends taken in one piece (so references between services stay shared,
as they were), and a restore installs a fresh copy of it, so a snapshot can be restored any number of times.

Refactor settling: how long a refactored stack stays UPDATE_IN_PROGRESS after its refactor reports
EXECUTE_COMPLETE, as AWS sometimes shows it (the cloudformation-refactor-settling gap); off (0) by default, and
/moto-api/reset and a snapshot restore turn it off again:

    POST /portyfoul-api/refactor-settle {"reads": 3}   the next refactored stack answers DescribeStacks
                                                       UPDATE_IN_PROGRESS three times, then UPDATE_COMPLETE

Nothing here decides what AWS would do: it only holds the call or sets a switch the patches read, so the emulator's
answers stay its own.
"""

from __future__ import annotations

import copy
import io
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

PREFIX = "/portyfoul-api/"
HOLD_SECONDS = 300.0   # a held call is let through after this long, so a test that forgets a gate never hangs


class Clock:
    """The local AWS's time for what AWS measures in minutes: the wall clock plus an offset that only moves forward
    (until a reset). Whoever must act when time passes (the deployment engine) listens with on_advance()."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._offset = 0.0
        self._stage_seconds = 0.0
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        with self._lock:
            return self._wall() + self._offset

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    @property
    def stage_seconds(self) -> float:
        with self._lock:
            return self._stage_seconds

    def set_stage_seconds(self, seconds: float) -> None:
        if not 0 <= seconds <= 86400:
            raise ValueError(f"stage_seconds {seconds}: 0 to 86400")
        with self._lock:
            self._stage_seconds = float(seconds)

    def on_advance(self, listener: Callable[[], None]) -> None:
        """Call `listener` just before the clock jumps (what is due now happens now) and just after it."""
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)

    def advance(self, seconds: float) -> float:
        if not 0 <= seconds <= 90 * 86400:
            raise ValueError(f"advance_seconds {seconds}: 0 to {90 * 86400} (90 days)")
        self._notify()
        with self._lock:
            self._offset += float(seconds)
        self._notify()
        return self.now()

    def reset(self) -> None:
        with self._lock:
            self._offset, self._stage_seconds = 0.0, 0.0

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def describe(self) -> dict[str, Any]:
        from datetime import datetime, timezone
        now = self.now()
        return {"now": datetime.fromtimestamp(now, tz=timezone.utc).isoformat(), "epoch": now,
                "offset_seconds": self.offset, "stage_seconds": self.stage_seconds}


# The one clock of this local AWS (its server process).
CLOCK = Clock()


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


def _copy_defaultdict(self: defaultdict, memo: dict) -> defaultdict:
    """A deep copy of a defaultdict subclass whose __init__ takes other arguments (moto's ssm ParameterDict):
    copy's own way calls cls(default_factory) and fails."""
    cls = type(self)
    clone = cls.__new__(cls)
    memo[id(self)] = clone
    clone.default_factory = self.default_factory
    clone.__dict__.update(copy.deepcopy(vars(self), memo))
    for key, value in self.items():
        dict.__setitem__(clone, copy.deepcopy(key, memo), copy.deepcopy(value, memo))
    return clone


def _teach_copy() -> None:
    """What copy.deepcopy needs to copy moto's state: a lock becomes a new lock (nobody holds it in a copy), and
    each defaultdict subclass is copied field by field."""
    copy._deepcopy_dispatch[type(threading.Lock())] = lambda lock, memo: threading.Lock()   # type: ignore[attr-defined]
    copy._deepcopy_dispatch[type(threading.RLock())] = lambda lock, memo: threading.RLock()  # type: ignore[attr-defined]
    pending = list(defaultdict.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "__deepcopy__" not in vars(cls):
            cls.__deepcopy__ = _copy_defaultdict  # type: ignore[attr-defined]


class Snapshots:
    """Named deep copies of every moto backend (BackendDict._instances: each service's accounts and regions)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, Any] = {}

    def save(self, name: str) -> None:
        from moto.core.base_backend import BackendDict, backend_lock
        _teach_copy()
        with backend_lock, self._lock:
            backends = list(BackendDict._instances)  # type: ignore[misc]  # as moto itself reads it
            self._kept[name] = (backends, self._copy(backends, [dict(b) for b in backends]))

    def restore(self, name: str) -> bool:
        from moto.core.base_backend import BackendDict, backend_lock
        with self._lock:
            if name not in self._kept:
                return False
            backends, accounts = self._kept[name]
            state = self._copy(backends, accounts)
        BackendDict.reset()
        with backend_lock:
            for backend, kept in zip(backends, state, strict=True):
                backend.clear()
                backend.update(kept)
                BackendDict._instances.append(backend)  # type: ignore[misc]
        return True

    @staticmethod
    def _copy(backends: list, state: Any) -> Any:
        """A deep copy of `state` in which the services' BackendDicts themselves stay the live ones."""
        return copy.deepcopy(state, {id(b): b for b in backends})


def set_refactor_settling(reads: int) -> None:
    """How many DescribeStacks answers a refactored stack stays UPDATE_IN_PROGRESS for (0: off)."""
    from .patches import cloudformation_refactor
    cloudformation_refactor.SETTLE_READS = reads


class ControlledApp:
    """moto's WSGI application behind the gates, with the control endpoints under /portyfoul-api/."""

    def __init__(self, app: Callable, data_plane: str = "", clock: Clock = CLOCK) -> None:
        self.app = app
        self.gates = Gates()
        self.snapshots = Snapshots()
        self.data_plane = data_plane   # the load balancers' stand-in (local/alb.py), "" when none runs
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.rstrip("/") == PREFIX + "refactor-settle" and environ.get("REQUEST_METHOD") == "POST":
            return self._refactor_settle(environ, start_response)
        if path.startswith(PREFIX):
            return self._control(environ, start_response, path[len(PREFIX):].strip("/").split("/"))
        if path.startswith("/moto-api/reset"):
            self.clock.reset()
            self.gates.open_all()
            set_refactor_settling(0)
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
        if parts == ["clock"]:
            return self._clock(environ, start_response, method)
        if parts == ["alb"] and method == "GET":
            if not self.data_plane:
                return _json(start_response, "404 Not Found", {"error": "no load balancer data plane runs here"})
            return _json(start_response, "200 OK", {"address": self.data_plane})
        if parts == ["gates"] and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
                gate = self.gates.close(str(spec["action"]), str(spec.get("match", "")), str(spec.get("then", "apply")))
            except (ValueError, KeyError, TypeError) as e:
                return _json(start_response, "400 Bad Request", {"error": f"bad gate: {e}"})
            return _json(start_response, "200 OK", {"id": gate.id})
        if parts[0] == "snapshots" and len(parts) in (2, 3) and method == "POST":
            if len(parts) == 2:
                self.snapshots.save(parts[1])
                return _json(start_response, "200 OK", {"saved": parts[1]})
            if parts[2] == "restore":
                self.gates.open_all()
                set_refactor_settling(0)
                if self.snapshots.restore(parts[1]):
                    return _json(start_response, "200 OK", {"restored": parts[1]})
                return _json(start_response, "404 Not Found", {"error": f"no snapshot {parts[1]}"})
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

    @staticmethod
    def _refactor_settle(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            reads = int(json.loads(environ["wsgi.input"].read(length) or b"{}").get("reads", 0))
        except (ValueError, TypeError, AttributeError) as e:
            return _json(start_response, "400 Bad Request", {"error": f"bad refactor-settle: {e}"})
        if reads < 0:
            return _json(start_response, "400 Bad Request", {"error": "reads: 0 or more"})
        set_refactor_settling(reads)
        return _json(start_response, "200 OK", {"reads": reads})


    def _clock(self, environ: dict[str, Any], start_response: Callable, method: str) -> Iterable[bytes]:
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
                if not isinstance(spec, dict) or set(spec) - {"advance_seconds", "stage_seconds"}:
                    raise ValueError(f"{spec!r}: an object with advance_seconds and/or stage_seconds")
                if "stage_seconds" in spec:
                    self.clock.set_stage_seconds(float(spec["stage_seconds"]))
                if "advance_seconds" in spec:
                    self.clock.advance(float(spec["advance_seconds"]))
            except (ValueError, TypeError, AttributeError) as e:
                return _json(start_response, "400 Bad Request", {"error": f"bad clock request: {e}"})
        return _json(start_response, "200 OK", self.clock.describe())
