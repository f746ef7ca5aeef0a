"""Full-queue policies: what a bounded queue does with a job that does not fit.

A policy is an object with one coroutine, ``decide(full)``. ``full`` (a ``FullQueue``) tells
it about the queue and the new job, lets it look at the jobs waiting there and wait for room,
and makes its answer: ``admit()`` (there is room now), ``refuse(detail)`` (``submit`` raises
``QueueFull``; nothing is created), ``drop(reason)`` (the new job ends ``rejected``),
``evict(victim, reason)`` (the new job is taken, a waiting one ends ``rejected`` in its
place) or ``run_in_caller()`` (the submitter runs it, inside ``submit``). Admission carries
the answer out; it never looks at which policy gave it.

The named policies (``RejectPolicy``) are objects of this module; a plain callable given as
``on_full`` is a reject handler (the new job is dropped and the callable told); a subclass of
``FullQueuePolicy`` is a policy of your own. A policy that raises, or answers with something
that is not an answer of its ``full``, is logged and the new job is dropped: the bound holds.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import AsyncJobsError, echo
from ._escalation import cancelled_here

if TYPE_CHECKING:
    from ._faults import RepeatLog
    from ._handle import JobHandle


class Decision:
    """A policy's answer for one job; made by ``FullQueue``'s methods, never by hand."""

    __slots__ = ("kind", "detail", "victim", "notify", "_full")

    def __init__(
        self,
        full: FullQueue,
        kind: str,
        detail: str = "",
        victim: JobHandle[Any] | None = None,
        notify: Callable[[JobHandle[Any]], object] | None = None,
    ) -> None:
        self._full = full
        self.kind = kind
        self.detail = detail
        self.victim = victim
        self.notify = notify

    def made_for(self, full: FullQueue) -> bool:
        """Whether this answer was made by ``full`` (a policy cannot reuse another's)."""
        return self._full is full

    def __repr__(self) -> str:
        return f"<Decision {self.kind}{': ' + self.detail if self.detail else ''}>"


ADMIT = "admit"
REFUSE = "refuse"
DROP = "drop"
EVICT = "evict"
RUN_IN_CALLER = "run_in_caller"


class FullQueue:
    """What a policy knows and can do about a queue that has no room for ``job``."""

    def __init__(
        self,
        job: JobHandle[Any],
        queue: str,
        maxsize: int,
        due_later: bool,
        has_room: Callable[[], bool],
        waiting: Callable[[], Sequence[JobHandle[Any]]],
        oldest: Callable[[], JobHandle[Any] | None],
        wait_for_room: Callable[[float | None], Awaitable[bool]],
    ) -> None:
        self.job = job
        """The new job (its handle; it has not been stored or queued)."""
        self.queue = queue
        """The queue's name."""
        self.maxsize = maxsize
        """The queue's bound."""
        self.due_later = due_later
        """Whether the new job is due later (a delay or an ``at`` in the future)."""
        self._has_room = has_room
        self._waiting = waiting
        self._oldest = oldest
        self._wait_for_room = wait_for_room

    def has_room(self) -> bool:
        """Whether the queue has a free place now (another job may have left)."""
        return self._has_room()

    def waiting(self) -> Sequence[JobHandle[Any]]:
        """The jobs waiting in the queue: the ready ones in the order they would run, then
        the scheduled ones. Any of them can be an ``evict`` victim."""
        return self._waiting()

    def oldest(self) -> JobHandle[Any] | None:
        """The job that has waited longest, or None."""
        return self._oldest()

    async def wait_for_room(self, timeout: float | None = None) -> bool:
        """Wait until the queue has a place (at most ``timeout`` seconds); True if it has.
        Waiting submitters get places in the order they began to wait. Shutdown ends the
        wait with ``RunnerNotRunning``."""
        return await self._wait_for_room(timeout)

    def admit(self) -> Decision:
        """Take the job: there is room (after ``wait_for_room``), or the bound may bend."""
        return Decision(self, ADMIT)

    def refuse(self, detail: str) -> Decision:
        """``submit`` raises ``QueueFull`` with this detail; nothing is created."""
        return Decision(self, REFUSE, detail)

    def drop(
        self, reason: str, notify: Callable[[JobHandle[Any]], object] | None = None
    ) -> Decision:
        """The new job ends ``rejected`` (its handle raises ``JobRejected`` naming
        ``reason``); ``notify(handle)`` is then called, if given (errors are logged)."""
        return Decision(self, DROP, reason, notify=notify)

    def evict(self, victim: JobHandle[Any], reason: str) -> Decision:
        """Take the new job; ``victim``, a job waiting in this queue (see ``waiting``),
        ends ``rejected`` in its place, with ``reason``."""
        return Decision(self, EVICT, reason, victim=victim)

    def run_in_caller(self) -> Decision:
        """The submitter runs the job itself, inside ``submit`` (not for a job due later)."""
        return Decision(self, RUN_IN_CALLER)


class FullQueuePolicy:
    """Base class of full-queue policies: override ``decide``.

    Class attributes say how batches and requeues treat the queue: ``refuses_batches`` (a
    ``submit_many`` that does not fit is refused whole, up front), ``waits`` (a requeued dead
    letter waits for room, at most ``timeout`` seconds, instead of raising ``QueueFull``)
    and ``tracks_order`` (the queue
    keeps its jobs' submission order, so ``oldest`` costs nothing)."""

    name = "custom"
    refuses_batches = False
    waits = False
    timeout: float | None = None  # how long a waiting requeue waits (with ``waits``)
    tracks_order = False

    async def decide(self, full: FullQueue) -> Decision:
        """The answer for ``full.job``; the base refuses it."""
        return full.refuse(f"policy: {self.name}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class RaiseWhenFull(FullQueuePolicy):
    """``raise``: ``submit`` raises ``QueueFull``."""

    name = "raise"
    refuses_batches = True

    async def decide(self, full: FullQueue) -> Decision:
        return full.refuse("policy: raise")


class Block(FullQueuePolicy):
    """``block``: wait for room, at most ``timeout`` seconds (then ``QueueFull``)."""

    name = "block"
    waits = True

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = timeout

    async def decide(self, full: FullQueue) -> Decision:
        if await full.wait_for_room(self.timeout):
            return full.admit()
        return full.refuse(f"policy: block; no room within {self.timeout} seconds")


class DropOldest(FullQueuePolicy):
    """``drop_oldest``: the job that has waited longest makes room for the new one."""

    name = "drop_oldest"
    tracks_order = True

    async def decide(self, full: FullQueue) -> Decision:
        oldest = full.oldest()
        if oldest is None:
            return full.admit()
        return full.evict(oldest, "policy drop_oldest made room for a newer one")


class DropNewest(FullQueuePolicy):
    """``drop_newest``: the new job is dropped."""

    name = "drop_newest"

    async def decide(self, full: FullQueue) -> Decision:
        if full.has_room():
            return full.admit()
        return full.drop("policy: drop_newest")


class CallerRuns(FullQueuePolicy):
    """``caller_runs``: the submitter runs the job, inside ``submit``."""

    name = "caller_runs"

    async def decide(self, full: FullQueue) -> Decision:
        if full.has_room():
            return full.admit()
        if full.due_later:
            return full.refuse(
                "policy: caller_runs, but the caller cannot run a job that is scheduled for later"
            )
        return full.run_in_caller()


class CallHandler(FullQueuePolicy):
    """A reject handler: the new job is dropped and ``handler(handle)`` called with it (a
    coroutine it returns is awaited)."""

    name = "handler"

    def __init__(self, handler: Callable[[JobHandle[Any]], object]) -> None:
        self.handler = handler

    async def decide(self, full: FullQueue) -> Decision:
        if full.has_room():
            return full.admit()
        return full.drop("policy: a custom reject handler", notify=self.handler)


async def notify(handler: Callable[[JobHandle[Any]], object], handle: JobHandle[Any]) -> object:
    """Call a reject handler; await what it returns if that is awaitable."""
    outcome = handler(handle)
    if inspect.isawaitable(outcome):
        outcome = await outcome
    return outcome


async def ask(
    policy: FullQueuePolicy,
    full: FullQueue,
    faults: RepeatLog,
    evictable: Callable[[object], bool],
) -> Decision:
    """The answer of ``policy`` for ``full``, as admission can carry it out. A policy that
    raises, answers with what its ``full`` did not make, or picks a victim ``evictable``
    refuses, drops the new job (logged); ``run_in_caller`` for a job due later is refused."""
    what = f"job {full.job.id!r}"
    try:
        decision = await policy.decide(full)
    except BaseException as exc:
        if cancelled_here(exc) or isinstance(exc, AsyncJobsError):
            raise  # a cancelled wait, QueueFull, RunnerNotRunning: the submit's own
        faults.callback_failed("reject policy", policy.decide, exc, what)
        return full.drop(f"policy {policy!r} failed")
    if not isinstance(decision, Decision) or not decision.made_for(full):
        return _faulty(full, policy, faults, f"gave {echo(decision)}, not an answer of its own")
    if decision.kind is EVICT and not evictable(decision.victim):
        return _faulty(
            full, policy, faults, f"chose {echo(decision.victim)}, not a job waiting in the queue"
        )
    if decision.kind is RUN_IN_CALLER and full.due_later:
        return full.refuse(
            f"policy {policy!r} chose caller_runs, but the caller cannot run a job that "
            "is scheduled for later"
        )
    return decision


def _faulty(full: FullQueue, policy: FullQueuePolicy, faults: RepeatLog, what: str) -> Decision:
    """A policy's answer cannot be carried out: log it, and drop the new job."""
    faults.note(
        ("reject policy", type(policy).__qualname__, "answer"),
        logging.ERROR,
        f"reject policy {policy!r} {what} for job {full.job.id!r}; the job was dropped",
        what=f"reject policy {policy!r} answered wrongly again",
        latest=f"job {full.job.id!r}",
    )
    return full.drop(f"policy {policy!r} {what}")
