"""One deployment at a time per environment: a lease that AWS holds, renewed while its command runs.

The lease is the SSM parameter `/<project>/<env>/deploy-lock`, created only if absent (PutParameter without
Overwrite fails with ParameterAlreadyExists: AWS decides who is first). It names its holder: the user, the host and
the process (its pid, and on Linux the boot and PID namespace that give the pid a meaning, and the process's start
time), the GitHub Actions run when there is one (repository, run id, attempt, job), the command, since when and
until when. It runs LEASE_SECONDS from its last renewal, and a thread of the holding command renews it every
RENEW_SECONDS for as long as the command runs, whatever it is doing (a build, a watch, a prompt). release, rollback,
promote, deliver, stack-update, stack-delete, adopt and a `--restart` of secrets-set, secrets-rotate or config-set
take it. It is deleted when the command ends, however it ends short of SIGKILL.

The next command that needs the lease takes it over, without anybody breaking it, when its holder is certainly
gone (`gone_reason`):
- its lease expired: nobody renewed it for LEASE_SECONDS (and CLOCK_SKEW_SECONDS): the process was killed, its
  machine lost, or cut off from AWS that long;
- its process is gone: the lease was taken on this machine (same boot, same PID namespace) and that pid no longer
  runs that process;
- it was an earlier attempt of this GitHub Actions workflow run: GitHub re-runs a job only once the run has ended,
  and by then it has killed every process of the earlier attempt.
A holder whose process still runs on this machine is never taken over, expired or not.

Taking over is guarded, since SSM has no compare-and-swap: a taker first creates `deploy-lock-takeover` (only if
absent, the same atomic step), naming the lease it takes over. Of two commands that find the same gone holder at
once, one creates it; the other is refused (exit 2, nothing changed). Holding it, the taker re-reads the lease,
deletes it only if it is still the gone holder's, creates its own (only if absent: a command that found no lease
in between wins fairly), and deletes the claim. A claim older than TAKEOVER_SECONDS (its taker died mid-way) is
removed by the next taker. `deployment()` then settles what the gone holder left (`settle_takeover`): it waits,
within the command's timeout, for a deployment ECS is still running for it, and settles the release it left
"in progress" (history.reconcile_with_ecs), and says so.

`invoke force-unlock --env ENV --id ID` deletes a lease on purpose (a holder that is alive but must be stopped
from elsewhere); `invoke release-status` shows the lease (`status`).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any, Iterator

from ..config import Environment
from ..console import elapsed
from ..context import Ctx
from ..errors import UserError, error_code

LOCK_PARAMETER = "deploy-lock"
TAKEOVER_PARAMETER = "deploy-lock-takeover"
LEASE_SECONDS = 120        # a lease runs this long after its last renewal
RENEW_SECONDS = 30         # its command renews it this often (four chances before it runs out)
CLOCK_SKEW_SECONDS = 10    # two machines' clocks may disagree this much; an expiry counts only after it
TAKEOVER_SECONDS = 60      # a takeover claim older than this was left by a taker that died mid-way
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class GitHubRun:
    """The GitHub Actions workflow run a command runs in (from the runner's GITHUB_* variables)."""
    repository: str
    run_id: str
    attempt: int
    job: str
    server: str = "https://github.com"

    @property
    def url(self) -> str:
        return f"{self.server}/{self.repository}/actions/runs/{self.run_id}/attempts/{self.attempt}"

    def describe(self) -> str:
        return f"GitHub Actions run {self.run_id} attempt {self.attempt}, job {self.job or '?'} ({self.url})"

    @staticmethod
    def from_environment(environ: Any = None) -> GitHubRun | None:
        environ = os.environ if environ is None else environ
        run_id = str(environ.get("GITHUB_RUN_ID", "")).strip()
        if not run_id:
            return None
        attempt = str(environ.get("GITHUB_RUN_ATTEMPT", "")).strip()
        return GitHubRun(str(environ.get("GITHUB_REPOSITORY", ""))[:140], run_id[:40],
                         int(attempt) if attempt.isdigit() else 1, str(environ.get("GITHUB_JOB", ""))[:100],
                         str(environ.get("GITHUB_SERVER_URL", "") or "https://github.com")[:100])


@dataclass(frozen=True)
class Holder:
    """Who holds an environment's lease, as its parameter says. A lease written by an earlier version of this
    tool lacks the process and run fields (it is taken over only once it expires)."""
    id: str
    owner: str          # user@host (pid N)
    command: str
    started: str        # ISO 8601 UTC
    expires: str
    expires_at: float   # seconds since the epoch
    user: str = ""
    host: str = ""
    pid: int = 0
    machine: str = ""           # Linux: boot id and PID namespace; "" where a pid cannot be checked
    process_start: str = ""     # the process's start time (clock ticks after boot): a reused pid is another one
    run: GitHubRun | None = None
    renewed: str = ""
    renewed_at: float = 0
    timeout: float = 0          # the command's own timeout, in seconds

    def describe(self) -> str:
        run = f", in {self.run.describe()}" if self.run else ""
        return f"{self.owner} running `{self.command}` since {self.started}{run} (lease {self.id})"

    def as_json(self) -> str:
        d = asdict(self)
        if self.run is None:
            d.pop("run")
        return json.dumps(d, sort_keys=True)

    @staticmethod
    def from_json(value: str) -> Holder:
        try:
            d = json.loads(value)
            run = d.get("run")
            return Holder(str(d["id"]), str(d["owner"]), str(d["command"]), str(d["started"]), str(d["expires"]),
                          float(d["expires_at"]), str(d.get("user", "")), str(d.get("host", "")),
                          int(d.get("pid") or 0), str(d.get("machine", "")), str(d.get("process_start", "")),
                          GitHubRun(str(run["repository"]), str(run["run_id"]), int(run["attempt"]),
                                    str(run.get("job", "")), str(run.get("server") or "https://github.com"))
                          if isinstance(run, dict) else None,
                          str(d.get("renewed", "")), float(d.get("renewed_at") or 0), float(d.get("timeout") or 0))
        except (ValueError, KeyError, TypeError, AttributeError):
            return Holder(UNREADABLE, "unknown", "unknown", "unknown", "unknown", 0.0)


@dataclass(frozen=True)
class Takeover:
    """A lease this command took over: whose it was, and why that holder counts as gone."""
    previous: Holder
    why: str


def lock_name(env: Environment) -> str:
    return f"{env.parameter_prefix}/{LOCK_PARAMETER}"


def takeover_name(env: Environment) -> str:
    return f"{env.parameter_prefix}/{TAKEOVER_PARAMETER}"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# ---------------------------------------------------------------- this process, and whether another is gone

def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def machine_key() -> str:
    """What makes a pid mean one process: this boot of this machine and this PID namespace (a container has its
    own). "" where that cannot be known (not Linux): then only expiry ends a lease taken there."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
    return f"{boot}/{namespace}" if boot else ""


def _process_state(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks after boot) of `pid` on this machine, or None when there is none."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat or ")" not in stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def process_gone(holder: Holder) -> bool | None:
    """True when the holder's process certainly no longer runs (its lease was taken on this machine and that pid
    is gone, a zombie, or another process now); False when it runs here; None when this machine cannot tell."""
    if not holder.machine or not holder.pid or holder.machine != machine_key():
        return None
    state = _process_state(holder.pid)
    if state is None or state[0] in ("Z", "X"):
        return True
    return bool(holder.process_start) and state[1] != holder.process_start


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "someone"


def this_holder(ctx: Ctx, command: str, seconds: float = 0) -> Holder:
    """A new lease for this process, running LEASE_SECONDS from now."""
    now, pid = ctx.wall(), os.getpid()
    user, host = _user(), socket.gethostname()
    state = _process_state(pid)
    return Holder(f"{int(now * 1000):x}-{pid}", f"{user}@{host} (pid {pid})", command, _iso(now),
                  _iso(now + LEASE_SECONDS), now + LEASE_SECONDS, user, host, pid, machine_key(),
                  state[1] if state else "", GitHubRun.from_environment(), _iso(now), now, float(seconds))


def gone_reason(holder: Holder, now: float, run: GitHubRun | None = None) -> str:
    """Why `holder` is certainly gone, so that its lease may be taken over; "" when it may still be working."""
    if holder.id == UNREADABLE:
        return ""
    gone = process_gone(holder)
    if gone is False:
        return ""  # it runs on this machine: never taken over, whatever its lease says
    if gone:
        return f"its process {holder.pid} on this host ({holder.host}) is gone"
    if now > holder.expires_at + CLOCK_SKEW_SECONDS:
        renewed = f" (last renewed {holder.renewed})" if holder.renewed else ""
        return (f"its lease expired at {holder.expires}{renewed}: its process was killed, its machine lost, or "
                "it was cut off from AWS")
    run = GitHubRun.from_environment() if run is None else run
    mine = holder.run
    if mine and run and (mine.repository, mine.run_id) == (run.repository, run.run_id) and mine.attempt < run.attempt:
        return (f"it was attempt {mine.attempt} of this workflow run, which GitHub ended before starting attempt "
                f"{run.attempt}")
    return ""


# ---------------------------------------------------------------- reading, taking, giving back

def read(ctx: Ctx) -> Holder | None:
    """Who holds the environment's lease, or None. A value this tool did not write is shown as unreadable."""
    value = _get(ctx, lock_name(ctx.env))
    return None if value is None else Holder.from_json(value)


def _get(ctx: Ctx, name: str) -> str | None:
    try:
        return ctx.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except Exception as e:
        if error_code(e) == "ParameterNotFound":
            return None
        raise


def _create(ctx: Ctx, name: str, value: str, description: str) -> bool:
    """PutParameter without Overwrite: True when this call created it, False when it exists already."""
    try:
        ctx.client("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=False,
                                        Description=description)
    except Exception as e:
        if error_code(e) != "ParameterAlreadyExists":
            raise
        return False
    return True


def _delete(ctx: Ctx, name: str) -> None:
    try:
        ctx.client("ssm").delete_parameter(Name=name)
    except Exception as e:
        if error_code(e) != "ParameterNotFound":
            raise


def acquire(ctx: Ctx, command: str, seconds: float = 0) -> Holder:
    """Take the environment's lease for this process (taking over a gone holder's), or refuse (UserError, exit
    2) naming who holds it. `seconds` is the command's own timeout, kept in the lease for whoever reads it."""
    return take(ctx, command, seconds)[0]


def take(ctx: Ctx, command: str, seconds: float = 0) -> tuple[Holder, Takeover | None]:
    """acquire(), and the takeover when the lease was a gone holder's."""
    for _ in range(3):
        mine = this_holder(ctx, command, seconds)
        if _create(ctx, lock_name(ctx.env), mine.as_json(), "portyfoul-infra: who is deploying to this environment "
                   "now (a lease its command renews)"):
            return mine, None
        other = read(ctx)
        if other is None:
            continue  # given back between our attempt and our read: try again
        why = gone_reason(other, ctx.wall())
        if not why and _watchable(other):
            other, why = _watch(ctx, other)
            if other is None:
                continue
        if not why:
            raise UserError(refusal(ctx, other))
        mine = this_holder(ctx, command, seconds)  # from now: watching may have taken minutes
        if _take_over(ctx, other, mine):
            return mine, Takeover(other, why)
    raise UserError(f"the deploy lease of {ctx.env.name} changed hands several times while this command tried to "
                    f"take it; nothing changed. See who holds it (`invoke release-status --env {ctx.env.name}`) and "
                    "run this again")


def _watchable(holder: Holder) -> bool:
    """A lease held on another machine, by a version of this tool that renews it: whether its holder is alive
    shows within one renewal."""
    return holder.id != UNREADABLE and holder.renewed_at > 0 and process_gone(holder) is None


def _watch(ctx: Ctx, seen: Holder) -> tuple[Holder | None, str]:
    """Watch a lease held elsewhere until it is renewed (its command is alive: the caller refuses), given back, or
    runs out (its command is gone: the caller takes it over). A live holder renews within RENEW_SECONDS; a gone
    one's lease runs out within LEASE_SECONDS. Returns (the lease now, why its holder is gone, or "")."""
    from .wait import poll_until

    wall0, clock0 = ctx.wall(), ctx.clock()
    limit = max(seen.expires_at + CLOCK_SKEW_SECONDS - wall0, 0) + 1

    def now() -> float:  # the wall clock, advanced by the waiting clock (tests drive the latter)
        return max(ctx.wall(), wall0 + ctx.clock() - clock0)

    ctx.console.line(f"the deploy lease of {ctx.env.name} is held on another machine: {seen.describe()}. Waiting up "
                     f"to {elapsed(limit)}: renewed, its command is alive and this one is refused; run out, its "
                     "command is gone and this one takes it over")
    polled = poll_until(ctx, lambda: read(ctx), lambda current: current != seen or bool(gone_reason(seen, now())),
                        timeout=limit, interval=5.0, waiting="watching the deploy lease")
    current = polled.value
    if current is None:
        return None, ""
    return current, gone_reason(current, now())


def _take_over(ctx: Ctx, gone: Holder, mine: Holder) -> bool:
    """Replace `gone`'s lease with `mine` under the takeover claim. True when done; False when the lease changed
    since it was read (the caller looks again); UserError when another command is taking it over now."""
    env, now = ctx.env, ctx.wall()
    claim = json.dumps({"of": gone.id, "by": mine.id, "owner": mine.owner, "at": now, "since": _iso(now)},
                       sort_keys=True)
    description = "portyfoul-infra: a command taking over the deploy lease of a command that is gone"
    if not _create(ctx, takeover_name(env), claim, description):
        _clear_stale_claim(ctx, gone, now)
        if not _create(ctx, takeover_name(env), claim, description):
            raise UserError(_contended(ctx, gone))
    try:
        if read(ctx) != gone:
            return False  # given back, renewed or taken since we looked
        _delete(ctx, lock_name(env))
        return _create(ctx, lock_name(env), mine.as_json(), "portyfoul-infra: who is deploying to this environment "
                       "now (a lease its command renews)")
    finally:
        _drop_claim(ctx, claim)


def _clear_stale_claim(ctx: Ctx, gone: Holder, now: float) -> None:
    """Delete a takeover claim whose taker died mid-way (older than TAKEOVER_SECONDS); refuse while one is fresh."""
    value = _get(ctx, takeover_name(ctx.env))
    if value is None:
        return
    try:
        at = float(json.loads(value)["at"])
    except (ValueError, KeyError, TypeError):
        at = 0.0
    if now <= at + TAKEOVER_SECONDS:
        raise UserError(_contended(ctx, gone, value))
    if _get(ctx, takeover_name(ctx.env)) != value:
        return
    try:
        _delete(ctx, takeover_name(ctx.env))
    except Exception as e:
        if "AccessDenied" not in error_code(e):
            raise
        env = ctx.env.name
        raise UserError(f"a takeover claim left since {_iso(at)} ({takeover_name(ctx.env)}) blocks taking over the "
                        f"deploy lease of {env} from {gone.describe()}, and these credentials may not delete it; "
                        f"nothing changed. Give the deploy role that right (`invoke deploy-role --env {env} --yes`), "
                        f"or break the gone holder's lease on purpose: `invoke force-unlock --env {env} --id "
                        f"{gone.id}`") from None


def _drop_claim(ctx: Ctx, claim: str) -> None:
    try:
        if _get(ctx, takeover_name(ctx.env)) == claim:
            _delete(ctx, takeover_name(ctx.env))
    except Exception as e:  # noqa: BLE001 - the lease is taken; a claim left behind expires by itself
        ctx.console.warn(f"could not remove the takeover claim {takeover_name(ctx.env)} ({error_code(e) or e}): the "
                         f"next takeover clears it after {TAKEOVER_SECONDS} s, if it may; a deploy role made before "
                         f"the lease may not: `invoke deploy-role --env {ctx.env.name} --yes` gives it that right")


def _contended(ctx: Ctx, gone: Holder, claim: str | None = None) -> str:
    env = ctx.env.name
    try:
        who = f" ({json.loads(claim)['owner']})" if claim else ""
    except (ValueError, KeyError, TypeError):
        who = ""
    return (f"another command{who} is taking over the deploy lease of {env} from {gone.describe()} at this moment; "
            f"nothing changed. It settles what that one left; see it (`invoke release-status --env {env}`) and run "
            "this again when it is done")


def refusal(ctx: Ctx, other: Holder) -> str:
    """Why a command cannot have the lease `other` holds, and what to run: one line, nothing changed."""
    env = ctx.env.name
    return (f"another deployment holds {env}: {other.describe()}; {state_of(other, ctx.wall())}. Nothing changed. "
            f"Wait for it (`invoke release-status --env {env}` shows the lease and the rollout), then run this "
            f"again; to stop a holder that is stuck, break its lease on purpose: "
            f"`invoke force-unlock --env {env} --id {other.id}`")


def state_of(holder: Holder, now: float) -> str:
    """The lease's state in words: whether it runs, expired, or its holder is gone, and what the next command does."""
    if holder.id == UNREADABLE:
        return "its value is not what this tool writes, so it is never taken over"
    gone, why = process_gone(holder), gone_reason(holder, now)
    if why:
        return f"{why}: the next release, rollback or stack-update takes the lease over and settles what it left"
    if gone is False:
        expiry = f"its lease expired at {holder.expires}, but " if now > holder.expires_at else ""
        return f"{expiry}its process {holder.pid} still runs on this host"
    if now > holder.expires_at:
        return (f"its lease expired at {holder.expires}; the next command takes it over once {CLOCK_SKEW_SECONDS} "
                "s more have passed (clocks differ)")
    if not holder.renewed_at:
        return (f"its lock runs until {holder.expires} (in {elapsed(holder.expires_at - now)}): an earlier version "
                "of this tool took it, which does not renew it; the next command takes it over after that")
    return (f"its lease runs until {holder.expires} (in {elapsed(holder.expires_at - now)}) and is renewed while its "
            "command runs; if that command is gone, the next one takes the lease over when it runs out")


def renew(ctx: Ctx, holder: Holder) -> tuple[Holder | None, str]:
    """Extend our lease by LEASE_SECONDS from now: (the renewed holder, "") or (None, why it is no longer ours).
    A lease that has run out is not renewed: another command may have taken it over since."""
    now, current = ctx.wall(), read(ctx)
    if current is None or current.id != holder.id:
        return None, "it was broken (`invoke force-unlock`) or taken over"
    if now >= current.expires_at:
        return None, f"it ran out at {current.expires} before it could be renewed (was this machine asleep?)"
    renewed = replace(current, renewed=_iso(now), renewed_at=now, expires=_iso(now + LEASE_SECONDS),
                      expires_at=now + LEASE_SECONDS)
    ctx.client("ssm").put_parameter(Name=lock_name(ctx.env), Value=renewed.as_json(), Type="String", Overwrite=True)
    return renewed, ""


def release(ctx: Ctx, holder: Holder) -> None:
    """Give the lease back, if it is still ours (a lease someone broke and took is theirs)."""
    current = read(ctx)
    if current is not None and current.id == holder.id:
        ctx.client("ssm").delete_parameter(Name=lock_name(ctx.env))


class Renewer:
    """Renews a lease every RENEW_SECONDS on a thread of its own while the command works; stopped before the lease
    is given back, so a renewal never writes a lease that was just deleted."""

    def __init__(self, ctx: Ctx, holder: Holder, every: float = RENEW_SECONDS) -> None:
        self.ctx, self.holder, self.every = ctx, holder, every
        self.lost = ""
        self._stop = threading.Event()
        self._turn = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"lease {holder.id}", daemon=True)

    def start(self) -> Renewer:
        self._thread.start()
        return self

    def _run(self) -> None:
        failures = 0
        while not self._stop.wait(self.every):
            with self._turn:
                if self._stop.is_set():
                    return
                try:
                    renewed, why = renew(self.ctx, self.holder)
                except Exception as e:  # noqa: BLE001 - AWS unreachable for a moment: the next turn tries again
                    failures += 1
                    if failures == 1:
                        self.ctx.console.warn(f"could not renew the deploy lease of {self.ctx.env.name} "
                                              f"({error_code(e) or type(e).__name__}); trying again")
                    continue
                failures = 0
                if renewed is None:
                    self.lost = why
                    self.ctx.console.warn(f"the deploy lease of {self.ctx.env.name} is no longer this command's: "
                                          f"{why}. Another command may deploy at the same time: check "
                                          f"`invoke release-status --env {self.ctx.env.name}`")
                    return
                self.holder = renewed

    def stop(self) -> None:
        self._stop.set()
        with self._turn:
            pass
        self._thread.join(timeout=5)


@contextmanager
def _leased(ctx: Ctx, command: str, seconds: float) -> Iterator[tuple[Holder, Takeover | None]]:
    holder, takeover = take(ctx, command, seconds)
    renewer = Renewer(ctx, holder).start()
    try:
        yield holder, takeover
    finally:
        renewer.stop()
        try:
            release(ctx, holder)
        except (Exception, KeyboardInterrupt):  # the command's own ending matters more; say how to clean up
            ctx.console.warn(f"could not give back the deploy lease {holder.id} of {ctx.env.name}: it runs out "
                             f"within {LEASE_SECONDS} s and the next command takes it over; to clear it now: "
                             f"`invoke force-unlock --env {ctx.env.name} --id {holder.id} --yes`")


@contextmanager
def deploy_lock(ctx: Ctx, command: str, seconds: float = 0) -> Iterator[Holder]:
    """Hold the environment's lease while the block runs, renewed; give it back however the block ends."""
    with _leased(ctx, command, seconds) as (holder, _):
        yield holder


def force_unlock(ctx: Ctx, lock_id: str) -> Holder | None:
    """Break the lease `lock_id` on purpose; the holder it was (None: no lease). Refuses another id."""
    current = read(ctx)
    if current is None:
        return None
    if current.id != lock_id:
        raise UserError(f"the deploy lease of {ctx.env.name} is {current.id} ({current.describe()}), not {lock_id}; "
                        f"nothing changed. To break that one: `invoke force-unlock --env {ctx.env.name} --id "
                        f"{current.id}`")
    ctx.client("ssm").delete_parameter(Name=lock_name(ctx.env))
    return current


# ---------------------------------------------------------------- settling what a gone holder left

@contextmanager
def deployment(ctx: Ctx, command: str, seconds: float, settle_history: bool = True,
               wait_for_ecs: bool = True) -> Iterator[Holder]:
    """The lease for a command that changes what runs (`seconds`: its timeout), and, holding it, the release
    history settled: a record left "in progress" by a process that is gone is reconciled with what ECS says. A
    lease taken over from a gone holder is settled in full first (settle_takeover), whatever `settle_history`."""
    with _leased(ctx, command, seconds) as (holder, takeover):
        if takeover is not None:
            settle_takeover(ctx, takeover, seconds, wait_for_ecs)
        elif settle_history:
            from .history import reconcile_with_ecs
            for note in reconcile_with_ecs(ctx):
                ctx.console.warn(note)
        yield holder


def settle_takeover(ctx: Ctx, takeover: Takeover, timeout: float, wait_for_ecs: bool = True) -> None:
    """After taking a gone holder's lease: say so, wait (within `timeout`) for the deployments ECS is still running
    (the gone command's), then settle the release records it left in progress. A deployment still running at
    the timeout is refused (UserError) with what to run; nothing of this command has changed anything yet."""
    from .deployments import short_td
    from .history import reconcile_with_ecs
    from .services import read_services
    from .stacks import describe_stack
    from .wait import poll_until

    env, console = ctx.env.name, ctx.console
    console.warn(f"took over the deploy lease of {env} from {takeover.previous.describe()}: {takeover.why}")
    stack = describe_stack(ctx.client("cloudformation"), ctx.env.stack_name)
    live = read_services(ctx, stack=stack) if stack is not None else None
    busy = {s.key: s.busy for s in live or () if s.busy}
    if busy and wait_for_ecs and live is not None:
        console.line(f"ECS is still running the deployment it left ({', '.join(f'{k} {d}' for k, d in busy.items())})"
                     f": waiting up to {elapsed(timeout)} for it to end")
        stack_info = live.stack
        polled = poll_until(ctx, lambda: read_services(ctx, list(busy), stack=stack_info),
                            lambda now: not any(s.busy for s in now), timeout=timeout, interval=5.0,
                            waiting="waiting for the deployment the gone command left")
        still = {s.key: s.busy for s in polled.value if s.busy}
        if still:
            raise UserError(
                f"ECS is still running the deployment the gone command left after {elapsed(timeout)} "
                f"({', '.join(f'{k} {d}' for k, d in still.items())}); nothing changed. Wait for it and run this "
                f"again (`invoke release-status --env {env}` shows the rollout), or, if nothing will finish it, "
                f"replace it: " + ", ".join(f"`invoke rollback --env {env} --service {k} --replace-deployment`"
                                            for k in still))
        live = polled.value
    if live is not None and live.services:
        now = "; ".join(f"{s.key} on {short_td(s.task_definition_arn)} ({s.tag})"
                        + (f", still deploying {s.busy}" if s.busy else "") for s in live)
        if not busy:
            console.line(f"ECS runs no deployment it left: {now}")
        elif wait_for_ecs:
            console.line(f"ECS finished the deployment it left: {now}")
        else:
            console.line(f"ECS is still running the deployment it left, which this command replaces: {now}")
    notes = reconcile_with_ecs(ctx)
    for note in notes:
        console.warn(note)
    if not notes:
        console.line("it left no release or rollback in progress in the history")


# ---------------------------------------------------------------- what release-status shows

def status(ctx: Ctx, holder: Holder | None) -> dict | None:
    """The lease as release-status's document shows it (docs/operations.md, "JSON output"); None: no lease."""
    if holder is None:
        return None
    now = ctx.wall()
    run = holder.run
    return {
        "id": holder.id, "command": holder.command, "owner": holder.owner, "user": holder.user or None, "host": holder.host or None,
        "pid": holder.pid or None,
        "run": None if run is None else {"repository": run.repository, "run_id": run.run_id, "attempt": run.attempt,
                                         "job": run.job or None, "url": run.url},
        "since": holder.started if holder.id != UNREADABLE else None, "renewed": holder.renewed or None,
        "until": holder.expires if holder.id != UNREADABLE else None,
        "expired": holder.id != UNREADABLE and now > holder.expires_at,
        "holder_gone": process_gone(holder),
        "next_command_takes_over": bool(gone_reason(holder, now)),
        "state": state_of(holder, now),
        "force_unlock": f"invoke force-unlock --env {ctx.env.name} --id {holder.id}",
    }
