"""A store for the tests whose writes are async and kept as copies, as a remote store's are.

``WrappedStore`` implements ``JobStore`` and ``ScheduleStore`` by handing each call to a
``MemoryJobStore`` inside, with a copy of each record written: the engine's own records are
never kept, so every state change must reach it as a write. It is no ``NowaitStore``:
subclasses override its async methods to delay, gate, count or fail writes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from asyncjobs import JobRecord, JobState, MemoryJobStore, ScheduleRecord
from asyncjobs.abc import JobPage


class WrappedStore:
    def __init__(self) -> None:
        self.inner = MemoryJobStore()

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def add(self, record: JobRecord) -> None:
        await self.inner.add(record.snapshot())

    async def update(self, record: JobRecord) -> None:
        await self.inner.update(record.snapshot())

    async def get(self, job_id: str) -> JobRecord:
        return await self.inner.get(job_id)

    async def list(
        self,
        *,
        states: Collection[JobState] | None = None,
        queue: str | None = None,
        name: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> JobPage:
        return await self.inner.list(
            states=states, queue=queue, name=name, limit=limit, cursor=cursor
        )

    async def delete(self, job_id: str) -> bool:
        return await self.inner.delete(job_id)

    async def expire(
        self, *, finished_before: float, states: Collection[JobState] | None = None
    ) -> int:
        return await self.inner.expire(finished_before=finished_before, states=states)

    async def add_schedule(self, record: ScheduleRecord) -> None:
        await self.inner.add_schedule(record)

    async def update_schedule(self, record: ScheduleRecord) -> None:
        await self.inner.update_schedule(record)

    async def get_schedule(self, name: str) -> ScheduleRecord:
        return await self.inner.get_schedule(name)

    async def list_schedules(self) -> Sequence[ScheduleRecord]:
        return await self.inner.list_schedules()

    async def delete_schedule(self, name: str) -> bool:
        return await self.inner.delete_schedule(name)
