"""Work on a shared backend: admission by the backend's answer, leased jobs fed to the workers,
heartbeats, cancels and outcomes that cross between runners through the event channel.

When the runner's store is a ``Backend`` (``asyncjobs.abc``), jobs wait in it, not here:
``prepare`` and ``offer`` hand a new job to ``Backend.admit`` for ``_admission``, which acts
on the answer (the queue's policy when it is full; ``holder`` when its unique key is taken;
``waiting_in`` and ``room_within`` serve the policy). The feeder takes as many jobs as
this runner has free slots for (``Backend.acquire``, per queue, under a lease) and puts them
in the local queues, where the workers take them as usual; ``_outcomes`` releases them. A
job may be submitted in one runner and run in another: the channel's ``JobEnded`` resolves
the submitter's handle, and ``CancelRequested`` stops the job where it runs.

The local queues hold only leased jobs about to start, never more than there are free
slots, so a job waits in the backend (where every runner can take it) until a worker is
free for it.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ._announcer import Announcer
from ._attempt import Attempts
from ._coordination import (
    Accepted,
    AdmitOutcome,
    CancelOutcome,
    CancelRequested,
    ChannelMessage,
    JobEnded,
    JobQueued,
    Lease,
    ProgressReported,
    UniqueClaim,
)
from ._core import Core
from ._errors import InvalidOption, JobNotFound, JobRejected, ResultExpired
from ._faults import describe_error
from ._handle import Definition, JobHandle
from ._leases import LeaseBook
from ._options import due
from ._options_data import run_options
from ._outcomes import CANCEL, LOST, Outcomes, interrupted
from ._progress import Progress
from ._queue import JobQueue
from ._record import JobRecord
from ._spawn import Event, TaskLoop, spawn_detached
from ._states import JobState
from ._timers import TimerService
from ._waiting import Waiting
from .abc import Backend, NowaitBackend

logger = logging.getLogger("asyncjobs")

_QUEUED = JobState.QUEUED
_SCHEDULED = JobState.SCHEDULED
_WAITING = frozenset((_QUEUED, _SCHEDULED))
VISIBLE_WAITING = 100
"""How many of a full queue's waiting jobs its policy sees on a shared backend (the oldest)."""


def _claim(definition: Definition, record: JobRecord) -> UniqueClaim | None:
    """The unique key a job of ``definition`` with ``record``'s arguments holds, if any."""
    unique = definition.options.unique
    if unique is None:
        return None
    key = unique.key_for(definition.name, record.args, dict(record.kwargs))
    return UniqueClaim(key, unique.ttl)


def _nothing() -> None:
    pass


def _no_enqueue(record: JobRecord, options: Mapping[str, object] | None = None) -> None:
    raise AssertionError("enqueue_nowait on a backend without plain calls")


def _no_take(queue: str, *, owner: str, lease: float) -> Lease | None:
    return None


@attrs.frozen
class Offer:
    """A new job as ``SharedWork.offer`` hands it to the backend."""

    handle: JobHandle[Any]
    claim: UniqueClaim | None
    options: dict[str, object] | None


class SharedWork:
    """One runner's part of the work on a shared backend."""

    def __init__(
        self,
        core: Core,
        backend: Backend,
        leases: LeaseBook,
        waiting: Waiting,
        attempts: Attempts,
        outcomes: Outcomes,
        announcer: Announcer,
        timers: TimerService,
        *,
        capacity: int,
        poll_interval: float,
        wrap: Callable[
            [JobRecord, Definition | None, Mapping[str, object] | None], JobHandle[Any] | None
        ],
    ) -> None:
        self._core = core
        self._backend = backend
        self._leases = leases
        self._waiting = waiting
        self._attempts = attempts
        self._outcomes = outcomes
        self._announcer = announcer
        self._timers = timers
        self._capacity = capacity
        self._poll = poll_interval
        # A handle for a stored job, by its definition or its name (None: unknown here).
        self._wrap = wrap
        self._wake: Event | None = None
        self._stop_listening: Callable[[], None] | None = None
        self._taking = False  # from start until shutdown ends the taking of jobs
        self._feeder = TaskLoop(self._feed, "asyncjobs-feeder")
        self._heartbeat = TaskLoop(self._beat, "asyncjobs-heartbeat")
        # Steps as plain calls (admit_now, refill_now), on a backend that makes them so. Its
        # workers take jobs themselves before they park: a slot freed needs no feeder.
        nowait = self._nowait = core.nowait_backend
        # The hot path's steps, bound once: a plain submit and a worker's take.
        self._awaited = leases.awaited
        self._idle = waiting.idle_workers
        self._enqueue_now = _no_enqueue if nowait is None else nowait.enqueue_nowait
        self._take_next = _no_take if nowait is None else nowait.take_nowait
        self._hooked = core.hooks is not None and bool(core.hooks.before_run)
        self._own = leases.shares_records  # a runner's own backend (see LeaseBook.handed)
        # The one queue of a runner on its own backend of plain calls: each worker takes its
        # next job from the backend itself (take_now), with no detour through a local queue.
        self._one = (
            waiting.queue_list[0]
            if self._own and self._nowait is not None and len(waiting.queue_list) == 1
            else None
        )
        self._publish_now = backend.publish_nowait if isinstance(backend, NowaitBackend) else None
        leases.released = self._released
        leases.stopped = self._after_lost
        self._room: list[Event] = []  # submitters waiting for room in a full queue
        # Told when delayed work may have come due in a runner's own backend, which makes
        # it ready unseen (the runner's JobWaits.recheck: a wait for it may never end now).
        self.came_due: Callable[[], None] = _nothing
        announcer.forward = self._progressed
        self._admitting = False  # admit_now is handing a job to the backend
        # Weighted selection's running credit per queue (see _credit_taken).
        self._credit = {queue.name: 0 for queue in waiting.queue_list}
        self._weights = {queue.name: queue.weight for queue in waiting.queue_list}

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        core = self._core
        if not core.own_backend:  # a runner's own backend: nobody else to hear or renew for
            self._stop_listening = self._backend.listen(self._heard)
            self._heartbeat.start(core.new_event())
        self._taking = True
        self._feeder.start(core.new_event())

    async def stop_taking(self) -> None:
        """Shutdown began: take no more jobs, and let submitters waiting for room go. The
        leases of the jobs still running here are renewed until ``close``. A runner's own
        backend goes on feeding the workers: its jobs end here (``interrupt_waiting``)."""
        for event in self._room:
            event.set()
        if not self._core.own_backend:
            self._taking = False
            await self._feeder.stop()

    async def interrupt_waiting(self, *, queued: bool) -> None:
        """Shutdown, on a runner's own backend: its jobs waiting there end interrupted, as
        those in a runner's own queues do: the scheduled ones (delayed, or waiting for a
        retry), and with ``queued`` the queued ones too, taking no more from then on."""
        if queued:
            self._taking = False
            await self._feeder.stop()
        leases = self._leases
        backend = self._backend
        for handle in list(leases.awaited.values()):
            if handle._done or leases.holds(handle):
                continue
            text = describe_error(interrupted(handle))
            try:
                ended = await backend.interrupt(handle._record.id, text, queued=queued)
            except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
                self._core.faults.callback_failed("backend", backend.interrupt, exc, handle.id)
                continue
            if ended:
                await self._outcomes.interrupt(handle)

    async def close(self) -> None:
        """Every job running here has ended: stop renewing and listening. The jobs this
        runner still waits for (they wait in the backend, where another runner, or this one
        after a restart, runs them) end interrupted here, as seen from this runner only."""
        await self._heartbeat.stop()
        if self._core.own_backend:  # its feeder stops; nothing is left waiting for later
            await self.interrupt_waiting(queued=True)
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        for handle in list(self._leases.awaited.values()):
            if not handle._done and not self._leases.holds(handle):
                self._let_go(handle)

    def _let_go(self, handle: JobHandle[Any]) -> None:
        record = handle._record.snapshot()
        record.state = JobState.INTERRUPTED
        record.error = (
            f"this runner stopped before job {record.id!r} ended; it waits in the backend "
            "for another runner (runner.get_job or the store tells its outcome)"
        )
        self._outcomes.adopt(handle, record)

    def wake(self) -> None:
        """Look for work now (a job was admitted or ended, a slot came free)."""
        wake = self._wake
        if wake is not None:
            self._wake = None
            wake.set()
        self._room_freed()

    def _released(self, retry_at: float | None) -> None:
        """A job let go of its slot. With workers that take jobs themselves, the feeder
        need only look again when the job is due later (when, is the backend's to say)."""
        if self._nowait is None or retry_at is not None:
            self.wake()
        else:
            self._room_freed()

    def _room_freed(self) -> None:
        """Let submitters waiting for room in a full queue look again."""
        while self._room:
            self._room.pop().set()

    # ----------------------------------------------------------------- admission

    def prepare(self, handle: JobHandle[Any]) -> Offer:
        """Make a new job ready to offer to the backend: its due time, its unique claim, and
        what the runner that runs it needs of its options (``InvalidOption``, before
        anything is stored, for a callable a backend of bytes cannot keep by name)."""
        definition = handle._definition
        options = definition.options
        record = handle._record
        record.scheduled_for, wait = due(options, record.created_at)
        if wait is not None:
            record.state = _SCHEDULED
        kept = run_options(options.retry, as_data=self._core.serializer is not None)
        return Offer(handle, _claim(definition, record), kept)

    async def offer(self, offer: Offer, queue: JobQueue, evict: str | None) -> AdmitOutcome:
        """Hand the job to the backend, with the queue's bound; its answer. An accepted
        job's handle resolves here, wherever it runs."""
        self._core.check_accepting()
        handle = offer.handle
        record = handle._record
        awaited = self._leases.awaited
        awaited[record.id] = handle  # before the answer: its end may be heard at once
        try:
            outcome = await self._backend.admit(
                self._leases.handed(record),
                bound=queue.maxsize,
                unique=offer.claim,
                evict=evict,
                options=offer.options,
            )
        except BaseException:
            del awaited[record.id]
            raise
        if not isinstance(outcome, Accepted):
            del awaited[record.id]
        return outcome

    def admit_now(self, handle: JobHandle[Any], queue: JobQueue) -> None:
        """``offer`` as a plain call, for a plain job (no delay, no unique key: see
        ``JobOptions._plain``) to an unbounded queue, on a backend that admits with one
        (``NowaitBackend``): nothing for the backend to refuse."""
        nowait = self._nowait
        assert nowait is not None
        record = handle._record
        retry = handle._definition.options.retry
        # Its run options as objects: a backend of plain calls keeps objects.
        options = None if retry is None else run_options(retry, as_data=False)
        job_id = record.id
        awaited = self._awaited
        awaited[job_id] = handle  # before the answer: its end may be heard at once
        if self._own:
            # No channel listener here to tell this job's JobQueued from others'; the
            # backend keeps the engine's record itself (LeaseBook.handed, inline here).
            try:
                self._enqueue_now(record, options)
            except BaseException:
                del awaited[job_id]
                raise
            queue.enqueued += 1  # as accepted() counts it
        else:
            self._admitting = True  # its JobQueued is this call's to act on, below
            try:
                outcome = nowait.admit_nowait(record.snapshot(), options=options)
            except BaseException:
                del awaited[job_id]
                raise
            finally:
                self._admitting = False
            assert type(outcome) is Accepted, outcome  # unbounded, and no key to hold
        idle = self._idle
        if self._one is not None:  # workers take their jobs themselves (take_now)
            if idle:
                idle.pop().set()
            return
        # A parked worker takes it now, with no detour through the feeder task; else the
        # feeder looks (admission frees no room: nobody else need be woken).
        if not (idle and self.refill_now()):
            wake = self._wake
            if wake is not None:
                self._wake = None
                wake.set()

    def accepted(self, queue: JobQueue) -> None:
        """The backend accepted a job for ``queue``. A runner's own backend counts it in the
        queue's statistics now, as a runner's own queues do (else it counts when taken)."""
        if self._core.own_backend:
            queue.enqueued += 1

    async def evicted(self, job_id: str, error: JobRejected) -> None:
        """The backend dropped a job to make room for a new one. Submitted here, its handle
        ends rejected here with ``error``, its hooks and its event, as a victim in a
        runner's own queues does (the backend has written its record)."""
        handle = self._leases.awaited.get(job_id)
        if handle is not None and not handle._done:
            await self._outcomes.finish(handle, JobState.REJECTED, error=error)

    async def waiting_in(self, queue: JobQueue) -> list[JobHandle[Any]]:
        """Handles of the jobs waiting in ``queue`` in the backend, oldest first (the first
        ``VISIBLE_WAITING`` of them): what a full queue's policy chooses a victim among."""
        page = await self._backend.list(states=_WAITING, queue=queue.name, limit=VISIBLE_WAITING)
        found: list[JobHandle[Any]] = []
        for record in page.records:
            handle = self._leases.awaited.get(record.id) or self._wrap(record, None, None)
            if handle is not None:
                found.append(handle)
        return found

    async def room_within(self, deadline: float | None) -> bool:
        """Wait a while for room in a full queue (a poll interval at most, less if a job
        is taken here meanwhile, which is when room opens); False once ``deadline``
        (monotonic) has passed."""
        clock = self._core.clock
        wait = self._poll
        if deadline is not None:
            wait = min(wait, deadline - clock.monotonic())
            if wait <= 0:
                return False
        event = self._core.new_event()
        self._room.append(event)
        await self._timers.within(clock.monotonic() + wait, event.wait)
        self._core.check_accepting()
        return True

    async def holder(self, job_id: str) -> JobHandle[Any]:
        """The handle of the job holding a unique key: ours, or one that follows it."""
        handle = self._leases.awaited.get(job_id) or self._leases.leased(job_id)
        if handle is not None:
            return handle
        record = await self._backend.get(job_id)
        made = self._wrap(record, None, None)
        if made is None:
            raise InvalidOption(
                "unique", job_id, f"the job holding the key, {record.name!r}, is unknown here"
            )
        if record.state.is_terminal:
            self._outcomes.adopt(made, record)
        else:
            self._leases.awaited[job_id] = made
        return made

    async def requeue(
        self, dead: Sequence[tuple[JobRecord, Definition, JobQueue]]
    ) -> list[JobHandle[Any]]:
        """Put dead letters back in their queues in the backend, all or none; the handles
        that follow them."""
        claims: dict[str, UniqueClaim] = {}
        bounds: dict[str, int] = {}
        for record, definition, queue in dead:
            claim = _claim(definition, record)
            if claim is not None:
                claims[record.id] = claim
            if queue.maxsize is not None:
                bounds[queue.name] = queue.maxsize
        stored = await self._backend.requeue(
            [record.id for record, _, _ in dead], unique=claims, bounds=bounds
        )
        handles: list[JobHandle[Any]] = []
        for back, (record, definition, queue) in zip(stored, dead, strict=True):
            self.accepted(queue)
            handle = self._wrap(back.snapshot(), definition, None)
            assert handle is not None  # a definition was given
            self._leases.awaited[record.id] = handle
            logger.info("job %s (%s) requeued from the dead letters", record.name, record.id)
            if self._announcer.watched:  # submitted again, as a requeue in own queues
                self._announcer.submitted(handle)
            handles.append(handle)
        self.wake()
        return handles

    # ----------------------------------------------------------------- feeding

    def _wanted(self) -> tuple[list[tuple[str, int]], int]:
        """What to ask the backend for: each queue with room, for up to as many jobs as
        this runner has free slots (the second value, the limit in all), in the order of
        the runner's queue selection. The backend passes over a queue with nothing ready."""
        waiting = self._waiting
        free = self._capacity - waiting.running_count() - waiting.ready_count()
        wanted: list[tuple[str, int]] = []
        if free <= 0:
            return wanted, 0
        queues = waiting.queue_list
        if len(queues) > 1 and not waiting.strict:
            credit = self._credit
            queues = sorted(queues, key=lambda queue: -(credit[queue.name] + queue.weight))
        for queue in queues:
            room = min(queue.concurrency - queue.running - queue.ready, free)
            if room > 0:
                wanted.append((queue.name, room))
        return wanted, free

    def _credit_taken(self, wanted: list[tuple[str, int]], taken: Sequence[Lease]) -> None:
        """Weighted selection across the backend's queues: a smooth weighted round robin,
        as ``Waiting.choose`` does among local queues, over the queues that have jobs. A
        queue asked before the last one that gave a job, yet giving none, was empty: it
        takes no part (it gathers no credit while empty)."""
        given = dict.fromkeys((queue for queue, _ in wanted), 0)
        for lease in taken:
            given[lease.record.queue] += 1
        last = max(i for i, (queue, _) in enumerate(wanted) if given[queue])
        live = [queue for i, (queue, _) in enumerate(wanted) if given[queue] or i > last]
        weights = self._weights
        total = sum(weights[queue] for queue in live)
        credit = self._credit
        for lease in taken:
            for queue in live:
                credit[queue] += weights[queue]
            credit[lease.record.queue] -= total

    async def _feed(self) -> None:
        core = self._core
        backend = self._backend
        leases = self._leases
        while True:
            wanted, free = self._wanted() if self._taking else ([], 0)
            taken: list[Lease] = []
            if wanted:
                try:
                    taken = list(
                        await backend.acquire(
                            wanted, owner=leases.owner, lease=leases.lease_time, limit=free
                        )
                    )
                except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
                    core.faults.callback_failed("backend", backend.acquire, exc, "acquire")
                self._take_all(wanted, taken)
            if taken:
                continue  # there may be more
            event = self._wake = core.new_event()
            # Polling catches what other runners did; a runner's own backend changes only
            # by what this runner does, and each such step wakes the feeder (or the workers
            # take the job themselves): it waits for that, or for delayed work coming due.
            wait = math.inf if core.own_backend else self._poll
            # With no slot free, only a release can change that: it wakes the feeder, or
            # (with workers that take jobs themselves) the worker whose slot came free takes
            # what is ready. What is delayed, the feeder must still wake for.
            if wanted or self._nowait is not None:
                try:
                    due = await backend.next_due()
                except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
                    core.faults.callback_failed("backend", backend.next_due, exc, "next_due")
                    due = None
                if self._own:
                    self.came_due()
                # Due already, yet not taken: another queue's, or a lease of a runner that
                # is still alive. Only a time still to come shortens the wait.
                if due is not None and due > core.time():
                    wait = min(wait, due - core.time())
            if event.is_set():
                continue
            if wait == math.inf:
                await event.wait()
            else:
                await self._timers.within(core.clock.monotonic() + wait, event.wait)

    def refill_now(self) -> bool:
        """A worker found no job here: take what this runner has free slots for, as a plain
        call, from a backend that acquires with one, so that no worker parks (and waits
        for the feeder) while jobs wait in the backend. True if any was taken."""
        nowait = self._nowait
        if nowait is None or not self._taking:
            return False
        wanted, free = self._wanted()
        if not wanted:
            return False
        leases = self._leases
        try:
            taken = nowait.acquire_nowait(
                wanted, owner=leases.owner, lease=leases.lease_time, limit=free
            )
        except Exception as exc:  # noqa: BLE001 - isolated; the feeder tries again
            self._core.faults.callback_failed("backend", nowait.acquire_nowait, exc, "acquire")
            return False
        self._take_all(wanted, taken)
        return bool(taken)

    def worker_take(self) -> Callable[[], tuple[JobHandle[Any], JobQueue] | None] | None:
        """How a worker takes its next job itself (``take_now``), if it does: on a runner's
        own backend of plain calls, with one queue."""
        return self.take_now if self._one is not None else None

    def take_now(self) -> tuple[JobHandle[Any], JobQueue] | None:
        """The next job for a worker of a runner on its own backend, with one queue, to run
        at once (its slot counted, as ``JobQueue.pop`` does): one already taken into the
        local queue (by the feeder), else the backend's next; None if there is none or no
        slot is free."""
        queue = self._one
        if queue is None:  # see worker_take
            return None
        if queue.ready and queue.running < queue.concurrency:
            return queue.pop(), queue
        if not self._taking:
            return None
        leases = self._leases
        held = leases.leases
        awaited = self._awaited
        while queue.running < queue.concurrency:
            try:
                lease = self._take_next(queue.name, owner=leases.owner, lease=leases.lease_time)
            except Exception as exc:  # noqa: BLE001 - isolated; the feeder tries again
                self._core.faults.callback_failed("backend", self._take_next, exc, "take")
                return None
            if lease is None:
                return None
            if self._room:
                self._room_freed()
            leased = lease.record
            handle = awaited.get(leased.id)
            # The backend shares this runner's records: a job it offers whose record is its
            # handle's was queued, so its handle is neither done nor running, unless it is
            # held here already (taken, its before_run hooks still running).
            if handle is None or handle._record is not leased or handle in held:
                self._take(lease)  # the general way, through the local queue
                if queue.ready:
                    return queue.pop(), queue
                continue  # it could not run here (see _take): the next one
            # One record: the backend's start (running, started_at, attempts) is the
            # attempt's, unless before_run hooks come first (they see it queued, and may
            # skip it): then the attempt writes its own.
            if self._hooked:
                leased.state = _QUEUED
                leased.attempts -= 1
            held[handle] = lease  # by handle alone: LeaseBook.leased finds it by id
            queue.dequeued += 1
            queue.running += 1
            return handle, queue
        return None

    def _take_all(self, wanted: list[tuple[str, int]], taken: Sequence[Lease]) -> None:
        """Jobs leased to this runner (by the feeder or a worker): into the local queues.
        They wait in the backend no more, so a bounded queue there has room again."""
        if not taken:
            return
        if len(wanted) > 1 and not self._waiting.strict:
            self._credit_taken(wanted, taken)
        for lease in taken:
            self._take(lease)
        self._room_freed()

    def _take(self, lease: Lease) -> None:
        """A job leased to this runner: into its local queue, where a worker takes it."""
        leased = lease.record
        leases = self._leases
        handle = leases.awaited.get(leased.id)
        busy = handle is not None and (handle in self._attempts.running or handle in leases.leases)
        if handle is None or handle._done or busy:  # busy: its lost attempt still stops
            try:
                handle = self._wrap(leased.snapshot(), None, lease.options)
            except Exception as exc:  # noqa: BLE001 - the job fails; the feeder goes on
                handle, reason = None, f"{type(exc).__name__}: {exc}"
            else:
                reason = f"InvalidJob: no job named {leased.name!r} is registered in this runner"
            if handle is None:
                spawn_detached(
                    functools.partial(self._unrunnable, lease, reason), "asyncjobs-unrunnable"
                )
                return
        record = handle._record
        # The attempt's own start (running, started_at, attempts) is the attempt's to write.
        record.state = _QUEUED
        record.attempts = leased.attempts - 1
        if record is not leased:  # the backend's copy (a runner's own keeps this record)
            record.args = leased.args  # as the backend keeps them (a copy, for one of bytes)
            record.kwargs = leased.kwargs
            record.retries = leased.retries
            record.error = leased.error
            record.scheduled_for = leased.scheduled_for
        leases.leases[handle] = lease
        leases.ids[leased.id] = handle
        queue = self._waiting.queues[record.queue]
        queue.size += 1
        self._waiting.make_ready(handle, queue, new=True)
        if self._core.own_backend:
            queue.enqueued -= 1  # counted when the backend accepted it (see accepted)

    async def _unrunnable(self, lease: Lease, reason: str) -> None:
        """A job this runner cannot run (no job of its name is registered here; its kept
        options do not read back) fails: a runner must register every job the queues it
        serves may hold."""
        record = lease.record.snapshot()
        record.state = JobState.FAILED
        record.finished_at = self._core.time()
        record.error = reason
        try:
            await self._backend.release(lease, record)
        except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
            self._core.faults.callback_failed("backend", self._backend.release, exc, record.id)

    async def _beat(self) -> None:
        """Renew the leases of the jobs this runner holds, a third of a lease apart."""
        core = self._core
        leases = self._leases
        every = leases.lease_time / 3
        while True:
            await core.clock.sleep_until(core.clock.monotonic() + every)
            sent = list(leases.leases.items())
            if not sent:
                continue
            try:
                renewal = await self._backend.extend(
                    [lease for _, lease in sent], lease=leases.lease_time
                )
            except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
                core.faults.callback_failed("backend", self._backend.extend, exc, "heartbeat")
                continue
            # By token: one job may be held twice here (a lost lease, and a newer one).
            renewed = {lease.token: lease for lease in renewal.leases}
            for handle, lease in sent:
                fresh = renewed.get(lease.token)
                if leases.leases.get(handle) is not lease:
                    continue  # released, or taken again, while the renewal was under way
                if fresh is not None:
                    leases.leases[handle] = fresh
                elif lease.record.id in renewal.lost:
                    self._lost(handle)
            for job_id in renewal.cancel_requested:
                self._cancel_here(job_id)

    def _lost(self, handle: JobHandle[Any]) -> None:
        """The lease on a job running here ran out before it was renewed: the backend
        offers the job again, so this attempt stops, writing nothing; its handle follows
        the job wherever it runs next (see ``_after_lost``)."""
        self._leases.drop(handle)
        logger.warning(
            "the lease on job %s (%s) ran out before this runner renewed it: its attempt "
            "here stops, and the job runs again where the backend offers it",
            handle._record.name,
            handle._record.id,
        )
        self._attempts.stop(handle, LOST)

    def _after_lost(self, handle: JobHandle[Any]) -> None:
        """A lost attempt has stopped: the job may have ended elsewhere meanwhile (its
        JobEnded came while this runner still held the stale lease): look it up."""
        if self._leases.awaited.get(handle._record.id) is handle:
            spawn_detached(functools.partial(self._adopt, handle), "asyncjobs-adopt")

    # ----------------------------------------------------------------- the channel

    def _progressed(self, handle: JobHandle[Any], update: Progress) -> None:
        """A job running here reported progress: to the channel, for its submitter."""
        if not self._leases.holds(handle):
            return  # not from the backend (a caller-runs job): nobody elsewhere waits
        message = ProgressReported(handle._record.id, update)
        if self._publish_now is not None:
            self._publish_now(message)
        else:
            spawn_detached(functools.partial(self._publish, message), "asyncjobs-progress")

    async def _publish(self, message: ChannelMessage) -> None:
        try:
            await self._backend.publish(message)
        except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
            self._core.faults.callback_failed("backend", self._backend.publish, exc, "publish")

    def _heard(self, message: ChannelMessage) -> None:
        if isinstance(message, ProgressReported):
            handle = self._leases.awaited.get(message.job_id)
            if handle is not None and not handle._done and not self._leases.holds(handle):
                self._announcer.progressed(handle, message.progress)
        elif isinstance(message, JobQueued):
            if self._wake is not None and not self._admitting:
                self.wake()
        elif isinstance(message, JobEnded):
            handle = self._leases.awaited.get(message.job_id)
            if handle is not None and not handle._done and not self._leases.holds(handle):
                adopt = functools.partial(self._adopt, handle, message.state)
                spawn_detached(adopt, "asyncjobs-adopt")
            if self._room:
                self.wake()
        elif isinstance(message, CancelRequested):
            self._cancel_here(message.job_id)

    def _cancel_here(self, job_id: str) -> None:
        """Stop the job if it runs here, or is about to: a stop before its handler starts
        is remembered, and the worker that takes it ends it cancelled instead."""
        handle = self._leases.leased(job_id)
        if handle is not None and not handle._done:
            self._attempts.stop(handle, CANCEL)

    async def _adopt(self, handle: JobHandle[Any], state: JobState | None = None) -> None:
        """Take the outcome of a job that ended elsewhere (``state``, as the channel said)
        from the backend. A record already gone (expired, or unreadable) still ends the
        handle, in that state, raising ``ResultExpired`` for its result."""
        try:
            record = await self._backend.get(handle._record.id)
        except Exception as exc:  # noqa: BLE001 - gone, or the backend failed: end it anyway
            if state is None:
                return  # the job's state is unknown: a later JobEnded or a get will tell
            if not isinstance(exc, LookupError):
                self._core.faults.callback_failed("backend", self._backend.get, exc, handle.id)
            record = handle._record.snapshot()
            record.state = state
            self._outcomes.adopt(handle, record, ResultExpired(record.id))
            return
        self._outcomes.adopt(handle, record)

    # ----------------------------------------------------------------- cancel

    async def cancel(self, handle: JobHandle[Any]) -> bool:
        """``JobHandle.cancel`` on a shared backend."""
        if handle._done:
            return False
        if self._leases.holds(handle):
            self._cancel_here(handle._record.id)
            return True
        outcome = await self._backend.cancel(handle._record.id)
        if outcome is CancelOutcome.REQUESTED:
            return True
        if outcome is CancelOutcome.CANCELLED:
            # It ended by this cancel, run by no runner: its event and its hooks are here
            # (the backend has written its record; nothing more is). Its place is free.
            self._room_freed()
            await self._outcomes.cancelled(handle)
            return True
        if outcome is not CancelOutcome.UNKNOWN:
            await self._adopt(handle)
        return False

    async def cancel_id(self, job_id: str) -> bool:
        """``JobRunner.cancel`` on a shared backend."""
        handle = self._leases.leased(job_id) or self._leases.awaited.get(job_id)
        if handle is not None:
            return await self.cancel(handle)
        outcome = await self._backend.cancel(job_id)
        if outcome is CancelOutcome.UNKNOWN:
            raise JobNotFound(job_id)
        return outcome in (CancelOutcome.CANCELLED, CancelOutcome.REQUESTED)
