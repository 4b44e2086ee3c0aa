"""CloudFormation's resource model registry: which types moto's CloudFormation can create."""

from __future__ import annotations

from . import gap, known_gap

T = "tests/test_local_cloudformation.py::"


@gap("cloudformation-model-caches",
     summary="moto caches its CloudFormation model and name-type maps at first use, so a model added or renamed "
             "afterwards was never seen (patched: the caches are cleared once every model patch is in)",
     aws="Every resource type of the template is created by its own provider with its own name property.",
     reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-type-schemas.html",
     test=T + "test_a_secret_and_a_parameter_group_are_created_by_their_stack")
def patch_model_caches() -> None:
    from moto.cloudformation import parsing

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


known_gap("cloudformation-unmodelled-types",
          summary="AWS::ApplicationAutoScaling::ScalableTarget and ScalingPolicy: not created by moto's CloudFormation "
                  "(not needed locally: the stack completes without them)",
          aws="CloudFormation creates scalable targets and scaling policies like any other resource.",
          reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
                    "aws-resource-applicationautoscaling-scalabletarget.html",
          test=T + "test_a_stack_with_types_moto_does_not_model_is_still_created")
