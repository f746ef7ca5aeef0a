"""Every backend against the backend contract (``tests/backend_contract.py``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asyncjobs import DuplicateJobId, JobState
from asyncjobs.abc import CancelOutcome, ChannelMessage, JobQueued, QueueCounts
from asyncjobs.storage import MemoryBackend
from asyncjobs.storage._lane import Lane
from asyncjobs.testing import FakeClock

from .backend_contract import BackendContract, backend, clock
from .storage_contract import make_record

__all__ = ["backend", "clock"]


class TestBackendContract(BackendContract):
    pass


@pytest.mark.anyio
async def test_the_memory_backends_heaps_stay_as_small_as_what_waits() -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock=clock)
    later = clock.time() + 3600
    for index in range(2000):  # waiting jobs that go away: each leaves a stale entry
        await backend.admit(make_record(f"s{index}", state=JobState.SCHEDULED, scheduled_for=later))
        await backend.admit(make_record(f"q{index}"))
        await backend.cancel(f"s{index}")
        await backend.cancel(f"q{index}")
    sizes = (len(backend._due), backend._lanes["default"].entries)
    assert max(sizes) <= 200, sizes


def test_a_ready_queue_runs_the_highest_priority_first_and_equals_in_order() -> None:
    ready = Lane()
    for priority, job_id in [(0, "a"), (5, "b"), (0, "c"), (-1, "d"), (5, "e"), (2.5, "f")]:
        ready.push(priority, job_id)
    assert ready.pop() == "b"
    ready.push(5, "g")  # a bucket that still has entries takes more at its end
    taken = []
    while (job_id := ready.pop()) is not None:
        taken.append(job_id)
    assert taken == ["e", "g", "f", "a", "c", "d"]
    assert ready.entries == 0
    ready.push(1, "h")  # emptied buckets are dropped, not left to shadow new ones
    assert ready.pop() == "h"


def test_a_ready_queue_compacts_to_its_live_entries_in_order() -> None:
    ready = Lane()
    for index in range(10):
        ready.push(index % 2, f"j{index}")
    ready.compact(lambda job_id: int(job_id[1:]) % 3 != 0)  # j0, j3, j6, j9 are stale
    assert ready.entries == 6
    taken = []
    while (job_id := ready.pop()) is not None:
        taken.append(job_id)
    assert taken == ["j1", "j5", "j7", "j2", "j4", "j8"]


@given(
    st.lists(
        st.one_of(st.sampled_from([-1, 0, 2, 5]), st.just("take"), st.just("cancel")),
        max_size=60,
    )
)
def test_the_memory_backend_takes_by_priority_then_submission_whatever_the_mix(
    steps: list[object],
) -> None:
    """Its hot path appends to and pops from a lane's top deque itself (``Lane.head``):
    pushes of other priorities, emptied buckets and stale entries must not upset the order.
    """
    backend = MemoryBackend(clock=FakeClock())
    waiting: dict[str, tuple[float, int]] = {}  # the model: id -> (priority, order)
    for order, step in enumerate(steps):
        if step == "take":
            lease = backend.take_nowait("default", owner="w", lease=30)
            expected = min(waiting, key=lambda i: (-waiting[i][0], waiting[i][1]), default=None)
            assert (None if lease is None else lease.record.id) == expected
            if expected is not None:
                del waiting[expected]
        elif step == "cancel":
            if waiting:
                job_id = min(waiting, key=lambda i: waiting[i][1])  # the oldest waiting
                assert backend.cancel_nowait(job_id) is CancelOutcome.CANCELLED
                del waiting[job_id]
        else:
            assert isinstance(step, int)
            backend.admit_nowait(make_record(f"j{order}", priority=step))
            waiting[f"j{order}"] = (step, order)
    assert backend.counts_nowait("default").queued == len(waiting)


@pytest.mark.anyio
async def test_take_nowait_starts_one_job_as_acquire_of_one_does() -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock=clock)
    soon = clock.time() + 5
    backend.admit_nowait(make_record("later", state=JobState.SCHEDULED, scheduled_for=soon))
    backend.admit_nowait(make_record("low", priority=0))
    backend.admit_nowait(make_record("high", priority=3))
    backend.admit_nowait(make_record("gone"))
    await backend.cancel("gone")  # a stale entry, passed over
    first = backend.take_nowait("default", owner="w", lease=30)
    assert first is not None
    assert first.job_id == "high"
    assert (first.owner, first.expires_at, first.record.attempts) == ("w", clock.time() + 30, 1)
    assert first.record.state is JobState.RUNNING
    second = backend.take_nowait("default", owner="w", lease=30)
    assert second is not None
    assert second.job_id == "low"
    assert second.token != first.token
    assert backend.take_nowait("default", owner="w", lease=30) is None
    assert backend.take_nowait("elsewhere", owner="w", lease=30) is None
    clock.jump(5)  # due now: taken, as acquire takes it
    third = backend.take_nowait("default", owner="w", lease=30)
    assert third is not None
    assert third.job_id == "later"
    assert backend.counts_nowait("default") == QueueCounts(running=3)


@pytest.mark.anyio
async def test_enqueue_nowait_admits_as_admit_nowait_does_with_no_answer() -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock=clock)
    soon = clock.time() + 5
    backend.enqueue_nowait(make_record("first"))  # a queue new to the backend
    backend.enqueue_nowait(make_record("low", priority=-1))
    backend.enqueue_nowait(make_record("high", priority=2), {"retry": "kept"})
    backend.enqueue_nowait(make_record("later", state=JobState.SCHEDULED, scheduled_for=soon))
    for again in (make_record("first", queue="other"), make_record("low")):
        with pytest.raises(DuplicateJobId):  # refused, and nothing changes
            backend.enqueue_nowait(again)
    assert backend.counts_nowait("default") == QueueCounts(queued=3, scheduled=1)
    assert backend.counts_nowait("other") == QueueCounts()
    heard: list[ChannelMessage] = []
    backend.listen(heard.append)
    backend.enqueue_nowait(make_record("heard"))
    assert heard == [JobQueued("heard", "default")]
    taken = []
    while (lease := backend.take_nowait("default", owner="w", lease=30)) is not None:
        taken.append((lease.job_id, lease.options))
    assert taken == [("high", {"retry": "kept"}), ("first", None), ("heard", None), ("low", None)]
    clock.jump(5)
    later = backend.take_nowait("default", owner="w", lease=30)
    assert later is not None
    assert later.job_id == "later"


@pytest.mark.anyio
async def test_a_delayed_job_is_queued_once_due_even_with_nobody_taking_it() -> None:
    clock = FakeClock()
    backend = MemoryBackend(clock=clock)
    due = clock.time() + 5
    backend.admit_nowait(make_record("later", state=JobState.SCHEDULED, scheduled_for=due))
    assert backend.next_due_nowait() == due
    clock.jump(5)
    assert backend.next_due_nowait() is None  # nothing more to wait for: it is ready
    assert (await backend.get("later")).state is JobState.QUEUED
    assert backend.counts_nowait("default") == QueueCounts(queued=1)
