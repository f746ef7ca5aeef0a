"""Shutdown: stop taking work, drain for a grace period, cancel, return by a hard deadline.

``Shutdown.drain`` runs the sequence and builds the ``ShutdownReport``: scheduled jobs and
(without ``drain_on_shutdown``) queued ones end interrupted at once; running and queued ones
get the grace period; then what is left is cancelled and gets ``cancel_timeout`` to stop;
handlers that ignore that are abandoned. The runner closes its parts after it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, Protocol

import anyio
import anyio.lowlevel
import attrs

from ._attempt import Attempts
from ._core import Core
from ._handle import JobHandle
from ._outcomes import SHUTDOWN, Outcomes
from ._spawn import Event
from ._states import JobState
from ._timers import TimerService
from ._waiting import Waiting
from ._workers import Workers

logger = logging.getLogger("asyncjobs")


class EndsWaiting(Protocol):
    """Ends a runner's jobs that wait outside its queues ``interrupted``: the scheduled
    ones, and with ``queued`` the queued ones too (``SharedWork.interrupt_waiting``)."""

    def __call__(self, *, queued: bool) -> Awaitable[None]: ...


_INTERRUPTED = JobState.INTERRUPTED
_STOP_TURNS = 4  # loop turns a cancelled handler gets to stop, whatever the cancel timeout


@attrs.frozen(kw_only=True)
class ShutdownReport:
    """What shutdown did. ``drained``: everything finished within the grace period.

    ``interrupted``: ids of jobs ended as interrupted (waiting ones not run, running ones
    cancelled). ``abandoned``: jobs whose code was still running when shutdown returned,
    left running, detached from the runner: handlers that ignored cancellation past the
    hard deadline (interrupted), and sync jobs whose worker thread had not returned, which
    Python cannot stop (interrupted by this shutdown, or cancelled or timed out before it).
    On asyncio the interpreter waits for such a thread at exit. ``late``: jobs that ended
    on their own, but only after the grace period was over, so shutdown could not act in
    time: they held the event loop (blocking code in an ``async def``, such as
    ``time.sleep``). ``hurried``: the shutdown was cancelled from outside (a cancel scope
    around leaving the block, Ctrl-C under ``asyncio.run``), which cut the grace period
    short: running jobs were cancelled at once.
    """

    drained: bool
    interrupted: tuple[str, ...]
    abandoned: tuple[str, ...]
    late: tuple[str, ...] = ()
    hurried: bool = False


class Shutdown:
    """The shutdown sequence of one runner's jobs."""

    def __init__(
        self,
        core: Core,
        timers: TimerService,
        waiting: Waiting,
        attempts: Attempts,
        outcomes: Outcomes,
        workers: Workers,
        *,
        grace_period: float,
        cancel_timeout: float,
        drain: bool,
        elsewhere: EndsWaiting | None = None,
    ) -> None:
        self._core = core
        self._timers = timers
        self._waiting = waiting
        self._attempts = attempts
        self._outcomes = outcomes
        self._workers = workers
        self._grace_period = grace_period
        self.cancel_timeout = cancel_timeout
        self._drain = drain
        # Jobs of this runner that wait outside its queues (in a runner's own backend): a
        # call that ends them interrupted (the scheduled ones; with queued=True, all).
        self._elsewhere = elsewhere

    async def drain(self) -> tuple[ShutdownReport, BaseException | None]:
        """Bring every job to its end; the report, and the cancellation that cut the grace
        period short (to be raised once the runner has closed), if one did."""
        core = self._core
        clock = core.clock
        waiting = self._waiting
        running_jobs = self._attempts.running
        # Every job that ends interrupted from now on, whichever path ends it (see settle).
        interrupted = core.shutdown_interrupted = []
        with anyio.CancelScope(shield=True):
            for queue in waiting.queue_list:
                while queue.space_waiters:
                    queue.space_waiters.popleft().set()
            for handle in list(waiting.scheduled):
                await self._interrupt_waiting(handle)
            if self._elsewhere is not None:
                await self._elsewhere(queued=not self._drain)
            if not self._drain:
                await self._interrupt_ready()
            waiting.wake_all_workers()
            grace_ends = clock.monotonic() + self._grace_period
            grace_ends_at = core.time() + self._grace_period  # the same, on the wall clock
            running_at_start = list(running_jobs)
        hurried: BaseException | None = None
        threads = self._attempts.threads
        try:  # the only part a cancellation from outside may cut short
            drained = await self._wait_quiet_until(grace_ends)
            if drained:  # threads of jobs stopped earlier get the rest of the grace period
                await threads.wait_until(grace_ends, core.new_event, self._wait_event_until)
        except anyio.get_cancelled_exc_class() as exc:
            hurried, drained = exc, False
            logger.warning("shutdown was cancelled: cancelling the running jobs at once")
        with anyio.CancelScope(shield=True):
            late = [
                handle._record.id
                for handle in running_at_start
                if handle._done
                and handle._record.state is not _INTERRUPTED
                and (handle._record.finished_at or 0.0) > grace_ends_at
            ]
            if late:
                drained = False
                logger.warning(
                    "job(s) %s ended only after the grace period was over: they held the "
                    "event loop (blocking code in an async def?), so shutdown could not act",
                    ", ".join(late),
                )
            abandoned: list[str] = []
            if not drained:
                await self._cancel_running(abandoned)
            for handle in threads.still_running():
                if handle._done:  # stopped, but its thread has not returned
                    abandoned.append(handle._record.id)
                    logger.warning(
                        "job %s (%s) ended %s, but its function is still running in a worker "
                        "thread, which Python cannot stop; abandoned. Its result will be "
                        "discarded, and on asyncio the process cannot exit until it returns "
                        "(a long sync job can call anyio.from_thread.check_cancelled() to "
                        "stop when asked)",
                        handle._record.name,
                        handle._record.id,
                        handle._record.state.value,
                    )
        report = ShutdownReport(
            drained=drained,
            interrupted=tuple(interrupted),
            abandoned=tuple(abandoned),
            late=tuple(late),
            hurried=hurried is not None,
        )
        return report, hurried

    async def _cancel_running(self, abandoned: list[str]) -> None:
        """Cancel what still runs, give it ``cancel_timeout``, abandon what ignores that."""
        core = self._core
        if self._elsewhere is not None:
            await self._elsewhere(queued=True)
        await self._interrupt_ready()
        running = list(self._attempts.running)
        for handle in running:
            self._attempts.stop(handle, SHUTDOWN)
        deadline = core.clock.monotonic() + self.cancel_timeout
        if await self._wait_quiet_until(deadline):
            await self._attempts.threads.wait_until(
                deadline, core.new_event, self._wait_event_until
            )
        # A cancelled handler needs a turn or two of the loop to stop (trio's checkpoint
        # takes two), even when the cancel timeout left it no time.
        for _ in range(_STOP_TURNS):
            if all(handle._done for handle in running):
                break
            await anyio.lowlevel.checkpoint()
        for handle in running:
            if not handle._done:
                abandoned.append(handle._record.id)
                logger.error(
                    "job %s (%s) ignored cancellation past the shutdown deadline; "
                    "abandoned, still running",
                    handle._record.name,
                    handle._record.id,
                )
                await self._outcomes.interrupt(handle)

    async def _wait_event_until(self, event: Event, deadline: float) -> bool:
        return event.is_set() or await self._timers.within(deadline, event.wait)

    async def _wait_quiet_until(self, deadline: float) -> bool:
        """Wait until the workers have exited and no job runs anywhere (a caller-runs job
        runs in its submitter's task), or the deadline passes; True if quiet."""
        done = self._workers.done
        assert done is not None
        if not await self._wait_event_until(done, deadline):
            return False
        while self._attempts.running:
            event = self._core.new_event()
            self._outcomes.idle_waiters.append(event)
            if not await self._wait_event_until(event, deadline):
                return False
        return True

    async def _interrupt_waiting(self, handle: JobHandle[Any]) -> None:
        self._waiting.discard(handle)
        await self._outcomes.interrupt(handle)

    async def _interrupt_ready(self) -> None:
        for queue in self._waiting.queue_list:
            for handle in queue.ready_jobs():
                await self._interrupt_waiting(handle)
            queue.compact()
