"""Schedule events: on the runner's bus (``schedule.*`` topics) and to runner listeners that
ask for them (``runner.subscribe(listener, ScheduleEvent)``). Built only when someone
listens."""

from __future__ import annotations

from typing import ClassVar

import attrs


@attrs.define(kw_only=True, frozen=True)
class ScheduleEvent:
    """Base of the schedule events. Times are wall-clock epoch seconds: ``timestamp`` (when
    it happened) and each field ending in ``_at``."""

    topic: ClassVar[str] = "schedule"

    schedule: str
    timestamp: float


@attrs.define(kw_only=True, frozen=True)
class ScheduleAdded(ScheduleEvent):
    """A schedule was added, or replaced by ``add(if_exists="replace")``; ``next_run_at``
    is when its next slot fires (None: none is left)."""

    topic: ClassVar[str] = "schedule.added"

    next_run_at: float | None


@attrs.define(kw_only=True, frozen=True)
class ScheduleUpdated(ScheduleEvent):
    """``schedules.update`` changed a schedule; ``next_run_at`` as for ``ScheduleAdded``."""

    topic: ClassVar[str] = "schedule.updated"

    next_run_at: float | None


@attrs.define(kw_only=True, frozen=True)
class ScheduleFired(ScheduleEvent):
    """The slot at ``slot_at`` (None for ``run_now``) submitted job ``job_id``."""

    topic: ClassVar[str] = "schedule.fired"

    slot_at: float | None
    job_id: str


@attrs.define(kw_only=True, frozen=True)
class ScheduleMissed(ScheduleEvent):
    """``count`` slots, the earliest at ``first_slot_at``, did not run. ``reason``: ``"late"``
    (past the misfire grace time), ``"coalesced"`` (merged into a later run),
    ``"overlap"`` (the previous run was still going) or ``"refused"`` (the runner refused
    the job: a full queue, a duplicate unique job, shutdown; ``error`` says which)."""

    topic: ClassVar[str] = "schedule.missed"

    first_slot_at: float
    count: int
    reason: str
    error: str | None = None


@attrs.define(kw_only=True, frozen=True)
class SchedulePaused(ScheduleEvent):
    """A schedule was paused."""

    topic: ClassVar[str] = "schedule.paused"


@attrs.define(kw_only=True, frozen=True)
class ScheduleResumed(ScheduleEvent):
    """A paused schedule was resumed."""

    topic: ClassVar[str] = "schedule.resumed"


@attrs.define(kw_only=True, frozen=True)
class ScheduleRemoved(ScheduleEvent):
    """A schedule was removed."""

    topic: ClassVar[str] = "schedule.removed"
