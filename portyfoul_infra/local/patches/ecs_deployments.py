"""Amazon ECS service deployments: blue/green services, lifecycle stages, PAUSE hooks, traffic shifts and bake.

moto knows nothing of ECS's native blue/green deployments (July 2025) nor of service deployments (the records
ListServiceDeployments and DescribeServiceDeployments read). Here the configuration is accepted with the checks
AWS documents and kept as given, and every deployment, rolling or blue/green, gets its service deployment and
service revisions; a blue/green one walks AWS's lifecycle stages in _deployments.py, on the local AWS's own clock
(control.CLOCK), rewriting the listener rules' weights as ECS does. The rolling behaviour itself (deployments that
complete at once, the -crash and -hang tags) stays in ecs.py; these functions wrap it.
"""

from __future__ import annotations

import threading
from typing import Any

from . import gap, known_gap
from ._deployments import (
    HOOK_STAGES,
    LOCK,
    NO_PAUSE_STAGES,
    ONGOING,
    active_revisions,
    config_of,
    continue_hook,
    deployments,
    find_rule,
    forget,
    groups,
    record_rolling,
    refresh,
    revisions,
    start_blue_green,
    stop,
    strategy_of,
    tick_all,
)

T = "tests/test_local_ecs_blue_green.py::"
GUIDE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
API = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/"
STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
MAX_DESCRIBE = 20


def _invalid(message: str) -> Exception:
    from moto.ecs.exceptions import InvalidParameterException
    return InvalidParameterException(message)


def _error(code: str, message: str) -> Exception:
    from moto.ecs.exceptions import ECSException
    return ECSException(code, message)


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} must be an integer, not {value!r}.") from None


def validate(backend, config: dict | None, load_balancers: list | None, controller: dict | None) -> None:
    """Refuse, as ECS does, a deployment configuration or blue/green load balancer it would refuse."""
    config = config or {}
    strategy = strategy_of(config)
    if strategy not in STRATEGIES:
        raise _invalid(f"Invalid deployment strategy {strategy!r}: one of {', '.join(STRATEGIES)}.")
    if strategy in ("LINEAR", "CANARY"):
        raise _invalid(f"The local AWS does not emulate {strategy} deployments (a known gap of the local AWS, not "
                       f"an AWS refusal): use BLUE_GREEN or ROLLING here.")
    _validate_hooks(config.get("lifecycleHooks") or [])
    if strategy != "BLUE_GREEN":
        return
    if (controller or {}).get("type", "ECS") != "ECS":
        raise _invalid("The BLUE_GREEN deployment strategy requires the ECS deployment controller.")
    if config.get("bakeTimeInMinutes") is None:
        raise _invalid("bakeTimeInMinutes must be provided when you use the BLUE_GREEN deployment strategy.")
    if _int(config["bakeTimeInMinutes"], "bakeTimeInMinutes") < 0:
        raise _invalid("bakeTimeInMinutes cannot be negative.")
    groups_used = [lb for lb in load_balancers or [] if lb.get("targetGroupArn")]
    if len(groups_used) > 1:
        raise _invalid("Multiple target groups are not supported for blue/green deployments.")
    for lb in groups_used:
        _validate_advanced(backend, lb)


def _validate_hooks(hooks: list) -> None:
    for hook in hooks:
        kind = hook.get("targetType") or "AWS_LAMBDA"
        if kind not in ("AWS_LAMBDA", "PAUSE"):
            raise _invalid(f"Invalid lifecycle hook targetType {kind!r}: AWS_LAMBDA or PAUSE.")
        stages = hook.get("lifecycleStages") or []
        if not stages:
            raise _invalid("lifecycleStages must be provided for a deployment lifecycle hook.")
        for stage in stages:
            if stage not in HOOK_STAGES:
                raise _invalid(f"Invalid lifecycle stage {stage!r} for a hook: one of {', '.join(HOOK_STAGES)}.")
            if kind == "PAUSE" and stage in NO_PAUSE_STAGES:
                raise _invalid("PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT "
                               "stages. These stages are only valid for AWS_LAMBDA hooks.")
        if kind == "AWS_LAMBDA" and not hook.get("hookTargetArn"):
            raise _invalid("hookTargetArn must be provided for an AWS_LAMBDA lifecycle hook.")
        if kind == "AWS_LAMBDA" and not hook.get("roleArn"):
            raise _invalid("roleArn must be provided for an AWS_LAMBDA lifecycle hook.")
        timeout = hook.get("timeoutConfiguration") or {}
        if "timeoutInMinutes" in timeout and not 1 <= _int(timeout["timeoutInMinutes"], "timeoutInMinutes") <= 20160:
            raise _invalid("timeoutInMinutes must be between 1 and 20160.")
        if timeout.get("action", "ROLLBACK") not in ("ROLLBACK", "CONTINUE"):
            raise _invalid(f"Invalid timeout action {timeout.get('action')!r}: ROLLBACK or CONTINUE.")


def _validate_advanced(backend, lb: dict) -> None:
    from moto.elbv2.models import elbv2_backends

    adv = lb.get("advancedConfiguration")
    if not adv:
        raise _invalid("A blue/green service with a load balancer needs its advancedConfiguration: the alternate "
                       "target group, the listener rules and the IAM role for traffic shifting.")
    alternate = adv.get("alternateTargetGroupArn")
    if not alternate:
        raise _invalid("advancedConfiguration.alternateTargetGroupArn must be provided.")
    if alternate == lb["targetGroupArn"]:
        raise _invalid("The alternate target group must differ from the service's target group.")
    elb = elbv2_backends[backend.account_id][backend.region_name]
    for arn in (lb["targetGroupArn"], alternate):
        if arn not in elb.target_groups:
            raise _invalid(f"The target group {arn} does not exist.")
    rules = [adv.get("productionListenerRule"), adv.get("testListenerRule")]
    for arn in filter(None, rules):
        if find_rule(elb, arn)[1] is None:
            raise _invalid(f"The listener rule {arn} does not exist.")
    if any(rules) and not adv.get("roleArn"):
        raise _invalid("advancedConfiguration.roleArn must be provided: the infrastructure role that grants Amazon "
                       "ECS permission to call the Elastic Load Balancing APIs for you.")
    if adv.get("roleArn"):
        _validate_role(backend, adv["roleArn"])


def _validate_role(backend, role_arn: str) -> None:
    import json

    from moto.iam.models import iam_backends

    iam = iam_backends[backend.account_id]["aws"]
    role = next((r for r in iam.roles.values() if r.arn == role_arn), None)
    trusted = False
    if role is not None:
        try:
            policy = json.loads(role.assume_role_policy_document or "{}")
        except ValueError:
            policy = {}
        statements = policy.get("Statement") or []
        for st in statements if isinstance(statements, list) else [statements]:
            services = (st.get("Principal") or {}).get("Service") or []
            services = [services] if isinstance(services, str) else services
            actions = st.get("Action") or []
            actions = [actions] if isinstance(actions, str) else actions
            if st.get("Effect") == "Allow" and "ecs.amazonaws.com" in services and "sts:AssumeRole" in actions:
                trusted = True
    if not trusted:
        raise _invalid(f"Unable to assume the role {role_arn}: the infrastructure role must exist and trust "
                       f"ecs.amazonaws.com (sts:AssumeRole).")


def _camel(value: Any) -> Any:
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys
    return remap_nested_keys(value, pascal_to_camelcase) if value is not None else None


_INTS = ("maximumPercent", "minimumHealthyPercent", "bakeTimeInMinutes", "timeoutInMinutes", "containerPort")
_BOOLS = ("enable", "rollback")


def _typed(value: Any) -> Any:
    """CloudFormation hands numbers and booleans over as text when they come from parameters."""
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if k in _INTS and isinstance(v, str) and v.strip().lstrip("-").isdigit():
            v = int(v)
        elif k in _BOOLS and isinstance(v, str) and v.lower() in ("true", "false"):
            v = v.lower() == "true"
        out[k] = v if k == "hookDetails" else _typed(v)
    return out


def _from_template(props: dict) -> tuple[dict | None, list | None, dict | None]:
    config = _typed(_camel(props.get("DeploymentConfiguration")))
    lbs = _typed(_camel(props.get("LoadBalancers")))
    controller = _camel(props.get("DeploymentController"))
    for hook, raw in zip((config or {}).get("lifecycleHooks") or [],
                         ((props.get("DeploymentConfiguration") or {}).get("LifecycleHooks") or []), strict=False):
        if "HookDetails" in raw:
            hook["hookDetails"] = raw["HookDetails"]   # a JSON document: its keys are the caller's
    return config, lbs, controller


def _start_creation(backend, service, now: float) -> None:
    forget(backend, service, targets=False)
    if strategy_of(config_of(service)) == "BLUE_GREEN":
        start_blue_green(backend, service, service.task_definition, now, active=[], current={})
    elif service.task_definition:
        record_rolling(backend, service, service.task_definition, now, source=[])


@gap("ecs-blue-green-configuration",
     summary="ECS blue/green services (deploymentConfiguration strategy BLUE_GREEN, bakeTimeInMinutes, lifecycleHooks; "
             "loadBalancers advancedConfiguration): moto dropped them, and CloudFormation also dropped LoadBalancers and "
             "DeploymentConfiguration of every service (patched: kept as given, through CreateService, UpdateService "
             "and CloudFormation, and refused as ECS refuses them: no bake time, a PAUSE hook at a traffic shift, a "
             "missing alternate group, rule or role, a role ECS cannot assume, another controller, two target groups)",
     aws="The BLUE_GREEN strategy needs the ECS deployment controller and bakeTimeInMinutes; PAUSE hooks cannot be "
         "configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT; a load balancer names its alternate target "
         "group, production and test listener rules and the infrastructure role ECS assumes to call Elastic Load "
         "Balancing; DescribeServices returns the configuration.",
     reference=API + "API_DeploymentConfiguration.html",
     test=T + "test_a_blue_green_service_is_kept_as_given")
def patch_blue_green_configuration() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend, Service, ecs_backends
    from moto.ecs.responses import ActionResult, EC2ContainerServiceResponse

    original_create = EC2ContainerServiceResponse.create_service

    def create_service(self):
        config = self._get_param("deploymentConfiguration")
        lbs = self._get_param("loadBalancers")
        controller = self._get_param("deploymentController")
        validate(self.ecs_backend, config, lbs, controller)
        with LOCK:
            original_create(self)
            service = self.ecs_backend._get_service(self._get_param("cluster", "default"),
                                                    self._get_param("serviceName"))
            if config is not None:
                service.deployment_configuration = config
            _start_creation(self.ecs_backend, service, _now())
        return ActionResult({"service": service})

    EC2ContainerServiceResponse.create_service = create_service

    original_update = EC2ContainerServiceBackend.update_service

    def update_service(self, service_properties):
        props = dict(service_properties)
        service = self._get_service(props.get("cluster", "default"), str(props.get("service", "")).split("/")[-1])
        template = _template_for(service)   # a CloudFormation update: the template's settings, not yet applied
        config = template[0] if template else props["deployment_configuration"] \
            if props.get("deployment_configuration") is not None else config_of(service)
        lbs = template[1] if template else props["load_balancers"] if props.get("load_balancers") is not None \
            else service.load_balancers
        validate(self, config, lbs, getattr(service, "deployment_controller", None))
        with LOCK:
            tick_all()
            now = _now()
            requested = props.get("task_definition")
            target_td = self.describe_task_definition(requested).arn if requested else service.task_definition
            changed = bool(props.get("force_new_deployment")) or bool(requested and target_td != service.task_definition)
            active = active_revisions(self, service, now) if changed else []
            current = groups(self, service)
            updated = original_update(self, props)
            if template:   # exactly the template's: what it leaves out goes
                _keep(updated, *template, exact=True)
            if not changed:
                refresh(self, updated)
            elif strategy_of(config_of(updated)) == "BLUE_GREEN":
                start_blue_green(self, updated, target_td, now, active=active, current=current)
            else:
                record_rolling(self, updated, target_td, now, source=active)
        return updated

    EC2ContainerServiceBackend.update_service = update_service

    original_delete = EC2ContainerServiceBackend.delete_service

    def delete_service(self, cluster_name, service_name, force):
        deleted = original_delete(self, cluster_name, service_name, force)
        with LOCK:
            forget(self, deleted)
        return deleted

    EC2ContainerServiceBackend.delete_service = delete_service

    cfn_create = Service.create_from_cloudformation_json.__func__
    cfn_update = Service.update_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        backend = ecs_backends[account_id][region_name]
        config, lbs, controller = _from_template(cloudformation_json.get("Properties") or {})
        validate(backend, config, lbs, controller)
        with LOCK:
            service = cfn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
            _keep(service, config, lbs, controller)
            _start_creation(backend, service, _now())
        return service

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        backend = ecs_backends[account_id][region_name]
        config, lbs, controller = _from_template(cloudformation_json.get("Properties") or {})
        validate(backend, config, lbs, controller)
        with LOCK:
            # The deployment the update starts (if any) runs as the new template says; the service itself is changed
            # only by the update, so whatever compares the old settings with the new ones still sees both.
            _TEMPLATE.pending = (original_resource, config, lbs, controller)
            try:
                service = cfn_update(cls, original_resource, new_resource_name, cloudformation_json, account_id,
                                     region_name)
            finally:
                _TEMPLATE.pending = None
            _keep(service, config, lbs, controller)
            if service is not original_resource:   # another cluster: moto created the service again
                _start_creation(backend, service, _now())
            else:
                refresh(backend, service)
        return service

    Service.create_from_cloudformation_json = classmethod(create)
    Service.update_from_cloudformation_json = classmethod(update)


# The settings of the CloudFormation update under way in this thread: (service, config, load balancers, controller).
_TEMPLATE = threading.local()


def _template_for(service) -> tuple | None:
    pending = getattr(_TEMPLATE, "pending", None)
    return pending[1:] if pending is not None and pending[0] is service else None


def _keep(service, config, lbs, controller, exact: bool = False) -> None:
    """The template's deployment configuration, load balancers and controller on the service; unless `exact`, not
    where the service says all of it already (whatever else applies the template may add AWS's defaults)."""
    if exact or not _covers(getattr(service, "deployment_configuration", None), config or {}):
        service.deployment_configuration = config or {}
    if exact or not _covers(service.load_balancers, lbs or []):
        service.load_balancers = lbs or []
    if controller and (exact or not _covers(service.deployment_controller, controller)):
        service.deployment_controller = controller


def _covers(existing: Any, wanted: Any) -> bool:
    """Whether `existing` says everything `wanted` says (and perhaps more, in its dictionaries)."""
    if isinstance(wanted, dict):
        return isinstance(existing, dict) and all(k in existing and _covers(existing[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(existing, list) and len(existing) == len(wanted) and all(
            _covers(e, w) for e, w in zip(existing, wanted, strict=True))
    return bool(existing == wanted)


def _now() -> float:
    from ..control import CLOCK
    return CLOCK.now()


@gap("ecs-service-deployments",
     summary="ListServiceDeployments, DescribeServiceDeployments and DescribeServiceRevisions: not implemented "
             "(patched: every deployment, rolling or blue/green, from CreateService, UpdateService or CloudFormation, "
             "has its service deployment: status, statusReason, lifecycleStage, source and target revisions, "
             "timestamps, rollback, circuit breaker and alarms; DescribeServices names the current deployment and "
             "revisions)",
     aws="Amazon ECS creates a service deployment when a service is created, updated with forceNewDeployment or "
         "updated in a property that requires a deployment; it records the source and target service revisions, "
         "the status, the failure detection and the rollback.",
     reference=GUIDE + "service-deployment.html",
     test=T + "test_service_deployments_record_rolling_and_blue_green_deployments")
def patch_service_deployments() -> None:
    from moto.ecs.responses import ActionResult, EC2ContainerServiceResponse
    from moto.elbv2.responses import ELBV2Response

    def list_service_deployments(self):
        backend = self.ecs_backend
        service_str = self._get_param("service")
        service = backend._get_service(self._get_param("cluster") or "default", service_str.split("/")[-1])
        statuses = self._get_param("status") or []
        created = self._get_param("createdAt") or {}
        limit = self._get_param("maxResults") or 20
        if not 1 <= int(limit) <= 100:
            raise _invalid("maxResults must be between 1 and 100.")
        start = int(self._get_param("nextToken") or 0)
        with LOCK:
            found = [d for d in reversed(list(deployments(backend).values()))
                     if d.service_arn == service.arn and d.cluster_arn == service.cluster_arn
                     and (not statuses or d.status in statuses)
                     and _within(d.created_at, created.get("after"), created.get("before"))]
            page = found[start:start + int(limit)]
            result = {"serviceDeployments": [d.brief() for d in page]}
        if start + int(limit) < len(found):
            result["nextToken"] = str(start + int(limit))
        return ActionResult(result)

    def describe_service_deployments(self):
        backend = self.ecs_backend
        arns = self._get_param("serviceDeploymentArns") or []
        if len(arns) > MAX_DESCRIBE:
            raise _invalid(f"You can specify a maximum of {MAX_DESCRIBE} service deployment ARNs.")
        with LOCK:
            store = deployments(backend)
            found, failures = [], []
            for arn in arns:
                dep = store.get(arn)
                if dep is None:
                    failures.append({"arn": arn, "reason": "MISSING"})
                    continue
                found.append(dep.describe(backend, _service_of(backend, dep)))
        return ActionResult({"serviceDeployments": found, "failures": failures})

    def describe_service_revisions(self):
        backend = self.ecs_backend
        arns = self._get_param("serviceRevisionArns") or []
        if len(arns) > MAX_DESCRIBE:
            raise _invalid(f"You can specify a maximum of {MAX_DESCRIBE} service revision ARNs.")
        with LOCK:
            store = revisions(backend)
            found = [store[a].describe() for a in arns if a in store]
            failures = [{"arn": a, "reason": "MISSING"} for a in arns if a not in store]
        return ActionResult({"serviceRevisions": found, "failures": failures})

    EC2ContainerServiceResponse.list_service_deployments = list_service_deployments
    EC2ContainerServiceResponse.describe_service_deployments = describe_service_deployments
    EC2ContainerServiceResponse.describe_service_revisions = describe_service_revisions

    # Every ECS and ELB call first moves the deployments up to the local AWS's now (the clock), as if ECS had
    # been working all along.
    for response in (EC2ContainerServiceResponse, ELBV2Response):
        _tick_before(response)

    from ..control import CLOCK
    CLOCK.on_advance(tick_all)


def _tick_before(response_class) -> None:
    original = response_class.call_action

    def call_action(self):
        tick_all()
        return original(self)

    response_class.call_action = call_action


def _within(created: float, after: Any, before: Any) -> bool:
    def epoch(value: Any) -> float | None:
        if value is None:
            return None
        return value.timestamp() if hasattr(value, "timestamp") else float(value)
    a, b = epoch(after), epoch(before)
    return (a is None or created >= a) and (b is None or created <= b)


def _service_of(backend, dep):
    for service in backend.services.values():
        if service.arn == dep.service_arn and service.cluster_arn == dep.cluster_arn:
            return service
    return None


def _deployment(backend, arn: str):
    dep = deployments(backend).get(arn or "")
    if dep is None:
        raise _error("ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist.")
    return dep


@gap("ecs-blue-green-lifecycle",
     summary="ECS blue/green deployments: an UpdateService of a new task definition replaced the tasks at once "
             "(patched: the deployment walks AWS's lifecycle stages in order, RECONCILE_SERVICE when another "
             "revision is still active, PRE_SCALE_UP, SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT, "
             "POST_TEST_TRAFFIC_SHIFT, PRE_PRODUCTION_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT, "
             "POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, CLEAN_UP, on the local AWS's clock; the -crash and -hang tags "
             "fail it at SCALE_UP, -crash rolled back at once, -hang after the 24-hour stage timeout)",
     aws="A blue/green deployment starts the green service revision beside the blue one and moves through its "
         "lifecycle stages; the current stage is the service deployment's lifecycleStage. A deployment that fails "
         "rolls back to the blue revision.",
     reference=GUIDE + "blue-green-deployment-how-it-works.html",
     test=T + "test_an_update_walks_the_documented_stages_in_order")
def patch_blue_green_lifecycle() -> None:
    """The walk is _deployments.advance(), started by update_service (patch_blue_green_configuration)."""


@gap("ecs-pause-hooks",
     summary="ECS PAUSE lifecycle hooks and ContinueServiceDeployment: not implemented (patched: a deployment stops "
             "at a hooked stage with the hook AWAITING_ACTION, its hookId, expiresAt and timeoutAction in "
             "lifecycleHookDetails; ContinueServiceDeployment CONTINUE moves on, ROLLBACK rolls back; when the hook's "
             "timeoutInMinutes pass on the local AWS's clock its timeout action is taken)",
     aws="When a deployment reaches a stage with a pause hook, ECS generates a hookId and waits until "
         "ContinueServiceDeployment is called with the hookId and CONTINUE or ROLLBACK, or the configured timeout is "
         "reached (default 1440 minutes, action ROLLBACK); DescribeServiceDeployments returns lifecycleHookDetails.",
     reference=GUIDE + "pause-lifecycle-hooks.html",
     test=T + "test_a_pause_hook_waits_with_its_hook_id_until_continued")
def patch_pause_hooks() -> None:
    from moto.ecs.responses import ActionResult, EC2ContainerServiceResponse

    def continue_service_deployment(self):
        arn = self._get_param("serviceDeploymentArn")
        with LOCK:
            dep = _deployment(self.ecs_backend, arn)
            continue_hook(self.ecs_backend, dep, self._get_param("hookId") or "",
                          self._get_param("action") or "CONTINUE", _now())
        return ActionResult({"serviceDeploymentArn": arn})

    def stop_service_deployment(self):
        arn = self._get_param("serviceDeploymentArn")
        stop_type = self._get_param("stopType") or "ROLLBACK"
        if stop_type != "ROLLBACK":
            raise _invalid(f"stopType {stop_type}: the local AWS stops a service deployment only with ROLLBACK "
                           f"(a known gap).")
        with LOCK:
            dep = _deployment(self.ecs_backend, arn)
            if dep.status not in ONGOING:
                raise _error("ConflictException", f"The service deployment {arn} is {dep.status}: it has finished.")
            stop(self.ecs_backend, dep, _now())
        return ActionResult({"serviceDeploymentArn": arn})

    EC2ContainerServiceResponse.continue_service_deployment = continue_service_deployment
    EC2ContainerServiceResponse.stop_service_deployment = stop_service_deployment


@gap("ecs-blue-green-traffic",
     summary="ECS blue/green traffic: nothing moved it (patched: at TEST_TRAFFIC_SHIFT the test listener rule forwards "
             "to the green target group, at PRODUCTION_TRAFFIC_SHIFT ECS rewrites the production rule's forward "
             "action to a weighted ForwardConfig, green 100 and blue 0, and a rollback puts both back; each target "
             "group holds the tasks of the revision that serves it, registered and deregistered by ECS)",
     aws="Traffic shifting adjusts the weights of the listener rules that forward to both target groups; during a "
         "blue/green deployment ECS registers the tasks with the appropriate target group for the stage.",
     reference=GUIDE + "alb-resources-for-blue-green.html",
     test=T + "test_traffic_shifts_rewrite_the_rule_weights_and_a_rollback_puts_them_back")
def patch_blue_green_traffic() -> None:
    """The weights are set by _deployments.set_weights() as the stages are entered."""


@gap("ecs-blue-green-bake",
     summary="ECS blue/green bake time and deployment alarms: not modelled (patched: after the production shift the "
             "blue tasks stay for bakeTimeInMinutes of the local AWS's clock, then go and the deployment is SUCCESSFUL; "
             "a deployment alarm in ALARM before that rolls it back at once, traffic back to blue; an alarm already in "
             "ALARM when the deployment starts is ignored)",
     aws="During the bake time both revisions run after production traffic has shifted and ECS monitors the "
         "deployment's CloudWatch alarms; a rollback during the bake shifts traffic back to blue without new tasks. "
         "An alarm already in ALARM when a deployment starts is ignored for that deployment.",
     reference=GUIDE + "deployment-alarm-failure.html",
     test=T + "test_an_alarm_during_the_bake_sends_traffic_back_to_blue_at_once")
def patch_blue_green_bake() -> None:
    """The bake and the alarms are _deployments._next_event() and _check_alarms()."""


@gap("ecs-stop-service-deployment",
     summary="StopServiceDeployment: not implemented (patched: stopType ROLLBACK returns a pending or in-progress "
             "deployment, rolling or blue/green, to the previous service revision; a finished one is a "
             "ConflictException)",
     aws="StopServiceDeployment with ROLLBACK rolls the service deployment back to the previous service revision, "
         "even if the service was not configured to roll back.",
     reference=GUIDE + "stop-service-deployment.html",
     test=T + "test_stop_service_deployment_rolls_back_a_hanging_rolling_deployment")
def patch_stop_service_deployment() -> None:
    """StopServiceDeployment is added with ContinueServiceDeployment (patch_pause_hooks)."""


@gap("ecs-rehearsal-bad-image",
     summary="A version that starts but answers badly cannot be rehearsed (patched: an image tag ending in -bad "
             "deploys like any other, its tasks pass their target group's health check, and the load balancer's "
             "local data plane answers every other path of it with HTTP 500)",
     aws="A task that passes its load balancer health check counts as healthy, whatever else the application answers.",
     reference="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html",
     test=T + "test_a_bad_tag_passes_its_health_check_and_answers_errors")
def patch_bad_image() -> None:
    """The answers are local/alb.py's; the tag constant is ecs.BAD_SUFFIX."""


known_gap("ecs-lambda-hooks",
          summary="AWS_LAMBDA lifecycle hooks: accepted and listed, but never invoked locally; they succeed at once",
          aws="ECS invokes the hook's Lambda function at its stages until it returns SUCCEEDED or FAILED.",
          reference=GUIDE + "deployment-lifecycle-hooks.html",
          test=T + "test_a_lambda_hook_is_kept_but_not_invoked")

known_gap("ecs-first-blue-green-deployment",
          summary="The first deployment of a new blue/green service (nothing serves production yet) completes at once "
                  "locally: no hooks, no bake; its tasks go to the alternate target group and the rules forward there",
          aws="Not documented; observed on AWS: after a new blue/green service's first deployment the production rule "
              "forwards 100 to the alternate target group.",
          reference=GUIDE + "deployment-type-blue-green.html",
          test=T + "test_a_new_blue_green_service_serves_from_the_alternate_group")

known_gap("ecs-stage-durations",
          summary="Lifecycle stages that take minutes on AWS (scaling up, shifting traffic) pass at once locally, unless "
                  "the control plane gives each one a duration on the local AWS's clock (stage_seconds)",
          aws="Each stage takes as long as its work: tasks starting and passing health checks, traffic moving.",
          reference=GUIDE + "blue-green-deployment-how-it-works.html",
          test=T + "test_an_update_walks_the_documented_stages_in_order")

known_gap("ecs-linear-canary",
          summary="LINEAR and CANARY deployment strategies: refused by the local AWS (not emulated)",
          aws="LINEAR and CANARY shift production traffic in steps, through the blue/green lifecycle stages.",
          reference=API + "API_DeploymentConfiguration.html",
          test=T + "test_what_ecs_refuses_is_refused")
