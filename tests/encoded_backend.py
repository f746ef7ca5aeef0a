"""A backend for the tests that shares no object with its caller: a stand-in for a durable one.

``EncodedBackend`` puts a ``MemoryBackend`` behind a boundary that every job record (and a
job's kept options) crosses as bytes, in and out: encoded with its serializer (JSON, through
``asyncjobs.serializers``) and decoded again, so what it holds is only what the bytes said.
A caller that changes a record it was given, or keeps one it gave, changes nothing here. It
offers only the async protocol (it is no ``NowaitBackend``) and declares its serializer (an
``EncodingStore``), as a file or a server would. Schedules cross as bytes too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs

from asyncjobs import Clock, JobRecord, ScheduleRecord
from asyncjobs._record_data import decode_record, encode_record
from asyncjobs._schedule_data import decode_schedule, encode_schedule
from asyncjobs.abc import (
    Accepted,
    AdmitOutcome,
    BatchAnswer,
    BatchEntry,
    CancelOutcome,
    ChannelListener,
    ChannelMessage,
    Lease,
    QueueCounts,
    Renewal,
    ScheduleClaim,
    UniqueClaim,
)
from asyncjobs.serializers import JSONSerializer, Serializer, decode_payload, encode_payload
from asyncjobs.storage import MemoryBackend

from .wrapped_store import WrappedStore


class EncodedBackend(WrappedStore):
    """Records as bytes at the boundary of a ``MemoryBackend`` (see the module docstring)."""

    def __init__(self, *, clock: Clock | None = None, serializer: Serializer | None = None) -> None:
        self._backend = MemoryBackend(clock=clock)
        super().__init__(self._backend)
        self.serializer: Serializer = serializer or JSONSerializer()
        self.writes = 0  # records encoded: a test can see that work crossed the boundary

    def into(self, record: JobRecord) -> JobRecord:
        self.writes += 1
        return self.out_of(record)

    def out_of(self, record: JobRecord) -> JobRecord:
        return decode_record(self.serializer, encode_record(self.serializer, record))

    def schedule_into(self, record: ScheduleRecord) -> ScheduleRecord:
        return self.schedule_out_of(record)

    def schedule_out_of(self, record: ScheduleRecord) -> ScheduleRecord:
        return decode_schedule(self.serializer, encode_schedule(self.serializer, record))

    def _data(self, field: str, value: Mapping[str, object]) -> Mapping[str, object]:
        data = decode_payload(
            self.serializer, field, encode_payload(self.serializer, field, dict(value))
        )
        assert isinstance(data, dict)
        return data

    def _lease_out(self, lease: Lease) -> Lease:
        options = None if lease.options is None else self._data("options", lease.options)
        return attrs.evolve(lease, record=self.out_of(lease.record), options=options)

    # Backend
    async def admit(
        self,
        record: JobRecord,
        *,
        bound: int | None = None,
        unique: UniqueClaim | None = None,
        evict: str | None = None,
        options: Mapping[str, object] | None = None,
    ) -> AdmitOutcome:
        kept = None if options is None else self._data("options", options)
        outcome = await self._backend.admit(
            self.into(record), bound=bound, unique=unique, evict=evict, options=kept
        )
        if isinstance(outcome, Accepted) and outcome.evicted is not None:
            return Accepted(outcome.job_id, self.out_of(outcome.evicted))
        return outcome

    async def admit_all(self, entries: Sequence[BatchEntry]) -> BatchAnswer:
        encoded = [
            attrs.evolve(
                entry,
                record=self.into(entry.record),
                options=None if entry.options is None else self._data("options", entry.options),
            )
            for entry in entries
        ]
        return await self._backend.admit_all(encoded)

    async def acquire(
        self,
        wanted: Sequence[tuple[str, int]],
        *,
        owner: str,
        lease: float,
        limit: int | None = None,
    ) -> Sequence[Lease]:
        leases = await self._backend.acquire(wanted, owner=owner, lease=lease, limit=limit)
        return [self._lease_out(held) for held in leases]

    async def extend(self, leases: Sequence[Lease], *, lease: float) -> Renewal:
        renewal = await self._backend.extend(leases, lease=lease)
        return attrs.evolve(renewal, leases=tuple(self._lease_out(held) for held in renewal.leases))

    async def release(
        self, lease: Lease, record: JobRecord, *, retry_at: float | None = None
    ) -> bool:
        return await self._backend.release(lease, self.into(record), retry_at=retry_at)

    async def cancel(self, job_id: str) -> CancelOutcome:
        return await self._backend.cancel(job_id)

    async def interrupt(self, job_id: str, error: str, *, queued: bool = True) -> bool:
        return await self._backend.interrupt(job_id, error, queued=queued)

    async def requeue(
        self,
        job_ids: Sequence[str],
        *,
        unique: Mapping[str, UniqueClaim] | None = None,
        bounds: Mapping[str, int] | None = None,
    ) -> Sequence[JobRecord]:
        records = await self._backend.requeue(job_ids, unique=unique, bounds=bounds)
        return [self.out_of(record) for record in records]

    async def next_due(self) -> float | None:
        return await self._backend.next_due()

    async def counts(self, queue: str) -> QueueCounts:
        return await self._backend.counts(queue)

    async def acquire_schedules(self, *, owner: str, lease: float) -> Sequence[ScheduleClaim]:
        claims = await self._backend.acquire_schedules(owner=owner, lease=lease)
        return [attrs.evolve(claim, record=self.schedule_out_of(claim.record)) for claim in claims]

    async def release_schedule(self, claim: ScheduleClaim, record: ScheduleRecord) -> bool:
        return await self._backend.release_schedule(claim, self.schedule_into(record))

    async def publish(self, message: ChannelMessage) -> None:
        await self._backend.publish(message)

    def listen(self, listener: ChannelListener) -> Callable[[], None]:
        return self._backend.listen(listener)
