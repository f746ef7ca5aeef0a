"""Shutdown: grace period, drain or interrupt, hard deadline, and nothing left behind."""

from __future__ import annotations

import anyio
import anyio.from_thread
import anyio.lowlevel
import pytest

from asyncjobs import JobInterrupted, JobRunner, JobState, RunnerNotRunning, RunnerState, job
from asyncjobs.abc import Backend
from asyncjobs.testing import FakeClock

from .conftest import asyncjobs_task_names

pytestmark = pytest.mark.anyio


async def test_close_within_grace_period_lets_running_and_queued_jobs_finish(
    clock: FakeClock,
) -> None:
    release = anyio.Event()
    done: list[int] = []

    @job
    async def work(i: int) -> int:
        await release.wait()
        done.append(i)
        return i

    runner = JobRunner(queues={"default": 2}, clock=clock, grace_period=30)
    async with runner:
        handles = [await runner.submit(work, i) for i in range(5)]
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner.shutdown)
                await anyio.wait_all_tasks_blocked()
                assert runner.state is RunnerState.STOPPING
                with pytest.raises(RunnerNotRunning, match="stopping"):
                    await runner.submit(work, 99)
                await clock.advance(10)  # well within the grace period
                release.set()
    report = await runner.shutdown()
    assert report.drained
    assert report.interrupted == ()
    assert sorted(done) == [0, 1, 2, 3, 4]
    assert [h.state for h in handles] == [JobState.SUCCEEDED] * 5
    assert runner.state is RunnerState.STOPPED


async def test_without_drain_queued_jobs_are_interrupted_at_once(clock: FakeClock) -> None:
    release = anyio.Event()

    @job
    async def work(i: int) -> int:
        await release.wait()
        return i

    runner = JobRunner(queues={"default": 1}, clock=clock, drain_on_shutdown=False)
    async with runner:
        running = await runner.submit(work, 0)
        queued = [await runner.submit(work, i) for i in (1, 2)]
        scheduled = await runner.submit(work.with_options(delay=60), 3)
        await anyio.wait_all_tasks_blocked()
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner.shutdown)
                await anyio.wait_all_tasks_blocked()
                release.set()
    report = await runner.shutdown()
    assert report.drained
    assert set(report.interrupted) == {h.id for h in [*queued, scheduled]}
    assert await running == 0
    for handle in [*queued, scheduled]:
        assert handle.state is JobState.INTERRUPTED
        with pytest.raises(JobInterrupted, match="interrupted by shutdown"):
            await handle


async def test_after_the_grace_period_running_jobs_are_interrupted_not_failed(
    clock: FakeClock,
) -> None:
    started = anyio.Event()

    @job
    async def endless() -> None:
        started.set()
        await anyio.sleep_forever()

    runner = JobRunner(clock=clock, grace_period=5, cancel_timeout=5)
    async with runner:
        handle = await runner.submit(endless)
        with anyio.fail_after(5):
            await started.wait()
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner.shutdown)
                await anyio.wait_all_tasks_blocked()
                await clock.advance(5)
    report = await runner.shutdown()
    assert not report.drained
    assert report.interrupted == (handle.id,)
    assert report.abandoned == ()
    assert handle.state is JobState.INTERRUPTED
    record = await runner.store.get(handle.id)
    assert record.state is JobState.INTERRUPTED
    assert runner.queue_statistics()["default"].failed == 0


async def test_close_returns_by_the_hard_deadline_when_a_handler_ignores_cancellation(
    clock: FakeClock,
) -> None:
    started = anyio.Event()
    stop_for_real = anyio.Event()
    finished = anyio.Event()

    @job
    async def stubborn() -> str:
        started.set()
        try:
            with anyio.CancelScope(shield=True):  # a handler that ignores cancellation
                await stop_for_real.wait()
            return "too late"
        finally:
            finished.set()

    runner = JobRunner(clock=clock, grace_period=1, cancel_timeout=2)
    async with runner:
        handle = await runner.submit(stubborn)
        with anyio.fail_after(5):
            await started.wait()
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner.shutdown)
                await anyio.wait_all_tasks_blocked()
                await clock.advance(1)
                await clock.advance(2)
    report = await runner.shutdown()
    assert report.abandoned == (handle.id,)
    assert handle.state is JobState.INTERRUPTED
    with pytest.raises(JobInterrupted):
        await handle
    # The abandoned handler can still finish later; its late result changes nothing.
    stop_for_real.set()
    with anyio.fail_after(5):
        await finished.wait()
        await anyio.wait_all_tasks_blocked()  # the freed worker sees shutdown and exits
    assert asyncjobs_task_names() == []
    assert handle.state is JobState.INTERRUPTED


async def test_no_asyncjobs_tasks_are_left_after_close() -> None:
    @job
    async def quick(i: int) -> int:
        return i

    async with JobRunner(queues={"default": 4, "other": 2}) as runner:
        # Six workers, the timer loop, the scheduler; and, on a backend, the feeder that
        # takes its jobs.
        expected = [f"asyncjobs-worker-{i}" for i in range(6)]
        expected += ["asyncjobs-scheduler", "asyncjobs-timers"]
        if isinstance(runner.store, Backend):
            expected.append("asyncjobs-feeder")
        assert sorted(asyncjobs_task_names()) == sorted(expected)
        with anyio.fail_after(5):
            for h in [await runner.submit(quick, i) for i in range(20)]:
                await h
    assert asyncjobs_task_names() == []


async def test_leaving_the_block_with_an_error_still_shuts_down() -> None:
    runner = JobRunner()
    with pytest.raises(ZeroDivisionError):
        async with runner:
            _ = 1 / 0
    assert runner.state is RunnerState.STOPPED
    assert asyncjobs_task_names() == []


async def test_host_cancellation_of_the_block_still_shuts_down_cleanly() -> None:
    started = anyio.Event()

    @job
    async def endless() -> None:
        started.set()
        await anyio.sleep_forever()

    runner = JobRunner(grace_period=0, cancel_timeout=5)
    with anyio.fail_after(5):
        with anyio.CancelScope() as scope:
            async with runner:
                handle = await runner.submit(endless)
                await started.wait()
                scope.cancel()
                await anyio.sleep_forever()
    assert handle.state is JobState.INTERRUPTED
    assert runner.state is RunnerState.STOPPED
    assert asyncjobs_task_names() == []


async def test_a_job_run_by_its_submitter_is_waited_for_and_then_interrupted(
    clock: FakeClock,
) -> None:
    from asyncjobs import JobHandle, QueueConfig

    started = anyio.Event()
    release = anyio.Event()
    caller_started = anyio.Event()

    @job
    async def work(tag: str) -> None:
        if tag == "caller":
            caller_started.set()
            await anyio.sleep_forever()
        if tag == "blocker":
            started.set()
            await release.wait()

    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full="caller_runs")}
    runner = JobRunner(queues=queues, clock=clock, grace_period=5, cancel_timeout=5)
    box: list[JobHandle[None]] = []
    async with runner:
        with anyio.fail_after(5):
            blocker = await runner.submit(work, "blocker")
            await started.wait()
            queued = await runner.submit(work, "queued")

            async def producer() -> None:
                box.append(await runner.submit(work, "caller"))  # runs right here

            async with anyio.create_task_group() as tg:
                tg.start_soon(producer)
                await caller_started.wait()
                tg.start_soon(runner.shutdown)
                release.set()  # the workers finish everything they have, and exit
                await anyio.wait_all_tasks_blocked()
                assert (blocker.state, queued.state) == (JobState.SUCCEEDED,) * 2
                await clock.advance(4.9)
                assert runner.state is RunnerState.STOPPING  # waits for the caller's job
                await clock.advance(0.1)
    report = await runner.shutdown()
    assert not report.drained
    assert box[0].state is JobState.INTERRUPTED
    assert report.interrupted == (box[0].id,)
    assert report.abandoned == ()


# ----------------------------------------------------------------- sync jobs' threads


async def test_a_thread_still_blocked_at_the_hard_deadline_is_named_abandoned(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    import threading

    release = threading.Event()
    started = anyio.Event()

    @job(name="tests.shutdown.blocking")
    def blocking() -> str:
        anyio.from_thread.run_sync(started.set)
        release.wait(timeout=30)  # Python cannot stop this thread
        return "late"

    runner = JobRunner(clock=clock, grace_period=5, cancel_timeout=5)
    try:
        async with runner:
            handle = await runner.submit(blocking)
            with anyio.fail_after(5):
                await started.wait()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(runner.shutdown)
                    await anyio.wait_all_tasks_blocked()
                    await clock.advance(5)  # the grace period: the job is stopped
                    await clock.advance(5)  # the cancel timeout: its thread still runs
        report = await runner.shutdown()
        assert not report.drained
        assert report.interrupted == (handle.id,)
        assert report.abandoned == (handle.id,)
        assert handle.state is JobState.INTERRUPTED
        assert "still running in a worker thread, which Python cannot stop" in caplog.text
        assert "anyio.from_thread.check_cancelled()" in caplog.text
    finally:
        release.set()


async def test_a_sync_job_that_checks_for_cancellation_ends_within_the_cancel_timeout(
    clock: FakeClock,
) -> None:
    import threading

    started = anyio.Event()
    stopped = threading.Event()

    @job(name="tests.shutdown.cooperative")
    def cooperative() -> None:
        anyio.from_thread.run_sync(started.set)
        try:
            while True:
                anyio.from_thread.check_cancelled()  # raises once the job is stopped
                stopped.wait(0.001)
        finally:
            stopped.set()

    runner = JobRunner(clock=clock, grace_period=5, cancel_timeout=5)
    async with runner:
        handle = await runner.submit(cooperative)
        with anyio.fail_after(5):
            await started.wait()
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner.shutdown)
                await anyio.wait_all_tasks_blocked()
                await clock.advance(5)  # the grace period; the thread then stops by itself
    report = await runner.shutdown()  # returned without the cancel timeout passing
    assert stopped.is_set()
    assert clock.monotonic() == 5
    assert report.interrupted == (handle.id,)
    assert report.abandoned == ()


async def test_a_cancelled_sync_jobs_thread_gets_the_grace_period_then_is_named(
    clock: FakeClock,
) -> None:
    import threading

    release = threading.Event()
    started = anyio.Event()

    @job(name="tests.shutdown.ignores_cancel")
    def ignores_cancel() -> None:
        anyio.from_thread.run_sync(started.set)
        release.wait(timeout=30)

    runner = JobRunner(clock=clock, grace_period=5)
    try:
        async with runner:
            handle = await runner.submit(ignores_cancel)
            with anyio.fail_after(5):
                await started.wait()
                assert await handle.cancel()
                await handle.wait()  # resolved at once; the thread goes on
                async with anyio.create_task_group() as tg:
                    tg.start_soon(runner.shutdown)
                    await anyio.wait_all_tasks_blocked()
                    assert runner.state is RunnerState.STOPPING  # waiting for the thread
                    await clock.advance(5)  # the grace period ends: the thread is named
        report = await runner.shutdown()
        assert report.drained
        assert (handle.state, report.interrupted, report.abandoned) == (
            JobState.CANCELLED,
            (),
            (handle.id,),
        )
    finally:
        release.set()


async def test_a_cancelled_sync_job_that_stops_within_the_grace_period_is_not_named(
    clock: FakeClock,
) -> None:
    import threading

    started = anyio.Event()
    stopped = threading.Event()

    @job(name="tests.shutdown.stops_when_asked")
    def stops_when_asked() -> None:
        anyio.from_thread.run_sync(started.set)
        try:
            while not stopped.wait(0.001):
                anyio.from_thread.check_cancelled()
        finally:
            stopped.set()

    runner = JobRunner(clock=clock, grace_period=5)
    async with runner:
        handle = await runner.submit(stops_when_asked)
        with anyio.fail_after(5):
            await started.wait()
            assert await handle.cancel()
            await handle.wait()
    report = await runner.shutdown()  # it waited, in real time, for the thread to end
    assert stopped.is_set()
    assert report.abandoned == ()


async def test_a_job_whose_attempt_fails_during_shutdown_is_in_the_report(
    clock: FakeClock,
) -> None:
    from asyncjobs import FixedBackoff, Retry

    release = anyio.Event()

    @job(
        name="tests.shutdown.fails_late", retry=Retry(max_attempts=3, backoff=FixedBackoff(delay=1))
    )
    async def fails_late() -> None:
        await release.wait()
        raise ConnectionError("gone")

    runner = JobRunner(clock=clock, grace_period=5)
    async with runner:
        handle = await runner.submit(fails_late)
        with anyio.fail_after(5):
            await anyio.wait_all_tasks_blocked()
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner.shutdown)
                await anyio.wait_all_tasks_blocked()
                release.set()  # it fails within the grace period, with attempts left
    report = await runner.shutdown()
    assert handle.state is JobState.INTERRUPTED
    assert report.interrupted == (handle.id,)
    assert report.drained


async def test_a_sync_job_stopped_before_its_thread_started_is_not_abandoned(
    clock: FakeClock,
) -> None:
    import threading

    import anyio.to_thread

    release = threading.Event()
    started = anyio.Event()

    @job(name="tests.shutdown.holds_the_only_thread")
    def holds_the_only_thread() -> None:
        anyio.from_thread.run_sync(started.set)
        release.wait(timeout=30)

    @job(name="tests.shutdown.never_gets_a_thread")
    def never_gets_a_thread() -> None: ...

    limiter = anyio.to_thread.current_default_thread_limiter()
    tokens = limiter.total_tokens
    limiter.total_tokens = 1  # one worker thread in all, for this test
    runner = JobRunner(clock=clock, grace_period=1, cancel_timeout=1)
    try:
        async with runner:
            holder = await runner.submit(holds_the_only_thread)
            with anyio.fail_after(5):
                await started.wait()
                waiting = await runner.submit(never_gets_a_thread)
                await anyio.wait_all_tasks_blocked()  # it waits for a thread
                async with anyio.create_task_group() as tg:
                    tg.start_soon(runner.shutdown)
                    await anyio.wait_all_tasks_blocked()
                    await clock.advance(1)
                    await clock.advance(1)
        report = await runner.shutdown()
        assert set(report.interrupted) == {holder.id, waiting.id}
        assert report.abandoned == (holder.id,)  # the waiting one has no thread to abandon
    finally:
        release.set()
        limiter.total_tokens = tokens


def test_a_job_with_two_threads_stays_tracked_until_both_return() -> None:
    """An attempt that timed out can leave its thread running beside its retry's: the job
    counts as still running in a thread until the last of them returns."""
    import contextvars
    import threading

    from asyncjobs._threads import Threads

    threads: Threads[str] = Threads()
    gates = [threading.Event(), threading.Event()]
    started = [threading.Event(), threading.Event()]

    def attempt(n: int) -> None:
        started[n].set()
        gates[n].wait(timeout=30)

    workers = [
        threading.Thread(
            target=threads.call("job-1", contextvars.copy_context(), attempt, (n,), {})
        )
        for n in (0, 1)
    ]
    for n, worker in enumerate(workers):
        worker.start()
        assert started[n].wait(timeout=5)
    assert threads.still_running() == ["job-1"]
    gates[0].set()
    workers[0].join(timeout=5)
    assert threads.still_running() == ["job-1"]  # the retry's thread still runs
    gates[1].set()
    workers[1].join(timeout=5)
    assert threads.still_running() == []


async def test_a_cooperative_job_is_not_abandoned_with_a_zero_cancel_timeout() -> None:
    # Found by the model test: cancelled at a checkpoint, a trio task needs two loop turns
    # to stop, and a zero cancel timeout left it none: it was reported abandoned.
    started: list[anyio.Event] = []

    @job
    async def cooperative() -> None:
        started[-1].set()
        while True:
            await anyio.lowlevel.checkpoint()

    for _ in range(20):
        started.append(anyio.Event())
        runner = JobRunner(grace_period=0, cancel_timeout=0)
        with anyio.fail_after(5):
            async with runner:
                handle = await runner.submit(cooperative)
                await started[-1].wait()
        report = await runner.shutdown()
        assert report.abandoned == ()
        assert report.interrupted == (handle.id,)
