"""promote: the image a source environment released and tested goes, by digest, to the target, then is released.

Each environment keeps its own repository (copy, not a shared repository with per-environment tags):
prod's images cannot be overwritten or expired by staging's lifecycle rules or by anyone who can push to
staging, and deleting one environment never takes another's images. The copy costs a second stored copy
of each promoted image (cents a month). The digest in the target must equal the source's; a tag whose
release failed in the source, or that was never released there, is refused. The target's whole preflight
runs before the copy, so a refusal there changes nothing.
"""

from __future__ import annotations

from ..aws import history
from ..aws.clients import print_header
from ..aws.images import find_image
from ..aws.release import ReleaseRequest, apply_release, describe_release, plan_release
from ..aws.stacks import require_stack
from ..context import Ctx
from ..contract import REPOSITORY_NAME, REPOSITORY_URI, service_keys
from ..errors import UserError
from ..options import PromoteOptions
from ..outcomes import Outcome


def promote(ctx: Ctx, opts: PromoteOptions) -> Outcome:
    source, target = ctx.environment(opts.from_), ctx.env
    if source.account_id != target.account_id:
        raise UserError(f"{source.name} and {target.name} live in different accounts: promote copies within one "
                        "account (see docs/operations.md, \"Promotion\")")
    print_header(ctx)
    outcome = history.tag_outcome(history.load(ctx, source), opts.tag)
    if outcome is None:
        raise UserError(f"{opts.tag[:60]} was never released to {source.name}: release and test it there first")
    if outcome != history.SUCCEEDED:
        raise UserError(f"the release of {opts.tag[:60]} to {source.name} {outcome}: only a tag that succeeded there "
                        "is promoted")
    src = require_stack(ctx, source).outputs
    digest = find_image(ctx.client("ecr"), src[REPOSITORY_NAME], opts.tag)
    if digest is None:
        raise UserError(f"{opts.tag} is not in {src[REPOSITORY_NAME]} any more (expired by its lifecycle rule?)")
    ctx.console.line(f"promote {opts.tag} ({digest[:19]}) from {source.name} to {target.name}")
    plan = plan_release(ctx, ReleaseRequest(tag=opts.tag, keys=tuple(service_keys("all")), build=False,
                                            timeout=opts.timeout, copy_from=f"{src[REPOSITORY_URI]}@{digest}"))
    describe_release(ctx, plan)
    return apply_release(ctx, plan)
