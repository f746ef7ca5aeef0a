"""How long finished records are kept: result_ttl, dead_letter_ttl, cleanup, on the fake clock."""

from __future__ import annotations

import logging
from datetime import timedelta

import anyio
import pytest

from asyncjobs import (
    InvalidOption,
    JobNotFound,
    JobRunner,
    JobState,
    MemoryJobStore,
    ResultExpired,
    job,
)
from asyncjobs.testing import FakeClock, run_until_idle

pytestmark = pytest.mark.anyio


@job(name="tests.retention.echo")
async def echo(x: int) -> int:
    return x


@job(name="tests.retention.boom")
async def boom() -> None:
    raise ValueError("boom")


async def states_after(runner: JobRunner, ids: list[str]) -> list[str]:
    found: list[str] = []
    for job_id in ids:
        try:
            found.append((await runner.get_job(job_id)).state.value)
        except ResultExpired:
            found.append("expired")
    return found


async def test_results_and_dead_letters_expire_by_age(clock: FakeClock) -> None:
    async with JobRunner(clock=clock, result_ttl=60, dead_letter_ttl=timedelta(hours=1)) as runner:
        with anyio.fail_after(5):
            ok = await runner.submit(echo, 1)
            failed = await runner.submit(boom)
            await run_until_idle(runner, clock)
            ids = [ok.id, failed.id]
            await clock.advance(59.9)
            assert await states_after(runner, ids) == ["succeeded", "failed"]
            # The sweep runs every tenth of the shorter time: gone by 60 s + 6 s.
            await clock.advance(6.2)
            assert await states_after(runner, ids) == ["expired", "failed"]
            with pytest.raises(ResultExpired, match="expired"):
                await runner.get_job(ok.id)
            await clock.advance(3600 - 66)
            assert await states_after(runner, ids) == ["expired", "failed"]
            await clock.advance(7)
            assert await states_after(runner, ids) == ["expired", "expired"]
            # A handle held by the caller keeps its own outcome.
            assert await ok == 1
            with pytest.raises(ValueError, match="boom"):
                await failed


async def test_unfinished_jobs_never_expire(clock: FakeClock) -> None:
    async with JobRunner(clock=clock, result_ttl=1, dead_letter_ttl=1) as runner:
        with anyio.fail_after(5):
            later = await runner.submit(echo.with_options(delay=3600), 5)
            await clock.advance(3599)
            assert (await runner.get_job(later.id)).state is JobState.SCHEDULED
            await run_until_idle(runner, clock)
            assert await later == 5


async def test_no_time_limit_keeps_records_up_to_the_count_cap(clock: FakeClock) -> None:
    store = MemoryJobStore(max_finished=2)
    async with JobRunner(clock=clock, store=store, result_ttl=None, dead_letter_ttl=None) as runner:
        with anyio.fail_after(5):
            handles = [await runner.submit(echo, i) for i in range(3)]
            await run_until_idle(runner, clock)
            await clock.advance(10 * 365 * 86400)
            ids = [h.id for h in handles]
            assert await states_after(runner, ids) == ["expired", "succeeded", "succeeded"]


async def test_cleanup_removes_finished_jobs_older_than_an_age(clock: FakeClock) -> None:
    async with JobRunner(clock=clock, result_ttl=None, dead_letter_ttl=None) as runner:
        with anyio.fail_after(5):
            old = [await runner.submit(echo, 1), await runner.submit(boom)]
            await run_until_idle(runner, clock)
            await clock.advance(600)
            new = await runner.submit(echo, 2)
            waiting = await runner.submit(echo.with_options(delay=10_000), 3)
            await run_until_idle(runner)  # without the clock: no time jump
            await clock.advance(100)
            assert await runner.cleanup(older_than=300, states=["failed"]) == 1
            assert await runner.cleanup(older_than=timedelta(minutes=5)) == 1
            assert await runner.cleanup(older_than=300) == 0
            ids = [old[0].id, old[1].id, new.id, waiting.id]
            assert await states_after(runner, ids) == [
                "expired",
                "expired",
                "succeeded",
                "scheduled",
            ]
            assert await runner.cleanup(older_than=0) == 1
            assert (await runner.get_job(waiting.id)).state is JobState.SCHEDULED
            with pytest.raises(InvalidOption, match="older_than=-1"):
                await runner.cleanup(older_than=-1)
            with pytest.raises(InvalidOption, match="states='running'"):
                await runner.cleanup(older_than=1, states=["running"])
            with pytest.raises(InvalidOption, match="states='finished'"):
                await runner.cleanup(older_than=1, states=["finished"])


async def test_unknown_ids_are_not_called_expired(clock: FakeClock) -> None:
    async with JobRunner(clock=clock) as runner:
        with pytest.raises(JobNotFound) as caught:
            await runner.get_job("never-submitted")
        assert not isinstance(caught.value, ResultExpired)


@pytest.mark.parametrize("field", ["result_ttl", "dead_letter_ttl"])
@pytest.mark.parametrize("value", [0, -5, float("nan")])
def test_retention_times_are_validated(field: str, value: float) -> None:
    with pytest.raises(InvalidOption, match=field):
        JobRunner(**{field: value})  # type: ignore[arg-type]


class FailingExpiry(MemoryJobStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def expire(self, *, finished_before: float, states: object = None) -> int:
        self.calls += 1
        if self.calls == 1:
            raise OSError("store unreachable")
        return await super().expire(finished_before=finished_before, states=states)  # type: ignore[arg-type]


async def test_a_failing_sweep_is_logged_and_tried_again(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = FailingExpiry()
    async with JobRunner(clock=clock, store=store, result_ttl=10, dead_letter_ttl=None) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(echo, 1)
            await run_until_idle(runner, clock)
            with caplog.at_level(logging.ERROR, logger="asyncjobs"):
                await clock.advance(1)  # the first sweep fails
            assert "failed to remove expired records" in caplog.text
            await clock.advance(10)
            assert store.calls >= 2
            with pytest.raises(ResultExpired):
                await runner.get_job(handle.id)


def test_a_record_read_after_expiry_names_the_settings() -> None:
    error = ResultExpired("abc")
    assert isinstance(error, JobNotFound)
    assert error.job_id == "abc"
    assert "job_id='abc'" in str(error)
    assert "result_ttl" in str(error)
    assert "dead_letter_ttl" in str(error)
