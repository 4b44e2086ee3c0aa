"""Amazon ECS service deployments as ECS carries them out: revisions, lifecycle stages, hooks, traffic and bake.

Shared by ecs_deployments.py (which registers the gaps and wires the API and CloudFormation to this) and by
local/alb.py (which asks which tasks serve a target group). Nothing here registers a patch.

The state lives on moto's own models, so moto's reset and the control plane's snapshots take it along: each ECS
backend keeps its service deployments and service revisions (portyfoul_deployments, portyfoul_revisions, in the
order they were made). Which revision's tasks sit in which target group is derived from a service's newest
deployment (groups()), never stored twice. Time is the local AWS's clock (control.CLOCK); tick() moves every
deployment up to now and runs before every ECS and ELB call, every request to the data plane and every jump of
the clock. Everything here runs under LOCK.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import secrets
import string
import threading
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

from ..control import CLOCK
from .ecs import CRASH_SUFFIX, HANG_SUFFIX

LOCK = threading.RLock()

# ServiceDeployment.lifecycleStage, in the order a blue/green deployment walks them (API_ServiceDeployment).
STAGES = ("RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
          "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
          "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP")
# DeploymentLifecycleHook.lifecycleStages: every stage but SCALE_UP, BAKE_TIME and CLEAN_UP.
HOOK_STAGES = tuple(s for s in STAGES if s not in ("SCALE_UP", "BAKE_TIME", "CLEAN_UP"))
# "PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT stages."
NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
ONGOING = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
DEFAULT_HOOK_TIMEOUT_MINUTES = 1440          # DeploymentLifecycleHookTimeoutConfiguration: default 24 hours
STAGE_TIMEOUT_SECONDS = 24 * 3600            # a stage that cannot finish (tasks never healthy) fails after 24 hours
NOT_ASSOCIATED = "Both targetGroup and alternateTargetGroup must be associated with the productionListenerRule " \
                 "or testListenerRule."


def ts(epoch: Optional[float]) -> Optional[datetime]:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc)


def _short_id(length: int = 21) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class Revision:
    """A service revision: the workload configuration one deployment deploys (API_ServiceRevision)."""

    def __init__(self, backend, service, task_definition: str, now: float) -> None:
        self.arn = (f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:service-revision/"
                    f"{service.cluster_name}/{service.name}/{secrets.randbelow(10**19 - 10**18) + 10**18}")
        self.service_arn, self.cluster_arn = service.arn, service.cluster_arn
        self.task_definition = task_definition
        self.launch_type = service.launch_type
        self.platform_version = service.platform_version
        self.load_balancers = copy.deepcopy(list(service.load_balancers or []))
        self.network_configuration = copy.deepcopy(service.network_configuration or None)
        self.created_at = now
        self.container_images: list[dict] = []
        try:
            for c in backend.describe_task_definition(task_definition).container_definitions:
                self.container_images.append({"containerName": c.get("name"), "image": c.get("image")})
        except Exception:  # noqa: BLE001 - a revision of a task definition gone since
            pass

    def describe(self) -> dict:
        return {"serviceRevisionArn": self.arn, "serviceArn": self.service_arn, "clusterArn": self.cluster_arn,
                "taskDefinition": self.task_definition, "launchType": self.launch_type,
                "platformVersion": self.platform_version, "loadBalancers": self.load_balancers,
                "networkConfiguration": self.network_configuration, "containerImages": self.container_images,
                "createdAt": ts(self.created_at)}


class Deployment:
    """One service deployment (API_ServiceDeployment), rolling or blue/green."""

    def __init__(self, backend, service, strategy: str, config: dict, source: list[str], target: str,
                 now: float) -> None:
        self.id = _short_id()
        self.arn = (f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:service-deployment/"
                    f"{service.cluster_name}/{service.name}/{self.id}")
        self.service_arn, self.cluster_arn = service.arn, service.cluster_arn
        self.cluster_name, self.service_name = service.cluster_name, service.name
        self.strategy = strategy
        self.config = copy.deepcopy(config)
        self.source, self.target = list(source), target
        self.created_at = self.started_at = self.updated_at = now
        self.finished_at: Optional[float] = None
        self.stopped_at: Optional[float] = None
        self.status, self.status_reason = "IN_PROGRESS", ""
        self.stage: Optional[str] = None
        self.stage_at, self.stage_pace, self.resolved_at = now, 0.0, now
        self.hooks: list[dict] = []
        self.rollback: Optional[dict] = None
        self.circuit_breaker: Optional[dict] = None
        self.alarms: Optional[dict] = None
        self.tag = ""
        self.blue_tg = self.green_tg = self.prod_rule = self.test_rule = ""
        self.green_started = False
        self.production_shifted = False
        self.ecs_id = f"ecs-svc/{secrets.randbelow(32**12)}"   # the matching entry of DescribeServices' deployments
        self.blue_ecs_id = ""

    @property
    def blue_revision(self) -> str:
        return self.source[0] if self.source else ""

    def brief(self) -> dict:
        return _clean({"serviceDeploymentArn": self.arn, "serviceArn": self.service_arn,
                       "clusterArn": self.cluster_arn, "startedAt": ts(self.started_at),
                       "createdAt": ts(self.created_at), "finishedAt": ts(self.finished_at),
                       "targetServiceRevisionArn": self.target, "status": self.status,
                       "statusReason": self.status_reason or None})

    def describe(self, backend, service) -> dict:
        desired = service.desired_count if service is not None else 0
        running = groups(backend, service) if service is not None else {}
        counts = {rev: count for rev, _td, count in running.values()}
        ongoing = self.status in ONGOING
        source = [_summary(rev, desired if ongoing else 0, counts.get(rev, 0) if ongoing else 0,
                           self._weights(backend, rev)) for rev in self.source]
        target = _summary(self.target, desired, counts.get(self.target, 0), self._weights(backend, self.target))
        hooks = [{k: (ts(v) if k == "expiresAt" else v) for k, v in h.items() if k != "stage"} for h in self.hooks]
        return _clean({
            "serviceDeploymentArn": self.arn, "serviceArn": self.service_arn, "clusterArn": self.cluster_arn,
            "createdAt": ts(self.created_at), "startedAt": ts(self.started_at), "finishedAt": ts(self.finished_at),
            "stoppedAt": ts(self.stopped_at), "updatedAt": ts(self.updated_at),
            "sourceServiceRevisions": source, "targetServiceRevision": target, "status": self.status,
            "statusReason": self.status_reason or None, "lifecycleStage": self.stage,
            "lifecycleHookDetails": hooks or None, "deploymentConfiguration": self.config or None,
            "rollback": ({**self.rollback, "startedAt": ts(self.rollback["startedAt"])} if self.rollback else None),
            "deploymentCircuitBreaker": self.circuit_breaker, "alarms": self.alarms})

    def _weights(self, backend, revision: str) -> dict:
        """requestedTestTrafficWeight and requestedProductionTrafficWeight of one revision (blue/green only)."""
        if self.strategy != "BLUE_GREEN" or not self.blue_tg:
            return {}
        group = self.green_tg if revision == self.target else self.blue_tg
        elb = _elbv2(backend)
        out = {}
        for key, rule_arn in (("requestedTestTrafficWeight", self.test_rule),
                              ("requestedProductionTrafficWeight", self.prod_rule)):
            rule = find_rule(elb, rule_arn)[1] if rule_arn else None
            if rule is not None:
                weights = dict(rule_groups(rule))
                total = sum(weights.values())
                out[key] = round(100.0 * weights.get(group, 0) / total, 1) if total else 0.0
        return out


def _summary(arn: str, requested: int, running: int, weights: dict) -> dict:
    return {"arn": arn, "requestedTaskCount": requested, "runningTaskCount": running, "pendingTaskCount": 0,
            **weights}


def _clean(document: dict) -> dict:
    return {k: v for k, v in document.items() if v is not None}


# --- the store: on moto's ECS backend, so reset and snapshots take it along --------------------------------------

def deployments(backend) -> dict[str, Deployment]:
    found = getattr(backend, "portyfoul_deployments", None)
    if found is None:
        found = backend.portyfoul_deployments = {}
    return found


def revisions(backend) -> dict[str, Revision]:
    found = getattr(backend, "portyfoul_revisions", None)
    if found is None:
        found = backend.portyfoul_revisions = {}
    return found


def of_service(backend, service) -> list[Deployment]:
    """The service's deployments, oldest first."""
    return [d for d in deployments(backend).values()
            if d.service_arn == service.arn and d.cluster_arn == service.cluster_arn]


def forget(backend, service, targets: bool = True) -> None:
    """A deleted service loses its service deployments (as on AWS) and its tasks leave their target groups; a new
    service of the same name starts without the history of the one before it."""
    for dep in of_service(backend, service):
        del deployments(backend)[dep.arn]
    lb = load_balancer(service)
    if lb and targets:
        elb = _elbv2(backend)
        for arn in filter(None, (lb["targetGroupArn"], (lb.get("advancedConfiguration") or {}).get(
                "alternateTargetGroupArn"))):
            group = elb.target_groups.get(arn)
            if group is not None:
                group.deregistered_targets.update(group.targets)
                group.targets.clear()


def latest(backend, service) -> Optional[Deployment]:
    found = of_service(backend, service)
    return found[-1] if found else None


def ecs_backends_in_use() -> Iterator[Any]:
    from moto.ecs.models import ecs_backends
    for account in list(ecs_backends.keys()):
        for backend in list(ecs_backends[account].values()):
            yield backend


def find_service(backend, dep: Deployment):
    for service in backend.services.values():
        if service.arn == dep.service_arn and service.cluster_arn == dep.cluster_arn:
            return service
    return None


def strategy_of(config: Optional[dict]) -> str:
    return (config or {}).get("strategy") or "ROLLING"


def config_of(service) -> dict:
    return getattr(service, "deployment_configuration", None) or {}


def new_revision(backend, service, task_definition: str, now: float) -> Revision:
    revision = Revision(backend, service, task_definition, now)
    revisions(backend)[revision.arn] = revision
    return revision


def task_definition_of(backend, revision_arn: str) -> str:
    found = revisions(backend).get(revision_arn)
    return found.task_definition if found else ""


def image_tag(backend, task_definition: str, container: str = "") -> str:
    try:
        containers = backend.describe_task_definition(task_definition).container_definitions
    except Exception:  # noqa: BLE001
        return ""
    chosen = next((c for c in containers if c.get("name") == container), containers[0] if containers else {})
    image = chosen.get("image", "")
    return image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""


def load_balancer(service) -> dict:
    """The service's first target-group load balancer (blue/green supports one), or {}."""
    return next((lb for lb in service.load_balancers or [] if lb.get("targetGroupArn")), {})


def active_revisions(backend, service, now: float) -> list[str]:
    """The revisions running now, the one serving production first (a service older than this record gets one)."""
    dep = latest(backend, service)
    if dep is None:
        return [new_revision(backend, service, service.task_definition, now).arn] if service.task_definition else []
    if dep.status == "SUCCESSFUL" or (dep.status == "ROLLBACK_FAILED" and not dep.source):
        return [dep.target]
    if dep.status == "ROLLBACK_SUCCESSFUL":
        return dep.source[:1]
    both = [r for r in (dep.source[:1] + [dep.target]) if r]
    return both[::-1] if dep.production_shifted else both


# --- which revision's tasks serve which target group ------------------------------------------------------------

def groups(backend, service) -> dict[str, tuple[str, str, int]]:
    """target group ARN -> (revision ARN, task definition, running tasks) for the service's load balancer."""
    lb = load_balancer(service)
    if not lb:
        return {}
    dep = latest(backend, service)
    desired = service.desired_count or 0
    if dep is not None and dep.strategy == "BLUE_GREEN" and dep.blue_tg:
        blue = (dep.blue_revision, task_definition_of(backend, dep.blue_revision), desired)
        green = (dep.target, task_definition_of(backend, dep.target), desired if dep.green_started else 0)
        if dep.status == "SUCCESSFUL":
            return {dep.green_tg: green}
        if dep.status == "ROLLBACK_SUCCESSFUL" or not dep.blue_revision:
            return {dep.blue_tg: blue} if dep.blue_revision else {dep.green_tg: green}
        return {dep.blue_tg: blue, dep.green_tg: green}
    serving = next((d for d in service.deployments if d.get("rolloutState") == "COMPLETED"),
                   service.deployments[0] if service.deployments else None)
    if serving is None:
        return {}
    revision = dep.target if dep is not None and dep.status == "SUCCESSFUL" else ""
    if dep is not None and dep.status != "SUCCESSFUL":
        revision = dep.source[0] if dep.source else dep.target
    count = int(serving.get("runningCount") or 0)
    return {lb["targetGroupArn"]: (revision, serving.get("taskDefinition") or service.task_definition, count)}


def serving(target_group_arn: str) -> Optional[tuple[Any, Any, str, str, int]]:
    """(ECS backend, service, revision, task definition, running tasks) serving a target group, or None."""
    for backend in ecs_backends_in_use():
        for service in list(backend.services.values()):
            if service.status != "ACTIVE":
                continue
            found = groups(backend, service).get(target_group_arn)
            if found is not None:
                return (backend, service, *found)
    return None


def _task_addresses(backend, service, revision: str, task_definition: str, count: int) -> list[str]:
    """Stable private IPs for a revision's tasks, inside the service's first subnet."""
    cidr = "10.0.0.0/16"
    subnets = ((service.network_configuration or {}).get("awsvpcConfiguration") or {}).get("subnets") or []
    if subnets:
        try:
            from moto.ec2.models import ec2_backends
            cidr = ec2_backends[backend.account_id][backend.region_name].get_subnet(subnets[0]).cidr_block
        except Exception:  # noqa: BLE001
            pass
    network = ipaddress.ip_network(cidr, strict=False)
    usable = max(network.num_addresses - 5, 1)
    seen: set[str] = set()
    for i in range(count):
        h = int(hashlib.sha256(f"{revision or task_definition}/{i}".encode()).hexdigest(), 16)
        for probe in range(usable):
            ip = str(network.network_address + 4 + (h + probe) % usable)
            if ip not in seen:
                seen.add(ip)
                break
    return sorted(seen)


def sync_targets(backend, service) -> None:
    """Each target group of the service holds exactly the tasks of the revision that serves it (ECS registers and
    deregisters them)."""
    lb = load_balancer(service)
    if not lb:
        return
    elb = _elbv2(backend)
    wanted = groups(backend, service)
    port = lb.get("containerPort")
    names = {lb["targetGroupArn"], (lb.get("advancedConfiguration") or {}).get("alternateTargetGroupArn")}
    for arn in filter(None, names):
        group = elb.target_groups.get(arn)
        if group is None:
            continue
        revision, task_definition, count = wanted.get(arn, ("", "", 0))
        tag = image_tag(backend, task_definition, lb.get("containerName", "")) if task_definition else ""
        healthy = count if not tag.endswith((CRASH_SUFFIX, HANG_SUFFIX)) else 0
        ips = _task_addresses(backend, service, revision, task_definition, healthy)
        for gone in [t for t in group.targets if t not in ips]:
            group.deregistered_targets[gone] = group.targets.pop(gone)
        for ip in ips:
            group.targets[ip] = {"Id": ip, "Port": port or group.port}
            group.deregistered_targets.pop(ip, None)


# --- the load balancer's listener rules ----------------------------------------------------------------------------

def _elbv2(backend):
    from moto.elbv2.models import elbv2_backends
    return elbv2_backends[backend.account_id][backend.region_name]


def find_rule(elb, rule_arn: str):
    """(listener, rule) for a listener rule ARN (a default rule included), or (None, None)."""
    for balancer in elb.load_balancers.values():
        for listener in balancer.listeners.values():
            for rule in listener.rules.values():
                if rule.arn == rule_arn:
                    return listener, rule
    return None, None


def rule_groups(rule) -> list[tuple[str, int]]:
    """(target group, weight) of a rule's forward action; a plain TargetGroupArn weighs 1."""
    for action in rule.actions:
        data = getattr(action, "data", {}) or {}
        if data.get("Type") != "forward":
            continue
        forward = data.get("ForwardConfig") or {}
        if forward.get("TargetGroups"):
            return [(g["TargetGroupArn"], int(g.get("Weight", 1))) for g in forward["TargetGroups"]]
        if data.get("TargetGroupArn"):
            return [(data["TargetGroupArn"], 1)]
    return []


def set_weights(elb, rule_arn: str, weights: dict[str, int]) -> None:
    """Rewrite a rule's forward action as ECS does: a weighted ForwardConfig over both target groups."""
    from moto.elbv2.models import FakeAction

    listener, rule = find_rule(elb, rule_arn)
    if rule is None:
        return
    actions = []
    for action in rule.actions:
        data = getattr(action, "data", {}) or {}
        if data.get("Type") != "forward":
            actions.append(action)
            continue
        present = [arn for arn, _ in rule_groups(rule)]
        order = present + [arn for arn in weights if arn not in present]
        forward = copy.deepcopy(data.get("ForwardConfig") or {})
        forward["TargetGroups"] = [{"TargetGroupArn": arn, "Weight": weights.get(arn, 0)} for arn in order]
        new = {k: v for k, v in data.items() if k not in ("TargetGroupArn", "ForwardConfig")}
        new["ForwardConfig"] = forward
        actions.append(FakeAction(new))
    rule.actions = actions
    if getattr(rule, "is_default", False) and listener is not None:
        listener.default_actions = actions
    for arn in weights:
        group = elb.target_groups.get(arn)
        if group is not None and listener is not None and listener.load_balancer_arn not in group.load_balancer_arns:
            group.load_balancer_arns.append(listener.load_balancer_arn)


def reaches_both(backend, lb: dict) -> bool:
    adv = lb.get("advancedConfiguration") or {}
    rules = [adv.get("productionListenerRule"), adv.get("testListenerRule")]
    if not any(rules):
        return True  # no listener rules: ECS shifts no traffic, so there is nothing to associate
    elb = _elbv2(backend)
    reached: set[str] = set()
    for rule_arn in filter(None, rules):
        rule = find_rule(elb, rule_arn)[1]
        if rule is not None:
            reached.update(arn for arn, _ in rule_groups(rule))
    return {lb["targetGroupArn"], adv.get("alternateTargetGroupArn")} <= reached


# --- starting deployments ----------------------------------------------------------------------------------------

def _supersede(backend, service, now: float, by: Deployment) -> None:
    for old in of_service(backend, service):
        if old is not by and old.status in ONGOING:
            old.status, old.stopped_at, old.updated_at = "STOPPED", now, now
            old.status_reason = f"Stopped: a new service deployment started ({by.arn})."
            for hook in old.hooks:
                if hook["status"] == "AWAITING_ACTION":
                    hook["status"] = "FAILED"


def _monitors(backend, dep: Deployment) -> None:
    cb = dep.config.get("deploymentCircuitBreaker") or {}
    dep.circuit_breaker = ({"status": "MONITORING", "failureCount": 0, "threshold": 3} if cb.get("enable")
                           else {"status": "DISABLED", "failureCount": 0, "threshold": 0})
    alarms = dep.config.get("alarms") or {}
    names = list(alarms.get("alarmNames") or [])
    if not alarms.get("enable") or not names:
        dep.alarms = {"status": "DISABLED"}
        return
    # An alarm already in ALARM when the deployment starts: ECS ignores the alarm configuration for it.
    dep.alarms = {"status": "DISABLED" if _firing(backend, names) else "MONITORING", "alarmNames": names}


def _firing(backend, names: list[str]) -> list[str]:
    from moto.cloudwatch.models import cloudwatch_backends
    found = cloudwatch_backends[backend.account_id][backend.region_name].alarms
    return [n for n in names if n in found and found[n].state_value == "ALARM"]


def record_rolling(backend, service, target_td: str, now: float, source: list[str]) -> Deployment:
    """The service deployment of a rolling deployment, as moto (patched in ecs.py) carried it out; `source` is the
    revision that ran before (active_revisions() read before the update), [] for a new service."""
    source = source[:1]
    target = new_revision(backend, service, target_td, now)
    dep = Deployment(backend, service, strategy_of(config_of(service)), config_of(service), source, target.arn, now)
    deployments(backend)[dep.arn] = dep
    _supersede(backend, service, now, dep)
    _monitors(backend, dep)
    dep.tag = image_tag(backend, target_td, load_balancer(service).get("containerName", ""))
    primary = service.deployments[0] if service.deployments else {}
    if primary.get("rolloutState") == "IN_PROGRESS":
        dep.status = "IN_PROGRESS"
    elif primary.get("taskDefinition") == target_td or not source:
        dep.status, dep.finished_at = "SUCCESSFUL", now
        if dep.alarms.get("status") == "MONITORING":
            dep.alarms["status"] = "MONITORING_COMPLETE"
    else:
        reason = primary.get("rolloutStateReason") or "The deployment failed and was rolled back."
        dep.status, dep.status_reason, dep.finished_at = "ROLLBACK_SUCCESSFUL", reason, now
        dep.rollback = {"reason": reason, "startedAt": now, "serviceRevisionArn": source[0]}
        if dep.circuit_breaker["status"] == "MONITORING":
            dep.circuit_breaker.update(status="TRIGGERED", failureCount=3)
    refresh(backend, service, dep)
    return dep


def start_blue_green(backend, service, target_td: str, now: float, active: list[str],
                     current: dict[str, tuple[str, str, int]]) -> Deployment:
    """Start a blue/green service deployment of `target_td` and walk it as far as it goes now. `active` and
    `current` are active_revisions() and groups() as they were before the request changed the service; a new
    service has neither."""
    creation = not active
    target = new_revision(backend, service, target_td, now)
    config = config_of(service)
    dep = Deployment(backend, service, "BLUE_GREEN", config, active, target.arn, now)
    before = latest(backend, service)
    deployments(backend)[dep.arn] = dep
    _supersede(backend, service, now, dep)
    _monitors(backend, dep)
    lb = load_balancer(service)
    dep.tag = image_tag(backend, target_td, lb.get("containerName", ""))
    dep.blue_ecs_id = before.ecs_id if before is not None else (
        service.deployments[0].get("id", "") if service.deployments else "")
    if lb:
        adv = lb.get("advancedConfiguration") or {}
        primary, alternate = lb["targetGroupArn"], adv.get("alternateTargetGroupArn", "")
        dep.prod_rule, dep.test_rule = adv.get("productionListenerRule", ""), adv.get("testListenerRule", "")
        dep.blue_tg = _production_group(backend, current, dep, primary, alternate)
        dep.green_tg = alternate if dep.blue_tg == primary else primary
        if not reaches_both(backend, lb):
            _fail_at_start(backend, service, dep, NOT_ASSOCIATED, now)
            return dep
    if creation:
        # Nothing serves production yet: the first deployment puts its tasks up and sends the traffic to them.
        dep.stage, dep.green_started = "CLEAN_UP", True
        _shift(backend, dep, "test")
        _shift(backend, dep, "production")
        dep.production_shifted = True
        dep.status, dep.finished_at = "SUCCESSFUL", now
        refresh(backend, service, dep)
        return dep
    _enter(backend, dep, "RECONCILE_SERVICE" if len(active) > 1 else "PRE_SCALE_UP", now)
    advance(backend, dep, now)
    return dep


def _production_group(backend, current: dict[str, tuple[str, str, int]], dep: Deployment, primary: str,
                      alternate: str) -> str:
    """Where production runs now: ECS's own record first, then the production rule's weights, then the primary."""
    for arn, (revision, _td, _count) in current.items():
        if dep.source and revision == dep.source[0] and arn in (primary, alternate):
            return arn
    if dep.prod_rule:
        rule = find_rule(_elbv2(backend), dep.prod_rule)[1]
        if rule is not None:
            weights = [(w, arn) for arn, w in rule_groups(rule) if arn in (primary, alternate) and w > 0]
            if weights:
                return max(weights, key=lambda x: (x[0], x[1] == primary))[1]
    return primary


def _fail_at_start(backend, service, dep: Deployment, reason: str, now: float) -> None:
    dep.stage = "PRE_SCALE_UP"
    if dep.blue_revision:
        dep.status = "ROLLBACK_SUCCESSFUL"
        dep.rollback = {"reason": reason, "startedAt": now, "serviceRevisionArn": dep.blue_revision}
    else:
        dep.status, dep.stopped_at = "STOPPED", now
    dep.status_reason, dep.finished_at, dep.updated_at = reason, now, now
    refresh(backend, service, dep)


# --- walking a blue/green deployment -----------------------------------------------------------------------------

def _enter(backend, dep: Deployment, stage: str, at: float) -> None:
    dep.stage, dep.stage_at, dep.updated_at, dep.resolved_at = stage, at, at, at
    dep.stage_pace = CLOCK.stage_seconds
    if stage == "RECONCILE_SERVICE":
        _shift(backend, dep, "test", back=True)
    elif stage == "POST_SCALE_UP":
        dep.green_started = True
    elif stage == "TEST_TRAFFIC_SHIFT":
        _shift(backend, dep, "test")
    elif stage == "PRODUCTION_TRAFFIC_SHIFT":
        _shift(backend, dep, "production")
        dep.production_shifted = True
    for hook in dep.config.get("lifecycleHooks") or []:
        if stage not in (hook.get("lifecycleStages") or []):
            continue
        kind = hook.get("targetType") or "AWS_LAMBDA"
        timeout = hook.get("timeoutConfiguration") or {}
        detail = {"hookId": f"ecs-{'pause' if kind == 'PAUSE' else 'lambda'}-{secrets.token_urlsafe(32)}",
                  "targetType": kind, "status": "AWAITING_ACTION" if kind == "PAUSE" else "SUCCEEDED",
                  "expiresAt": at + 60 * int(timeout.get("timeoutInMinutes") or DEFAULT_HOOK_TIMEOUT_MINUTES),
                  "timeoutAction": timeout.get("action") or "ROLLBACK", "stage": stage}
        if kind != "PAUSE":
            detail["targetArn"] = hook.get("hookTargetArn")
        dep.hooks.append(detail)
    service = find_service(backend, dep)
    if service is not None:
        refresh(backend, service, dep)


def _shift(backend, dep: Deployment, which: str, back: bool = False) -> None:
    rule = dep.test_rule if which == "test" else dep.prod_rule
    if rule and dep.blue_tg:
        to, away = (dep.blue_tg, dep.green_tg) if back else (dep.green_tg, dep.blue_tg)
        set_weights(_elbv2(backend), rule, {to: 100, away: 0} if away else {to: 100})


def _next_event(dep: Deployment) -> tuple[Optional[float], str, Optional[dict]]:
    waiting = [h for h in dep.hooks if h["status"] == "AWAITING_ACTION"]
    if waiting:
        hook = min(waiting, key=lambda h: h["expiresAt"])
        return hook["expiresAt"], "timeout", hook
    ready = max(dep.stage_at + dep.stage_pace, dep.resolved_at)
    if dep.stage == "SCALE_UP" and dep.tag.endswith(CRASH_SUFFIX):
        return dep.stage_at, "crash", None
    if dep.stage == "SCALE_UP" and dep.tag.endswith(HANG_SUFFIX):
        return dep.stage_at + STAGE_TIMEOUT_SECONDS, "stage-timeout", None
    if dep.stage == "BAKE_TIME":
        bake = max(60 * int(dep.config.get("bakeTimeInMinutes") or 0), dep.stage_pace)
        return max(dep.stage_at + bake, dep.resolved_at), "next", None
    if dep.stage == "CLEAN_UP":
        return dep.stage_at, "finish", None
    return ready, "next", None


def advance(backend, dep: Deployment, now: float) -> None:
    """Move a blue/green deployment through whatever falls due up to `now`, in order."""
    if dep.strategy != "BLUE_GREEN" or dep.status != "IN_PROGRESS":
        return
    if _check_alarms(backend, dep, now):
        return
    for _ in range(4 * len(STAGES) + 50):
        if dep.status != "IN_PROGRESS":
            return
        when, event, hook = _next_event(dep)
        if when is None or when > now:
            return
        if event == "timeout" and hook is not None:
            hook["status"] = "TIMED_OUT"
            dep.resolved_at = when
            if hook["timeoutAction"] == "ROLLBACK":
                roll_back(backend, dep, f"The lifecycle hook {hook['hookId']} timed out at {dep.stage} "
                                        f"(timeout action ROLLBACK).", when)
        elif event == "crash":
            if dep.circuit_breaker and dep.circuit_breaker.get("status") == "MONITORING":
                dep.circuit_breaker.update(status="TRIGGERED", failureCount=3)
            roll_back(backend, dep, "Tasks of the new service revision failed to start: the essential container "
                                    "exited (local -crash image).", when)
        elif event == "stage-timeout":
            roll_back(backend, dep, f"The deployment timed out at {dep.stage}: the tasks of the new service revision "
                                    f"did not become healthy within 24 hours (local -hang image).", when)
        elif event == "finish":
            _succeed(backend, dep, when)
        else:
            following = STAGES[STAGES.index(dep.stage) + 1] if dep.stage else "PRE_SCALE_UP"
            _enter(backend, dep, following, when)


def _check_alarms(backend, dep: Deployment, now: float) -> bool:
    if not dep.alarms or dep.alarms.get("status") != "MONITORING":
        return False
    firing = _firing(backend, dep.alarms.get("alarmNames") or [])
    if not firing:
        return False
    dep.alarms.update(status="TRIGGERED", triggeredAlarmNames=firing)
    reason = f"CloudWatch alarm(s) {', '.join(firing)} in ALARM during {dep.stage}."
    if (dep.config.get("alarms") or {}).get("rollback"):
        roll_back(backend, dep, reason, now)
    else:
        dep.status, dep.status_reason, dep.stopped_at, dep.updated_at = "STOPPED", reason, now, now
        service = find_service(backend, dep)
        if service is not None:
            refresh(backend, service, dep)
    return True


def _succeed(backend, dep: Deployment, at: float) -> None:
    dep.status, dep.finished_at, dep.updated_at = "SUCCESSFUL", at, at
    if dep.alarms and dep.alarms.get("status") == "MONITORING":
        dep.alarms["status"] = "MONITORING_COMPLETE"
    if dep.circuit_breaker and dep.circuit_breaker.get("status") == "MONITORING":
        dep.circuit_breaker["status"] = "MONITORING_COMPLETE"
    service = find_service(backend, dep)
    if service is not None:
        refresh(backend, service, dep)


def roll_back(backend, dep: Deployment, reason: str, at: float, hook_status: str = "FAILED") -> None:
    """Back to the blue revision at once: traffic to blue on both rules, the green tasks go."""
    for hook in dep.hooks:
        if hook["status"] == "AWAITING_ACTION":
            hook["status"] = hook_status
    dep.status_reason, dep.updated_at, dep.finished_at = reason, at, at
    if not dep.blue_revision:
        dep.status = "ROLLBACK_FAILED"
    else:
        dep.status = "ROLLBACK_SUCCESSFUL"
        dep.rollback = {"reason": reason, "startedAt": at, "serviceRevisionArn": dep.blue_revision}
        _shift(backend, dep, "production", back=True)
        _shift(backend, dep, "test", back=True)
        dep.production_shifted = False
    service = find_service(backend, dep)
    if service is not None:
        refresh(backend, service, dep)


# --- what DescribeServices shows ---------------------------------------------------------------------------------

def _ecs_entry(service, template: dict, ecs_id: str, status: str, task_definition: str, running: int,
               rollout: str, reason: str, at: float, created: Optional[float] = None) -> dict:
    entry = dict(template)
    entry.update(id=ecs_id, status=status, taskDefinition=task_definition, desiredCount=service.desired_count,
                 runningCount=running, pendingCount=0, failedTasks=entry.get("failedTasks", 0) or 0,
                 rolloutState=rollout, rolloutStateReason=reason, updatedAt=ts(at))
    if created is not None or "createdAt" not in entry:
        entry["createdAt"] = ts(created if created is not None else at)
    return entry


def refresh(backend, service, dep: Optional[Deployment] = None) -> None:
    """DescribeServices' view of a blue/green service (deployments, counts, task definition, current revisions)
    and the targets of its groups, from its newest deployment."""
    dep = dep or latest(backend, service)
    if dep is not None and (dep.strategy == "BLUE_GREEN" and dep is latest(backend, service)):
        template = dict(service.deployments[0]) if service.deployments else {}
        desired = service.desired_count or 0
        target_td, blue_td = task_definition_of(backend, dep.target), task_definition_of(backend, dep.blue_revision)
        green = desired if dep.green_started else 0
        if dep.status == "SUCCESSFUL":
            entries = [_ecs_entry(service, template, dep.ecs_id, "PRIMARY", target_td, desired, "COMPLETED",
                                  f"ECS deployment {dep.ecs_id} completed.", dep.updated_at, dep.created_at)]
            service.task_definition = target_td
        elif dep.status in ("ROLLBACK_SUCCESSFUL",) and blue_td:
            entries = [_ecs_entry(service, template, dep.blue_ecs_id or dep.ecs_id, "PRIMARY", blue_td, desired,
                                  "COMPLETED", f"ECS deployment {dep.ecs_id} rolled back: {dep.status_reason}",
                                  dep.updated_at)]
            service.task_definition = blue_td
        else:
            entries = [_ecs_entry(service, template, dep.ecs_id, "PRIMARY", target_td, green,
                                  "IN_PROGRESS" if dep.status in ONGOING else "FAILED",
                                  dep.status_reason or f"ECS deployment {dep.ecs_id} in progress.", dep.updated_at,
                                  dep.created_at)]
            if blue_td:
                entries.append(_ecs_entry(service, template, dep.blue_ecs_id or f"ecs-svc/{secrets.randbelow(32**12)}",
                                          "ACTIVE", blue_td, desired, "COMPLETED", "", dep.updated_at))
            service.task_definition = target_td
        service.deployments = entries
        service.running_count = sum(e["runningCount"] for e in entries)
        service.pending_count = 0
    if dep is not None:
        service.current_service_deployment = (latest(backend, service) or dep).arn
        running = groups(backend, service)
        service.current_service_revisions = [
            {"arn": rev, "requestedTaskCount": service.desired_count or 0, "runningTaskCount": count,
             "pendingTaskCount": 0}
            for rev, _td, count in running.values() if rev] or [
            {"arn": r, "requestedTaskCount": service.desired_count or 0,
             "runningTaskCount": service.running_count or 0, "pendingTaskCount": 0}
            for r in active_revisions(backend, service, CLOCK.now())[:1]]
    sync_targets(backend, service)


# --- time passing ------------------------------------------------------------------------------------------------

def tick_all() -> None:
    """Move every ongoing blue/green deployment up to the local AWS's now."""
    now = CLOCK.now()
    with LOCK:
        for backend in ecs_backends_in_use():
            for dep in list(deployments(backend).values()):
                if dep.strategy == "BLUE_GREEN" and dep.status == "IN_PROGRESS":
                    advance(backend, dep, now)


def continue_hook(backend, dep: Deployment, hook_id: str, action: str, now: float) -> None:
    from moto.ecs.exceptions import InvalidParameterException

    hook = next((h for h in dep.hooks if h["hookId"] == hook_id), None)
    if hook is None:
        raise InvalidParameterException(f"The service deployment {dep.arn} has no lifecycle hook {hook_id}.")
    if dep.status != "IN_PROGRESS" or hook["status"] != "AWAITING_ACTION":
        raise InvalidParameterException(
            f"The lifecycle hook {hook_id} is {hook['status']} and the service deployment is {dep.status}: only a "
            f"hook in AWAITING_ACTION of an IN_PROGRESS deployment can be continued or rolled back.")
    if action == "ROLLBACK":
        roll_back(backend, dep, f"Rolled back at {dep.stage} by ContinueServiceDeployment (hook {hook_id}, "
                                f"action ROLLBACK).", now)
        return
    hook["status"] = "SUCCEEDED"
    dep.resolved_at = max(dep.resolved_at, now)
    advance(backend, dep, now)


def stop(backend, dep: Deployment, now: float) -> None:
    """StopServiceDeployment with stopType ROLLBACK: back to the previous service revision."""
    if dep.status in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
        return
    reason = "Rolled back by StopServiceDeployment (stopType ROLLBACK)."
    if dep.strategy == "BLUE_GREEN":
        roll_back(backend, dep, reason, now)
        return
    service = find_service(backend, dep)
    dep.status_reason, dep.updated_at, dep.finished_at = reason, now, now
    if not dep.source or service is None:
        dep.status = "ROLLBACK_FAILED"
        return
    dep.status = "ROLLBACK_SUCCESSFUL"
    dep.rollback = {"reason": reason, "startedAt": now, "serviceRevisionArn": dep.source[0]}
    source_td = task_definition_of(backend, dep.source[0])
    template = dict(service.deployments[0]) if service.deployments else {}
    active = next((d for d in service.deployments if d.get("status") == "ACTIVE"), {})
    service.task_definition = source_td
    service.deployments = [_ecs_entry(service, template, active.get("id") or dep.ecs_id, "PRIMARY", source_td,
                                      service.desired_count or 0, "COMPLETED", reason, now)]
    service.running_count, service.pending_count = service.desired_count or 0, 0
    refresh(backend, service, dep)
