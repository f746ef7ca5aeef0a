"""The job record: what storage keeps about one job."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

import attrs

from ._progress import Progress
from ._states import JobState

_allocate = object.__new__
_QUEUED = JobState.QUEUED


def _as_datetime(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, timezone.utc)


@attrs.frozen(kw_only=True)
class Attempt:
    """One run of a job: when it started and ended, how it ended, and its error text."""

    number: int
    started_at: float
    finished_at: float | None
    outcome: JobState
    error: str | None = None


@attrs.define(kw_only=True, eq=False)
class JobRecord:
    """Everything known about one job. Timestamps are wall-clock epoch seconds.

    The engine owns the record and is its only writer; storage backends persist it and hand
    out snapshots (``JobRecord.snapshot()``) to everyone else, so changing a snapshot changes
    nothing. ``id``, ``name`` and ``queue`` never change after creation. ``progress`` is the
    latest progress the job reported (``report_progress``); it is not written to the store
    on each report, only with the record's next write.
    """

    # Identity fields are never reassigned by the engine. They carry no frozen-setattr hook:
    # attrs would then route every write to every field through a Python __setattr__,
    # 35x slower than a plain slot write, on the hot path.
    id: str
    name: str
    queue: str
    priority: int | float = 0
    args: tuple[object, ...] = ()
    kwargs: Mapping[str, object] = attrs.field(factory=dict)
    state: JobState = JobState.QUEUED
    created_at: float = 0.0
    scheduled_for: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    timeout: float | None = None
    # object, not Any: a record read back by id cannot know the job's result type, so a
    # type checker asks for a check (``await handle`` keeps the job's own type).
    result: object = None
    error: str | None = None
    traceback: str | None = None
    retries: tuple[Attempt, ...] = ()
    progress: Progress | None = None

    def snapshot(self) -> JobRecord:
        """A shallow copy that later changes to this record do not affect."""
        # Field by field, as _new: about 6x quicker than attrs.evolve, and every read of a
        # store and every write to a shared backend takes one. tests/test_record.py checks
        # that it copies every field.
        copy = _allocate(JobRecord)
        copy.id = self.id
        copy.name = self.name
        copy.queue = self.queue
        copy.priority = self.priority
        copy.args = self.args
        copy.kwargs = self.kwargs
        copy.state = self.state
        copy.created_at = self.created_at
        copy.scheduled_for = self.scheduled_for
        copy.started_at = self.started_at
        copy.finished_at = self.finished_at
        copy.attempts = self.attempts
        copy.timeout = self.timeout
        copy.result = self.result
        copy.error = self.error
        copy.traceback = self.traceback
        copy.retries = self.retries
        copy.progress = self.progress
        return copy

    @classmethod
    def _new(
        cls,
        id: str,
        name: str,
        queue: str,
        priority: int | float,
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        created_at: float,
        timeout: float | None,
    ) -> JobRecord:
        """The engine's constructor for a new queued record: positional, with no defaults to
        resolve, about 3x quicker than the keyword-only ``__init__`` (once per submit).
        ``tests/test_record.py`` checks that it sets every field ``__init__`` would."""
        record = _allocate(cls)
        record.id = id
        record.name = name
        record.queue = queue
        record.priority = priority
        record.args = args
        record.kwargs = kwargs
        record.state = _QUEUED
        record.created_at = created_at
        record.scheduled_for = None
        record.started_at = None
        record.finished_at = None
        record.attempts = 0
        record.timeout = timeout
        record.result = None
        record.error = None
        record.traceback = None
        record.retries = ()
        record.progress = None
        return record

    @property
    def history(self) -> tuple[Attempt, ...]:
        """Every attempt so far, oldest first: the retried ones, then the latest if it has
        started (``started_at`` is that of the latest attempt; a job waiting for a retry has
        none)."""
        if self.started_at is None:
            return self.retries
        latest = Attempt(
            number=len(self.retries) + 1,
            started_at=self.started_at,
            finished_at=self.finished_at,
            outcome=self.state,
            error=None if self.state is JobState.RUNNING else self.error,
        )
        return (*self.retries, latest)

    @property
    def created(self) -> datetime:
        """``created_at`` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.created_at, timezone.utc)

    @property
    def started(self) -> datetime | None:
        """``started_at`` as an aware UTC datetime, or None."""
        return _as_datetime(self.started_at)

    @property
    def finished(self) -> datetime | None:
        """``finished_at`` as an aware UTC datetime, or None."""
        return _as_datetime(self.finished_at)
