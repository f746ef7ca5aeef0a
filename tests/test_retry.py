"""Retries in the engine, on the fake clock: schedules, give-ups, accounting, shutdown."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import anyio
import pytest

from asyncjobs import (
    ExponentialBackoff,
    FixedBackoff,
    InvalidOptionType,
    JobCancelled,
    JobEvent,
    JobInterrupted,
    JobRetried,
    JobRunner,
    JobState,
    JobTimedOut,
    QueueConfig,
    Retry,
    RetryAfter,
    SkipRetry,
    job,
)
from asyncjobs.testing import FakeClock, run_until_idle

pytestmark = pytest.mark.anyio


class Flaky:
    """A job body that fails ``failures`` times with ``error``, then returns "ok"; it notes
    the fake-clock time of every start."""

    def __init__(self, clock: FakeClock, failures: int, error: type[Exception] = OSError):
        self.clock = clock
        self.failures = failures
        self.error = error
        self.starts: list[float] = []

    async def __call__(self) -> str:
        self.starts.append(self.clock.monotonic())
        if len(self.starts) <= self.failures:
            raise self.error(f"failure {len(self.starts)}")
        return "ok"


def noting_job(name: str, log: list[str], gate: anyio.Event) -> Any:
    """A job that notes its tag, and holds its worker until ``gate`` while it is "blocker"."""

    async def note(tag: str) -> None:
        log.append(tag)
        if tag == "blocker":
            await gate.wait()

    return job(name=name)(note)


def flaky_job(body: Flaky, retry: Retry | None, **options: object) -> object:
    return job(name=f"flaky-{id(body)}", retry=retry, **options)(body)  # type: ignore[call-overload]


async def test_a_flaky_job_retries_on_schedule_then_succeeds(clock: FakeClock) -> None:
    body = Flaky(clock, failures=2)
    flaky = flaky_job(body, Retry(max_attempts=3, backoff=FixedBackoff(delay=5)))
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(flaky)  # type: ignore[call-overload]
            await anyio.wait_all_tasks_blocked()
            assert body.starts == [0.0]
            assert handle.state is JobState.SCHEDULED  # waiting for attempt 2
            await clock.advance(4.999)
            assert body.starts == [0.0]  # never early
            await clock.advance(0.001)
            assert body.starts == [0.0, 5.0]
            await run_until_idle(runner, clock)
            assert await handle == "ok"
        stats = runner.queue_statistics()["default"]
    assert body.starts == [0.0, 5.0, 10.0]
    record = handle.record()
    assert record.attempts == 3
    assert [(a.number, a.outcome) for a in record.history] == [
        (1, JobState.FAILED),
        (2, JobState.FAILED),
        (3, JobState.SUCCEEDED),
    ]
    assert [a.error for a in record.history] == ["OSError: failure 1", "OSError: failure 2", None]
    offsets = [(a.started_at - record.created_at) for a in record.history]
    assert offsets == [0.0, 5.0, 10.0]  # wall-clock timestamps, on the fake clock
    assert (stats.retried, stats.processed, stats.failed) == (2, 1, 0)


async def test_exhausted_retries_fail_with_the_last_error_and_its_traceback(
    clock: FakeClock,
) -> None:
    body = Flaky(clock, failures=10)
    flaky = flaky_job(body, Retry(max_attempts=4, backoff=ExponentialBackoff(initial=1)))
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(flaky)  # type: ignore[call-overload]
            await run_until_idle(runner, clock)
            with pytest.raises(OSError, match="failure 4"):
                await handle
    assert body.starts == [0.0, 1.0, 3.0, 7.0]  # waits of 1, 2 and 4 seconds
    record = handle.record()
    assert record.state is JobState.FAILED
    assert record.attempts == 4
    assert len(record.history) == 4
    assert record.error == "OSError: failure 4"
    assert record.traceback is not None
    assert "Traceback" in record.traceback
    assert "OSError: failure 4" in record.traceback


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (ValueError, Retry(max_attempts=5, give_up_on=ValueError)),
        (KeyError, Retry(max_attempts=5, retry_on=(OSError, TimeoutError))),
        (SkipRetry, Retry(max_attempts=5)),
        (OSError, None),
    ],
)
async def test_errors_that_are_not_retried_fail_at_once(
    clock: FakeClock, error: type[Exception], retry: Retry | None
) -> None:
    body = Flaky(clock, failures=1, error=error)
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(flaky_job(body, retry))  # type: ignore[call-overload]
            await run_until_idle(runner, clock)
            with pytest.raises(error):
                await handle
    assert body.starts == [0.0]
    assert handle.record().attempts == 1


async def test_retry_after_overrides_the_backoff_but_needs_an_attempt_left(
    clock: FakeClock,
) -> None:
    starts: list[float] = []

    @job(name="test_retry.asks", retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=1)))
    async def asks() -> None:
        starts.append(clock.monotonic())
        raise RetryAfter(30)

    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(asks)
            await run_until_idle(runner, clock)
            with pytest.raises(RetryAfter):
                await handle
    assert starts == [0.0, 30.0]


async def test_a_timeout_uses_an_attempt_and_is_retried(clock: FakeClock) -> None:
    starts: list[float] = []

    @job(name="test_retry.slow_once", timeout=2, retry=Retry(backoff=FixedBackoff(delay=3)))
    async def slow_once() -> str:
        starts.append(clock.monotonic())
        if len(starts) == 1:
            await clock.sleep_until(1_000)
        return "done"

    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(slow_once)
            await run_until_idle(runner, clock)
            assert await handle == "done"
    assert starts == [0.0, 5.0]  # timed out at 2, waited 3
    history = handle.record().history
    assert history[0].error is not None
    assert history[0].error.startswith("JobTimedOut")
    assert handle.record().attempts == 2


async def test_a_timeout_with_no_attempt_left_fails(clock: FakeClock) -> None:
    @job(name="test_retry.always_slow", timeout=1, retry=Retry(max_attempts=2))
    async def always_slow() -> None:
        await clock.sleep_until(1_000)

    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(always_slow)
            await run_until_idle(runner, clock)
            with pytest.raises(JobTimedOut):
                await handle
    assert handle.record().attempts == 2


async def test_a_job_waiting_to_retry_holds_no_worker_and_keeps_its_priority(
    clock: FakeClock,
) -> None:
    order: list[str] = []
    gate = anyio.Event()
    step = noting_job("test_retry.step", order, gate)

    body = Flaky(clock, failures=1)
    flaky = flaky_job(body, Retry(backoff=FixedBackoff(delay=10)), priority=9)
    async with JobRunner(queues={"default": 1}, clock=clock) as runner:
        with anyio.fail_after(5):
            retrying = await runner.submit(flaky)  # type: ignore[call-overload]
            await anyio.wait_all_tasks_blocked()
            assert retrying.state is JobState.SCHEDULED
            # The only worker is free while the job waits for its retry.
            await (await runner.submit(step, "meanwhile"))
            blocker = await runner.submit(step, "blocker")
            await anyio.wait_all_tasks_blocked()
            low = [await runner.submit(step, f"low{i}") for i in range(2)]
            await clock.advance(10)  # the retry is due, behind the blocker, ahead of low ones
            gate.set()
            await run_until_idle(runner, clock)
            for handle in (retrying, blocker, *low):
                await handle
    assert order == ["meanwhile", "blocker", "low0", "low1"]
    assert body.starts == [0.0, 10.0]
    assert retrying.record().started_at == retrying.record().created_at + 10


async def test_the_retried_job_runs_before_lower_priority_work(clock: FakeClock) -> None:
    seen: list[str] = []
    gate = anyio.Event()
    record = noting_job("test_retry.record", seen, gate)

    @job(name="test_retry.once", priority=5, retry=Retry(backoff=FixedBackoff(delay=1)))
    async def once() -> None:
        seen.append("flaky")
        if seen.count("flaky") == 1:
            raise OSError("first")

    async with JobRunner(queues={"default": 1}, clock=clock) as runner:
        with anyio.fail_after(5):
            flaky = await runner.submit(once)
            await anyio.wait_all_tasks_blocked()
            blocker = await runner.submit(record, "blocker")
            await anyio.wait_all_tasks_blocked()
            low = await runner.submit(record, "low")
            await clock.advance(1)  # due while the blocker runs: it queues at priority 5
            gate.set()
            await run_until_idle(runner, clock)
            for handle in (flaky, blocker, low):
                await handle
    assert seen == ["flaky", "blocker", "flaky", "low"]


async def test_per_submit_options_override_the_job_policy(clock: FakeClock) -> None:
    body = Flaky(clock, failures=1)
    flaky = flaky_job(body, Retry(backoff=FixedBackoff(delay=1)))
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            no_retry = await runner.submit(flaky.with_options(retry=None))  # type: ignore[attr-defined]
            await run_until_idle(runner, clock)
            with pytest.raises(OSError, match="failure 1"):
                await no_retry
    assert body.starts == [0.0]
    with pytest.raises(InvalidOptionType, match="retry"):
        flaky.with_options(retry=3)  # type: ignore[attr-defined]


async def test_cancelling_a_job_waiting_to_retry_ends_it(clock: FakeClock) -> None:
    body = Flaky(clock, failures=1)
    flaky = flaky_job(body, Retry(backoff=FixedBackoff(delay=10)))
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(flaky)  # type: ignore[call-overload]
            await anyio.wait_all_tasks_blocked()
            assert await handle.cancel() is True
            await clock.advance(20)
            with pytest.raises(JobCancelled):
                await handle
        stats = runner.queue_statistics()["default"]
        pool = runner.pool_statistics()
    assert body.starts == [0.0]
    assert (stats.size, stats.processed, pool.scheduled) == (0, 0, 0)
    assert handle.record().attempts == 1


async def test_shutdown_never_uses_up_an_attempt(clock: FakeClock) -> None:
    started = anyio.Event()

    @job(name="test_retry.stuck", retry=Retry(max_attempts=3))
    async def stuck() -> None:
        started.set()
        await anyio.sleep_forever()

    body = Flaky(clock, failures=1)
    waiting = flaky_job(body, Retry(backoff=FixedBackoff(delay=60)))
    runner = JobRunner(clock=clock, grace_period=0, cancel_timeout=1)
    async with runner:
        with anyio.fail_after(5):
            running = await runner.submit(stuck)
            retrying = await runner.submit(waiting)  # type: ignore[call-overload]
            await started.wait()
            await anyio.wait_all_tasks_blocked()
    for handle in (running, retrying):
        with anyio.fail_after(5), pytest.raises(JobInterrupted):
            await handle
    # The running attempt was cut off: not counted. The failed one stays counted.
    assert running.record().attempts == 0
    assert [a.outcome for a in running.record().history] == [JobState.INTERRUPTED]
    assert retrying.record().attempts == 1
    assert [a.outcome for a in retrying.record().history] == [JobState.FAILED]


async def test_a_failure_during_shutdown_ends_interrupted_not_retried(clock: FakeClock) -> None:
    release = anyio.Event()
    started = anyio.Event()

    @job(name="test_retry.fails_late", retry=Retry(backoff=FixedBackoff(delay=1)))
    async def fails_late() -> None:
        started.set()
        with anyio.CancelScope(shield=True):
            await release.wait()
        raise OSError("late")

    runner = JobRunner(clock=clock, grace_period=10)
    with anyio.fail_after(5):
        async with runner:
            handle = await runner.submit(fails_late)
            await started.wait()
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner.shutdown)
                await anyio.wait_all_tasks_blocked()
                release.set()
    with anyio.fail_after(5), pytest.raises(JobInterrupted):
        await handle
    assert handle.record().attempts == 1  # the failed attempt counts; no retry was started


async def test_retrying_emits_an_event_with_the_attempt_and_delay(clock: FakeClock) -> None:
    events: list[JobEvent] = []
    body = Flaky(clock, failures=1)
    flaky = flaky_job(body, Retry(backoff=FixedBackoff(delay=2)))
    async with JobRunner(clock=clock) as runner:
        runner.subscribe(events.append, JobRetried)
        with anyio.fail_after(5):
            handle = await runner.submit(flaky)  # type: ignore[call-overload]
            await run_until_idle(runner, clock)
            await handle
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, JobRetried)
    assert (event.attempt, event.delay, event.error) == (1, 2.0, "OSError: failure 1")


async def test_a_raising_backoff_function_is_isolated(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(attempt: int) -> float:
        raise ZeroDivisionError("bad backoff")

    body = Flaky(clock, failures=1)
    flaky = flaky_job(body, Retry(backoff=broken))
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5), caplog.at_level(logging.ERROR, logger="asyncjobs"):
            handle = await runner.submit(flaky)  # type: ignore[call-overload]
            await run_until_idle(runner, clock)
            assert await handle == "ok"
    assert body.starts == [0.0, 1.0]  # the default backoff's first wait
    assert "bad backoff" in caplog.text


async def test_a_backoff_function_returning_no_wait_is_isolated(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    body = Flaky(clock, failures=1)
    flaky = flaky_job(body, Retry(backoff=lambda attempt: -5.0))
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5), caplog.at_level(logging.ERROR, logger="asyncjobs"):
            handle = await runner.submit(flaky)  # type: ignore[call-overload]
            await run_until_idle(runner, clock)
            assert await handle == "ok"
    assert body.starts == [0.0, 1.0]  # the default backoff's first wait
    assert "returned -5.0" in caplog.text


async def test_a_plain_function_backoff_sets_the_waits(clock: FakeClock) -> None:
    body = Flaky(clock, failures=3)
    flaky = flaky_job(body, Retry(max_attempts=4, backoff=lambda attempt: attempt * 10.0))
    async with JobRunner(queues={"default": QueueConfig(concurrency=2)}, clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(flaky)  # type: ignore[call-overload]
            await run_until_idle(runner, clock)
            assert await handle == "ok"
    assert body.starts == [0.0, 10.0, 30.0, 60.0]


def test_retry_refuses_bad_parameters() -> None:
    with pytest.raises(InvalidOptionType, match="max_attempts"):
        Retry(max_attempts="3")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="max_attempts=0"):
        Retry(max_attempts=0)
    with pytest.raises(InvalidOptionType, match="retry_on"):
        Retry(retry_on=("OSError",))  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionType, match="backoff"):
        Retry(backoff=5)  # type: ignore[arg-type]
    with pytest.raises(Exception, match="seconds=-1"):
        RetryAfter(-1)


async def test_wait_idle_returns_while_a_job_waits_for_its_retry(clock: FakeClock) -> None:
    @job(name="test_retry.fails_once", retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=60)))
    async def fails_once() -> str:
        if not calls:
            calls.append(1)
            raise OSError("once")
        return "ok"

    calls: list[int] = []
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(fails_once)
            await runner.wait_idle()  # nothing queued or running: it waits for its retry
            assert handle.state is JobState.SCHEDULED
            await clock.advance(60)
            assert await handle == "ok"


class _IntOrderRaises(int):
    def __ge__(self, other: object) -> bool:
        raise RuntimeError("int subclass __ge__")

    def __gt__(self, other: object) -> bool:
        raise RuntimeError("int subclass __gt__")


class _FloatRaises(float):
    def __float__(self) -> float:
        raise RuntimeError("float subclass __float__")

    def __ge__(self, other: object) -> bool:
        raise RuntimeError("float subclass __ge__")


@pytest.mark.parametrize("attempt", [None, "1", 1.0, True, Decimal("NaN"), [1]])
def test_delay_after_refuses_an_attempt_that_is_not_an_int(attempt: Any) -> None:
    with pytest.raises(InvalidOptionType, match="attempt"):
        Retry().delay_after(attempt, ConnectionError())


def test_delay_after_reads_int_subclasses_and_huge_attempts() -> None:
    policy = Retry(max_attempts=3, backoff=FixedBackoff(delay=2))
    assert policy.delay_after(_IntOrderRaises(1), ConnectionError()) == 2.0
    assert policy.delay_after(_IntOrderRaises(3), ConnectionError()) is None
    assert policy.delay_after(10**400, ConnectionError()) is None
    assert Retry(max_attempts=2**62).delay_after(2**61, ConnectionError()) == 300.0


@pytest.mark.parametrize("wait", [10**400, -(10**400), float("nan"), -1.0, "2", None, True])
def test_a_backoff_function_returning_a_hostile_number_gets_the_default(
    wait: Any, caplog: pytest.LogCaptureFixture
) -> None:
    policy = Retry(backoff=lambda attempt: wait)
    with caplog.at_level(logging.ERROR, logger="asyncjobs"):
        assert policy.delay_after(1, ConnectionError(), lambda: 0.5) == 1.0
    assert "not a wait in seconds" in caplog.text


def test_a_backoff_function_returning_a_number_subclass_is_read_as_its_value() -> None:
    assert Retry(backoff=lambda attempt: _IntOrderRaises(7)).delay_after(1, OSError()) == 7.0
    assert Retry(backoff=lambda attempt: _FloatRaises(2.5)).delay_after(1, OSError()) == 2.5
