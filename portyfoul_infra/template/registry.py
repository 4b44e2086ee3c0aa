"""Registry (plan phase 3): the ECR repository the release task pushes to."""

from __future__ import annotations

import json
from dataclasses import dataclass

from troposphere import Sub, Template, ecr

REPOSITORY = "Repository"
MUTABLE_TAG = "latest"
KEEP_TAGGED_IMAGES = 10
UNTAGGED_EXPIRY_DAYS = 7

LIFECYCLE_POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "description": f"Expire untagged images after {UNTAGGED_EXPIRY_DAYS} days",
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                          "countUnit": "days", "countNumber": UNTAGGED_EXPIRY_DAYS},
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": f"Keep the last {KEEP_TAGGED_IMAGES} tagged images",
            "selection": {"tagStatus": "tagged", "tagPatternList": ["*"],
                          "countType": "imageCountMoreThan", "countNumber": KEEP_TAGGED_IMAGES},
            "action": {"type": "expire"},
        },
    ]
}


@dataclass(frozen=True)
class Registry:
    repository: ecr.Repository


def add_registry(t: Template) -> Registry:
    repo = t.add_resource(ecr.Repository(
        REPOSITORY,
        RepositoryName=Sub("${ProjectName}-${Environment}"),
        ImageScanningConfiguration=ecr.ImageScanningConfiguration(ScanOnPush=True),
        # A released tag always names the same image; only `latest` moves.
        ImageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        ImageTagMutabilityExclusionFilters=[ecr.ImageTagMutabilityExclusionFilter(
            ImageTagMutabilityExclusionFilterType="WILDCARD",
            ImageTagMutabilityExclusionFilterValue=MUTABLE_TAG,
        )],
        # No EncryptionConfiguration: ECR encrypts with AES256 by default, and the property is create-only,
        # so stating it would make CloudFormation replace (and empty) the live repository on adoption.
        LifecyclePolicy=ecr.LifecyclePolicy(LifecyclePolicyText=json.dumps(LIFECYCLE_POLICY, sort_keys=True)),
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
    ))
    return Registry(repository=repo)
