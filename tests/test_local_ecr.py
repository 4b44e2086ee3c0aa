"""ECR on the local AWS, stated as AWS documents it (plain boto3)."""

import hashlib
import json

import boto3


def test_an_image_digest_is_the_sha256_of_its_manifest(aws_env):
    ecr = boto3.client("ecr", region_name="us-east-2")
    ecr.create_repository(repositoryName="app")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                                      "digest": "sha256:" + "a" * 64},
                           "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1,
                                       "digest": "sha256:" + "b" * 64}]})
    image = ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="t")["image"]
    assert image["imageId"]["imageDigest"] == "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
