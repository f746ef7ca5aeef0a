"""Unique jobs: one job per key while it waits or runs; the key is always released."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from asyncjobs import (
    DuplicateJob,
    FixedBackoff,
    InvalidOption,
    InvalidOptionType,
    JobHandle,
    JobRunner,
    JobState,
    QueueConfig,
    Retry,
    Unique,
    job,
)
from asyncjobs.testing import FakeClock, run_until_idle

pytestmark = pytest.mark.anyio

runs: list[tuple[Any, ...]] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    runs.clear()


@job(name="test_unique.sync_user", unique=Unique())
async def sync_user(user_id: int, *, full: bool = False) -> int:
    runs.append((user_id, full))
    await anyio.lowlevel.checkpoint()
    return user_id


async def test_a_second_submit_while_queued_returns_the_same_handle() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            first = await runner.submit(sync_user, 1)
            again = await runner.submit(sync_user, 1)
            other = await runner.submit(sync_user, 2)
            full = await runner.submit(sync_user, 1, full=True)
            assert again is first
            assert other is not first
            assert full is not first  # the derived key covers keyword arguments too
            assert [await h for h in (first, other, full)] == [1, 2, 1]
    assert sorted(runs) == [(1, False), (1, True), (2, False)]


async def test_submit_many_holds_unique_keys_as_submit_does() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            held = await runner.submit(sync_user, 1)
            handles = await runner.submit_many(
                [sync_user.call(1), sync_user.call(2), sync_user.call(2), sync_user.call(3)]
            )
            assert handles[0] is held  # held by a job already there
            assert handles[2] is handles[1]  # held by an earlier call of the batch
            assert len({id(h) for h in handles}) == 3
            assert sorted([await h for h in handles]) == [1, 2, 2, 3]
            raising = sync_user.with_options(unique=Unique(key="k", on_conflict="raise"))
            blocker = await runner.submit(raising, 9)
            with pytest.raises(DuplicateJob, match="'k'"):  # the key is held already
                await runner.submit_many([sync_user.call(5), raising.call(10)])
            await blocker
            with pytest.raises(DuplicateJob, match="an earlier call of this batch"):
                await runner.submit_many([raising.call(11), raising.call(12)])
            # All or nothing: the refused batches ran none of their jobs.
            assert sorted(runs) == [(1, False), (2, False), (3, False), (9, False)]


async def test_a_batch_takes_its_keys_before_it_admits_anything() -> None:
    """A batch racing a submit of one of its keys is all or nothing: the batch takes every
    key before its first await, so it either submits all its jobs or none."""
    from asyncjobs import JobMiddleware

    class Slow(JobMiddleware):
        async def before_submit(self, handle: JobHandle[Any]) -> None:
            await anyio.lowlevel.checkpoint()  # an await inside admission (an audit call, ...)

    raising = sync_user.with_options(unique=Unique(key="race", on_conflict="raise"))
    plain = sync_user.with_options(unique=None)
    outcomes: dict[str, object] = {}
    async with JobRunner(middleware=[Slow()]) as runner:
        with anyio.fail_after(5):

            async def batch() -> None:
                try:
                    outcomes["batch"] = await runner.submit_many([plain.call(1), raising.call(2)])
                except DuplicateJob as exc:
                    outcomes["batch"] = exc

            async def single() -> None:
                try:
                    outcomes["single"] = await runner.submit(raising, 3)
                except DuplicateJob as exc:
                    outcomes["single"] = exc

            async with anyio.create_task_group() as tg:
                tg.start_soon(batch)
                tg.start_soon(single)
            await runner.wait_idle()
    batch_ok = isinstance(outcomes["batch"], list)
    assert batch_ok != isinstance(outcomes["single"], JobHandle)  # exactly one took the key
    assert ((1, False) in runs) == batch_ok  # the batch's plain job ran only with the batch


async def test_the_raise_policy_names_the_key_and_the_holder() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            raising = sync_user.with_options(unique=Unique(key="user-7", on_conflict="raise"))
            first = await runner.submit(raising, 7)
            with pytest.raises(DuplicateJob) as caught:
                await runner.submit(raising, 8)  # a given key ignores the arguments
            assert (caught.value.key, caught.value.job_id) == ("user-7", first.id)
            await first
            runs.clear()
            # Released once the job ended: the same key takes a new job.
            assert await (await runner.submit(raising, 9)) == 9
    assert runs == [(9, False)]


async def test_a_key_function_and_its_errors() -> None:
    by_user = sync_user.with_options(unique=Unique(key=lambda user_id, **_: f"u{user_id}"))
    broken = sync_user.with_options(unique=Unique(key=lambda user_id, **_: 1 / 0))
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            first = await runner.submit(by_user, 3)
            assert await runner.submit(by_user, 3, full=True) is first
            with pytest.raises(InvalidOption, match=r"unique\.key"):
                await runner.submit(broken, 3)
            await first
        assert runner.queue_statistics()["default"].enqueued == 1  # the refused one left nothing


async def test_one_hundred_concurrent_submits_make_one_job() -> None:
    gate = anyio.Event()

    @job(name="test_unique.slow", unique=Unique(key="only-one"))
    async def slow() -> str:
        runs.append(("slow",))
        await gate.wait()
        return "done"

    handles: list[JobHandle[str]] = []

    async def submit(runner: JobRunner) -> None:
        handles.append(await runner.submit(slow))

    # A bounded queue that blocks: admission of the first one waits, so the others race it.
    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full="block")}
    async with JobRunner(queues=queues) as runner:
        with anyio.fail_after(5):
            filler = await runner.submit(sync_user, 99)
            async with anyio.create_task_group() as tg:
                for _ in range(100):
                    tg.start_soon(submit, runner)
                await anyio.wait_all_tasks_blocked()
                gate.set()
            await filler
            assert {id(h) for h in handles} == {id(handles[0])}
            assert await handles[0] == "done"
    assert runs.count(("slow",)) == 1
    assert len(handles) == 100


async def outcome_jobs(clock: FakeClock) -> dict[str, Callable[[JobRunner], Awaitable[Any]]]:
    unique = Unique(key="shared")

    @job(name="test_unique.ok", unique=unique)
    async def ok() -> None:
        return None

    @job(name="test_unique.fails", unique=unique)
    async def fails() -> None:
        raise OSError("no")

    @job(name="test_unique.slow_one", unique=unique, timeout=1)
    async def slow_one() -> None:
        await clock.sleep_until(1_000)

    async def succeeded(runner: JobRunner) -> Any:
        return await runner.submit(ok)

    async def failed(runner: JobRunner) -> Any:
        return await runner.submit(fails)

    async def timed_out(runner: JobRunner) -> Any:
        return await runner.submit(slow_one)

    async def cancelled_waiting(runner: JobRunner) -> Any:
        handle = await runner.submit(ok.with_options(delay=10))
        await handle.cancel()
        return handle

    async def cancelled_running(runner: JobRunner) -> Any:
        handle = await runner.submit(slow_one.with_options(timeout=None))
        await anyio.wait_all_tasks_blocked()
        await handle.cancel()
        return handle

    return {
        "succeeded": succeeded,
        "failed": failed,
        "timed_out": timed_out,
        "cancelled_waiting": cancelled_waiting,
        "cancelled_running": cancelled_running,
    }


@pytest.mark.parametrize(
    "outcome",
    ["succeeded", "failed", "timed_out", "cancelled_waiting", "cancelled_running"],
)
async def test_the_key_is_released_on_every_outcome(clock: FakeClock, outcome: str) -> None:
    start = (await outcome_jobs(clock))[outcome]
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            first = await start(runner)
            await run_until_idle(runner, clock)
            await first.wait()
            assert first.done()
            second = await start(runner)
            assert second is not first
            await run_until_idle(runner, clock)
            await second.wait()
        assert runner._claims.holders == {}
        assert runner._claims.keys == {}


async def test_the_key_is_released_when_a_full_queue_drops_or_refuses_the_job() -> None:
    unique = Unique(key="k")
    gate = anyio.Event()

    @job(name="test_unique.blocker")
    async def blocker() -> None:
        await gate.wait()

    @job(name="test_unique.dropped", queue="small", unique=unique)
    async def dropped() -> None:
        return None

    queues = {
        "default": 1,
        "small": QueueConfig(concurrency=1, maxsize=1, on_full="drop_newest"),
        "strict": QueueConfig(concurrency=1, maxsize=1, on_full="raise"),
    }
    async with JobRunner(queues=queues) as runner:
        with anyio.fail_after(5):
            await runner.submit(blocker.with_options(queue="small"))
            await anyio.wait_all_tasks_blocked()
            await runner.submit(blocker.with_options(queue="small"))  # fills the one place
            first = await runner.submit(dropped)
            assert first.state is JobState.REJECTED
            assert runner._claims.holders == {}
            strict = dropped.with_options(queue="strict")
            await runner.submit(blocker.with_options(queue="strict"))
            await anyio.wait_all_tasks_blocked()
            await runner.submit(blocker.with_options(queue="strict"))
            with pytest.raises(Exception, match="policy: raise"):
                await runner.submit(strict)
            assert runner._claims.holders == {}
            gate.set()


async def test_the_key_outlives_no_ttl(clock: FakeClock) -> None:
    @job(name="test_unique.forever", unique=Unique(key="f", ttl=60))
    async def forever() -> None:
        runs.append(("forever",))
        await clock.sleep_until(10_000)

    async with JobRunner(clock=clock, grace_period=0, cancel_timeout=1) as runner:
        with anyio.fail_after(5):
            first = await runner.submit(forever)
            await anyio.wait_all_tasks_blocked()
            await clock.advance(59)
            assert await runner.submit(forever) is first
            await clock.advance(1)
            second = await runner.submit(forever)
            assert second is not first
            await anyio.wait_all_tasks_blocked()
            await first.cancel()  # the first ending must not free the second's key
            await anyio.wait_all_tasks_blocked()
            assert await runner.submit(forever) is second
    assert runs == [("forever",), ("forever",)]


async def test_the_key_is_held_across_retries(clock: FakeClock) -> None:
    attempts: list[float] = []

    @job(
        name="test_unique.flaky",
        unique=Unique(key="flaky"),
        retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=5)),
    )
    async def flaky() -> str:
        attempts.append(clock.monotonic())
        if len(attempts) == 1:
            raise OSError("once")
        return "ok"

    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            first = await runner.submit(flaky)
            await anyio.wait_all_tasks_blocked()
            assert first.state is JobState.SCHEDULED
            assert await runner.submit(flaky) is first
            await run_until_idle(runner, clock)
            assert await first == "ok"
    assert attempts == [0.0, 5.0]


def test_unique_refuses_bad_parameters() -> None:
    with pytest.raises(InvalidOption, match="ttl=0"):
        Unique(ttl=0)
    with pytest.raises(InvalidOption, match="on_conflict='ignore'"):
        Unique(on_conflict="ignore")  # type: ignore[arg-type]
    with pytest.raises(InvalidOption, match="key=''"):
        Unique(key="")
    with pytest.raises(InvalidOptionType, match="unique"):
        sync_user.with_options(unique="yes")  # type: ignore[arg-type]
