"""The leases a runner holds on the jobs it took from a shared backend, and their release.

When the store is a ``Backend`` (``asyncjobs.abc``), a job runs here only under a lease the
backend gave (``_shared`` takes them). ``LeaseBook`` keeps them by handle, and ``release``
hands the backend the job's record as the attempt left it: terminal, or with a retry time.
The backend gets a copy, never the engine's own record, unless it is the runner's own
backend (``shares_records``), which keeps the engine's records themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ._coordination import Lease
from ._faults import RepeatLog
from ._handle import JobHandle
from ._record import JobRecord
from .abc import Backend, NowaitBackend

logger = logging.getLogger("asyncjobs")


def _nothing(retry_at: float | None) -> None:
    return None


def _ignore(handle: JobHandle[Any]) -> None:
    return None


class LeaseBook:
    """The leases of one runner on a shared backend."""

    def __init__(
        self,
        backend: Backend,
        owner: str,
        lease_time: float,
        faults: RepeatLog,
        *,
        shares_records: bool = False,
    ) -> None:
        self.backend = backend
        # The backend's plain calls, if it makes its steps so (``end_now``).
        self.nowait = backend if isinstance(backend, NowaitBackend) else None
        # The backend keeps the engine's own records (a runner's own backend): no copies.
        self.shares_records = shares_records
        self.owner = owner
        self.lease_time = lease_time
        self._faults = faults
        self.leases: dict[JobHandle[Any], Lease] = {}
        # The leased jobs, by id (see ``leased``): on a runner's own backend, only those
        # whose handle is not the one ``awaited`` has.
        self.ids: dict[str, JobHandle[Any]] = {}
        # Jobs submitted (or requeued) here that have not ended, by id: whoever runs them,
        # their handles resolve here.
        self.awaited: dict[str, JobHandle[Any]] = {}
        # A slot is free (and the job is due again at the time given, for a retry).
        self.released: Callable[[float | None], None] = _nothing
        # A lost attempt stopped here: its handle follows the job (set by _shared).
        self.stopped: Callable[[JobHandle[Any]], None] = _ignore

    def holds(self, handle: JobHandle[Any]) -> bool:
        return handle in self.leases

    def leased(self, job_id: str) -> JobHandle[Any] | None:
        """The handle of a job held here, by its id (None: none is). A runner's own
        backend's workers take a job's submitted handle itself, held without an id entry."""
        handle = self.ids.get(job_id)
        if handle is None and self.shares_records:
            handle = self.awaited.get(job_id)
            if handle is not None and handle not in self.leases:
                return None
        return handle

    def drop(self, handle: JobHandle[Any]) -> None:
        """Let go of a lease that was lost: the job is the backend's again."""
        lease = self.leases.pop(handle, None)
        if lease is not None and self.ids.get(lease.record.id) is handle:
            del self.ids[lease.record.id]

    def forget(self, handle: JobHandle[Any]) -> None:
        """The job has ended (here or elsewhere): its handle is resolved."""
        job_id = handle._record.id
        if self.awaited.get(job_id) is handle:
            del self.awaited[job_id]

    async def release(self, handle: JobHandle[Any], retry_at: float | None = None) -> bool:
        """Give the job back to the backend: ended, or due again at ``retry_at``. False if
        the lease had been lost (its time ran out and the job went to another runner),
        or the backend failed (logged): then what this attempt did is not kept."""
        return await self._release(handle, self.handed(handle._record), retry_at)

    def handed(self, record: JobRecord) -> JobRecord:
        """What the backend is given of the engine's record: a copy, or the record itself
        on a backend that shares them (a runner's own)."""
        return record if self.shares_records else record.snapshot()

    async def give_back(self, handle: JobHandle[Any], at: float | None = None) -> bool:
        """Return a job this runner will not run (shutdown cut it off, or it never started)
        to wait in the backend, due at once (or ``at``): its attempt is not counted."""
        record = handle._record.snapshot()
        record.started_at = record.finished_at = None
        record.result = record.error = record.traceback = None
        lease = self.leases.get(handle)
        if lease is not None:
            record.attempts = lease.record.attempts - 1
        return await self._release(handle, record, record.created_at if at is None else at)

    def end_now(self, handle: JobHandle[Any]) -> bool:
        """The job ended here (its handle is resolved): ``forget`` it and ``release`` it,
        as one plain call to a backend that makes them so. The backend keeps the engine's
        own record: a job that has ended is not written here again."""
        record = handle._record
        job_id = record.id
        awaited = self.awaited
        if awaited.get(job_id) is handle:
            del awaited[job_id]
        lease = self.leases.pop(handle, None)
        if lease is None:
            return False
        nowait = self.nowait
        assert nowait is not None  # see Outcomes.finish_now
        ids = self.ids
        if ids and ids.get(job_id) is handle:
            del ids[job_id]
        # The slot is free: the worker whose it was takes the next job itself, before it
        # parks. (Room in a bounded queue opens when a job is taken, not when one ends.)
        try:
            kept = nowait.release_nowait(lease, record)
        except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
            self._faults.callback_failed("backend", nowait.release_nowait, exc, job_id)
            return False
        return kept or self._kept(record, kept)

    async def _release(
        self, handle: JobHandle[Any], record: JobRecord, retry_at: float | None
    ) -> bool:
        lease = self._let_go(handle, record, retry_at)
        if lease is None:
            return False
        try:
            kept = await self.backend.release(lease, record, retry_at=retry_at)
        except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
            self._faults.callback_failed("backend", self.backend.release, exc, f"job {record.id!r}")
            return False
        return self._kept(record, kept)

    def _let_go(
        self, handle: JobHandle[Any], record: JobRecord, retry_at: float | None
    ) -> Lease | None:
        """The lease on ``handle``'s job, no longer this runner's (None: it held none)."""
        lease = self.leases.pop(handle, None)
        if lease is None:
            return None
        if self.ids.get(record.id) is handle:
            del self.ids[record.id]
        self.released(retry_at)
        return lease

    @staticmethod
    def _kept(record: JobRecord, kept: bool) -> bool:
        if not kept:
            logger.warning(
                "job %s (%s) ended %s here after its lease had run out; another runner has "
                "it now, and this outcome is not kept",
                record.name,
                record.id,
                record.state.value,
            )
        return kept
