"""A schedule's record, its state, and the scheduler's statistics (its policies are in
``_schedule_policies``, and importable from here).

The record is what a store keeps (``asyncjobs.abc.ScheduleStore``): what to run, when, and
what happened so far. ``last_slot_at`` is the latest slot the schedule is done with (fired,
missed or skipped), so a runner that loads the record again never fires that slot twice.
"""

from __future__ import annotations

import enum
from datetime import datetime, tzinfo
from typing import NamedTuple

import attrs

from ._options import JobOptions
from ._schedule_policies import IfExists as IfExists
from ._schedule_policies import Misfire as Misfire
from ._schedule_policies import Overlap as Overlap
from ._states import JobState
from ._triggers import Timetable, Trigger, time_zone


class ScheduleState(str, enum.Enum):
    """``ACTIVE``; ``PAUSED`` (no slot fires until resumed); ``FINISHED`` (no slot is left:
    past its ``end``, ``max_runs`` reached, or a one-shot that ran)."""

    ACTIVE = "active"
    PAUSED = "paused"
    FINISHED = "finished"


@attrs.define(kw_only=True, eq=False)
class ScheduleRecord:
    """One schedule: the job it submits at each slot and its timetable, with its history.

    One rule for times, as on ``JobRecord``: a field ending in ``_at`` is wall-clock epoch
    seconds (a float, the form stores keep); the same name without ``_at`` is a property
    that gives it as an aware datetime in the schedule's time zone (``timezone``):

    ========================  =====================  ==========================================
    datetime (read these)     epoch seconds          what
    ========================  =====================  ==========================================
    ``next_run``              ``next_run_at``        when the next slot fires (jitter included)
    ``next_slot``             ``next_slot_at``       the next slot itself
    ``last_slot``             ``last_slot_at``       the latest slot done with (fired or not)
    ``last_run``              ``last_run_at``        when the job was last submitted
    ``start``, ``end``        ``start_at``, ...      the bounds given to ``add`` (inclusive)
    ``created``               ``created_at``         when the schedule was first added
    ========================  =====================  ==========================================

    Each is None where there is none (``created_at`` always has a value). ``anchor_at`` is
    where an interval counts from (0.0 for other triggers).
    """

    name: str
    job: str
    trigger: Trigger
    timezone: str = "UTC"
    args: tuple[object, ...] = ()
    kwargs: dict[str, object] = attrs.field(factory=dict)
    options: JobOptions = attrs.field(factory=JobOptions)
    start_at: float | None = None
    end_at: float | None = None
    anchor_at: float = 0.0
    max_runs: int | None = None
    jitter: float = 0.0
    misfire: Misfire = Misfire.COALESCE
    misfire_grace: float | None = None
    overlap: Overlap = Overlap.SKIP
    paused: bool = False
    created_at: float = 0.0
    # The next slot to fire (None: finished), and when it runs (the slot plus jitter).
    next_slot_at: float | None = None
    next_run_at: float | None = None
    last_slot_at: float | None = None
    last_run_at: float | None = None
    last_job_id: str | None = None
    last_outcome: JobState | None = None
    runs: int = 0
    manual_runs: int = 0
    misses: int = 0
    skipped_overlaps: int = 0

    @property
    def state(self) -> ScheduleState:
        """``active``, ``paused`` or ``finished`` (see ``ScheduleState``)."""
        if self.paused:
            return ScheduleState.PAUSED
        return ScheduleState.FINISHED if self.next_slot_at is None else ScheduleState.ACTIVE

    @property
    def zone(self) -> tzinfo:
        """The schedule's time zone, as a ``tzinfo``."""
        return time_zone("timezone", self.timezone)

    def _local(self, t: float | None) -> datetime | None:
        return None if t is None else datetime.fromtimestamp(t, self.zone)

    @property
    def next_run(self) -> datetime | None:
        """When the next slot fires (jitter included), or None if none is left."""
        return self._local(self.next_run_at)

    @property
    def next_slot(self) -> datetime | None:
        """The next slot (without jitter), or None if none is left."""
        return self._local(self.next_slot_at)

    @property
    def last_slot(self) -> datetime | None:
        """The latest slot the schedule is done with (fired, missed or skipped), or None."""
        return self._local(self.last_slot_at)

    @property
    def last_run(self) -> datetime | None:
        """When the schedule last submitted its job (a slot or ``run_now``), or None."""
        return self._local(self.last_run_at)

    @property
    def start(self) -> datetime | None:
        """The first moment a slot may fire at (inclusive), or None."""
        return self._local(self.start_at)

    @property
    def end(self) -> datetime | None:
        """The last moment a slot may fire at (inclusive), or None."""
        return self._local(self.end_at)

    @property
    def created(self) -> datetime:
        """When the schedule was first added."""
        return datetime.fromtimestamp(self.created_at, self.zone)

    def timetable(self) -> Timetable:
        return Timetable(self.trigger, self.anchor_at, self.start_at, self.end_at)

    def snapshot(self) -> ScheduleRecord:
        """A copy that later changes to this record do not touch."""
        return attrs.evolve(self, kwargs=dict(self.kwargs))


class SchedulerStatistics(NamedTuple):
    """Counts of schedules by state, and what the scheduler did since the runner started:
    slots ``fired``, slots ``missed`` (late past their grace, or coalesced into a later
    run), slots skipped because the previous run was still going (``skipped_overlaps``),
    and fires whose job the runner ``refused`` (a full queue, a duplicate unique job)."""

    active: int
    paused: int
    finished: int
    fired: int
    missed: int
    skipped_overlaps: int
    refused: int
