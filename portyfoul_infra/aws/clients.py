"""The one place AWS clients are made (region from config, endpoint from AWS_ENDPOINT_URL or a local run, standard
retries), the account check every command starts with, and paging.

A command reads AWS_ENDPOINT_URL once (`connect`) and every client it makes goes there, so a local moto server
and real AWS are reached the same way; a local run (scenarios/) hands its clients its own local AWS's endpoint
and stand-in credentials without touching the process environment. Tests hand the operational code a fake with
the same `client(name)` shape.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..config import Environment
from ..context import ClientSource, Ctx
from ..errors import UserError

RETRY_MODE, MAX_ATTEMPTS = "standard", 8
# botocore's DEBUG logging dumps whole requests and responses: GetSecretValue answers, PutSecretValue bodies,
# ECR tokens. `invoke -d` and INVOKE_DEBUG=1 turn the root logger to DEBUG, so these stay at INFO always.
WIRE_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def keep_wire_logging_quiet() -> None:
    """Secret values are never printed, in any mode: the wire loggers stay above DEBUG, and debug says so."""
    import logging

    for name in WIRE_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("portyfoul_infra").debug(
            "botocore request and response logging stays off: it would print secret values")


@dataclass
class Aws:
    """boto3 clients for one region, created lazily and reused.

    `endpoint_url` sends every call there (AWS_ENDPOINT_URL, read once by `connect`; a local run's own local
    AWS); `credentials` (key, secret) are used instead of the usual chain, and no profile is read then: a local
    run's stand-ins, whatever AWS_PROFILE says.
    """
    region: str
    profile: str | None = None
    endpoint_url: str | None = None
    credentials: tuple[str, str] | None = None
    _session: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def session(self):
        if self._session is None:
            import boto3
            import botocore.session
            keep_wire_logging_quiet()
            # With credentials of its own, no profile is read: a stray AWS_PROFILE names nothing a local run has.
            core = botocore.session.Session(session_vars={"profile": (None, None, None, None)} if self.credentials
                                            else None)
            key, secret = self.credentials or (None, None)
            self._session = boto3.Session(botocore_session=core, region_name=self.region,
                                          profile_name=None if self.credentials else self.profile,
                                          aws_access_key_id=key, aws_secret_access_key=secret)
        return self._session

    def client(self, name: str):
        if name not in self._clients:
            from botocore.config import Config
            retries = {"mode": os.environ.get("AWS_RETRY_MODE") or RETRY_MODE,
                       "max_attempts": _int_env("AWS_MAX_ATTEMPTS", MAX_ATTEMPTS)}
            self._clients[name] = self.session.client(
                name, endpoint_url=self.endpoint_url, config=Config(retries=retries, user_agent_extra="portyfoul-infra"))
        return self._clients[name]

    def require_credentials(self) -> None:
        try:
            credentials = self.session.get_credentials()
        except Exception as e:  # botocore.exceptions.ProfileNotFound and friends
            raise UserError(f"cannot load AWS credentials: {e}") from None
        if credentials is None:
            raise UserError(
                "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
                "or run `aws sso login`")


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    if not re.fullmatch(r"[0-9]{1,2}", value) or not 1 <= int(value) <= 20:  # ASCII: "²".isdigit() is True
        raise UserError(f"{name}={value[:20]!r}: must be a whole number from 1 to 20")
    return int(value)


def connect(region: str) -> Aws:
    """Clients for `region`, to AWS_ENDPOINT_URL when it is set; the credentials are checked once, by print_header
    (or require_credentials)."""
    return Aws(region=region, profile=os.environ.get("AWS_PROFILE") or None,
               endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)


def verify_account(aws: ClientSource, env: Environment) -> str:
    """The credentials' account, refused (UserError) unless it is the one the environment names."""
    if not env.account_id:
        raise UserError(f"environment {env.name} names no AWS account: set account_id for {env.name!r} in "
                        "portyfoul_infra/config.py (12 digits) so no task can run against the wrong account")
    aws.require_credentials()
    account = aws.client("sts").get_caller_identity()["Account"]
    if account != env.account_id:
        raise UserError(f"these credentials are for account {account}, but environment {env.name} lives in "
                        f"{env.account_id}: switch AWS_PROFILE (or credentials); nothing was changed")
    return account


def print_header(ctx: Ctx) -> str:
    """Environment, account, region and stack, before anything else; the account is checked. Returns it."""
    env = ctx.env
    account = verify_account(ctx.aws, env)
    ctx.console.heading(f"environment {env.name} · account {account} · region {env.region} · "
                        f"stack {env.stack_name}{endpoint_note(ctx.aws)}")
    return account


def json_document(ctx: Ctx, schema: str, account: str | None) -> dict:
    """The start of every --json document: its schema ("portyfoul.<verb>/1") and what the header says."""
    env = ctx.env
    return {"schema": f"portyfoul.{schema}/1", "environment": env.name, "account": account, "region": env.region,
            "stack": env.stack_name}


def endpoint_note(aws: ClientSource) -> str:
    """Where requests go, for the header every task prints: " via URL" when not to AWS itself."""
    url = getattr(aws, "endpoint_url", None)
    return f" via {url}" if url else ""


def collect(call, result_key: str, token: str = "NextToken", **kwargs) -> list:
    """Every item of a paged AWS list call (`token` is the paging field: NextToken, nextToken, Marker)."""
    items: list = []
    while True:
        page = call(**kwargs)
        items += page.get(result_key, [])
        if not page.get(token):
            return items
        kwargs[token] = page[token]
