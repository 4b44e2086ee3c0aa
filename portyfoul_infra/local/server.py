"""The local AWS: a moto server on 127.0.0.1, for the sandbox and the tests.

    python -m portyfoul_infra.local.server --port 5077

Binds to loopback only. Before serving it applies local/patches/ (one registered patch per gap), which
closes the gaps in moto that this template and these tasks run into (each
listed in patches.MOTO_GAPS), so the product never bends around the
emulator.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"
# The local AWS runs as the plan's dev account, so the account check of every task is exercised.
ACCOUNT_ID = "946652103073"

def serve(port: int) -> None:
    from .patches import patch_moto

    patch_moto()
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    print(f"local AWS (moto) listening on http://{LOOPBACK}:{port}", flush=True)
    stop = False

    def _stop(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while not stop:
        time.sleep(0.2)
    server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


@dataclass
class LocalAws:
    """A running local AWS subprocess."""
    port: int
    process: subprocess.Popen

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def reset(self) -> None:
        """Forget every resource (moto's own reset): the next caller starts from an empty account."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start(port: int | None = None, timeout: float = 30.0) -> LocalAws:
    """Start the server as a subprocess and wait until it answers."""
    port = port or free_port()
    env = {**os.environ, "MOTO_ECS_SERVICE_RUNNING": "100", "MOTO_ACCOUNT_ID": ACCOUNT_ID}
    proc = subprocess.Popen(
        [sys.executable, "-m", "portyfoul_infra.local.server", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    url = f"http://{LOOPBACK}:{port}/moto-api/"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"local AWS exited with code {proc.returncode} (is port {port} free?)")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return LocalAws(port, proc)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"local AWS did not answer on port {port} within {timeout:.0f}s")


def seed_image(ecr, repository: str, tag: str) -> str:
    """Put a small image manifest into the local ECR under `tag` (and `latest`); returns its digest."""
    import hashlib
    import json

    layer = hashlib.sha256(tag.encode()).hexdigest()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 100,
                   "digest": f"sha256:{hashlib.sha256(b'config' + tag.encode()).hexdigest()}"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 100,
                    "digest": f"sha256:{layer}"}],
    }, sort_keys=True)
    image = ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)["image"]
    try:
        ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag="latest")
    except Exception:
        pass  # `latest` already points at this manifest
    return image["imageId"]["imageDigest"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=5077)
    serve(ap.parse_args().port)


if __name__ == "__main__":
    main()
