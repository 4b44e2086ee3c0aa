"""Amazon RDS: DB instances, subnet groups and parameter groups as CloudFormation creates and updates them."""

from __future__ import annotations

from . import gap

T = "tests/test_local_rds.py::"
CFN_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
PROTECTED = "Cannot delete protected DB Instance, please disable deletion protection and try again."
DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "mariadb": 3306, "oracle": 1521, "sqlserver": 1433}


def _truthy(value) -> bool:
    return str(value).lower() == "true"


@gap("rds-parameter-group-name",
     summary="AWS::RDS::DBParameterGroup: Ref returns the model object, not the group name, and DBParameterGroupName "
             "is ignored in favour of a generated name (patched: both as on AWS)",
     aws="Ref returns the parameter group's name; DBParameterGroupName, when set, is the group's name.",
     reference=CFN_DOCS + "aws-resource-rds-dbparametergroup.html",
     test=T + "test_a_parameter_group_is_named_by_its_template_and_ref_returns_the_name")
def patch_parameter_group_name() -> None:
    from moto.rds.models import DBParameterGroup

    DBParameterGroup.cloudformation_name_type = staticmethod(lambda: "DBParameterGroupName")
    DBParameterGroup.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]


@gap("rds-parameter-group-update",
     summary="AWS::RDS::DBParameterGroup: a change of Parameters in the template was never applied (patched: the "
             "parameters are modified in place, as ModifyDBParameterGroup does)",
     aws="Parameters is an updatable property: a change is applied to the same parameter group without replacement.",
     reference=CFN_DOCS + "aws-resource-rds-dbparametergroup.html#cfn-rds-dbparametergroup-parameters",
     test=T + "test_changed_parameters_are_written_into_the_same_parameter_group")
def patch_parameter_group_update() -> None:
    from moto.rds.models import DBParameterGroup, rds_backends

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        params = cloudformation_json["Properties"].get("Parameters") or {}
        rds_backends[account_id][region_name].modify_db_parameter_group(
            original_resource.name,
            [{"ParameterName": k, "ParameterValue": str(v), "ApplyMethod": "immediate"} for k, v in params.items()])
        return original_resource

    DBParameterGroup.update_from_cloudformation_json = classmethod(update)


@gap("rds-subnet-group-ref",
     summary="AWS::RDS::DBSubnetGroup: Ref returned the model object and the stack listed no physical ID; a "
             "DBInstance given the group's name as text failed (patched: Ref and the physical ID are the name)",
     aws="Ref returns the DB subnet group's name, and DBSubnetGroupName of a DB instance takes that name.",
     reference=CFN_DOCS + "aws-resource-rds-dbsubnetgroup.html",
     test=T + "test_a_subnet_group_ref_is_its_name")
def patch_subnet_group_ref() -> None:
    from moto.rds.models import DBSubnetGroup

    DBSubnetGroup.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]


def _instance_kwargs(props: dict) -> dict:
    """The DB instance settings of a template that moto's CloudFormation model drops."""
    engine = str(props.get("Engine", "")).lower()
    kwargs = {"deletion_protection": _truthy(props.get("DeletionProtection", False)),
              "auto_minor_version_upgrade": _truthy(props.get("AutoMinorVersionUpgrade", True))}
    groups = props.get("VPCSecurityGroups") or props.get("VpcSecurityGroupIds")
    if groups:
        kwargs["vpc_security_group_ids"] = [str(g) for g in groups]
    if "Port" not in props and engine in DEFAULT_PORTS:
        kwargs["port"] = DEFAULT_PORTS[engine]
    return kwargs


@gap("rds-instance-properties",
     summary="AWS::RDS::DBInstance: DeletionProtection and VPCSecurityGroups were ignored (the instance sat in a "
             "security group that exists nowhere, unprotected), the port defaulted to 3306 for every engine, and "
             "AutoMinorVersionUpgrade left out was no value at all (patched: all as in the template, the engine's "
             "default port, automatic minor upgrades on by default)",
     aws="A DB instance created by CloudFormation has the DeletionProtection and VPCSecurityGroups of its "
         "template; Port defaults to the engine's port (5432 for PostgreSQL); AutoMinorVersionUpgrade defaults "
         "to true.",
     reference=CFN_DOCS + "aws-resource-rds-dbinstance.html",
     test=T + "test_a_db_instance_from_cloudformation_keeps_deletion_protection_and_its_security_groups")
def patch_instance_properties() -> None:
    from moto.rds.models import DBInstance, rds_backends

    original = DBInstance.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        subnet_group = props.get("DBSubnetGroupName")
        if isinstance(subnet_group, str):  # moto's model wants the group object
            backend = rds_backends[account_id][region_name]
            props = {**props, "DBSubnetGroupName": backend.subnet_groups[subnet_group]}
        name = props.get("DBInstanceIdentifier") or resource_name
        database = original(cls, name.lower(), {**cloudformation_json, "Properties": props}, account_id,
                            region_name, **kwargs)
        database.update(**_instance_kwargs(props))
        return database

    DBInstance.create_from_cloudformation_json = classmethod(create)


# Template properties an in-place update applies, as ModifyDBInstance arguments.
_MODIFIABLE = {
    "AllocatedStorage": "allocated_storage", "DBInstanceClass": "db_instance_class",
    "EngineVersion": "engine_version", "BackupRetentionPeriod": "backup_retention_period",
    "DBParameterGroupName": "db_parameter_group_name", "MultiAZ": "multi_az",
    "PubliclyAccessible": "publicly_accessible", "StorageType": "storage_type",
    "PreferredBackupWindow": "preferred_backup_window", "PreferredMaintenanceWindow": "preferred_maintenance_window",
    "MasterUserPassword": "master_user_password", "AutoMinorVersionUpgrade": "auto_minor_version_upgrade",
    "CopyTagsToSnapshot": "copy_tags_to_snapshot", "MaxAllocatedStorage": "max_allocated_storage",
    "MonitoringInterval": "monitoring_interval", "EnablePerformanceInsights": "enable_performance_insights",
}


@gap("rds-instance-update",
     summary="AWS::RDS::DBInstance: an update of the template changed nothing on the instance (patched: "
             "EngineVersion, DeletionProtection, DBParameterGroupName, VPCSecurityGroups and the other updatable "
             "properties are applied in place, as ModifyDBInstance does)",
     aws="Updatable DB instance properties (EngineVersion, DBInstanceClass, DeletionProtection, "
         "DBParameterGroupName, VPCSecurityGroups, ...) are modified on the same instance, no replacement.",
     reference=CFN_DOCS + "aws-resource-rds-dbinstance.html",
     test=T + "test_an_updated_db_instance_is_modified_in_place")
def patch_instance_update() -> None:
    from moto.rds.models import DBInstance, rds_backends

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json["Properties"]
        kwargs = {arg: props[prop] for prop, arg in _MODIFIABLE.items() if prop in props}
        for key in ("allocated_storage", "backup_retention_period", "max_allocated_storage", "monitoring_interval"):
            if key in kwargs:  # the type moto's model already holds (CloudFormation passes text)
                current = getattr(original_resource, key, None)
                kwargs[key] = type(current)(kwargs[key]) if isinstance(current, (int, str)) else int(kwargs[key])
        for key in ("multi_az", "publicly_accessible", "auto_minor_version_upgrade", "copy_tags_to_snapshot"):
            if key in kwargs:
                kwargs[key] = _truthy(kwargs[key])
        kwargs.update(_instance_kwargs(props))
        kwargs.pop("port", None)
        return rds_backends[account_id][region_name].modify_db_instance(
            original_resource.db_instance_identifier, kwargs)

    DBInstance.update_from_cloudformation_json = classmethod(update)


@gap("rds-deletion-protection",
     summary="Deleting a DB instance with DeletionProtection (DeleteDBInstance, a stack deletion or a removal from "
             "the template) must fail (patched: the instance created by CloudFormation is protected, and a stack "
             "deletion that meets it ends DELETE_FAILED with RDS's message)",
     aws="You can't delete a DB instance that has deletion protection enabled: " + PROTECTED,
     reference="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_DeleteInstance.html"
               "#USER_DeleteInstance.DeletionProtection",
     test=T + "test_a_protected_db_instance_cannot_be_deleted_by_its_stack")
def patch_deletion_protection() -> None:
    """RDS itself refuses (moto does); this entry makes the CloudFormation-created instance carry the flag
    (rds-instance-properties) and the stack deletion report it (cloudformation_lifecycle)."""


def final_snapshot(account_id: str, region_name: str, stack_name: str, logical_id: str, model) -> None:
    """The snapshot CloudFormation takes before deleting a DB instance whose policy is Snapshot."""
    from moto.rds.models import rds_backends

    identifier = getattr(model, "db_instance_identifier", None)
    if identifier:
        rds_backends[account_id][region_name].create_db_snapshot(
            db_instance_identifier=identifier,
            db_snapshot_identifier=f"{stack_name}-{logical_id}-final-snapshot".lower(),
            tags=[{"Key": "aws:cloudformation:stack-name", "Value": stack_name}])


@gap("rds-deletion-policy-snapshot",
     summary="DeletionPolicy: Snapshot was ignored: deleting a stack deleted the database with no final snapshot "
             "(patched: a final snapshot is taken first, as on AWS)",
     aws="With DeletionPolicy (or UpdateReplacePolicy) Snapshot, CloudFormation takes a snapshot of the DB "
         "instance before deleting it.",
     reference=CFN_DOCS + "aws-attribute-deletionpolicy.html",
     test=T + "test_deleting_a_stack_snapshots_a_database_whose_policy_is_snapshot")
def patch_final_snapshots() -> None:
    """Carried out by the deletion engine (cloudformation_lifecycle, cloudformation_updates) through
    final_snapshot()."""


@gap("rds-storage-cannot-shrink",
     summary="ModifyDBInstance (and so a stack update) accepted a smaller AllocatedStorage and shrank the instance "
             "(patched: refused, as RDS refuses it; a stack update that tries fails and rolls back)",
     aws="After Amazon RDS provisions storage for a DB instance, you can't reduce the allocated storage.",
     reference="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.ModifyingExisting.html",
     test=T + "test_allocated_storage_cannot_shrink")
def patch_storage_cannot_shrink() -> None:
    from moto.rds.exceptions import InvalidParameterCombination
    from moto.rds.models import RDSBackend

    original = RDSBackend.modify_db_instance

    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        wanted = db_kwargs.get("allocated_storage")
        instance = self.databases.get(db_instance_identifier)
        if wanted is not None and instance is not None and int(wanted) < int(instance.allocated_storage or 0):
            raise InvalidParameterCombination(
                f"Invalid storage size: {wanted} GiB is less than the {instance.allocated_storage} GiB allocated; "
                "allocated storage cannot be reduced")
        return original(self, db_instance_identifier, db_kwargs)

    RDSBackend.modify_db_instance = modify_db_instance


def _log_exports(props: dict) -> list[str]:
    return [str(x) for x in props.get("EnableCloudwatchLogsExports") or []]


def _logs_and_auth(instance, props: dict) -> dict:
    """ModifyDBInstance's arguments that make the instance's log exports and IAM database authentication what the
    template says (a property left out is its default: no exports, no IAM authentication)."""
    wanted = _log_exports(props)
    current = list(getattr(instance, "enabled_cloudwatch_logs_exports", None) or [])
    kwargs: dict = {"enable_iam_database_authentication": _truthy(props.get("EnableIAMDatabaseAuthentication", False))}
    enable = [x for x in wanted if x not in current]
    disable = [x for x in current if x not in wanted]
    if enable or disable:
        kwargs["cloudwatch_logs_export_configuration"] = {"EnableLogTypes": enable, "DisableLogTypes": disable}
    return kwargs


@gap("rds-log-exports-and-iam-auth",
     summary="AWS::RDS::DBInstance: EnableCloudwatchLogsExports and EnableIAMDatabaseAuthentication were ignored on "
             "create and on update, so a dropped log export or IAM authentication turned on never showed (patched: "
             "applied on create, and changed on update in place, as ModifyDBInstance applies them: same instance, no "
             "reboot; DescribeDBInstances shows EnabledCloudwatchLogsExports and IAMDatabaseAuthenticationEnabled)",
     aws="EnableCloudwatchLogsExports and EnableIAMDatabaseAuthentication: Update requires No interruption. "
         "ModifyDBInstance applies a CloudwatchLogsExportConfiguration (EnableLogTypes, DisableLogTypes) and "
         "EnableIAMDatabaseAuthentication to the running instance.",
     reference=CFN_DOCS + "aws-resource-rds-dbinstance.html#cfn-rds-dbinstance-enablecloudwatchlogsexports",
     test=T + "test_log_exports_and_iam_authentication_change_in_place")
def patch_logs_and_auth() -> None:
    from moto.rds.models import DBInstance, rds_backends

    created = DBInstance.create_from_cloudformation_json.__func__
    updated = DBInstance.update_from_cloudformation_json.__func__

    def apply(instance, props: dict, account_id: str, region_name: str):
        return rds_backends[account_id][region_name].modify_db_instance(
            instance.db_instance_identifier, _logs_and_auth(instance, props))

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        instance = created(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        return apply(instance, cloudformation_json.get("Properties") or {}, account_id, region_name)

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        instance = updated(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        return apply(instance, cloudformation_json.get("Properties") or {}, account_id, region_name)

    DBInstance.create_from_cloudformation_json = classmethod(create)
    DBInstance.update_from_cloudformation_json = classmethod(update)
