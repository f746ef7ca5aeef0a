"""The runner under hostile conditions: errors that cannot describe themselves, arguments
that cannot be repr'd, dead letters with their own options, shutdowns that overrun or are
cancelled from outside."""

from __future__ import annotations

import time
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from asyncjobs import (
    FixedBackoff,
    InvalidOption,
    JobRunner,
    JobState,
    Retry,
    RunnerState,
    Unique,
    current_runner,
    job,
)
from asyncjobs.testing import FakeClock, run_until_idle

from .conftest import asyncjobs_task_names

pytestmark = pytest.mark.anyio


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Unrepresentable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@job
async def add(a: int, b: int) -> int:
    return a + b


async def test_a_job_error_that_cannot_describe_itself_does_not_kill_the_worker(
    clock: FakeClock,
) -> None:
    @job(retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=1)))
    async def raises_unprintable() -> None:
        raise Unprintable

    async with JobRunner(clock=clock, queues={"default": 1}) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(raises_unprintable)
            await run_until_idle(runner, clock, settle=0)
            assert handle.state is JobState.FAILED
            record = handle.record()
            assert record.error == "Unprintable (its str() raised)"
            assert [a.error for a in record.history] == [record.error] * 2
            assert record.traceback is not None
            # The one worker still runs jobs.
            assert await (await runner.submit(add, 1, 1)) == 2
        assert runner.pool_statistics().capacity == 1


async def test_a_unique_job_with_arguments_that_cannot_be_repr_d_is_refused_at_submit() -> None:
    @job(unique=Unique())
    async def takes(thing: object) -> None:
        pass

    async with JobRunner() as runner:
        with pytest.raises(InvalidOption, match=r"unique\.key.*repr.*RuntimeError: no repr"):
            await runner.submit(takes, Unrepresentable())
        stats = runner.queue_statistics()["default"]
        assert (stats.enqueued, stats.size) == (0, 0)  # nothing half-made
        assert list((await runner.list_jobs()).records) == []
        # A key function works for such arguments.
        keyed = takes.with_options(unique=Unique(key=lambda thing: "one"))
        with anyio.fail_after(5):
            await (await runner.submit(keyed, Unrepresentable()))


async def test_a_key_function_error_that_cannot_describe_itself_is_refused_cleanly() -> None:
    def bad_key(x: int) -> str:
        raise Unprintable

    @job(unique=Unique(key=bad_key))
    async def keyed(x: int) -> None:
        pass

    async with JobRunner() as runner:
        with pytest.raises(InvalidOption, match=r"unique\.key.*Unprintable"):
            await runner.submit(keyed, 1)


async def test_a_requeued_dead_letter_keeps_the_options_it_was_submitted_with(
    clock: FakeClock,
) -> None:
    calls: list[int] = []

    @job
    async def flaky(x: int) -> int:
        calls.append(x)
        if len(calls) <= 3:
            raise ConnectionError("down")
        return x

    special = flaky.with_options(
        retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=5)), timeout=30, priority=7
    )
    async with JobRunner(clock=clock) as runner:
        handle = await runner.submit(special, 1)
        with anyio.fail_after(5):
            await run_until_idle(runner, clock, settle=0)
        assert handle.state is JobState.FAILED
        assert handle.record().attempts == 2  # the with_options retry, not the default
        again = await runner.dead_letters.requeue(handle.id)
        with anyio.fail_after(5):
            await run_until_idle(runner, clock, settle=0)
            assert await again == 1
        record = again.record()
        # The second round had the same two-attempt budget (failed once, then succeeded),
        # the same timeout and priority.
        assert (record.attempts, record.timeout, record.priority) == (2, 30, 7)
        assert len(calls) == 4


async def test_a_job_that_holds_the_event_loop_past_the_grace_period_is_named_late() -> None:
    started = anyio.Event()

    @job
    async def blocks() -> str:
        started.set()
        while current_runner().state is not RunnerState.STOPPING:
            await anyio.lowlevel.checkpoint()
        time.sleep(0.3)  # noqa: ASYNC251 - the mistake under test: it holds the loop
        return "done"

    runner = JobRunner(grace_period=0.05, cancel_timeout=0.05)
    with anyio.fail_after(10):
        async with runner:
            handle = await runner.submit(blocks)
            await started.wait()
    report = await runner.shutdown()
    assert handle.state is JobState.SUCCEEDED
    assert report.late == (handle.id,)
    assert report.drained is False
    assert report.interrupted == ()


async def test_a_job_waiting_to_retry_at_shutdown_is_named_interrupted(clock: FakeClock) -> None:
    @job(retry=Retry(max_attempts=3, backoff=FixedBackoff(delay=100)))
    async def fails() -> None:
        raise ConnectionError("down")

    runner = JobRunner(clock=clock)
    with anyio.fail_after(5):
        async with runner:
            handle = await runner.submit(fails)
            while handle.state is not JobState.SCHEDULED:
                await anyio.lowlevel.checkpoint()
    report = await runner.shutdown()
    assert handle.state is JobState.INTERRUPTED
    assert report.interrupted == (handle.id,)
    assert report.drained is True


async def test_a_shutdown_cancelled_from_outside_ends_every_job_and_goes_on_cancelling(
    clock: FakeClock,
) -> None:
    started = anyio.Event()

    @job
    async def long() -> None:
        started.set()
        await clock.sleep_until(clock.monotonic() + 3600)

    waiting = long.with_options(delay=60)
    runner = JobRunner(clock=clock, grace_period=600, cancel_timeout=1)
    handles: list[Any] = []
    with anyio.fail_after(10):
        with anyio.CancelScope() as outside:
            async with runner:
                handles.append(await runner.submit(long))
                handles.append(await runner.submit(waiting))
                await started.wait()
                outside.cancel()  # leaving the block is cancelled from outside
        assert outside.cancelled_caught
    report = await runner.shutdown()
    assert report.hurried is True
    assert [h.state for h in handles] == [JobState.INTERRUPTED, JobState.INTERRUPTED]
    assert set(report.interrupted) == {h.id for h in handles}
    assert runner.running_jobs() == ()
    assert asyncjobs_task_names() == []
    # The grace period was cut short: far less than 600 s of virtual time went by.
    assert clock.monotonic() < 60


async def test_an_explicit_shutdown_cancelled_from_outside_still_completes() -> None:
    started = anyio.Event()

    @job
    async def long() -> None:
        started.set()
        await anyio.sleep_forever()

    runner = JobRunner(grace_period=600, cancel_timeout=1)
    with anyio.fail_after(10):
        async with runner:
            handle = await runner.submit(long)
            await started.wait()
            with anyio.CancelScope() as outside:
                outside.cancel()
                await runner.shutdown()
            assert outside.cancelled_caught
            assert runner.state.value == "stopped"
    assert handle.state is JobState.INTERRUPTED
    assert (await runner.shutdown()).hurried is True
    assert asyncjobs_task_names() == []
