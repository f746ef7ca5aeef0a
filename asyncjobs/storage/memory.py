"""The default store: records in a dict, finished ones capped by count.

Guarantee: at-most-once across process death (nothing survives the process). Records of
finished jobs are kept up to ``max_finished`` (oldest finished first out), so memory stays flat
however many jobs pass through; unfinished records are never evicted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection

from .. import _validation
from .._errors import DuplicateJobId, InvalidOption, JobNotFound
from .._record import JobRecord
from .._states import TERMINAL_STATES, JobState
from ..abc import JobPage


class MemoryJobStore:
    """Job records in memory. The engine's own record objects are kept, not copies."""

    shares_records = True
    """The stored records are the engine's own objects, so they are current without an
    ``update``; the engine skips updates for non-terminal changes (``running``, ``queued``)."""

    def __init__(self, *, max_finished: int = 10_000) -> None:
        self._max_finished = _validation.positive_int("max_finished", max_finished)
        self._records: dict[str, JobRecord] = {}
        # Submission order for cursors: id -> sequence number.
        self._order: dict[str, int] = {}
        self._next = 0
        self._finished: OrderedDict[str, None] = OrderedDict()

    def __init_subclass__(cls, **kwargs: object) -> None:
        # A subclass that overrides ``add`` or ``update`` (to copy, log, or persist) must
        # see every write: the engine then takes the async methods, not the plain calls.
        super().__init_subclass__(**kwargs)
        overrides = cls.__dict__.keys()
        if overrides & {"add", "update"} and not overrides & {"add_nowait", "update_nowait"}:
            cls.add_nowait = None  # type: ignore[assignment,method-assign]
            cls.update_nowait = None  # type: ignore[assignment,method-assign]

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def add(self, record: JobRecord) -> None:
        MemoryJobStore.add_nowait(self, record)

    async def update(self, record: JobRecord) -> None:
        MemoryJobStore.update_nowait(self, record)

    def add_nowait(self, record: JobRecord) -> None:
        """``add`` as a plain call: this store never waits (see ``JobStore``)."""
        job_id = record.id
        if job_id in self._records:
            raise DuplicateJobId(job_id)
        self._records[job_id] = record
        self._order[job_id] = self._next
        self._next += 1
        if record.state in TERMINAL_STATES:
            self._note_finished(job_id)

    def update_nowait(self, record: JobRecord) -> None:
        """``update`` as a plain call."""
        job_id = record.id
        if job_id not in self._records:
            raise JobNotFound(job_id)
        self._records[job_id] = record
        if record.state in TERMINAL_STATES:
            self._note_finished(job_id)

    def _note_finished(self, job_id: str) -> None:
        finished = self._finished
        finished[job_id] = None
        if len(finished) > self._max_finished:
            old, _ = finished.popitem(last=False)
            del self._records[old]
            del self._order[old]

    async def get(self, job_id: str) -> JobRecord:
        try:
            return self._records[job_id].snapshot()
        except KeyError:
            raise JobNotFound(job_id) from None

    async def list(
        self,
        *,
        states: Collection[JobState] | None = None,
        queue: str | None = None,
        name: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> JobPage:
        limit = _validation.positive_int("limit", limit)
        after = -1
        if cursor is not None:
            try:
                after = int(cursor)
            except ValueError:
                raise InvalidOption("cursor", cursor, "not a cursor from this store") from None
        wanted = None if states is None else frozenset(states)
        found: list[JobRecord] = []
        last = after
        for job_id, seq in self._order.items():
            if seq <= after:
                continue
            record = self._records[job_id]
            if wanted is not None and record.state not in wanted:
                continue
            if queue is not None and record.queue != queue:
                continue
            if name is not None and record.name != name:
                continue
            if len(found) == limit:
                return JobPage(records=found, next_cursor=str(last))
            found.append(record.snapshot())
            last = seq
        return JobPage(records=found, next_cursor=None)

    async def delete(self, job_id: str) -> bool:
        if self._records.pop(job_id, None) is None:
            return False
        del self._order[job_id]
        self._finished.pop(job_id, None)
        return True
