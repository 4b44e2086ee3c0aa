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


LIMITS = "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
MAX_VALUE_BYTES = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}


@gap("ssm-parameter-value-size",
     summary="PutParameter accepted a value of any size, so a standard parameter could hold more than 4 KB "
             "(patched: refused above 4 KB for a standard parameter and 8 KB for an advanced one, as on AWS)",
     aws="A standard parameter's value holds at most 4 KB, an advanced one's 8 KB; PutParameter refuses a larger "
         "value with ValidationException (Intelligent-Tiering makes a larger value advanced).",
     reference=LIMITS,
     test=T + "test_a_standard_parameter_refuses_a_value_over_4_kb")
def patch_value_size() -> None:
    from moto.ssm.exceptions import ValidationException
    from moto.ssm.models import SimpleSystemManagerBackend

    original = SimpleSystemManagerBackend.put_parameter

    def put_parameter(self, name, description, value, parameter_type, allowed_pattern, keyid, overwrite, tags,
                      data_type, tier, policies):
        effective = tier
        if effective is None:
            previous = self._parameters.get(name)
            effective = previous[-1].tier if previous else self.default_parameter_tier
        limit = MAX_VALUE_BYTES.get(effective or "Standard", 4096)
        if value and len(value.encode()) > limit:
            raise ValidationException(
                f"{effective} tier parameters support a maximum parameter value of {limit} characters. To create "
                "a larger parameter value, upgrade the parameter to use the advanced-parameter tier."
                if effective == "Standard" else f"Parameter value can't be longer than {limit} characters.")
        return original(self, name, description, value, parameter_type, allowed_pattern, keyid, overwrite, tags,
                        data_type, tier, policies)

    SimpleSystemManagerBackend.put_parameter = put_parameter
