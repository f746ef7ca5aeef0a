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

from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

import attrs

from ._record import JobRecord
from ._schedule import ScheduleRecord
from ._states import JobState
from .serializers import Serializer


@attrs.define(frozen=True, kw_only=True)
class JobPage:
    """One page of ``JobStore.list``: the records, and the cursor for the next page (or None)."""

    records: Sequence[JobRecord]
    next_cursor: str | None


@runtime_checkable
class JobStore(Protocol):
    """Where job records are kept. All methods are safe to call from the event loop thread."""

    # Optional extras the engine looks for:
    # - ``shares_records = True`` (class attribute): the stored records are the engine's own
    #   objects, so the engine calls ``update`` only for terminal states.
    # - ``add_nowait(record)`` and ``update_nowait(record)`` (both, or neither): plain-call
    #   versions of ``add`` and ``update`` for a store that never waits (in memory). The engine
    #   then calls them instead, saving two coroutines per job on the hot path.

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
