"""Amazon S3: a bucket CloudFormation deletes is deleted, or refused, as S3 decides."""

from __future__ import annotations

from . import gap


@gap("s3-stack-deletes-non-empty-bucket",
     summary="Stack deletion: a bucket that still held objects was reported DELETE_COMPLETE and silently kept "
             "(patched: S3 refuses with BucketNotEmpty, so the stack ends DELETE_FAILED, as on AWS)",
     aws="CloudFormation deletes a bucket only if it is empty; otherwise the deletion fails (BucketNotEmpty) and "
         "the stack ends DELETE_FAILED.",
     reference="https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html",
     test="tests/test_local_s3.py::test_a_stack_cannot_delete_a_bucket_that_holds_objects")
def patch_non_empty_bucket() -> None:
    from moto.s3.exceptions import BucketNotEmpty
    from moto.s3.models import FakeBucket, s3_backends
    from moto.utilities.utils import get_partition

    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        if s3_backends[account_id][get_partition(region_name)].delete_bucket(resource_name) is None:
            raise BucketNotEmpty(bucket_name=resource_name)

    FakeBucket.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)
