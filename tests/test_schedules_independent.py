"""Each schedule fires on its own: a fire waiting for room in a full ``block`` queue holds up
no other schedule (nor ``run_now``, nor the management calls); the slots of its own that
come due meanwhile follow its misfire policy once the fire lands; removing the schedule or
shutting down while it waits ends it cleanly."""

from __future__ import annotations

from datetime import datetime, timezone

import anyio
import pytest

from asyncjobs import (
    JobRunner,
    JobState,
    MemoryJobStore,
    QueueConfig,
    ScheduleMissed,
    current_runner,
    job,
)
from asyncjobs.testing import FakeClock

from .conftest import asyncjobs_task_names

pytestmark = pytest.mark.anyio

START = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()  # the fake clock's start
# One worker and one waiting place: a running job and a queued one fill it.
TIGHT = {"default": 4, "tight": QueueConfig(concurrency=1, maxsize=1, on_full="block")}

_gates: dict[str, anyio.Event] = {}


@job(name="tests.schedules_independent.note")
async def note(log: list[float]) -> None:
    log.append(current_runner().clock.time() - START)


@job(name="tests.schedules_independent.hold", queue="tight")
async def hold(gate: str) -> None:
    await _gates[gate].wait()


async def fill_tight(runner: JobRunner, clock: FakeClock, gate: str) -> None:
    """Fill the tight queue: one job holds its worker, another waits in its one place."""
    _gates[gate] = anyio.Event()
    await runner.submit(hold, gate)
    await clock.advance(0)
    await runner.submit(hold, gate)
    assert runner.queue_statistics()["tight"].size == 1


async def test_a_fire_waiting_for_room_holds_up_no_other_schedule(
    clock: FakeClock, anyio_backend: str
) -> None:
    gate = f"other-{anyio_backend}"
    blocked: list[float] = []
    free: list[float] = []
    async with JobRunner(clock=clock, queues=TIGHT) as runner:
        with anyio.fail_after(5):
            await fill_tight(runner, clock, gate)
            schedules = runner.schedules
            tight_note = note.with_options(queue="tight")
            # Late slots past a 10 s grace do not run: what runs once room comes is certain.
            await schedules.add("blocked", tight_note.call(blocked), "@every 1m", misfire_grace=10)
            await schedules.add("free", note.call(free), "@every 1m")
            await clock.advance(330)
            assert free == [60.0, 120.0, 180.0, 240.0, 300.0]  # on time, every one
            assert blocked == []
            record = await schedules.get("blocked")
            assert (record.runs, record.last_job_id) == (1, None)  # its 00:01 fire waits
            # The scheduler still answers while the fire waits.
            await schedules.pause("free")
            await schedules.resume("free")
            assert runner.schedules.statistics().fired == 5

            _gates[gate].set()  # the held jobs end: room, and the waiting fire lands
            await clock.advance(0)
            assert blocked == [330.0]
            record = await schedules.get("blocked")
            # 00:02 to 00:05 came due while it waited: misfires, and past the grace time.
            assert (record.runs, record.misses, record.last_slot_at) == (1, 4, START + 300)
            assert record.next_run_at == START + 360
            await clock.advance(30)
            assert blocked == [330.0, 360.0]
            assert free == [60.0, 120.0, 180.0, 240.0, 300.0, 360.0]


async def test_slots_of_a_waiting_fire_follow_the_misfire_and_overlap_policies(
    clock: FakeClock, anyio_backend: str
) -> None:
    gate = f"policies-{anyio_backend}"
    log: list[float] = []
    missed: list[tuple[str, float, int]] = []
    async with JobRunner(clock=clock, queues=TIGHT) as runner:
        runner.subscribe(
            lambda e: missed.append((e.reason, e.first_slot_at - START, e.count)), ScheduleMissed
        )
        with anyio.fail_after(5):
            await fill_tight(runner, clock, gate)
            await runner.schedules.add(
                "held",
                note.with_options(queue="tight").call(log),
                "@every 1m",
                misfire="catch_up",
                overlap="allow",
            )
            await clock.advance(200)  # the 00:01 fire waits; 00:02 and 00:03 come due
            assert log == []
            assert missed == []  # nothing decided about them while the fire waits
            _gates[gate].set()
            await clock.advance(0)
            # Catching up: the waiting fire lands and runs, then each missed slot in turn.
            assert log == [200.0, 200.0, 200.0]
            record = await runner.schedules.get("held")
            assert (record.runs, record.misses, record.skipped_overlaps) == (3, 0, 0)
            assert missed == []


async def test_run_now_waiting_for_room_holds_up_no_schedule(
    clock: FakeClock, anyio_backend: str
) -> None:
    gate = f"run-now-{anyio_backend}"
    log: list[float] = []
    free: list[float] = []
    async with JobRunner(clock=clock, queues=TIGHT) as runner:
        with anyio.fail_after(5):
            await fill_tight(runner, clock, gate)
            schedules = runner.schedules
            await schedules.add("manual", note.with_options(queue="tight").call(log), "@daily")
            await schedules.add("free", note.call(free), "@every 1m")
            async with anyio.create_task_group() as group:
                group.start_soon(schedules.run_now, "manual")
                await clock.advance(120)
                assert free == [60.0, 120.0]  # the scheduler goes on meanwhile
                assert log == []
                _gates[gate].set()
            await clock.advance(0)
            assert log == [120.0]
            assert (await schedules.get("manual")).manual_runs == 1


async def test_removing_a_schedule_whose_fire_waits_drops_that_fire(
    clock: FakeClock, anyio_backend: str
) -> None:
    gate = f"remove-{anyio_backend}"
    log: list[float] = []
    async with JobRunner(clock=clock, queues=TIGHT) as runner:
        with anyio.fail_after(5):
            await fill_tight(runner, clock, gate)
            await runner.schedules.add(
                "gone", note.with_options(queue="tight").call(log), "@hourly"
            )
            await clock.advance(3600)  # its fire waits for room
            await runner.schedules.remove("gone")
            _gates[gate].set()
            await clock.advance(0)
            assert log == []  # the removed schedule's waiting fire gave up
            assert runner.queue_statistics()["tight"].size == 0
            assert runner.schedules.statistics().fired == 0


async def test_shutdown_while_a_fire_waits_for_room_ends_cleanly(
    clock: FakeClock, anyio_backend: str
) -> None:
    gate = f"shutdown-{anyio_backend}"
    log: list[float] = []
    missed: list[ScheduleMissed] = []
    store = MemoryJobStore()
    runner = JobRunner(clock=clock, queues=TIGHT, store=store, grace_period=5, cancel_timeout=5)
    try:
        async with runner:
            runner.subscribe(missed.append, ScheduleMissed)
            with anyio.fail_after(5):
                await fill_tight(runner, clock, gate)
                await runner.schedules.add(
                    "stuck", note.with_options(queue="tight").call(log), "@every 1m"
                )
                await clock.advance(60)  # its fire waits for room, and never gets it
        with anyio.fail_after(5):
            report = await runner.shutdown()
    finally:
        _gates[gate].set()
    assert log == []
    assert len(report.interrupted) == 2  # the two jobs holding the queue
    stats = runner.schedules.statistics()
    assert (stats.fired, stats.refused) == (0, 1)  # shutdown refused the waiting fire
    assert [(m.schedule, m.reason) for m in missed] == [("stuck", "refused")]
    assert "stopping" in (missed[0].error or "")
    assert asyncjobs_task_names() == []  # nothing of the runner is left running
    stored = await store.get_schedule("stuck")
    assert (stored.runs, stored.last_outcome) == (0, JobState.REJECTED)
