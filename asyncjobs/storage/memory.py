"""The default store: records in a dict, finished ones capped by count.

Guarantee: at-most-once across process death (nothing survives the process). Records of
finished jobs are kept up to a count cap, oldest finished first out: ``max_finished`` for
jobs that succeeded, were cancelled, interrupted or rejected, and a separate
``max_dead_letters`` for jobs that failed, so a flood of successes never pushes the dead
letters out. Memory stays flat however many jobs pass through; unfinished records are never
evicted. (Removal by age is the runner's ``result_ttl`` and ``dead_letter_ttl``, which call
``expire``.)

The ids of the most recently removed records (at least ``remember_expired`` of them) are
remembered, so ``get`` can tell an expired job (``ResultExpired``) from an unknown one
(``JobNotFound``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence

from .. import _validation
from .._errors import (
    DuplicateJobId,
    InvalidOption,
    JobNotFound,
    ResultExpired,
    ScheduleExists,
    ScheduleNotFound,
)
from .._record import JobRecord
from .._schedule import ScheduleRecord
from .._states import TERMINAL_STATES, JobState
from ..abc import JobPage

_FAILED = JobState.FAILED


class MemoryJobStore:
    """Job records in memory. The engine's own record objects are kept, not copies: it is a
    ``NowaitStore`` (``asyncjobs.abc``), so the engine skips updates for non-terminal changes
    (``running``, ``queued``). To see every write, wrap it in a ``JobStore`` of your own
    rather than overriding its methods."""

    def __init__(
        self,
        *,
        max_finished: int = 10_000,
        max_dead_letters: int = 10_000,
        remember_expired: int = 10_000,
    ) -> None:
        self._max_finished = _validation.positive_int("max_finished", max_finished)
        self._max_dead = _validation.positive_int("max_dead_letters", max_dead_letters)
        self._remember = _validation.positive_int("remember_expired", remember_expired)
        self._records: dict[str, JobRecord] = {}
        # The stored record itself (not a snapshot), or None: for a backend built on this
        # store, which changes it in place. The dict's own get: no Python call a lookup.
        self.stored: Callable[[str], JobRecord | None] = self._records.get
        # Submission order for cursors: id -> sequence number.
        self._order: dict[str, int] = {}
        self._next = 0
        # Finished ids, oldest finished first: failed ones (dead letters) apart from the rest.
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._dead: OrderedDict[str, None] = OrderedDict()
        # Ids removed for retention, in two generations: the newer fills up to
        # ``remember_expired``, then becomes the older. A set add is all an eviction costs.
        self._expired: set[str] = set()
        self._expired_before: set[str] = set()
        # Schedules by name, in the order they were added (copies, never the caller's).
        self._schedules: dict[str, ScheduleRecord] = {}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def add(self, record: JobRecord) -> None:
        self.add_nowait(record)

    async def update(self, record: JobRecord) -> None:
        self.update_nowait(record)

    def add_nowait(self, record: JobRecord) -> None:
        """``add`` as a plain call: this store never waits (see ``NowaitStore``)."""
        job_id = record.id
        if job_id in self._records:
            raise DuplicateJobId(job_id)
        self._records[job_id] = record
        self._order[job_id] = self._next
        self._next += 1
        if record.state in TERMINAL_STATES:
            self.finished_nowait(record)

    def update_nowait(self, record: JobRecord) -> None:
        """``update`` as a plain call."""
        job_id = record.id
        records = self._records
        if records.get(job_id) is not record:  # the engine's own record is already here
            if job_id not in records:
                raise JobNotFound(job_id)
            records[job_id] = record
        if record.state in TERMINAL_STATES:
            self.finished_nowait(record)
        else:  # a finished job went back to work (a dead letter requeued)
            self._finished.pop(job_id, None)
            self._dead.pop(job_id, None)

    def finished_nowait(self, record: JobRecord) -> None:
        """A stored record (the one ``stored`` gives, changed in place) has ended: it is
        kept under the count caps from now on. ``update_nowait`` calls it for a terminal
        record; a backend built on this store that ends its records itself does too."""
        job_id = record.id
        # A record is tracked in one of the two sets only, even if it is re-finished with
        # another outcome (the engine never does; a caller of ``update`` may).
        if record.state is _FAILED:
            self._finished.pop(job_id, None)
            finished, cap = self._dead, self._max_dead
        else:
            dead = self._dead
            if dead and job_id in dead:
                del dead[job_id]
            finished, cap = self._finished, self._max_finished
        finished[job_id] = None
        if len(finished) > cap:
            old, _ = finished.popitem(last=False)
            self._remove_expired(old)

    def forgotten(self, job_id: str) -> None:
        """Called when a record is removed (retention, the count cap, ``delete``): a store
        built on this one that keeps more per job lets it go here."""
        return None

    def _remove_expired(self, job_id: str) -> None:
        del self._records[job_id]
        del self._order[job_id]
        self.forgotten(job_id)
        expired = self._expired
        if len(expired) >= self._remember:
            self._expired_before = expired
            expired = self._expired = set()
        expired.add(job_id)

    async def get(self, job_id: str) -> JobRecord:
        if type(job_id) is not str:
            job_id = _validation.name("job_id", job_id)
        try:
            return self._records[job_id].snapshot()
        except KeyError:
            if job_id in self._expired or job_id in self._expired_before:
                raise ResultExpired(job_id) from None
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
        queue = _validation.optional_name("queue", queue)
        name = _validation.optional_name("name", name)
        after = -1
        if cursor is not None:
            # A cursor is the string next_cursor gave: the digits of a sequence number.
            if not isinstance(cursor, str) or not str.isdigit(cursor) or len(cursor) > 20:
                raise InvalidOption("cursor", cursor, "not a cursor from this store")
            after = int(str.__str__(cursor))
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
        self._dead.pop(job_id, None)
        self.forgotten(job_id)
        return True

    async def expire(
        self, *, finished_before: float, states: Collection[JobState] | None = None
    ) -> int:
        wanted = (
            TERMINAL_STATES
            if states is None
            else _validation.states("states", states, terminal_only=True)
        )
        removed = 0
        for finished in (self._finished, self._dead):
            old = [
                job_id
                for job_id in finished
                if (record := self._records[job_id]).state in wanted
                and record.finished_at is not None
                and record.finished_at < finished_before
            ]
            for job_id in old:
                del finished[job_id]
                self._remove_expired(job_id)
            removed += len(old)
        return removed

    # ----------------------------------------------------------------- schedules

    def stored_schedules(self) -> Sequence[ScheduleRecord]:
        """The stored schedules themselves (not copies), in the order they were added."""
        return list(self._schedules.values())

    def stored_schedule(self, name: str) -> ScheduleRecord | None:
        """The stored schedule of this name itself (not a copy), or None."""
        return self._schedules.get(name)

    async def add_schedule(self, record: ScheduleRecord) -> None:
        if record.name in self._schedules:
            raise ScheduleExists(record.name)
        self._schedules[record.name] = record.snapshot()

    async def update_schedule(self, record: ScheduleRecord) -> None:
        if record.name not in self._schedules:
            raise ScheduleNotFound(record.name)
        self._schedules[record.name] = record.snapshot()

    async def get_schedule(self, name: str) -> ScheduleRecord:
        try:
            return self._schedules[name].snapshot()
        except KeyError:
            raise ScheduleNotFound(name) from None

    async def list_schedules(self) -> Sequence[ScheduleRecord]:
        return [record.snapshot() for record in self._schedules.values()]

    async def delete_schedule(self, name: str) -> bool:
        return self._schedules.pop(name, None) is not None
