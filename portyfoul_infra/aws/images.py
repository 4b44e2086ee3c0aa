"""Images: find one in ECR, build it for the task's platform, push it. Docker runs through the context's runner."""

from __future__ import annotations

import base64
import shutil
import subprocess
from typing import Sequence

from ..context import Ctx, Runner
from ..errors import UserError, error_code


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


def run_shown(ctx: Ctx, cmd: Sequence[str], failure: str) -> None:
    """Print the command, run it, and refuse with `failure` if it does not exit 0."""
    ctx.console.line("$ " + " ".join(cmd))
    if ctx.runner(cmd, None) != 0:
        raise UserError(failure)


def build_image(ctx: Ctx, repository_uri: str, platform: str, tag: str, app_dir: str) -> None:
    image = f"{repository_uri}:{tag}"
    run_shown(ctx, ["docker", "buildx", "build", "--platform", platform, "--load", "-t", image,
                    "-t", f"{repository_uri}:latest", app_dir],
              f"docker build failed for {image}; nothing was pushed or deployed")


def docker_login(ctx: Ctx) -> None:
    """docker login to the account's ECR registry; the password goes to stdin, never to argv or the output."""
    auth = ctx.client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(auth["authorizationToken"]).decode().split(":", 1)
    registry = auth["proxyEndpoint"].split("://", 1)[-1]
    ctx.console.line(f"$ docker login --username {user} --password-stdin {registry}")
    if ctx.runner(["docker", "login", "--username", user, "--password-stdin", registry], password) != 0:
        raise UserError(f"docker login to {registry} failed; nothing was pushed or deployed")
    del password


def push_image(ctx: Ctx, repository_uri: str, tag: str) -> None:
    docker_login(ctx)
    for t in (tag, "latest"):
        run_shown(ctx, ["docker", "push", f"{repository_uri}:{t}"],
                  f"docker push {repository_uri}:{t} failed; nothing was deployed")
