"""Scripted answers for states the local AWS cannot produce, on a real client that talks to it otherwise."""

from __future__ import annotations

from typing import Any


class _Http:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


def error(code: str, message: str = "") -> dict:
    """A scripted error answer (raised by botocore as a ClientError)."""
    return {"Error": {"Code": code, "Message": message or code}, "ResponseMetadata": {"HTTPStatusCode": 400}}


class Script:
    """Answers chosen operations of one client with scripted responses, in order (botocore's before-call event).

    Every other operation, and a scripted one once its answers run out, goes to the local AWS as usual. `calls`
    lists each scripted call's parameters, by operation name.
    """

    def __init__(self, client: Any) -> None:
        self.queues: dict[str, list[dict]] = {}
        self.calls: dict[str, list[dict]] = {}
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"provide-client-params.{service}", self._record)
        client.meta.events.register(f"before-call.{service}", self._answer)

    def add(self, operation: str, *answers: dict) -> Script:
        self.queues.setdefault(operation, []).extend(answers)
        return self

    def pending(self) -> dict[str, int]:
        return {op: len(q) for op, q in self.queues.items() if q}

    def _record(self, params, model, **_: Any) -> None:
        if self.queues.get(model.name):
            self.calls.setdefault(model.name, []).append(dict(params))

    def _answer(self, model, **_: Any):
        queue = self.queues.get(model.name)
        if not queue:
            return None
        answer = queue.pop(0)
        return _Http(400 if "Error" in answer else 200), answer
