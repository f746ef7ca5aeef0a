"""Submitting, results, errors, context, child jobs, batches, refused input."""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import anyio
import pytest

from asyncjobs import (
    DuplicateJobId,
    InvalidArguments,
    InvalidJob,
    InvalidOption,
    InvalidOptionType,
    JobNotFound,
    JobRunner,
    JobState,
    QueueConfig,
    QueueFull,
    RunnerNotRunning,
    UnknownQueue,
    current_job,
    current_runner,
    job,
)

pytestmark = pytest.mark.anyio

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


@job
async def add(a: int, b: int) -> int:
    await anyio.lowlevel.checkpoint()
    return a + b


@job
def blocking_mul(a: int, b: int) -> tuple[int, bool]:
    return a * b, threading.current_thread() is not threading.main_thread()


class Boom(Exception):
    pass


@job
async def explode(message: str) -> None:
    raise Boom(message)


async def test_await_handle_gives_the_result() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(add, 2, 3)
            assert await handle == 5
            assert await handle.result() == 5  # a handle can be awaited again
        assert handle.done()
        assert handle.state is JobState.SUCCEEDED
        record = await runner.get_job(handle.id)
        assert record.result == 5
        assert record.attempts == 1
        assert record.started_at is not None
        assert record.finished_at is not None
        assert record.finished is not None


async def test_sync_jobs_run_in_a_worker_thread() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            assert await (await runner.submit(blocking_mul, 6, 7)) == (42, True)


async def test_plain_functions_can_be_submitted_without_decorating() -> None:
    async def triple(x: int) -> int:
        return 3 * x

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            assert await (await runner.submit(triple, 5)) == 15
            assert await (await runner.submit(len, "four")) == 4


async def test_the_jobs_own_exception_is_raised() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(explode, "kaput")
            with pytest.raises(Boom, match="kaput"):
                await handle
        assert handle.state is JobState.FAILED
        assert (await runner.get_job(handle.id)).error == "Boom: kaput"
        stats = runner.queue_statistics()["default"]
        assert (stats.processed, stats.failed) == (1, 1)


async def test_context_variables_flow_from_submitter_to_job() -> None:
    seen: list[str] = []

    @job
    async def async_reader() -> None:
        seen.append(request_id.get())
        request_id.set("changed-by-job")

    @job
    def sync_reader() -> None:
        seen.append(request_id.get())

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            request_id.set("req-1")
            first = await runner.submit(async_reader)
            request_id.set("req-2")  # captured at submit time: the first job still sees req-1
            second = await runner.submit(sync_reader)
            await first
            await second
    assert seen == ["req-1", "req-2"]
    assert request_id.get() == "req-2"  # the job's change stayed in the job


async def test_child_jobs_submit_from_inside_a_running_job() -> None:
    @job
    async def parent(n: int) -> list[int]:
        me = current_job()
        assert me is not None
        assert me.state is JobState.RUNNING
        children = [await add.submit(i, i) for i in range(n)]
        return [await child for child in children]

    async with JobRunner(queues={"default": 4}) as runner:
        with anyio.fail_after(5):
            assert await (await runner.submit(parent, 3)) == [0, 2, 4]
            # The decorated job's own submit() finds the runner of the async-with block.
            assert await (await add.submit(20, 22)) == 42
    assert current_job() is None


async def test_a_job_submits_its_children_to_the_runner_running_it() -> None:
    seen: list[JobRunner] = []

    @job(name="tests.submit.parent")
    async def parent() -> int:
        seen.append(current_runner())
        child = await add.submit(2, 3)  # to the runner running this job
        return await child

    async with JobRunner() as outer, JobRunner() as inner:  # inner is current here
        with anyio.fail_after(5):
            assert current_runner() is inner
            handle = await outer.submit(parent)
            assert await handle == 5
    assert seen == [outer]
    assert [r.name for r in (await outer.list_jobs()).records] == [parent.name, add.name]
    assert (await inner.list_jobs()).records == []


async def test_submit_many_submits_all() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handles = await runner.submit_many([add.call(i, 1) for i in range(10)])
            assert [await h for h in handles] == list(range(1, 11))


async def test_submit_many_is_all_or_nothing_on_validation() -> None:
    async with JobRunner(queues={"default": 1, "small": QueueConfig(maxsize=2)}) as runner:
        good = add.call(1, 2)
        for bad in (
            add.with_options(queue="nope").call(1, 2),
            add.with_options(job_id="same").call(1, 2),
        ):
            batch = [good, bad, add.with_options(job_id="same").call(3, 4)]
            with pytest.raises((UnknownQueue, DuplicateJobId)):
                await runner.submit_many(batch)
        with pytest.raises(QueueFull, match="batch needs 3"):
            await runner.submit_many([add.with_options(queue="small").call(i, i) for i in range(3)])
        with pytest.raises(InvalidOptionType, match=r"calls\[1\]"):
            await runner.submit_many([good, (add, 1, 2)])  # type: ignore[list-item]
        page = await runner.list_jobs()
        assert page.records == []
        assert runner.queue_statistics()["default"].enqueued == 0
        assert runner.queue_statistics()["small"].size == 0
        # The refusal's one trace: the queue counts the refused jobs, as a refused submit.
        assert runner.queue_statistics()["small"].rejected == 3


async def test_refused_submits_leave_nothing_behind() -> None:
    async with JobRunner(queues={"default": 2, "tiny": QueueConfig(maxsize=1)}) as runner:
        attempts: list[tuple[type[Exception], Any]] = [
            (InvalidArguments, lambda: runner.submit(add, 1)),
            (InvalidArguments, lambda: runner.submit(add, 1, 2, 3)),
            (InvalidArguments, lambda: runner.submit(add, 1, c=2)),
            (UnknownQueue, lambda: runner.submit(add.with_options(queue="other"), 1, 2)),
            (InvalidJob, lambda: runner.submit(42)),
        ]
        for error, attempt in attempts:
            with pytest.raises(error):
                await attempt()
        assert (await runner.list_jobs()).records == []
        for stats in runner.queue_statistics().values():
            assert (stats.enqueued, stats.size, stats.rejected) == (0, 0, 0)
        assert runner.pool_statistics().waiting == 0


async def test_unknown_queue_error_names_the_queue_and_the_choices() -> None:
    async with JobRunner(queues={"default": 1, "emails": 1}) as runner:
        with pytest.raises(UnknownQueue, match=r"queue='mail'.*default, emails") as info:
            await runner.submit(add.with_options(queue="mail"), 1, 2)
        assert isinstance(info.value, LookupError)


async def test_given_job_ids_must_be_unique() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            first = await runner.submit(add.with_options(job_id="invoice-7"), 1, 2)
            await first
            with pytest.raises(DuplicateJobId, match="invoice-7"):
                await runner.submit(add.with_options(job_id="invoice-7"), 1, 2)
            assert first.id == "invoice-7"
            assert (await runner.get_job("invoice-7")).result == 3


async def test_get_and_list_jobs() -> None:
    async with JobRunner(queues={"default": 2, "other": 1}) as runner:
        with anyio.fail_after(5):
            handles = [await runner.submit(add, i, 0) for i in range(5)]
            other = await runner.submit(add.with_options(queue="other"), 9, 9)
            for h in [*handles, other]:
                await h
            page = await runner.list_jobs(limit=2)
            assert [r.id for r in page.records] == [h.id for h in handles[:2]]
            assert page.next_cursor is not None
            rest = await runner.list_jobs(limit=10, cursor=page.next_cursor)
            assert [r.id for r in rest.records] == [h.id for h in handles[2:]] + [other.id]
            assert rest.next_cursor is None
            only_other = await runner.list_jobs(queue="other", states=["succeeded"])
            assert [r.id for r in only_other.records] == [other.id]
            with pytest.raises(InvalidOption, match="states="):
                await runner.list_jobs(states=["done"])
            with pytest.raises(JobNotFound, match="nope"):
                await runner.get_job("nope")


async def test_submitting_before_start_and_after_close_is_refused() -> None:
    runner = JobRunner()
    with pytest.raises(RunnerNotRunning, match="async with"):
        await runner.submit(add, 1, 2)
    async with runner:
        pass
    with pytest.raises(RunnerNotRunning, match="stopped"):
        await runner.submit(add, 1, 2)
    with pytest.raises(RunnerNotRunning, match="starts only once") as again:
        async with runner:
            pass
    # The message says what to do in the case users meet it: a runner made at module level
    # and entered by each TestClient of a web app.
    assert "make a new JobRunner for each start" in str(again.value)
    assert "lifespan (an app factory)" in str(again.value)
    with pytest.raises(RunnerNotRunning, match="no current runner"):
        await add.submit(1, 2)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"queues": {}}, "queues"),
        ({"queues": {"default": 0}}, "queues['default']"),
        ({"queues": {"default": -1}}, "queues['default']"),
        ({"queues": {"default": "ten"}}, "queues['default']"),
        ({"queues": [("default", 1)]}, "queues"),
        ({"max_workers": 0}, "max_workers"),
        ({"selection": "random"}, "selection"),
        ({"grace_period": -1}, "grace_period"),
        ({"cancel_timeout": float("nan")}, "cancel_timeout"),
        ({"store": object()}, "store"),
        ({"clock": object()}, "clock"),
        ({"drain_on_shutdown": "yes"}, "drain_on_shutdown"),
    ],
)
async def test_bad_runner_options_are_refused(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidOption) as info:
        JobRunner(**kwargs)
    assert info.value.field == field


async def test_a_finished_job_is_freed_without_the_cycle_collector() -> None:
    import gc
    import weakref

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handles = [await runner.submit(add, 1, 2)]
            await handles[0]
            ref = weakref.ref(handles[0])
            gc.disable()
            try:
                handles.clear()
                assert ref() is None  # no reference cycle keeps it alive
            finally:
                gc.enable()
