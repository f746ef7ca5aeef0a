"""A schedule's policies: misfires, overlapping runs, and a name already taken.

A module of its own, importing nothing, so that the firing of schedules
(``_schedule_firing``) can follow them without depending on the record's module.
"""

from __future__ import annotations

import enum


class Misfire(str, enum.Enum):
    """What a schedule does with slots that came due while it could not fire them (the
    runner was stopped or busy, the machine slept, the wall clock jumped, it was paused).

    * ``COALESCE`` (default): run once, for the latest of the missed slots; the others
      count as missed.
    * ``CATCH_UP``: run every missed slot, oldest first, one after another: each waits for
      the run before it to end (``overlap`` is for a run still going from before).

    Either way a slot later than ``misfire_grace`` seconds does not run at all (it counts
    as missed); without a grace time there is no limit.
    """

    COALESCE = "coalesce"
    CATCH_UP = "catch_up"


class Overlap(str, enum.Enum):
    """What a slot does when the job of the schedule's previous run has not finished.

    * ``SKIP`` (default): the slot is skipped (counted in ``skipped_overlaps``).
    * ``QUEUE``: the slot waits and fires the moment the previous run ends; at most one
      slot waits, a further one is skipped.
    * ``ALLOW``: the slot fires anyway; runs overlap.
    """

    SKIP = "skip"
    QUEUE = "queue"
    ALLOW = "allow"


class IfExists(str, enum.Enum):
    """What ``schedules.add`` does when the name is taken: ``RAISE`` (``ScheduleExists``),
    ``KEEP`` the existing schedule, or ``REPLACE`` what it runs and when, keeping its
    history (last slot, counts, pause) so re-adding it at every start never re-fires a
    slot."""

    RAISE = "raise"
    KEEP = "keep"
    REPLACE = "replace"
