"""Firing a schedule's due slots: its misfire and overlap policies, and each fire's submit
in a task of its own.

The scheduler's loop hands each due schedule to ``Firing.fire_due``, holding
``Firing.lock``. The misfire policy picks the slots that run (``coalesce``: the latest;
``catch_up``: each, one after another; none later than ``misfire_grace``), and the overlap
policy what a slot does while the schedule's previous run goes on. A fire writes the
record first (the slot is done: at most once), then submits the job in a task of its own,
so a submit that waits (its queue is full and its policy is ``block``) holds up that
schedule alone. While it waits the schedule fires nothing more: the slots that come due
meanwhile are misfires, which its misfire policy settles once the submit has landed or been
refused (and the overlap policy then sees the job that landed as its previous run).

This module knows schedules through ``SlotRecord``, the part of ``ScheduleRecord`` that
firing reads and writes, and jobs through ``Job``, the part of a handle it watches.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
from typing import Any, Generic, Protocol, TypeVar

import anyio
import anyio.abc

from ._errors import AsyncJobsError, ScheduleNotFound
from ._schedule_events import ScheduleFired, ScheduleMissed
from ._schedule_policies import Misfire, Overlap
from ._states import JobState
from ._triggers import Timetable

logger = logging.getLogger("asyncjobs")

# Slots one pass fires or counts for one schedule, so a long gap never holds the loop:
# catching up goes on in the next pass, and a count of missed slots stops here.
_BATCH = 1000


class SlotRecord(Protocol):
    """What firing reads and writes of a schedule's record (``ScheduleRecord``)."""

    name: str
    args: tuple[object, ...]
    kwargs: dict[str, object]
    max_runs: int | None
    jitter: float
    misfire: Misfire
    misfire_grace: float | None
    overlap: Overlap
    paused: bool
    next_slot_at: float | None
    next_run_at: float | None
    last_slot_at: float | None
    last_run_at: float | None
    last_job_id: str | None
    last_outcome: JobState | None
    runs: int
    manual_runs: int
    misses: int
    skipped_overlaps: int

    @property
    def zone(self) -> tzinfo: ...

    def timetable(self) -> Timetable: ...


class Job(Protocol):
    """What firing watches of a submitted job (``JobHandle``)."""

    @property
    def id(self) -> str: ...

    @property
    def state(self) -> JobState: ...

    def done(self) -> bool: ...

    async def wait(self) -> None: ...


R = TypeVar("R", bound=SlotRecord)


class Entry(Generic[R]):
    """A loaded schedule: its record (the engine's copy), the job it submits, and what it
    has under way: a fire's submit, jobs not yet ended, a slot waiting for them."""

    __slots__ = (
        "record",
        "definition",
        "timetable",
        "running",
        "pending",
        "waiting",
        "firing",
        "removed",
    )

    def __init__(self, record: R, definition: Any) -> None:
        self.record = record
        self.definition = definition  # what the runner's submit takes
        self.timetable = record.timetable()
        self.running: set[Job] = set()
        self.pending: float | None = None  # a slot waiting for the running job (QUEUE)
        self.waiting = False  # catching up: the next missed slot waits for the running job
        # A slot's submit under way, in a task of its own (at most one at a time); its
        # scope is cancelled if the schedule is removed.
        self.firing: anyio.CancelScope | None = None
        self.removed = False

    def replace(self, record: R, definition: Any) -> None:
        """The schedule was changed (``update``, ``add(if_exists="replace")``)."""
        self.record = record
        self.definition = definition
        self.timetable = record.timetable()
        if record.next_slot_at is None:
            self.pending = None


class Firing(Generic[R]):
    """Fires the slots of due schedules and follows their jobs, for ``Schedules``.

    ``submit`` is the runner's; ``now`` reads the wall clock; ``save`` writes a record to
    the store; ``emit`` publishes a schedule event; ``poke`` makes the scheduler's loop
    look at its schedules again. Its coroutines but ``run_now`` expect ``lock`` held.
    """

    def __init__(
        self,
        *,
        submit: Callable[..., Awaitable[Job]],
        now: Callable[[], float],
        save: Callable[[R], Awaitable[None]],
        emit: Callable[..., None],
        poke: Callable[[], None],
    ) -> None:
        self._submit = submit
        self._now = now
        self._save = save
        self._emit = emit
        self._poke = poke
        self._rng = random.Random()
        self._lock: anyio.Lock | None = None
        # Where fires' submits and the watchers of jobs run (the scheduler's task group).
        self.group: anyio.abc.TaskGroup | None = None
        self.stopping = False  # shutdown: a slot waiting for an overlap stays undone
        self.fired = 0
        self.missed = 0
        self.skipped = 0
        self.refused = 0

    def open(self) -> None:
        """Make the lock (the runner is starting, in its event loop)."""
        self._lock = anyio.Lock()

    @property
    def lock(self) -> anyio.Lock:
        """Held by whoever reads or changes schedules across an await."""
        assert self._lock is not None, "the runner has not started"
        return self._lock

    def ready(self, entry: Entry[R]) -> bool:
        """Whether the schedule has a slot to fire when it comes due: not paused or
        finished, not waiting for a run to end, no fire's submit under way."""
        record = entry.record
        idle = entry.firing is None and not entry.waiting
        return idle and not record.paused and record.next_run_at is not None

    @staticmethod
    def forget(entry: Entry[R]) -> None:
        """The schedule is removed: a fire still waiting to submit its job gives up (jobs
        it submitted go on, unwatched)."""
        entry.removed = True
        if entry.firing is not None:
            entry.firing.cancel()
        entry.pending = None

    # ----------------------------------------------------------------- the cursor

    def advance(self, entry: Entry[R], after: float) -> None:
        """Move the cursor to the first slot after ``after`` (None: finished)."""
        record = entry.record
        record.next_slot_at = entry.timetable.next_after(after)
        if record.max_runs is not None and record.runs >= record.max_runs:
            record.next_slot_at = None
        self.set_fire(record)

    def set_fire(self, record: R) -> None:
        """When the cursor's slot fires: the slot, plus jitter."""
        slot = record.next_slot_at
        if slot is None:
            record.next_run_at = None
        elif record.jitter:
            record.next_run_at = slot + self._rng.uniform(0.0, record.jitter)
        else:
            record.next_run_at = slot

    def _planned(self, record: R, slot: float) -> float:
        """When ``slot`` was meant to fire: with jitter for the cursor's slot."""
        if slot == record.next_slot_at and record.next_run_at is not None:
            return record.next_run_at
        return slot

    def late(self, record: R, slot: float, now: float) -> bool:
        """Whether ``slot`` is later than the schedule's misfire grace time allows."""
        grace = record.misfire_grace
        return grace is not None and now - self._planned(record, slot) > grace

    # ----------------------------------------------------------------- due slots

    async def fire_due(self, entry: Entry[R], now: float) -> None:
        """Fire what the misfire policy picks of the slots due by ``now``."""
        record = entry.record
        first = record.next_slot_at
        assert first is not None
        if record.misfire is Misfire.COALESCE:
            latest = max(first, entry.timetable.last_at_or_before(now) or first)
            count = entry.timetable.count(first, latest, _BATCH) if latest != first else 1
            if self.late(record, latest, now):
                await self.miss(entry, first, count, "late", last=latest)
                return
            if count > 1:
                await self.miss(entry, first, count - 1, "coalesced", last=None)
            await self._take(entry, latest)
            return
        slot: float | None = first
        missed_from = first
        missed = 0
        fired = False
        for _ in range(_BATCH):
            if slot is None or slot > now:
                break
            if self.late(record, slot, now):
                missed_from = slot if not missed else missed_from
                missed += 1
                record.last_slot_at = slot
                slot = entry.timetable.next_after(slot)
                continue
            if missed:
                await self.miss(entry, missed_from, missed, "late", last=None)
                missed = 0
            record.next_slot_at = slot
            if fired and self._unfinished(entry):
                # Catching up runs the missed slots one after another, whatever overlap
                # says: this one waits for the run this pass started to end (overlap is
                # for a run still going from before).
                record.next_run_at = slot
                entry.waiting = True
                break
            fired = True
            await self._take(entry, slot)  # moves the cursor on
            slot = record.next_slot_at
        if missed:
            assert record.last_slot_at is not None
            await self.miss(entry, missed_from, missed, "late", last=record.last_slot_at)

    async def miss(
        self,
        entry: Entry[R],
        first: float,
        count: int,
        reason: str,
        *,
        last: float | None,
        error: str | None = None,
    ) -> None:
        """Count ``count`` slots from ``first`` as missed; with ``last``, the cursor moves
        past it and the record is written."""
        record = entry.record
        if reason == "overlap":
            record.skipped_overlaps += count
            self.skipped += count
        elif reason != "refused":
            record.misses += count
            self.missed += count
        logger.log(
            logging.WARNING if reason in ("late", "refused") else logging.INFO,
            "schedule %r: %d slot(s) from %s did not run (%s)%s",
            record.name,
            count,
            datetime.fromtimestamp(first, record.zone).isoformat(),
            reason,
            f": {error}" if error else "",
        )
        if last is not None:
            record.last_slot_at = max(record.last_slot_at or last, last)
            self.advance(entry, last)
            await self._save(record)
        self._emit(
            ScheduleMissed,
            record.name,
            first_slot_at=first,
            count=count,
            reason=reason,
            error=error,
        )

    @staticmethod
    def _unfinished(entry: Entry[R]) -> bool:
        """Whether a fire's submit is under way, or a job the schedule submitted has not
        finished."""
        return entry.firing is not None or any(not job.done() for job in entry.running)

    async def _take(self, entry: Entry[R], slot: float) -> None:
        """The slot is due and on time: fire it, unless the previous run still goes."""
        record = entry.record
        if record.overlap is not Overlap.ALLOW and self._unfinished(entry):
            if record.overlap is Overlap.QUEUE and entry.pending is None:
                entry.pending = slot  # fires when the running job ends; not done yet
                self.advance(entry, slot)
            else:
                await self.miss(entry, slot, 1, "overlap", last=slot)
            return
        await self._fire(entry, slot)

    # ----------------------------------------------------------------- fires

    async def _begin(self, entry: Entry[R], slot: float | None, *, advance: bool) -> None:
        """Write down a fire of ``slot`` (None: ``run_now``) before its job exists: the
        slot is done, so it fires at most once. ``advance`` moves the cursor past the
        slot (a slot that waited for an overlap is behind it)."""
        record = entry.record
        if slot is not None:
            record.last_slot_at = max(record.last_slot_at or slot, slot)
            record.runs += 1
            if advance:
                self.advance(entry, slot)
            elif record.max_runs is not None and record.runs >= record.max_runs:
                record.next_slot_at = record.next_run_at = None
        else:
            record.manual_runs += 1
        record.last_run_at = self._now()
        await self._save(record)

    async def _fire(self, entry: Entry[R], slot: float, *, advance: bool = True) -> None:
        await self._begin(entry, slot, advance=advance)
        assert self.group is not None
        # The submit starts at once (in slot order: start returns once it has begun), and
        # its result is noted when the lock is free.
        await self.group.start(self._submit_slot, entry, slot)

    async def _submit_slot(
        self,
        entry: Entry[R],
        slot: float,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        outcome: Job | Exception | None = None
        with anyio.CancelScope() as scope:
            entry.firing = scope
            task_status.started()
            record = entry.record
            try:
                outcome = await self._submit(entry.definition, *record.args, **record.kwargs)
            except AsyncJobsError as exc:
                outcome = exc
            except Exception as exc:  # the runner failed (its store, say): refused too
                logger.exception("schedule %r failed to submit its job", record.name)
                outcome = exc
        try:
            async with self.lock:
                entry.firing = None
                if entry.removed or outcome is None:
                    return  # removed meanwhile (a job that landed goes on, as theirs do)
                await self._landed(entry, slot, outcome)
        except Exception:  # a store that fails: never stop the scheduler
            logger.exception("schedule %r failed to note its fire", entry.record.name)
        finally:
            self._poke()  # slots that came due while it waited are misfires now

    async def _landed(self, entry: Entry[R], slot: float | None, outcome: Job | Exception) -> None:
        """Note what became of a fire's submit: its job, or the runner's refusal."""
        record = entry.record
        if isinstance(outcome, Exception):
            self.refused += 1
            record.last_outcome = JobState.REJECTED
            if slot is not None:
                record.runs -= 1  # the refused run does not count
                if record.next_slot_at is None and record.max_runs is not None:
                    assert record.last_slot_at is not None
                    self.advance(entry, record.last_slot_at)
            await self._save(record)
            at = slot if slot is not None else self._now()
            await self.miss(entry, at, 1, "refused", last=None, error=str(outcome))
        else:
            if slot is not None:
                self.fired += 1
            record.last_job_id = outcome.id
            record.last_outcome = None
            entry.running.add(outcome)
            if self.group is not None:
                self.group.start_soon(self._watch, entry, outcome)
            await self._save(record)
            self._emit(ScheduleFired, record.name, slot_at=slot, job_id=outcome.id)
        if entry.waiting and not self._unfinished(entry):
            entry.waiting = False  # catching up goes on

    async def run_now(self, entry: Entry[R]) -> Job:
        """Submit the schedule's job now, outside its timetable; takes the lock itself.
        The submit is made without it: a full queue holds up the caller alone."""
        async with self.lock:
            if entry.removed:
                raise ScheduleNotFound(entry.record.name)
            await self._begin(entry, None, advance=False)
        record = entry.record
        try:
            job = await self._submit(entry.definition, *record.args, **record.kwargs)
        except AsyncJobsError as exc:
            async with self.lock:
                if not entry.removed:
                    await self._landed(entry, None, exc)
            raise
        async with self.lock:
            if not entry.removed:
                await self._landed(entry, None, job)
        return job

    # ----------------------------------------------------------------- jobs

    async def _watch(self, entry: Entry[R], job: Job) -> None:
        """Note the outcome of a schedule's job; fire a slot that waited for it."""
        await job.wait()
        try:
            async with self.lock:
                await self._watched(entry, job)
        except Exception:  # a store that fails: never stop the scheduler
            logger.exception("schedule %r failed to note its job's outcome", entry.record.name)

    async def _watched(self, entry: Entry[R], job: Job) -> None:
        entry.running.discard(job)
        if entry.removed:
            return
        record = entry.record
        if entry.waiting and not self._unfinished(entry):
            entry.waiting = False
            self._poke()  # catching up goes on
        if record.last_job_id == job.id:
            record.last_outcome = job.state
            await self._save(record)
        slot = entry.pending
        if slot is not None and not entry.running and entry.firing is None:
            if self.stopping:
                return  # shutting down: the slot stays undone
            entry.pending = None
            if self.late(record, slot, self._now()):
                record.last_slot_at = max(record.last_slot_at or slot, slot)
                await self.miss(entry, slot, 1, "late", last=None)
                await self._save(record)
            else:
                await self._fire(entry, slot, advance=False)
