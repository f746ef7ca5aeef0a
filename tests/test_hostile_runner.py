"""The runner under hostile conditions: errors that cannot describe themselves, arguments
that cannot be repr'd, dead letters with their own options, shutdowns that overrun or are
cancelled from outside."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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
    WrongEventLoop,
    current_runner,
    job,
    report_progress,
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


async def test_a_runner_used_from_another_thread_refuses_with_a_typed_error() -> None:
    gate = anyio.Event()

    @job
    async def waits() -> int:
        await gate.wait()
        return 7

    async with JobRunner() as runner:
        handle = await runner.submit(waits)
        outcomes: dict[str, str] = {}

        def elsewhere() -> None:
            # A thread with an event loop of its own, as a sync framework's might have.
            async def attempt(name: str, call: Callable[[], Awaitable[object]]) -> None:
                try:
                    await call()
                except WrongEventLoop as exc:
                    outcomes[name] = str(exc)

            async def all_of_them() -> None:
                await attempt("submit", lambda: runner.submit(add, 1, 2))
                await attempt("submit_many", lambda: runner.submit_many([add.call(1, 2)]))
                await attempt("await", lambda: handle)
                await attempt("result", lambda: handle.result(timeout=1))
                await attempt("cancel", lambda: runner.cancel(handle.id))
                await attempt("handle.cancel", handle.cancel)

            asyncio.run(all_of_them())

        with anyio.fail_after(10):
            await anyio.to_thread.run_sync(elsewhere)
            assert sorted(outcomes) == sorted(
                ["submit", "submit_many", "await", "result", "cancel", "handle.cancel"]
            )
            assert all("another thread" in text for text in outcomes.values())
            # Nothing changed: the job still runs, and only the one job was submitted.
            assert handle.state is JobState.RUNNING
            gate.set()
            assert await handle == 7
        assert runner.queue_statistics()["default"].enqueued == 1


async def test_a_job_submitted_from_a_task_that_never_entered_the_block_submits_children() -> None:
    @job
    async def parent() -> int:
        return await (await add.submit(2, 3))

    async with JobRunner() as runner:
        results: list[int] = []

        async def handler() -> None:  # as a web request's task would
            results.append(await (await runner.submit(parent)))

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(handler)
    assert results == [5]


def test_an_error_message_echoes_only_the_start_of_an_offending_value() -> None:
    secret = "s3cr3t-" + "x" * 10_000
    with pytest.raises(InvalidOption) as caught:
        JobRunner(grace_period=secret)  # type: ignore[arg-type]
    text = str(caught.value)
    assert text.startswith("grace_period='s3cr3t-")
    assert len(text) < 300
    assert caught.value.value == secret  # the whole value stays on the error for code


def test_an_error_message_survives_a_value_whose_repr_raises() -> None:
    with pytest.raises(InvalidOption, match=r"grace_period=<Unrepresentable "):
        JobRunner(grace_period=Unrepresentable())  # type: ignore[arg-type]


def test_workers_are_bounded() -> None:
    with pytest.raises(InvalidOption, match="max_workers"):
        JobRunner(max_workers=10**9)
    # A huge concurrency from configuration does not start a task per place.
    runner = JobRunner(queues={"default": 10**9})
    assert runner.pool_statistics().capacity == 10_000  # the documented most


async def test_a_long_progress_message_is_cut() -> None:
    @job
    async def chatty() -> None:
        report_progress(message="m" * 100_000, step="s" * 5000)

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(chatty)
            await handle
    progress = handle.latest_progress()
    assert progress is not None
    assert progress.message is not None
    assert progress.step is not None
    assert len(progress.message) == len(progress.step) == 1000
    assert progress.message.endswith("...")
