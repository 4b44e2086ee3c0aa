"""Two stand-ins for docker that act on the local ECR as the real one would.

`install_fake_docker` puts a `docker` executable on a PATH for tasks run through invoke: it records its
arguments, and its `push` puts a manifest into the local ECR. `RegistryDocker` is a runner for in-process verbs:
`pull` by digest and `push` move the very manifest (or, when told, a rewritten one), as promote's copy does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import ROOT
from .stacks import client

FAKE_DOCKER = '''#!{python}
import json, os, sys
sys.path.insert(0, {root!r})
argv = sys.argv[1:]
stdin = sys.stdin.read() if argv[:1] == ["login"] else ""
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps({{"argv": argv, "stdin_given": bool(stdin), "stdin_in_argv": bool(stdin) and stdin in argv}}) + "\\n")
if argv[:1] == ["push"]:
    import boto3
    from portyfoul_infra.local.server import seed_image
    uri, tag = argv[1].rsplit(":", 1)
    if tag != "latest":
        seed_image(boto3.client("ecr", region_name="us-east-2"), uri.split("/", 1)[1], tag)
'''


def install_fake_docker(directory: Path) -> tuple[Path, Path]:
    """A `docker` in directory/bin; returns (that bin directory, the log of its calls: one JSON line each)."""
    bindir = directory / "bin"
    bindir.mkdir()
    script = bindir / "docker"
    script.write_text(FAKE_DOCKER.format(python=sys.executable, root=str(ROOT)))
    script.chmod(0o755)
    return bindir, directory / "docker.log"


def docker_calls(log: Path) -> list[list[str]]:
    """The argument lists the fake docker was called with ([] when it never ran)."""
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()] if log.exists() else []


class RegistryDocker:
    """docker pull/tag/push as the registry sees them: the pushed manifest is the pulled one (or, when told, not)."""

    def __init__(self, rewrite: bool = False):
        self.commands: list[list[str]] = []
        self.rewrite = rewrite
        self.pulled = ""

    def __call__(self, cmd, stdin):
        self.commands.append(cmd)
        ecr = client("ecr")
        if cmd[:2] == ["docker", "pull"]:
            repository, digest = cmd[2].split("/", 1)[1].split("@")
            (image,) = ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}])["images"]
            self.pulled = image["imageManifest"]
        if cmd[:2] == ["docker", "push"]:
            repository, tag = cmd[2].split("/", 1)[1].split(":")
            manifest = self.pulled
            if self.rewrite:  # e.g. a multi-platform index pulled as one platform and pushed as a new manifest
                manifest = json.dumps({**json.loads(manifest), "annotations": {"rebuilt": "yes"}})
            ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)
        return 0
