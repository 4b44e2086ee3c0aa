"""promote: the image a source environment released and tested goes, by digest, to the target, then is released.

Each environment keeps its own repository (copy, not a shared repository with per-environment tags):
prod's images cannot be overwritten or expired by staging's lifecycle rules or by anyone who can push to
staging, and deleting one environment never takes another's images. The copy costs a second stored copy
of each promoted image (cents a month). The digest in the target must equal the source's; a tag whose
release failed in the source, or that was never released there, is refused.
"""

from __future__ import annotations

from .. import contract as out
from ..aws import history
from ..aws.clients import ClientSource, verify_account
from ..context import Clock, Sleep
from ..config import Environment
from ..console import Console
from ..errors import UserError
from ..aws.images import Runner, docker_login, find_image
from ..options import PromoteOptions, ReleaseOptions
from ..outcomes import JOURNAL, Outcome
from ..aws.stacks import require_stack


def promote(aws: ClientSource, source: Environment, target: Environment, console: Console, opts: PromoteOptions,
            runner: Runner, clock: Clock, sleep: Sleep) -> Outcome:
    from .release import release

    if source.account_id != target.account_id:
        raise UserError(f"{source.name} and {target.name} live in different accounts: promote copies within one "
                        "account (see docs/operations.md, \"Promotion\")")
    verify_account(aws, target)  # release prints the environment's header when it starts
    outcome = history.tag_outcome(history.load(aws.client("ssm"), source), opts.tag)
    if outcome is None:
        raise UserError(f"{opts.tag[:60]} was never released to {source.name}: release and test it there first")
    if outcome != history.SUCCEEDED:
        raise UserError(f"the release of {opts.tag[:60]} to {source.name} {outcome}: only a tag that succeeded there "
                        "is promoted")
    cfn, ecr = aws.client("cloudformation"), aws.client("ecr")
    src = require_stack(cfn, source.stack_name, source.name).outputs
    dst = require_stack(cfn, target.stack_name, target.name).outputs
    digest = find_image(ecr, src[out.REPOSITORY_NAME], opts.tag)
    if digest is None:
        raise UserError(f"{opts.tag} is not in {src[out.REPOSITORY_NAME]} any more (expired by its lifecycle rule?)")
    present = find_image(ecr, dst[out.REPOSITORY_NAME], opts.tag)
    if present not in (None, digest):
        raise UserError(f"{dst[out.REPOSITORY_NAME]}:{opts.tag} exists with another digest ({present[:19]}); "
                        "release tags are immutable")
    console.line(f"promote {opts.tag} ({digest[:19]}) from {source.name} to {target.name}")
    if present is None:
        source_image, target_image = f"{src[out.REPOSITORY_URI]}@{digest}", f"{dst[out.REPOSITORY_URI]}:{opts.tag}"
        docker_login(aws, runner, console)
        for cmd in (["docker", "pull", source_image], ["docker", "tag", source_image, target_image],
                    ["docker", "push", target_image]):
            console.line("$ " + " ".join(cmd))
            if runner(cmd, None) != 0:
                raise UserError(f"`{' '.join(cmd)}` failed; nothing was deployed")
        JOURNAL.record(f"copied {opts.tag} into {dst[out.REPOSITORY_NAME]}", f"`invoke release-status --env {target.name}`")
        copied = find_image(ecr, dst[out.REPOSITORY_NAME], opts.tag)
        if copied != digest:
            console.error(f"the copy in {dst[out.REPOSITORY_NAME]} has digest {str(copied)[:19]}, not {digest[:19]}: "
                          "not released")
            return Outcome.NEEDS_HUMAN
    console.ok(f"{target.name} has {opts.tag} with the same digest {digest[:19]}")
    return release(aws, target, console, ReleaseOptions(tag=opts.tag, no_build=True, timeout=opts.timeout,
                                                        poll_seconds=opts.poll_seconds), runner, clock, sleep)
