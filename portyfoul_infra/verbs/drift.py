"""stack-drift: what changed outside CloudFormation, resource by resource, expected against actual.

A hand change in the console otherwise surfaces only when an update fails on
it. Exit 0 when the stack is in sync, 2 when anything drifted.
"""

from __future__ import annotations

import json

from ..aws.wait import Backoff
from ..aws.clients import ClientSource, collect, print_header
from ..context import Clock, Sleep
from ..config import Environment
from ..console import Console, elapsed
from ..options import DriftOptions
from ..outcomes import Outcome
from ..aws.stacks import require_stack


def _short(value, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def stack_drift(aws: ClientSource, env: Environment, console: Console, opts: DriftOptions, clock: Clock,
                sleep: Sleep) -> Outcome:
    print_header(aws, env, console)
    cfn = aws.client("cloudformation")
    stack = require_stack(cfn, env.stack_name, env.name)
    detection = cfn.detect_stack_drift(StackName=stack.stack_id)["StackDriftDetectionId"]
    start = clock()
    backoff = Backoff(opts.poll_seconds)
    while True:
        status = backoff.call(lambda: cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection), sleep)
        if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
            break
        if clock() - start > opts.timeout:
            console.error(f"drift detection still running after {opts.timeout}s; run again later")
            return Outcome.NEEDS_HUMAN
        console.status(f"{elapsed(clock() - start):>6}  detecting drift ...")
        sleep(opts.poll_seconds)
    if status["DetectionStatus"] == "DETECTION_FAILED":
        console.warn(f"drift detection could not check everything: {status.get('DetectionStatusReason', '')}")
    drifts = collect(cfn.describe_stack_resource_drifts, "StackResourceDrifts", StackName=stack.stack_id,
                     StackResourceDriftStatusFilters=["MODIFIED", "DELETED"])
    checked = status.get("DriftedStackResourceCount", len(drifts))
    if not drifts and status.get("StackDriftStatus") != "DRIFTED":
        console.ok(f"{env.stack_name} is in sync with its template ({elapsed(clock() - start)})")
        return Outcome.NO_CHANGES
    console.error(f"{env.stack_name} has drifted: {len(drifts) or checked} resource(s) changed outside CloudFormation")
    for d in sorted(drifts, key=lambda d: d["LogicalResourceId"]):
        console.line(f"{d['LogicalResourceId']} ({d['ResourceType']}) {d['StackResourceDriftStatus']}"
                     + (f"  {d.get('PhysicalResourceId')}" if d.get("PhysicalResourceId") else ""))
        rows = [(p["PropertyPath"], p.get("DifferenceType", ""), _short(p.get("ExpectedValue", "")),
                 _short(p.get("ActualValue", ""))) for p in d.get("PropertyDifferences", [])]
        if rows:
            console.table(("property", "change", "expected (template)", "actual"), rows, indent="    ")
    console.line("next: put the change into the code (and `invoke stack-update`), or undo it in the console; "
                 "a stack-update overwrites drifted properties it manages")
    return Outcome.REFUSED
