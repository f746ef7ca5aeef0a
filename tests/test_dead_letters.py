"""Dead letters on the fake clock: exhaustion, inspection, filters, requeue, purge."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from asyncjobs import (
    DuplicateJob,
    FixedBackoff,
    InvalidJob,
    InvalidOption,
    InvalidOptionType,
    JobHandle,
    JobNotFound,
    JobRecord,
    JobRegistry,
    JobRunner,
    JobState,
    JobStateError,
    MemoryJobStore,
    QueueConfig,
    QueueFull,
    ResultExpired,
    Retry,
    SkipRetry,
    Unique,
    job,
)
from asyncjobs.testing import FakeClock, run_until_idle

from .wrapped_store import WrappedStore

pytestmark = pytest.mark.anyio


class Switch:
    """A job body that raises ``error`` while ``broken``, and returns its argument after."""

    def __init__(self, error: type[Exception] = ConnectionError) -> None:
        self.broken = True
        self.error = error
        self.calls = 0

    async def __call__(self, x: int = 0) -> int:
        self.calls += 1
        if self.broken:
            raise self.error(f"down for {x}")
        return x


def retry(attempts: int, *, delay: float) -> Retry:
    return Retry(max_attempts=attempts, backoff=FixedBackoff(delay=delay))


def define(registry: JobRegistry, name: str, body: Any, **options: Any) -> Any:
    return job(name=name, registry=registry, **options)(body)


async def settle(runner: JobRunner, clock: FakeClock) -> None:
    with anyio.fail_after(5):
        await run_until_idle(runner, clock)


async def test_exhausted_retries_end_as_a_dead_letter_with_everything_kept(
    clock: FakeClock,
) -> None:
    registry = JobRegistry()
    body = Switch()
    sync = define(registry, "sync", body, retry=retry(3, delay=2))
    async with JobRunner(clock=clock, registry=registry) as runner:
        handle = await runner.submit(sync, 7)
        await settle(runner, clock)
        assert handle.state is JobState.FAILED
        page = await runner.dead_letters.list()
        assert [r.id for r in page.records] == [handle.id]
        dead = await runner.dead_letters.get(handle.id)
    assert dead.attempts == 3
    assert dead.error == "ConnectionError: down for 7"
    assert dead.traceback is not None
    assert "raise self.error" in dead.traceback
    assert "ConnectionError: down for 7" in dead.traceback
    assert [(a.number, a.outcome) for a in dead.history] == [
        (1, JobState.FAILED),
        (2, JobState.FAILED),
        (3, JobState.FAILED),
    ]
    assert [a.started_at - dead.created_at for a in dead.history] == [0.0, 2.0, 4.0]
    assert dead.finished_at == dead.created_at + 4.0


async def test_a_job_that_gives_up_is_a_dead_letter_after_one_attempt(clock: FakeClock) -> None:
    registry = JobRegistry()

    async def hopeless() -> None:
        raise SkipRetry("the account is gone")

    give_up = define(registry, "give_up", hopeless, retry=Retry(max_attempts=5))
    async with JobRunner(clock=clock, registry=registry) as runner:
        handle = await runner.submit(give_up)
        await settle(runner, clock)
        dead = await runner.dead_letters.get(handle.id)
    assert (dead.state, dead.attempts) == (JobState.FAILED, 1)
    assert dead.error is not None
    assert "the account is gone" in dead.error


async def test_only_failed_jobs_are_dead_letters(clock: FakeClock) -> None:
    registry = JobRegistry()

    async def fine() -> int:
        return 1

    ok = define(registry, "ok", fine)
    async with JobRunner(clock=clock, registry=registry) as runner:
        handle = await runner.submit(ok)
        await settle(runner, clock)
        assert (await runner.dead_letters.list()).records == []
        with pytest.raises(JobStateError, match="is succeeded: not a dead letter"):
            await runner.dead_letters.get(handle.id)
        with pytest.raises(JobStateError, match="only failed jobs"):
            await runner.dead_letters.requeue(handle.id)
        with pytest.raises(JobNotFound):
            await runner.dead_letters.get("no-such-job")
        with pytest.raises(JobNotFound):
            await runner.dead_letters.requeue("no-such-job")


async def test_listing_filters_by_queue_name_error_and_age(clock: FakeClock) -> None:
    registry = JobRegistry()
    net, disk = Switch(ConnectionError), Switch(OSError)
    fetch = define(registry, "fetch", net)
    save = define(registry, "save", disk)
    async with JobRunner(
        clock=clock, registry=registry, queues={"default": 5, "slow": 5}
    ) as runner:
        early = await runner.submit(fetch, 1)
        await runner.submit(save.with_options(queue="slow"), 2)
        await settle(runner, clock)
        await clock.advance(100)
        late = await runner.submit(fetch.with_options(queue="slow"), 3)
        await settle(runner, clock)
        dead = runner.dead_letters

        async def ids(**filters: Any) -> list[str]:
            return [r.id for r in (await dead.list(**filters)).records]

        everything = await ids()
        assert len(everything) == 3
        assert await ids(name="fetch") == [early.id, late.id]
        assert await ids(queue="slow") == everything[1:]
        assert await ids(error="ConnectionError") == [early.id, late.id]
        assert await ids(error="OSError: down for 2") == [everything[1]]
        assert await ids(older_than=50) == everything[:2]
        assert await ids(name="fetch", queue="slow", older_than=0) == [late.id]
        first = await dead.list(limit=2)
        assert [r.id for r in first.records] == everything[:2]
        rest = await dead.list(limit=2, cursor=first.next_cursor)
        assert [r.id for r in rest.records] == everything[2:]
        assert rest.next_cursor is None
        with pytest.raises(InvalidOption, match="older_than=-1"):
            await dead.list(older_than=-1)
        with pytest.raises(InvalidOptionType, match="error=3"):
            await dead.list(error=3)  # type: ignore[arg-type]


async def test_a_requeued_dead_letter_then_succeeds(clock: FakeClock) -> None:
    registry = JobRegistry()
    body = Switch()
    sync = define(registry, "sync", body, retry=retry(2, delay=1))
    async with JobRunner(clock=clock, registry=registry) as runner:
        old = await runner.submit(sync.with_options(priority=3), 5)
        await settle(runner, clock)
        assert old.state is JobState.FAILED
        body.broken = False  # the outage is over
        await clock.advance(60)
        new = await runner.dead_letters.requeue(old.id)
        assert new is not old
        assert new.id == old.id
        await settle(runner, clock)
        with anyio.fail_after(5):
            assert await new == 5
        with pytest.raises(ConnectionError):
            await old  # the old handle keeps its failed outcome
        record = await runner.get_job(old.id)
        assert (await runner.dead_letters.list()).records == []
        stats = runner.queue_statistics()["default"]
    assert body.calls == 3
    assert (record.state, record.result, record.attempts, record.priority) == (
        JobState.SUCCEEDED,
        5,
        1,
        3,
    )
    assert record.error is None
    assert record.traceback is None
    assert [(a.number, a.outcome) for a in record.history] == [
        (1, JobState.FAILED),
        (2, JobState.FAILED),
        (3, JobState.SUCCEEDED),
    ]
    assert [a.started_at - record.created_at for a in record.history] == [0.0, 1.0, 61.0]
    assert (stats.enqueued, stats.processed, stats.failed) == (2, 2, 1)


async def test_a_requeued_job_gets_a_fresh_retry_budget(clock: FakeClock) -> None:
    registry = JobRegistry()
    body = Switch()
    sync = define(registry, "sync", body, retry=retry(2, delay=1))
    async with JobRunner(clock=clock, registry=registry) as runner:
        handle = await runner.submit(sync)
        await settle(runner, clock)
        again = await runner.dead_letters.requeue(handle.id)
        await settle(runner, clock)
    assert again.state is JobState.FAILED
    assert body.calls == 4
    record = again.record()
    assert record.attempts == 2
    assert len(record.history) == 4


class YieldingStore(WrappedStore):
    """Reads and writes that let other tasks run, as a remote store's would."""

    async def get(self, job_id: str) -> JobRecord:
        await anyio.lowlevel.checkpoint()
        return await super().get(job_id)

    async def update(self, record: JobRecord) -> None:
        await anyio.lowlevel.checkpoint()
        await super().update(record)


@pytest.mark.parametrize("store_type", [MemoryJobStore, YieldingStore])
async def test_concurrent_requeues_of_one_dead_letter_run_it_once(
    clock: FakeClock, store_type: type[MemoryJobStore | YieldingStore]
) -> None:
    registry = JobRegistry()
    body = Switch()
    sync = define(registry, "sync", body)
    async with JobRunner(clock=clock, registry=registry, store=store_type()) as runner:
        handle = await runner.submit(sync)
        await settle(runner, clock)
        body.broken = False
        handles: list[JobHandle[Any]] = []
        refused: list[JobStateError] = []

        async def requeue() -> None:
            try:
                handles.append(await runner.dead_letters.requeue(handle.id))
            except JobStateError as exc:
                refused.append(exc)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                for _ in range(20):
                    group.start_soon(requeue)
        await settle(runner, clock)
    assert (len(handles), len(refused)) == (1, 19)
    assert body.calls == 2


async def test_requeue_all_with_a_filter_and_purge(clock: FakeClock) -> None:
    registry = JobRegistry()
    net, disk = Switch(ConnectionError), Switch(OSError)
    fetch = define(registry, "fetch", net)
    save = define(registry, "save", disk)
    async with JobRunner(clock=clock, registry=registry) as runner:
        for i in range(3):
            await runner.submit(fetch, i)
            await runner.submit(save, i)
        await settle(runner, clock)
        net.broken = False
        handles = await runner.dead_letters.requeue_all(error="ConnectionError")
        await settle(runner, clock)
        assert sorted([await h for h in handles]) == [0, 1, 2]
        left = (await runner.dead_letters.list()).records
        assert [r.name for r in left] == ["save", "save", "save"]
        assert await runner.dead_letters.purge(error="nothing like this") == 0
        assert await runner.dead_letters.purge(name="save") == 3
        assert (await runner.dead_letters.list()).records == []
        with pytest.raises(JobNotFound) as caught:
            await runner.get_job(left[0].id)
        assert not isinstance(caught.value, ResultExpired)  # purged, not expired


async def test_requeue_all_of_dead_letters_sharing_a_unique_key_requeues_nothing(
    clock: FakeClock,
) -> None:
    # Found by the model test: it used to requeue the ones before the clash, then raise,
    # and the caller never got their handles.
    registry = JobRegistry()
    body = Switch()
    unique = define(registry, "unique", body, unique=Unique(key=lambda x: "one-key"))
    async with JobRunner(clock=clock, registry=registry) as runner:
        first = await runner.submit(unique, 1)
        await settle(runner, clock)  # failed: its key is free again
        second = await runner.submit(unique, 2)
        await settle(runner, clock)
        assert (first.state, second.state) == (JobState.FAILED, JobState.FAILED)
        with pytest.raises(DuplicateJob, match="one-key"):
            await runner.dead_letters.requeue_all()
        assert len((await runner.dead_letters.list()).records) == 2  # none requeued
        assert runner.queue_statistics()["default"].size == 0


async def test_requeue_all_into_a_full_queue_requeues_nothing(clock: FakeClock) -> None:
    registry = JobRegistry()
    body = Switch()
    sync = define(registry, "sync", body, queue="small")
    gate = anyio.Event()

    async def blocker() -> None:
        await gate.wait()

    block = define(registry, "block", blocker, queue="small")
    queues = {"small": QueueConfig(concurrency=1, maxsize=2)}
    async with JobRunner(clock=clock, registry=registry, queues=queues) as runner:
        dead = [await runner.submit(sync, i) for i in range(2)]
        await settle(runner, clock)
        await runner.submit(block)
        await anyio.wait_all_tasks_blocked()  # it runs: the queue is empty again
        await runner.submit(block)  # one place taken, one free
        with pytest.raises(QueueFull, match="2 dead letters to requeue, 1 places free"):
            await runner.dead_letters.requeue_all()
        assert len((await runner.dead_letters.list()).records) == 2
        assert await runner.dead_letters.requeue(dead[0].id)  # one fits
        with pytest.raises(QueueFull, match="no place for a requeued job"):
            await runner.dead_letters.requeue(dead[1].id)
        assert (await runner.dead_letters.get(dead[1].id)).state is JobState.FAILED
        gate.set()
        await settle(runner, clock)


async def test_a_requeued_unique_job_takes_its_key_again(clock: FakeClock) -> None:
    registry = JobRegistry()
    body = Switch()
    sync = define(registry, "sync", body, unique=Unique())
    async with JobRunner(clock=clock, registry=registry) as runner:
        failed = await runner.submit(sync, 1)
        await settle(runner, clock)
        body.broken = False
        again = await runner.dead_letters.requeue(failed.id)
        assert await runner.submit(sync, 1) is again  # the key is held by the requeued job
        await settle(runner, clock)
        with anyio.fail_after(5):
            assert await again == 1
        # A dead letter holds no key: a new job may take it, and then the requeue must wait.
        body.broken = True
        failed = await runner.submit(sync, 2)
        await settle(runner, clock)
        body.broken = False
        holder = await runner.submit(sync, 2)
        assert holder is not failed
        with pytest.raises(DuplicateJob, match=holder.id):
            await runner.dead_letters.requeue(failed.id)
        assert (await runner.dead_letters.get(failed.id)).state is JobState.FAILED
        await settle(runner, clock)
        with anyio.fail_after(5):
            assert await holder == 2


async def test_a_dead_letter_of_an_unknown_job_cannot_be_requeued(clock: FakeClock) -> None:
    # A failed record this runner did not run (a store filled before it started) of a
    # job its registry does not have.
    store = MemoryJobStore()
    await store.add(
        JobRecord(id="old-1", name="sync", queue="default", state=JobState.FAILED, attempts=1)
    )
    async with JobRunner(clock=clock, store=store) as runner:
        with pytest.raises(InvalidJob, match="'sync': no job of this name is registered"):
            await runner.dead_letters.requeue("old-1")
        assert (await runner.dead_letters.get("old-1")).state is JobState.FAILED


async def test_a_dead_letter_of_a_job_from_another_registry_requeues_as_submitted(
    clock: FakeClock,
) -> None:
    elsewhere = JobRegistry()
    body = Switch()
    sync = define(elsewhere, "sync", body)
    async with JobRunner(clock=clock) as runner:  # not given the job's registry
        handle = await runner.submit(sync, 5)
        await settle(runner, clock)
        assert handle.state is JobState.FAILED
        body.broken = False
        again = await runner.dead_letters.requeue(handle.id)
        await settle(runner, clock)
        assert await again == 5


async def test_an_ad_hoc_function_can_be_requeued(clock: FakeClock) -> None:
    body = Switch()

    async def plain(x: int) -> int:
        return await body(x)

    async with JobRunner(clock=clock) as runner:
        handle = await runner.submit(plain, 4)
        await settle(runner, clock)
        body.broken = False
        again = await runner.dead_letters.requeue(handle.id)
        await settle(runner, clock)
        assert await again == 4


class GatedStore(WrappedStore):
    """Writes of a requeued record wait for a gate, as a slow remote store's would."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = anyio.Event()
        self.writing = anyio.Event()

    async def update(self, record: JobRecord) -> None:
        if record.state is JobState.QUEUED:
            self.writing.set()
            await self.gate.wait()
        await super().update(record)


async def test_a_requeue_caught_by_shutdown_ends_interrupted(clock: FakeClock) -> None:
    registry = JobRegistry()
    body = Switch()
    sync = define(registry, "sync", body)
    store = GatedStore()
    handles: list[JobHandle[Any]] = []
    runner = JobRunner(clock=clock, registry=registry, store=store, grace_period=0)
    async with runner:
        failed = await runner.submit(sync)
        await settle(runner, clock)
        body.broken = False

        async def requeue() -> None:
            handles.append(await runner.dead_letters.requeue(failed.id))

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(requeue)
                await store.writing.wait()
                group.start_soon(runner.shutdown)
                await anyio.wait_all_tasks_blocked()
                store.gate.set()  # the write lands after shutdown began
    (handle,) = handles
    assert handle.state is JobState.INTERRUPTED
    assert body.calls == 1
    assert (await store.get(failed.id)).state is JobState.INTERRUPTED
