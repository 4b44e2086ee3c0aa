"""force-unlock: break an environment's deploy lock on purpose, when the command that took it is gone."""

from __future__ import annotations

from ..aws import lock
from ..aws.clients import print_header
from ..context import Ctx
from ..errors import UserError
from ..options import ForceUnlockOptions
from ..outcomes import Outcome


def force_unlock(ctx: Ctx, opts: ForceUnlockOptions) -> Outcome:
    env, console = ctx.env, ctx.console
    print_header(ctx)
    current = lock.read(ctx)
    if current is None:
        console.ok(f"{env.name} has no deploy lock: nothing to break")
        return Outcome.NO_CHANGES
    console.line(f"the deploy lock of {env.name}: {current.describe()}; it expires {current.expires}")
    if current.id != opts.id:
        raise UserError(f"the lock of {env.name} is {current.id}, not {opts.id}; nothing changed. Name the lock you "
                        "mean to break")
    expired = current.expires_at and ctx.wall() > current.expires_at
    if not expired:
        console.warn("it has not expired: break it only if that command is not running any more (a cancelled job, a "
                     "lost machine); two deployments at once roll each other back")
    refused = ctx.confirmed(f"break the deploy lock {current.id} of {env.name}?", opts.yes)
    if refused:
        return refused
    lock.force_unlock(ctx, opts.id)
    console.ok(f"broken: {env.name} has no deploy lock. Next: `invoke release-status --env {env.name}` shows where "
               "the services are; the next release, rollback or stack-update settles a release left in progress")
    return Outcome.APPLIED
