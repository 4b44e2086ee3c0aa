"""stack-drift: what changed outside CloudFormation, resource by resource, expected against actual.

A hand change in the console otherwise surfaces only when an update fails on
it. Exit 0 when the stack is in sync, 2 when anything drifted, 4 when
detection did not finish. With --json, one document (schema
portyfoul.stack-drift/1) with the same exit code.
"""

from __future__ import annotations

from ..aws.clients import collect, json_document, print_header
from ..aws.stacks import require_stack
from ..aws.wait import poll_until
from ..console import Console, elapsed, shorten
from ..context import Ctx
from ..options import DriftOptions
from ..outcomes import Outcome, Result
from . import present

# Drift detection reports a secret's SecretString when it was changed outside CloudFormation: never shown.
HIDDEN = {"AWS::SecretsManager::Secret": ("/SecretString",)}
NOT_SHOWN = "(a secret value: not shown)"


def _value(resource_type: str, path: str, value: object) -> object:
    if any(path.startswith(p) for p in HIDDEN.get(resource_type, ())):
        return NOT_SHOWN
    return value


def stack_drift(ctx: Ctx, opts: DriftOptions) -> Result:
    data = json_document(ctx, "stack-drift", print_header(ctx))
    cfn = ctx.client("cloudformation")
    stack = require_stack(ctx)
    detection = cfn.detect_stack_drift(StackName=stack.stack_id)["StackDriftDetectionId"]
    polled = poll_until(ctx, lambda: cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection),
                        lambda status: status["DetectionStatus"] != "DETECTION_IN_PROGRESS", timeout=opts.timeout,
                        interval=5.0, waiting="detecting drift ...")
    status = polled.value
    data.update({"detection_id": detection, "detection_status": status["DetectionStatus"],
                 "detection_status_reason": status.get("DetectionStatusReason") or None,
                 "timed_out": polled.timed_out, "seconds": round(polled.seconds, 1),
                 "stack_drift_status": status.get("StackDriftStatus"), "drifted": False, "resources": []})
    if polled.timed_out:
        return present(ctx, opts.json, Outcome.NEEDS_HUMAN, data, _render_drift)
    drifts = sorted(collect(cfn.describe_stack_resource_drifts, "StackResourceDrifts", StackName=stack.stack_id,
                            StackResourceDriftStatusFilters=["MODIFIED", "DELETED"]),
                    key=lambda d: d["LogicalResourceId"])
    data["drifted"] = bool(drifts) or status.get("StackDriftStatus") == "DRIFTED"
    data["resources"] = [{
        "logical_id": d["LogicalResourceId"], "type": d["ResourceType"],
        "physical_id": d.get("PhysicalResourceId"), "status": d["StackResourceDriftStatus"],
        "differences": [{"path": p["PropertyPath"], "difference": p.get("DifferenceType"),
                         "expected": _value(d["ResourceType"], p["PropertyPath"], p.get("ExpectedValue")),
                         "actual": _value(d["ResourceType"], p["PropertyPath"], p.get("ActualValue"))}
                        for p in d.get("PropertyDifferences", [])]} for d in drifts]
    return present(ctx, opts.json, Outcome.REFUSED if data["drifted"] else Outcome.NO_CHANGES, data, _render_drift)


def _render_drift(console: Console, data: dict) -> None:
    if data["timed_out"]:
        console.error(f"drift detection still running after {elapsed(data['seconds'])}; run again later")
        return
    if data["detection_status"] == "DETECTION_FAILED":
        console.warn(f"drift detection could not check everything: {data['detection_status_reason'] or ''}")
    if not data["drifted"]:
        console.ok(f"{data['stack']} is in sync with its template ({elapsed(data['seconds'])})")
        return
    console.error(f"{data['stack']} has drifted: {len(data['resources'])} resource(s) changed outside CloudFormation")
    for r in data["resources"]:
        console.line(f"{r['logical_id']} ({r['type']}) {r['status']}"
                     + (f"  {r['physical_id']}" if r["physical_id"] else ""))
        rows = [(p["path"], p["difference"] or "", shorten(p["expected"] or ""), shorten(p["actual"] or ""))
                for p in r["differences"]]
        if rows:
            console.table(("property", "change", "expected (template)", "actual"), rows, indent="    ")
    console.line("next: put the change into the code (and `invoke stack-update`), or undo it in the console; "
                 "a stack-update overwrites drifted properties it manages")
