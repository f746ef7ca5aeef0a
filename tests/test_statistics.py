"""Windowed job statistics on the fake clock: counts, rates, run times, windows, bounds."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asyncjobs import (
    FixedBackoff,
    InvalidOption,
    InvalidOptionType,
    JobRecord,
    JobRegistry,
    JobRunner,
    JobState,
    Retry,
    WindowStatistics,
    job,
)
from asyncjobs.testing import FakeClock, run_until_idle

pytestmark = pytest.mark.anyio


def jobs_on(clock: FakeClock) -> tuple[object, object]:
    """A job that runs for ``seconds`` of fake time, and one that fails after them."""
    registry = JobRegistry()

    @job(name="work", registry=registry)
    async def work(seconds: float) -> None:
        await clock.sleep_until(clock.monotonic() + seconds)

    @job(name="fail", registry=registry, retry=None)
    async def fail(seconds: float) -> None:
        await clock.sleep_until(clock.monotonic() + seconds)
        raise ValueError("no")

    return work, fail


async def test_counts_rates_and_run_times_overall_per_name_and_per_queue(
    clock: FakeClock,
) -> None:
    work, fail = jobs_on(clock)
    async with JobRunner(clock=clock, queues={"default": 20, "other": 5}) as runner:
        with anyio.fail_after(5):
            for seconds in range(1, 11):
                await runner.submit(work, float(seconds))  # type: ignore[call-overload]
            for _ in range(3):
                await runner.submit(fail.with_options(queue="other"), 20.0)  # type: ignore[attr-defined]
            cancelled = await runner.submit(work.with_options(delay=5), 1.0)  # type: ignore[attr-defined]
            await cancelled.cancel()
            await run_until_idle(runner, clock)
            stats = runner.job_statistics(window=60)
    assert stats.window == 60
    assert stats.overall.total == 14
    assert (stats.overall.succeeded, stats.overall.failed) == (10, 3)
    assert stats.overall.success_rate == pytest.approx(10 / 13)
    assert stats.overall.mean == pytest.approx((55 + 60) / 13)
    work_stats = stats.by_name["work"]
    assert work_stats == WindowStatistics(
        total=11,
        succeeded=10,
        failed=0,
        retried=0,
        success_rate=1.0,
        mean=5.5,
        p50=5.0,
        p95=10.0,
    )
    assert stats.by_name["fail"].p50 == 20.0
    assert stats.by_name["fail"].success_rate == 0.0
    assert set(stats.by_queue) == {"default", "other"}
    assert stats.by_queue["other"].failed == 3
    assert stats.by_queue["default"].total == 11


async def test_the_window_slides(clock: FakeClock) -> None:
    work, _ = jobs_on(clock)
    async with JobRunner(clock=clock, statistics_window=timedelta(minutes=10)) as runner:
        with anyio.fail_after(5):
            await runner.submit(work, 0.0)  # type: ignore[call-overload]
            await run_until_idle(runner, clock)
            await clock.advance(120)
            await runner.submit(work, 0.0)  # type: ignore[call-overload]
            await run_until_idle(runner, clock)
            assert runner.job_statistics(window=600).overall.total == 2
            assert runner.job_statistics(window=60).overall.total == 1
            await clock.advance(602)  # past the window, rounded out to a whole slot
            empty = runner.job_statistics(window=600)
    assert empty.overall == WindowStatistics()
    assert empty.by_name == {}


async def test_retried_attempts_are_counted_when_they_happen(clock: FakeClock) -> None:
    registry = JobRegistry()
    calls: list[int] = []

    policy = Retry(max_attempts=3, backoff=FixedBackoff(delay=1))

    @job(name="flaky", registry=registry, retry=policy)
    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("again")
        return "ok"

    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            await runner.submit(flaky)
            await run_until_idle(runner, clock)
            stats = runner.job_statistics().by_name["flaky"]
    assert (stats.total, stats.succeeded, stats.failed, stats.retried) == (1, 1, 0, 2)


async def test_many_jobs_are_folded_in_batches(clock: FakeClock) -> None:
    work, _ = jobs_on(clock)
    async with JobRunner(clock=clock, queues={"default": 50}) as runner:
        with anyio.fail_after(10):
            for _ in range(1500):
                await runner.submit(work, 0.5)  # type: ignore[call-overload]
            await run_until_idle(runner, clock)
            stats = runner.job_statistics(window=60).overall
    assert (stats.total, stats.succeeded) == (1500, 1500)
    assert (stats.mean, stats.p50, stats.p95) == (0.5, 0.5, 0.5)


async def test_memory_is_bounded_by_the_longest_window(clock: FakeClock) -> None:
    work, _ = jobs_on(clock)
    async with JobRunner(clock=clock, statistics_window=60) as runner:
        with anyio.fail_after(10):
            for _ in range(13):  # a job every 10 s for 130 s; slots are 0.1 s wide
                await runner.submit(work, 0.0)  # type: ignore[call-overload]
                await run_until_idle(runner, clock)
                await clock.advance(10)
            assert runner.job_statistics(window=60).overall.total == 6
            assert runner._core.stats is not None
            # Slots more than 60 s older than the newest are dropped as new ones come.
            assert len(runner._core.stats._slots) == 6  # the jobs at 70 s to 120 s


async def test_bad_windows_and_statistics_turned_off(clock: FakeClock) -> None:
    async with JobRunner(clock=clock, statistics_window=60) as runner:
        with pytest.raises(InvalidOption, match="window=61: longer than the 60 seconds kept"):
            runner.job_statistics(window=61)
        with pytest.raises(InvalidOption, match="window=0"):
            runner.job_statistics(window=0)
        with pytest.raises(InvalidOptionType, match="window='5'"):
            runner.job_statistics(window="5")  # type: ignore[arg-type]
    async with JobRunner(clock=clock, statistics_window=None) as runner:
        with pytest.raises(InvalidOption, match="statistics are off"):
            runner.job_statistics()
    with pytest.raises(InvalidOption, match="statistics_window=-1"):
        JobRunner(statistics_window=-1)


async def test_an_attempt_failing_during_shutdown_with_a_retry_left_counts_as_processed() -> None:
    # Found by the model test (tests/test_model.py): it ran and ended (interrupted, its
    # retry not taken), so it is processed; dequeued = processed + retried + running.
    clock = FakeClock()

    @job(retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=1)))
    async def flaky() -> None:
        await clock.sleep_until(clock.monotonic() + 1)
        raise ConnectionError("refused")

    runner = JobRunner(clock=clock, grace_period=5)
    with anyio.fail_after(10):
        async with runner:
            handle = await runner.submit(flaky)
            await clock.advance(0)
    assert handle.state is JobState.INTERRUPTED
    stats = runner.queue_statistics()["default"]
    assert (stats.dequeued, stats.processed, stats.retried, stats.failed) == (1, 1, 0, 0)


_TERMINAL = [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b"]),  # name
            st.sampled_from(["q", "r"]),  # queue
            st.sampled_from(_TERMINAL),
            st.floats(0, 3, allow_nan=False),  # finished, in slots (a second wide)
            st.floats(0, 0.5, allow_nan=False),  # run time
        ),
        max_size=40,
    )
)
def test_a_fold_counts_each_record_in_its_slot_name_and_queue(
    rows: list[tuple[str, str, JobState, float, float]],
) -> None:
    """Batches within one slot and across slots, names and queues mixed, in any order."""
    from asyncjobs._stats import StatisticsWindow

    window = StatisticsWindow(600.0)  # slots one second wide
    for index, (name, queue, state, finished, ran) in enumerate(rows):
        record = JobRecord(id=f"j{index}", name=name, queue=queue, created_at=0.0)
        record.state = state
        record.started_at = finished - ran
        record.finished_at = finished
        window.pending.append(record)
    report = window.report(600.0, now=3.5)
    for name in ("a", "b"):
        mine = [row for row in rows if row[0] == name]
        ran = [row[4] for row in mine if row[2] in (JobState.SUCCEEDED, JobState.FAILED)]
        got = report.by_name.get(name)
        if not mine:
            assert got is None
            continue
        assert got is not None
        assert got.total == len(mine)
        assert got.succeeded == sum(row[2] is JobState.SUCCEEDED for row in mine)
        assert got.failed == sum(row[2] is JobState.FAILED for row in mine)
        if ran:
            assert got.mean == pytest.approx(sum(ran) / len(ran), abs=1e-9)
    assert not window.pending
