"""Delays, run-at times, job timeouts and result timeouts, all on virtual time."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from asyncjobs import (
    JobRunner,
    JobState,
    JobSubmitted,
    JobTimedOut,
    QueueConfig,
    QueueFull,
    ResultTimeout,
    job,
)
from asyncjobs.testing import FakeClock, run_until_idle

pytestmark = pytest.mark.anyio

started_at: dict[str, float] = {}


@job
async def stamp(tag: str, clock: FakeClock) -> str:
    started_at[tag] = clock.monotonic()
    return tag


@pytest.fixture(autouse=True)
def _clear() -> None:
    started_at.clear()


async def test_delayed_jobs_never_start_early_and_hold_no_worker(clock: FakeClock) -> None:
    async with JobRunner(queues={"default": 1}, clock=clock) as runner:
        with anyio.fail_after(5):
            later = await runner.submit(stamp.with_options(delay=10), "later", clock)
            soon = await runner.submit(
                stamp.with_options(delay=timedelta(seconds=3)), "soon", clock
            )
            assert later.state is JobState.SCHEDULED
            assert runner.pool_statistics().scheduled == 2
            # The only worker is free for immediate work while both wait.
            assert await (await runner.submit(stamp, "now", clock)) == "now"
            await clock.advance(2.999)
            assert "soon" not in started_at
            await clock.advance(0.001)
            await soon
            assert started_at["soon"] == 3.0
            await clock.advance(6.9)
            assert "later" not in started_at
            assert later.state is JobState.SCHEDULED
            await clock.advance(0.1)
            await later
    assert started_at == {"now": 0.0, "soon": 3.0, "later": 10.0}


async def test_run_at_an_aware_datetime(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            at = clock.now() + timedelta(minutes=5)
            handle = await runner.submit(stamp.with_options(at=at), "at", clock)
            past = await runner.submit(
                stamp.with_options(at=clock.now() - timedelta(days=1)), "past", clock
            )
            await past  # a time in the past means now
            record = await runner.get_job(handle.id)
            assert record.scheduled_for == at.timestamp()
            await run_until_idle(runner, clock)
            assert await handle == "at"
    assert started_at == {"past": 0.0, "at": 300.0}


@pytest.mark.parametrize("now", ["delay=0", "at=now", "at=past"])
async def test_one_rule_for_now_a_zero_delay_or_a_passed_time_runs_at_once(
    clock: FakeClock, now: str
) -> None:
    options = {
        "delay=0": {"delay": 0},
        "at=now": {"at": clock.now()},
        "at=past": {"at": clock.now() - timedelta(seconds=1)},
    }[now]
    states: list[JobState] = []
    # A full caller_runs queue: the caller runs a job that is due now (not one for later).
    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full="caller_runs")}
    async with JobRunner(clock=clock, queues=queues) as runner:
        runner.subscribe(lambda event: states.append(event.state), JobSubmitted)
        with anyio.fail_after(5):
            handle = await runner.submit(stamp.with_options(**options), now, clock)
            assert handle.state is not JobState.SCHEDULED
            assert await handle == now
            assert runner.pool_statistics().scheduled == 0
            record = handle.record()
            assert record.scheduled_for is not None
            assert record.scheduled_for <= record.created_at
            gate = anyio.Event()
            blocker = await runner.submit(wait_for, gate)
            await anyio.wait_all_tasks_blocked()  # it runs, on the queue's one worker
            queued = await runner.submit(wait_for, gate)  # the queue's one place
            by_caller = await runner.submit(stamp.with_options(**options), "caller", clock)
            assert by_caller.done()  # run by the caller, inside submit
            gate.set()
            await blocker
            await queued
    assert states[0] is JobState.QUEUED


@job
async def wait_for(gate: anyio.Event) -> None:
    await gate.wait()


async def test_scheduled_jobs_count_against_maxsize(clock: FakeClock) -> None:
    queues = {"default": QueueConfig(maxsize=2)}
    async with JobRunner(queues=queues, clock=clock) as runner:
        with anyio.fail_after(5):
            for tag in ("a", "b"):
                await runner.submit(stamp.with_options(delay=60), tag, clock)
            with pytest.raises(QueueFull):
                await runner.submit(stamp.with_options(delay=60), "c", clock)
            await run_until_idle(runner, clock)
    assert started_at == {"a": 60.0, "b": 60.0}


async def test_timeouts_cancel_the_handler_and_say_timed_out(clock: FakeClock) -> None:
    cancelled = anyio.Event()

    @job(timeout=5)
    async def slow() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(slow)
            quick = await runner.submit(slow.with_options(timeout=1))
            await anyio.wait_all_tasks_blocked()
            await clock.advance(1)
            with pytest.raises(JobTimedOut, match=r"timed out after 1\.0 seconds") as info:
                await quick
            assert isinstance(info.value, TimeoutError)
            assert handle.state is JobState.RUNNING
            await clock.advance(4)
            with pytest.raises(JobTimedOut):
                await handle
            assert cancelled.is_set()
            assert handle.state is JobState.FAILED
            record = await runner.get_job(handle.id)
            assert record.error is not None
            assert "timed out" in record.error
            assert runner.queue_statistics()["default"].failed == 2


async def test_a_job_that_finishes_in_time_is_not_timed_out(clock: FakeClock) -> None:
    @job(timeout=10)
    async def quick() -> str:
        return "done"

    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(quick)
            assert await handle == "done"
            await clock.advance(20)  # the cancelled timer must not fire afterwards
            assert handle.state is JobState.SUCCEEDED


async def test_result_with_timeout(clock: FakeClock) -> None:
    release = anyio.Event()

    @job
    async def waits() -> int:
        await release.wait()
        return 7

    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(waits)
            errors: list[BaseException] = []

            async def caller() -> None:
                try:
                    await handle.result(timeout=2)
                except ResultTimeout as exc:
                    errors.append(exc)

            async with anyio.create_task_group() as tg:
                tg.start_soon(caller)
                await anyio.wait_all_tasks_blocked()
                await clock.advance(2)
            assert "did not finish within timeout=2" in str(errors[0])
            assert isinstance(errors[0], TimeoutError)
            assert handle.state is JobState.RUNNING  # the job itself goes on
            release.set()
            assert await handle.result(timeout=5) == 7
