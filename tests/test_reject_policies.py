"""Full-queue policies as objects: a policy of your own can pick a victim or wait."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from asyncjobs import (
    Decision,
    FullQueue,
    FullQueuePolicy,
    JobRejected,
    JobRunner,
    JobState,
    QueueConfig,
    QueueFull,
    job,
)
from asyncjobs.testing import FakeClock

from .test_queues import Gate

pytestmark = pytest.mark.anyio


@job(name="tests.reject.value")
async def value(n: int) -> int:
    return n


class DropLowestPriority(FullQueuePolicy):
    """Drop whichever job (waiting or new) has the lowest priority."""

    async def decide(self, full: FullQueue) -> Decision:
        waiting = full.waiting()
        lowest = min(waiting, key=lambda handle: handle.record().priority)
        if lowest.record().priority < full.job.record().priority:
            return full.evict(lowest, "a more urgent job came")
        return full.drop("not urgent enough")


async def test_a_custom_policy_evicts_the_victim_it_chooses() -> None:
    gate = Gate()
    queues = {"q": QueueConfig(concurrency=1, maxsize=2, on_full=DropLowestPriority())}
    async with JobRunner(queues=queues) as runner:
        with anyio.fail_after(5):
            running = await runner.submit(
                job(gate, name="tests.reject.gate").with_options(queue="q")
            )
            await gate.started.wait()
            low = await runner.submit(value.with_options(queue="q", priority=1), 1)
            mid = await runner.submit(value.with_options(queue="q", priority=5), 5)
            urgent = await runner.submit(value.with_options(queue="q", priority=9), 9)
            assert low.state is JobState.REJECTED
            with pytest.raises(JobRejected, match="a more urgent job came"):
                await low
            lazy = await runner.submit(value.with_options(queue="q", priority=0), 0)
            with pytest.raises(JobRejected, match="not urgent enough"):
                await lazy
            gate.release.set()
            assert await running == "gate"
            assert [await urgent, await mid] == [9, 5]
            stats = runner.queue_statistics("q")["q"]
            assert stats.rejected == 2


class WaitThenRefuse(FullQueuePolicy):
    async def decide(self, full: FullQueue) -> Decision:
        if await full.wait_for_room(timeout=10):
            return full.admit()
        return full.refuse("waited ten seconds")


async def test_a_custom_policy_can_wait_for_room() -> None:
    clock = FakeClock()
    gate = Gate()
    queues = {"q": QueueConfig(concurrency=1, maxsize=1, on_full=WaitThenRefuse())}
    async with JobRunner(queues=queues, clock=clock) as runner:
        with anyio.fail_after(5):
            held = job(gate, name="tests.reject.wait_gate").with_options(queue="q")
            await runner.submit(held)
            await gate.started.wait()
            await runner.submit(value.with_options(queue="q"), 1)  # fills the one place
            refused: list[QueueFull] = []

            async def submit_blocked() -> None:
                try:
                    await runner.submit(value.with_options(queue="q"), 2)
                except QueueFull as exc:
                    refused.append(exc)

            async with anyio.create_task_group() as group:
                group.start_soon(submit_blocked)
                await anyio.wait_all_tasks_blocked()
                assert refused == []
                await clock.advance(10)
            assert "waited ten seconds" in str(refused[0])
            got: list[Any] = []

            async def submit_late() -> None:
                got.append(await runner.submit(value.with_options(queue="q"), 3))

            async with anyio.create_task_group() as group:
                group.start_soon(submit_late)
                await anyio.wait_all_tasks_blocked()
                assert got == []  # waiting for room
                gate.release.set()
            assert await got[0] == 3


class Broken(FullQueuePolicy):
    def __init__(self, answer: str) -> None:
        self.answer = answer

    async def decide(self, full: FullQueue) -> Decision:
        if self.answer == "raise":
            raise RuntimeError("policy bug")
        if self.answer == "garbage":
            return "admit"  # type: ignore[return-value]
        if self.answer == "finished victim":
            return full.evict(finished, "a finished job")
        return OTHER.admit()


finished: Any = None
OTHER: Any = None


@pytest.mark.parametrize("answer", ["raise", "garbage", "finished victim", "another's"])
async def test_a_faulty_policy_drops_the_new_job_and_is_logged(
    answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    global finished, OTHER
    gate = Gate()
    queues = {"q": QueueConfig(concurrency=1, maxsize=1, on_full=Broken(answer))}
    async with JobRunner(queues=queues) as runner:
        with anyio.fail_after(5):
            finished = await runner.submit(value.with_options(queue="q"), 0)
            assert await finished == 0
            OTHER = FullQueue(finished, "q", 1, False, lambda: False, list, lambda: None, None)  # type: ignore[arg-type]
            await runner.submit(job(gate, name="tests.reject.broken_gate").with_options(queue="q"))
            await gate.started.wait()
            waiting = await runner.submit(value.with_options(queue="q"), 1)
            with caplog.at_level(logging.ERROR, logger="asyncjobs"):
                new = await runner.submit(value.with_options(queue="q"), 2)
            with pytest.raises(JobRejected, match="policy <Broken>"):
                await new
            assert any(
                r.getMessage().startswith("reject policy") and "job" in r.getMessage()
                for r in caplog.records
            )
            assert waiting.state is JobState.QUEUED  # the bound held; nothing else dropped
            gate.release.set()
            assert await waiting == 1


class RunHere(FullQueuePolicy):
    async def decide(self, full: FullQueue) -> Decision:
        return full.run_in_caller()


async def test_caller_runs_from_a_custom_policy_refuses_a_job_due_later() -> None:
    gate = Gate()
    queues = {"q": QueueConfig(concurrency=1, maxsize=1, on_full=RunHere())}
    async with JobRunner(queues=queues) as runner:
        with anyio.fail_after(5):
            await runner.submit(job(gate, name="tests.reject.here_gate").with_options(queue="q"))
            await gate.started.wait()
            await runner.submit(value.with_options(queue="q"), 1)
            here = await runner.submit(value.with_options(queue="q"), 2)
            assert here.done()  # it ran in this task, inside submit
            assert await here == 2
            with pytest.raises(QueueFull, match="scheduled for later"):
                await runner.submit(value.with_options(queue="q", delay=5), 3)
            gate.release.set()


def test_named_policies_keep_their_names_and_a_policy_object_is_taken_as_is() -> None:
    policy = DropLowestPriority()
    assert QueueConfig(maxsize=1, on_full=policy).on_full is policy
    assert QueueConfig(maxsize=1, on_full="drop_oldest").on_full == "drop_oldest"
