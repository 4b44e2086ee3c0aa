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
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"
# The local AWS runs as the plan's dev account, so the account check of every task is exercised.
ACCOUNT_ID = "946652103073"

def parse_json_first() -> None:
    """moto reads every template with PyYAML's pure-Python loader, also a JSON one: two thirds of a stack
    operation's time for this 88 KB template. A template that is JSON is read as JSON (the same document: JSON
    is YAML), a YAML one with libyaml's loader when PyYAML has it (the same constructors). Speed only: what the
    local AWS decides does not change."""
    import json

    import yaml
    from moto.cloudformation import models, responses

    fast = getattr(yaml, "CLoader", None)   # libyaml, when PyYAML was built with it

    class JsonFirst:
        def __getattr__(self, name: str):
            return getattr(yaml, name)

        @staticmethod
        def add_multi_constructor(tag, constructor, Loader=None):  # noqa: N803
            yaml.add_multi_constructor(tag, constructor)           # moto's tag constructor, for both loaders
            if fast is not None:
                yaml.add_multi_constructor(tag, constructor, Loader=fast)

        @staticmethod
        def load(stream, Loader=None):  # noqa: N803 - yaml's own signature
            if isinstance(stream, str) and stream.lstrip().startswith("{"):
                try:
                    return json.loads(stream)
                except ValueError:
                    pass
            if Loader is yaml.Loader and fast is not None:
                Loader = fast
            return yaml.load(stream, Loader=Loader)

    models.yaml = responses.yaml = JsonFirst()


def serve(port: int, parent: int | None = None) -> None:
    """Serve until SIGTERM or SIGINT, or until `parent` (the process that started it) is gone, so a sandbox
    killed outright (SIGKILL) does not leave its local AWS behind."""
    from .patches import patch_moto

    parse_json_first()
    patch_moto()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from . import alb
    from .control import ControlledApp

    plane = alb.start()   # the load balancers' data plane, on a free port of its own (a daemon: it ends with us)
    app = ControlledApp(DomainDispatcherApplication(create_backend_app), data_plane=plane.address)
    server = make_server(LOOPBACK, port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    print(f"local AWS (moto) listening on http://{LOOPBACK}:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.2) and (parent is None or os.getppid() == parent):
        pass
    server.shutdown()
    # Its whole state is in memory and goes with it: no need to wait for the interpreter to take moto apart.
    sys.stdout.flush()
    os._exit(0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_taken(port: int) -> str:
    """Why `port` on 127.0.0.1 cannot be this local AWS's, or "" when it is free: something answering there
    (another local AWS, say, which a sandbox would otherwise run its whole lifecycle against) or holding it."""
    with socket.socket() as s:
        s.settimeout(2)
        if s.connect_ex((LOOPBACK, port)) == 0:
            return "something already answers there"
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a TIME_WAIT is no owner
        try:
            s.bind((LOOPBACK, port))
        except OSError as e:
            return f"it is taken ({e.strerror or e})"
    return ""


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

    def save(self, name: str) -> None:
        """Keep the whole state of this local AWS under `name` (local/control.py)."""
        self._control(f"snapshots/{name}")

    def restore(self, name: str) -> bool:
        """Put back the state kept under `name`, whole; False when there is none (nothing changed then)."""
        try:
            self._control(f"snapshots/{name}/restore")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return False
            raise
        return True

    def _control(self, path: str, document: dict | None = None) -> dict:
        import json
        method = "GET" if document is None and path in ("clock", "alb") else "POST"
        data = json.dumps(document).encode() if document is not None else (None if method == "GET" else b"")
        request = urllib.request.Request(f"{self.endpoint}/portyfoul-api/{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
        return json.loads(body) if body else {}

    def advance_clock(self, seconds: float) -> dict:
        """Move this local AWS's clock `seconds` ahead: hook timeouts and bake times fall due (local/control.py)."""
        return self._control("clock", {"advance_seconds": seconds})

    def data_plane(self) -> str:
        """The address of the load balancers' stand-in (local/alb.py): http://127.0.0.1:PORT."""
        return str(self._control("alb")["address"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start(port: int | None = None, timeout: float = 30.0) -> LocalAws:
    """Start the server as a subprocess and wait until it answers. A port given that is answered or held
    already is refused (RuntimeError): the answer would come from someone else's server."""
    if port:
        taken = port_taken(port)
        if taken:
            raise RuntimeError(f"port {port} on {LOOPBACK}: {taken}")
    port = port or free_port()
    # Nothing of the caller's AWS set-up reaches the emulator: a profile it names (moto reads the region list through
    # botocore, which would refuse one that does not exist here) or an endpoint.
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") and not k.startswith("AWS_ENDPOINT_URL")}
    env.update({"MOTO_ECS_SERVICE_RUNNING": "100", "MOTO_ACCOUNT_ID": ACCOUNT_ID})
    proc = subprocess.Popen(
        [sys.executable, "-m", "portyfoul_infra.local.server", "--port", str(port), "--parent", str(os.getpid())],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_it_answers(proc, port, timeout)
    except BaseException:  # a timeout, or SIGTERM or Ctrl-C while it starts: never leave it behind
        proc.kill()
        proc.wait()
        raise
    return LocalAws(port, proc)


def _wait_until_it_answers(proc: subprocess.Popen, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://{LOOPBACK}:{port}/moto-api/"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"local AWS exited with code {proc.returncode} (is port {port} free?)")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
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
    ap.add_argument("--parent", type=int, default=None, help="stop when this process is gone")
    args = ap.parse_args()
    serve(args.port, args.parent)


if __name__ == "__main__":
    main()
