"""Intrinsic functions and template syntax as CloudFormation reads them."""

from __future__ import annotations

from . import gap

T = "tests/test_local_cloudformation.py::"
FN_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"


def availability_zones(account_id: str, region: str) -> list[str]:
    """The region's zones, as EC2's DescribeAvailabilityZones lists them."""
    from moto.ec2.models import ec2_backends

    try:
        zones = ec2_backends[account_id][region].describe_availability_zones()
        names = sorted(z.name for z in zones if z.name.startswith(region))
    except Exception:
        names = []
    return names or [f"{region}{letter}" for letter in "abc"]


@gap("cloudformation-get-azs-region",
     summary="Fn::GetAZs \"\" (or {Ref: AWS::Region}) answered us-east-1's zones in every region, so a us-east-2 "
             "stack put its subnets in us-east-1a (patched: the stack's own region's zones)",
     aws="Fn::GetAZs with an empty string, or with AWS::Region, returns the Availability Zones of the region in "
         "which the stack is created.",
     reference=FN_DOCS + "intrinsic-function-reference-getavailabilityzones.html",
     test=T + "test_get_azs_of_the_empty_string_lists_the_stacks_own_region")
def patch_get_azs() -> None:
    from moto.cloudformation import parsing

    original = parsing.clean_json

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, dict) and "Fn::GetAZs" in resource_json:
            region = original(resource_json["Fn::GetAZs"], resources_map) or resources_map["AWS::Region"]
            return availability_zones(resources_map["AWS::AccountId"], region)
        return original(resource_json, resources_map)

    parsing.clean_json = clean_json


@gap("cloudformation-yaml-dotted-get-att",
     summary="YAML templates: `!GetAtt Res.Attr.Sub` (a dotted attribute such as Endpoint.Address) was split at every "
             "dot (patched: split at the first, as CloudFormation does)",
     aws="In the short form !GetAtt logicalNameOfResource.attributeName, the attribute name may itself contain "
         "dots (Endpoint.Address).",
     reference=FN_DOCS + "intrinsic-function-reference-getatt.html",
     test=T + "test_a_yaml_get_att_of_a_dotted_attribute_resolves")
def patch_yaml_get_att() -> None:
    from moto.cloudformation import models, utils

    original = utils.yaml_tag_constructor

    def yaml_tag_constructor(loader, tag, node):
        if tag == "!GetAtt" and not isinstance(node.value, list):
            return {"Fn::GetAtt": node.value.split(".", 1)}
        if tag == "!GetAtt":
            return {"Fn::GetAtt": loader.construct_sequence(node)}
        return original(loader, tag, node)

    utils.yaml_tag_constructor = yaml_tag_constructor
    models.yaml_tag_constructor = yaml_tag_constructor
