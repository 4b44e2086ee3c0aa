"""Amazon ECR: image digests as ECR computes them."""

from __future__ import annotations

from . import gap


@gap("ecr-image-digest",
     summary="ECR image digests: the hash of the layer digests, so two different manifests of the same layers had one "
             "digest (patched: the sha256 of the manifest as pushed, as on ECR)",
     aws="An image's digest is the SHA-256 of its image manifest as pushed: a rewritten manifest is another image.",
     reference="https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_PutImage.html",
     test="tests/test_local_ecr.py::test_an_image_digest_is_the_sha256_of_its_manifest")
def patch_image_digest() -> None:
    import hashlib

    from moto.ecr.models import Image

    def _create_digest(self) -> None:
        self._image_digest = "sha256:" + hashlib.sha256(self.image_manifest.encode("utf-8")).hexdigest()

    Image._create_digest = _create_digest
