"""api.scheduler.Scheduler on a FakeClock and the in-process bus: due times, jitter, skipping, snapshots."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import pytest

from api.clock import FakeClock
from api.scheduler import NEW_CHECK_WINDOW_MS, SPREAD_WINDOW_MS, Scheduler, interval_ms
from prober.base import CheckParams
from prober.bus import InProcessBus
from prober.messages import Job
from prober.registry import CheckType, Registry, load_registry

ACCOUNT = "201911191441YYGAX"
MINUTE = 60_000


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry(autoload=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()


@pytest.fixture
def scheduler(bus: InProcessBus, registry: Registry, clock: FakeClock) -> Scheduler:
    return Scheduler(bus, registry, clock)


def check(check_id: str, *, interval: float = 1, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": check_id,
        "account_id": ACCOUNT,
        "type": "PORT",
        "interval": interval,
        "enabled": True,
        "acctdisable": False,
        "parameters": {"target": "db.example.test", "threshold": 5, "sens": 2, "port": 5432},
        "dep": None,
        "mute": False,
        "queue": "Q" + check_id[-9:],
        "runlocations": None,
        "homeloc": False,
        "state": None,
        "firstdown": None,
        "last_run": None,
    }
    row.update(values)
    return row


def drain(bus: InProcessBus) -> list[Job]:
    jobs = []
    while bus.pending_jobs():
        jobs.append(bus._jobs.get_nowait())
    return jobs


async def run_for(scheduler: Scheduler, clock: FakeClock, seconds: int, step: float = 1.0) -> list[Job]:
    """Advance the fake clock ``step`` seconds at a time, dispatching after each step."""
    jobs: list[Job] = []
    for _ in range(int(seconds / step)):
        clock.advance(step)
        await scheduler.dispatch_due()
        jobs.extend(drain(scheduler.bus))  # type: ignore[arg-type]
    return jobs


def test_interval_ms() -> None:
    assert interval_ms(1) == MINUTE
    assert interval_ms(15) == 15 * MINUTE
    assert interval_ms(1440) == 1440 * MINUTE
    assert interval_ms(0.5) == 30_000
    assert interval_ms(0.25) == 15_000


async def test_jobs_are_dispatched_in_due_time_order(scheduler: Scheduler, clock: FakeClock) -> None:
    now = clock.now_ms()
    scheduler.load(
        [
            check("C-LATE", last_run=now - 30_000),  # due now + 30 s
            check("C-FIRST", last_run=now - 55_000),  # due now + 5 s
            check("C-MIDDLE", last_run=now - 50_000),  # due now + 10 s
        ]
    )
    assert len(scheduler) == 3
    assert scheduler.next_due() == now + 5_000
    assert await scheduler.dispatch_due() == 0  # nothing due yet

    jobs = await run_for(scheduler, clock, 40)
    assert [(j.check_id, j.scheduled - now) for j in jobs] == [
        ("C-FIRST", 5_000),
        ("C-MIDDLE", 10_000),
        ("C-LATE", 30_000),
    ]

    # Several due at once come out of one dispatch_due in due order too.
    clock.advance(120)
    assert await scheduler.dispatch_due() == 3
    assert [j.check_id for j in drain(scheduler.bus)] == ["C-FIRST", "C-MIDDLE", "C-LATE"]  # type: ignore[arg-type]
    assert scheduler.dispatched == 6


@pytest.mark.parametrize(("interval", "every_s"), [(0.25, 15), (0.5, 30), (1, 60), (2, 120)])
async def test_intervals_are_honoured(
    scheduler: Scheduler, clock: FakeClock, interval: float, every_s: int
) -> None:
    start = clock.now_ms()
    scheduler.upsert(check("C-SUBMINUTE", interval=interval))
    first_due = scheduler.next_due()
    assert first_due is not None
    assert start <= first_due < start + min(every_s, 60) * 1000  # spread within one interval (60 s at most)

    jobs = await run_for(scheduler, clock, 10 * every_s + 60)
    times = [j.scheduled for j in jobs]
    assert times[0] == first_due
    assert {b - a for a, b in itertools.pairwise(times)} == {every_s * 1000}  # no drift
    assert len(jobs) == (clock.now_ms() - first_due) // (every_s * 1000) + 1
    assert len(jobs) >= 10
    assert all(j.interval == interval for j in jobs)


async def test_a_quarter_minute_check_runs_every_15_seconds(scheduler: Scheduler, clock: FakeClock) -> None:
    scheduler.upsert(check("C-FAST", interval=0.25))
    due = scheduler.next_due()
    assert due is not None
    for n in range(8):
        clock.ms = due + n * 15_000 - 1  # one ms early: nothing
        assert await scheduler.dispatch_due() == 0, n
        clock.ms += 1  # exactly due
        assert await scheduler.dispatch_due() == 1, n
        assert await scheduler.dispatch_due() == 0, n  # once only
    assert [j.scheduled - due for j in drain(scheduler.bus)] == [n * 15_000 for n in range(8)]  # type: ignore[arg-type]


async def test_first_runs_are_spread_over_the_minute(scheduler: Scheduler, clock: FakeClock) -> None:
    now = clock.now_ms()
    for n in range(1000):
        scheduler.upsert(check(f"{ACCOUNT}-{n:08d}"))
    assert len(scheduler) == 1000
    assert await scheduler.dispatch_due(now + MINUTE - 1) == 1000  # every first run is inside the window

    offsets = [j.scheduled - now for j in drain(scheduler.bus)]  # type: ignore[arg-type]
    assert all(0 <= o < SPREAD_WINDOW_MS for o in offsets)
    per_second = Counter(o // 1000 for o in offsets)
    assert len(per_second) >= 50
    assert max(per_second.values()) <= 50  # no second has more than 5 % of them
    assert offsets == sorted(offsets)

    # The offset is stable per check: another scheduler (a restart) spreads them the same way.
    again = Scheduler(InProcessBus(), scheduler.registry, FakeClock(now))
    for n in range(1000):
        again.upsert(check(f"{ACCOUNT}-{n:08d}"))
    await again.dispatch_due(now + MINUTE - 1)
    assert [j.scheduled - now for j in drain(again.bus)] == offsets  # type: ignore[arg-type]


async def test_a_check_just_created_runs_within_five_seconds(scheduler: Scheduler, clock: FakeClock) -> None:
    now = clock.now_ms()
    for n in range(200):
        scheduler.upsert(check(f"{ACCOUNT}-{n:08d}", interval=60), created=True)
    assert await scheduler.dispatch_due(now + NEW_CHECK_WINDOW_MS - 1) == 200
    offsets = [j.scheduled - now for j in drain(scheduler.bus)]  # type: ignore[arg-type]
    assert len({o // 1000 for o in offsets}) == 5  # still spread, over those five seconds
    # then every interval from that first run
    assert await scheduler.dispatch_due(now + NEW_CHECK_WINDOW_MS + 3_600_000 - 1) == 200
    later = [j.scheduled - now for j in drain(scheduler.bus)]  # type: ignore[arg-type]
    assert sorted(later) == sorted(o + 3_600_000 for o in offsets)


async def test_sub_minute_checks_spread_within_their_interval(scheduler: Scheduler, clock: FakeClock) -> None:
    now = clock.now_ms()
    for n in range(200):
        scheduler.upsert(check(f"{ACCOUNT}-{n:08d}", interval=0.25))
    assert await scheduler.dispatch_due(now + 15_000 - 1) == 200
    offsets = [j.scheduled - now for j in drain(scheduler.bus)]  # type: ignore[arg-type]
    assert len({o // 1000 for o in offsets}) == 15


async def test_disabled_suspended_and_passive_checks_are_not_scheduled(
    bus: InProcessBus, registry: Registry, clock: FakeClock
) -> None:
    heartbeat = CheckType(name="HEARTBEAT", params=CheckParams, run=None, source="test", passive=True)
    mixed = Registry([*registry, heartbeat])
    scheduler = Scheduler(bus, mixed, clock)
    scheduler.load(
        [
            check("C-RUNS"),
            check("C-DISABLED", enabled=False),
            check("C-SUSPENDED", acctdisable=True),
            check("C-PUSH", type="PUSH"),
            check("C-AGENT", type="AGENT"),
            check("C-HEARTBEAT", type="HEARTBEAT"),
        ]
    )
    assert len(scheduler) == 1
    jobs = await run_for(scheduler, clock, 300, step=10)
    assert {j.check_id for j in jobs} == {"C-RUNS"}
    assert len(jobs) == 5

    # Disabling (or suspending) a scheduled check takes it off the schedule.
    scheduler.upsert(check("C-RUNS", acctdisable=True))
    assert len(scheduler) == 0 and scheduler.next_due() is None
    assert await run_for(scheduler, clock, 120, step=10) == []

    # Enabling puts it back.
    scheduler.upsert(check("C-DISABLED"))
    assert [j.check_id for j in await run_for(scheduler, clock, 60, step=10)] == ["C-DISABLED"]


async def test_upsert_with_a_changed_interval_reschedules(scheduler: Scheduler, clock: FakeClock) -> None:
    now = clock.now_ms()
    scheduler.upsert(check("C-1", interval=15, last_run=now - 30_000))
    assert scheduler.next_due() == now - 30_000 + 15 * MINUTE

    # Same interval, other changes: the due time stays, the job carries the new row.
    changed = check("C-1", interval=15, last_run=now - 30_000)
    changed["parameters"] = {**changed["parameters"], "target": "db2.example.test"}
    clock.advance(60)
    scheduler.upsert(changed)
    assert scheduler.next_due() == now - 30_000 + 15 * MINUTE
    assert len(scheduler) == 1

    # A shorter interval: due one new interval after the last run.
    scheduler.upsert(check("C-1", interval=2, last_run=now - 30_000, parameters=changed["parameters"]))
    assert scheduler.next_due() == now - 30_000 + 2 * MINUTE
    jobs = await run_for(scheduler, clock, 300, step=5)
    assert [j.scheduled - now for j in jobs] == [90_000, 210_000, 330_000]
    assert {(j.interval, j.target) for j in jobs} == {(2, "db2.example.test")}


async def test_remove_and_forget_stop_dispatch(scheduler: Scheduler, clock: FakeClock) -> None:
    scheduler.load([check("C-KEEP"), check("C-REMOVED"), check("C-FORGOTTEN", state=1)])
    scheduler.remove("C-REMOVED")
    scheduler.forget("C-FORGOTTEN")
    scheduler.remove("C-NEVER-THERE")  # no error
    assert len(scheduler) == 1
    jobs = await run_for(scheduler, clock, 180, step=10)
    assert {j.check_id for j in jobs} == {"C-KEEP"}
    assert len(jobs) == 3

    # Removed after it was dispatched: its next run never comes.
    scheduler.remove("C-KEEP")
    assert scheduler.next_due() is None
    assert await run_for(scheduler, clock, 180, step=10) == []

    # A forgotten check comes back with no remembered state.
    scheduler.upsert(check("C-FORGOTTEN"))
    (job,) = await run_for(scheduler, clock, 60, step=10)
    assert job.check_id == "C-FORGOTTEN" and job.state is None


async def test_a_check_that_ran_recently_is_due_one_interval_after_its_last_run(
    scheduler: Scheduler, clock: FakeClock
) -> None:
    now = clock.now_ms()
    scheduler.upsert(check("C-RECENT", interval=5, last_run=now - 2 * MINUTE))
    assert scheduler.next_due() == now + 3 * MINUTE
    scheduler.remove("C-RECENT")

    # Overdue after a restart: not all at once now, but spread like a new check.
    scheduler.upsert(check("C-OVERDUE", interval=5, last_run=now - 60 * MINUTE))
    due = scheduler.next_due()
    assert due is not None and now <= due < now + SPREAD_WINDOW_MS


async def test_missed_runs_after_a_clock_jump_are_skipped_keeping_the_phase(
    scheduler: Scheduler, clock: FakeClock
) -> None:
    start = clock.now_ms()
    scheduler.upsert(check("C-1", interval=1, last_run=start - 30_000))
    first_due = start + 30_000

    clock.advance(10 * 60 + 5)  # the host was suspended for ten minutes
    assert await scheduler.dispatch_due() == 1  # one run now, not eleven
    (job,) = drain(scheduler.bus)  # type: ignore[arg-type]
    assert job.scheduled == first_due

    now = clock.now_ms()
    next_due = scheduler.next_due()
    assert next_due is not None
    assert now < next_due <= now + MINUTE
    assert (next_due - first_due) % MINUTE == 0  # same phase as before the jump
    assert next_due == start + 630_000

    jobs = await run_for(scheduler, clock, 180)
    assert [j.scheduled - start for j in jobs] == [630_000, 690_000, 750_000]


async def test_the_job_snapshot(scheduler: Scheduler, clock: FakeClock) -> None:
    router = check(
        "C-ROUTER", type="PING", parameters={"target": "10.0.0.1", "threshold": 5, "sens": 2}, state=1
    )
    web = check(
        "C-WEB",
        state=1,
        dep="C-ROUTER",
        mute=True,
        runlocations=["ld", "ca"],
        homeloc="ld",
        parameters={"target": "web.example.test", "threshold": 9, "sens": 0, "port": 443},
    )
    cluster = check(
        "C-CLUSTER",
        type="CLUSTER",
        parameters={"threshold": 2, "sens": 1, "data": {"C-ROUTER": "1", "C-WEB": "1", "C-NEW": "1"}},
    )
    orphan = check("C-ORPHAN", dep="C-DELETED")
    scheduler.load([router, web, cluster, orphan])
    scheduler.upsert(check("C-NEW", enabled=False))  # known, never run

    def snapshot(check_row: dict[str, Any]) -> Job:
        return scheduler.job_for(check_row, clock.now_ms())

    job = snapshot(web)
    assert (job.check_id, job.account_id, job.type) == ("C-WEB", ACCOUNT, "PORT")
    assert (job.target, job.threshold, job.sens) == ("web.example.test", 9, 0)
    assert job.params == {"port": 443}  # target, threshold and sens travel as their own fields
    assert (job.state, job.dep_state) == (1, 1)
    assert (job.runlocations, job.homeloc, job.mute, job.queue) == (["ld", "ca"], "ld", True, web["queue"])
    assert job.scheduled == clock.now_ms()
    assert job.member_states == {}
    assert web["parameters"]["target"] == "web.example.test"  # the row itself is not modified

    # The consumer keeps states current through note_state.
    scheduler.note_state("C-ROUTER", 0)
    scheduler.note_state("C-WEB", 0)
    job = snapshot(web)
    assert (job.state, job.dep_state) == (0, 0)
    scheduler.upsert(web)  # an edit with a stale row does not undo the noted state
    assert snapshot(web).state == 0

    job = snapshot(cluster)
    assert (job.threshold, job.sens, job.target) == (2, 1, "")
    assert job.member_states == {"C-ROUTER": 0, "C-WEB": 0, "C-NEW": None}
    assert job.state is None and job.dep_state is None

    assert snapshot(orphan).dep_state is None  # dependency unknown
    assert snapshot(router).dep_state is None  # no dependency

    # Dispatched jobs carry the same snapshot, each with a unique id.
    clock.advance(120)
    await scheduler.dispatch_due()
    jobs = {j.check_id: j for j in drain(scheduler.bus)}  # type: ignore[arg-type]
    assert set(jobs) == {"C-ROUTER", "C-WEB", "C-CLUSTER", "C-ORPHAN"}
    assert jobs["C-CLUSTER"].member_states == {"C-ROUTER": 0, "C-WEB": 0, "C-NEW": None}
    assert jobs["C-WEB"].dep_state == 0
    assert len({j.job_id for j in jobs.values()}) == 4


async def test_the_running_scheduler_publishes_due_jobs(scheduler: Scheduler, clock: FakeClock) -> None:
    await scheduler.start()
    try:
        scheduler.upsert(check("C-LIVE", last_run=clock.now_ms() - 55_000))  # due in 5 s of fake time
        await asyncio.sleep(0.05)
        assert scheduler.bus.pending_jobs() == 0  # type: ignore[attr-defined]
        clock.advance(6)
        scheduler.upsert(check("C-OTHER", interval=15))  # any change wakes the loop
        job = await asyncio.wait_for(scheduler.bus.next_job(), timeout=5)
        assert job.check_id == "C-LIVE"
    finally:
        await scheduler.stop()
    assert scheduler._task is None
