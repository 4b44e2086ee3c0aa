"""Errors: ours (UserError, "we refuse"), and AWS's, each turned into one line.

UserError is a refusal, shown as one line. Before anything changed it ends the
command with exit 2 (outcomes.Outcome.REFUSED); raised after a change (the
command's journal is not empty) it ends it with exit 4, saying what changed and
what to run next (outcomes.failure_exit), so its text must not claim that
nothing changed. An error from botocore is described in one bounded line by
describe_aws_error.
"""

from __future__ import annotations

from .console import shorten


class UserError(Exception):
    """Bad input or a state we refuse to act on. The message is shown as is."""


def error_code(exc: BaseException) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


THROTTLING_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
                    "ProvisionedThroughputExceededException", "RequestThrottled"}


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING_CODES


def describe_aws_error(exc: BaseException) -> str | None:
    """A one-line message for an error from botocore; None for anything else (a bug: let it show)."""
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return ("no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
                "or run `aws sso login`")
    if isinstance(exc, bx.ProfileNotFound):
        return f"{exc}"
    if isinstance(exc, bx.EndpointConnectionError):
        return f"cannot reach AWS: {exc}"
    if isinstance(exc, bx.ClientError):
        code = error_code(exc) or "error"
        msg = shorten(exc.response.get("Error", {}).get("Message") or str(exc), 300)
        op = getattr(exc, "operation_name", "")
        if code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
                    "SignatureDoesNotMatch"):
            return f"AWS rejected the credentials ({code}): {msg}"
        return f"AWS refused {op}: {code}: {msg}"
    if isinstance(exc, bx.BotoCoreError):
        return f"AWS call failed: {shorten(str(exc), 300)}"
    return None
