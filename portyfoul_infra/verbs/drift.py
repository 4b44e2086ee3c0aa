"""stack-drift: what changed outside CloudFormation, resource by resource, expected against actual.

A hand change in the console otherwise surfaces only when an update fails on
it. Exit 0 when the stack is in sync, 2 when anything drifted.
"""

from __future__ import annotations

from ..aws.clients import collect, print_header
from ..aws.stacks import require_stack
from ..aws.wait import poll_until
from ..console import elapsed, shorten
from ..context import Ctx
from ..options import DriftOptions
from ..outcomes import Outcome


def stack_drift(ctx: Ctx, opts: DriftOptions) -> Outcome:
    env, console = ctx.env, ctx.console
    print_header(ctx)
    cfn = ctx.client("cloudformation")
    stack = require_stack(ctx)
    detection = cfn.detect_stack_drift(StackName=stack.stack_id)["StackDriftDetectionId"]
    polled = poll_until(ctx, lambda: cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection),
                        lambda status: status["DetectionStatus"] != "DETECTION_IN_PROGRESS", timeout=opts.timeout,
                        interval=5.0, waiting="detecting drift ...")
    status = polled.value
    if polled.timed_out:
        console.error(f"drift detection still running after {opts.timeout}s; run again later")
        return Outcome.NEEDS_HUMAN
    if status["DetectionStatus"] == "DETECTION_FAILED":
        console.warn(f"drift detection could not check everything: {status.get('DetectionStatusReason', '')}")
    drifts = collect(cfn.describe_stack_resource_drifts, "StackResourceDrifts", StackName=stack.stack_id,
                     StackResourceDriftStatusFilters=["MODIFIED", "DELETED"])
    checked = status.get("DriftedStackResourceCount", len(drifts))
    if not drifts and status.get("StackDriftStatus") != "DRIFTED":
        console.ok(f"{env.stack_name} is in sync with its template ({elapsed(polled.seconds)})")
        return Outcome.NO_CHANGES
    console.error(f"{env.stack_name} has drifted: {len(drifts) or checked} resource(s) changed outside CloudFormation")
    for d in sorted(drifts, key=lambda d: d["LogicalResourceId"]):
        console.line(f"{d['LogicalResourceId']} ({d['ResourceType']}) {d['StackResourceDriftStatus']}"
                     + (f"  {d.get('PhysicalResourceId')}" if d.get("PhysicalResourceId") else ""))
        rows = [(p["PropertyPath"], p.get("DifferenceType", ""), shorten(p.get("ExpectedValue", "")),
                 shorten(p.get("ActualValue", ""))) for p in d.get("PropertyDifferences", [])]
        if rows:
            console.table(("property", "change", "expected (template)", "actual"), rows, indent="    ")
    console.line("next: put the change into the code (and `invoke stack-update`), or undo it in the console; "
                 "a stack-update overwrites drifted properties it manages")
    return Outcome.REFUSED
