"""The local AWS's gates: a call held until the test lets it through (served) or drops it (never applied)."""

import threading

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from support.gates import gate

REGION = "us-east-2"


def ssm():
    return boto3.client("ssm", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))


def put_in_thread(name: str, results: list) -> threading.Thread:
    def run():
        try:
            ssm().put_parameter(Name=name, Value="v", Type="String")
            results.append("served")
        except ClientError as e:
            results.append(e.response["Error"]["Code"])
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_gated_call_waits_until_opened_then_is_applied(aws_env):
    held = gate("PutParameter", match="/gated/one")
    results: list = []
    thread = put_in_thread("/gated/one", results)
    assert held.wait() == 1
    assert results == [] and ssm().get_parameters(Names=["/gated/one"])["InvalidParameters"] == ["/gated/one"]
    held.open()
    thread.join(30)
    assert results == ["served"]
    assert ssm().get_parameter(Name="/gated/one")["Parameter"]["Value"] == "v"


def test_a_dropped_call_is_answered_with_an_error_and_never_applied(aws_env):
    held = gate("PutParameter", match="/gated/two", then="drop")
    results: list = []
    thread = put_in_thread("/gated/two", results)
    held.wait()
    held.open()
    thread.join(30)
    assert results == ["InternalFailure"]
    assert ssm().get_parameters(Names=["/gated/two"])["InvalidParameters"] == ["/gated/two"]


def test_other_calls_pass_a_closed_gate_and_reset_opens_it(aws_env, local_aws):
    gate("PutParameter", match="/gated/three")
    ssm().put_parameter(Name="/other", Value="v", Type="String")   # another body: not held
    local_aws.reset()
    ssm().put_parameter(Name="/gated/three", Value="v", Type="String")  # the gate went with the reset
    assert ssm().get_parameter(Name="/gated/three")["Parameter"]["Value"] == "v"


def test_a_bad_gate_is_refused(aws_env):
    with pytest.raises(Exception, match="400"):
        gate("PutParameter", then="sometimes")


def test_a_snapshot_is_put_back_whole_any_number_of_times(aws_env, local_aws):
    ssm().put_parameter(Name="/kept", Value="before", Type="String")
    local_aws.save("one")
    ssm().put_parameter(Name="/kept", Value="after", Type="String", Overwrite=True)
    ssm().put_parameter(Name="/later", Value="x", Type="String")
    for _ in range(2):
        assert local_aws.restore("one")
        assert ssm().get_parameter(Name="/kept")["Parameter"]["Value"] == "before"
        assert ssm().get_parameters(Names=["/later"])["InvalidParameters"] == ["/later"]
        ssm().put_parameter(Name="/kept", Value="changed by a test", Type="String", Overwrite=True)


def test_restoring_a_snapshot_that_was_never_taken_changes_nothing(aws_env, local_aws):
    ssm().put_parameter(Name="/here", Value="v", Type="String")
    assert local_aws.restore("never-taken") is False
    assert ssm().get_parameter(Name="/here")["Parameter"]["Value"] == "v"
