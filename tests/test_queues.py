"""Priorities, selection across queues, concurrency limits and full-queue policies."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import pytest

from asyncjobs import (
    JobHandle,
    JobRejected,
    JobRunner,
    JobState,
    QueueConfig,
    QueueFull,
    RejectPolicy,
    RunnerNotRunning,
    job,
)
from asyncjobs.testing import FakeClock, OutcomeRecorder

pytestmark = pytest.mark.anyio


class Gate:
    """A job that holds its worker until released, so tests can line up waiting jobs."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.release = anyio.Event()

    async def __call__(self) -> str:
        self.started.set()
        await self.release.wait()
        return "gate"


order: list[Any] = []


@job
async def note(tag: Any) -> Any:
    order.append(tag)
    return tag


@job
async def hold(gate: Gate) -> str:
    return await gate()


@pytest.fixture(autouse=True)
def _clear_order() -> None:
    order.clear()


async def test_higher_priority_first_fifo_among_equals() -> None:
    gate = Gate()
    async with JobRunner(queues={"default": 1}) as runner:
        with anyio.fail_after(5):
            blocker = await runner.submit(gate)
            await gate.started.wait()
            plan = [("a", 0), ("b", 5), ("c", 0), ("d", 5), ("e", -1), ("f", 9.5)]
            handles = [await runner.submit(note.with_options(priority=p), t) for t, p in plan]
            gate.release.set()
            for h in [blocker, *handles]:
                await h
    assert order == ["f", "b", "d", "a", "c", "e"]


async def test_strict_selection_drains_higher_weight_queues_first() -> None:
    gate = Gate()
    queues = {
        "low": QueueConfig(weight=1),
        "critical": QueueConfig(weight=6),
        "default": QueueConfig(weight=3),
    }
    async with JobRunner(queues=queues, max_workers=1, selection="strict") as runner:
        with anyio.fail_after(5):
            blocker = await runner.submit(gate.__call__)
            await gate.started.wait()
            handles = []
            for name in ("low", "default", "critical"):
                for i in range(2):
                    handles.append(await runner.submit(note.with_options(queue=name), (name, i)))
            gate.release.set()
            for h in [blocker, *handles]:
                await h
    assert [name for name, _ in order] == ["critical"] * 2 + ["default"] * 2 + ["low"] * 2


async def test_weighted_selection_gives_each_queue_its_share() -> None:
    gate = Gate()
    queues = {"critical": 6, "default": 3, "low": 1}
    configs = {name: QueueConfig(weight=w, concurrency=1) for name, w in queues.items()}
    async with JobRunner(queues=configs, max_workers=1, selection="weighted") as runner:
        with anyio.fail_after(10):
            blocker = await runner.submit(gate.__call__)
            await gate.started.wait()
            handles = []
            for name in queues:
                for i in range(100):
                    handles.append(await runner.submit(note.with_options(queue=name), (name, i)))
            gate.release.set()
            for h in [blocker, *handles]:
                await h
    # While all three queues have work, every window of 10 picks holds 6/3/1.
    window = [name for name, _ in order[:100]]
    for start in range(0, 100, 10):
        assert Counter(window[start : start + 10]) == {"critical": 6, "default": 3, "low": 1}
    # Nothing starves: "low" was picked within the first ten.
    assert "low" in window[:10]
    # Within a queue, FIFO.
    lows = [i for name, i in order if name == "low"]
    assert lows == sorted(lows)


async def test_per_queue_concurrency_and_worker_limit_hold() -> None:
    running: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    total_peak = 0
    release = anyio.Event()
    all_started = anyio.Event()
    started = 0

    @job
    async def tracked(queue: str) -> None:
        nonlocal total_peak, started
        running[queue] += 1
        peak[queue] = max(peak[queue], running[queue])
        total_peak = max(total_peak, sum(running.values()))
        started += 1
        if started == 5:
            all_started.set()
        await release.wait()
        running[queue] -= 1

    async with JobRunner(queues={"default": 3, "emails": 2}, max_workers=5) as runner:
        with anyio.fail_after(5):
            handles = [
                await runner.submit(tracked.with_options(queue=q), q)
                for q in ["default"] * 10 + ["emails"] * 10
            ]
            await all_started.wait()
            await anyio.wait_all_tasks_blocked()
            stats = runner.pool_statistics()
            assert (stats.capacity, stats.running, stats.idle) == (5, 5, 0)
            assert stats.waiting == 15
            assert runner.queue_statistics()["emails"].running == 2
            release.set()
            for h in handles:
                await h
    assert peak == {"default": 3, "emails": 2}
    assert total_peak == 5
    stats = runner.queue_statistics()
    assert stats["default"].processed == 10
    assert stats["emails"].running == 0


async def test_policy_raise() -> None:
    gate = Gate()
    queues = {"default": QueueConfig(concurrency=1, maxsize=2, on_full="raise")}
    async with JobRunner(queues=queues) as runner:
        with anyio.fail_after(5):
            blocker = await runner.submit(gate)
            await gate.started.wait()
            waiting = [await runner.submit(note, i) for i in range(2)]
            with pytest.raises(QueueFull, match=r"queue='default' is full: 2 of 2") as info:
                await runner.submit(note, "refused")
            assert (info.value.queue, info.value.maxsize) == ("default", 2)
            stats = runner.queue_statistics()["default"]
            assert (stats.size, stats.maxsize, stats.rejected, stats.enqueued) == (2, 2, 1, 3)
            assert len((await runner.list_jobs()).records) == 3  # nothing recorded for it
            gate.release.set()
            for h in [blocker, *waiting]:
                await h
    assert order == [0, 1]


async def test_policy_block_waits_for_room(clock: FakeClock) -> None:
    gate = Gate()
    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full=RejectPolicy.BLOCK)}
    async with JobRunner(queues=queues, clock=clock) as runner:
        with anyio.fail_after(5):
            blocker = await runner.submit(gate)
            await gate.started.wait()
            first = await runner.submit(note, "first")
            submitted = anyio.Event()
            box: list[JobHandle[Any]] = []

            async def producer() -> None:
                box.append(await runner.submit(note, "second"))
                submitted.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(producer)
                await anyio.wait_all_tasks_blocked()
                assert not submitted.is_set()  # blocked: the queue is full
                gate.release.set()
                await submitted.wait()
            for h in [blocker, first, *box]:
                await h
    assert order == ["first", "second"]


async def test_policy_block_with_timeout_raises_on_the_fake_clock(clock: FakeClock) -> None:
    gate = Gate()
    queue = QueueConfig(concurrency=1, maxsize=1, on_full="block", block_timeout=2.5)
    async with JobRunner(queues={"default": queue}, clock=clock) as runner:
        with anyio.fail_after(5):
            blocker = await runner.submit(gate)
            await gate.started.wait()
            waiting = await runner.submit(note, 1)
            outcome: list[BaseException] = []

            async def producer() -> None:
                try:
                    await runner.submit(note, 2)
                except QueueFull as exc:
                    outcome.append(exc)

            async with anyio.create_task_group() as tg:
                tg.start_soon(producer)
                await anyio.wait_all_tasks_blocked()
                await clock.advance(2.4)
                assert outcome == []
                await clock.advance(0.1)
            assert "no room within 2.5 seconds" in str(outcome[0])
            assert runner.queue_statistics()["default"].rejected == 1
            gate.release.set()
            await blocker
            await waiting


async def test_blocked_submitters_are_released_by_shutdown() -> None:
    gate = Gate()
    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full="block")}
    errors: list[BaseException] = []
    async with JobRunner(queues=queues, grace_period=0, cancel_timeout=5) as runner:
        with anyio.fail_after(5):
            await runner.submit(gate)
            await gate.started.wait()
            await runner.submit(note, 1)

            async def producer() -> None:
                try:
                    await runner.submit(note, 2)
                except RunnerNotRunning as exc:
                    errors.append(exc)

            async with anyio.create_task_group() as tg:
                tg.start_soon(producer)
                await anyio.wait_all_tasks_blocked()
                await runner.shutdown()
    assert len(errors) == 1


async def test_policy_drop_oldest() -> None:
    gate = Gate()
    queues = {"default": QueueConfig(concurrency=1, maxsize=2, on_full="drop_oldest")}
    async with JobRunner(queues=queues) as runner:
        with anyio.fail_after(5):
            blocker = await runner.submit(gate)
            await gate.started.wait()
            handles = [await runner.submit(note, i) for i in range(4)]
            assert [h.state for h in handles] == [JobState.REJECTED] * 2 + [JobState.QUEUED] * 2
            with pytest.raises(JobRejected, match="drop_oldest made room") as info:
                await handles[0]
            assert info.value.job_id == handles[0].id
            gate.release.set()
            for h in [blocker, *handles[2:]]:
                await h
            stats = runner.queue_statistics()["default"]
            assert (stats.rejected, stats.size) == (2, 0)
            # Regression: eviction once left the runner's ready count behind, and workers
            # later popped an empty queue. Counts agree and workers still run jobs.
            assert runner.pool_statistics().waiting == 0
            assert await (await runner.submit(note, "after")) == "after"
            assert runner.pool_statistics().idle == 1
    assert order == [2, 3, "after"]


async def test_policy_drop_newest() -> None:
    gate = Gate()
    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full="drop_newest")}
    async with JobRunner(queues=queues) as runner:
        with anyio.fail_after(5):
            blocker = await runner.submit(gate)
            await gate.started.wait()
            kept = await runner.submit(note, "kept")
            dropped = await runner.submit(note, "dropped")
            assert dropped.done()
            with pytest.raises(JobRejected, match="policy: drop_newest"):
                await dropped
            assert (await runner.get_job(dropped.id)).state is JobState.REJECTED
            gate.release.set()
            await blocker
            await kept
    assert order == ["kept"]


async def test_policy_caller_runs() -> None:
    gate = Gate()
    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full="caller_runs")}
    async with JobRunner(queues=queues) as runner:
        with anyio.fail_after(5):
            blocker = await runner.submit(gate)
            await gate.started.wait()
            queued = await runner.submit(note, "queued")
            inline = await runner.submit(note, "inline")
            assert inline.done()  # the submitter ran it, inside submit()
            assert await inline == "inline"
            assert order == ["inline"]
            gate.release.set()
            await blocker
            await queued
            stats = runner.queue_statistics()["default"]
            assert (stats.rejected, stats.processed) == (1, 3)
    assert order == ["inline", "queued"]


async def test_caller_runs_refuses_a_job_scheduled_for_later(clock: FakeClock) -> None:
    gate = Gate()
    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full="caller_runs")}
    async with JobRunner(queues=queues, clock=clock) as runner:
        with anyio.fail_after(5):
            blocker = await runner.submit(gate)
            await gate.started.wait()
            queued = await runner.submit(note, "queued")
            with pytest.raises(QueueFull, match="scheduled for later"):
                await runner.submit(note.with_options(delay=30), "later")
            assert order == []
            gate.release.set()
            await blocker
            await queued


async def test_custom_reject_handler_is_called_and_isolated() -> None:
    gate = Gate()
    seen: list[str] = []

    def handler(rejected: JobHandle[Any]) -> None:
        seen.append(rejected.id)
        raise RuntimeError("a faulty handler must not break submit")

    async def async_handler(rejected: JobHandle[Any]) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append("async:" + rejected.id)

    queues = {
        "default": QueueConfig(concurrency=1, maxsize=1, on_full=handler),
        "other": QueueConfig(concurrency=1, maxsize=1, on_full=async_handler),
    }
    async with JobRunner(queues=queues) as runner:
        with OutcomeRecorder(runner) as outcomes, anyio.fail_after(5):
            blocker = await runner.submit(gate)
            await gate.started.wait()
            kept = await runner.submit(note, 1)
            dropped = await runner.submit(note, 2)
            with pytest.raises(JobRejected, match="custom reject handler"):
                await dropped
            other_gate = Gate()
            other_blocker = await runner.submit(hold.with_options(queue="other"), other_gate)
            await other_gate.started.wait()
            await runner.submit(note.with_options(queue="other"), 3)
            other_dropped = await runner.submit(note.with_options(queue="other"), 4)
            gate.release.set()
            other_gate.release.set()
            for h in [blocker, kept, other_blocker]:
                await h
            await runner.wait_idle()
            assert outcomes.states()[dropped.id] is JobState.REJECTED
    assert seen == [dropped.id, "async:" + other_dropped.id]


async def test_priorities_after_the_queue_ran_dry() -> None:
    """A queue that ran dry keeps its last bucket for reuse; jobs of other priorities that
    come later still run highest first."""
    gate = Gate()
    async with JobRunner(queues={"default": 1}) as runner:
        with anyio.fail_after(5):
            await (await runner.submit(note, "alone"))  # the priority-0 bucket is now empty
            blocker = await runner.submit(gate)
            await gate.started.wait()
            plan = [("low", -1), ("high", 3), ("mid", 0), ("lower", -2)]
            handles = [await runner.submit(note.with_options(priority=p), t) for t, p in plan]
            gate.release.set()
            for h in [blocker, *handles]:
                await h
            await (await runner.submit(note.with_options(priority=-5), "last"))
    assert order == ["alone", "high", "mid", "low", "lower", "last"]
