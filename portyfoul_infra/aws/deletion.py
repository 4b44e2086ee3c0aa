"""What a stack deletion would meet, asked before anything is deleted; the deletion protections it may lower.

CloudFormation deletes what it can and stops at each resource AWS refuses to delete: the stack ends DELETE_FAILED
with the rest already gone, a partial delete nobody asked for. So stack-delete first asks AWS (read-only) about
everything that would refuse:

- deletion protection on a resource the deletion removes (the database, the load balancer): lowered only when
  the operator names the resource (`--lift-protection ID`);
- a bucket that holds objects, or an image repository that holds images (without EmptyOnDelete), that is not
  retained: S3 and ECR refuse to delete them;
- an export of this stack that another stack imports: CloudFormation refuses to delete the stack;
- a retained resource that uses a VPC, subnet or security group the deletion removes: AWS refuses to delete
  what is in use.

A running deployment is checked by the verb (the deploy lock and ECS). Each finding is one sentence naming the
setting to change and how.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..cfn_template import referenced_ids
from ..context import Ctx
from ..errors import error_code
from .clients import collect
from .stacks import StackInfo
from .wait import poll_until

DATABASE = "AWS::RDS::DBInstance"
LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
PROTECTABLE = {DATABASE: "the database", LOAD_BALANCER: "the load balancer"}
IN_USE = {"AWS::EC2::VPC": "VPC", "AWS::EC2::Subnet": "subnet", "AWS::EC2::SecurityGroup": "security group"}
RETAINED = ("Retain", "RetainExceptOnCreate")
ALB_PROTECTION = "deletion_protection.enabled"


@dataclass(frozen=True)
class Protected:
    """A resource the deletion removes whose deletion protection is on."""
    logical_id: str
    resource_type: str
    physical_id: str

    @property
    def label(self) -> str:
        name = self.physical_id.rsplit("/", 2)[-2] if self.resource_type == LOAD_BALANCER else self.physical_id
        return f"{self.logical_id} ({PROTECTABLE[self.resource_type]} {name})"


@dataclass
class Survey:
    protected: list[Protected] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # what would refuse that no flag of stack-delete settles


def survey(ctx: Ctx, stack: StackInfo, resources: dict[str, dict], physical: dict[str, str]) -> Survey:
    """Everything the deletion of `stack` would meet (`resources`: logical ID -> its deployed template entry, for
    the resources the stack has; `physical`: their physical IDs). Reads only."""
    deleted = {lid: r for lid, r in resources.items() if r.get("DeletionPolicy") not in RETAINED and physical.get(lid)}
    found = Survey()
    for lid, r in sorted(deleted.items()):
        kind = r.get("Type", "")
        if kind in PROTECTABLE and _protection(ctx, kind, physical[lid]):
            found.protected.append(Protected(lid, kind, physical[lid]))
        problem = _not_empty(ctx, lid, r, physical[lid])
        if problem:
            found.problems.append(problem)
    found.problems += _exports_in_use(ctx, stack)
    found.problems += _retained_in_use(resources, deleted, physical)
    return found


def _protection(ctx: Ctx, kind: str, physical_id: str) -> bool | None:
    """Whether deletion protection is on (None: the resource is gone)."""
    try:
        if kind == DATABASE:
            instance = ctx.client("rds").describe_db_instances(DBInstanceIdentifier=physical_id)["DBInstances"][0]
            return bool(instance.get("DeletionProtection"))
        attributes = ctx.client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=physical_id)["Attributes"]
        return any(a["Key"] == ALB_PROTECTION and str(a.get("Value")).lower() == "true" for a in attributes)
    except Exception as e:
        if error_code(e) in ("DBInstanceNotFound", "DBInstanceNotFoundFault", "LoadBalancerNotFound"):
            return None
        raise


def _not_empty(ctx: Ctx, logical_id: str, resource: dict, physical_id: str) -> str:
    kind, props = resource.get("Type", ""), resource.get("Properties") or {}
    keep = (f"or keep it: DeletionPolicy Retain on {logical_id} in the template (`invoke build-template`, then "
            f"`invoke stack-update --env {ctx.env.name}`)")
    if kind == "AWS::S3::Bucket":
        try:
            listed = ctx.client("s3").list_object_versions(Bucket=physical_id, MaxKeys=1)
        except Exception as e:
            if error_code(e) == "NoSuchBucket":
                return ""
            raise
        if listed.get("Versions") or listed.get("DeleteMarkers"):
            return (f"{logical_id} (the bucket {physical_id}) is deleted with the stack but holds objects, and S3 "
                    f"refuses to delete a bucket that is not empty: empty it (`aws s3 rm s3://{physical_id} "
                    f"--recursive`, and its object versions), {keep}")
    if kind == "AWS::ECR::Repository" and str(props.get("EmptyOnDelete", "false")).lower() != "true":
        try:
            images = ctx.client("ecr").list_images(repositoryName=physical_id, maxResults=1).get("imageIds", [])
        except Exception as e:
            if error_code(e) == "RepositoryNotFoundException":
                return ""
            raise
        if images:
            return (f"{logical_id} (the image repository {physical_id}) is deleted with the stack but holds images, "
                    f"and ECR refuses to delete a repository that is not empty: delete its images, set EmptyOnDelete: "
                    f"true on it, {keep}")
    return ""


def _exports_in_use(ctx: Ctx, stack: StackInfo) -> list[str]:
    cfn = ctx.client("cloudformation")
    problems = []
    for export in collect(cfn.list_exports, "Exports"):
        if export.get("ExportingStackId") != stack.stack_id:
            continue
        try:
            importers = sorted(collect(cfn.list_imports, "Imports", ExportName=export["Name"]))
        except Exception as e:
            if error_code(e) != "ValidationError":
                raise
            importers = []   # CloudFormation answers ValidationError for an export nobody imports
        if importers:
            problems.append(f"the export {export['Name']} of {stack.name} is imported by {', '.join(importers)}, and "
                            "CloudFormation refuses to delete a stack whose export is in use: change those stacks so "
                            "they no longer import it (or delete them) first")
    return problems


def _retained_in_use(resources: dict[str, dict], deleted: dict[str, dict], physical: dict[str, str]) -> list[str]:
    problems = []
    for lid, r in sorted(resources.items()):
        if r.get("DeletionPolicy") not in RETAINED or not physical.get(lid):
            continue
        for used in sorted(referenced_ids(r.get("Properties") or {}) & set(deleted)):
            what = IN_USE.get(deleted[used].get("Type", ""))
            if what:
                problems.append(f"{lid} is retained but uses the {what} {used}, which the deletion removes, and AWS "
                                f"refuses to delete a {what} in use: set {lid}'s DeletionPolicy to Delete in the "
                                "template (`invoke build-template`, then `invoke stack-update`), or keep "
                                f"{used} as well")
    return problems


def set_protection(ctx: Ctx, p: Protected, on: bool, timeout: float) -> bool:
    """Turn `p`'s deletion protection on or off; True once AWS reports it so (False: not within `timeout`)."""
    if p.resource_type == LOAD_BALANCER:
        ctx.client("elbv2").modify_load_balancer_attributes(
            LoadBalancerArn=p.physical_id, Attributes=[{"Key": ALB_PROTECTION, "Value": str(on).lower()}])
        return True
    rds = ctx.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier=p.physical_id, DeletionProtection=on, ApplyImmediately=True)
    polled = poll_until(
        ctx, lambda: rds.describe_db_instances(DBInstanceIdentifier=p.physical_id)["DBInstances"][0],
        lambda d: bool(d.get("DeletionProtection")) is on and d.get("DBInstanceStatus") == "available",
        timeout=timeout, interval=ctx.poll(5.0), waiting=f"waiting for {p.label} to apply the change")
    return not polled.timed_out


def still_there(ctx: Ctx, p: Protected) -> bool:
    return _protection(ctx, p.resource_type, p.physical_id) is not None
