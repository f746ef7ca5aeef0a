"""Lifecycle events and listener isolation."""

from __future__ import annotations

import anyio
import pytest

import asyncjobs
from asyncjobs import (
    InvalidOptionType,
    JobDeadLettered,
    JobEnded,
    JobEvent,
    JobFailed,
    JobRunner,
    JobStarted,
    JobState,
    JobSubmitted,
    JobSucceeded,
    job,
)

pytestmark = pytest.mark.anyio


@job
async def ok(x: int) -> int:
    return x


@job
async def bad() -> None:
    raise ValueError("bad")


async def test_events_in_lifecycle_order_and_filtered_by_type() -> None:
    everything: list[JobEvent] = []
    ended: list[JobEvent] = []
    async with JobRunner() as runner:
        with (
            runner.subscribe(everything.append),
            runner.subscribe(ended.append, JobEnded),
            anyio.fail_after(5),
        ):
            first = await runner.submit(ok, 1)
            await first
            second = await runner.submit(bad)
            await second.wait()
    kinds = [(type(e), e.job_id) for e in everything]
    assert kinds == [
        (JobSubmitted, first.id),
        (JobStarted, first.id),
        (JobSucceeded, first.id),
        (JobSubmitted, second.id),
        (JobStarted, second.id),
        (JobFailed, second.id),
        (JobDeadLettered, second.id),
    ]
    assert [type(e) for e in ended] == [JobSucceeded, JobFailed]
    failed = ended[1]
    assert isinstance(failed, JobFailed)
    assert (failed.state, failed.error) == (JobState.FAILED, "ValueError: bad")


async def test_unsubscribe_stops_delivery() -> None:
    seen: list[JobEvent] = []
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            subscription = runner.subscribe(seen.append, JobSucceeded)
            await (await runner.submit(ok, 1))
            subscription.unsubscribe()
            subscription.unsubscribe()  # twice is harmless
            await (await runner.submit(ok, 2))
    assert len(seen) == 1


async def test_raising_listeners_never_change_outcomes_or_stop_the_runner() -> None:
    calls = 0

    def faulty(event: JobEvent) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("listener bug")

    async with JobRunner() as runner:
        runner.subscribe(faulty)
        with anyio.fail_after(5):
            handles = [await runner.submit(ok, i) for i in range(5)]
            failing = await runner.submit(bad)
            assert [await h for h in handles] == [0, 1, 2, 3, 4]
            with pytest.raises(ValueError, match="bad"):
                await failing
            assert await (await runner.submit(ok, 9)) == 9  # still accepting work
    assert calls == 7 * 3 + 1  # the failed job is also dead-lettered


async def test_subscribe_refuses_non_callables_and_non_event_types() -> None:
    runner = JobRunner()
    with pytest.raises(InvalidOptionType, match="listener="):
        runner.subscribe("print")  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionType, match="event_types="):
        runner.subscribe(print, int)  # type: ignore[arg-type]


def test_events_are_frozen() -> None:
    event = asyncjobs.JobStarted(job_id="a", job_name="n", queue="q", timestamp=1.0)
    with pytest.raises(AttributeError):
        event.job_id = "b"  # type: ignore[misc]


def test_timing_fields_default_so_events_can_be_built_by_hand() -> None:
    started = JobStarted(job_id="a", job_name="n", queue="q", timestamp=1.0)
    assert started.started_at == 1.0  # its own timestamp

    def ended(
        cls: type[JobEnded], timestamp: float, state: JobState, started_at: float | None = None
    ) -> JobEnded:
        return cls(
            job_id="a",
            job_name="n",
            queue="q",
            timestamp=timestamp,
            state=state,
            started_at=started_at,
        )

    never = ended(asyncjobs.JobCancelledEvent, 5.0, JobState.CANCELLED)
    assert (never.started_at, never.finished_at, never.duration) == (None, 5.0, None)
    ran = ended(JobSucceeded, 9.0, JobState.SUCCEEDED, started_at=5.5)
    assert (ran.finished_at, ran.duration) == (9.0, 3.5)
    given = JobSucceeded(
        job_id="a",
        job_name="n",
        queue="q",
        timestamp=9.0,
        state=JobState.SUCCEEDED,
        started_at=6.0,
        finished_at=8.0,
    )
    assert given.duration == 2.0
    # A wall clock set back between start and end gives no negative duration.
    stepped = ended(JobFailed, 3.0, JobState.FAILED, started_at=4.0)
    assert stepped.duration == 0.0
    retried = asyncjobs.JobRetried(
        job_id="a",
        job_name="n",
        queue="q",
        timestamp=7.0,
        attempt=1,
        delay=2.0,
        error="E",
        started_at=4.0,
    )
    assert (retried.finished_at, retried.duration) == (7.0, 3.0)
