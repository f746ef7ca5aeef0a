"""The end of an attempt: another attempt later (a retry), or the job's terminal outcome.

``finish`` records a terminal outcome once per job: it writes the record, stores it,
resolves the handle, wakes ``wait_idle`` callers and emits the ended event, then calls the
middleware's ``on_end`` hooks. ``retry`` sends a failed attempt back to wait for its next
one. ``conclude_stopped`` turns a stop (cancel, timeout, shutdown) into its outcome.

Every terminal outcome passes through here (``finish``, ``finish_now`` or ``refuse``), so
``on_end`` is called from here only, after the handle resolved: whoever ends a job awaits
its ``on_end`` hooks. ``finish_now``, the hot path, never calls them; the attempt takes it
only when no middleware overrides ``on_end``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from ._announcer import Announcer
from ._claims import Claims
from ._core import Core
from ._errors import (
    InvalidJob,
    JobAborted,
    JobCancelled,
    JobInterrupted,
    JobOutcomeError,
    JobRejected,
    JobTimedOut,
    RemoteJobError,
    UnencodablePayload,
)
from ._escalation import escalates
from ._events import JobRetried
from ._faults import describe_error
from ._handle import JobHandle
from ._known_jobs import KnownJobs
from ._leases import LeaseBook
from ._options import after
from ._record import Attempt, JobRecord
from ._spawn import Event
from ._states import TERMINAL_STATES, JobState
from ._waiting import Waiting
from .serializers import encode_payload

logger = logging.getLogger("asyncjobs")

_RUNNING = JobState.RUNNING
_SCHEDULED = JobState.SCHEDULED
_FAILED = JobState.FAILED
_INTERRUPTED = JobState.INTERRUPTED

CANCEL = "cancel"
TIMEOUT = "timeout"
SHUTDOWN = "shutdown"
LOST = "lost"  # its lease on a shared backend ran out: the job runs again elsewhere


def log_failure(record: JobRecord, error: BaseException) -> None:
    """Every final failure logs this one WARNING, with the traceback if there is one."""
    logger.warning(
        "job %s (%s) failed: %s", record.name, record.id, describe_error(error), exc_info=error
    )


def interrupted(handle: JobHandle[Any]) -> JobInterrupted:
    return JobInterrupted(
        handle._record.id, f"job {handle._record.id!r} was interrupted by shutdown"
    )


def _ended_elsewhere(record: JobRecord) -> BaseException | None:
    """What ``await handle`` raises for a job that ended in another runner (None: it
    succeeded): the error of its outcome, with the text the backend keeps."""
    kind: type[JobOutcomeError] | None = {
        JobState.FAILED: RemoteJobError,
        JobState.CANCELLED: JobCancelled,
        JobState.REJECTED: JobRejected,
        JobState.INTERRUPTED: JobInterrupted,
    }.get(record.state)
    if kind is None:
        return None
    return kind(record.id, record.error or f"job {record.id!r} ended {record.state.value}")


class Outcomes:
    """Records how attempts and jobs end, for one runner."""

    def __init__(
        self,
        core: Core,
        waiting: Waiting,
        claims: Claims,
        announcer: Announcer,
        known: KnownJobs,
        busy: Callable[[], bool],
        leases: LeaseBook | None = None,
    ) -> None:
        self._core = core
        self._leases = leases  # a shared backend's: jobs run here under its leases
        # A leased job's end as one plain call (on a backend that makes its steps so).
        self._end_now = (
            leases.end_now if leases is not None and core.nowait_backend is not None else None
        )
        # Jobs running in their submitters' tasks (caller_runs): on a backend they hold no
        # lease, so their outcome is written as a record (see _unleased).
        self.in_callers: set[JobHandle[Any]] = set()
        self._waiting = waiting
        self._claims = claims
        self._announcer = announcer
        self._known = known
        self._busy = busy  # whether any job is running
        # Finished records waiting to be folded into the statistics (None: statistics off).
        self._stats_pending = None if core.stats is None else core.stats.pending
        self.idle_waiters: list[Event] = []

    # ----------------------------------------------------------------- terminal outcomes

    async def finish(
        self,
        handle: JobHandle[Any],
        state: JobState,
        *,
        result: Any = None,
        error: BaseException | None = None,
    ) -> None:
        """Record the terminal outcome, resolve the handle, emit the event, then call the
        ``on_end`` hooks. Once per job: a job already finished is left alone."""
        if await self._store_outcome(handle, state, result, error):
            hooks = self._core.hooks
            if hooks is not None and hooks.on_end:
                await hooks.call(hooks.on_end, handle, state, error)

    async def _store_outcome(
        self, handle: JobHandle[Any], state: JobState, result: Any, error: BaseException | None
    ) -> bool:
        """``finish`` without the ``on_end`` hooks; False if the job had already finished."""
        core = self._core
        if core.update_nowait is not None:
            return self.finish_now(handle, state, result, error)
        if core.serializer is not None and state is JobState.SUCCEEDED and result is not None:
            try:  # a store of bytes must be able to keep the result
                encode_payload(core.serializer, "result", result)
            except UnencodablePayload as exc:
                state, result, error = _FAILED, None, exc
                log_failure(handle._record, exc)
        leases = self._leases
        if leases is not None:
            return await self._release(leases, handle, state, result, error)
        if not self.settle(handle, state, result, error):
            return False
        try:
            await core.store.update(handle._record)
        except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
            core.faults.callback_failed("store", core.store.update, exc, f"job {handle.id!r}")
        finally:
            self.resolve(handle)
        return True

    async def _release(
        self,
        leases: LeaseBook,
        handle: JobHandle[Any],
        state: JobState,
        result: Any,
        error: BaseException | None,
    ) -> bool:
        """``_store_outcome`` on a shared backend: the outcome goes to the backend with the
        job's lease. A job cut off by shutdown is given back to wait there (another runner,
        or this one after a restart, runs it); its handle here ends interrupted. A job not
        leased here (one waiting in the backend) is the backend's to end: nothing written."""
        if not self.settle(handle, state, result, error):
            return False
        leases.forget(handle)
        try:
            if state is _INTERRUPTED and not self._core.own_backend:
                kept = await leases.give_back(handle)
            else:
                kept = await leases.release(handle)
            if not kept and handle in self.in_callers:  # it ran under no lease
                await self._unleased(handle)
        finally:
            self.resolve(handle)
        return True

    def finish_now(
        self, handle: JobHandle[Any], state: JobState, result: Any, error: BaseException | None
    ) -> bool:
        """``finish`` for a store with ``update_nowait`` (or a backend whose release is a
        plain call), no coroutine on the hot path, and without the ``on_end`` hooks (the
        caller's to call); False if already finished."""
        if not self.settle(handle, state, result, error):
            return False
        end_now = self._end_now
        if end_now is not None:
            try:
                if not end_now(handle) and handle in self.in_callers:
                    self._unleased_now(handle)  # it ran under no lease
            finally:
                self.resolve(handle)
            return True
        update = self._core.update_nowait
        assert update is not None
        try:
            update(handle._record)
        except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
            self._core.faults.callback_failed("store", update, exc, f"job {handle.id!r}")
        finally:
            self.resolve(handle)
        return True

    async def _unleased(self, handle: JobHandle[Any]) -> None:
        """The outcome of a job that ran in its submitter on a backend (under no lease): its
        record, written as it ended."""
        store = self._core.store
        try:
            await store.update(handle._record.snapshot())
        except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
            self._core.faults.callback_failed("store", store.update, exc, f"job {handle.id!r}")

    def _unleased_now(self, handle: JobHandle[Any]) -> None:
        """``_unleased`` as a plain call, on a backend that makes writes so."""
        nowait = self._core.nowait_backend
        assert nowait is not None  # see finish_now
        try:
            nowait.update_nowait(handle._record.snapshot())
        except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
            self._core.faults.callback_failed("backend", nowait.update_nowait, exc, handle.id)

    async def refuse(self, handle: JobHandle[Any], error: JobRejected) -> None:
        """End a new job as rejected before it was accepted: its record is stored ended
        (added, it was never stored), the handle resolved, then the ``on_end`` hooks."""
        self.settle(handle, JobState.REJECTED, None, error)
        record = handle._record
        await self._core.store.add(record if self._leases is None else record.snapshot())
        self.resolve(handle)
        hooks = self._core.hooks
        if hooks is not None and hooks.on_end:
            await hooks.call(hooks.on_end, handle, JobState.REJECTED, error)

    def settle(
        self, handle: JobHandle[Any], state: JobState, result: Any, error: BaseException | None
    ) -> bool:
        """Write the outcome into the record; False if the job had already finished."""
        if handle._done:
            return False
        record = handle._record
        if record.state is _RUNNING:  # it ran: count it where it ran
            queue = self._waiting.queues[record.queue]
            queue.processed += 1
            if state is _FAILED:
                queue.failed += 1
            elif state is _INTERRUPTED:
                record.attempts -= 1  # an attempt cut off by shutdown is not used up
        record.state = state
        record.finished_at = self._core.time()
        record.result = result
        if error is not None:
            record.error = describe_error(error)
            handle._error = error
            handle._error_tb = error.__traceback__
            if state is _FAILED:
                record.traceback = "".join(traceback.format_exception(error))
                self._known.keep_dead(record.id, handle._definition)
            elif state is _INTERRUPTED and self._core.shutdown_interrupted is not None:
                self._core.shutdown_interrupted.append(record.id)
        handle._done = True  # from here on, nothing else can finish this job
        pending = self._stats_pending
        if pending is not None:
            pending.append(record)
            if len(pending) >= 512:
                assert self._core.stats is not None
                self._core.stats.fold()
        claims = self._claims
        if claims.keys:
            claims.release(handle)
        # The context holds current_job, which is this handle: drop it so a finished job is
        # freed by reference counting alone, without waiting for the cycle collector.
        handle._context = None
        return True

    def adopt(
        self, handle: JobHandle[Any], record: JobRecord, error: BaseException | None = None
    ) -> None:
        """A job of this runner's submitters ended elsewhere (``record``, as the shared
        backend has it): take its outcome and resolve its handle. Nothing is written, and
        no hook is called: that was done where the job ended."""
        if handle._done or record.state not in TERMINAL_STATES:
            return
        local = handle._record
        local.state = record.state
        local.started_at = record.started_at
        local.finished_at = record.finished_at
        local.attempts = record.attempts
        local.result = record.result
        local.error = record.error
        local.traceback = record.traceback
        local.retries = record.retries
        latest = record.progress
        if latest is not None and (
            local.progress is None or latest.sequence > local.progress.sequence
        ):
            # The channel may not have brought it (yet): followers get the latest, always.
            self._announcer.progressed(handle, latest)
        handle._error = error if error is not None else _ended_elsewhere(record)
        handle._done = True
        handle._context = None
        if self._leases is not None:
            self._leases.forget(handle)
        self.resolve(handle)

    def resolve(self, handle: JobHandle[Any]) -> None:
        """The outcome is stored: resolve the handle, wake idle waiters, emit the event."""
        waiter = handle._waiter  # handle._done is already set
        if waiter is not None:
            waiter.set()
        if self.idle_waiters:
            self.wake_idle()
        channel = handle._progress
        if channel is not None:
            channel.close()
        if self._announcer.watched:
            self._announcer.ended(handle)

    def wake_idle(self) -> None:
        """Wake ``wait_idle`` callers if no job is queued or running now."""
        if not self._busy() and not self._waiting.has_ready():
            for waiter in self.idle_waiters:
                waiter.set()
            self.idle_waiters.clear()

    async def cancelled(self, handle: JobHandle[Any]) -> None:
        record = handle._record
        when = "while running" if record.state is _RUNNING else "before it started"
        await self.finish(
            handle,
            JobState.CANCELLED,
            error=JobCancelled(record.id, f"job {record.id!r} was cancelled {when}"),
        )

    async def interrupt(self, handle: JobHandle[Any]) -> None:
        await self.finish(handle, JobState.INTERRUPTED, error=interrupted(handle))

    async def failed_for_good(self, handle: JobHandle[Any], error: BaseException) -> None:
        """Record a final failure with the middleware's ``on_failure`` hooks before it, and
        its ``on_dead_letter`` then ``on_end`` hooks after it."""
        hooks = self._core.hooks
        if hooks is not None and hooks.on_failure:
            await hooks.call(hooks.on_failure, handle, error)
        if await self._store_outcome(handle, _FAILED, None, error) and hooks is not None:
            if hooks.on_dead_letter:
                await hooks.call(hooks.on_dead_letter, handle)
            if hooks.on_end:
                await hooks.call(hooks.on_end, handle, _FAILED, error)

    async def conclude_stopped(self, handle: JobHandle[Any]) -> None:
        """Record the outcome of a job that we stopped, by the reason it was stopped."""
        record = handle._record
        reason = handle._stop_reason
        if reason is CANCEL:
            await self.cancelled(handle)
        elif reason is TIMEOUT:
            error = JobTimedOut(
                record.id, f"job {record.id!r} timed out after {record.timeout} seconds"
            )
            delay = self.retry_delay(handle, error)
            if delay is None:
                log_failure(record, error)
                await self.failed_for_good(handle, error)
            else:
                handle._stop_reason = None  # the stop was for this attempt only
                await self.retry(handle, error, delay)
        elif reason is LOST:
            self._lost(handle)
        else:
            await self.interrupt(handle)

    def _lost(self, handle: JobHandle[Any]) -> None:
        """The attempt stopped because its lease was lost: nothing is written (the backend
        has the job again), and the handle waits for the job's end wherever it runs."""
        record = handle._record
        if record.state is _RUNNING:
            self._waiting.queues[record.queue].processed += 1
        handle._stop_reason = None
        record.state = JobState.QUEUED
        record.started_at = None
        if self._leases is not None:
            self._leases.stopped(handle)
        if self.idle_waiters:
            self.wake_idle()

    # ----------------------------------------------------------------- retries

    def retry_delay(self, handle: JobHandle[Any], error: BaseException) -> float | None:
        """Seconds until the failed job's next attempt, or None if it has failed for good."""
        policy = handle._definition.options.retry
        if policy is None or isinstance(error, (JobAborted, InvalidJob)):
            return None  # a stop, or a mistake in the job: another attempt ends the same
        try:
            return policy.delay_after(handle._record.attempts, error)
        except BaseException as exc:  # a backoff function's KeyboardInterrupt or the like
            if not escalates(exc):
                raise
            self._core.faults.callback_failed("backoff", policy.backoff, exc, f"job {handle.id!r}")
            return None  # the job fails for good: the runner is stopping

    async def retry(self, handle: JobHandle[Any], error: BaseException, delay: float) -> None:
        """The running job's attempt failed and it gets another after ``delay`` seconds: it
        leaves its worker and waits, like a scheduled job, then re-enters its queue."""
        core = self._core
        record = handle._record
        now = core.time()
        text = describe_error(error)
        # INFO, without the traceback: a retry is expected; the final failure logs a warning
        # with it, and record.traceback keeps it.
        logger.info(
            "job %s (%s) attempt %d failed: %s; retrying in %.3f s",
            record.name,
            record.id,
            record.attempts,
            text,
            delay,
        )
        started = record.started_at
        assert started is not None  # it was running
        record.retries = (
            *record.retries,
            Attempt(
                number=len(record.retries) + 1,
                started_at=started,
                finished_at=now,
                outcome=_FAILED,
                error=text,
            ),
        )
        record.error = text
        record.started_at = None  # no attempt under way
        record.state = _SCHEDULED
        record.scheduled_for = after(now, delay)
        queue = self._waiting.queues[record.queue]
        leases = self._leases
        if not core.accepting and (leases is None or core.own_backend):
            # Shutdown has begun: the job keeps its remaining attempts and ends interrupted.
            # It ran and ended (no longer RUNNING, so settle would not count it).
            queue.processed += 1
            await self.interrupt(handle)
            return
        if leases is not None:  # the backend holds the job until its retry is due
            queue.retried += 1
            await leases.release(handle, retry_at=record.scheduled_for)
        else:
            queue.hold_for_retry(handle)
            self._waiting.schedule(handle, core.clock.monotonic() + delay)
        if core.stats is not None:
            core.stats.note_retry(record.name, record.queue, now)
        if self._announcer.watched:
            self._announcer.emit(
                JobRetried,
                handle,
                attempt=record.attempts,
                delay=delay,
                error=text,
                started_at=started,
                finished_at=now,
            )
        if core.write_progress and leases is None:
            await core.persist(record)
        hooks = core.hooks
        if hooks is not None and hooks.on_retry:
            await hooks.call(hooks.on_retry, handle, error, delay)
        if self.idle_waiters:  # it waits for its retry now, neither queued nor running
            self.wake_idle()
