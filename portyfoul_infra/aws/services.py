"""The one reader of the live ECS services: what runs now, found through the stack's outputs.

Every verb that acts on the running services (release, rollback,
release-status, stack-update keeping the released tags, secrets and config
restarts, shell and run, the snapshot's name) reads them here: the cluster
and, per service key (web, worker), the ECS service, its task definition,
our container's image and tag, its log group and network, and its
deployments. Names come from stack outputs, never from guesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..context import Ctx
from ..contract import CLUSTER_NAME, SERVICES, ServiceRef, image_tag, service_names
from ..errors import UserError
from .deployments import in_progress, short_td
from .stacks import StackInfo, require_stack


@dataclass(frozen=True)
class LiveService:
    ref: ServiceRef
    name: str
    description: dict          # the DescribeServices entry
    task_definition: dict      # the DescribeTaskDefinition body of what the service runs
    tags: tuple = ()           # the task definition's tags (with_tags=True)
    log_group: str = ""

    @property
    def key(self) -> str:
        return self.ref.key

    @property
    def task_definition_arn(self) -> str:
        return self.description["taskDefinition"]

    @property
    def container(self) -> dict:
        return container_of(self.task_definition, self.ref.container)

    @property
    def image(self) -> str:
        return self.container["image"]

    @property
    def tag(self) -> str:
        return image_tag(self.image)

    @property
    def network(self) -> dict:
        return self.description.get("networkConfiguration") or {}

    @property
    def desired_count(self) -> int:
        return int(self.description.get("desiredCount") or 0)

    @property
    def deployments(self) -> list[dict]:
        return self.description.get("deployments", [])

    @property
    def primary(self) -> dict:
        return next((d for d in self.deployments if d.get("status") == "PRIMARY"), {})

    @property
    def busy(self) -> str:
        """The id of a deployment that has not finished, or ""."""
        return in_progress(self.description)


@dataclass(frozen=True)
class LiveServices:
    stack: StackInfo
    cluster: str
    services: dict[str, LiveService] = field(default_factory=dict)   # key -> the ACTIVE service
    missing: tuple[str, ...] = ()                                     # keys asked for and not ACTIVE

    def one(self, key: str) -> LiveService:
        if key not in self.services:
            raise UserError(f"service {key} is not ACTIVE in {self.cluster or 'the cluster'}; "
                            "`invoke stack-update` creates it")
        return self.services[key]

    def __iter__(self):
        return iter(self.services.values())


def container_of(td: dict, name: str) -> dict:
    for c in td.get("containerDefinitions", []):
        if c["name"] == name:
            return c
    raise UserError(f"task definition {short_td(td.get('taskDefinitionArn'))} has no container named {name!r}")


def read_services(ctx: Ctx, keys: list[str] | None = None, *, stack: StackInfo | None = None,
                  with_tags: bool = False) -> LiveServices:
    """The services `keys` (default: all) as they run now. Services the stack does not have yet, or that are
    not ACTIVE, are listed in `missing`; a stack without a cluster output has none."""
    if stack is None:
        stack = require_stack(ctx)
    keys = list(keys or SERVICES)
    cluster = stack.outputs.get(CLUSTER_NAME, "")
    names = service_names(stack.outputs, keys)
    wanted = [n for n in names.values() if n]
    if not cluster or not wanted:
        return LiveServices(stack, cluster, {}, tuple(keys))
    ecs = ctx.client("ecs")
    described = {s["serviceName"]: s for s in ecs.describe_services(cluster=cluster, services=wanted)
                 .get("services", []) if s.get("status") == "ACTIVE"}
    found: dict[str, LiveService] = {}
    for key in keys:
        svc = described.get(names[key])
        if svc is None:
            continue
        extra = {"include": ["TAGS"]} if with_tags else {}
        answer = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"], **extra)
        found[key] = LiveService(SERVICES[key], svc["serviceName"], svc, answer["taskDefinition"],
                                 tuple(answer.get("tags") or ()), stack.outputs.get(SERVICES[key].log_output, ""))
    return LiveServices(stack, cluster, found, tuple(k for k in keys if k not in found))
