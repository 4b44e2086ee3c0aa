"""The load balancers' data plane, stood in for on 127.0.0.1: real HTTP requests, routed by the emulated rules.

moto keeps load balancers, listeners, rules and target groups as records, and nothing answers a request. This
server does with each request what an Application Load Balancer does: it picks the load balancer and the
listener, evaluates the listener's rules in priority order (path-pattern, host-header, http-header,
http-request-method, query-string, source-ip; the default rule last), takes the matching rule's action (forward,
by the weights of a weighted forward; fixed-response; redirect) and answers as the application whose image the
tasks registered in the chosen target group run (patches/_deployments.py says which revision serves a group).

Which load balancer: the one whose DNS name is the request's Host; else the one X-Local-Load-Balancer names
(name or ARN); else the only application load balancer there is. Which listener: the port X-Local-Listener-Port
names; else the HTTPS listener (TLS itself is not emulated: this server speaks plain HTTP); else HTTP on port 80;
else the lowest port.

The application, by the image tag of the group's task definition:
    GET /api/health      200 {"status": "ok"}
    GET /api/version     200 {"version": "<tag>"}
    other /api/ paths    404
    any other path       200, an HTML page naming the tag
A tag ending in -bad (ecs.BAD_SUFFIX) answers its target group's health check path with 200, as a version that
starts does, and every other path with 500. A group with no running tasks answers 503, as the load balancer does.

Every answer says where it came from: X-Local-Target-Group (the group's name), X-Local-Target-Group-Arn,
X-Local-Image-Tag and X-Local-Service-Revision for a forward, X-Local-Rule-Arn for the rule that matched, so a
test can prove that green answered and not blue. The address is the control plane's GET /portyfoul-api/alb.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

LOOPBACK = "127.0.0.1"
NOT_FOUND_LB = "421 Misdirected Request"


@dataclass
class Request:
    method: str
    path: str
    query: str
    host: str                       # the Host header without its port, lower case
    headers: dict[str, list[str]]   # lower-case name -> values
    client: str

    def header(self, name: str) -> list[str]:
        return self.headers.get(name.lower(), [])


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _wildcard(pattern: str, value: str, case_sensitive: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def matches(condition: dict, request: Request) -> bool:
    """Whether one rule condition holds for the request (values of one condition are ORed)."""
    kind = condition.get("Field")
    if kind == "path-pattern":
        values = (condition.get("PathPatternConfig") or {}).get("Values") or condition.get("Values") or []
        return any(_wildcard(v, request.path, True) for v in values)
    if kind == "host-header":
        values = (condition.get("HostHeaderConfig") or {}).get("Values") or condition.get("Values") or []
        return any(_wildcard(v, request.host, False) for v in values)
    if kind == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        sent = request.header(config.get("HttpHeaderName", ""))
        return any(_wildcard(v, s, False) for v in config.get("Values") or [] for s in sent)
    if kind == "http-request-method":
        return request.method in ((condition.get("HttpRequestMethodConfig") or {}).get("Values") or [])
    if kind == "query-string":
        pairs = parse_qsl(request.query, keep_blank_values=True)
        for wanted in (condition.get("QueryStringConfig") or {}).get("Values") or []:
            for key, value in pairs:
                if ("Key" not in wanted or _wildcard(wanted["Key"], key, False)) and \
                        _wildcard(wanted.get("Value", ""), value, False):
                    return True
        return False
    if kind == "source-ip":
        try:
            client = ipaddress.ip_address(request.client)
        except ValueError:
            return False
        return any(client in ipaddress.ip_network(v, strict=False)
                   for v in (condition.get("SourceIpConfig") or {}).get("Values") or [])
    return False


def ordered_rules(listener) -> list:
    """The listener's rules in the order an Application Load Balancer evaluates them: by priority, default last."""
    rules = list(listener.rules.values())
    numbered = sorted((r for r in rules if not r.is_default), key=lambda r: int(r.priority))
    return numbered + [r for r in rules if r.is_default]


def _balancers():
    from moto.elbv2.models import elbv2_backends
    for account in list(elbv2_backends.keys()):
        for backend in list(elbv2_backends[account].values()):
            for balancer in list(backend.load_balancers.values()):
                if getattr(balancer, "loadbalancer_type", "application") == "application":
                    yield backend, balancer


def choose_balancer(request: Request):
    """(ELBv2 backend, load balancer) for the request, or an explanation of why none."""
    found = list(_balancers())
    by_host = [(b, lb) for b, lb in found if lb.dns_name.lower() == request.host]
    if by_host:
        return by_host[0]
    named = (request.header("X-Local-Load-Balancer") or [""])[0]
    if named:
        chosen = [(b, lb) for b, lb in found if named in (lb.name, lb.arn)]
        return chosen[0] if chosen else f"no application load balancer {named!r}"
    if len(found) == 1:
        return found[0]
    if not found:
        return "no application load balancer exists"
    return (f"{len(found)} application load balancers: name one with the X-Local-Load-Balancer header or its DNS "
            f"name as Host ({', '.join(sorted(lb.name for _, lb in found))})")


def choose_listener(balancer, request: Request):
    listeners = sorted(balancer.listeners.values(), key=lambda x: int(x.port))
    wanted = (request.header("X-Local-Listener-Port") or [""])[0]
    if wanted:
        return next((x for x in listeners if str(x.port) == wanted), None)
    return (next((x for x in listeners if x.protocol == "HTTPS"), None)
            or next((x for x in listeners if str(x.port) == "80"), None)
            or (listeners[0] if listeners else None))


def _json(status: int, document: Any, headers: Optional[dict] = None) -> Answer:
    return Answer(status, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})})


def _page(status: int, text: str) -> Answer:
    body = f"<html><head><title>{status}</title></head><body><center><h1>{text}</h1></center></body></html>\n"
    return Answer(status, body.encode(), {"Content-Type": "text/html"})


def application(tag: str, health_path: str, request: Request) -> Answer:
    """What the application of image tag `tag` answers (see the module docstring)."""
    from .patches.ecs import BAD_SUFFIX

    if tag.endswith(BAD_SUFFIX):
        if request.path == (health_path or "/"):
            return _json(200, {"status": "ok"})
        return _json(500, {"error": "Internal Server Error", "version": tag})
    if request.path == "/api/health":
        return _json(200, {"status": "ok"})
    if request.path == "/api/version":
        return _json(200, {"version": tag})
    if request.path.startswith("/api/"):
        return _json(404, {"error": "Not Found"})
    return Answer(200, (f"<!doctype html><html><head><title>Portyfoul</title></head><body><h1>Portyfoul</h1>"
                        f"<p>version {tag}</p></body></html>\n").encode(), {"Content-Type": "text/html"})


def forward(elb, action_data: dict, request: Request) -> Answer:
    from .patches._deployments import image_tag, load_balancer, serving

    forward_config = action_data.get("ForwardConfig") or {}
    choices = [(g["TargetGroupArn"], int(g.get("Weight", 1))) for g in forward_config.get("TargetGroups") or []]
    if not choices and action_data.get("TargetGroupArn"):
        choices = [(action_data["TargetGroupArn"], 1)]
    choices = [(arn, w) for arn, w in choices if w > 0]
    if not choices:
        return _page(503, "503 Service Temporarily Unavailable")
    arn = random.choices([a for a, _ in choices], weights=[w for _, w in choices])[0]
    group = elb.target_groups.get(arn)
    named = {"X-Local-Target-Group": group.name if group else "", "X-Local-Target-Group-Arn": arn}
    found = serving(arn)
    if group is None or found is None or found[4] <= 0:
        answer = _page(503, "503 Service Temporarily Unavailable")
        answer.headers.update(named)
        return answer
    backend, service, revision, task_definition, _count = found
    tag = image_tag(backend, task_definition, load_balancer(service).get("containerName", ""))
    from .patches.ecs import CRASH_SUFFIX, HANG_SUFFIX
    if tag.endswith((CRASH_SUFFIX, HANG_SUFFIX)):
        answer = _page(503, "503 Service Temporarily Unavailable")
    else:
        answer = application(tag, group.health_check_path or "/", request)
    answer.headers.update(named)
    answer.headers.update({"X-Local-Image-Tag": tag, "X-Local-Service-Revision": revision or ""})
    return answer


def redirect(config: dict, request: Request, listener) -> Answer:
    fill = {"#{protocol}": (listener.protocol or "HTTP").lower(), "#{host}": request.host,
            "#{port}": str(listener.port), "#{path}": request.path.lstrip("/"), "#{query}": request.query}

    def part(key: str, default: str) -> str:
        value = str(config.get(key) or default)
        for k, v in fill.items():
            value = value.replace(k, v)
        return value

    path = part("Path", "/#{path}")
    query = part("Query", "#{query}")
    location = f"{part('Protocol', '#{protocol}').lower()}://{part('Host', '#{host}')}:{part('Port', '#{port}')}" \
               f"{path if path.startswith('/') else '/' + path}{'?' + query if query else ''}"
    status = 301 if config.get("StatusCode", "HTTP_301") == "HTTP_301" else 302
    return Answer(status, b"", {"Location": location})


def route(request: Request) -> Answer:
    """The whole data plane: the answer to one request."""
    from .patches._deployments import LOCK, tick_all

    with LOCK:
        tick_all()
        chosen = choose_balancer(request)
        if isinstance(chosen, str):
            return _json(421, {"error": chosen})
        elb, balancer = chosen
        listener = choose_listener(balancer, request)
        if listener is None:
            return _json(421, {"error": f"load balancer {balancer.name} has no such listener"})
        for rule in ordered_rules(listener):
            if all(matches(c, request) for c in rule.conditions or []):
                answer = _act(elb, rule, request, listener)
                answer.headers["X-Local-Rule-Arn"] = rule.arn
                return answer
    return _page(503, "503 Service Temporarily Unavailable")


def _act(elb, rule, request: Request, listener) -> Answer:
    for action in sorted(rule.actions, key=lambda a: int((getattr(a, "data", {}) or {}).get("Order") or 0)):
        data = getattr(action, "data", {}) or {}
        kind = data.get("Type")
        if kind == "forward":
            return forward(elb, data, request)
        if kind == "fixed-response":
            config = data.get("FixedResponseConfig") or {}
            return Answer(int(config.get("StatusCode", 200)), str(config.get("MessageBody", "")).encode(),
                          {"Content-Type": config.get("ContentType", "text/plain")})
        if kind == "redirect":
            return redirect(data.get("RedirectConfig") or {}, request, listener)
        if kind and kind.startswith("authenticate-"):
            return _json(501, {"error": f"{kind} actions are not emulated by the local load balancer"})
    return _page(503, "503 Service Temporarily Unavailable")


class _Handler(BaseHTTPRequestHandler):
    server_version = "awselb/2.0"
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        url = urlsplit(self.path)
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower() if self.headers.get("Host") else ""
        request = Request(self.command, url.path or "/", url.query, host, headers, self.client_address[0])
        try:
            answer = route(request)
        except Exception as error:  # noqa: BLE001 - a stand-in must answer, as a load balancer does
            answer = _json(502, {"error": f"local data plane: {type(error).__name__}: {error}"})
        body = b"" if self.command == "HEAD" else answer.body
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class DataPlane:
    """The HTTP server, on 127.0.0.1 and a free port unless one is given."""

    def __init__(self, port: int = 0) -> None:
        self._server = ThreadingHTTPServer((LOOPBACK, port), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> "DataPlane":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start(port: int = 0) -> DataPlane:
    return DataPlane(port).start()
