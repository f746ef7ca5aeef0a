"""The contract every ``Backend`` must pass: admission under bounds and unique keys, leases
that run out and offer the job again, release with a retry time, cancel wherever the job is,
dead letters requeued all or none, schedule claims that fire each slot once, the channel.

A new backend adds one entry to ``BACKENDS`` (a factory taking the test's fake clock and
returning an unopened backend); every test here then runs against it, on asyncio and trio.
Time moves only when a test moves it (``FakeClock.jump``).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone

import pytest

from asyncjobs import (
    DuplicateJob,
    DuplicateJobId,
    InvalidOption,
    JobNotFound,
    JobRecord,
    JobState,
    JobStateError,
    Progress,
    QueueFull,
    ScheduleRecord,
    UnencodablePayload,
)
from asyncjobs.abc import (
    Accepted,
    Backend,
    BatchAnswer,
    BatchEntry,
    CancelOutcome,
    CancelRequested,
    ChannelMessage,
    Duplicate,
    EncodingStore,
    Full,
    JobEnded,
    JobQueued,
    Lease,
    NowaitBackend,
    ProgressReported,
    QueueCounts,
    UniqueClaim,
)
from asyncjobs.storage import MemoryBackend
from asyncjobs.testing import FakeClock

from .encoded_backend import EncodedBackend
from .storage_contract import make_record, make_schedule

BACKENDS: dict[str, Callable[[FakeClock], Backend]] = {
    "memory": lambda clock: MemoryBackend(clock=clock),
    "encoded": lambda clock: EncodedBackend(clock=clock),
}

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=START)


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Backend]:
    made = BACKENDS[request.param](clock)
    await made.open()
    try:
        yield made
    finally:
        await made.close()


def job(job_id: str, **changes: object) -> JobRecord:
    """A new queued job, created now on the contract's clock."""
    return make_record(job_id, created_at=START.timestamp(), **changes)


def finished(lease: Lease, state: JobState, now: float, **changes: object) -> JobRecord:
    """The leased job as a runner leaves it when its attempt ends in ``state``."""
    record = lease.record.snapshot()
    record.state = state
    record.finished_at = now
    for field, value in changes.items():
        setattr(record, field, value)
    return record


async def take(backend: Backend, queue: str = "default", count: int = 1) -> list[Lease]:
    return list(await backend.acquire([(queue, count)], owner="w1", lease=30.0))


@pytest.mark.anyio
class BackendContract:
    async def test_declares_the_protocols_it_keeps(self, backend: Backend) -> None:
        assert isinstance(backend, Backend)
        if isinstance(backend, MemoryBackend):
            assert isinstance(backend, NowaitBackend)
        else:
            assert not isinstance(backend, NowaitBackend)
            assert isinstance(backend, EncodingStore)

    # ----------------------------------------------------------------- admission

    async def test_an_admitted_job_waits_queued(self, backend: Backend) -> None:
        outcome = await backend.admit(job("a"))
        assert outcome == Accepted("a")
        assert (await backend.get("a")).state is JobState.QUEUED
        assert await backend.counts("default") == QueueCounts(queued=1)

    async def test_only_waiting_jobs_are_admitted(self, backend: Backend) -> None:
        with pytest.raises(InvalidOption, match=r"record\.state='running'"):
            await backend.admit(job("a", state=JobState.RUNNING))
        with pytest.raises(InvalidOption, match="scheduled_for"):
            await backend.admit(job("b", state=JobState.SCHEDULED))
        assert (await backend.list()).records == []

    async def test_a_taken_id_is_refused_and_the_first_kept(self, backend: Backend) -> None:
        await backend.admit(job("a", priority=1))
        with pytest.raises(DuplicateJobId, match="'a'"):
            await backend.admit(job("a", priority=2))
        assert (await backend.get("a")).priority == 1
        assert (await backend.counts("default")).queued == 1

    async def test_a_full_queue_answers_full_and_stores_nothing(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await backend.admit(job("a"), bound=2)
        later = clock.time() + 60
        await backend.admit(job("b", state=JobState.SCHEDULED, scheduled_for=later), bound=2)
        assert await backend.admit(job("c"), bound=2) == Full("default", 2, 2)
        with pytest.raises(JobNotFound):
            await backend.get("c")
        assert await backend.admit(job("d", queue="other"), bound=2) == Accepted("d")
        # A running job holds no place: the bound counts waiting jobs.
        await take(backend)
        assert await backend.admit(job("e"), bound=2) == Accepted("e")

    async def test_eviction_makes_room_in_the_same_step(self, backend: Backend) -> None:
        await backend.admit(job("old"), bound=1)
        outcome = await backend.admit(job("new"), bound=1, evict="old")
        assert isinstance(outcome, Accepted)
        assert outcome.evicted is not None
        assert outcome.evicted.id == "old"
        assert outcome.evicted.state is JobState.REJECTED
        gone = await backend.get("old")
        assert gone.state is JobState.REJECTED
        assert gone.finished_at is not None
        assert "evicted for job 'new'" in (gone.error or "")
        assert await backend.counts("default") == QueueCounts(queued=1)
        assert [lease.job_id for lease in await take(backend, count=5)] == ["new"]

    async def test_eviction_of_a_job_not_waiting_there_answers_full(self, backend: Backend) -> None:
        await backend.admit(job("a"), bound=1)
        await backend.admit(job("elsewhere", queue="other"))
        assert await backend.admit(job("b"), bound=1, evict="elsewhere") == Full("default", 1, 1)
        assert await backend.admit(job("b"), bound=1, evict="missing") == Full("default", 1, 1)
        assert (await backend.get("elsewhere")).state is JobState.QUEUED

    async def test_a_unique_key_is_held_until_its_holder_ends(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        key = UniqueClaim("report:7", ttl=3600)
        assert await backend.admit(job("a"), unique=key) == Accepted("a")
        assert await backend.admit(job("b"), unique=key) == Duplicate("report:7", "a")
        with pytest.raises(JobNotFound):
            await backend.get("b")
        [lease] = await take(backend)
        assert await backend.admit(job("b"), unique=key) == Duplicate("report:7", "a")
        assert await backend.release(lease, finished(lease, JobState.SUCCEEDED, clock.time()))
        assert await backend.admit(job("b"), unique=key) == Accepted("b")

    async def test_a_unique_hold_runs_out_after_its_ttl(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await backend.admit(job("a"), unique=UniqueClaim("k", ttl=10))
        clock.jump(9)
        assert await backend.admit(job("b"), unique=UniqueClaim("k", ttl=10)) == Duplicate("k", "a")
        clock.jump(1)
        assert await backend.admit(job("b"), unique=UniqueClaim("k", ttl=10)) == Accepted("b")

    async def test_a_duplicate_is_answered_before_a_full_queue(self, backend: Backend) -> None:
        await backend.admit(job("a"), bound=1, unique=UniqueClaim("k", ttl=60))
        outcome = await backend.admit(job("b"), bound=1, unique=UniqueClaim("k", ttl=60))
        assert outcome == Duplicate("k", "a")

    # ----------------------------------------------------------------- batches

    async def test_a_batch_with_room_is_stored_whole(self, backend: Backend) -> None:
        entries = [BatchEntry(job(f"j{i}"), bound=3, full_refuses=True) for i in range(3)]
        answer = await backend.admit_all(entries)
        assert answer == BatchAnswer((Accepted("j0"), Accepted("j1"), Accepted("j2")))
        assert await backend.counts("default") == QueueCounts(queued=3)

    async def test_a_batch_short_of_places_is_refused_whole(self, backend: Backend) -> None:
        await backend.admit(job("there"))
        entries = [BatchEntry(job(f"j{i}"), bound=3, full_refuses=True) for i in range(3)]
        answer = await backend.admit_all(entries)
        assert answer == BatchAnswer((Accepted("j0"), Accepted("j1"), Full("default", 3, 3)), True)
        assert [record.id for record in (await backend.list()).records] == ["there"]
        assert await backend.counts("default") == QueueCounts(queued=1)

    async def test_a_full_answer_that_does_not_refuse_stores_the_rest(
        self, backend: Backend
    ) -> None:
        entries = [BatchEntry(job(f"j{i}"), bound=2) for i in range(3)]
        answer = await backend.admit_all(entries)
        assert answer == BatchAnswer((Accepted("j0"), Accepted("j1"), Full("default", 2, 2)))
        assert await backend.counts("default") == QueueCounts(queued=2)
        with pytest.raises(JobNotFound):
            await backend.get("j2")

    async def test_keys_taken_earlier_in_a_batch_count(self, backend: Backend) -> None:
        key = UniqueClaim("k", ttl=60)
        answer = await backend.admit_all(
            [BatchEntry(job("a"), unique=key), BatchEntry(job("b"), unique=key)]
        )
        assert answer == BatchAnswer((Accepted("a"), Duplicate("k", "a")))
        assert await backend.admit(job("c"), unique=key) == Duplicate("k", "a")

    async def test_a_held_key_that_raises_refuses_the_batch_and_takes_no_key(
        self, backend: Backend
    ) -> None:
        mine, theirs = UniqueClaim("mine", ttl=60), UniqueClaim("theirs", ttl=60)
        await backend.admit(job("holder"), unique=theirs)
        entries = [
            BatchEntry(job("a"), unique=mine, duplicate_refuses=True),
            BatchEntry(job("b"), unique=theirs, duplicate_refuses=True),
        ]
        answer = await backend.admit_all(entries)
        assert answer == BatchAnswer((Accepted("a"), Duplicate("theirs", "holder")), True)
        with pytest.raises(JobNotFound):
            await backend.get("a")
        assert await backend.admit(job("c"), unique=mine) == Accepted("c")

    async def test_a_batch_with_a_taken_id_stores_nothing(self, backend: Backend) -> None:
        await backend.admit(job("a"))
        for ids in (["new", "a"], ["new", "new"]):
            with pytest.raises(DuplicateJobId):
                await backend.admit_all([BatchEntry(job(job_id)) for job_id in ids])
        with pytest.raises(InvalidOption, match=r"record\.state='running'"):
            await backend.admit_all(
                [BatchEntry(job("new")), BatchEntry(job("x", state=JobState.RUNNING))]
            )
        assert [record.id for record in (await backend.list()).records] == ["a"]

    # ----------------------------------------------------------------- acquiring

    async def test_jobs_are_taken_by_priority_then_submission(self, backend: Backend) -> None:
        for job_id, priority in [("low", 0), ("high1", 5), ("mid", 1), ("high2", 5)]:
            await backend.admit(job(job_id, priority=priority))
        taken = await take(backend, count=3)
        assert [lease.job_id for lease in taken] == ["high1", "high2", "mid"]
        assert [lease.job_id for lease in await take(backend, count=3)] == ["low"]
        assert await take(backend) == []

    async def test_queues_are_served_in_the_order_asked_up_to_their_counts(
        self, backend: Backend
    ) -> None:
        for index in range(3):
            await backend.admit(job(f"a{index}", queue="alpha"))
            await backend.admit(job(f"b{index}", queue="beta"))
        leases = await backend.acquire([("beta", 1), ("alpha", 2)], owner="w", lease=5)
        assert [lease.job_id for lease in leases] == ["b0", "a0", "a1"]
        assert await backend.counts("alpha") == QueueCounts(queued=1, running=2)
        assert await backend.acquire([("nothing-here", 4)], owner="w", lease=5) == []

    async def test_a_limit_caps_the_jobs_taken_and_passes_over_empty_queues(
        self, backend: Backend
    ) -> None:
        for index in range(2):
            await backend.admit(job(f"b{index}", queue="beta"))
            await backend.admit(job(f"c{index}", queue="gamma"))
        wanted = [("alpha", 1), ("beta", 1), ("gamma", 1)]
        [first] = await backend.acquire(wanted, owner="w", lease=5, limit=1)
        assert first.job_id == "b0"  # alpha has nothing ready: beta's turn
        leases = await backend.acquire(wanted, owner="w", lease=5, limit=2)
        assert [lease.job_id for lease in leases] == ["b1", "c0"]
        assert await backend.acquire(wanted, owner="w", lease=5, limit=0) == []
        assert await backend.counts("gamma") == QueueCounts(queued=1, running=1)

    async def test_a_taken_job_runs_under_a_lease(self, backend: Backend, clock: FakeClock) -> None:
        await backend.admit(job("a"))
        [lease] = await backend.acquire([("default", 1)], owner="worker-1", lease=30)
        assert (lease.owner, lease.expires_at) == ("worker-1", clock.time() + 30)
        assert lease.record.state is JobState.RUNNING
        assert (lease.record.attempts, lease.record.started_at) == (1, clock.time())
        stored = await backend.get("a")
        assert (stored.state, stored.attempts) == (JobState.RUNNING, 1)

    async def test_a_scheduled_job_is_taken_once_it_is_due(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        due = clock.time() + 60
        await backend.admit(job("a", state=JobState.SCHEDULED, scheduled_for=due))
        assert await backend.next_due() == due
        assert await backend.counts("default") == QueueCounts(scheduled=1)
        clock.jump(59.5)
        assert await take(backend) == []
        clock.jump(0.5)
        [lease] = await take(backend)
        assert lease.job_id == "a"
        assert lease.record.attempts == 1

    async def test_a_lease_that_runs_out_offers_the_job_again(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await backend.admit(job("a"))
        [first] = await backend.acquire([("default", 1)], owner="dead", lease=10)
        assert await backend.next_due() == first.expires_at
        clock.jump(10)
        [second] = await backend.acquire([("default", 1)], owner="alive", lease=10)
        assert second.job_id == "a"
        assert second.token != first.token
        assert second.record.attempts == 2  # the lost attempt counts
        [lost] = second.record.retries
        assert (lost.number, lost.outcome) == (1, JobState.FAILED)
        assert "lease of 'dead' ran out" in (lost.error or "")
        # The first holder's late release changes nothing.
        done = finished(first, JobState.SUCCEEDED, clock.time(), result=1)
        assert await backend.release(first, done) is False
        assert (await backend.get("a")).state is JobState.RUNNING

    async def test_a_lease_for_ever_never_runs_out(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await backend.admit(job("a"))
        [lease] = await backend.acquire([("default", 1)], owner="owner", lease=math.inf)
        assert lease.expires_at == math.inf
        assert await backend.next_due() is None  # nothing comes due: no wake-up needed
        clock.jump(10**9)
        assert await take(backend) == []
        assert (await backend.counts("default")).running == 1
        done = finished(lease, JobState.SUCCEEDED, clock.time(), result=1)
        assert await backend.release(lease, done) is True
        assert (await backend.get("a")).result == 1

    async def test_renewed_leases_keep_their_jobs(self, backend: Backend, clock: FakeClock) -> None:
        await backend.admit(job("a"))
        await backend.admit(job("b"))
        leases = await take(backend, count=2)
        clock.jump(20)
        renewal = await backend.extend(leases[:1], lease=30)
        assert [held.job_id for held in renewal.leases] == ["a"]
        assert renewal.leases[0].expires_at == clock.time() + 30
        assert renewal.lost == ()
        assert renewal.cancel_requested == ()
        clock.jump(20)  # b's lease ran out; a's still holds
        renewal = await backend.extend(leases, lease=30)
        assert [held.job_id for held in renewal.leases] == ["a"]
        assert renewal.lost == ("b",)
        assert [lease.job_id for lease in await take(backend)] == ["b"]

    # ----------------------------------------------------------------- releasing

    async def test_release_with_a_retry_time_holds_the_job_until_then(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await backend.admit(job("a"), unique=UniqueClaim("k", ttl=3600))
        [lease] = await take(backend)
        retry_at = clock.time() + 5
        record = lease.record.snapshot()
        record.error = "ValueError: try again"
        assert await backend.release(lease, record, retry_at=retry_at)
        stored = await backend.get("a")
        assert (stored.state, stored.scheduled_for) == (JobState.SCHEDULED, retry_at)
        assert await backend.next_due() == retry_at
        assert await backend.admit(job("b"), unique=UniqueClaim("k", ttl=60)) == Duplicate("k", "a")
        assert await take(backend) == []
        clock.jump(5)
        [again] = await take(backend)
        assert again.record.attempts == 2
        assert again.record.error is None  # the new attempt has none yet

    async def test_release_needs_a_terminal_state_or_a_retry_time(self, backend: Backend) -> None:
        await backend.admit(job("a"))
        [lease] = await take(backend)
        with pytest.raises(InvalidOption, match="terminal"):
            await backend.release(lease, lease.record.snapshot())
        assert (await backend.get("a")).state is JobState.RUNNING

    async def test_a_final_failure_is_a_dead_letter_and_announced(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        heard: list[ChannelMessage] = []
        stop = backend.listen(heard.append)
        await backend.admit(job("a"))
        [lease] = await take(backend)
        failed = finished(lease, JobState.FAILED, clock.time(), error="ValueError: no")
        assert await backend.release(lease, failed)
        page = await backend.list(states={JobState.FAILED})
        assert [record.id for record in page.records] == ["a"]
        assert page.records[0].error == "ValueError: no"
        assert heard == [JobQueued("a", "default"), JobEnded("a", JobState.FAILED)]
        assert await backend.counts("default") == QueueCounts()
        stop()

    async def test_a_result_comes_back_as_it_went_in(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await backend.admit(job("a", args=(1, "two"), kwargs={"three": [3]}))
        [lease] = await take(backend)
        result = {"rows": [1, 2], "name": "ok", "ratio": 0.5, "none": None}
        assert await backend.release(
            lease, finished(lease, JobState.SUCCEEDED, clock.time(), result=result)
        )
        stored = await backend.get("a")
        assert (stored.args, stored.kwargs, stored.result) == ((1, "two"), {"three": [3]}, result)
        assert stored.history[-1].outcome is JobState.SUCCEEDED

    # ----------------------------------------------------------------- cancel

    async def test_cancel_ends_a_waiting_job_at_once(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        heard: list[ChannelMessage] = []
        backend.listen(heard.append)
        await backend.admit(job("a"), unique=UniqueClaim("k", ttl=60))
        later = clock.time() + 60
        await backend.admit(job("b", state=JobState.SCHEDULED, scheduled_for=later))
        assert await backend.cancel("a") is CancelOutcome.CANCELLED
        assert await backend.cancel("b") is CancelOutcome.CANCELLED
        ended = await backend.get("a")
        assert ended.state is JobState.CANCELLED
        # The engine's words for it, as a runner's own cancel of a waiting job says it.
        assert ended.error == "job 'a' was cancelled before it started"
        assert heard == [
            JobQueued("a", "default"),
            JobEnded("a", JobState.CANCELLED),
            JobEnded("b", JobState.CANCELLED),
        ]
        clock.jump(60)
        assert await take(backend, count=5) == []
        assert await backend.counts("default") == QueueCounts()
        assert await backend.admit(job("c"), unique=UniqueClaim("k", ttl=60)) == Accepted("c")

    async def test_cancel_of_a_running_job_reaches_its_runner(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        heard: list[ChannelMessage] = []
        backend.listen(heard.append)
        await backend.admit(job("a"))
        [lease] = await take(backend)
        assert await backend.cancel("a") is CancelOutcome.REQUESTED
        assert heard == [JobQueued("a", "default"), CancelRequested("a")]
        assert (await backend.get("a")).state is JobState.RUNNING  # its runner ends it
        renewal = await backend.extend([lease], lease=30)  # for a runner that missed it
        assert renewal.cancel_requested == ("a",)
        assert await backend.release(lease, finished(lease, JobState.CANCELLED, clock.time()))
        assert await backend.cancel("a") is CancelOutcome.FINISHED
        assert await backend.cancel("missing") is CancelOutcome.UNKNOWN

    async def test_a_record_added_outside_admission_counts_by_its_state(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        # A job its submitter runs (caller_runs) is written as a record, in no queue.
        await backend.add(job("r", state=JobState.RUNNING, started_at=clock.time(), attempts=1))
        assert await backend.counts("default") == QueueCounts(running=1)
        assert await take(backend) == []
        ended = await backend.get("r")
        ended.state, ended.finished_at = JobState.SUCCEEDED, clock.time()
        await backend.update(ended)
        assert await backend.counts("default") == QueueCounts()

    async def test_interrupt_ends_a_waiting_job_as_asked(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        heard: list[ChannelMessage] = []
        backend.listen(heard.append)
        later = clock.time() + 60
        await backend.admit(job("soon"), unique=UniqueClaim("k", ttl=600))
        await backend.admit(job("later", state=JobState.SCHEDULED, scheduled_for=later))
        await backend.admit(job("runs"))
        [lease] = await backend.acquire([("default", 1)], owner="w", lease=600, limit=1)
        assert lease.job_id == "soon"
        await backend.admit(job("queued"))
        # Scheduled ones only: the queued job stays, the running one is not waiting.
        assert await backend.interrupt("later", "stopped", queued=False)
        assert not await backend.interrupt("queued", "stopped", queued=False)
        assert not await backend.interrupt("soon", "stopped")
        assert not await backend.interrupt("missing", "stopped")
        assert await backend.interrupt("queued", "stopped")
        assert await backend.interrupt("runs", "stopped")
        ended = await backend.get("later")
        assert (ended.state, ended.error) == (JobState.INTERRUPTED, "stopped")
        assert (await backend.get("soon")).state is JobState.RUNNING
        assert JobEnded("later", JobState.INTERRUPTED) in heard
        clock.jump(60)
        assert await take(backend, count=5) == []
        assert await backend.counts("default") == QueueCounts(running=1)
        assert not await backend.interrupt("later", "again")  # ended: left as it is
        assert await backend.release(lease, finished(lease, JobState.SUCCEEDED, clock.time()))
        assert await backend.admit(job("next"), unique=UniqueClaim("k", ttl=600)) == Accepted(
            "next"
        )

    # ----------------------------------------------------------------- dead letters

    async def _dead(self, backend: Backend, job_id: str, clock: FakeClock) -> None:
        await backend.admit(job(job_id))
        [lease] = await take(backend)
        await backend.release(lease, finished(lease, JobState.FAILED, clock.time(), error="E"))

    async def test_requeue_puts_dead_letters_back_with_their_history(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await self._dead(backend, "a", clock)
        await self._dead(backend, "b", clock)
        records = await backend.requeue(["a", "b"])
        assert [record.id for record in records] == ["a", "b"]
        for record in records:
            assert (record.state, record.attempts, record.error) == (JobState.QUEUED, 0, None)
            assert [attempt.outcome for attempt in record.retries] == [JobState.FAILED]
        assert (await backend.list(states={JobState.FAILED})).records == []
        [lease] = await take(backend)
        assert lease.job_id == "a"
        assert lease.record.attempts == 1

    async def test_requeue_is_all_or_none(self, backend: Backend, clock: FakeClock) -> None:
        await self._dead(backend, "a", clock)
        await backend.admit(job("waiting"))
        with pytest.raises(JobStateError, match="'waiting'"):
            await backend.requeue(["a", "waiting"])
        with pytest.raises(JobNotFound):
            await backend.requeue(["a", "missing"])
        await backend.admit(job("holder"), unique=UniqueClaim("k", ttl=60))
        with pytest.raises(DuplicateJob, match="'holder'"):
            await backend.requeue(["a"], unique={"a": UniqueClaim("k", ttl=60)})
        assert (await backend.get("a")).state is JobState.FAILED

    async def test_requeue_within_the_bounds_given(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await self._dead(backend, "a", clock)
        await self._dead(backend, "b", clock)
        await backend.admit(job("waiting"))
        with pytest.raises(QueueFull, match="'default'"):
            await backend.requeue(["a", "b"], bounds={"default": 2})
        assert await backend.counts("default") == QueueCounts(queued=1)
        assert (await backend.get("a")).state is JobState.FAILED
        with pytest.raises(InvalidOption, match="job_ids"):
            await backend.requeue(["a", "a"])
        await backend.requeue(["a"], bounds={"default": 2})
        assert await backend.counts("default") == QueueCounts(queued=2)

    async def test_a_cancel_asked_of_a_job_whose_runner_died_ends_it(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await backend.admit(job("a"))
        await backend.acquire([("default", 1)], owner="dead", lease=10)
        assert await backend.cancel("a") is CancelOutcome.REQUESTED
        clock.jump(10)  # its runner never saw the request: the lease runs out
        assert await take(backend) == []
        assert (await backend.get("a")).state is JobState.CANCELLED
        assert await backend.counts("default") == QueueCounts()
        assert await backend.cancel("a") is CancelOutcome.FINISHED

    async def test_counts_follow_a_state_written_from_outside(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await backend.admit(job("a"), bound=1)
        ended = (await backend.get("a")).snapshot()
        ended.state, ended.finished_at = JobState.CANCELLED, clock.time()
        await backend.update(ended)
        assert await backend.counts("default") == QueueCounts()
        assert await backend.admit(job("b"), bound=1) == Accepted("b")
        assert [lease.job_id for lease in await take(backend, count=5)] == ["b"]
        moved = (await backend.get("b")).snapshot()
        moved.queue = "elsewhere"
        with pytest.raises(InvalidOption, match=r"record\.queue"):
            await backend.update(moved)

    # ----------------------------------------------------------------- delete

    async def test_a_deleted_waiting_job_is_never_taken(self, backend: Backend) -> None:
        await backend.admit(job("a"))
        await backend.admit(job("b"))
        assert await backend.delete("a") is True
        assert await backend.counts("default") == QueueCounts(queued=1)
        assert [lease.job_id for lease in await take(backend, count=5)] == ["b"]

    # ----------------------------------------------------------------- schedules

    async def _due_schedule(self, backend: Backend, clock: FakeClock) -> ScheduleRecord:
        now = clock.time()
        record = make_schedule("nightly", next_slot_at=now, next_run_at=now)
        await backend.add_schedule(record)
        return record

    async def test_one_runner_at_a_time_holds_a_due_schedule(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await self._due_schedule(backend, clock)
        [claim] = await backend.acquire_schedules(owner="r1", lease=30)
        assert (claim.name, claim.owner) == ("nightly", "r1")
        assert await backend.acquire_schedules(owner="r2", lease=30) == []
        fired = claim.record.snapshot()
        fired.last_slot_at = fired.next_slot_at
        fired.next_slot_at = fired.next_run_at = clock.time() + 3600
        assert await backend.release_schedule(claim, fired)
        assert await backend.acquire_schedules(owner="r2", lease=30) == []
        assert (await backend.get_schedule("nightly")).last_slot_at == claim.record.next_slot_at
        assert await backend.next_due() == clock.time() + 3600

    async def test_a_claim_that_runs_out_passes_to_another_runner(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await self._due_schedule(backend, clock)
        [stale] = await backend.acquire_schedules(owner="r1", lease=30)
        clock.jump(30)
        [claim] = await backend.acquire_schedules(owner="r2", lease=30)
        assert claim.owner == "r2"
        assert await backend.release_schedule(stale, stale.record) is False

    async def test_paused_and_finished_schedules_are_never_claimed(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        now = clock.time()
        await backend.add_schedule(make_schedule("p", next_run_at=now, paused=True))
        await backend.add_schedule(make_schedule("f", next_slot_at=None, next_run_at=None))
        assert await backend.acquire_schedules(owner="r", lease=30) == []

    async def test_two_runners_fire_each_slot_exactly_once(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        await self._due_schedule(backend, clock)
        fired: list[tuple[str, float]] = []
        for _ in range(20):  # both runners wake at each step and try to fire what is due
            for owner in ("r1", "r2"):
                for claim in await backend.acquire_schedules(owner=owner, lease=30):
                    record = claim.record.snapshot()
                    assert record.next_slot_at is not None
                    fired.append((owner, record.next_slot_at))
                    record.last_slot_at = record.next_slot_at
                    record.next_slot_at = record.next_run_at = record.next_slot_at + 60
                    assert await backend.release_schedule(claim, record)
            clock.jump(30)
        slots = [slot for _, slot in fired]
        assert len(slots) == len(set(slots)) == 10
        assert {owner for owner, _ in fired} == {"r1"}  # the first to wake takes each slot

    # ----------------------------------------------------------------- channel

    async def test_progress_published_is_kept_on_the_running_jobs_record(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        heard: list[ChannelMessage] = []
        backend.listen(heard.append)
        await backend.admit(job("a"))
        await backend.publish(ProgressReported("a", Progress(done=1, sequence=1)))
        assert (await backend.get("a")).progress is None  # not running: nothing to keep
        [lease] = await take(backend)
        newer, older = Progress(done=3, sequence=3), Progress(done=2, sequence=2)
        await backend.publish(ProgressReported("a", newer))
        await backend.publish(ProgressReported("a", older))  # arrived late: the latest stays
        assert (await backend.get("a")).progress == newer
        assert heard[-2:] == [ProgressReported("a", newer), ProgressReported("a", older)]
        assert await backend.release(lease, finished(lease, JobState.SUCCEEDED, clock.time()))
        await backend.publish(ProgressReported("a", Progress(done=9, sequence=9)))
        assert (await backend.get("a")).progress in (None, newer)  # as its runner ended it

    async def test_the_channel_tells_when_a_job_becomes_ready(
        self, backend: Backend, clock: FakeClock
    ) -> None:
        heard: list[ChannelMessage] = []
        backend.listen(heard.append)
        await backend.admit(job("a", queue="q"))
        later = clock.time() + 5
        await backend.admit(job("b", queue="q", state=JobState.SCHEDULED, scheduled_for=later))
        assert heard == [JobQueued("a", "q")]  # b is not ready: next_due tells when it is
        await backend.acquire([("q", 1)], owner="dead", lease=10)
        heard.clear()
        clock.jump(10)
        await backend.acquire([], owner="w", lease=10)
        assert heard == [JobQueued("a", "q")]  # offered again
        await self._dead(backend, "c", clock)
        heard.clear()
        await backend.requeue(["c"])
        assert heard == [JobQueued("c", "default")]

    async def test_a_failing_listener_does_not_stop_the_others(
        self, backend: Backend, caplog: pytest.LogCaptureFixture
    ) -> None:
        heard: list[ChannelMessage] = []

        def broken(message: ChannelMessage) -> None:
            raise RuntimeError("listener bug")

        backend.listen(broken)
        stop = backend.listen(heard.append)
        await backend.publish(CancelRequested("x"))
        stop()
        await backend.publish(CancelRequested("y"))
        assert heard == [CancelRequested("x")]
        assert "listener bug" in caplog.text

    # ----------------------------------------------------------------- serializers

    async def test_a_backend_of_bytes_refuses_what_it_cannot_encode(self, backend: Backend) -> None:
        value = object()
        if not isinstance(backend, EncodingStore):  # it keeps objects as they are
            await backend.admit(job("a", args=(1, {"when": value})))
            assert (await backend.get("a")).args[1] == {"when": value}
            return
        with pytest.raises(UnencodablePayload) as caught:
            await backend.admit(job("a", args=(1, {"when": value})))
        assert caught.value.field == "args[1]['when']"
        with pytest.raises(JobNotFound):
            await backend.get("a")
