"""One complete hook set: ``on_end`` sees every job end exactly once, whatever the outcome,
and lifecycle events carry the timings of the record (issue 16, item 6)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import pytest

from asyncjobs import (
    FixedBackoff,
    JobCancelled,
    JobCancelledEvent,
    JobEvent,
    JobFailed,
    JobHandle,
    JobInterrupted,
    JobMiddleware,
    JobRejected,
    JobRetried,
    JobRunner,
    JobStarted,
    JobState,
    JobSucceeded,
    JobTimedOut,
    QueueConfig,
    Retry,
    SkipJob,
    job,
)
from asyncjobs.storage import MemoryBackend
from asyncjobs.testing import FakeClock, run_until_idle

pytestmark = pytest.mark.anyio

Outcome = tuple[JobState, type[BaseException] | None]


class Ends(JobMiddleware):
    """Notes every ``on_end`` call (and every ``on_retry``), with what the hook could see."""

    def __init__(self) -> None:
        self.ends: list[tuple[str, JobState, type[BaseException] | None, bool]] = []
        self.retries: list[str] = []

    async def on_retry(self, handle: JobHandle[Any], error: BaseException, delay: float) -> None:
        self.retries.append(handle.id)

    async def on_end(
        self, handle: JobHandle[Any], state: JobState, error: BaseException | None
    ) -> None:
        self.ends.append((handle.id, state, None if error is None else type(error), handle.done()))

    def of(self, handle: JobHandle[Any]) -> list[Outcome]:
        """What ``on_end`` was told about ``handle``, each call."""
        return [(state, error) for job_id, state, error, _ in self.ends if job_id == handle.id]

    def check_once_each(self, count: int) -> None:
        """``count`` jobs ended, each seen once, each already done when the hook ran."""
        assert len(self.ends) == count
        assert all(n == 1 for n in Counter(entry[0] for entry in self.ends).values())
        assert all(done for *_, done in self.ends)


@job(name="tests.hooks_complete.value")
async def value(x: int) -> int:
    return x


@job(name="tests.hooks_complete.broken")
async def broken() -> None:
    raise ValueError("broken")


@job(name="tests.hooks_complete.flaky", retry=Retry(max_attempts=3, backoff=FixedBackoff(delay=2)))
async def flaky() -> None:
    raise ConnectionError("down")


@job(name="tests.hooks_complete.hold")
async def hold(started: anyio.Event, gate: anyio.Event) -> str:
    started.set()
    await gate.wait()
    return "held"


@job(name="tests.hooks_complete.sleepy", timeout=1)
async def sleepy() -> None:
    await anyio.sleep_forever()


@job(
    name="tests.hooks_complete.sleepy_retried",
    timeout=1,
    retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=5)),
)
async def sleepy_retried() -> None:
    await anyio.sleep_forever()


@job(name="tests.hooks_complete.nap")
async def nap(clock: FakeClock, seconds: float) -> float:
    await clock.sleep_until(clock.monotonic() + seconds)
    return seconds


@job(
    name="tests.hooks_complete.nap_fails",
    retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=4)),
)
async def nap_fails(clock: FakeClock, seconds: float) -> None:
    await clock.sleep_until(clock.monotonic() + seconds)
    raise ConnectionError("down")


# ----------------------------------------------------------------- every outcome, once


async def test_success_and_failure_without_retry() -> None:
    ends = Ends()
    async with JobRunner(middleware=[ends]) as runner:
        with anyio.fail_after(5):
            good = await runner.submit(value, 1)
            bad = await runner.submit(broken)
            assert await good == 1
            with pytest.raises(ValueError, match="broken"):
                await bad
    assert ends.of(good) == [(JobState.SUCCEEDED, None)]
    assert ends.of(bad) == [(JobState.FAILED, ValueError)]
    assert ends.retries == []
    ends.check_once_each(2)


async def test_failure_after_retries_ends_once(clock: FakeClock) -> None:
    ends = Ends()
    async with JobRunner(middleware=[ends], clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(flaky)
            await run_until_idle(runner, clock)
            with pytest.raises(ConnectionError):
                await handle
    assert ends.retries == [handle.id, handle.id]  # attempts 1 and 2; the third is the last
    assert ends.of(handle) == [(JobState.FAILED, ConnectionError)]
    ends.check_once_each(1)


async def test_timeout_for_good_and_after_a_retry(clock: FakeClock) -> None:
    ends = Ends()
    async with JobRunner(middleware=[ends], clock=clock) as runner:
        with anyio.fail_after(5):
            once = await runner.submit(sleepy)
            twice = await runner.submit(sleepy_retried)
            await run_until_idle(runner, clock, settle=0)  # to the timeouts
            for handle in (once, twice):
                with pytest.raises(JobTimedOut):
                    await handle
    assert ends.retries == [twice.id]
    assert ends.of(once) == [(JobState.FAILED, JobTimedOut)]
    assert ends.of(twice) == [(JobState.FAILED, JobTimedOut)]
    ends.check_once_each(2)


async def test_cancel_of_waiting_jobs() -> None:
    ends = Ends()
    queues = {"default": QueueConfig(concurrency=1)}
    started, gate = anyio.Event(), anyio.Event()
    async with JobRunner(queues=queues, middleware=[ends]) as runner:
        with anyio.fail_after(5):
            busy = await runner.submit(hold, started, gate)
            await started.wait()
            queued = await runner.submit(value, 1)  # waits for the one worker
            scheduled = await runner.submit(value.with_options(delay=60), 2)
            assert await queued.cancel() is True
            assert await scheduled.cancel() is True
            assert await queued.cancel() is False  # a second cancel ends nothing
            gate.set()
            assert await busy == "held"
    for handle in (queued, scheduled):
        assert ends.of(handle) == [(JobState.CANCELLED, JobCancelled)]
    assert ends.of(busy) == [(JobState.SUCCEEDED, None)]
    ends.check_once_each(3)


async def test_cancel_of_jobs_waiting_in_a_shared_backend() -> None:
    """A job waiting in a shared backend, cancelled there, ran in no runner: the runner that
    cancelled it calls its hooks, once."""
    ends = Ends()
    started, gate = anyio.Event(), anyio.Event()
    async with JobRunner(store=MemoryBackend(), max_workers=1, middleware=[ends]) as runner:
        with anyio.fail_after(5):
            busy = await runner.submit(hold, started, gate)
            await started.wait()
            queued = await runner.submit(value, 1)  # waits in the backend for the worker
            scheduled = await runner.submit(value.with_options(delay=60), 2)
            assert await queued.cancel() is True
            assert await runner.cancel(scheduled.id) is True
            assert await queued.cancel() is False
            gate.set()
            assert await busy == "held"
            with pytest.raises(JobCancelled):
                await scheduled
    for handle in (queued, scheduled):
        assert ends.of(handle) == [(JobState.CANCELLED, JobCancelled)]
    ends.check_once_each(3)


async def test_cancel_of_a_running_job() -> None:
    ends = Ends()
    started, gate = anyio.Event(), anyio.Event()
    async with JobRunner(middleware=[ends]) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(hold, started, gate)
            await started.wait()
            assert await handle.cancel() is True
            with pytest.raises(JobCancelled, match="while running"):
                await handle
    assert ends.of(handle) == [(JobState.CANCELLED, JobCancelled)]
    ends.check_once_each(1)


async def test_shutdown_interrupts_running_waiting_and_retrying_jobs(clock: FakeClock) -> None:
    ends = Ends()
    queues = {"default": QueueConfig(concurrency=1), "other": QueueConfig()}
    started, gate = anyio.Event(), anyio.Event()
    runner = JobRunner(queues=queues, middleware=[ends], clock=clock, grace_period=0)
    async with runner:
        with anyio.fail_after(5):
            running = await runner.submit(hold, started, gate)
            await started.wait()
            queued = await runner.submit(value, 1)
            scheduled = await runner.submit(value.with_options(delay=60), 2)
            retrying = await runner.submit(flaky.with_options(queue="other"))
            await anyio.wait_all_tasks_blocked()  # its first attempt failed: it waits 2 s
            assert ends.retries == [retrying.id]
    # Leaving the block (grace_period=0) cut everything off.
    for handle in (running, queued, scheduled, retrying):
        with pytest.raises(JobInterrupted):
            await handle
        assert ends.of(handle) == [(JobState.INTERRUPTED, JobInterrupted)]
    ends.check_once_each(4)


@pytest.mark.parametrize("store", ["own", "shared"])
@pytest.mark.parametrize("policy", ["drop_newest", "drop_oldest", "handler"])
async def test_full_queue_rejections(policy: str, store: str) -> None:
    """A job dropped from a full queue gets its hooks once; on a shared backend, the runner
    whose submit evicted it (or dropped it) calls them."""
    ends = Ends()
    told: list[str] = []
    on_full: Any = (lambda handle: told.append(handle.id)) if policy == "handler" else policy
    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full=on_full)}
    started, gate = anyio.Event(), anyio.Event()
    backend = MemoryBackend() if store == "shared" else None
    async with JobRunner(queues=queues, middleware=[ends], store=backend) as runner:
        with anyio.fail_after(5):
            first = await runner.submit(hold, started, gate)
            await started.wait()  # it runs: the queue is empty again
            second = await runner.submit(value, 2)  # fills the one place
            third = await runner.submit(value, 3)
            gate.set()
            dropped, kept = (second, third) if policy == "drop_oldest" else (third, second)
            with pytest.raises(JobRejected, match="was dropped"):
                await dropped
            assert await kept == kept.record().args[0]
            assert await first == "held"
    assert ends.of(dropped) == [(JobState.REJECTED, JobRejected)]
    assert ends.of(kept) == [(JobState.SUCCEEDED, None)]
    assert told == ([third.id] if policy == "handler" else [])
    ends.check_once_each(3)


class Skipper(JobMiddleware):
    def __init__(self, at: str) -> None:
        self.at = at

    async def before_submit(self, handle: JobHandle[Any]) -> None:
        if self.at == "submit":
            raise SkipJob("not now")

    async def before_run(self, handle: JobHandle[Any]) -> None:
        if self.at == "run":
            raise SkipJob("not now")


@pytest.mark.parametrize("at", ["submit", "run"])
async def test_skip_job(at: str) -> None:
    ends = Ends()
    async with JobRunner(middleware=[ends, Skipper(at)]) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(value, 1)
            with pytest.raises(JobRejected, match="skipped by middleware: not now"):
                await handle
    assert ends.of(handle) == [(JobState.REJECTED, JobRejected)]
    ends.check_once_each(1)


@pytest.mark.parametrize("skip", [False, True])
async def test_caller_runs_job(skip: bool) -> None:
    ends = Ends()

    class SkipInCaller(JobMiddleware):
        async def before_run(self, handle: JobHandle[Any]) -> None:
            if skip and handle.record().args == (3,):
                raise SkipJob("not in the caller")

    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full="caller_runs")}
    started, gate = anyio.Event(), anyio.Event()
    async with JobRunner(queues=queues, middleware=[ends, SkipInCaller()]) as runner:
        with anyio.fail_after(5):
            first = await runner.submit(hold, started, gate)
            await started.wait()
            second = await runner.submit(value, 2)  # waits in the full queue
            here = await runner.submit(value, 3)  # the caller runs it, inside submit
            assert here.done()
            if skip:
                assert ends.of(here) == [(JobState.REJECTED, JobRejected)]
            else:
                assert ends.of(here) == [(JobState.SUCCEEDED, None)]  # seen within submit
            gate.set()
            await first
            assert await second == 2
    ends.check_once_each(3)


# ----------------------------------------------------------------- order and isolation


class Order(JobMiddleware):
    """Notes the failure hooks in order, and what ``on_end`` finds stored."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.runner: JobRunner | None = None

    async def on_failure(self, handle: JobHandle[Any], error: BaseException) -> None:
        self.log.append("on_failure")

    async def on_dead_letter(self, handle: JobHandle[Any]) -> None:
        self.log.append("on_dead_letter")

    async def on_end(
        self, handle: JobHandle[Any], state: JobState, error: BaseException | None
    ) -> None:
        assert self.runner is not None
        stored = await self.runner.get_job(handle.id)
        self.log.append(f"on_end done={handle.done()} stored={stored.state.value}")


async def test_on_end_comes_last_once_the_outcome_is_stored() -> None:
    order = Order()
    async with JobRunner(middleware=[order]) as runner:
        order.runner = runner
        with anyio.fail_after(5):
            handle = await runner.submit(broken)
            with pytest.raises(ValueError, match="broken"):
                await handle
    assert order.log == ["on_failure", "on_dead_letter", "on_end done=True stored=failed"]


class Raising(JobMiddleware):
    async def on_end(
        self, handle: JobHandle[Any], state: JobState, error: BaseException | None
    ) -> None:
        raise RuntimeError("on_end bug")


async def test_a_raising_on_end_is_isolated(caplog: pytest.LogCaptureFixture) -> None:
    ends = Ends()
    started, gate = anyio.Event(), anyio.Event()
    # Raising is the innermost: its on_end runs first, and the outer one is still called.
    async with JobRunner(middleware=[ends, Raising()]) as runner:
        with anyio.fail_after(5):
            good = await runner.submit(value, 1)
            bad = await runner.submit(broken)
            cancelled = await runner.submit(hold, started, gate)
            await started.wait()
            await cancelled.cancel()
            assert await good == 1
            with pytest.raises(ValueError, match="broken"):
                await bad
            with pytest.raises(JobCancelled):
                await cancelled
            assert await (await runner.submit(value, 2)) == 2  # still accepting work
    assert [h.state for h in (good, bad, cancelled)] == [
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
    ]
    assert "on_end bug" in caplog.text
    ends.check_once_each(4)


async def test_untouched_on_end_costs_nothing() -> None:
    class OnlyRetry(JobMiddleware):
        async def on_retry(
            self, handle: JobHandle[Any], error: BaseException, delay: float
        ) -> None:
            pass

    runner = JobRunner(middleware=[OnlyRetry()])
    assert runner._core.hooks is not None
    assert runner._core.hooks.on_end == ()
    assert runner._attempts._nowait  # the attempt stores its outcome with no coroutine
    assert JobRunner()._attempts._nowait
    with_end = JobRunner(middleware=[Ends()])
    assert with_end._core.hooks is not None
    assert len(with_end._core.hooks.on_end) == 1
    assert not with_end._attempts._nowait


# ----------------------------------------------------------------- timings on events


async def test_events_carry_the_records_timings(clock: FakeClock) -> None:
    events: list[JobEvent] = []
    async with JobRunner(clock=clock) as runner:
        runner.subscribe(events.append)
        with anyio.fail_after(5):
            good = await runner.submit(nap, clock, 2.5)
            retried = await runner.submit(nap_fails, clock, 1.5)
            timed_out = await runner.submit(sleepy)
            never = await runner.submit(value.with_options(delay=60), 1)
            await never.cancel()
            await run_until_idle(runner, clock, settle=0)
            assert await good == 2.5
            records = {h.id: await runner.get_job(h.id) for h in (good, retried, timed_out, never)}

    def of(kind: type[JobEvent], handle: JobHandle[Any]) -> list[Any]:
        return [e for e in events if isinstance(e, kind) and e.job_id == handle.id]

    # A success: started, ended, and the seconds between, as the record has them.
    record = records[good.id]
    assert [e.started_at for e in of(JobStarted, good)] == [record.started_at]
    [ended] = of(JobSucceeded, good)
    assert (ended.started_at, ended.finished_at) == (record.started_at, record.finished_at)
    assert ended.duration == 2.5

    # A retry carries the failed attempt's timings; the end, the last attempt's.
    record = records[retried.id]
    [attempt] = record.retries
    [retry] = of(JobRetried, retried)
    assert (retry.started_at, retry.finished_at) == (attempt.started_at, attempt.finished_at)
    assert retry.duration == 1.5
    assert [e.started_at for e in of(JobStarted, retried)] == [
        attempt.started_at,
        record.started_at,
    ]
    [failed] = of(JobFailed, retried)
    assert (failed.started_at, failed.finished_at) == (record.started_at, record.finished_at)
    assert failed.duration == 1.5
    assert record.started_at is not None
    assert record.started_at - attempt.started_at == 1.5 + 4  # it ran, then waited its backoff

    # A timeout ran exactly as long as it was allowed.
    [failed] = of(JobFailed, timed_out)
    assert failed.duration == 1.0
    assert failed.finished_at == records[timed_out.id].finished_at

    # A job that never started: no start, no duration, but an end.
    [cancelled] = of(JobCancelledEvent, never)
    assert (cancelled.started_at, cancelled.duration) == (None, None)
    assert cancelled.finished_at == records[never.id].finished_at
    assert of(JobStarted, never) == []
