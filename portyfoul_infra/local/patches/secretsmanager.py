"""AWS Secrets Manager: secrets as CloudFormation creates, updates and deletes them."""

from __future__ import annotations

import json

from . import gap

T = "tests/test_local_secretsmanager.py::"
SECRET_MODEL = None  # the CloudFormation model class, once patched
DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-secret.html"


def _generate(spec: dict) -> str:
    import secrets as pysecrets

    length = int(spec.get("PasswordLength", 32))
    generated = pysecrets.token_urlsafe(length)[:length]
    if not spec.get("SecretStringTemplate"):
        return generated
    data = json.loads(spec["SecretStringTemplate"])
    data[spec["GenerateStringKey"]] = generated
    return json.dumps(data)


def _value(props: dict):
    if props.get("SecretString") is not None:
        return props["SecretString"]
    if props.get("GenerateSecretString") is not None:
        return _generate(props["GenerateSecretString"])
    return None


def _secret_model():
    from moto.core.common_models import CloudFormationModel
    from moto.secretsmanager.models import secretsmanager_backends

    class CloudFormationSecret(CloudFormationModel):
        """AWS::SecretsManager::Secret as CloudFormation creates, updates and deletes it."""

        __module__ = "moto.secretsmanager.models"  # moto names backends after the defining module

        def __init__(self, arn: str, properties: dict):
            self.arn = arn
            self.properties = properties

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @staticmethod
        def cloudformation_name_type() -> str:
            return "Name"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SecretsManager::Secret"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Id"

        def get_cfn_attribute(self, attribute_name: str):
            return self.arn

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
            props = cloudformation_json.get("Properties", {})
            created = secretsmanager_backends[account_id][region_name].create_secret(
                name=props.get("Name") or resource_name, secret_string=_value(props), secret_binary=None,
                description=props.get("Description"), tags=props.get("Tags"), kms_key_id=props.get("KmsKeyId"),
                client_request_token=None, replica_regions=[], force_overwrite=False)
            arn = json.loads(created)["ARN"] if isinstance(created, str) else created["ARN"]
            return cls(arn, props)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name):
            props = cloudformation_json.get("Properties", {})
            backend = secretsmanager_backends[account_id][region_name]
            old = original_resource.properties
            changed = lambda key: json.dumps(old.get(key), sort_keys=True) != json.dumps(props.get(key), sort_keys=True)  # noqa: E731
            if changed("SecretString") or changed("GenerateSecretString"):
                backend.put_secret_value(secret_id=original_resource.arn, secret_string=_value(props),
                                         secret_binary=None, client_request_token=None, version_stages=None)
            secret = backend.secrets[original_resource.arn]  # UpdateSecret without a value: the metadata only
            if changed("Description"):
                secret.description = props.get("Description")
            if changed("KmsKeyId"):
                secret.kms_key_id = props.get("KmsKeyId")
            original_resource.properties = props
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            secretsmanager_backends[account_id][region_name].delete_secret(
                secret_id=self.arn, recovery_window_in_days=None, force_delete_without_recovery=True)

    return CloudFormationSecret


@gap("secrets-cloudformation-model",
     summary="AWS::SecretsManager::Secret: not created by moto's CloudFormation (patched: created from the template, "
             "GenerateSecretString included)",
     aws="CloudFormation creates the secret with the template's Name, SecretString or a value generated from "
         "GenerateSecretString; Ref returns the secret's ARN.",
     reference=DOCS,
     test=T + "test_a_secret_is_created_from_the_template_with_a_generated_value")
def patch_secret_model() -> None:
    global SECRET_MODEL
    SECRET_MODEL = _secret_model()  # defining the class registers it with moto's CloudFormation model list


@gap("secrets-update-writes-value",
     summary="AWS::SecretsManager::Secret: a SecretString changed in the template was never written (patched: "
             "written as a new version; a changed GenerateSecretString generates a new value)",
     aws="SecretString and GenerateSecretString are updatable: a change writes a new secret version "
         "(AWSCURRENT) into the same secret.",
     reference=DOCS + "#cfn-secretsmanager-secret-secretstring",
     test=T + "test_a_changed_secret_string_is_written_as_a_new_version")
def patch_secret_update() -> None:
    """Carried out by CloudFormationSecret.update_from_cloudformation_json (see _secret_model)."""


@gap("secrets-deleted-with-stack",
     summary="AWS::SecretsManager::Secret: deleting the stack left the secret behind, so creating the stack again "
             "failed with a non-XML answer (patched: the secret is deleted with its stack, without recovery window)",
     aws="A secret without DeletionPolicy Retain is deleted when its stack is deleted, so the same stack can be "
         "created again.",
     reference=DOCS,
     test=T + "test_a_stack_with_a_named_secret_can_be_deleted_and_created_again")
def patch_secret_delete() -> None:
    """Carried out by CloudFormationSecret.delete (see _secret_model)."""


ATTACHMENT_DOCS = ("https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
                   "aws-resource-secretsmanager-secrettargetattachment.html")
ATTACHMENT_MODEL = None  # the CloudFormation model class, once patched
CONNECTION_KEYS = ("engine", "host", "port", "dbInstanceIdentifier", "dbClusterIdentifier")


def _connection(account_id: str, region_name: str, target_type: str, target_id: str) -> dict:
    """What the attachment writes into the secret for its target (the JSON structure of database secrets)."""
    from moto.rds.models import rds_backends

    rds = rds_backends[account_id][region_name]
    if target_type == "AWS::RDS::DBInstance":
        instance = rds.describe_db_instances(target_id)[0]
        return {"engine": instance.engine, "host": instance.address, "port": int(instance.port),
                "dbInstanceIdentifier": instance.db_instance_identifier}
    if target_type == "AWS::RDS::DBCluster":
        cluster = rds.describe_db_clusters(db_cluster_identifier=target_id)[0]
        return {"engine": cluster.engine, "host": cluster.endpoint, "port": int(cluster.port),
                "dbClusterIdentifier": cluster.db_cluster_identifier}
    raise ValueError(f"TargetType {target_type} is not supported by the local AWS "
                     "(AWS::RDS::DBInstance and AWS::RDS::DBCluster are)")


def _rewrite(account_id: str, region_name: str, secret_id: str, connection: dict) -> str:
    """Put `connection` into the secret's JSON (replacing what an earlier attachment wrote); the secret's ARN."""
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[account_id][region_name]
    secret = backend.describe_secret(secret_id)
    current = backend.get_secret_value(secret_id=secret.arn, version_id=None, version_stage=None)
    try:
        value = json.loads(current.get("SecretString") or "{}")
    except ValueError as error:
        raise ValueError(f"The secret {secret.name} does not hold a JSON object: the attachment cannot add the "
                         "database connection to it") from error
    value = {k: v for k, v in value.items() if k not in CONNECTION_KEYS}
    value.update(connection)
    backend.put_secret_value(secret_id=secret.arn, secret_string=json.dumps(value), secret_binary=None,
                             client_request_token=None, version_stages=None)
    return secret.arn


def _attachment_model():
    from moto.core.common_models import CloudFormationModel
    from moto.secretsmanager.models import secretsmanager_backends

    class SecretTargetAttachment(CloudFormationModel):
        """AWS::SecretsManager::SecretTargetAttachment: the database's connection written into its secret."""

        __module__ = "moto.secretsmanager.models"

        def __init__(self, arn: str, properties: dict):
            self.arn, self.properties = arn, properties

        @property
        def physical_resource_id(self) -> str:
            return self.arn

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SecretsManager::SecretTargetAttachment"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Id"

        def get_cfn_attribute(self, attribute_name: str):
            return self.arn

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kw):
            props = cloudformation_json.get("Properties") or {}
            backend = secretsmanager_backends[account_id][region_name]
            secret = backend.describe_secret(str(props["SecretId"]))
            if getattr(secret, "cfn_target_attachment", None):
                raise ValueError(f"The secret {secret.name} already has a target attached "
                                 f"({secret.cfn_target_attachment}); a secret can have only one")
            connection = _connection(account_id, region_name, str(props["TargetType"]), str(props["TargetId"]))
            arn = _rewrite(account_id, region_name, secret.arn, connection)
            secret.cfn_target_attachment = str(props["TargetId"])
            return cls(arn, dict(props))

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name):
            props = cloudformation_json.get("Properties") or {}
            connection = _connection(account_id, region_name, str(props["TargetType"]), str(props["TargetId"]))
            _rewrite(account_id, region_name, original_resource.arn, connection)
            secretsmanager_backends[account_id][region_name].describe_secret(
                original_resource.arn).cfn_target_attachment = str(props["TargetId"])
            original_resource.properties = dict(props)
            return original_resource

        def delete(self, account_id: str, region_name: str) -> None:
            backend = secretsmanager_backends[account_id][region_name]
            if not backend._is_valid_identifier(self.arn):
                return
            _rewrite(account_id, region_name, self.arn, {})
            backend.describe_secret(self.arn).cfn_target_attachment = None

    return SecretTargetAttachment


@gap("secrets-target-attachment",
     summary="AWS::SecretsManager::SecretTargetAttachment: not created, so the database secret lacked host and port "
             "locally (patched: the attachment writes engine, host, port and dbInstanceIdentifier (for a cluster "
             "dbClusterIdentifier) into the secret's JSON as a new version, keeps username and password, rewrites them "
             "when the target changes and removes them when the attachment is deleted; a second attachment to the same "
             "secret and a target that does not exist fail)",
     aws="The attachment completes the link between a Secrets Manager secret and its database by adding the "
         "database connection information to the secret JSON. A single secret resource can only have one target "
         "attached to it. When you remove a SecretTargetAttachment from a stack, Secrets Manager removes the "
         "database connection information from the secret with a PutSecretValue call.",
     reference=ATTACHMENT_DOCS,
     test=T + "test_a_target_attachment_writes_the_database_connection_into_the_secret")
def patch_target_attachment() -> None:
    global ATTACHMENT_MODEL
    ATTACHMENT_MODEL = _attachment_model()  # defining the class registers it with moto's CloudFormation model list


@gap("secrets-write-to-deleted",
     summary="PutSecretValue wrote a new version into a secret scheduled for deletion (patched: refused with "
             "InvalidRequestException, as on AWS; RestoreSecret makes it writable again)",
     aws="A secret scheduled for deletion cannot be read or changed: PutSecretValue (like GetSecretValue) fails with "
         "InvalidRequestException (\"You tried to perform the operation on a secret that's currently marked "
         "deleted.\") until RestoreSecret cancels the deletion.",
     reference="https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html",
     test=T + "test_a_secret_scheduled_for_deletion_cannot_be_written_until_restored")
def patch_put_deleted() -> None:
    from moto.secretsmanager.exceptions import InvalidRequestException
    from moto.secretsmanager.models import SecretsManagerBackend

    put = SecretsManagerBackend.put_secret_value

    def put_secret_value(self, secret_id, *args, **kwargs):
        secret = self.secrets.get(secret_id)
        if secret is not None and secret.is_deleted():
            raise InvalidRequestException("You tried to perform the operation on a secret that's currently marked "
                                          "deleted.")
        return put(self, secret_id, *args, **kwargs)

    SecretsManagerBackend.put_secret_value = put_secret_value
