"""AWS Secrets Manager: secrets as CloudFormation creates, updates and deletes them."""

from __future__ import annotations

import json

from . import gap, known_gap

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


known_gap("secrets-target-attachment",
          summary="AWS::SecretsManager::SecretTargetAttachment: not supported (the database secret lacks host and "
                  "port locally)",
          aws="The attachment adds the database's host, port, engine and identifier to the secret's JSON.",
          reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
                    "aws-resource-secretsmanager-secrettargetattachment.html",
          test=T + "test_a_stack_with_a_secret_target_attachment_is_created")


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
