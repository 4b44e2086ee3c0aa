"""CloudFormation's quotas on what a request may carry: the template body inline, and the template in S3."""

from __future__ import annotations

from . import gap

T = "tests/test_local_cloudformation_limits.py::"
QUOTAS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"
INLINE_LIMIT = 51_200        # bytes of TemplateBody in a request
S3_LIMIT = 1_048_576         # bytes of a template read from TemplateURL (1 MB)
TOO_LONG = ("1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must "
            "have length less than or equal to {limit}")
TOO_BIG = "Template may not exceed {limit} bytes in size."


def inline_refusal(body, member: str = "templateBody") -> str:
    """The ValidationError AWS answers for a template body over the inline limit ("" if within it)."""
    if isinstance(body, str) and len(body.encode("utf-8")) > INLINE_LIMIT:
        return TOO_LONG.format(value=body, member=member, limit=INLINE_LIMIT)
    return ""


@gap("cloudformation-template-size",
     summary="A TemplateBody over 51,200 bytes was accepted by every call that takes one, and a template in S3 of any "
             "size (patched: CreateStack, UpdateStack, CreateChangeSet, ValidateTemplate, GetTemplateSummary, "
             "CreateStackRefactor and the others refuse a TemplateBody over 51,200 bytes with AWS's ValidationError; "
             "through TemplateURL the limit is 1 MB)",
     aws="Template body size in a request: 51,200 bytes; template body size in an Amazon S3 object: 1 MB. A "
         "larger TemplateBody is refused: ValidationError, 1 validation error detected: Value '...' at "
         "'templateBody' failed to satisfy constraint: Member must have length less than or equal to 51200.",
     reference=QUOTAS,
     test=T + "test_a_template_body_over_51200_bytes_is_refused_by_every_call")
def patch_template_size() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse

    get_param = CloudFormationResponse._get_param
    from_s3 = CloudFormationResponse._get_stack_from_s3_url

    def _get_param(self, param_name, if_none=None):
        value = get_param(self, param_name, if_none)
        if param_name == "TemplateBody":
            refusal = inline_refusal(value)
            if refusal:
                raise ValidationError(message=refusal)
        return value

    def _get_stack_from_s3_url(self, template_url):
        body = from_s3(self, template_url)
        if len(body.encode("utf-8")) > S3_LIMIT:
            raise ValidationError(message=TOO_BIG.format(limit=S3_LIMIT))
        return body

    CloudFormationResponse._get_param = _get_param
    CloudFormationResponse._get_stack_from_s3_url = _get_stack_from_s3_url
