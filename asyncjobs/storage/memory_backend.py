"""The in-process backend: ready queues, jobs due later, unique keys, leases, schedule claims
and an event channel, in dicts and heaps, for the runners of one process.

``MemoryBackend`` is a ``MemoryJobStore`` (records, retention caps, schedules) that also
coordinates the work, as ``asyncjobs.abc.Backend`` says. Every step is a plain call (the
``NowaitBackend`` sub-protocol; the async methods call them): nothing here waits, so one
step is atomic on the event loop. Records are kept as given, not copied, and leases carry
the stored record itself. Guarantee: at-most-once across process death, as the store's.

Each queue is a ``Lane``: its ready jobs (a FIFO per priority) with lazy deletion (a
cancelled, evicted or deleted job leaves its entry behind, skipped when it comes to the front:
the record tells, it is no longer ``queued``; the lane is rebuilt once such entries are most
of it), and its jobs counted by state as they move, so a bound is checked without a scan.
Jobs due later are a heap of ``(due, submission order, id)``, with lazy deletion alike.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from .. import _validation
from .._clock import Clock, SystemClock
from .._coordination import (
    Accepted,
    AdmitOutcome,
    BatchAnswer,
    BatchEntry,
    CancelOutcome,
    CancelRequested,
    ChannelMessage,
    Duplicate,
    Full,
    JobEnded,
    JobQueued,
    Lease,
    ProgressReported,
    QueueCounts,
    Renewal,
    ScheduleClaim,
    UniqueClaim,
)
from .._errors import (
    DuplicateJob,
    DuplicateJobId,
    InvalidOption,
    InvalidOptionType,
    JobNotFound,
    JobStateError,
    QueueFull,
)
from .._record import Attempt, JobRecord
from .._schedule import ScheduleRecord
from .._states import TERMINAL_STATES, JobState
from ..abc import ChannelListener
from ._lane import COMPACT_AT, Lane
from ._schedule_claims import ScheduleClaims
from .memory import MemoryJobStore

logger = logging.getLogger("asyncjobs.backend")

_QUEUED = JobState.QUEUED
_SCHEDULED = JobState.SCHEDULED
_RUNNING = JobState.RUNNING
_FAILED = JobState.FAILED
_COUNTED = frozenset((_QUEUED, _SCHEDULED, _RUNNING))  # the states a lane counts
_NEVER = float("inf")  # a lease for ever: its runner and this backend live and die together


class MemoryBackend(MemoryJobStore):
    """Records and the coordination of their jobs, in memory (see the module docstring).

    ``clock`` gives the wall-clock time that delays, leases and holds are measured in
    (``asyncjobs.testing.FakeClock`` in tests); the other arguments are the store's.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        max_finished: int = 10_000,
        max_dead_letters: int = 10_000,
        remember_expired: int = 10_000,
    ) -> None:
        super().__init__(
            max_finished=max_finished,
            max_dead_letters=max_dead_letters,
            remember_expired=remember_expired,
        )
        # The system clock's time is time.time itself: one Python call less a step.
        self._time = time.time if clock is None or type(clock) is SystemClock else clock.time
        self._sequence = itertools.count()  # submission order, the tie-break among equals
        self._lanes: dict[str, Lane] = {}  # queue -> its ready jobs and counts
        self._due: list[tuple[float, int, str]] = []  # (scheduled_for, order, id)
        self._tokens = itertools.count(1)
        self._leases: dict[str, Lease] = {}
        self._expiry: list[tuple[float, int, str]] = []  # (expires_at, token, id)
        self._cancel_flags: set[str] = set()
        self._holders: dict[str, tuple[str, float]] = {}  # key -> (job id, hold ends)
        self._keys: dict[str, str] = {}  # job id -> its key
        self._schedule_claims = ScheduleClaims()
        self._listeners: list[ChannelListener] = []
        self._options: dict[str, Mapping[str, object]] = {}  # run options, for jobs with some

    # ----------------------------------------------------------------- bookkeeping

    def _lane(self, queue: str) -> Lane:
        lane = self._lanes.get(queue)
        if lane is None:
            lane = self._lanes[queue] = Lane()
        return lane

    def _count(self, record: JobRecord, state: JobState, delta: int) -> None:
        """Count a job of ``record``'s queue in ``state`` (one of ``_COUNTED``) more or
        less. A queued job counted less leaves its ready entry behind (``Lane.left_early``);
        one counted more is made ready by ``_push_ready``, not here."""
        lane = self._lane(record.queue)
        if state is _QUEUED:
            if delta < 0:
                lane.left_early(self._ready_id_live)
            else:
                lane.queued += delta
        elif state is _SCHEDULED:
            lane.scheduled += delta
        else:
            lane.running += delta

    def _push_ready(self, record: JobRecord) -> None:
        """Make a job ready: counted queued, its entry at the end of its priority."""
        lane = self._lane(record.queue)
        lane.queued += 1
        lane.push(record.priority, record.id)

    def _push_due(self, record: JobRecord) -> None:
        assert record.scheduled_for is not None
        due = self._due
        if len(due) > COMPACT_AT and len(due) > 2 * sum(
            lane.scheduled for lane in self._lanes.values()
        ):
            due[:] = [entry for entry in due if self._due_entry_live(entry)]
            heapq.heapify(due)
        heapq.heappush(due, (record.scheduled_for, next(self._sequence), record.id))

    def _push_expiry(self, lease: Lease) -> None:
        if lease.expires_at == _NEVER:
            return
        expiry = self._expiry
        if len(expiry) > COMPACT_AT and len(expiry) > 2 * len(self._leases):
            self._compact_expiry()
        heapq.heappush(expiry, (lease.expires_at, lease.token, lease.record.id))

    def _compact_expiry(self) -> None:
        """Drop the entries of leases released or renewed since (one per job taken)."""
        leases = self._leases
        expiry = self._expiry
        expiry[:] = [
            entry
            for entry in expiry
            if (held := leases.get(entry[2])) is not None
            and held.token == entry[1]
            and held.expires_at == entry[0]
        ]
        heapq.heapify(expiry)

    def _ready_id_live(self, job_id: str) -> bool:
        record = self.stored(job_id)
        return record is not None and record.state is _QUEUED

    def _held_by(self, key: str, now: float) -> str | None:
        held = self._holders.get(key)
        if held is None:
            return None
        job_id, until = held
        record = self.stored(job_id)
        if until <= now or record is None or record.state in TERMINAL_STATES:
            return None
        return job_id

    def _take_key(self, job_id: str, unique: UniqueClaim, now: float) -> None:
        self._holders[unique.key] = (job_id, now + unique.ttl)
        self._keys[job_id] = unique.key

    def _free_key(self, job_id: str) -> None:
        key = self._keys.pop(job_id, None)
        if key is not None and self._holders.get(key, ("",))[0] == job_id:
            del self._holders[key]

    # Write a record whose counts this backend has moved itself (the store's own update).
    _store = MemoryJobStore.update_nowait
    _add = MemoryJobStore.add_nowait

    def add_nowait(self, record: JobRecord) -> None:
        """``add``, outside admission (a record written as it is, in no queue here): the
        counts include its state, as ``update_nowait`` expects of what is stored."""
        self._add(record)
        if record.state in _COUNTED:
            self._count(record, record.state, 1)

    def update_nowait(self, record: JobRecord) -> None:
        """``update``: the counts follow a state written from outside (a job's queue never
        changes: another is refused with ``InvalidOption``)."""
        stored = self.stored(record.id)
        if stored is not None and stored is not record:
            if record.queue != stored.queue:
                raise InvalidOption(
                    "record.queue",
                    record.queue,
                    f"job {record.id!r} is in queue {stored.queue!r}; a job's queue never changes",
                )
            if record.state is not stored.state:
                if stored.state in _COUNTED:
                    self._count(stored, stored.state, -1)
                if record.state in _COUNTED:
                    self._count(record, record.state, 1)
        MemoryJobStore.update_nowait(self, record)

    def _end_waiting(self, record: JobRecord, state: JobState, error: str, now: float) -> None:
        """End a waiting (or lease-expired) job here: stored, key freed, announced."""
        self._count(record, record.state, -1)
        record.state = state
        record.finished_at = now
        record.error = error
        self._store(record)
        self._free_key(record.id)
        self._options.pop(record.id, None)
        self.publish_nowait(JobEnded(record.id, state))

    def _promote(self, now: float) -> None:
        """Scheduled jobs whose time has come become ready."""
        due = self._due
        while due and due[0][0] <= now:
            when, _, job_id = heapq.heappop(due)
            record = self.stored(job_id)
            if record is None or record.state is not _SCHEDULED or record.scheduled_for != when:
                continue  # a stale entry: the job ended, moved, or was deleted
            self._count(record, _SCHEDULED, -1)
            record.state = _QUEUED
            self._push_ready(record)

    def _expire_leases(self, now: float) -> None:
        """Jobs whose lease ran out are offered again, their lost attempt kept."""
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            when, token, job_id = heapq.heappop(expiry)
            lease = self._leases.get(job_id)
            if lease is None or lease.token != token or lease.expires_at != when:
                continue  # renewed or released since
            del self._leases[job_id]
            record = self.stored(job_id)
            if record is None:
                self._cancel_flags.discard(job_id)
                continue
            if job_id in self._cancel_flags:  # asked to cancel: it ends, not runs again
                self._cancel_flags.discard(job_id)
                self._end_waiting(
                    record,
                    JobState.CANCELLED,
                    f"job {job_id!r} was cancelled; its runner stopped before it ended",
                    now,
                )
                continue
            started = record.started_at if record.started_at is not None else when
            lost = Attempt(
                number=len(record.retries) + 1,
                started_at=started,
                finished_at=now,
                outcome=_FAILED,
                error=f"the lease of {lease.owner!r} ran out (its runner stopped or hung)",
            )
            record.retries = (*record.retries, lost)
            record.started_at = None
            self._count(record, _RUNNING, -1)
            record.state = _QUEUED
            self._push_ready(record)
            self.publish_nowait(JobQueued(job_id, record.queue))

    # ----------------------------------------------------------------- jobs

    @staticmethod
    def _check_state(record: JobRecord) -> None:
        """A new job is queued, or scheduled for a time (``InvalidOption`` if not)."""
        state = record.state
        if state is not _QUEUED and (state is not _SCHEDULED or record.scheduled_for is None):
            raise InvalidOption(
                "record.state",
                state.value,
                "a new job is queued, or scheduled with a scheduled_for time",
            )

    def _check_new(self, record: JobRecord) -> None:
        """A new job in a state to admit, whose id is not stored yet."""
        self._check_state(record)
        if self.stored(record.id) is not None:
            raise DuplicateJobId(record.id)

    def admit_all_nowait(self, entries: Sequence[BatchEntry]) -> BatchAnswer:
        ids: set[str] = set()
        for entry in entries:
            self._check_new(entry.record)
            if entry.record.id in ids:
                raise DuplicateJobId(entry.record.id)
            ids.add(entry.record.id)
        now = self._time()
        keys: dict[str, str] = {}  # keys the batch takes, to the entry taking each
        adding: dict[str, int] = {}  # places the batch takes, per queue
        outcomes: list[AdmitOutcome] = []
        refused = False
        for entry in entries:
            record, unique = entry.record, entry.unique
            if unique is not None and (
                holder := keys.get(unique.key) or self._held_by(unique.key, now)
            ):
                outcomes.append(Duplicate(unique.key, holder))
                refused = refused or entry.duplicate_refuses
                continue
            queue = record.queue
            if entry.bound is not None:
                waiting = self.counts_nowait(queue).waiting + adding.get(queue, 0)
                if waiting >= entry.bound:
                    outcomes.append(Full(queue, entry.bound, waiting))
                    refused = refused or entry.full_refuses
                    continue
            if unique is not None:
                keys[unique.key] = record.id
            adding[queue] = adding.get(queue, 0) + 1
            outcomes.append(Accepted(record.id))
        if not refused:
            for entry, outcome in zip(entries, outcomes, strict=True):
                if type(outcome) is Accepted:
                    if entry.unique is not None:
                        self._take_key(entry.record.id, entry.unique, now)
                    self.enqueue_nowait(entry.record, entry.options)
        return BatchAnswer(tuple(outcomes), refused)

    def admit_nowait(
        self,
        record: JobRecord,
        *,
        bound: int | None = None,
        unique: UniqueClaim | None = None,
        evict: str | None = None,
        options: Mapping[str, object] | None = None,
    ) -> AdmitOutcome:
        if unique is None and bound is None:  # nothing to refuse: stored as it comes
            self.enqueue_nowait(record, options)  # DuplicateJobId: nothing stored
            return Accepted(record.id)
        self._check_new(record)
        now = self._time()
        if unique is not None:
            holder = self._held_by(unique.key, now)
            if holder is not None:
                return Duplicate(unique.key, holder)
        evicted: JobRecord | None = None
        if bound is not None:
            lane = self._lanes.get(record.queue)
            waiting = 0 if lane is None else lane.queued + lane.scheduled
            if waiting >= bound:
                victim = None if evict is None else self.stored(evict)
                if (
                    victim is None
                    or victim.queue != record.queue
                    or victim.state not in (_QUEUED, _SCHEDULED)
                ):
                    return Full(record.queue, bound, waiting)
                self._end_waiting(
                    victim,
                    JobState.REJECTED,
                    f"job {victim.id!r} was dropped: queue {record.queue!r} was full "
                    f"({bound} waiting); evicted for job {record.id!r}",
                    now,
                )
                evicted = victim
        if unique is not None:
            self._take_key(record.id, unique, now)
        self.enqueue_nowait(record, options)
        return Accepted(record.id, evicted)

    def enqueue_nowait(
        self, record: JobRecord, options: Mapping[str, object] | None = None
    ) -> None:
        """Store a new job that admission let in: queued (ready) or scheduled (due later).
        Every admission stores its job here."""
        state = record.state
        if state is not _QUEUED:
            self._check_state(record)
        self._add(record)  # counted below, as admitted (DuplicateJobId: nothing changed)
        if options is not None:
            self._options[record.id] = options
        queue = record.queue
        lane = self._lanes.get(queue)
        if lane is None:
            lane = self._lane(queue)
        if state is _QUEUED:
            lane.queued += 1
            head = lane.head
            if head is not None and record.priority == lane.top:
                head.append(record.id)  # Lane.push, inline: a plain submit comes this way
                lane.entries += 1
            else:
                lane.push(record.priority, record.id)
            if self._listeners:
                self.publish_nowait(JobQueued(record.id, queue))
        else:
            lane.scheduled += 1
            self._push_due(record)

    def acquire_nowait(
        self,
        wanted: Sequence[tuple[str, int]],
        *,
        owner: str,
        lease: float,
        limit: int | None = None,
    ) -> list[Lease]:
        self._moved_on()  # as each take does: what ran out or came due, even if none is asked
        take = self.take_nowait
        taken: list[Lease] = []
        left = -1 if limit is None else limit  # -1: no limit (it never reaches 0)
        for queue, count in wanted:
            while count > 0 and left != 0:
                held = take(queue, owner=owner, lease=lease)
                if held is None:
                    break
                taken.append(held)
                count -= 1
                left -= 1
        return taken

    def _moved_on(self) -> float:
        """The time now, once leases that ran out are let go and jobs come due are ready."""
        now = self._time()
        if self._expiry:
            self._expire_leases(now)
        if self._due:
            self._promote(now)
        return now

    def take_nowait(self, queue: str, *, owner: str, lease: float) -> Lease | None:
        """Start the next ready job of ``queue`` under a new lease (None: none is ready),
        passing over stale entries (see the module docstring)."""
        now = self._time()  # _moved_on, inline: a worker takes each job this way
        if self._expiry:
            self._expire_leases(now)
        if self._due:
            self._promote(now)
        lane = self._lanes.get(queue)
        if lane is None:
            return None
        head = lane.head
        if head:  # Lane.pop, inline: a worker takes each job this way
            lane.entries -= 1
            job_id: str | None = head.popleft()
        else:
            job_id = lane.pop()
        while True:
            if job_id is None:
                return None
            record = self.stored(job_id)
            if record is not None and record.state is _QUEUED:
                break
            job_id = lane.pop()  # a stale entry, passed over
        lane.queued -= 1
        lane.running += 1
        record.state = _RUNNING
        record.attempts += 1
        record.started_at = now
        record.finished_at = None
        record.error = None  # an earlier attempt's is in retries
        options = self._options
        held = Lease(
            record, owner, next(self._tokens), now + lease, options.get(job_id) if options else None
        )
        leases = self._leases
        leases[job_id] = held
        if lease != _NEVER:  # a lease that never runs out needs no expiry entry
            expiry = self._expiry
            if len(expiry) > COMPACT_AT and len(expiry) > 2 * len(leases):
                self._compact_expiry()
            heapq.heappush(expiry, (held.expires_at, held.token, job_id))
        return held

    def _held(self, lease: Lease) -> bool:
        current = self._leases.get(lease.record.id)
        return current is not None and current.token == lease.token

    def extend_nowait(self, leases: Sequence[Lease], *, lease: float) -> Renewal:
        now = self._time()
        self._expire_leases(now)
        renewed: list[Lease] = []
        lost: list[str] = []
        flagged: list[str] = []
        for held in leases:
            job_id = held.record.id
            if not self._held(held):
                lost.append(job_id)
                continue
            current = self._leases[job_id]
            fresh = Lease(
                current.record, current.owner, current.token, now + lease, current.options
            )
            self._leases[job_id] = fresh
            self._push_expiry(fresh)
            renewed.append(fresh)
            if job_id in self._cancel_flags:
                flagged.append(job_id)
        return Renewal(tuple(renewed), tuple(lost), tuple(flagged))

    def release_nowait(
        self, lease: Lease, record: JobRecord, *, retry_at: float | None = None
    ) -> bool:
        expiry = self._expiry
        if expiry:
            now = self._time()
            if expiry[0][0] <= now:
                self._expire_leases(now)
        job_id = record.id
        leases = self._leases
        current = leases.get(job_id)
        if current is not lease and (
            current is None or current.token != lease.token or job_id != lease.record.id
        ):
            return False
        if retry_at is None and record.state not in TERMINAL_STATES:
            raise InvalidOption(
                "record.state", record.state.value, "release a job in a terminal state, or retry_at"
            )
        stored = current.record  # a lease carries the stored record itself
        if record is not stored and record.queue != stored.queue:
            raise InvalidOption(
                "record.queue",
                record.queue,
                f"job {job_id!r} is in queue {stored.queue!r}; a job's queue never changes",
            )
        del leases[job_id]
        if self._cancel_flags:
            self._cancel_flags.discard(job_id)
        self._lanes[stored.queue].running -= 1
        if retry_at is not None:
            record.state = _SCHEDULED
            record.scheduled_for = retry_at
            self._store(record)
            self._count(record, _SCHEDULED, 1)
            self._push_due(record)
            return True
        if record is stored:  # a runner's own record, ended in place
            self.finished_nowait(record)
        else:
            self._store(record)
        if self._keys:
            self._free_key(job_id)
        if self._options and record.state is not _FAILED:  # a dead letter keeps them
            self._options.pop(job_id, None)
        if self._listeners:
            self.publish_nowait(JobEnded(job_id, record.state))
        return True

    def cancel_nowait(self, job_id: str) -> CancelOutcome:
        self._expire_leases(self._time())  # a job whose runner is gone is waiting again
        record = self.stored(job_id)
        if record is None:
            return CancelOutcome.UNKNOWN
        state = record.state
        if state in TERMINAL_STATES:
            return CancelOutcome.FINISHED
        if state is _RUNNING:
            self._cancel_flags.add(job_id)
            self.publish_nowait(CancelRequested(job_id))
            return CancelOutcome.REQUESTED
        self._end_waiting(
            record,
            JobState.CANCELLED,
            f"job {job_id!r} was cancelled before it started",
            self._time(),
        )
        return CancelOutcome.CANCELLED

    def requeue_nowait(
        self,
        job_ids: Sequence[str],
        *,
        unique: Mapping[str, UniqueClaim] | None = None,
        bounds: Mapping[str, int] | None = None,
    ) -> list[JobRecord]:
        now = self._time()
        unique = unique or {}
        records: list[JobRecord] = []
        keys: dict[str, str] = {}
        adding: dict[str, int] = {}
        if len(set(job_ids)) != len(job_ids):
            raise InvalidOption("job_ids", list(job_ids), "each dead letter once")
        for job_id in job_ids:
            record = self.stored(job_id)
            if record is None:
                raise JobNotFound(job_id)
            if record.state is not _FAILED:
                raise JobStateError(
                    job_id, record.state.value, "only failed jobs (dead letters) can be requeued"
                )
            claim = unique.get(job_id)
            if claim is not None:
                holder = keys.get(claim.key) or self._held_by(claim.key, now)
                if holder is not None:
                    raise DuplicateJob(claim.key, holder)
                keys[claim.key] = job_id
            adding[record.queue] = adding.get(record.queue, 0) + 1
            records.append(record)
        for queue, count in adding.items():
            bound = None if bounds is None else bounds.get(queue)
            waiting = self.counts_nowait(queue).waiting
            if bound is not None and waiting + count > bound:
                free = max(bound - waiting, 0)
                detail = (
                    "no place for a requeued job"
                    if count == 1
                    else f"{count} dead letters to requeue, {free} places free"
                )
                raise QueueFull(queue, bound, detail)
        for index, stored in enumerate(records):
            # A copy: the ended record may be a runner's own (see NowaitBackend).
            record = records[index] = stored.snapshot()
            record.retries = record.history
            record.state = _QUEUED
            record.scheduled_for = record.started_at = record.finished_at = None
            record.attempts = 0
            record.result = record.error = record.traceback = None
            self._store(record)
            claim = unique.get(record.id)
            if claim is not None:
                self._take_key(record.id, claim, now)
            self._push_ready(record)
            self.publish_nowait(JobQueued(record.id, record.queue))
        return records

    def next_due_nowait(self) -> float | None:
        due, expiry = self._due, self._expiry
        if due:  # what is due now is ready: its record says so, its runner busy or not
            self._promote(self._time())
        while due and not self._due_entry_live(due[0]):
            heapq.heappop(due)
        while expiry and not self._expiry_entry_live(expiry[0]):
            heapq.heappop(expiry)
        times = [heap[0][0] for heap in (due, expiry) if heap]
        times.extend(
            record.next_run_at
            for record in self.stored_schedules()
            if not record.paused and record.next_run_at is not None
        )
        return min(times, default=None)

    def _due_entry_live(self, entry: tuple[float, int, str]) -> bool:
        record = self.stored(entry[2])
        if record is None or record.state is not _SCHEDULED:
            return False
        return record.scheduled_for == entry[0]

    def _expiry_entry_live(self, entry: tuple[float, int, str]) -> bool:
        lease = self._leases.get(entry[2])
        return lease is not None and lease.token == entry[1] and lease.expires_at == entry[0]

    def counts_nowait(self, queue: str) -> QueueCounts:
        lane = self._lanes.get(queue)
        return (
            QueueCounts()
            if lane is None
            else QueueCounts(lane.queued, lane.scheduled, lane.running)
        )

    async def admit(
        self,
        record: JobRecord,
        *,
        bound: int | None = None,
        unique: UniqueClaim | None = None,
        evict: str | None = None,
        options: Mapping[str, object] | None = None,
    ) -> AdmitOutcome:
        return self.admit_nowait(record, bound=bound, unique=unique, evict=evict, options=options)

    async def admit_all(self, entries: Sequence[BatchEntry]) -> BatchAnswer:
        return self.admit_all_nowait(entries)

    async def acquire(
        self,
        wanted: Sequence[tuple[str, int]],
        *,
        owner: str,
        lease: float,
        limit: int | None = None,
    ) -> list[Lease]:
        return self.acquire_nowait(wanted, owner=owner, lease=lease, limit=limit)

    async def extend(self, leases: Sequence[Lease], *, lease: float) -> Renewal:
        return self.extend_nowait(leases, lease=lease)

    async def release(
        self, lease: Lease, record: JobRecord, *, retry_at: float | None = None
    ) -> bool:
        return self.release_nowait(lease, record, retry_at=retry_at)

    async def cancel(self, job_id: str) -> CancelOutcome:
        return self.cancel_nowait(job_id)

    async def interrupt(self, job_id: str, error: str, *, queued: bool = True) -> bool:
        self._expire_leases(self._time())  # a job whose runner is gone is waiting again
        record = self.stored(job_id)
        if record is None or not (
            record.state is _SCHEDULED or (queued and record.state is _QUEUED)
        ):
            return False
        self._end_waiting(record, JobState.INTERRUPTED, error, self._time())
        return True

    async def requeue(
        self,
        job_ids: Sequence[str],
        *,
        unique: Mapping[str, UniqueClaim] | None = None,
        bounds: Mapping[str, int] | None = None,
    ) -> list[JobRecord]:
        return self.requeue_nowait(job_ids, unique=unique, bounds=bounds)

    async def next_due(self) -> float | None:
        return self.next_due_nowait()

    async def counts(self, queue: str) -> QueueCounts:
        return self.counts_nowait(_validation.name("queue", queue))

    def forgotten(self, job_id: str) -> None:
        options = self._options
        if options:
            options.pop(job_id, None)

    async def delete(self, job_id: str) -> bool:
        record = self.stored(job_id)
        if record is not None and record.state in _COUNTED:
            self._count(record, record.state, -1)
            self._leases.pop(job_id, None)
            self._cancel_flags.discard(job_id)
            self._free_key(job_id)
        return await super().delete(job_id)

    # ----------------------------------------------------------------- schedules

    async def acquire_schedules(self, *, owner: str, lease: float) -> list[ScheduleClaim]:
        return self._schedule_claims.acquire(self.stored_schedules(), self._time(), owner, lease)

    async def release_schedule(self, claim: ScheduleClaim, record: ScheduleRecord) -> bool:
        if not self._schedule_claims.release(claim, record):
            return False
        if self.stored_schedule(record.name) is None:
            return False  # deleted while it fired
        await self.update_schedule(record)
        return True

    async def delete_schedule(self, name: str) -> bool:
        self._schedule_claims.drop(name)
        return await super().delete_schedule(name)

    # ----------------------------------------------------------------- channel

    def publish_nowait(self, message: ChannelMessage) -> None:
        if type(message) is ProgressReported:
            record = self.stored(message.job_id)
            update = message.progress
            if (
                record is not None
                and record.state is _RUNNING
                and (record.progress is None or record.progress.sequence < update.sequence)
            ):
                record.progress = update
        for listener in tuple(self._listeners):
            try:
                listener(message)
            except Exception:  # a listener's fault is its own
                logger.exception("a channel listener %r failed on %r", listener, message)

    async def publish(self, message: ChannelMessage) -> None:
        self.publish_nowait(message)

    def listen(self, listener: ChannelListener) -> Callable[[], None]:
        if not callable(listener):
            raise InvalidOptionType("listener", listener, "expected a callable")
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop
