"""A BaseException from user code (KeyboardInterrupt, SystemExit, a subclass of its own):
the work it came from ends as an error would, the runner stays consistent, the block's body
is cancelled, and the exception comes out of the ``async with`` block once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from asyncjobs import (
    JobAborted,
    JobHandle,
    JobMiddleware,
    JobRunner,
    JobState,
    QueueConfig,
    Retry,
    job,
    report_progress,
)

from .conftest import asyncjobs_task_names

pytestmark = pytest.mark.anyio


class Stop(BaseException):
    """A BaseException of the user's own."""


KINDS = [KeyboardInterrupt, SystemExit, Stop]


@job
async def add(a: int, b: int) -> int:
    return a + b


async def _block_raises(
    kind: type[BaseException],
    body: Callable[[JobRunner], Awaitable[None]],
    **options: Any,
) -> JobRunner:
    """Run ``body`` in a runner's block and then wait forever: the block's task must be
    cancelled and the block left with ``kind``. Returns the runner, closed. (The body may be
    cancelled at any await after the exception came: it only sets things going; checks come
    after the block.)"""
    runner = JobRunner(**options)

    async def block() -> None:
        async with runner:
            await body(runner)
            await anyio.sleep_forever()

    with anyio.fail_after(10), pytest.raises(kind):
        await block()
    assert runner.state.value == "stopped"
    assert runner.running_jobs() == ()
    assert asyncjobs_task_names() == []
    return runner


@pytest.mark.parametrize("kind", KINDS)
async def test_an_async_job_that_raises_one_fails_aborted_and_stops_the_block(
    kind: type[BaseException],
) -> None:
    @job(retry=Retry(max_attempts=5))
    async def stops() -> None:
        raise kind

    handles: list[JobHandle[Any]] = []

    async def body(runner: JobRunner) -> None:
        handles.append(await runner.submit(stops))

    await _block_raises(kind, body)
    (handle,) = handles
    with pytest.raises(JobAborted) as caught:
        await handle  # the awaiter gets an ordinary failure, not the BaseException
    assert isinstance(caught.value.__cause__, kind)
    assert handle.state is JobState.FAILED
    assert handle.record().attempts == 1  # not retried
    assert handle.record().error is not None
    assert kind.__qualname__ in handle.record().error  # type: ignore[operator]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_sync_job_that_raises_one_fails_aborted_and_stops_the_block(
    kind: type[BaseException],
) -> None:
    @job
    def stops_in_thread() -> None:
        raise kind

    handles: list[JobHandle[Any]] = []

    async def body(runner: JobRunner) -> None:
        handles.append(await runner.submit(stops_in_thread))

    await _block_raises(kind, body)
    assert [h.state for h in handles] == [JobState.FAILED]


async def test_only_the_first_is_raised_and_later_ones_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @job
    async def interrupts() -> None:
        raise KeyboardInterrupt

    @job
    async def exits() -> None:
        raise SystemExit(2)

    handles: list[JobHandle[Any]] = []

    async def body(runner: JobRunner) -> None:
        # Both are submitted before either runs: the second comes while the first is kept.
        handles.append(await runner.submit(interrupts))
        handles.append(await runner.submit(exits))

    with caplog.at_level(logging.WARNING, logger="asyncjobs"):
        await _block_raises(KeyboardInterrupt, body)
    assert [h.state for h in handles] == [JobState.FAILED, JobState.FAILED]
    assert any("SystemExit" in r.getMessage() for r in caplog.records)


async def test_a_job_raising_the_cancellation_exception_on_its_own_fails() -> None:
    cancelled = anyio.get_cancelled_exc_class()

    @job
    async def raises_cancelled() -> None:
        raise cancelled()

    try:
        cancelled()
    except TypeError:
        pytest.skip("trio's Cancelled cannot be made by user code")
    async with JobRunner(queues={"default": 1}) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(raises_cancelled)
            # The awaiter is not cancelled: it gets an ordinary failure.
            with pytest.raises(JobAborted) as caught:
                await handle
            assert isinstance(caught.value.__cause__, cancelled)
            assert handle.state is JobState.FAILED
            # The single worker goes on.
            assert await (await runner.submit(add, 1, 1)) == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_a_listener_that_raises_one(kind: type[BaseException]) -> None:
    seen: list[str] = []

    def listener(event: object) -> None:
        raise kind

    handles: list[JobHandle[int]] = []

    async def body(runner: JobRunner) -> None:
        runner.subscribe(listener)
        runner.subscribe(lambda event: seen.append(type(event).__name__))
        handles.append(await runner.submit(add, 2, 2))

    await _block_raises(kind, body)
    assert await handles[0] == 4  # the job's outcome is its own
    assert "JobSucceeded" in seen  # the other listener had every event


@pytest.mark.parametrize("hook", ["before_submit", "before_run", "after_run", "on_failure"])
async def test_a_middleware_hook_that_raises_one(hook: str) -> None:
    async def raise_stop(self: JobMiddleware, *args: object) -> None:
        raise Stop

    middleware = type("Stopping", (JobMiddleware,), {hook: raise_stop})()

    @job
    async def fails() -> None:
        raise ValueError("no")

    handles: list[JobHandle[Any]] = []

    async def body(runner: JobRunner) -> None:
        handles.append(await runner.submit(add, 1, 1))
        handles.append(await runner.submit(fails))

    await _block_raises(Stop, body, middleware=[middleware])
    assert [h.state for h in handles] == [JobState.SUCCEEDED, JobState.FAILED]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_progress_callback_that_raises_one(kind: type[BaseException]) -> None:
    started = anyio.Event()
    go = anyio.Event()

    @job
    async def reports() -> str:
        started.set()
        await go.wait()
        report_progress(50)
        return "done"

    def callback(update: object) -> None:
        raise kind

    handles: list[JobHandle[str]] = []

    async def body(runner: JobRunner) -> None:
        handle = await runner.submit(reports)
        handles.append(handle)
        await started.wait()
        handle.on_progress(callback)
        go.set()

    await _block_raises(kind, body)
    assert await handles[0] == "done"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_reject_handler_that_raises_one(kind: type[BaseException]) -> None:
    gate = anyio.Event()
    rejected: list[JobHandle[Any]] = []

    @job(queue="small")
    async def waits() -> None:
        await gate.wait()

    def on_full(handle: JobHandle[Any]) -> None:
        rejected.append(handle)
        raise kind

    async def body(runner: JobRunner) -> None:
        await runner.submit(waits)
        await runner.submit(waits)  # waits in the queue's one place
        await runner.submit(waits)  # refused: the handler raises
        gate.set()

    queues = {"small": QueueConfig(concurrency=1, maxsize=1, on_full=on_full)}
    runner = await _block_raises(kind, body, queues=queues)
    assert rejected  # the first raised; any later one was logged
    assert {h.state for h in rejected} == {JobState.REJECTED}
    assert runner.queue_statistics()["small"].rejected == len(rejected)


async def test_raised_while_the_block_is_being_left() -> None:
    # The exception comes during shutdown (a listener of the interrupted event): the block
    # is being left already, so it is raised at the end of leaving it.
    started = anyio.Event()

    @job
    async def sleeps() -> None:
        started.set()
        await anyio.sleep_forever()

    def listener(event: object) -> None:
        if type(event).__name__ == "JobInterruptedEvent":
            raise Stop

    runner = JobRunner(grace_period=0, cancel_timeout=1)
    handles: list[JobHandle[None]] = []

    async def block() -> None:
        async with runner:
            runner.subscribe(listener)
            handles.append(await runner.submit(sleeps))
            await started.wait()

    with anyio.fail_after(10), pytest.raises(Stop):
        await block()
    assert [h.state for h in handles] == [JobState.INTERRUPTED]
    assert asyncjobs_task_names() == []


async def test_a_sync_job_returning_a_coroutine_is_a_mistake_not_left_unawaited() -> None:
    async def work() -> int:
        return 1

    @job(retry=Retry(max_attempts=3))
    def forgot_async() -> Any:
        return work()

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(forgot_async)
            await handle.wait()
    assert handle.state is JobState.FAILED
    assert handle.record().attempts == 1  # a mistake in the job: not retried
    assert "returned a coroutine" in (handle.record().error or "")


async def test_callbacks_returning_a_value_are_noticed(caplog: pytest.LogCaptureFixture) -> None:
    async def later(event: object) -> None:
        return None

    with caplog.at_level(logging.WARNING, logger="asyncjobs"):
        async with JobRunner() as runner:
            runner.subscribe(later)  # type: ignore[arg-type]  # async: never awaited
            runner.subscribe(lambda event: 42)
            with anyio.fail_after(5):
                assert await (await runner.submit(add, 1, 1)) == 2
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "returned a coroutine" in text
    assert "returned int" in text


@pytest.mark.parametrize("kind", KINDS)
async def test_a_subscriber_on_the_runners_own_bus_that_raises_one(
    kind: type[BaseException],
) -> None:
    def subscriber(event: object) -> None:
        raise kind

    handles: list[JobHandle[int]] = []

    async def body(runner: JobRunner) -> None:
        runner.bus.subscribe("job.succeeded", subscriber)
        handles.append(await runner.submit(add, 3, 4))

    await _block_raises(kind, body)  # raised once, by the runner's block; it stopped
    assert await handles[0] == 7


@pytest.mark.parametrize("kind", KINDS)
async def test_a_backoff_function_that_raises_one(kind: type[BaseException]) -> None:
    def backoff(attempt: int) -> float:
        raise kind

    @job(retry=Retry(max_attempts=3, backoff=backoff))
    async def fails() -> None:
        raise ConnectionError("down")

    handles: list[JobHandle[None]] = []

    async def body(runner: JobRunner) -> None:
        handles.append(await runner.submit(fails))

    await _block_raises(kind, body)
    assert handles[0].state is JobState.FAILED  # failed for good, its worker alive
    assert handles[0].record().attempts == 1
