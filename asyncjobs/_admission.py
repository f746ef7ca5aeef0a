"""Submission and admission: from ``submit(fn, *args)`` to a job that waits in its queue.

``submit`` validates (raising before anything is created), builds the record and handle,
takes a unique key if the job has one, then ``admit``s it: the ``before_submit`` hooks, the
queue's bound and its policy when full, a place reserved before the first await, the store's
``add``, then the job waits (``Waiting``) scheduled or ready. ``submit_many`` checks a whole
batch first, so it is all or nothing.
"""

from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeGuard

import anyio
import anyio.lowlevel

from . import _validation
from ._announcer import Announcer
from ._attempt import Attempts, skipped
from ._batch import BatchAdmit
from ._claims import Claim, Claims
from ._coordination import Accepted, AdmitOutcome, Duplicate
from ._core import Core
from ._definition import JobCall, JobDefinition
from ._errors import (
    DuplicateJob,
    DuplicateJobId,
    InvalidOptionType,
    JobNestingError,
    JobRejected,
    QueueFull,
)
from ._escalation import cancelled_here
from ._handle import Definition, JobEngine, JobHandle, current_job_var
from ._known_jobs import KnownJobs
from ._options import JobOptions
from ._options import due as due_of
from ._outcomes import Outcomes, interrupted
from ._queue import JobQueue
from ._record import JobRecord
from ._reject import (
    ADMIT,
    DROP,
    EVICT,
    REFUSE,
    RUN_IN_CALLER,
    Decision,
    FullQueue,
    ask,
)
from ._reject import notify as notify_handler
from ._shared import Offer, SharedWork
from ._states import JobState
from ._timers import TimerService
from ._unique import OnConflict
from ._waiting import Waiting
from .serializers import check_arguments

# Most jobs take no keyword arguments: they share one read-only empty mapping instead of
# each keeping an empty dict (64 bytes a job).
_NO_KWARGS: Mapping[str, Any] = MappingProxyType({})

_SCHEDULED = JobState.SCHEDULED
_MAX_EVICTIONS = 10  # tries to drop a victim for a new job, on a shared backend
_WAITING_STATES = frozenset((JobState.QUEUED, JobState.SCHEDULED))


def _dropped(job_id: str, queue: str, bound: int, reason: str) -> JobRejected:
    """The error of a job dropped from a full queue to make room for a new one."""
    return JobRejected(
        job_id, f"job {job_id!r} was dropped: queue {queue!r} was full ({bound} waiting); {reason}"
    )


class Admission:
    """Takes new jobs into one runner."""

    def __init__(
        self,
        core: Core,
        engine: JobEngine,
        known: KnownJobs,
        waiting: Waiting,
        claims: Claims,
        attempts: Attempts,
        outcomes: Outcomes,
        announcer: Announcer,
        timers: TimerService,
        shared: SharedWork | None = None,
        batches: BatchAdmit | None = None,
    ) -> None:
        self._core = core
        self._shared = shared  # on a shared backend: it admits, by the backend's answer
        self._batches = batches  # and submit_many's batches, all or none
        self._engine = engine  # what the handles made here ask of the engine
        self._known = known
        self._waiting = waiting
        self._claims = claims
        self._attempts = attempts
        self._outcomes = outcomes
        self._announcer = announcer
        self._timers = timers
        # The context the last job was submitted from, as a snapshot jobs can share.
        self.last_context = contextvars.copy_context()
        # Submits of plain jobs to unbounded queues can skip admit: no hooks to call, no
        # store write to await.
        self._plain = core.add_nowait is not None and core.hooks is None and core.serializer is None
        # The same on a backend that admits with a plain call: it answers at once.
        self._admit_now: Callable[[JobHandle[Any], JobQueue], None] | None = (
            shared.admit_now
            if shared is not None and core.nowait_backend is not None and core.hooks is None
            else None
        )

    # ----------------------------------------------------------------- submitting

    def submit(
        self, job: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> JobHandle[Any] | Coroutine[Any, Any, JobHandle[Any]]:
        """See ``JobRunner.submit``. A plain job to an unbounded queue is taken in at once
        (its handle is returned: the hot path makes no coroutine); any other is returned
        as a coroutine that admits it."""
        core = self._core
        definition = job if isinstance(job, JobDefinition) else self._known.definition_for(job)
        definition.check_arguments(args, kwargs)
        if not core.accepting:
            core.check_accepting()
        queue = self._waiting.queue_for(definition)
        options = definition.options
        if options._plain and queue.maxsize is None and self._plain:
            # The common case, with no await: no policy, timer, id to check or key to take.
            handle = self.new_handle(definition, args, kwargs, queue)
            queue.size += 1
            try:
                core.add_nowait(handle._record)  # type: ignore[misc]  # set: self._plain
            except BaseException:
                queue.release()
                raise
            self.accepted(handle, queue, None)
            return handle
        admit_now = self._admit_now
        if admit_now is not None and options._plain and queue.maxsize is None:
            # Nothing for the backend to refuse (no bound, no key): accepted at once.
            handle = self.new_handle(definition, args, kwargs, queue)
            admit_now(handle, queue)
            if self._announcer.watched:
                self._announcer.submitted(handle)
            return handle
        if core.serializer is not None:
            check_arguments(core.serializer, args, kwargs)
        return self._submit(definition, queue, args, kwargs)

    async def _submit(
        self,
        definition: JobDefinition[Any, Any],
        queue: JobQueue,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> JobHandle[Any]:
        """Admit a job that may wait: a unique key, a job id to check, hooks, a bound."""
        options = definition.options
        if self._shared is not None:
            handle = self.new_handle(definition, args, kwargs, queue)
            if options.job_id is not None:
                await self.check_new_id(options.job_id)
            return await self._admit_shared(handle, queue)
        if options.unique is not None:
            return await self._submit_unique(definition, queue, args, kwargs)
        handle = self.new_handle(definition, args, kwargs, queue)
        if options.job_id is not None:
            await self.check_new_id(options.job_id)
        await self._admit(handle, queue)
        return handle

    async def _submit_unique(
        self,
        definition: JobDefinition[Any, Any],
        queue: JobQueue,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> JobHandle[Any]:
        """Submit a unique job, or hand back the one holding its key.

        The key is taken before the first await, so concurrent submits of one key cannot
        both create a job. While the holder is still being admitted (a store write, a full
        queue), the others wait for that to settle, then look again."""
        unique = definition.options.unique
        assert unique is not None
        key = unique.key_for(definition.name, args, kwargs)
        while True:
            held = self._claims.holder(key)
            if held is None:
                break
            if held.admitting is not None:
                await held.admitting.wait()
                continue
            if unique.on_conflict is OnConflict.RAISE:
                raise DuplicateJob(key, held.handle.id)
            return held.handle
        held = self._claim(definition, queue, args, kwargs, key)
        await self._admit_claimed(held, queue, definition.options.job_id)
        return held.handle

    def _claim(
        self,
        definition: JobDefinition[Any, Any],
        queue: JobQueue,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        key: str,
    ) -> Claim:
        """Make the job and let it hold ``key`` while it is admitted (no await here)."""
        unique = definition.options.unique
        assert unique is not None
        handle = self.new_handle(definition, args, kwargs, queue)
        return self._claims.claim(handle, key, unique.ttl)

    async def _admit_claimed(self, held: Claim, queue: JobQueue, job_id: str | None) -> None:
        """Admit the job of a claim (checking its given ``job_id`` first): its key is let go
        if that fails, and submitters waiting on the claim look again either way."""
        try:
            if job_id is not None:
                await self.check_new_id(job_id)
            await self._admit(held.handle, queue)
        except BaseException:
            self._claims.release(held.handle)
            raise
        finally:
            self._claims.admitted(held)

    async def submit_many(self, calls: Iterable[JobCall[Any]]) -> list[JobHandle[Any]]:
        """See ``JobRunner.submit_many``."""
        core = self._core
        batch = _validation.collection("calls", calls)
        for index, call in enumerate(batch):
            if not isinstance(call, JobCall):
                raise InvalidOptionType(
                    f"calls[{index}]", call, "expected a JobCall (made with job.call(...))"
                )
        core.check_accepting()
        plan: list[tuple[JobDefinition[Any, Any], JobQueue, JobCall[Any]]] = []
        ids: set[str] = set()
        for call in batch:
            definition = call.definition
            queue = self._waiting.queue_for(definition)
            job_id = definition.options.job_id
            if job_id is not None:
                if job_id in ids:
                    raise DuplicateJobId(job_id)
                ids.add(job_id)
            self._depth_for(definition.options, current_job_var.get())  # refused before any
            if core.serializer is not None:
                check_arguments(core.serializer, call.args, call.kwargs)
            plan.append((definition, queue, call))
        for job_id in ids:
            await self.check_new_id(job_id)
        core.check_accepting()
        if self._shared is not None:
            return await self._submit_many_shared(plan)
        # From here to the first admission there is no await: the keys are looked at and
        # taken at once, so no other submit can take one in between.
        slots: list[JobHandle[Any] | Claim | None] = []  # a holder's handle, a claim, or new
        claims: list[Claim] = []
        handles: list[JobHandle[Any]] = []
        try:
            for definition, queue, call in plan:
                unique = definition.options.unique
                if unique is None:
                    slots.append(None)
                    continue
                key = unique.key_for(definition.name, call.args, call.kwargs)
                held = self._claims.holder(key)
                if held is None:
                    held = self._claim(definition, queue, call.args, call.kwargs, key)
                    claims.append(held)
                    slots.append(held)
                elif unique.on_conflict is OnConflict.RAISE:
                    holder = "an earlier call of this batch" if held in claims else held.handle.id
                    raise DuplicateJob(key, holder)
                else:
                    slots.append(held.handle)
            self.check_room(
                (
                    queue.name
                    for (_, queue, _), slot in zip(plan, slots, strict=True)
                    if not isinstance(slot, JobHandle)
                ),
                lambda queue: queue.policy.refuses_batches,
                "the batch needs {count} places, {free} free",
                count_refusal=True,
            )
            for (definition, queue, call), slot in zip(plan, slots, strict=True):
                if isinstance(slot, JobHandle):
                    handles.append(slot)
                elif slot is None:
                    handle = self.new_handle(definition, call.args, call.kwargs, queue)
                    await self._admit(handle, queue)
                    handles.append(handle)
                else:
                    await self._admit_claimed(slot, queue, None)  # ids were checked above
                    handles.append(slot.handle)
        except BaseException:
            for held in claims:
                if held.admitting is not None:  # never admitted: let its key go
                    self._claims.release(held.handle)
                    self._claims.admitted(held)
            raise
        return handles

    def check_room(
        self,
        queue_names: Iterable[str],
        refusing: Callable[[JobQueue], bool],
        detail: str,
        *,
        count_refusal: bool = False,
    ) -> None:
        """Raise ``QueueFull`` before a batch if a bounded queue whose policy would refuse
        (``refusing``) has fewer free places than the batch needs there. ``detail`` is
        formatted with ``count`` and ``free``. ``count_refusal``: the refused jobs count
        in that queue's ``rejected`` statistic (a batch of submits; not of requeues)."""
        for name, count in Counter(queue_names).items():
            queue = self._waiting.queues.get(name)
            if (
                queue is not None
                and queue.maxsize is not None
                and refusing(queue)
                and queue.size + count > queue.maxsize
            ):
                free = queue.maxsize - queue.size
                if count_refusal:
                    queue.rejected += count
                raise QueueFull(name, queue.maxsize, detail.format(count=count, free=free))

    async def check_new_id(self, job_id: str) -> None:
        try:
            await self._core.store.get(job_id)
        except LookupError:
            return
        raise DuplicateJobId(job_id)

    def new_handle(
        self,
        definition: JobDefinition[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        queue: JobQueue,
    ) -> JobHandle[Any]:
        core = self._core
        options = definition.options
        parent = current_job_var.get()
        depth = 0 if parent is None else self._depth_for(options, parent)
        record = JobRecord._new(
            options.job_id or f"{core.id_prefix}{next(core.id_counter)}",
            definition.name,
            queue.name,
            options.priority,
            args,
            kwargs or _NO_KWARGS,
            core.time(),
            options.timeout,
        )
        # Jobs submitted from an unchanged context share one snapshot of it (Context equality
        # is an identity check of the variables' map when nothing changed), so a waiting job
        # keeps no Context of its own: one object less per job to allocate and collect.
        context = contextvars.copy_context()
        if context == self.last_context:
            context = self.last_context
        else:
            self.last_context = context
        handle: JobHandle[Any] = JobHandle(record, definition, self._engine, context)
        if depth:
            handle._depth = depth
        return handle

    def wrap(self, record: JobRecord, definition: Definition) -> JobHandle[Any]:
        """A new handle for a stored job (a dead letter being requeued)."""
        return JobHandle(record, definition, self._engine, contextvars.copy_context())

    def _depth_for(self, options: JobOptions, parent: JobHandle[Any] | None) -> int:
        """How deep a job submitted now nests: one deeper than ``parent``, the running job
        submitting it, or zero (submitted from outside a job, or to start later)."""
        if parent is None or parent._engine is not self._engine or options.delay or options.at:
            return 0
        depth = parent._depth + 1
        max_depth = self._core.max_depth
        if max_depth is not None and depth > max_depth:
            raise JobNestingError(parent.name, depth)
        return depth

    # ----------------------------------------------------------------- admission

    async def _admit(self, handle: JobHandle[Any], queue: JobQueue) -> None:
        """Take an accepted-or-rejected decision for a new job and carry it out."""
        core = self._core
        hooks = core.hooks
        if hooks is not None and hooks.before_submit and await self._skipped(handle):
            return
        victim: JobHandle[Any] | None = None
        reason = ""
        if not queue.has_space() or queue.space_waiters:
            decision = await self._decide(handle, queue)
            kind = decision.kind
            if kind is REFUSE:
                queue.rejected += 1
                assert queue.maxsize is not None
                raise QueueFull(queue.name, queue.maxsize, decision.detail)
            if kind is DROP:
                await self._drop_new(handle, queue, decision.detail, decision.notify)
                return
            if kind is RUN_IN_CALLER:
                await self._run_in_caller(handle, queue)
                return
            if kind is EVICT:
                victim, reason = decision.victim, decision.detail
        queue.size += 1  # reserve the place before the first await
        record = handle._record
        record.scheduled_for, wait = due_of(handle._definition.options, record.created_at)
        due = None if wait is None else core.clock.monotonic() + wait
        if due is not None:
            record.state = _SCHEDULED
        try:
            await core.add(record)
        except BaseException:
            queue.release()
            raise
        if not core.accepting:  # shutdown began while the store was adding
            queue.release()
            await self._outcomes.finish(handle, JobState.INTERRUPTED, error=interrupted(handle))
            return
        self.accepted(handle, queue, due)
        if victim is not None:
            await self._evict(queue, handle, victim, reason)
        if hooks is not None and hooks.after_submit:
            await hooks.call(hooks.after_submit, handle)

    async def _submit_many_shared(
        self, plan: list[tuple[JobDefinition[Any, Any], JobQueue, JobCall[Any]]]
    ) -> list[JobHandle[Any]]:
        """``submit_many`` on a backend: the batch in one step, all or none (``_batch``);
        then each answer as a single submit's (a holder's handle, a full queue's policy)."""
        shared, batches = self._shared, self._batches
        assert shared is not None
        assert batches is not None
        hooks = self._core.hooks
        handles: list[JobHandle[Any]] = []
        offers: list[tuple[Offer, JobQueue]] = []
        for definition, queue, call in plan:
            handle = self.new_handle(definition, call.args, call.kwargs, queue)
            handles.append(handle)
            if hooks is None or not hooks.before_submit or not await self._skipped(handle):
                offers.append((shared.prepare(handle), queue))
        answer = await batches.offer(offers)
        given: dict[JobHandle[Any], JobHandle[Any]] = {}
        for (offer, queue), outcome in zip(offers, answer.outcomes, strict=True):
            given[offer.handle] = await self._admit_shared(offer.handle, queue, (offer, outcome))
        return [given.get(handle, handle) for handle in handles]

    async def _admit_shared(
        self,
        handle: JobHandle[Any],
        queue: JobQueue,
        answered: tuple[Offer, AdmitOutcome] | None = None,
    ) -> JobHandle[Any]:
        """``_admit`` on a shared backend: the backend answers for the queue's bound and the
        job's unique key, and the queue's policy decides on a full answer. Returns the
        handle the submitter gets (the holder's, for a unique key held already).
        ``answered``: the job was offered already (in a batch), and this was the answer."""
        shared = self._shared
        assert shared is not None
        hooks = self._core.hooks
        if answered is not None:
            offer, first = answered
        else:
            if hooks is not None and hooks.before_submit and await self._skipped(handle):
                return handle
            offer, first = shared.prepare(handle), None
        evict: str | None = None
        bound, evicted_for = 0, ""  # the full queue's bound, and why its victim was chosen
        evictions = 0  # victims that left before the backend could drop them
        waiting: list[JobHandle[Any]] | None = None  # looked up at a full answer, kept
        deadline: list[float | None] = []  # of a wait for room, set by the first wait

        async def room(timeout: float | None) -> bool:  # noqa: ASYNC109
            if not deadline:
                now = self._core.clock.monotonic()
                deadline.append(None if timeout is None else now + timeout)
            return await shared.room_within(deadline[0])

        while True:
            if first is not None:
                outcome, first = first, None
            else:
                outcome = await shared.offer(offer, queue, evict)
            if isinstance(outcome, Accepted):
                if outcome.evicted is not None:
                    queue.rejected += 1
                    victim = outcome.evicted.id
                    await shared.evicted(victim, _dropped(victim, queue.name, bound, evicted_for))
                shared.accepted(queue)
                break
            if isinstance(outcome, Duplicate):
                unique = handle._definition.options.unique
                assert unique is not None
                if unique.on_conflict is OnConflict.RAISE:
                    raise DuplicateJob(outcome.key, outcome.holder)
                return await shared.holder(outcome.holder)
            if evict is not None:  # the victim had left before the backend could drop it
                waiting, evict = None, None
                evictions += 1
                await anyio.lowlevel.checkpoint()  # let the runner that took it go on
            if waiting is None:
                waiting = await shared.waiting_in(queue)
            decision = await self._decide_shared(handle, queue, outcome.bound, waiting, room)
            kind, detail = decision.kind, decision.detail
            if kind is ADMIT:
                continue  # room came: offer it again
            if kind is EVICT and evictions < _MAX_EVICTIONS:
                assert decision.victim is not None
                evict, bound, evicted_for = decision.victim.id, outcome.bound, detail
                continue
            if kind is DROP:
                await self._drop_new(handle, queue, detail, decision.notify)
                return handle
            if kind is RUN_IN_CALLER and self._core.own_backend:  # nobody else to run it
                await self._run_in_caller(handle, queue)
                return handle
            if kind is EVICT:
                detail = f"every victim chosen left before it could be dropped ({evictions})"
            elif kind is RUN_IN_CALLER:
                detail = "on a shared backend a job runs in a runner's worker, not its submitter"
            queue.rejected += 1
            raise QueueFull(queue.name, outcome.bound, detail)
        if self._announcer.watched:
            self._announcer.submitted(handle)
        if hooks is not None and hooks.after_submit:
            await hooks.call(hooks.after_submit, handle)
        shared.wake()
        return handle

    async def _decide_shared(
        self,
        handle: JobHandle[Any],
        queue: JobQueue,
        bound: int,
        waiting: list[JobHandle[Any]],
        room: Callable[[float | None], Awaitable[bool]],
    ) -> Decision:
        """``_decide`` for a queue the backend said is full; ``waiting``: its oldest jobs."""
        full = FullQueue(
            handle,
            queue.name,
            bound,
            handle._record.state is _SCHEDULED,
            lambda: False,  # as the backend answered; the next offer asks it again
            lambda: waiting,
            lambda: waiting[0] if waiting else None,
            room,
        )
        return await ask(
            queue.policy,
            full,
            self._core.faults,
            lambda victim: victim is not handle and any(victim is job for job in waiting),
        )

    async def _skipped(self, handle: JobHandle[Any]) -> bool:
        """Call the ``before_submit`` hooks; True if one skipped the job (it is refused)."""
        hooks = self._core.hooks
        assert hooks is not None
        skip = await hooks.before(hooks.before_submit, handle)
        if skip is None:
            return False
        await self._refuse(handle, skipped(handle, skip))
        return True

    def accepted(self, handle: JobHandle[Any], queue: JobQueue, due: float | None) -> None:
        """A job is in the store and holds its place: schedule it, or make it ready."""
        if due is None:
            self._waiting.make_ready(handle, queue, new=True)
        else:
            queue.track(handle)
            self._waiting.schedule(handle, due)
        if self._announcer.watched:
            self._announcer.submitted(handle)

    async def _room_within(self, queue: JobQueue, timeout: float | None) -> bool:  # noqa: ASYNC109
        """Wait for a place in a full queue, at most ``timeout`` seconds; True if one came.
        Submitters get places in the order they began to wait."""
        core = self._core

        async def room() -> None:
            while not queue.has_space():
                event = core.new_event()
                queue.space_waiters.append(event)
                try:
                    await event.wait()
                except BaseException:
                    if event in queue.space_waiters:
                        queue.space_waiters.remove(event)
                    elif queue.space_waiters and queue.has_space():
                        queue.space_waiters.popleft().set()  # pass the wake-up on
                    raise
                core.check_accepting()

        if timeout is None:
            await room()
            return True
        return await self._timers.within(core.clock.monotonic() + timeout, room)

    async def wait_for_space(self, queue: JobQueue) -> None:
        """Wait for a place for a requeued dead letter, as the queue's policy waits
        (``QueueFull`` once its ``timeout`` has passed)."""
        timeout = queue.policy.timeout
        if not await self._room_within(queue, timeout):
            queue.rejected += 1
            assert queue.maxsize is not None
            raise QueueFull(
                queue.name, queue.maxsize, f"policy: block; no room within {timeout} seconds"
            )

    async def _decide(self, handle: JobHandle[Any], queue: JobQueue) -> Decision:
        """Ask the queue's policy what to do with a job that does not fit. A policy that
        raises, or answers with what its ``full`` did not make, drops the job (logged)."""
        policy = queue.policy
        assert queue.maxsize is not None
        full = FullQueue(
            handle,
            queue.name,
            queue.maxsize,
            due_of(handle._definition.options, handle._record.created_at)[1] is not None,
            queue.has_space,
            lambda: self._waiting.waiting_in(queue),
            lambda: self._oldest(queue),
            lambda timeout: self._room_within(queue, timeout),
        )
        return await ask(
            policy,
            full,
            self._core.faults,
            lambda victim: self._evictable(queue, handle, victim),
        )

    def _evictable(
        self, queue: JobQueue, handle: JobHandle[Any], victim: object
    ) -> TypeGuard[JobHandle[Any]]:
        return (
            isinstance(victim, JobHandle)
            and victim is not handle
            and not victim._done
            and victim._engine is self._engine
            and victim._record.queue == queue.name
            and victim._record.state in _WAITING_STATES
        )

    def _oldest(self, queue: JobQueue) -> JobHandle[Any] | None:
        oldest = queue.oldest()
        if oldest is None and not queue.policy.tracks_order:
            waiting = self._waiting.waiting_in(queue)
            return min(waiting, key=lambda job: job._record.created_at, default=None)
        return oldest

    async def _evict(
        self, queue: JobQueue, handle: JobHandle[Any], victim: JobHandle[Any], reason: str
    ) -> None:
        """The new job is in: drop ``victim`` in its place (or, if the victim left the
        queue meanwhile, the oldest waiting job of a queue that keeps their order)."""
        if not self._evictable(queue, handle, victim):
            oldest = queue.oldest()
            if oldest is None or oldest is handle:
                return
            victim = oldest
        self._waiting.discard(victim)
        queue.rejected += 1
        assert queue.maxsize is not None
        await self._outcomes.finish(
            victim, JobState.REJECTED, error=_dropped(victim.id, queue.name, queue.maxsize, reason)
        )

    async def _drop_new(
        self,
        handle: JobHandle[Any],
        queue: JobQueue,
        reason: str,
        notify: Callable[[JobHandle[Any]], object] | None,
    ) -> None:
        record = handle._record
        error = JobRejected(
            record.id,
            f"job {record.id!r} was dropped: queue {queue.name!r} was full "
            f"({queue.maxsize} waiting); {reason}",
        )
        await self._refuse(handle, error)
        queue.rejected += 1
        if notify is not None:
            faults = self._core.faults
            try:
                outcome = await notify_handler(notify, handle)
                if outcome is not None:
                    faults.returned("reject handler", notify, outcome, f"job {record.id!r}")
            except BaseException as exc:
                if cancelled_here(exc):
                    raise
                faults.callback_failed("reject handler", notify, exc, f"job {record.id!r}")

    async def _refuse(self, handle: JobHandle[Any], error: JobRejected) -> None:
        """End a new job as rejected before it was accepted; its record is stored ended."""
        await self._outcomes.refuse(handle, error)

    async def _run_in_caller(self, handle: JobHandle[Any], queue: JobQueue) -> None:
        core = self._core
        record = handle._record
        hooks = core.hooks
        if hooks is not None and hooks.after_submit:
            await hooks.call(hooks.after_submit, handle)  # accepted, to run right here
        if hooks is not None and hooks.before_run:
            assert handle._context is not None
            # A private copy, not the snapshot jobs share: what the hooks set stays this job's.
            handle._context = context = handle._context.copy()
            context.run(current_job_var.set, handle)
            skip = await hooks.before(hooks.before_run, handle, context)
            if skip is not None:
                await self._refuse(handle, skipped(handle, skip))
                return
        record.state = JobState.RUNNING
        await core.store.add(record if core.backend is None else record.snapshot())
        held = self._claims.claim_of(handle)
        if held is not None:  # accepted: duplicates get this handle while the caller runs it
            self._claims.admitted(held)
        queue.rejected += 1
        queue.enqueued += 1
        if self._announcer.watched:
            self._announcer.submitted(handle)
        concluded = False
        attempts = self._attempts
        attempts.in_callers.add(handle)
        try:
            with anyio.CancelScope() as scope:
                concluded = await attempts.run(handle, queue, scope, in_caller=True)
        finally:
            attempts.in_callers.discard(handle)
        if not concluded:
            await self._outcomes.conclude_stopped(handle)
