"""Runners on a shared backend whose backend fails, as a networked one does in an outage.

``FaultyBackend`` is the encoded test backend (records cross as bytes) whose steps raise
``ConnectionError("backend down")`` while they are switched off, one by one or all at once.
Real runners use it: a submit during an outage fails and leaves nothing behind; the feeder,
the heartbeat, releases and the scheduler log a failed step and go on, and once the backend
is back every job runs (again, after its lease, if its outcome was not kept) and every
schedule slot fires at most once. Time is a ``FakeClock`` given to the backend and the
runners, so leases and polls run out when a test moves it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
import pytest

from asyncjobs import (
    FixedBackoff,
    JobHandle,
    JobRecord,
    JobRejected,
    JobRunner,
    JobState,
    Misfire,
    QueueConfig,
    ResultExpired,
    Retry,
    ScheduleFired,
    ScheduleRecord,
    Unique,
    current_runner,
    job,
    report_progress,
)
from asyncjobs.abc import (
    AdmitOutcome,
    BatchAnswer,
    BatchEntry,
    CancelOutcome,
    ChannelMessage,
    JobEnded,
    JobPage,
    Lease,
    Renewal,
    ScheduleClaim,
    UniqueClaim,
)
from asyncjobs.testing import FakeClock

from .encoded_backend import EncodedBackend

pytestmark = pytest.mark.anyio

ALL = "*"
"""Every step of the backend at once."""
STEPS = frozenset(
    (
        "admit",
        "acquire",
        "extend",
        "release",
        "cancel",
        "next_due",
        "get",
        "list",
        "publish",
        "acquire_schedules",
        "release_schedule",
    )
)


class FaultyBackend(EncodedBackend):
    """An ``EncodedBackend`` whose steps raise ``ConnectionError("backend down")`` while they
    are down (``outage``, ``restore``). It counts the calls and the failures of each step;
    ``failed(step, n)`` is an event set once that step has failed ``n`` times in all."""

    def __init__(self, *, clock: FakeClock | None = None) -> None:
        super().__init__(clock=clock)
        # step (or ALL) -> [calls still let through, failures left (None: until restored)]
        self._down: dict[str, list[int | None]] = {}
        self.calls: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self._watches: list[tuple[str, int, anyio.Event]] = []

    def outage(self, *steps: str, after: int = 0, times: int | None = None) -> None:
        """Take ``steps`` (none: all of them) down, after ``after`` more calls go through,
        for ``times`` calls (None: until ``restore``)."""
        for step in steps or (ALL,):
            assert step in STEPS or step == ALL, step
            self._down[step] = [after, times]

    def restore(self, *steps: str) -> None:
        """Bring ``steps`` (none: every one) back."""
        for step in steps or tuple(self._down):
            self._down.pop(step, None)

    def failed(self, step: str, count: int = 1) -> anyio.Event:
        """Set once ``step`` has failed ``count`` times since the backend was made."""
        event = anyio.Event()
        if self.failures[step] >= count:
            event.set()
        else:
            self._watches.append((step, count, event))
        return event

    def _check(self, step: str) -> None:
        self.calls[step] += 1
        for key in (step, ALL):
            state = self._down.get(key)
            if state is None:
                continue
            after, times = state
            assert after is not None
            if after > 0:
                state[0] = after - 1
                continue
            if times is not None:
                state[1] = times - 1
                if times <= 1:
                    del self._down[key]
            self.failures[step] += 1
            for watch in list(self._watches):
                if watch[0] == step and self.failures[step] >= watch[1]:
                    watch[2].set()
                    self._watches.remove(watch)
            raise ConnectionError("backend down")

    async def admit_all(self, entries: Sequence[BatchEntry]) -> BatchAnswer:
        self._check("admit")  # a batch is admission too
        return await super().admit_all(entries)

    async def admit(
        self,
        record: JobRecord,
        *,
        bound: int | None = None,
        unique: UniqueClaim | None = None,
        evict: str | None = None,
        options: Mapping[str, object] | None = None,
    ) -> AdmitOutcome:
        self._check("admit")
        return await super().admit(record, bound=bound, unique=unique, evict=evict, options=options)

    async def acquire(
        self,
        wanted: Sequence[tuple[str, int]],
        *,
        owner: str,
        lease: float,
        limit: int | None = None,
    ) -> Sequence[Lease]:
        self._check("acquire")
        return await super().acquire(wanted, owner=owner, lease=lease, limit=limit)

    async def extend(self, leases: Sequence[Lease], *, lease: float) -> Renewal:
        self._check("extend")
        return await super().extend(leases, lease=lease)

    async def release(
        self, lease: Lease, record: JobRecord, *, retry_at: float | None = None
    ) -> bool:
        self._check("release")
        return await super().release(lease, record, retry_at=retry_at)

    async def cancel(self, job_id: str) -> CancelOutcome:
        self._check("cancel")
        return await super().cancel(job_id)

    async def next_due(self) -> float | None:
        self._check("next_due")
        return await super().next_due()

    async def get(self, job_id: str) -> JobRecord:
        self._check("get")
        return await super().get(job_id)

    async def list(self, **query: Any) -> JobPage:
        self._check("list")
        return await super().list(**query)

    async def publish(self, message: ChannelMessage) -> None:
        self._check("publish")
        await super().publish(message)

    async def acquire_schedules(self, *, owner: str, lease: float) -> Sequence[ScheduleClaim]:
        self._check("acquire_schedules")
        return await super().acquire_schedules(owner=owner, lease=lease)

    async def release_schedule(self, claim: ScheduleClaim, record: ScheduleRecord) -> bool:
        self._check("release_schedule")
        return await super().release_schedule(claim, record)


# ----------------------------------------------------------------- jobs and helpers

runs: Counter[str] = Counter()  # tag -> attempts started
ran_in: dict[str, list[str]] = {}  # tag -> the runners that started an attempt, in order
stopped: list[str] = []  # "tag#attempt" of the attempts that were cancelled
gates: dict[str, anyio.Event] = {}  # "tag" or "tag#attempt" -> what the attempt waits for
started: dict[str, anyio.Event] = {}  # "tag" or "tag#attempt" -> set when it starts


@pytest.fixture(autouse=True)
def _clear() -> None:
    runs.clear()
    ran_in.clear()
    stopped.clear()
    gates.clear()
    started.clear()


@job(name="test_shared_faults.work")
async def work(tag: str, value: int) -> int:
    runs[tag] += 1
    attempt = f"{tag}#{runs[tag]}"
    ran_in.setdefault(tag, []).append(getattr(current_runner(), "tag", "?"))
    for key in (tag, attempt):
        if key in started:
            started[key].set()
    try:
        for key in (tag, attempt):
            if key in gates:
                await gates[key].wait()
    except anyio.get_cancelled_exc_class():
        stopped.append(attempt)
        raise
    return value * 2


@job(name="test_shared_faults.fails_once")
async def fails_once(tag: str) -> str:
    runs[tag] += 1
    if runs[tag] == 1:
        raise LookupError(f"{tag} fails once")
    return "ok"


@job(name="test_shared_faults.reports")
async def reports(tag: str) -> str:
    runs[tag] += 1
    report_progress(percent=50, message="half")
    return "ok"


def runner(backend: FaultyBackend, tag: str, clock: FakeClock, **options: Any) -> JobRunner:
    options.setdefault("queues", {"default": 1})
    # A test that fails with a job still held leaves its block soon (in fake time).
    options.setdefault("grace_period", 0.5)
    options.setdefault("cancel_timeout", 0.5)
    made = JobRunner(store=backend, clock=clock, **options)
    made.tag = tag  # type: ignore[attr-defined]
    return made


def ended(backend: FaultyBackend, count: int) -> anyio.Event:
    """Set once the backend's channel has said ``count`` jobs ended."""
    seen: list[str] = []
    event = anyio.Event()

    def heard(message: ChannelMessage) -> None:
        if isinstance(message, JobEnded):
            seen.append(message.job_id)
            if len(seen) >= count:
                event.set()

    backend.listen(heard)
    return event


def events(*names: str) -> list[anyio.Event]:
    made = [anyio.Event() for _ in names]
    for name, event in zip(names, made, strict=True):
        started[name] = event
    return made


async def occupy(a: JobRunner, b: JobRunner) -> tuple[JobRunner, JobRunner, JobHandle[int]]:
    """Fill the only worker of one of the runners with a held job (``gates["hold"]``): the
    busy runner, the free one, and the held job's handle."""
    gates["hold"] = anyio.Event()
    (hold,) = events("hold")
    held = await a.submit(work, "hold", 0)
    await hold.wait()
    return (a, b, held) if ran_in["hold"] == ["a"] else (b, a, held)


async def stored(backend: FaultyBackend, handle: JobHandle[Any]) -> JobRecord:
    return await backend.get(handle.id)


def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


# ----------------------------------------------------------------- 1. submit


@pytest.mark.parametrize("down", ["admit", ALL])
async def test_a_submit_during_an_outage_raises_and_leaves_nothing(
    clock: FakeClock, down: str
) -> None:
    backend = FaultyBackend(clock=clock)
    kinds = {
        "plain": work,
        "delayed": work.with_options(delay=60),
        "unique": work.with_options(unique=Unique()),
        "given id": work.with_options(job_id="given"),
        "prioritised": work.with_options(priority=5),
    }
    with anyio.fail_after(10):
        async with runner(backend, "a", clock) as a:
            backend.outage(down)
            for kind, call in kinds.items():
                with pytest.raises(ConnectionError, match="backend down"):
                    await a.submit(call, kind, 1)
            with pytest.raises(ConnectionError, match="backend down"):
                await a.submit_many([work.call("batch", 1), work.call("batch", 2)])
            await a.wait_idle()  # no handle is left waiting for a job that does not exist
            assert a.running_jobs() == ()
            backend.restore()
            assert (await backend.list()).records == []
            assert runs == {}
            # Nothing was half-created: the unique key and the given id are free.
            handles = [await a.submit(call, kind, 1) for kind, call in kinds.items()]
            await clock.advance(60)
            assert [await handle for handle in handles] == [2] * len(kinds)
            await a.wait_idle()
    assert runs == dict.fromkeys(kinds, 1)


async def test_a_batch_met_by_an_outage_stores_none_of_its_jobs(clock: FakeClock) -> None:
    """``submit_many`` on a shared backend admits the batch in one step (``admit_all``): an
    outage then fails the call and stores none of it; the next batch is admitted whole."""
    backend = FaultyBackend(clock=clock)
    with anyio.fail_after(10):
        async with runner(backend, "a", clock) as a:
            backend.outage("admit", times=1)
            with pytest.raises(ConnectionError, match="backend down"):
                await a.submit_many([work.call(tag, 1) for tag in ("one", "two", "three")])
            assert (await backend.list()).records == []
            handles = await a.submit_many([work.call(tag, 1) for tag in ("four", "five")])
            assert [await handle for handle in handles] == [2, 2]
            assert backend.calls["admit"] == 2  # one step a batch
            await a.wait_idle()
    assert runs == {"four": 1, "five": 1}


async def test_a_full_queue_whose_waiting_jobs_cannot_be_listed_refuses_the_submit(
    clock: FakeClock,
) -> None:
    """A full queue's policy picks its victim among the jobs the backend lists: with ``list``
    down the submit fails, and neither the new job nor the waiting ones are touched."""
    backend = FaultyBackend(clock=clock)
    queues = {"default": QueueConfig(maxsize=1, on_full="drop_oldest")}
    later = work.with_options(delay=60)
    with anyio.fail_after(10):
        async with runner(backend, "a", clock, queues=queues) as a:
            waiting = await a.submit(later, "waiting", 1)
            backend.outage("list")
            with pytest.raises(ConnectionError, match="backend down"):
                await a.submit(later, "new", 1)
            backend.restore()
            assert [r.id for r in (await backend.list()).records] == [waiting.id]
            assert not waiting.done()
            new = await a.submit(later, "new", 1)  # now the policy drops the oldest
            with pytest.raises(JobRejected, match="was dropped"):
                await waiting
            await clock.advance(60)
            assert await new == 2
    assert runs == {"new": 1}


async def test_a_cancel_during_an_outage_raises_and_changes_nothing(clock: FakeClock) -> None:
    backend = FaultyBackend(clock=clock)
    with anyio.fail_after(10):
        async with runner(backend, "a", clock) as a:
            later = await a.submit(work.with_options(delay=60), "later", 1)
            backend.outage("cancel")
            with pytest.raises(ConnectionError, match="backend down"):
                await later.cancel()
            with pytest.raises(ConnectionError, match="backend down"):
                await a.cancel(later.id)
            backend.restore()
            assert not later.done()
            assert (await stored(backend, later)).state is JobState.SCHEDULED
            await clock.advance(60)
            assert await later == 2
    assert runs == {"later": 1}


# ----------------------------------------------------------------- 2. acquire, next_due


@pytest.mark.parametrize("down", [("acquire",), ("next_due",), ("acquire", "next_due")])
async def test_an_outage_of_the_feeders_steps_loses_no_job(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, down: tuple[str, ...]
) -> None:
    backend = FaultyBackend(clock=clock)
    gates["hold0"] = gates["hold1"] = anyio.Event()
    first, second = events("hold0", "hold1")
    with anyio.fail_after(10):
        async with runner(backend, "a", clock) as a, runner(backend, "b", clock) as b:
            held = [await a.submit(work, "hold0", 0), await b.submit(work, "hold1", 0)]
            await first.wait()
            await second.wait()  # both workers busy: the next jobs wait in the backend
            before = [await a.submit(work, f"before{i}", i) for i in range(3)]
            backend.outage(*down)
            gates["hold0"].set()  # the workers come free: the feeders look for work
            for step in down:
                await backend.failed(step, 2).wait()
            during = [await b.submit(work, f"during{i}", i) for i in range(3)]
            await clock.advance(3)  # a few polls, failing
            backend.restore()
            await clock.advance(1)  # the next poll finds them
            handles = held + before + during
            assert [await handle for handle in handles] == [0, 0, 0, 2, 4, 0, 2, 4]
            await a.wait_idle()
            await b.wait_idle()
            for handle in handles:
                record = await stored(backend, handle)
                assert (record.state, record.attempts) == (JobState.SUCCEEDED, 1)
    assert set(runs.values()) == {1}
    assert len(runs) == 8
    for step in down:
        assert logged(caplog, f"raised on {step}")


# ----------------------------------------------------------------- 3. release


async def test_a_release_that_fails_runs_the_job_again_after_its_lease(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    backend = FaultyBackend(clock=clock)
    tags = [f"r{i}" for i in range(3)]
    with anyio.fail_after(10):
        async with runner(backend, "a", clock, lease_time=3, queues={"default": 2}) as a:
            backend.outage("release")
            handles = [await a.submit(work, tag, i) for i, tag in enumerate(tags)]
            await backend.failed("release", 3).wait()
            # The runner goes on; what it knows locally resolves its handles.
            assert [await handle for handle in handles] == [0, 2, 4]
            assert logged(caplog, "raised on job")
            backend.restore()
            again = ended(backend, 3)
            for handle in handles:  # the backend never heard: it still holds the leases
                assert (await stored(backend, handle)).state is JobState.RUNNING
            await clock.advance(2.5)
            assert dict(runs) == dict.fromkeys(tags, 1)  # not before the lease runs out
            await clock.advance(1)
            await again.wait()
            after = await a.submit(work, "after", 5)  # and the runner still takes new work
            assert await after == 10
            await a.wait_idle()
        for handle in handles:
            record = await stored(backend, handle)
            assert (record.state, record.attempts) == (JobState.SUCCEEDED, 2)
            assert "ran out" in (record.retries[0].error or "")
    assert dict(runs) == {**dict.fromkeys(tags, 2), "after": 1}


async def test_a_retry_whose_release_fails_still_ends_once(clock: FakeClock) -> None:
    """The backend never hears of the failed attempt or its retry time: the job runs again
    once the lease runs out (the lost lease counts as the failed attempt), and its handle,
    which waited for the retry, resolves with the outcome of the attempt after it."""
    backend = FaultyBackend(clock=clock)
    retried = fails_once.with_options(retry=Retry(max_attempts=3, backoff=FixedBackoff(delay=60)))
    with anyio.fail_after(10):
        async with runner(backend, "a", clock, lease_time=3) as a:
            backend.outage("release", times=1)
            handle = await a.submit(retried, "t")
            await backend.failed("release").wait()
            assert not handle.done()
            await clock.advance(4)  # the lease runs out; no backoff of 60 s is kept
            assert await handle == "ok"
            record = await stored(backend, handle)
    assert (record.state, record.attempts) == (JobState.SUCCEEDED, 2)
    assert "ran out" in (record.retries[0].error or "")
    assert runs == {"t": 2}


# ----------------------------------------------------------------- 4. extend


async def test_a_heartbeat_outage_shorter_than_the_lease_changes_nothing(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    backend = FaultyBackend(clock=clock)
    gates["j"] = anyio.Event()
    (start,) = events("j")
    with anyio.fail_after(10):
        async with (
            runner(backend, "a", clock, lease_time=3) as a,
            runner(backend, "b", clock, lease_time=3),
        ):
            handle = await a.submit(work, "j", 1)
            await start.wait()  # in either runner
            backend.outage("extend", times=1)
            await clock.advance(1)  # the first beat fails
            assert backend.failures["extend"] == 1
            await clock.advance(10)  # later beats renew the lease again and again
            gates["j"].set()
            assert await handle == 2
            record = await stored(backend, handle)
    assert (record.state, record.attempts, record.retries) == (JobState.SUCCEEDED, 1, ())
    assert runs == {"j": 1}
    assert logged(caplog, "raised on heartbeat")


async def test_a_lease_lost_in_a_heartbeat_outage_stops_the_attempt_and_the_job_runs_again(
    clock: FakeClock,
) -> None:
    backend = FaultyBackend(clock=clock)
    gates["j#1"], gates["j#2"] = anyio.Event(), anyio.Event()
    first, second = events("j#1", "j#2")
    with anyio.fail_after(10):
        async with runner(backend, "a", clock, lease_time=3) as a:
            handle = await a.submit(work, "j", 1)
            await first.wait()
            backend.outage("extend")
            async with runner(backend, "b", clock) as b:
                await clock.advance(3)  # a cannot renew; the lease runs out, b takes the job
                await second.wait()
                assert ran_in["j"] == ["a", "b"]
                backend.restore()
                await clock.advance(1)  # a's next beat hears the lease is lost
                assert stopped == ["j#1"]
                assert not handle.done()
                gates["j#2"].set()
                assert await handle == 2
                assert handle.state is JobState.SUCCEEDED
                await b.wait_idle()
            record = await stored(backend, handle)
            await a.wait_idle()
    assert (record.state, record.attempts, record.result) == (JobState.SUCCEEDED, 2, 2)
    assert "ran out" in (record.retries[0].error or "")
    assert runs == {"j": 2}


async def test_a_job_that_ended_elsewhere_before_the_heartbeat_came_back_resolves_its_handle(
    clock: FakeClock,
) -> None:
    backend = FaultyBackend(clock=clock)
    gates["j#1"] = anyio.Event()
    (first,) = events("j#1")
    done = ended(backend, 1)
    with anyio.fail_after(10):
        async with runner(backend, "a", clock, lease_time=3) as a:
            handle = await a.submit(work, "j", 1)
            await first.wait()
            backend.outage("extend")
            async with runner(backend, "b", clock):
                await clock.advance(3)  # the lease runs out; b takes the job and runs it
                await done.wait()
            backend.restore()
            await clock.advance(1)  # a's next beat hears the lease is lost
            assert stopped == ["j#1"]
            await clock.advance(5)  # polls and beats: time enough to look the job up
            assert handle.done()  # it waits for a JobEnded that came while a held the lease
            assert await handle == 2
    assert runs == {"j": 2}


async def test_a_lease_lost_to_the_same_runner_stops_the_old_attempt(clock: FakeClock) -> None:
    backend = FaultyBackend(clock=clock)
    gates["j#1"], gates["j#2"] = anyio.Event(), anyio.Event()
    first, second = events("j#1", "j#2")
    with anyio.fail_after(10):
        async with runner(backend, "a", clock, lease_time=3, queues={"default": 2}) as a:
            handle = await a.submit(work, "j", 1)
            await first.wait()
            backend.outage("extend")
            await clock.advance(3)  # the lease runs out; a itself takes the job again
            await second.wait()
            backend.restore()
            await clock.advance(1)  # the next beat: the first lease is lost, not the second
            assert stopped == ["j#1"]
            gates["j#2"].set()
            assert await handle == 2
            record = await stored(backend, handle)
    assert (record.state, record.attempts) == (JobState.SUCCEEDED, 2)


# ----------------------------------------------------------------- 5. the channel


async def test_a_failing_channel_listener_and_publish_break_no_runner(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    backend = FaultyBackend(clock=clock)
    backend.listen(lambda message: 1 / 0)  # type: ignore[arg-type]
    with anyio.fail_after(10):
        async with runner(backend, "a", clock) as a, runner(backend, "b", clock) as b:
            busy, free, held = await occupy(a, b)
            backend.outage("publish")
            handle = await busy.submit(reports, "p")  # runs in the other runner
            assert await handle == "ok"
            assert backend.failures["publish"] >= 1  # its progress did not reach the channel
            gates["hold"].set()
            assert await held == 0
            backend.restore()
            others = [await free.submit(work, f"x{i}", i) for i in range(3)]
            assert [await h for h in others] == [0, 2, 4]
    assert logged(caplog, "a channel listener")
    assert logged(caplog, "raised on publish")


async def test_a_job_that_ended_elsewhere_while_its_record_cannot_be_read_ends_its_handle(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The channel says the job ended, and reading its record fails: the handle ends in the
    state the channel told, raising ``ResultExpired`` for the result it could not read."""
    backend = FaultyBackend(clock=clock)
    with anyio.fail_after(10):
        async with runner(backend, "a", clock) as a, runner(backend, "b", clock) as b:
            busy, _, held = await occupy(a, b)
            backend.outage("get")
            handle = await busy.submit(work, "elsewhere", 3)  # runs in the other runner
            with pytest.raises(ResultExpired):
                await handle
            assert handle.state is JobState.SUCCEEDED
            backend.restore()
            assert (await stored(backend, handle)).result == 6
            gates["hold"].set()
            assert await held == 0
    assert ran_in["elsewhere"] != ran_in["hold"]
    assert logged(caplog, "raised on")


# ----------------------------------------------------------------- 6. schedules


@pytest.mark.parametrize(
    ("misfire", "grace", "fired", "missed"),
    [
        (Misfire.COALESCE, None, [30, 40, 50, 60], 2),
        (Misfire.CATCH_UP, None, [10, 20, 30, 40, 50, 60], 0),
        (Misfire.CATCH_UP, 20.0, [20, 30, 40, 50, 60], 1),
    ],
)
@pytest.mark.parametrize("down", [("acquire_schedules",), (ALL,)])
async def test_a_claim_outage_fires_each_slot_at_most_once(
    clock: FakeClock,
    down: tuple[str, ...],
    misfire: Misfire,
    grace: float | None,
    fired: list[int],
    missed: int,
) -> None:
    backend = FaultyBackend(clock=clock)
    slots: list[float] = []

    def note(event: ScheduleFired) -> None:
        assert event.slot_at is not None
        slots.append(event.slot_at)

    start = clock.time()
    with anyio.fail_after(10):
        async with runner(backend, "a", clock) as a:
            await a.schedules.add(
                "tick",
                work.call("tick", 1),
                "*/10 * * * * *",
                misfire=misfire,
                misfire_grace=grace,
            )
            async with runner(backend, "b", clock) as b:
                a.subscribe(note, ScheduleFired)
                b.subscribe(note, ScheduleFired)
                backend.outage(*down)
                await clock.advance(35)  # slots at 10, 20 and 30 cannot be claimed
                assert slots == []
                assert backend.failures["acquire_schedules"] >= 6
                backend.restore()
                for _ in range(25):
                    await clock.advance(1)
                await a.wait_idle()
                await b.wait_idle()
                record = await backend.get_schedule("tick")
    assert sorted(slot - start for slot in slots) == fired
    assert (record.runs, record.misses) == (len(fired), missed)
    assert runs == {"tick": len(fired)}


async def test_a_schedule_release_outage_fires_no_slot_twice(clock: FakeClock) -> None:
    backend = FaultyBackend(clock=clock)
    slots: list[float] = []
    start = clock.time()

    def note(event: ScheduleFired) -> None:
        assert event.slot_at is not None
        slots.append(event.slot_at - start)

    with anyio.fail_after(10):
        async with runner(backend, "a", clock) as a:
            await a.schedules.add(
                "tick", work.call("tick", 1), "*/10 * * * * *", misfire=Misfire.CATCH_UP
            )
            async with runner(backend, "b", clock) as b:
                a.subscribe(note, ScheduleFired)
                b.subscribe(note, ScheduleFired)
                backend.outage("release_schedule", times=1)
                for _ in range(70):
                    await clock.advance(1)
                await a.wait_idle()
                await b.wait_idle()
                record = await backend.get_schedule("tick")
    assert backend.failures["release_schedule"] == 1
    # The claim held on for its 30 s: no one fired meanwhile, and catching up ran each slot.
    assert sorted(slots) == [10, 20, 30, 40, 50, 60, 70]
    assert (record.runs, record.misses) == (7, 0)
    assert runs == {"tick": 7}
