"""The local runs (the sandbox and the rehearsal) share one runner: its own local AWS and its own record of what
changed, one failure policy, and a process environment left as it was.

Covers: portyfoul_infra/scenarios/runner.py
"""

import os
import signal
import socket

import pytest

from portyfoul_infra.cli import Terminated
from portyfoul_infra.config import ENVIRONMENTS
from portyfoul_infra.errors import UserError
from portyfoul_infra.outcomes import Outcome, Result
from portyfoul_infra.scenarios.runner import run_locally, run_steps
from support import make_ctx

DEV = ENVIRONMENTS["dev"]


def changes_then(ending):
    """A step that changes something on the local AWS (and says so in the journal), then ends with `ending`."""
    def step(ctx):
        ctx.client("ssm").put_parameter(Name="/local/only", Value="v", Type="String")
        ctx.record("wrote /local/only on the local AWS", "nothing")
        if isinstance(ending, BaseException):
            raise ending
        return ending
    return step


def answers(endpoint: str) -> bool:
    host, port = endpoint.rsplit("//", 1)[1].split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


@pytest.mark.parametrize("ending, outcome, code", [
    (UserError("no such thing"), Outcome.REFUSED, 2),
    (Result(Outcome.NEEDS_HUMAN), Outcome.REFUSED, 2),
    (Result(Outcome.ROLLED_BACK), Outcome.REFUSED, 2),
    (Terminated(signal.SIGTERM), Outcome.STOPPED, 143),
    (KeyboardInterrupt(), Outcome.STOPPED, 130),
])
def test_a_local_run_that_ends_badly_says_nothing_changed_outside_this_machine(ending, outcome, code):
    ctx, out = make_ctx(object())
    endpoints = []
    environ = dict(os.environ)

    def plan(local):
        endpoints.append(local.aws.endpoint_url)
        return [("a step that changes the local AWS", lambda: changes_then(ending)(local)),
                ("never reached", lambda: pytest.fail("ran past the failure"))]

    result = run_locally(ctx, DEV, plan)
    assert (result.outcome, result.exit_code) == (outcome, code)
    assert ctx.journal.changes == []     # what the local run changed is on this machine, not on AWS
    assert "nothing outside this machine changed" in out.getvalue()
    assert dict(os.environ) == environ   # no endpoint, credential or profile was put into the environment
    assert endpoints[0].startswith("http://127.0.0.1:") and not answers(endpoints[0])  # the local AWS is gone


def test_a_local_run_has_its_own_endpoint_and_credentials_whatever_the_environment_says(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "a-profile-that-does-not-exist")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers there
    ctx, _ = make_ctx(object())
    seen = {}

    def look(local):
        seen["parameters"] = local.client("ssm").describe_parameters()["Parameters"]
        return Result(Outcome.APPLIED)

    result = run_locally(ctx, DEV, lambda local: [("read the local AWS", lambda: look(local))])
    assert result.outcome is Outcome.APPLIED and seen == {"parameters": []}


def test_a_bug_in_a_step_keeps_its_traceback():
    ctx, _ = make_ctx(object())
    with pytest.raises(ZeroDivisionError):
        run_steps(ctx, [("divide", lambda: 1 / 0)])
