"""force-unlock: break an environment's deploy lease on purpose. The rare case: a lease whose holder is gone is
taken over by the next command that needs it (aws/lock.py); this is for one that must be cleared from elsewhere."""

from __future__ import annotations

from ..aws import lock
from ..aws.clients import print_header
from ..context import Ctx
from ..errors import UserError
from ..options import ForceUnlockOptions
from ..outcomes import Outcome, Result, result_of


def force_unlock(ctx: Ctx, opts: ForceUnlockOptions) -> Result:
    env, console = ctx.env, ctx.console
    print_header(ctx)
    current = lock.read(ctx)
    if current is None:
        console.ok(f"{env.name} has no deploy lease: nothing to break")
        return Result(Outcome.NO_CHANGES)
    now = ctx.wall()
    console.line(f"the deploy lease of {env.name}: {current.describe()}; {lock.state_of(current, now)}")
    if current.id != opts.id:
        raise UserError(f"the deploy lease of {env.name} is {current.id}, not {opts.id}; nothing changed. A lease you "
                        f"do not name is never broken: `invoke force-unlock --env {env.name} --id {current.id}` "
                        "breaks that one")
    if lock.gone_reason(current, now):
        console.line("breaking it is not needed: the next release, rollback or stack-update takes it over and "
                     "settles what it left")
    elif lock.process_gone(current) is False:
        console.warn(f"its process {current.pid} still runs on this host: stop it first (Ctrl-C, `kill "
                     f"{current.pid}`), or two deployments run at once and roll each other back")
    else:
        console.warn("break it only if that command is not running any more (a lost machine, a job stuck beyond "
                     "cancelling); two deployments at once roll each other back")
    refused = ctx.confirmed(f"break the deploy lease {current.id} of {env.name}?", opts.yes)
    if refused:
        return result_of(refused)
    lock.force_unlock(ctx, opts.id)
    console.ok(f"broken: {env.name} has no deploy lease. Next: `invoke release-status --env {env.name}` shows where "
               "the services are; the next release, rollback or stack-update settles a release left in progress")
    return Result(Outcome.APPLIED)
