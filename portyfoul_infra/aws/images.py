"""Images: find one in ECR, build it for the task's platform, push it. Docker runs through an injected runner."""

from __future__ import annotations

import base64
import shutil
import subprocess
from typing import TYPE_CHECKING, Callable, Sequence

from .clients import ClientSource
from ..errors import error_code
from ..console import Console
from ..errors import UserError

if TYPE_CHECKING:
    from .release import Context

Runner = Callable[[Sequence[str], str | None], int]


def find_image(ecr, repository: str, tag: str) -> str | None:
    """The digest of repository:tag, or None."""
    try:
        images = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    except Exception as e:
        if error_code(e) in ("ImageNotFoundException",):
            return None
        raise
    return images[0]["imageDigest"] if images else None


def docker_available(runner: Runner) -> bool:
    return shutil.which("docker") is not None and runner(["docker", "buildx", "version"], None) == 0


def subprocess_runner(cmd: Sequence[str], stdin: str | None) -> int:
    """Run a command with its output shown as it comes; stdin (a password) never touches argv."""
    return subprocess.run(list(cmd), input=stdin, text=True, stdout=None, stderr=None).returncode


def build_image(ctx: Context, tag: str, app_dir: str, runner: Runner, console: Console) -> None:
    image = f"{ctx.repository_uri}:{tag}"
    cmd = ["docker", "buildx", "build", "--platform", ctx.platform, "--load",
           "-t", image, "-t", f"{ctx.repository_uri}:latest", app_dir]
    console.line("$ " + " ".join(cmd))
    if runner(cmd, None) != 0:
        raise UserError(f"docker build failed for {image}; nothing was pushed or deployed")


def docker_login(aws: ClientSource, runner: Runner, console: Console) -> None:
    """docker login to the account's ECR registry; the password goes to stdin, never to argv or the output."""
    auth = aws.client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(auth["authorizationToken"]).decode().split(":", 1)
    registry = auth["proxyEndpoint"].split("://", 1)[-1]
    console.line(f"$ docker login --username {user} --password-stdin {registry}")
    if runner(["docker", "login", "--username", user, "--password-stdin", registry], password) != 0:
        raise UserError(f"docker login to {registry} failed; nothing was pushed or deployed")
    del password


def push_image(aws: ClientSource, ctx: Context, tag: str, runner: Runner, console: Console) -> None:
    docker_login(aws, runner, console)
    for t in (tag, "latest"):
        cmd = ["docker", "push", f"{ctx.repository_uri}:{t}"]
        console.line("$ " + " ".join(cmd))
        if runner(cmd, None) != 0:
            raise UserError(f"docker push {ctx.repository_uri}:{t} failed; nothing was deployed")
