"""The release history keeps every way back: one SSM parameter per record, what it keeps, how it reads and
refuses, how an old single-parameter history moves into it, and the issue's scenario end to end.

Most tests are pure (retention, parsing, ids) or run the module on the fake parameter store in-process; a few
run it on the local AWS (moto, in-process through make_ctx); one runs real releases and rollbacks there.
"""

from __future__ import annotations

import json
import random
from itertools import count

import boto3
import pytest

from portyfoul_infra.aws import history
from portyfoul_infra.aws.history import (
    FAILED,
    IN_PROGRESS,
    KEEP_GOOD,
    KEEP_RECENT,
    SUCCEEDED,
    HistoryError,
    ReleaseRecord,
    ServiceChange,
    last_good,
    retained,
    tag_outcome,
)
from portyfoul_infra.contract import SERVICES
from portyfoul_infra.options import ReleaseOptions, RollbackOptions
from portyfoul_infra.outcomes import Outcome, failure_exit
from support import make_ctx
from support.fake_ecs import FakeEcs, complete, progress, release_clients
from support.fakes import FakeAws, FakeParameterStore

STORE = "/portyfoul/dev/releases"
LEGACY = "/portyfoul/dev/release-history"
LEGACY_COPY = "/portyfoul/dev/release-history-last-good"
T0 = 1_790_000_000.0   # 2026-09-21: ids are milliseconds since the epoch, in hex


# ---------- a history made the way the tools make it: a small simulation of releases and rollbacks

class Simulation:
    """Releases (good or bad, of some services) and rollbacks as release and rollback record them, with what
    each service runs; `prune` drops what the store would drop after each write, as start() does."""

    def __init__(self, prune: bool = False):
        self.records: list[ReleaseRecord] = []      # newest first
        self.everything: list[ReleaseRecord] = []   # never pruned
        self.prune = prune
        self.revisions = count(2)
        self.ids = count(1)
        self.running = {key: (f"{key}:1", "v0") for key in SERVICES}

    def _add(self, record: ReleaseRecord) -> ReleaseRecord:
        self.records.insert(0, record)
        self.everything.insert(0, record)
        if self.prune:
            self.records = retained(self.records)
        return record

    def _record(self, kind, tag, outcome, changes) -> ReleaseRecord:
        n = next(self.ids)
        return ReleaseRecord(f"{n:x}", kind, tag, f"sha256:{n}", "2026-11-26T00:00:00Z", changes, outcome)

    def release(self, tag: str, ok: bool = True, keys=tuple(SERVICES)) -> ReleaseRecord:
        changes = {k: ServiceChange(self.running[k][0], f"{k}:{next(self.revisions)}") for k in keys}
        if ok:
            for k, c in changes.items():
                self.running[k] = (c.deployed, tag)
        return self._add(self._record("release", tag, SUCCEEDED if ok else FAILED, changes))

    def rollback(self, key: str, to: str = "") -> ReleaseRecord | None:
        target = last_good(self.records, key, *self.running[key], to)
        if target is None:
            return None
        change = ServiceChange(self.running[key][0], target.services[key].deployed)
        self.running[key] = (change.deployed, target.tag)
        return self._add(self._record("rollback", target.tag, SUCCEEDED, {key: change}))

    def target(self, records: list[ReleaseRecord], key: str, to: str = "") -> str | None:
        found = last_good(records, key, *self.running[key], to)
        return found.id if found else None


def good_releases(records: list[ReleaseRecord], key: str) -> list[ReleaseRecord]:
    return [r for r in records if r.kind == "release" and r.outcome == SUCCEEDED and key in r.services]


# ---------- what is kept

def test_the_issues_history_keeps_every_way_back_after_many_failures():
    """Three good releases, then failures far beyond what the old 4 KB parameter held: rollback and --to each
    good tag still find their release."""
    sim = Simulation(prune=True)
    for tag in ("demo0001", "demo0002", "demo0003"):
        sim.release(tag)
    for i in range(60):
        sim.release(f"demo1{i:03}-crash", ok=False)
    assert len(sim.records) == KEEP_RECENT + KEEP_GOOD
    for key in SERVICES:
        assert last_good(sim.records, key, *sim.running[key]).tag == "demo0002"
        for tag in ("demo0001", "demo0002"):
            assert last_good(sim.records, key, *sim.running[key], tag).tag == tag
    assert sim.rollback("web").tag == "demo0002"
    assert sim.rollback("web").tag == "demo0001"   # walks back, never to the release it left


def test_the_newest_twenty_are_kept_whatever_they_are():
    sim = Simulation(prune=True)
    for i in range(45):
        sim.release(f"v{i}", ok=i % 3 == 0)
        if i % 7 == 0:
            sim.rollback("web")
    assert [r.id for r in sim.records[:KEEP_RECENT]] == [r.id for r in sim.everything[:KEEP_RECENT]]


def test_a_record_in_progress_is_never_dropped():
    sim = Simulation(prune=True)
    stuck = sim.release("v-stuck")
    stuck.outcome = IN_PROGRESS
    for i in range(40):
        sim.release(f"v{i}", ok=False)
    assert stuck in sim.records


def test_each_service_keeps_its_own_good_releases():
    """worker's last good releases are old (web was released alone since): they stay, per service."""
    sim = Simulation(prune=True)
    for tag in ("w1", "w2", "w3", "w4"):
        sim.release(tag)
    for i in range(30):
        sim.release(f"web{i}", keys=("web",))
    kept = {r.tag for r in sim.records}
    assert {"w2", "w3", "w4"} <= kept and "w1" not in kept
    assert last_good(sim.records, "worker", *sim.running["worker"]).tag == "w3"


def test_a_tag_released_again_and_again_does_not_crowd_out_the_way_back():
    """A deploy job re-run releases the same tag again: the three newest good releases may be one tag, which
    rollback skips (it runs that tag): the newest good release of another tag is kept too."""
    sim = Simulation(prune=True)
    sim.release("old")
    for _ in range(5):
        sim.release("same")
    for i in range(25):
        sim.release(f"bad{i}", ok=False)
    assert last_good(sim.records, "web", *sim.running["web"]).tag == "old"


def test_rolled_back_releases_stay_skipped_after_the_records_around_them_go():
    """The rollbacks that left a kept release are kept with it: rolling back again never returns to it."""
    sim = Simulation(prune=True)
    for tag in ("a", "b", "c", "d"):
        sim.release(tag)
    assert sim.rollback("web").tag == "c"
    for i in range(30):
        sim.release(f"bad{i}", ok=False, keys=("worker",))
    assert sim.target(sim.records, "web") == sim.target(sim.everything, "web")
    assert sim.rollback("web").tag == "b"
    assert last_good(sim.records, "web", *sim.running["web"], "d").tag == "d"   # --to forward again still works


def test_the_release_a_service_was_put_back_on_stays_even_when_rollback_would_skip_it():
    """web runs r again after leaving it once (a rollback, releases, then rollback --to r): r is no rollback
    target any more, but stack-update asks how r's release ended and which image it released."""
    sim = Simulation(prune=True)
    sim.release("q")
    sim.release("r")
    sim.rollback("web")
    for tag in ("s", "t", "u"):
        sim.release(tag)
    sim.rollback("web", to="r")
    for i in range(25):
        sim.release(f"bad{i}", ok=False)
    assert sim.running["web"][1] == "r"
    assert tag_outcome(sim.records, "r") == SUCCEEDED
    assert next(r for r in sim.records if r.tag == "r" and r.kind == "release").digest


@pytest.mark.parametrize("seed", range(40))
def test_pruning_never_changes_where_a_rollback_goes(seed):
    """Random histories: the kept records give every service the same rollback target as the whole history,
    keep its newest three good releases (for --to) and say how each kept tag last ended."""
    rng = random.Random(seed)
    sim = Simulation()
    tags = [f"t{i}" for i in range(12)]
    for _ in range(rng.randrange(20, 120)):
        roll = rng.random()
        if roll < 0.15:
            sim.rollback(rng.choice(list(SERVICES)), rng.choice(["", ""] + tags[:4]))
        else:
            keys = rng.choice([tuple(SERVICES), ("web",), ("worker",)])
            sim.release(rng.choice(tags), ok=rng.random() < 0.35, keys=keys)
    full = sim.records
    kept = retained(full)
    assert [r.id for r in kept[:KEEP_RECENT]] == [r.id for r in full[:KEEP_RECENT]]
    assert len(kept) <= KEEP_RECENT + 2 * (2 + 3 * KEEP_GOOD)
    for key in SERVICES:
        assert sim.target(kept, key) == sim.target(full, key), key
        for r in good_releases(full, key)[:KEEP_GOOD]:
            assert r in kept
            assert sim.target(kept, key, r.tag) == sim.target(full, key, r.tag)
    for tag in {r.tag for r in kept}:
        assert tag_outcome(kept, tag) == tag_outcome(full, tag), tag


@pytest.mark.parametrize("seed", range(15))
def test_pruned_after_every_write_the_newest_good_releases_stay(seed):
    """As the store lives: pruned after every write. The newest twenty and each service's newest three good
    releases are always there, and a rollback goes where the whole history would send it whenever that is
    one of them."""
    rng = random.Random(1000 + seed)
    sim = Simulation(prune=True)
    for step in range(150):
        if rng.random() < 0.15:
            key = rng.choice(list(SERVICES))
            good = [r.id for r in good_releases(sim.everything, key)[:KEEP_GOOD]]
            wanted = sim.target(sim.everything, key)
            if wanted in good:
                assert sim.target(sim.records, key) == wanted, step
            sim.rollback(key)
        else:
            sim.release(f"t{rng.randrange(30)}", ok=rng.random() < 0.3,
                        keys=rng.choice([tuple(SERVICES), ("web",)]))
        ids = {r.id for r in sim.records}
        assert {r.id for r in sim.everything[:KEEP_RECENT]} <= ids
        for key in SERVICES:
            assert {r.id for r in good_releases(sim.everything, key)[:KEEP_GOOD]} <= ids


def test_a_record_stays_far_below_a_standard_parameters_4_kb():
    arn = "arn:aws:ecs:us-east-2:946652103073:task-definition/" + "f" * 255 + ":99999"
    record = ReleaseRecord("f" * 16, "rollback", "t" * 128, "sha256:" + "a" * 64, "2026-11-26T00:00:00Z",
                           {k: ServiceChange(arn, arn) for k in SERVICES}, FAILED, "n" * history.NOTE_CHARS)
    assert len(record.text().encode()) < history.MAX_BYTES / 2 + 400


def test_a_new_id_is_above_every_id_there_even_when_the_clock_is_behind():
    records = [ReleaseRecord("19a0000000f", "release", "v1", "", "2026-11-26T00:00:00Z", {})]
    assert history._new_id(T0, []) == f"{int(T0 * 1000):x}"
    assert history._new_id(1.0, records) == "19a00000010"


def test_the_deploy_role_names_the_store_this_module_writes():
    from portyfoul_infra.template import deploy_role
    assert deploy_role.HISTORY_PATH == history.STORE_PATH
    assert deploy_role.LEGACY_HISTORY == (history.LEGACY_PARAMETER, history.LEGACY_LAST_GOOD)


# ---------- reading the store: pages, validation, refusals that say how to repair

def record_dict(i: int, tag: str = "", outcome: str = SUCCEEDED, **extra) -> dict:
    return {"id": f"{0x19a00000000 + i:x}", "kind": "release", "tag": tag or f"v{i}", "digest": "",
            "at": "2026-11-26T00:00:00Z", "outcome": outcome, "note": "",
            "services": {"web": {"previous": f"web:{i}", "deployed": f"web:{i + 1}"}}, **extra}


def store_with(*records: dict) -> FakeParameterStore:
    ssm = FakeParameterStore()
    for r in records:
        ssm.put_parameter(Name=f"{STORE}/{r['id']}", Value=json.dumps(r), Type="String")
    return ssm


class UnevenPages(FakeParameterStore):
    """GetParametersByPath as AWS may answer: fewer than asked, an empty page, and still a NextToken."""

    sizes = [3, 0, 10, 1, 0, 7, 10, 10]

    def get_parameters_by_path(self, Path, Recursive=False, MaxResults=10, NextToken="", **kwargs):
        assert MaxResults <= 10 and not Recursive
        names = sorted(n for n in self.store if n.startswith(Path + "/"))
        page = int(NextToken or 0)
        start = sum(self.sizes[:page])
        size = self.sizes[page]
        answer = {"Parameters": [self._parameter(n) for n in names[start:start + size]]}
        if start + size < len(names):
            answer["NextToken"] = str(page + 1)
        return answer


def test_every_page_is_read_however_aws_splits_them():
    ssm = UnevenPages()
    for i in range(30):
        ssm.put_parameter(Name=f"{STORE}/{0x19a00000000 + i:x}", Value=json.dumps(record_dict(i)), Type="String")
    ctx, _ = make_ctx(FakeAws(ssm=ssm))
    records = history.load(ctx)
    assert [r.tag for r in records] == [f"v{i}" for i in reversed(range(30))]   # newest first, by id


@pytest.mark.parametrize("parameter, why", [
    ({"Value": "{not json"}, "not JSON"),
    ({"Value": "[1]"}, "a JSON list where a release record belongs"),
    ({"Type": "SecureString"}, "a SecureString where a String belongs"),
    ({"Type": "StringList"}, "a StringList where a String belongs"),
    ({"Value": json.dumps(record_dict(1, tag="v 1"))}, "tag 'v 1' is not a release tag"),
    ({"Value": json.dumps({**record_dict(1), "id": "r1"})}, "id 'r1' is not a record id (hexadecimal)"),
    ({"Value": json.dumps(record_dict(2))}, "it holds the record '19a00000002', not the one its name says"),
])
def test_a_record_this_tool_did_not_write_is_named_with_what_is_wrong_and_how_to_repair_it(parameter, why):
    name = f"{STORE}/19a00000001"
    with pytest.raises(HistoryError) as refused:
        history.parse_record({"Name": name, "Type": "String", "Value": json.dumps(record_dict(1)), "Version": 3,
                              **parameter})
    assert str(refused.value).startswith(f"the release history {name} is not what this tool writes ({why}); "
                                         "nothing changed, and it is not overwritten. ")
    assert f"aws ssm get-parameter --name {name}:2 " in str(refused.value)
    assert f"aws ssm delete-parameter --name {name}`" in str(refused.value)


def test_a_record_never_rewritten_is_repaired_by_deleting_it_alone():
    name = f"{STORE}/19a00000001"
    with pytest.raises(HistoryError) as refused:
        history.parse_record({"Name": name, "Type": "String", "Value": "{", "Version": 1})
    assert str(refused.value).endswith(f"Look at it: `aws ssm get-parameter-history --name {name}`. Forget that "
                                       f"one record (the others stay): `aws ssm delete-parameter --name {name}`")


def test_a_record_of_another_shape_is_refused_by_load_and_start_and_never_overwritten():
    bad = {**record_dict(2), "outcome": "great"}
    ssm = store_with(record_dict(1), bad)
    ctx, _ = make_ctx(FakeAws(ssm=ssm))
    before = dict(ssm.store)
    for attempt in (lambda: history.load(ctx),
                    lambda: history.start(ctx, "release", "v9", "", {"web": ServiceChange("a", "b")})):
        with pytest.raises(HistoryError, match=r"outcome 'great' is none of in progress, succeeded, failed"):
            attempt()
    assert ssm.store == before
    message, code = failure_exit(pytest.raises(HistoryError, history.load, ctx).value, ctx.journal)
    assert code == 2 and "nothing changed" in message


def test_met_after_a_change_the_refusal_says_what_changed_and_never_that_nothing_did():
    """The issue: a damaged history met during a release said both "nothing changed" and "already changed"."""
    ssm = store_with(record_dict(1), {**record_dict(2), "services": {}})
    ctx, _ = make_ctx(FakeAws(ssm=ssm))
    ctx.record("registered portyfoul-dev-web-task:7 (inactive until deployed)", "`invoke release-status --env dev`")
    with pytest.raises(HistoryError) as refused:
        history.start(ctx, "release", "v9", "", {"web": ServiceChange("a", "b")})
    message, code = failure_exit(refused.value, ctx.journal)
    assert code == 4
    assert "nothing changed" not in message
    assert "not what this tool writes (no services); it is not overwritten" in message
    assert "already changed: registered portyfoul-dev-web-task:7" in message


def test_a_damaged_record_mid_release_never_stops_the_release_from_recording_how_it_ended():
    """finish() rewrites its own record only: someone breaking another record during a release changes nothing
    for it; breaking its own record is refused after the change, honestly (exit 4, what changed)."""
    ecs = FakeEcs(deploy={"web": [progress, complete], "worker": [complete]})
    aws = release_clients(ecs)
    aws.clients["ssm"].put_parameter(Name=f"{STORE}/{record_dict(1)['id']}", Value=json.dumps(record_dict(1)),
                                     Type="String")
    original = ecs.describe_services

    def damage(**kwargs):
        if ecs.called("update_service"):
            aws.clients["ssm"].store[f"{STORE}/{record_dict(1)['id']}"] = "{broken"
        return original(**kwargs)

    ecs.describe_services = damage
    from portyfoul_infra.verbs.release import release
    ctx, out = make_ctx(aws)
    assert release(ctx, ReleaseOptions(tag="v2", no_build=True)).outcome is Outcome.APPLIED, out.getvalue()
    assert "no old task definition revision deregistered: the release history" in out.getvalue()
    newest = [json.loads(v) for n, v in aws.clients["ssm"].store.items() if v != "{broken"]
    assert [(r["tag"], r["outcome"]) for r in newest] == [("v2", SUCCEEDED)]

    ecs = FakeEcs(deploy={"web": [progress, complete], "worker": [complete]})
    aws = release_clients(ecs)
    original = ecs.describe_services

    def damage_own(**kwargs):
        if ecs.called("update_service"):
            for name in [n for n in aws.clients["ssm"].store if n.startswith(STORE)]:
                aws.clients["ssm"].store[name] = '{"id": "x"}'
        return original(**kwargs)

    ecs.describe_services = damage_own
    ctx, _ = make_ctx(aws)
    with pytest.raises(HistoryError) as refused:
        release(ctx, ReleaseOptions(tag="v2", no_build=True))
    message, code = failure_exit(refused.value, ctx.journal)
    assert code == 4 and "nothing changed" not in message and "started deploying" in message
    assert {v for n, v in aws.clients["ssm"].store.items() if n.startswith(STORE)} == {'{"id": "x"}'}   # kept


def test_a_good_release_after_many_failed_ones_keeps_the_older_ways_back_runnable():
    """release deregisters revisions beyond the newest few: never those of the good releases the history keeps,
    so `rollback --to` an older good tag still finds its revision ACTIVE after failures and a new release."""
    from dataclasses import replace

    from portyfoul_infra.aws.release import plan_rollback
    from portyfoul_infra.config import ENVIRONMENTS
    from portyfoul_infra.verbs.release import release
    from support.fake_ecs import FakeEcr, circuit_breaker
    tags = ["v2", "v3"] + [f"v{i}-crash" for i in range(4, 10)] + ["v10"]
    ecs = FakeEcs()
    aws = release_clients(ecs, ecr=FakeEcr(tags=tags))
    env = replace(ENVIRONMENTS["dev"], keep_task_definition_revisions=2)
    for tag in tags:
        step = circuit_breaker if tag.endswith("-crash") else complete
        ecs.scripts["deploy"] = {"web": [step], "worker": [step]}
        ctx, out = make_ctx(aws, env)
        expected = Outcome.ROLLED_BACK if tag.endswith("-crash") else Outcome.APPLIED
        assert release(ctx, ReleaseOptions(tag=tag, no_build=True)).outcome is expected, out.getvalue()
        for svc in ecs.services.values():   # ECS forgets the failed deployment once the rollback completed
            svc["deployments"] = [d for d in svc["deployments"] if d["status"] == "PRIMARY"]
    assert "deregistered" in out.getvalue()   # it did prune
    ctx, _ = make_ctx(aws, env)
    for to in ("v2", "v3"):
        _, steps = plan_rollback(ctx, ["web", "worker"], to)
        assert [s.target.tag for s in steps] == [to, to]   # ACTIVE: planning refuses an INACTIVE revision


# ---------- migrating the single parameter of earlier versions

def write_the_old_way(ssm, records: list[dict], copy: list[dict] | None = None) -> None:
    """What earlier versions left: the history as one JSON list, newest first, and the copy of it before its
    last write (which may hold a record the last write trimmed away)."""
    ssm.put_parameter(Name=LEGACY, Value=json.dumps(records, separators=(",", ":")), Type="String", Overwrite=True)
    if copy is not None:
        ssm.put_parameter(Name=LEGACY_COPY, Value=json.dumps(copy, separators=(",", ":")), Type="String",
                          Overwrite=True)


def old_history() -> tuple[list[dict], list[dict]]:
    """Five records in the parameter (as 4 KB held them), the copy one write older with a sixth, older one."""
    records = [record_dict(i, outcome=SUCCEEDED if i < 3 else FAILED) for i in range(6, 0, -1)]
    current = records[:5]
    copy = [{**records[0], "outcome": IN_PROGRESS}, *records[1:]]
    return current, copy


def stored_records(ssm) -> dict[str, dict]:
    return {n.rsplit("/", 1)[1]: json.loads(v) for n, v in ssm.store.items() if n.startswith(STORE + "/")}


def test_an_old_history_is_read_whole_before_it_is_migrated_and_a_read_writes_nothing():
    ssm = FakeParameterStore()
    current, copy = old_history()
    write_the_old_way(ssm, current, copy)
    before = dict(ssm.store)
    ctx, _ = make_ctx(FakeAws(ssm=ssm))
    records = history.load(ctx)
    assert [r.as_dict() for r in records] == current + [copy[-1]]   # the parameter's form wins; the copy adds one
    assert ssm.store == before


def test_the_first_write_migrates_everything_and_deletes_the_old_parameters():
    ssm = FakeParameterStore()
    current, copy = old_history()
    write_the_old_way(ssm, current, copy)
    ctx, _ = make_ctx(FakeAws(ssm=ssm), wall=lambda: T0)
    record = history.start(ctx, "release", "v9", "", {"web": ServiceChange("web:7", "web:8")})
    assert LEGACY not in ssm.store and LEGACY_COPY not in ssm.store
    assert stored_records(ssm) == {**{r["id"]: r for r in current + [copy[-1]]}, record.id: record.as_dict()}
    assert history.load(ctx)[0].id == record.id


class StopsAfter(FakeParameterStore):
    """A process stopped (SIGTERM: KeyboardInterrupt) before its n-th write: puts and deletes count."""

    def __init__(self, writes: int):
        super().__init__()
        self.writes = writes

    def _write(self):
        if self.writes == 0:
            raise KeyboardInterrupt
        self.writes -= 1

    def put_parameter(self, **kwargs):
        self._write()
        return super().put_parameter(**kwargs)

    def delete_parameters(self, Names):
        self._write()
        return super().delete_parameters(Names)


@pytest.mark.parametrize("writes", range(0, 8))
def test_a_migration_stopped_anywhere_loses_nothing_and_the_next_write_finishes_it(writes):
    current, copy = old_history()
    ssm = StopsAfter(writes=10**6)
    write_the_old_way(ssm, current, copy)
    ctx, _ = make_ctx(FakeAws(ssm=ssm), wall=lambda: T0)
    whole = [r.as_dict() for r in history.load(ctx)]
    ssm.writes = writes
    try:
        first = history.start(ctx, "release", "v9", "", {"web": ServiceChange("web:7", "web:8")})
        whole.insert(0, first.as_dict())
    except KeyboardInterrupt:
        if any(n.startswith(STORE + "/" + f"{int(T0 * 1000):x}") for n in ssm.store):
            whole.insert(0, stored_records(ssm)[f"{int(T0 * 1000):x}"])
    assert [r.as_dict() for r in history.load(ctx)] == whole   # the same history, whatever was written
    ssm.writes = 10**6
    second = history.start(ctx, "release", "v10", "", {"web": ServiceChange("web:8", "web:9")})
    assert [r.as_dict() for r in history.load(ctx)] == [second.as_dict(), *whole]
    assert LEGACY not in ssm.store and LEGACY_COPY not in ssm.store
    again = history.start(ctx, "rollback", "v9", "", {"web": ServiceChange("web:9", "web:8")})   # run again
    assert [r.as_dict() for r in history.load(ctx)] == [again.as_dict(), second.as_dict(), *whole]


def test_a_record_already_in_the_store_is_never_overwritten_by_its_older_form():
    """A migration interrupted after a record was moved and then finished in the store: the old parameter's
    form of it (still in progress) neither wins on reading nor is written back."""
    ssm = FakeParameterStore()
    done = record_dict(5, outcome=SUCCEEDED, note="")
    write_the_old_way(ssm, [{**done, "outcome": IN_PROGRESS}, record_dict(4)])
    ssm.put_parameter(Name=f"{STORE}/{done['id']}", Value=json.dumps(done), Type="String")
    ctx, _ = make_ctx(FakeAws(ssm=ssm), wall=lambda: T0)
    assert history.load(ctx)[0].outcome == SUCCEEDED
    history.start(ctx, "release", "v9", "", {"web": ServiceChange("web:6", "web:7")})
    assert stored_records(ssm)[done["id"]] == done


def test_an_old_history_this_tool_did_not_write_is_refused_and_kept():
    ssm = FakeParameterStore()
    write_the_old_way(ssm, [record_dict(2), {"id": "1"}])
    before = dict(ssm.store)
    ctx, _ = make_ctx(FakeAws(ssm=ssm))
    with pytest.raises(HistoryError) as refused:
        history.start(ctx, "release", "v9", "", {"web": ServiceChange("a", "b")})
    assert str(refused.value).startswith(f"the release history {LEGACY} is not what this tool writes (record 2: "
                                         "no tag); nothing changed")
    assert ssm.store == before


def test_a_damaged_copy_of_an_old_history_is_named_and_kept():
    ssm = FakeParameterStore()
    write_the_old_way(ssm, [record_dict(2)], copy=[{"id": "1"}])
    ctx, _ = make_ctx(FakeAws(ssm=ssm))
    with pytest.raises(HistoryError) as refused:
        history.load(ctx)
    assert str(refused.value).startswith(f"the release history {LEGACY_COPY} is not what this tool writes")
    assert f"aws ssm delete-parameter --name {LEGACY_COPY}" in str(refused.value)


def test_reconcile_settles_an_old_histories_record_into_the_store():
    ssm = FakeParameterStore()
    stuck = {**record_dict(3), "outcome": IN_PROGRESS}
    write_the_old_way(ssm, [stuck, record_dict(2)])
    ctx, _ = make_ctx(FakeAws(ssm=ssm))
    notes = history.reconcile(ctx, {"web": ("web:4", False, "v3")})
    assert notes and "succeeded (web runs it)" in notes[0]
    assert stored_records(ssm)[stuck["id"]]["outcome"] == SUCCEEDED
    assert LEGACY not in ssm.store and len(stored_records(ssm)) == 2


def test_reading_another_environments_history_writes_nothing_there():
    """promote reads its source's history (maybe still the old single parameter) and must not change it."""
    ssm = FakeParameterStore()
    ssm.put_parameter(Name="/portyfoul/staging/release-history", Value=json.dumps([record_dict(1)]), Type="String")
    before = dict(ssm.store)
    from portyfoul_infra.config import ENVIRONMENTS
    ctx, _ = make_ctx(FakeAws(ssm=ssm), env="prod")
    assert [r.tag for r in history.load(ctx, ENVIRONMENTS["staging"])] == ["v1"]
    assert ssm.store == before


# ---------- on the local AWS: the real API, its pages, versions and the repairs the messages suggest

def client(name):
    return boto3.client(name, region_name="us-east-2")


def test_on_the_local_aws_an_old_history_moves_into_one_parameter_per_record(aws_env):
    current, copy = old_history()
    write_the_old_way(client("ssm"), current, copy)
    ctx, _ = make_ctx(wall=lambda: T0)
    record = history.start(ctx, "release", "v9", "", {"web": ServiceChange("web:7", "web:8")})
    history.finish(ctx, record, SUCCEEDED)
    names = sorted(p["Name"] for p in client("ssm").describe_parameters()["Parameters"])
    assert names == sorted(f"{STORE}/{r['id']}" for r in current + [copy[-1]]) + [f"{STORE}/{record.id}"]
    assert [r.tag for r in history.load(ctx)] == ["v9", "v6", "v5", "v4", "v3", "v2", "v1"]


def test_on_the_local_aws_many_records_are_pruned_to_what_is_kept(aws_env):
    clock = iter(range(10**6))
    ctx, _ = make_ctx(wall=lambda: T0 + next(clock))
    for i in range(KEEP_RECENT + 8):
        record = history.start(ctx, "release", f"v{i}", "", {"web": ServiceChange(f"web:{i}", f"web:{i + 1}")})
        history.finish(ctx, record, SUCCEEDED if i < 4 else FAILED, "" if i < 4 else "crashed")
    records = history.load(ctx)
    assert len(records) == KEEP_RECENT + KEEP_GOOD
    assert [r.tag for r in records[-KEEP_GOOD:]] == ["v3", "v2", "v1"]
    assert len(client("ssm").get_parameters_by_path(Path=STORE, MaxResults=10)["Parameters"]) == 10   # in pages


def test_on_the_local_aws_the_repairs_a_refusal_suggests_work(aws_env):
    """Every command the message suggests: the earlier version of a damaged record, or forgetting it alone."""
    ctx, _ = make_ctx(wall=lambda: T0)
    first = history.start(ctx, "release", "v1", "", {"web": ServiceChange("web:1", "web:2")})
    history.finish(ctx, first, SUCCEEDED)
    second = history.start(ctx, "release", "v2", "", {"web": ServiceChange("web:2", "web:3")})
    history.finish(ctx, second, FAILED, "crashed")
    ssm, name = client("ssm"), f"{STORE}/{first.id}"
    ssm.put_parameter(Name=name, Value="edited by hand", Type="String", Overwrite=True)
    with pytest.raises(HistoryError) as refused:
        history.load(ctx)
    assert f"--name {name}:2 " in str(refused.value)   # version 3 is the damaged one
    earlier = ssm.get_parameter(Name=f"{name}:2")["Parameter"]["Value"]     # what the suggestion reads back
    ssm.put_parameter(Name=name, Value=earlier, Type="String", Overwrite=True)
    assert [(r.tag, r.outcome) for r in history.load(ctx)] == [("v2", FAILED), ("v1", SUCCEEDED)]
    ssm.put_parameter(Name=name, Value="edited by hand", Type="String", Overwrite=True)
    ssm.delete_parameter(Name=name)                                         # or forget that one record
    assert [r.tag for r in history.load(ctx)] == ["v2"]


def test_on_the_local_aws_the_old_parameters_repair_from_its_copy_works(aws_env):
    current, copy = old_history()
    write_the_old_way(client("ssm"), current, copy)
    client("ssm").put_parameter(Name=LEGACY, Value="{not json", Type="String", Overwrite=True)
    ctx, _ = make_ctx()
    with pytest.raises(HistoryError, match="Restore its last good copy"):
        history.load(ctx)
    saved = client("ssm").get_parameter(Name=LEGACY_COPY)["Parameter"]["Value"]
    client("ssm").put_parameter(Name=LEGACY, Value=saved, Type="String", Overwrite=True)
    assert [r.as_dict() for r in history.load(ctx)] == copy


# ---------- the issue's scenario, end to end on the local AWS

def test_after_three_good_releases_and_six_failed_ones_both_rollbacks_work(released_stack):
    """Three good releases, six that fail (their containers crash: the circuit breaker rolls back), from a
    history the earlier version wrote: `rollback` goes to the second, `rollback --to` the first."""
    from portyfoul_infra.verbs.release import rollback
    from support.stacks import release_tag
    ssm = client("ssm")
    records = [r.as_dict() for r in history.load(make_ctx()[0])]   # demo0001, as the earlier version kept it
    for p in ssm.get_parameters_by_path(Path=STORE)["Parameters"]:
        ssm.delete_parameter(Name=p["Name"])
    write_the_old_way(ssm, records, copy=[])
    release_tag("demo0002")
    release_tag("demo0003")
    for i in range(6):
        release_tag(f"demo01{i:02}-crash", expect=Outcome.ROLLED_BACK)
    assert ssm.get_parameters(Names=[LEGACY, LEGACY_COPY])["Parameters"] == []   # migrated by the first release
    kept = history.load(make_ctx()[0])
    assert [r.tag for r in kept if r.outcome == SUCCEEDED] == ["demo0003", "demo0002", "demo0001"]
    ctx, out = make_ctx(poll_seconds=1)
    assert rollback(ctx, RollbackOptions()).outcome is Outcome.APPLIED, out.getvalue()
    assert "web: demo0003" in out.getvalue() and "-> demo0002" in out.getvalue()
    ctx, out = make_ctx(poll_seconds=1)
    assert rollback(ctx, RollbackOptions(to="demo0001")).outcome is Outcome.APPLIED, out.getvalue()
    newest = history.load(make_ctx()[0])[:2]
    assert [(r.kind, r.tag, r.outcome) for r in newest] == [("rollback", "demo0001", SUCCEEDED),
                                                          ("rollback", "demo0002", SUCCEEDED)]
