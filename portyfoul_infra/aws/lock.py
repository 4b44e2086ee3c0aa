"""One deployment at a time per environment: a lock that AWS holds, not this machine.

The lock is the SSM parameter `/<project>/<env>/deploy-lock`, created only if absent (PutParameter without
Overwrite fails with ParameterAlreadyExists: AWS decides who is first). It holds who took it, where, for which
command, when, and until when. release, rollback, promote, deliver, stack-update, stack-delete and a
`--restart` of secrets-set, secrets-rotate or config-set take it; a second one is refused (exit 2) naming the
holder. It is deleted when the command ends, however it ends short of SIGKILL; a lock whose process is gone
stays until someone breaks it on purpose with `invoke force-unlock --env ENV --id ID` (after its expiry the
refusal says it is stale).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Iterator

from ..config import Environment
from ..context import Ctx
from ..errors import UserError, error_code

LOCK_PARAMETER = "deploy-lock"
MARGIN_SECONDS = 600      # a lock outlives its command's own timeout by this much before it is called stale


@dataclass(frozen=True)
class Holder:
    id: str
    owner: str          # user@host (pid)
    command: str
    started: str        # ISO 8601 UTC
    expires: str
    expires_at: float   # seconds since the epoch

    def describe(self) -> str:
        return f"{self.owner} running `{self.command}` since {self.started} (lock {self.id})"


def lock_name(env: Environment) -> str:
    return f"{env.parameter_prefix}/{LOCK_PARAMETER}"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _owner() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = "someone"
    runner = os.environ.get("GITHUB_RUN_ID")
    where = f"GitHub Actions run {runner}" if runner else socket.gethostname()
    return f"{user}@{where} (pid {os.getpid()})"


def read(ctx: Ctx) -> Holder | None:
    """Who holds the environment's lock, or None. A lock that is not ours to read is shown as such."""
    try:
        value = ctx.client("ssm").get_parameter(Name=lock_name(ctx.env))["Parameter"]["Value"]
    except Exception as e:
        if error_code(e) == "ParameterNotFound":
            return None
        raise
    try:
        d = json.loads(value)
        return Holder(str(d["id"]), str(d["owner"]), str(d["command"]), str(d["started"]), str(d["expires"]),
                      float(d["expires_at"]))
    except (ValueError, KeyError, TypeError):
        return Holder("unreadable", "unknown", "unknown", "unknown", "unknown", 0.0)


def acquire(ctx: Ctx, command: str, seconds: float) -> Holder:
    """Take the lock for `seconds` (plus a margin), or refuse (UserError, exit 2) naming who holds it."""
    now = ctx.wall()
    expires = now + seconds + MARGIN_SECONDS
    holder = Holder(f"{int(now * 1000):x}-{os.getpid()}", _owner(), command, _iso(now), _iso(expires), expires)
    try:
        ctx.client("ssm").put_parameter(Name=lock_name(ctx.env), Value=json.dumps(asdict(holder)), Type="String",
                                        Overwrite=False,
                                        Description="portyfoul-infra: who is deploying to this environment now")
    except Exception as e:
        if error_code(e) != "ParameterAlreadyExists":
            raise
        raise UserError(_refusal(ctx, read(ctx), now)) from None
    return holder


def _refusal(ctx: Ctx, other: Holder | None, now: float) -> str:
    env = ctx.env.name
    if other is None:  # released between our attempt and our read
        return f"{env} was locked by another deployment a moment ago; run the command again"
    stale = other.expires_at and now > other.expires_at
    state = (f"its lock expired at {other.expires}: that process is probably gone (killed, its machine lost)"
             if stale else f"its lock runs until {other.expires}")
    return (f"another deployment holds {env}: {other.describe()}; {state}. Nothing changed. Wait for it "
            f"(`invoke release-status --env {env}`); if nothing is running, break the lock on purpose: "
            f"`invoke force-unlock --env {env} --id {other.id}`")


def release(ctx: Ctx, holder: Holder) -> None:
    """Give the lock back, if it is still ours (a lock someone broke and took is theirs)."""
    current = read(ctx)
    if current is not None and current.id == holder.id:
        ctx.client("ssm").delete_parameter(Name=lock_name(ctx.env))


@contextmanager
def deploy_lock(ctx: Ctx, command: str, seconds: float) -> Iterator[Holder]:
    """Hold the environment's lock while the block runs; give it back however the block ends."""
    holder = acquire(ctx, command, seconds)
    try:
        yield holder
    finally:
        try:
            release(ctx, holder)
        except Exception:  # noqa: BLE001 - the command's own ending matters more; say how to clean up
            ctx.console.warn(f"could not give back the deploy lock {holder.id} of {ctx.env.name}: "
                             f"`invoke force-unlock --env {ctx.env.name} --id {holder.id}`")


def force_unlock(ctx: Ctx, lock_id: str) -> Holder | None:
    """Break the lock `lock_id` on purpose; the holder it was (None: no lock). Refuses another id."""
    current = read(ctx)
    if current is None:
        return None
    if current.id != lock_id:
        raise UserError(f"the lock of {ctx.env.name} is {current.id} ({current.describe()}), not {lock_id}; "
                        "nothing changed. Name the lock you mean to break")
    ctx.client("ssm").delete_parameter(Name=lock_name(ctx.env))
    return current


@contextmanager
def deployment(ctx: Ctx, command: str, seconds: float, settle_history: bool = True) -> Iterator[Holder]:
    """The deploy lock for a command that changes what runs, and, holding it, the release history settled: a
    record left "in progress" by a process that is gone is reconciled with what ECS says, and recorded."""
    with deploy_lock(ctx, command, seconds) as holder:
        if settle_history:
            from .history import reconcile_with_ecs
            for note in reconcile_with_ecs(ctx):
                ctx.console.warn(note)
        yield holder
