"""A store for the tests whose writes are async and kept as copies, as a remote store's are.

``WrappedStore`` implements ``JobStore`` and ``ScheduleStore`` by handing each call to the
``MemoryJobStore`` inside it (``inner``), each record going in through ``into`` (a copy) and
coming out through ``out_of`` (schedules: ``schedule_into``, ``schedule_out_of``): the
engine's own records are never kept, so every state change must reach it as a write. It is
no ``NowaitStore``: subclasses override its async methods to delay, gate, count or fail
writes, or its crossings to change what crosses.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from asyncjobs import JobRecord, JobState, MemoryJobStore, ScheduleRecord
from asyncjobs.abc import JobPage


class WrappedStore:
    def __init__(self, inner: MemoryJobStore | None = None) -> None:
        self.inner = inner if inner is not None else MemoryJobStore()

    def into(self, record: JobRecord) -> JobRecord:
        """What is stored of a record written."""
        return record.snapshot()

    def out_of(self, record: JobRecord) -> JobRecord:
        """What a reader gets of a stored record (already a snapshot)."""
        return record

    def schedule_into(self, record: ScheduleRecord) -> ScheduleRecord:
        """What is stored of a schedule written (the memory store copies it itself)."""
        return record

    def schedule_out_of(self, record: ScheduleRecord) -> ScheduleRecord:
        """What a reader gets of a stored schedule (already a copy)."""
        return record

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def add(self, record: JobRecord) -> None:
        await self.inner.add(self.into(record))

    async def update(self, record: JobRecord) -> None:
        await self.inner.update(self.into(record))

    async def get(self, job_id: str) -> JobRecord:
        return self.out_of(await self.inner.get(job_id))

    async def list(
        self,
        *,
        states: Collection[JobState] | None = None,
        queue: str | None = None,
        name: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> JobPage:
        page = await self.inner.list(
            states=states, queue=queue, name=name, limit=limit, cursor=cursor
        )
        return JobPage(
            records=[self.out_of(record) for record in page.records], next_cursor=page.next_cursor
        )

    async def delete(self, job_id: str) -> bool:
        return await self.inner.delete(job_id)

    async def expire(
        self, *, finished_before: float, states: Collection[JobState] | None = None
    ) -> int:
        return await self.inner.expire(finished_before=finished_before, states=states)

    async def add_schedule(self, record: ScheduleRecord) -> None:
        await self.inner.add_schedule(self.schedule_into(record))

    async def update_schedule(self, record: ScheduleRecord) -> None:
        await self.inner.update_schedule(self.schedule_into(record))

    async def get_schedule(self, name: str) -> ScheduleRecord:
        return self.schedule_out_of(await self.inner.get_schedule(name))

    async def list_schedules(self) -> Sequence[ScheduleRecord]:
        return [self.schedule_out_of(record) for record in await self.inner.list_schedules()]

    async def delete_schedule(self, name: str) -> bool:
        return await self.inner.delete_schedule(name)
