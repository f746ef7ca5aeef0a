"""A backend for the tests that shares no object with its caller: a stand-in for a durable one.

``EncodedBackend`` keeps each job record as bytes (JSON, through ``asyncjobs.serializers``)
beside the ``MemoryBackend`` that coordinates the work, and every record that crosses its
boundary, in or out, is decoded from those bytes: a caller that changes a record it was given,
or keeps one it gave, changes nothing here. It offers only the async protocol (it is no
``NowaitBackend``) and declares its serializer (an ``EncodingStore``), as a file or a server
would. Schedules cross as copies (the memory store's own).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

import attrs

from asyncjobs import Clock, JobRecord, JobState, ScheduleRecord
from asyncjobs._record_data import decode_record, encode_record
from asyncjobs.abc import (
    Accepted,
    AdmitOutcome,
    CancelOutcome,
    ChannelListener,
    ChannelMessage,
    JobPage,
    Lease,
    QueueCounts,
    Renewal,
    ScheduleClaim,
    UniqueClaim,
)
from asyncjobs.serializers import JSONSerializer, Serializer, decode_payload, encode_payload
from asyncjobs.storage import MemoryBackend


class EncodedBackend:
    """Records as bytes at the boundary of a ``MemoryBackend`` (see the module docstring)."""

    def __init__(self, *, clock: Clock | None = None, serializer: Serializer | None = None) -> None:
        self.serializer: Serializer = serializer or JSONSerializer()
        self._inner = MemoryBackend(clock=clock)
        self.writes = 0  # records encoded: a test can see that work crossed the boundary

    def _in(self, record: JobRecord) -> JobRecord:
        self.writes += 1
        return decode_record(self.serializer, encode_record(self.serializer, record))

    def _out(self, record: JobRecord) -> JobRecord:
        return decode_record(self.serializer, encode_record(self.serializer, record))

    def _data(self, field: str, value: Mapping[str, object]) -> Mapping[str, object]:
        data = decode_payload(
            self.serializer, field, encode_payload(self.serializer, field, dict(value))
        )
        assert isinstance(data, dict)
        return data

    def _lease_out(self, lease: Lease) -> Lease:
        options = None if lease.options is None else self._data("options", lease.options)
        return attrs.evolve(lease, record=self._out(lease.record), options=options)

    def _lease_in(self, lease: Lease) -> Lease:
        return attrs.evolve(lease, record=self._in(lease.record))

    # JobStore
    async def open(self) -> None:
        await self._inner.open()

    async def close(self) -> None:
        await self._inner.close()

    async def add(self, record: JobRecord) -> None:
        await self._inner.add(self._in(record))

    async def update(self, record: JobRecord) -> None:
        await self._inner.update(self._in(record))

    async def get(self, job_id: str) -> JobRecord:
        return self._out(await self._inner.get(job_id))

    async def list(
        self,
        *,
        states: Collection[JobState] | None = None,
        queue: str | None = None,
        name: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> JobPage:
        page = await self._inner.list(
            states=states, queue=queue, name=name, limit=limit, cursor=cursor
        )
        return JobPage(
            records=[self._out(record) for record in page.records], next_cursor=page.next_cursor
        )

    async def delete(self, job_id: str) -> bool:
        return await self._inner.delete(job_id)

    async def expire(
        self, *, finished_before: float, states: Collection[JobState] | None = None
    ) -> int:
        return await self._inner.expire(finished_before=finished_before, states=states)

    # ScheduleStore
    async def add_schedule(self, record: ScheduleRecord) -> None:
        await self._inner.add_schedule(record)

    async def update_schedule(self, record: ScheduleRecord) -> None:
        await self._inner.update_schedule(record)

    async def get_schedule(self, name: str) -> ScheduleRecord:
        return await self._inner.get_schedule(name)

    async def list_schedules(self) -> Sequence[ScheduleRecord]:
        return await self._inner.list_schedules()

    async def delete_schedule(self, name: str) -> bool:
        return await self._inner.delete_schedule(name)

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
        outcome = await self._inner.admit(
            self._in(record), bound=bound, unique=unique, evict=evict, options=kept
        )
        if isinstance(outcome, Accepted) and outcome.evicted is not None:
            return Accepted(outcome.job_id, self._out(outcome.evicted))
        return outcome

    async def acquire(
        self, wanted: Sequence[tuple[str, int]], *, owner: str, lease: float
    ) -> Sequence[Lease]:
        leases = await self._inner.acquire(wanted, owner=owner, lease=lease)
        return [self._lease_out(held) for held in leases]

    async def extend(self, leases: Sequence[Lease], *, lease: float) -> Renewal:
        renewal = await self._inner.extend(leases, lease=lease)
        return attrs.evolve(renewal, leases=tuple(self._lease_out(held) for held in renewal.leases))

    async def release(
        self, lease: Lease, record: JobRecord, *, retry_at: float | None = None
    ) -> bool:
        return await self._inner.release(lease, self._in(record), retry_at=retry_at)

    async def cancel(self, job_id: str) -> CancelOutcome:
        return await self._inner.cancel(job_id)

    async def requeue(
        self,
        job_ids: Sequence[str],
        *,
        unique: Mapping[str, UniqueClaim] | None = None,
        bounds: Mapping[str, int] | None = None,
    ) -> Sequence[JobRecord]:
        records = await self._inner.requeue(job_ids, unique=unique, bounds=bounds)
        return [self._out(record) for record in records]

    async def next_due(self) -> float | None:
        return await self._inner.next_due()

    async def counts(self, queue: str) -> QueueCounts:
        return await self._inner.counts(queue)

    async def acquire_schedules(self, *, owner: str, lease: float) -> Sequence[ScheduleClaim]:
        return await self._inner.acquire_schedules(owner=owner, lease=lease)

    async def release_schedule(self, claim: ScheduleClaim, record: ScheduleRecord) -> bool:
        return await self._inner.release_schedule(claim, record)

    async def publish(self, message: ChannelMessage) -> None:
        await self._inner.publish(message)

    def listen(self, listener: ChannelListener) -> Callable[[], None]:
        return self._inner.listen(listener)
