"""AWS Systems Manager Parameter Store: parameters as CloudFormation creates and updates them."""

from __future__ import annotations

from . import gap

T = "tests/test_local_ssm.py::"
DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ssm-parameter.html"


@gap("ssm-parameter-generated-name",
     summary="AWS::SSM::Parameter without Name: creating it failed with an internal error, so the stack answered "
             "HTTP 500 (patched: CloudFormation generates the name, as on AWS)",
     aws="Name is optional: without it, CloudFormation generates a unique name; Ref returns the name.",
     reference=DOCS + "#cfn-ssm-parameter-name",
     test=T + "test_a_parameter_without_a_name_gets_a_generated_one")
def patch_generated_name() -> None:
    from moto.moto_api._internal import mock_random
    from moto.ssm.models import Parameter

    original = Parameter.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        if not props.get("Name"):
            logical_id = kwargs.get("LogicalId", "Parameter")
            suffix = "".join(mock_random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                             for _ in range(12))
            props = {**props, "Name": f"CFN-{logical_id}-{suffix}"}
        return original(cls, resource_name, {**cloudformation_json, "Properties": props}, account_id, region_name,
                        **kwargs)

    Parameter.create_from_cloudformation_json = classmethod(create)


@gap("ssm-parameter-update-in-place",
     summary="AWS::SSM::Parameter: an update deleted and re-created the parameter, so its version restarted at 1 "
             "(patched: the value is overwritten in place and the version goes up)",
     aws="Value, Description, AllowedPattern and Tier are updatable: the same parameter gets a new version.",
     reference=DOCS + "#cfn-ssm-parameter-value",
     test=T + "test_a_changed_value_is_a_new_version_of_the_same_parameter")
def patch_update_in_place() -> None:
    from moto.ssm.models import Parameter, ssm_backends

    def update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
        props = cloudformation_json.get("Properties", {})
        return ssm_backends[account_id][region_name].put_parameter(
            name=original_resource.name, description=props.get("Description"), value=props.get("Value"),
            parameter_type=props.get("Type") or original_resource.parameter_type,
            allowed_pattern=props.get("AllowedPattern"), keyid=None, overwrite=True, tags=None,
            data_type=props.get("DataType", "text"), tier=props.get("Tier"), policies=props.get("Policies"))

    Parameter.update_from_cloudformation_json = classmethod(update)
