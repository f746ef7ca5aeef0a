"""``asyncjobs.testing`` as users meet it: jobs doing real I/O on a fake clock, and leaving a
runner's block on a fake clock while work is still going on."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import anyio
import pytest

from asyncjobs import (
    InvalidOption,
    InvalidOptionType,
    JobHandle,
    JobInterrupted,
    JobRunner,
    JobState,
    JobSucceeded,
    JobTimedOut,
    job,
)
from asyncjobs.testing import FakeClock, OutcomeRecorder, run_until_idle

pytestmark = pytest.mark.anyio


@job(name="tests.testing.fetch", timeout=5)
async def fetch() -> str:
    await anyio.sleep(0.01)  # stands in for real I/O: real time, not the fake clock's
    return "page"


@job(name="tests.testing.crunch", timeout=5)
def crunch() -> int:
    time.sleep(0.01)  # a sync job's thread, busy in real time
    return 42


@job(name="tests.testing.waits_forever", timeout=5)
async def waits_forever() -> None:
    await anyio.sleep_forever()


async def test_a_job_awaiting_real_io_is_not_timed_out_by_run_until_idle(
    clock: FakeClock,
) -> None:
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handles = [await runner.submit(fetch), await runner.submit(crunch)]
            later = await runner.submit(fetch.with_options(delay=60))
            await run_until_idle(runner, clock)
            assert [await handle for handle in handles] == ["page", 42]
            assert await later == "page"  # the delay passed once nothing was running
    for handle in handles:
        record = handle.record()
        assert record.started_at == record.finished_at == record.created_at  # no fake time
    assert clock.monotonic() == 60


async def test_settle_zero_lets_a_running_job_time_out_at_once(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(waits_forever)
            await run_until_idle(runner, clock, settle=0)
            with pytest.raises(JobTimedOut):
                await handle
    assert clock.monotonic() == 5


async def test_a_job_sleeping_on_the_fake_clock_lets_time_jump(clock: FakeClock) -> None:
    @job(name="tests.testing.long_task")
    async def long_task() -> float:
        await clock.sleep_until(clock.monotonic() + 3600)
        return clock.monotonic()

    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(long_task)
            await run_until_idle(runner, clock)
            assert await handle == 3600


async def test_leaving_the_block_on_a_fake_clock_with_a_job_running_does_not_hang() -> None:
    clock = FakeClock()
    runner = JobRunner(clock=clock, grace_period=30, cancel_timeout=5)
    outcomes = OutcomeRecorder(runner)
    handles: list[JobHandle[None]] = []

    async def failing_test() -> None:
        async with runner:
            handles.append(await runner.submit(waits_forever.with_options(timeout=None)))
            await anyio.wait_all_tasks_blocked()
            raise AssertionError("the test's own failure")

    with anyio.fail_after(5), pytest.raises(AssertionError, match="the test's own failure"):
        await failing_test()
    (handle,) = handles
    assert handle.state is JobState.INTERRUPTED
    assert outcomes.states() == {handle.id: JobState.INTERRUPTED}
    assert clock.monotonic() == 30  # the grace period passed, in fake time
    report = await runner.shutdown()
    assert (report.drained, report.interrupted, report.abandoned) == (False, (handle.id,), ())


async def test_leaving_the_block_on_a_fake_clock_abandons_a_handler_that_ignores_cancel() -> None:
    release = anyio.Event()

    @job(name="tests.testing.stubborn")
    async def stubborn() -> None:
        with anyio.CancelScope(shield=True):
            await release.wait()

    clock = FakeClock()
    runner = JobRunner(clock=clock, grace_period=10, cancel_timeout=2)
    with anyio.fail_after(5):
        async with runner:
            handle = await runner.submit(stubborn)
            await anyio.wait_all_tasks_blocked()
        report = await runner.shutdown()
        assert report.abandoned == (handle.id,)
        assert clock.monotonic() == 12
        with pytest.raises(JobInterrupted):
            await handle
        release.set()


async def test_leaving_the_block_still_drains_work_that_can_run(clock: FakeClock) -> None:
    steps = anyio.Event()

    @job(name="tests.testing.two_steps")
    async def two_steps() -> str:
        await steps.wait()
        return "done"

    with anyio.fail_after(5):
        async with JobRunner(clock=clock, grace_period=30) as runner:
            handle = await runner.submit(two_steps)
            queued = [await runner.submit(fetch.with_options(timeout=None)) for _ in range(3)]
            steps.set()  # everything can finish: leaving the block waits for it
    assert await handle == "done"
    assert [await h for h in queued] == ["page"] * 3
    assert clock.monotonic() == 0


async def test_leaving_the_block_with_an_abandoned_handler_and_a_stuck_subscriber_ends() -> None:
    never = anyio.Event()

    @job(name="tests.testing.ignores_cancel")
    async def ignores_cancel() -> None:
        with anyio.CancelScope(shield=True):
            await never.wait()

    async def stuck_subscriber(event: object) -> None:
        await never.wait()

    clock = FakeClock()
    runner = JobRunner(clock=clock, grace_period=5, cancel_timeout=5)
    with anyio.fail_after(10):
        async with runner:
            runner.bus.subscribe("job.**", stuck_subscriber)
            handle = await runner.submit(ignores_cancel)
            await anyio.wait_all_tasks_blocked()
        report = await runner.shutdown()
    assert report.abandoned == (handle.id,)
    assert runner.running_jobs() == ()  # the abandoned handler runs on, but its job ended
    assert clock.monotonic() == 15  # grace, cancel timeout, then the bus's close timeout
    never.set()


async def test_run_until_idle_moves_on_for_a_parent_awaiting_a_delayed_child(
    clock: FakeClock,
) -> None:
    @job(name="tests.testing.child")
    async def child() -> str:
        return "child done"

    @job(name="tests.testing.parent")
    async def parent() -> str:
        return await (await child.with_options(delay=5).submit())

    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(parent)
            await run_until_idle(runner, clock)  # no progress in real time: time moves on
            assert await handle == "child done"
    assert clock.monotonic() == 5


async def test_leaving_the_block_lets_a_subscriber_doing_real_io_take_the_last_events() -> None:
    seen: list[str] = []

    async def slow_subscriber(event: JobSucceeded) -> None:
        await anyio.sleep(0.01)  # real I/O, in real time
        seen.append(event.job_id)

    clock = FakeClock()
    with anyio.fail_after(5):
        async with JobRunner(clock=clock) as runner:
            runner.bus.subscribe("job.succeeded", slow_subscriber)
            handles = [await runner.submit(fetch.with_options(timeout=None)) for _ in range(5)]
            for handle in handles:
                await handle
    assert sorted(seen) == sorted(h.id for h in handles)  # delivered, not dropped at close


# ---- hostile values at the fake clock and run_until_idle (issue 15)

# A fake clock's wall time stays inside datetime's range; this is past anything it takes.
_PAST_THE_END = datetime(9999, 12, 31, tzinfo=timezone.utc).timestamp()


class _IntOrderRaises(int):
    def __le__(self, other: object) -> bool:
        raise RuntimeError("int subclass __le__")

    def __lt__(self, other: object) -> bool:
        raise RuntimeError("int subclass __lt__")


class _FloatFloatRaises(float):
    def __float__(self) -> float:
        raise RuntimeError("float subclass __float__")


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("1", InvalidOptionType),
        (None, InvalidOptionType),
        (True, InvalidOptionType),
        (Decimal("1"), InvalidOptionType),
        (Decimal("NaN"), InvalidOptionType),
        (timedelta(seconds=1), InvalidOptionType),
        (math.nan, InvalidOption),
        (10**400, InvalidOption),
    ],
)
async def test_sleep_until_refuses_what_is_not_a_deadline(value: object, error: type) -> None:
    clock = FakeClock()
    with pytest.raises(error, match="deadline"):
        await clock.sleep_until(value)  # type: ignore[arg-type]
    assert clock.next_deadline() is None


async def test_sleep_until_reads_number_subclasses_as_their_plain_value() -> None:
    clock = FakeClock()
    woke: list[float] = []

    async def sleeper(deadline: float) -> None:
        await clock.sleep_until(deadline)
        woke.append(clock.monotonic())

    async with anyio.create_task_group() as group:
        group.start_soon(sleeper, _IntOrderRaises(5))
        group.start_soon(sleeper, _FloatFloatRaises(7.0))
        await clock.advance(0)
        assert type(clock.next_deadline()) is float
        await clock.advance(10)
    assert woke == [5.0, 7.0]


@pytest.mark.parametrize("deadline", [math.inf, 1e18, 1e308, 2**63])
async def test_a_deadline_past_the_clocks_range_is_never_reached(deadline: float) -> None:
    clock = FakeClock()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(clock.sleep_until, deadline)
            await clock.advance(0)
            assert clock.next_deadline() is None  # asleep for good, as on a real clock
            with pytest.raises(InvalidOption, match="seconds"):
                await clock.advance(_PAST_THE_END - clock.time())
            assert clock.now().year == 2026
            group.cancel_scope.cancel()  # ... until cancelled


async def test_advance_and_jump_keep_wall_time_a_datetime() -> None:
    clock = FakeClock()
    for seconds in (1e18, 2**63, timedelta.max):
        with pytest.raises(InvalidOption, match="seconds"):
            await clock.advance(seconds)
    for seconds in (1e18, -1e18, timedelta.max, timedelta.min, -1e308):
        with pytest.raises(InvalidOption, match="seconds"):
            clock.jump(seconds)
    assert (clock.monotonic(), clock.now()) == (0.0, datetime(2026, 1, 1, tzinfo=timezone.utc))
    clock.jump(datetime(9999, 1, 1, tzinfo=timezone.utc).timestamp() - clock.time())
    assert clock.now().year == 9999
    await clock.advance(86400)  # a day more still reads
    with pytest.raises(InvalidOption, match="seconds"):
        await clock.advance(365 * 86400)
    assert clock.now() == datetime(9999, 1, 2, tzinfo=timezone.utc)


def test_a_fake_clock_cannot_start_at_the_ends_of_datetime() -> None:
    for start in (
        datetime.max.replace(tzinfo=timezone.utc),
        datetime.min.replace(tzinfo=timezone.utc),
    ):
        with pytest.raises(InvalidOption, match="start"):
            FakeClock(start)


async def test_run_until_idle_leaves_a_job_due_past_the_clocks_range_scheduled(
    clock: FakeClock,
) -> None:
    # No retention sweep: its timer would come due every minute, for thousands of years.
    async with JobRunner(clock=clock, result_ttl=None, dead_letter_ttl=None) as runner:
        with anyio.fail_after(5):
            later = await runner.submit(fetch.with_options(delay=1e18))
            soon = await runner.submit(fetch.with_options(delay=5))
            await run_until_idle(runner, clock)
            assert await soon == "page"
            assert later.state is JobState.SCHEDULED  # due after the year 9999: never
            assert clock.monotonic() < 60  # nothing but the job due then
            assert await runner.cancel(later.id)


@pytest.mark.parametrize(
    ("settle", "error"),
    [
        ("1", InvalidOptionType),
        (Decimal("1"), InvalidOptionType),
        (Decimal("sNaN"), InvalidOptionType),
        ([1], InvalidOptionType),
        (math.nan, InvalidOption),
        (math.inf, InvalidOption),
        (-1, InvalidOption),
        (10**400, InvalidOption),
    ],
)
async def test_run_until_idle_refuses_a_bad_settle(
    clock: FakeClock, settle: object, error: type
) -> None:
    async with JobRunner(clock=clock) as runner:
        with pytest.raises(error, match="settle"):
            await run_until_idle(runner, clock, settle=settle)  # type: ignore[arg-type]


async def test_run_until_idle_takes_a_settle_timedelta(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(fetch)
            await run_until_idle(runner, clock, settle=timedelta(seconds=1))
            assert await handle == "page"
