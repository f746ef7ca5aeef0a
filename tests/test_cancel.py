"""Cancellation: while scheduled, while queued, while running, after completion."""

from __future__ import annotations

import anyio
import pytest

from asyncjobs import JobCancelled, JobNotFound, JobRunner, JobState, current_job, job
from asyncjobs.testing import FakeClock, OutcomeRecorder

pytestmark = pytest.mark.anyio

ran: list[str] = []


@job
async def record_run(tag: str) -> str:
    ran.append(tag)
    return tag


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran.clear()


async def test_cancel_while_queued_never_starts() -> None:
    release = anyio.Event()
    holding = anyio.Event()

    @job
    async def hold() -> None:
        holding.set()
        await release.wait()

    async with JobRunner(queues={"default": 1}) as runner:
        with OutcomeRecorder(runner) as outcomes, anyio.fail_after(5):
            blocker = await runner.submit(hold)
            await holding.wait()
            queued = await runner.submit(record_run, "queued")
            after = await runner.submit(record_run, "after")
            assert await queued.cancel() is True
            assert queued.state is JobState.CANCELLED
            with pytest.raises(JobCancelled, match="before it started"):
                await queued
            assert runner.queue_statistics()["default"].size == 1
            release.set()
            await blocker
            await after
            assert outcomes.states()[queued.id] is JobState.CANCELLED
    assert ran == ["after"]


async def test_cancel_while_scheduled(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(record_run.with_options(delay=5), "never")
            assert await runner.cancel(handle.id) is True
            assert runner.pool_statistics().scheduled == 0
            await clock.advance(10)
            with pytest.raises(JobCancelled):
                await handle
    assert ran == []


async def test_cancel_while_running_cancels_the_handler() -> None:
    started = anyio.Event()
    cleaned_up = anyio.Event()

    @job
    async def long_running() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cleaned_up.set()

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(long_running)
            await started.wait()
            assert await handle.cancel() is True
            with pytest.raises(JobCancelled, match="while running") as info:
                await handle
            assert info.value.job_id == handle.id
            assert not isinstance(info.value, anyio.get_cancelled_exc_class())
            assert cleaned_up.is_set()
            assert handle.state is JobState.CANCELLED
            # The worker is fine and takes the next job.
            assert await (await runner.submit(record_run, "next")) == "next"
            assert runner.pool_statistics().running == 0


async def test_cancel_a_running_sync_job_resolves_without_waiting_for_the_thread() -> None:
    import threading

    entered = threading.Event()
    unblock = threading.Event()

    @job
    def stuck() -> None:
        entered.set()
        unblock.wait(10)

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(stuck)
            while not entered.is_set():
                await anyio.to_thread.run_sync(entered.wait, 0.1)
            await handle.cancel()
            with pytest.raises(JobCancelled):
                await handle
        unblock.set()


async def test_cancel_after_completion_is_a_no_op_that_says_so() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(record_run, "done")
            assert await handle == "done"
            assert await handle.cancel() is False
            assert await runner.cancel(handle.id) is False
            assert handle.state is JobState.SUCCEEDED
            assert await handle == "done"
            with pytest.raises(JobNotFound):
                await runner.cancel("no-such-job")


async def test_a_stop_never_leaks_into_the_workers_next_job() -> None:
    started = anyio.Event()
    go_on = anyio.Event()
    outcomes: list[str] = []

    @job
    async def swallows() -> str:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            outcomes.append("swallowed")
        return "returned anyway"

    @job
    async def cancels_itself_then_returns() -> str:
        me = current_job()
        assert me is not None
        await me.cancel()  # requested, but not delivered before we return
        return "quick"

    @job
    async def next_job() -> str:
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        await go_on.wait()
        return "next ran"

    async with JobRunner(queues={"default": 1}) as runner:
        with anyio.fail_after(5):
            first = await runner.submit(swallows)
            await started.wait()
            await first.cancel()
            with pytest.raises(JobCancelled):
                await first
            second = await runner.submit(cancels_itself_then_returns)
            with pytest.raises(JobCancelled):
                await second
            third = await runner.submit(next_job)
            await anyio.wait_all_tasks_blocked()
            go_on.set()
            assert await third == "next ran"
    assert outcomes == ["swallowed"]
