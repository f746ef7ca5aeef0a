from __future__ import annotations

import anyio
import pytest

from asyncjobs import InvalidOption, JobNotFound, JobRecord, JobState, ResultExpired
from asyncjobs.storage import MemoryJobStore

from .storage_contract import StorageContract, make_record, store
from .wrapped_store import WrappedStore

__all__ = ["store"]


class TestStorageContract(StorageContract):
    """Runs the whole contract against every backend in ``BACKENDS``."""


@pytest.mark.anyio
async def test_memory_store_keeps_a_bounded_number_of_finished_records() -> None:
    backend = MemoryJobStore(max_finished=3, max_dead_letters=2)
    await backend.add(make_record("waiting"))
    for i in range(5):
        await backend.add(make_record(f"done{i}", state=JobState.SUCCEEDED))
        await backend.add(make_record(f"dead{i}", state=JobState.FAILED))
    ids = [r.id for r in (await backend.list()).records]
    # Unfinished ones are never evicted, and dead letters have a cap of their own.
    assert ids == ["waiting", "done2", "done3", "dead3", "done4", "dead4"]
    with pytest.raises(ResultExpired):
        await backend.get("done0")
    with pytest.raises(ResultExpired):
        await backend.get("dead2")
    record = await backend.get("waiting")
    record.state = JobState.FAILED
    await backend.update(record)
    ids = [r.id for r in (await backend.list()).records]
    assert ids == ["waiting", "done2", "done3", "done4", "dead4"]


@pytest.mark.anyio
async def test_a_record_refinished_with_another_outcome_is_counted_once() -> None:
    backend = MemoryJobStore(max_finished=1, max_dead_letters=1)
    await backend.add(make_record("a", state=JobState.FAILED, finished_at=1.0))
    record = await backend.get("a")
    record.state = JobState.SUCCEEDED
    await backend.update(record)
    await backend.add(make_record("b", state=JobState.FAILED, finished_at=1.0))  # "a" moved
    assert (await backend.get("a")).state is JobState.SUCCEEDED
    await backend.add(make_record("c", state=JobState.SUCCEEDED, finished_at=1.0))  # evicts "a"
    assert [r.id for r in (await backend.list()).records] == ["b", "c"]
    assert await backend.expire(finished_before=1e12) == 2


@pytest.mark.anyio
async def test_memory_store_remembers_a_bounded_number_of_expired_ids() -> None:
    backend = MemoryJobStore(max_finished=1, remember_expired=2)
    for i in range(7):
        await backend.add(make_record(f"j{i}", state=JobState.SUCCEEDED))
    # j0..j5 were evicted; the newest two generations of two ids are remembered.
    for job_id in ("j2", "j3", "j4", "j5"):
        with pytest.raises(ResultExpired):
            await backend.get(job_id)
    for job_id in ("j0", "j1"):
        with pytest.raises(JobNotFound) as caught:
            await backend.get(job_id)
        assert not isinstance(caught.value, ResultExpired)


@pytest.mark.parametrize("field", ["max_finished", "max_dead_letters", "remember_expired"])
def test_memory_store_refuses_a_bad_bound(field: str) -> None:
    with pytest.raises(InvalidOption, match=f"{field}=0"):
        MemoryJobStore(**{field: 0})


class CopyingStore(WrappedStore):
    """A store that keeps copies, as a durable store would: every state change must reach it."""

    async def update(self, record: JobRecord) -> None:
        self.updates.append(record.state)
        await super().update(record)

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[JobState] = []


@pytest.mark.anyio
async def test_a_copying_store_sees_every_state_change() -> None:
    from asyncjobs import JobRunner, job
    from asyncjobs.testing import FakeClock, run_until_idle

    @job
    async def later() -> str:
        return "ok"

    store = CopyingStore()
    clock = FakeClock()
    async with JobRunner(store=store, clock=clock) as runner:
        handle = await runner.submit(later.with_options(delay=5))
        assert (await store.get(handle.id)).state is JobState.SCHEDULED
        await run_until_idle(runner, clock)
        assert await handle == "ok"
    assert store.updates == [JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED]
    assert (await store.get(handle.id)).result == "ok"


class SlowFlakyStore(WrappedStore):
    """Writes of 'running' wait for a gate, and fail when told to: like a remote store."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: anyio.Event | None = None
        self.writing = anyio.Event()
        self.fail_running = False

    async def update(self, record: JobRecord) -> None:
        if record.state is JobState.RUNNING:
            if self.fail_running:
                raise OSError("store unreachable")
            if self.gate is not None:
                self.writing.set()
                await self.gate.wait()
        await super().update(record)


@pytest.mark.anyio
async def test_a_cancel_while_the_start_is_being_stored_is_not_lost() -> None:
    from asyncjobs import JobCancelled, JobRunner, job

    ran: list[str] = []

    @job
    async def work() -> None:
        ran.append("handler")

    store = SlowFlakyStore()
    store.gate = anyio.Event()
    async with JobRunner(store=store) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(work)
            await store.writing.wait()  # the worker is storing "running"
            assert await handle.cancel() is True
            store.gate.set()
            with pytest.raises(JobCancelled):
                await handle
    assert ran == []


@pytest.mark.anyio
async def test_a_failing_store_write_does_not_kill_the_worker() -> None:
    from asyncjobs import JobRunner, job

    @job
    async def work(x: int) -> int:
        return x

    store = SlowFlakyStore()
    store.fail_running = True
    async with JobRunner(store=store, queues={"default": 1}) as runner:
        with anyio.fail_after(5):
            assert await (await runner.submit(work, 1)) == 1
            assert await (await runner.submit(work, 2)) == 2  # the one worker is alive
            assert runner.pool_statistics().idle == 1


@pytest.mark.anyio
async def test_a_store_that_cannot_open_leaves_the_runner_stopped() -> None:
    from asyncjobs import JobRunner, RunnerState

    class Broken(MemoryJobStore):
        async def open(self) -> None:
            raise OSError("disk full")

    runner = JobRunner(store=Broken())
    with pytest.raises(OSError, match="disk full"):
        async with runner:
            pass
    assert runner.state is RunnerState.STOPPED


@pytest.mark.anyio
async def test_a_store_declares_its_plain_writes_with_the_nowait_protocol() -> None:
    from asyncjobs import JobRunner, job
    from asyncjobs.abc import NowaitStore

    class Counting(MemoryJobStore):
        """Sees every plain write the engine makes (the first and last of each job)."""

        def __init__(self) -> None:
            super().__init__()
            self.writes: list[JobState] = []

        def add_nowait(self, record: JobRecord) -> None:
            self.writes.append(record.state)
            super().add_nowait(record)

        def update_nowait(self, record: JobRecord) -> None:
            self.writes.append(record.state)
            super().update_nowait(record)

    @job
    async def one() -> int:
        return 1

    assert isinstance(MemoryJobStore(), NowaitStore)
    assert not isinstance(WrappedStore(), NowaitStore)
    store = Counting()
    async with JobRunner(store=store) as runner:
        with anyio.fail_after(5):
            assert await (await runner.submit(one)) == 1
    assert store.writes == [JobState.QUEUED, JobState.SUCCEEDED]
