"""Load: a flood of jobs that never wait leaves the event loop to the host's own tasks;
jobs that submit jobs cannot nest without end or wait for children that cannot start."""

from __future__ import annotations

import itertools

import anyio
import anyio.abc
import anyio.lowlevel
import pytest

from asyncjobs import (
    InvalidOption,
    JobDeadlock,
    JobRunner,
    ResultTimeout,
    current_job,
    job,
)
from asyncjobs.testing import FakeClock, run_until_idle

pytestmark = pytest.mark.anyio


async def test_the_hosts_own_tasks_run_while_a_flood_of_jobs_that_never_wait_runs() -> None:
    ticks = 0
    seen: list[int] = []  # the ticker's count as each job saw it, in the order they ran

    @job
    async def never_waits() -> None:
        seen.append(ticks)

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    concurrency = 4
    async with JobRunner(queues={"default": concurrency}) as runner:
        handles = [await runner.submit(never_waits) for _ in range(5000)]
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(ticker)
                for handle in handles:
                    await handle.wait()
                group.cancel_scope.cancel()
    assert len(seen) == 5000
    # The longest run of jobs during which the host's ticker never ran: a worker lets the
    # loop run others every 64 jobs, so one turn of each worker comes between two of the
    # ticker's (two on trio, which runs each ready task once a batch, in any order).
    longest = current = 0
    for before, after in itertools.pairwise(seen):
        current = current + 1 if before == after else 0
        longest = max(longest, current)
    assert longest < 2 * 64 * concurrency, longest


async def test_parents_filling_their_queue_and_awaiting_children_there_get_a_deadlock_error() -> (
    None
):
    @job
    async def child(n: int) -> int:
        return n * 10

    @job
    async def parent(n: int) -> object:
        kid = await child.submit(n)
        try:
            return await kid
        except JobDeadlock as exc:
            return exc

    async with JobRunner(queues={"default": 2}) as runner:
        with anyio.fail_after(10):
            parents = [await runner.submit(parent, n) for n in (1, 2)]
            outcomes = [await p for p in parents]
            await runner.wait_idle()
    errors = [o for o in outcomes if isinstance(o, JobDeadlock)]
    values = [o for o in outcomes if not isinstance(o, JobDeadlock)]
    # The parent whose wait closed the ring is told; its slot frees, so the other's child
    # runs and that parent gets its result. The told parent's child still runs, later.
    assert len(errors) == 1
    assert "queue 'default'" in str(errors[0])
    assert values in ([10], [20])
    stats = runner.queue_statistics()["default"]
    assert (stats.processed, stats.failed) == (4, 0)


async def test_children_in_a_queue_of_their_own_are_no_deadlock() -> None:
    @job(queue="children")
    async def child(n: int) -> int:
        return n + 1

    @job
    async def parent(n: int) -> int:
        return await (await child.submit(n))

    async with JobRunner(queues={"default": 2, "children": 1}) as runner:
        with anyio.fail_after(10):
            parents = [await runner.submit(parent, n) for n in range(6)]
            assert [await p for p in parents] == [1, 2, 3, 4, 5, 6]


async def test_a_child_that_comes_back_from_a_delay_into_a_full_queue_ends_the_wait(
    clock: FakeClock,
) -> None:
    @job
    async def child() -> str:
        return "late"

    outcome: list[object] = []

    @job
    async def parent() -> None:
        kid = await child.with_options(delay=5).submit()
        try:
            outcome.append(await kid)
        except JobDeadlock as exc:
            outcome.append(exc)

    async with JobRunner(clock=clock, queues={"default": 1}) as runner:
        with anyio.fail_after(10):
            handle = await runner.submit(parent)
            await run_until_idle(runner, clock, settle=0)
            await handle
    # Waiting for a delayed child is no deadlock; once it is due, its queue's one place is
    # held by its waiting parent: that wait can never end.
    assert len(outcome) == 1
    assert isinstance(outcome[0], JobDeadlock)


async def test_a_job_waiting_for_itself_is_told() -> None:
    @job
    async def selfish() -> None:
        me = current_job()
        assert me is not None
        await me

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(selfish)
            with pytest.raises(JobDeadlock, match="cannot wait for itself"):
                await handle


async def test_a_timed_wait_is_never_a_deadlock(clock: FakeClock) -> None:
    @job
    async def child() -> int:
        return 1

    @job
    async def parent() -> str:
        kid = await child.submit()
        try:
            await kid.result(timeout=30)
        except ResultTimeout:
            return "timed out"
        return "got it"

    async with JobRunner(clock=clock, queues={"default": 1}) as runner:
        with anyio.fail_after(10):
            handle = await runner.submit(parent)
            await run_until_idle(runner, clock, settle=0)
            assert await handle == "timed out"


async def test_a_job_that_submits_itself_without_end_is_stopped_at_max_depth() -> None:
    depths: list[int] = []

    @job
    async def again(n: int) -> None:
        depths.append(n)
        await again.submit(n + 1)

    async with JobRunner(max_depth=50) as runner:
        with anyio.fail_after(10):
            await runner.submit(again, 0)
            await runner.wait_idle()
        failed = await runner.dead_letters.list()
    assert depths == list(range(51))  # the first (depth 0) and 50 nested ones
    (last,) = failed.records
    assert last.error is not None
    assert "JobNestingError" in last.error


async def test_a_delayed_resubmit_starts_a_new_line(clock: FakeClock) -> None:
    runs: list[int] = []

    @job
    async def every_minute(n: int) -> None:
        runs.append(n)
        if n < 10:
            await every_minute.with_options(delay=60).submit(n + 1)

    async with JobRunner(clock=clock, max_depth=2) as runner:
        with anyio.fail_after(10):
            await runner.submit(every_minute, 0)
            await run_until_idle(runner, clock, settle=0)
    assert runs == list(range(11))


async def test_max_depth_is_validated() -> None:
    with pytest.raises(InvalidOption, match="max_depth"):
        JobRunner(max_depth=0)


async def test_a_task_a_job_started_may_wait_for_that_job() -> None:
    # A task started from inside a job carries the job's context, but it is not the job's
    # own flow: its waits (here for the job itself) are no deadlock.
    seen: list[str] = []

    @job
    async def starts_a_watcher() -> str:
        me = current_job()
        assert me is not None

        async def watch() -> None:
            await me.wait()
            seen.append(me.state.value)

        runner_tasks[0].start_soon(watch)
        await anyio.lowlevel.checkpoint()
        return "done"

    runner_tasks: list[anyio.abc.TaskGroup] = []
    async with JobRunner(queues={"default": 1}) as runner, anyio.create_task_group() as group:
        runner_tasks.append(group)
        with anyio.fail_after(5):
            assert await (await runner.submit(starts_a_watcher)) == "done"
    assert seen == ["succeeded"]
