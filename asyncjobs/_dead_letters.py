"""Dead letters: the jobs that failed for good, kept to be inspected, requeued or purged.

A job is a dead letter once it ends ``failed``: its retries ran out, it gave up
(``SkipRetry``, or an error its policy never retries), or it had no retry policy. Its record
keeps the last error, the traceback text, the attempt count and every attempt's timings.
Dead letters are bounded by count (the store's ``max_dead_letters``, 10,000 by default) and
by age (the runner's ``dead_letter_ttl``, seven days by default).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from . import _validation
from ._errors import InvalidOptionType, JobStateError
from ._record import JobRecord
from ._states import JobState
from .abc import JobPage

if TYPE_CHECKING:
    from ._clock import Clock
    from ._handle import JobHandle
    from .abc import JobStore


class Requeuer(Protocol):
    """What puts dead letters back to work (the engine's ``_requeue.Requeue``)."""

    async def requeue(self, job_id: str) -> JobHandle[Any]: ...

    async def requeue_all(self, records: Iterable[JobRecord]) -> builtins.list[JobHandle[Any]]: ...


_FAILED = (JobState.FAILED,)


class DeadLetters:
    """The failed jobs of a runner: ``runner.dead_letters``.

    Every method that selects takes the same filters: ``queue`` and ``name`` (exact),
    ``error`` (text the error contains, for example ``"ConnectionError"``) and
    ``older_than`` (failed at least this many seconds ago).
    """

    def __init__(self, store: JobStore, clock: Clock, requeuer: Requeuer) -> None:
        self._store = store
        self._clock = clock
        self._requeuer = requeuer

    async def list(
        self,
        *,
        queue: str | None = None,
        name: str | None = None,
        error: str | None = None,
        older_than: float | timedelta | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> JobPage:
        """A page of dead letters in submission order; pass ``next_cursor`` on for more."""
        limit = _validation.positive_int("limit", limit)
        matches = self._matcher(error, older_than)
        store = self._store
        found: builtins.list[JobRecord] = []
        while True:
            page = await store.list(
                states=_FAILED, queue=queue, name=name, limit=limit - len(found), cursor=cursor
            )
            found.extend(record for record in page.records if matches(record))
            cursor = page.next_cursor
            if cursor is None or len(found) == limit:
                return JobPage(records=found, next_cursor=cursor)

    async def get(self, job_id: str) -> JobRecord:
        """One dead letter: its error, traceback, attempts and history.

        Raises ``JobNotFound`` (``ResultExpired`` once it expired), or ``JobStateError`` if
        the job did not fail."""
        job_id = _validation.name("job_id", job_id)
        record = await self._store.get(job_id)
        if record.state is not JobState.FAILED:
            raise JobStateError(job_id, record.state.value, "not a dead letter (it did not fail)")
        return record

    async def requeue(self, job_id: str) -> JobHandle[object]:
        """Run a failed job again: the manual retry. It keeps its id, arguments, queue and
        priority, and its attempt history; it starts over with a fresh retry budget.
        Returns a new handle (the old one keeps its failed outcome).

        Raises ``JobStateError`` if the job did not fail (or is being requeued), and
        ``QueueFull`` if its bounded queue has no place (a ``block`` queue waits for one).
        The job is found by name in the runner's registry, so it must still be defined."""
        return await self._requeuer.requeue(job_id)

    async def requeue_all(
        self,
        *,
        queue: str | None = None,
        name: str | None = None,
        error: str | None = None,
        older_than: float | timedelta | None = None,
    ) -> builtins.list[JobHandle[object]]:
        """Requeue every matching dead letter; returns the new handles.

        All or nothing for bounded queues that do not block: if the matches do not fit,
        ``QueueFull`` is raised and none is requeued; and for unique jobs: if a match's key
        is held, or two matches share one, ``DuplicateJob`` is raised and none is requeued.
        Jobs that stop being dead letters meanwhile (requeued or purged by someone else)
        are skipped."""
        records = await self._matching(queue, name, error, older_than)
        return await self._requeuer.requeue_all(records)

    async def purge(
        self,
        *,
        queue: str | None = None,
        name: str | None = None,
        error: str | None = None,
        older_than: float | timedelta | None = None,
    ) -> int:
        """Delete every matching dead letter (all of them, with no filter); returns how many.
        A purged id reads as unknown afterwards (``JobNotFound``)."""
        store = self._store
        removed = 0
        for record in await self._matching(queue, name, error, older_than):
            removed += await store.delete(record.id)
        return removed

    async def _matching(
        self,
        queue: str | None,
        name: str | None,
        error: str | None,
        older_than: float | timedelta | None,
    ) -> builtins.list[JobRecord]:
        records: builtins.list[JobRecord] = []
        cursor: str | None = None
        while True:
            page = await self.list(
                queue=queue, name=name, error=error, older_than=older_than, cursor=cursor
            )
            records.extend(page.records)
            cursor = page.next_cursor
            if cursor is None:
                return records

    def _matcher(
        self, error: str | None, older_than: float | timedelta | None
    ) -> Callable[[JobRecord], bool]:
        if error is not None and not isinstance(error, str):
            raise InvalidOptionType("error", error, "expected text the error contains")
        cutoff = None
        if older_than is not None:
            age = _validation.non_negative_duration("older_than", older_than)
            cutoff = self._clock.time() - age

        def matches(record: JobRecord) -> bool:
            if error is not None and error not in (record.error or ""):
                return False
            return cutoff is None or (
                record.finished_at is not None and record.finished_at <= cutoff
            )

        return matches
