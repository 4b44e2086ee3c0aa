"""promote: the image a source environment released and tested goes, by digest, to the target, then is released.

Each environment keeps its own repository (copy, not a shared repository with per-environment tags):
prod's images cannot be overwritten or expired by staging's lifecycle rules or by anyone who can push to
staging, and deleting one environment never takes another's images. The copy costs a second stored copy
of each promoted image (cents a month). The digest in the target must equal the source's; a tag whose
release failed in the source, or that was never released there, is refused. The target's whole preflight
runs before the copy, so a refusal there changes nothing.
"""

from __future__ import annotations

from ..aws.clients import print_header
from ..aws.lock import deployment
from ..aws.release import apply_release, describe_release, plan_promotion
from ..config import check_promotion
from ..context import Ctx
from ..options import PromoteOptions
from ..outcomes import Result, result_of


def promote(ctx: Ctx, opts: PromoteOptions) -> Result:
    source = ctx.environment(opts.from_)
    check_promotion(source, ctx.env)
    print_header(ctx)
    with deployment(ctx, f"promote --tag {opts.tag} --from {source.name}", opts.timeout):
        plan = plan_promotion(ctx, source, opts.tag, opts.timeout)
        describe_release(ctx, plan)
        return result_of(apply_release(ctx, plan))
