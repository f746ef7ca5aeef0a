"""Interfaces asyncjobs is built on, in one place.

``JobStore`` is the storage protocol. The engine keeps its queues in memory and uses a store
to record every job: it ``add``s a record at submit time (before the job can run), ``update``s
it on every state change, and serves ``get``/``list`` to users. A backend is one new file in
``asyncjobs/storage/`` that implements this protocol and passes ``tests/storage_contract.py``.

What a store guarantees is written next to it:

* ``MemoryJobStore``: records live in the process; at-most-once across process death.
* A durable store (SQLite, planned) must make ``add``/``update`` durable before returning, so
  the engine can rebuild its queues on start from ``list(states=...)`` (jobs left ``queued`` or
  ``scheduled``, and ``running`` ones orphaned by a crash): at-least-once, a job that was
  running at the crash runs again.
* A shared store (Redis, planned) adds leases on ``running`` records for several processes.

``ScheduleStore`` is the part of a store that keeps schedules (``runner.schedules``). The
runner loads every schedule from it on start, and writes a schedule's record before each
fire submits its job, so a store that keeps schedules across restarts never fires one
slot twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from ._coordination import (
    Accepted,
    AdmitOutcome,
    BatchAnswer,
    BatchEntry,
    CancelOutcome,
    CancelRequested,
    ChannelMessage,
    Duplicate,
    Full,
    JobEnded,
    JobQueued,
    Lease,
    ProgressReported,
    QueueCounts,
    Renewal,
    ScheduleClaim,
    UniqueClaim,
)
from ._record import JobRecord
from ._schedule import ScheduleRecord
from ._states import JobState
from .serializers import Serializer

__all__ = [
    "Accepted",
    "AdmitOutcome",
    "Backend",
    "BatchAnswer",
    "BatchEntry",
    "CancelOutcome",
    "CancelRequested",
    "ChannelListener",
    "ChannelMessage",
    "Duplicate",
    "EncodingStore",
    "Full",
    "JobEnded",
    "JobPage",
    "JobQueued",
    "JobStore",
    "Lease",
    "NowaitBackend",
    "NowaitStore",
    "ProgressReported",
    "QueueCounts",
    "Renewal",
    "ScheduleClaim",
    "ScheduleStore",
    "UniqueClaim",
]


@attrs.define(frozen=True, kw_only=True)
class JobPage:
    """One page of ``JobStore.list``: the records, and the cursor for the next page (or None)."""

    records: Sequence[JobRecord]
    next_cursor: str | None


@runtime_checkable
class JobStore(Protocol):
    """Where job records are kept. All methods are safe to call from the event loop thread."""

    async def open(self) -> None:
        """Acquire resources; called once when the runner starts."""
        ...

    async def close(self) -> None:
        """Release resources; called once when the runner has stopped."""
        ...

    async def add(self, record: JobRecord) -> None:
        """Store a new record. Raises ``DuplicateJobId`` if its id is taken (nothing stored)."""
        ...

    async def update(self, record: JobRecord) -> None:
        """Replace the stored record with this one. Raises ``JobNotFound`` for an unknown id."""
        ...

    async def get(self, job_id: str) -> JobRecord:
        """A snapshot of one record. Raises ``JobNotFound``."""
        ...

    async def list(
        self,
        *,
        states: Collection[JobState] | None = None,
        queue: str | None = None,
        name: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> JobPage:
        """Snapshots of records in submission order, filtered, ``limit`` at a time.

        Pass the returned ``next_cursor`` as ``cursor`` to get the following page.
        """
        ...

    async def delete(self, job_id: str) -> bool:
        """Forget a record; True if it existed. A deleted id reads as unknown (``JobNotFound``)."""
        ...

    async def expire(
        self, *, finished_before: float, states: Collection[JobState] | None = None
    ) -> int:
        """Remove the records of jobs that finished before ``finished_before`` (epoch
        seconds), of the given terminal states (default: all); return how many went.

        Unfinished records are never removed (a non-terminal state in ``states`` raises
        ``InvalidOption``). A store that caps finished records by count evicts them the same
        way. ``get`` of a removed id raises ``ResultExpired`` for as long as the store
        remembers the id (how long is the store's to document), then ``JobNotFound``.
        """
        ...


@runtime_checkable
class NowaitStore(JobStore, Protocol):
    """A store whose writes never wait, and that keeps the record objects it is given (in
    memory): ``MemoryJobStore``. The engine then calls ``add_nowait`` and ``update_nowait``
    instead of ``add`` and ``update`` (no coroutine on the hot path), and writes only a
    job's first and last state: the stored record is the engine's own, current without a
    write. A subclass that wants to see every write, or whose writes wait, is not one: it
    implements ``JobStore`` by wrapping such a store instead."""

    def add_nowait(self, record: JobRecord) -> None:
        """``add`` as a plain call."""
        ...

    def update_nowait(self, record: JobRecord) -> None:
        """``update`` as a plain call."""
        ...


@runtime_checkable
class EncodingStore(JobStore, Protocol):
    """A store that keeps job data as bytes (a file, a server), not as objects.

    Its ``serializer`` (``asyncjobs.serializers``: JSON, msgpack, or pickle if you opt in)
    is the one the engine checks each job's arguments with at submit: a value it cannot
    encode is refused there (``UnencodablePayload``, naming the argument's path), never
    later in a worker. ``MemoryJobStore`` keeps objects as they are and is not one.
    """

    serializer: Serializer


@runtime_checkable
class ScheduleStore(Protocol):
    """Where schedules are kept, by name. ``MemoryJobStore`` is one; a runner whose store is
    not refuses ``runner.schedules`` with ``InvalidOptionType``. Every method takes and gives
    copies: a record changed after a call does not change what is stored."""

    async def add_schedule(self, record: ScheduleRecord) -> None:
        """Store a new schedule. Raises ``ScheduleExists`` if the name is taken."""
        ...

    async def update_schedule(self, record: ScheduleRecord) -> None:
        """Replace the stored schedule of this name. Raises ``ScheduleNotFound``."""
        ...

    async def get_schedule(self, name: str) -> ScheduleRecord:
        """The schedule of this name. Raises ``ScheduleNotFound``."""
        ...

    async def list_schedules(self) -> Sequence[ScheduleRecord]:
        """Every schedule, in the order they were added."""
        ...

    async def delete_schedule(self, name: str) -> bool:
        """Forget a schedule; True if it existed."""
        ...


ChannelListener = Callable[[ChannelMessage], None]
"""A callback of the event channel: a plain function, called in the event loop's thread."""


@runtime_checkable
class Backend(JobStore, ScheduleStore, Protocol):
    """A store that also coordinates the work: the ready queues and their bounds, the jobs
    due later, unique keys, leases on running jobs, schedule claims and an event channel.

    It owns everything several runners (processes, machines) sharing it must agree on; the
    engine keeps only what is its own (which queue to serve next, the running coroutines).
    ``MemoryBackend`` is the in-process one. Each method is one atomic step: a shared
    backend runs it as one transaction or server-side script, never as a read then a write.
    ``tests/backend_contract.py`` is the suite every backend passes.

    Times are wall-clock epoch seconds from the backend's clock (``clock=`` where it takes
    one). Jobs are ordered within a queue by priority (higher first), then submission.
    """

    async def admit(
        self,
        record: JobRecord,
        *,
        bound: int | None = None,
        unique: UniqueClaim | None = None,
        evict: str | None = None,
        options: Mapping[str, object] | None = None,
    ) -> AdmitOutcome:
        """Store a new job that waits: ``queued``, or ``scheduled`` with ``scheduled_for``.
        ``options`` (its run options: plain data for a backend of bytes) are kept with it
        and come back in each of its leases, until the job's record is gone.

        In this order: the id must be new (``DuplicateJobId``); a ``unique`` key held by a
        job that has not ended, within its hold, answers ``Duplicate`` with the holder's id;
        a queue holding ``bound`` waiting (queued or scheduled) jobs answers ``Full``, unless
        ``evict`` names a job waiting in that queue: that job ends ``rejected`` in the same
        step and its record comes back in ``Accepted.evicted``. Otherwise the job is stored,
        takes the key, and ``Accepted`` comes back (the channel carries ``JobQueued`` for a
        queued one). Nothing is stored unless accepted. A record in any other state raises
        ``InvalidOption``.
        """
        ...

    async def admit_all(self, entries: Sequence[BatchEntry]) -> BatchAnswer:
        """Admit a batch in one step, all or none: each entry is answered as ``admit``
        would answer it after the entries before it (their keys and places count). If an
        entry's ``Full`` or ``Duplicate`` answer refuses the batch (``full_refuses``,
        ``duplicate_refuses``), nothing is stored and ``BatchAnswer.refused`` says so;
        else every accepted entry is stored (an entry answered ``Full`` or ``Duplicate``
        is not). An id already stored, or twice in the batch, raises ``DuplicateJobId``
        and a record in the wrong state ``InvalidOption``, with nothing stored.
        """
        ...

    async def acquire(
        self,
        wanted: Sequence[tuple[str, int]],
        *,
        owner: str,
        lease: float,
        limit: int | None = None,
    ) -> Sequence[Lease]:
        """Take ready jobs to run: up to ``count`` from each ``(queue, count)`` in ``wanted``,
        in that order (the engine's queue choice), and at most ``limit`` in all (None: no
        limit beyond the counts), each under a lease of ``lease`` seconds (``math.inf``: one
        that never runs out, for a runner whose backend is its own). A queue with nothing
        ready is passed over for the next: a runner with one free slot and several queues
        asks each for one, with ``limit=1``.

        First, in the same step, scheduled jobs whose time has come become ready, and jobs
        whose lease ran out are offered again (``queued``, and ``JobQueued`` on the channel):
        their lost attempt stays counted
        in ``attempts`` and is kept in ``retries`` (outcome ``failed``, the error says the
        lease ran out). A taken job is ``running``: ``attempts`` is one more, ``started_at``
        is now, ``error`` is None (an earlier attempt's is kept in ``retries``). Each job
        goes to one lease at a time (at-least-once: a job whose runner dies runs again once
        its lease runs out).
        """
        ...

    async def extend(self, leases: Sequence[Lease], *, lease: float) -> Renewal:
        """Renew leases still held for ``lease`` seconds from now (see ``Renewal``)."""
        ...

    async def release(
        self, lease: Lease, record: JobRecord, *, retry_at: float | None = None
    ) -> bool:
        """End a leased job's attempt with ``record`` (the job as the runner left it).

        Without ``retry_at`` the record must be terminal: it is stored, the job's unique key
        is free again, a failed job is a dead letter (``list(states={FAILED})``), and the
        channel carries ``JobEnded``. With ``retry_at`` the job is stored ``scheduled`` for
        then and keeps its key. False, and nothing written, if the lease is no longer held.
        """
        ...

    async def cancel(self, job_id: str) -> CancelOutcome:
        """Cancel a job wherever it is (see ``CancelOutcome``). A waiting job ends at once
        (``JobEnded`` on the channel, its key freed); a running one is flagged and the channel
        carries ``CancelRequested``; its runner ends it and releases it as usual."""
        ...

    async def interrupt(self, job_id: str, error: str, *, queued: bool = True) -> bool:
        """End a job waiting here ``interrupted``, with ``error`` as its error: a scheduled
        one (delayed, or waiting for its retry) always, a queued one if ``queued``. This is
        what a runner that takes its waiting jobs with it when it stops does (one whose
        backend is its own). Its key is freed; the channel carries ``JobEnded``. False, with
        nothing changed, for a job not waiting so: running, ended, or unknown."""
        ...

    async def requeue(
        self,
        job_ids: Sequence[str],
        *,
        unique: Mapping[str, UniqueClaim] | None = None,
        bounds: Mapping[str, int] | None = None,
    ) -> Sequence[JobRecord]:
        """Put dead letters back in their queues, all or none: each must be ``failed``
        (else ``JobStateError``; ``JobNotFound`` for an unknown id), the keys in ``unique``
        (by job id) free (else ``DuplicateJob``), and each queue in ``bounds`` left within
        its bound (else ``QueueFull``). Each record comes back ``queued``, its history kept
        in ``retries``, ``attempts`` at zero; the channel carries a ``JobQueued`` each."""
        ...

    async def next_due(self) -> float | None:
        """The earliest time delayed work comes due here (a scheduled job, a lease that runs
        out, a schedule's next run), or None if there is none."""
        ...

    async def counts(self, queue: str) -> QueueCounts:
        """How many jobs of ``queue`` are queued, scheduled and running now."""
        ...

    async def acquire_schedules(self, *, owner: str, lease: float) -> Sequence[ScheduleClaim]:
        """Claim the schedules due now (active, ``next_run_at`` passed) that no live claim
        holds, for ``lease`` seconds. Only a holder fires a schedule, so with several runners
        on one backend each slot fires once."""
        ...

    async def release_schedule(self, claim: ScheduleClaim, record: ScheduleRecord) -> bool:
        """Store ``record`` (the schedule after its fire: ``last_slot_at`` and ``next_run_at``
        moved on) and free the claim. False, and nothing written, if the claim was lost."""
        ...

    async def publish(self, message: ChannelMessage) -> None:
        """Send a message to every listener of the channel (in every process sharing the
        backend). Delivery is at-most-once: a listener that is not there misses it. A
        ``ProgressReported`` is also kept as its running job's ``progress`` (the latest by
        ``sequence``), so a record read later has it."""
        ...

    def listen(self, listener: ChannelListener) -> Callable[[], None]:
        """Call ``listener`` with each message from now on; returns the function that stops
        it. A listener that raises is logged and keeps listening."""
        ...


@runtime_checkable
class NowaitBackend(Backend, Protocol):
    """A backend that answers without waiting (in memory): each ``*_nowait`` method does
    what its async namesake does, as a plain call, so the engine's hot path makes no
    coroutine. The records it is given are kept as they are (no copy), and a lease carries
    the stored record itself: a runner must change it only as the protocol says."""

    def admit_nowait(
        self,
        record: JobRecord,
        *,
        bound: int | None = None,
        unique: UniqueClaim | None = None,
        evict: str | None = None,
        options: Mapping[str, object] | None = None,
    ) -> AdmitOutcome: ...

    def enqueue_nowait(
        self, record: JobRecord, options: Mapping[str, object] | None = None
    ) -> None:
        """``admit_nowait(record, options=options)`` for a job nothing can refuse (no bound,
        no unique claim), with no answer to make: stored and waiting, queued or scheduled
        as its state says (``DuplicateJobId`` for an id already stored, and nothing
        changed). The engine's plain submit."""
        ...

    def admit_all_nowait(self, entries: Sequence[BatchEntry]) -> BatchAnswer: ...

    def acquire_nowait(
        self,
        wanted: Sequence[tuple[str, int]],
        *,
        owner: str,
        lease: float,
        limit: int | None = None,
    ) -> Sequence[Lease]: ...

    def take_nowait(self, queue: str, *, owner: str, lease: float) -> Lease | None:
        """``acquire_nowait([(queue, 1)], ...)``: the next ready job of ``queue`` under a
        lease, or None; for a worker that takes its next job itself."""
        ...

    def release_nowait(
        self, lease: Lease, record: JobRecord, *, retry_at: float | None = None
    ) -> bool: ...

    def update_nowait(self, record: JobRecord) -> None: ...

    def counts_nowait(self, queue: str) -> QueueCounts: ...

    def cancel_nowait(self, job_id: str) -> CancelOutcome: ...

    def publish_nowait(self, message: ChannelMessage) -> None: ...
