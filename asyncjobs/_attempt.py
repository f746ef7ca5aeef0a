"""One attempt of a job: its context, the run hooks, its timeout, its cancel scope.

``Attempts.run`` runs a job's handler in the submitter's context (a copy of it), under the
worker's cancel scope, with the job's timeout on a timer, a sync function in a worker
thread; then it hands the outcome to ``Outcomes``. ``stop`` asks a running job to stop
(cancel, timeout, shutdown): the first reason given decides its outcome.
"""

from __future__ import annotations

import functools
from typing import Any

import anyio
import anyio.to_thread

from ._announcer import Announcer
from ._context import in_context
from ._core import Core
from ._errors import JobAborted, JobRejected
from ._escalation import cancel_requested, escalates
from ._handle import JobHandle, current_job_var
from ._outcomes import TIMEOUT, Outcomes, interrupted, log_failure
from ._queue import JobQueue
from ._states import JobState
from ._threads import Threads, unwrap
from ._timers import TimerService
from ._tracebacks import trim

_RUNNING = JobState.RUNNING
_SUCCEEDED = JobState.SUCCEEDED
_FAILED = JobState.FAILED


def skipped(handle: JobHandle[Any], skip: BaseException) -> JobRejected:
    """The rejection of a job that middleware skipped (``SkipJob``)."""
    record = handle._record
    return JobRejected(record.id, f"job {record.id!r} was skipped by middleware: {skip}")


class Attempts:
    """The jobs running now, and how each attempt runs."""

    def __init__(
        self, core: Core, timers: TimerService, outcomes: Outcomes, announcer: Announcer
    ) -> None:
        self._core = core
        self._timers = timers
        self._outcomes = outcomes
        self._announcer = announcer
        # Whether an attempt's outcome can be stored with no coroutine: a store that offers
        # update_nowait (or a backend that releases with a plain call), and no on_end
        # hooks to await (finish_now does not call them).
        self._nowait = (core.update_nowait is not None or core.nowait_backend is not None) and (
            core.hooks is None or not core.hooks.on_end
        )
        # Running jobs -> the cancel scope their handler runs in (None until it starts).
        self.running: dict[JobHandle[Any], anyio.CancelScope | None] = {}
        # Sync jobs whose function is running in a worker thread (a stopped one's too).
        self.threads: Threads[JobHandle[Any]] = Threads()
        # Jobs running in their submitter's task (caller_runs), not in a worker.
        self.in_callers = outcomes.in_callers  # jobs running in their submitters' tasks

    def running_jobs(self) -> tuple[JobHandle[object], ...]:
        return tuple(handle for handle in self.running if not handle._done)

    def stop(self, handle: JobHandle[Any], reason: str) -> None:
        """Ask a running job to stop; the first reason given decides its outcome.

        ``running`` holds the job's scope only while its handler runs, so the cancellation
        can only land in this job's handler, never in the worker's next job. A stop that
        comes before the handler starts is remembered, and the handler is never started."""
        if handle._stop_reason is None and not handle._done:
            handle._stop_reason = reason
            scope = self.running.get(handle)
            if scope is not None:
                scope.cancel()

    async def run(
        self,
        handle: JobHandle[Any],
        queue: JobQueue,
        scope: anyio.CancelScope | None,
        in_caller: bool = False,
    ) -> bool:
        """Run one job. Returns True when it reached its outcome; False when it was stopped
        (cancel, timeout, shutdown) and must be concluded with ``conclude_stopped`` outside
        ``scope``. Our own cancellation of ``scope`` propagates to it; no other exception
        escapes, except the task's own cancellation. ``in_caller``: a caller-runs job,
        already stored as running, whose ``before_run`` hooks have run."""
        core = self._core
        outcomes = self._outcomes
        record = handle._record
        snapshot = handle._context
        assert snapshot is not None  # dropped only once the job has finished
        # The job's own context, made now: a waiting job holds only the shared snapshot.
        context = snapshot.copy()
        context.run(current_job_var.set, handle)
        hooks = core.hooks
        running = self.running
        if hooks is not None and not in_caller and hooks.before_run:
            running[handle] = None  # a cancel now is remembered, not lost
            try:
                skip = await hooks.before(hooks.before_run, handle, context)
            finally:
                running.pop(handle, None)
            if handle._stop_reason is not None:
                return False
            if skip is not None:
                await outcomes.finish(handle, JobState.REJECTED, error=skipped(handle, skip))
                return True
        if in_caller or record.state is not _RUNNING:  # else its backend started it
            record.state = _RUNNING
            record.started_at = core.time()
            record.attempts += 1
        if not in_caller and core.write_progress:
            running[handle] = None  # running while its start is being stored
            await core.persist(record)
        if self._announcer.watched:
            self._announcer.started(handle)
        timer = None
        if record.timeout is not None:
            timer = self._timers.call_at(
                core.clock.monotonic() + record.timeout,
                functools.partial(self.stop, handle, TIMEOUT),
            )
        definition = handle._definition
        result: Any = None
        error: BaseException | None = None
        running[handle] = scope  # only now can a stop cancel this handler
        try:
            try:
                if handle._stop_reason is not None:  # stopped while its start was being stored
                    return False
                if definition.is_async:
                    kwargs = record.kwargs
                    coro = (
                        context.run(definition.fn, *record.args, **kwargs)
                        if kwargs
                        else context.run(definition.fn, *record.args)  # no dict built
                    )
                    try:
                        first = context.run(coro.send, None)
                    except StopIteration as stop:
                        result = stop.value  # done without waiting: no driver needed
                    else:
                        result = await in_context(context, coro, first)
                else:
                    call = self.threads.call(
                        handle, context, definition.fn, record.args, record.kwargs
                    )
                    result = unwrap(await anyio.to_thread.run_sync(call, abandon_on_cancel=True))
            finally:
                if timer is not None:
                    timer.cancel()
                running.pop(handle, None)
        except anyio.get_cancelled_exc_class() as exc:
            if handle._stop_reason is not None:
                raise  # ours: the worker's scope catches it
            if cancel_requested():
                # The worker task itself is being cancelled (the event loop is closing).
                await outcomes.finish(handle, JobState.INTERRUPTED, error=interrupted(handle))
                raise
            error = self._aborted(handle, trim(exc))  # the handler raised it on its own
        except Exception as exc:  # noqa: BLE001 - a handler's error never kills a worker
            error = trim(exc)
        except BaseException as exc:  # noqa: BLE001 - see _aborted
            error = self._aborted(handle, trim(exc))
        if handle._stop_reason is not None:
            return False
        if hooks is not None and hooks.after_run:
            await hooks.call(hooks.after_run, handle, result, error, context=context)
            if handle._stop_reason is not None:
                return False
        if error is not None:
            delay = outcomes.retry_delay(handle, error)
            if delay is not None:
                await outcomes.retry(handle, error, delay)
                return True
            log_failure(record, error)
            if hooks is not None:
                await outcomes.failed_for_good(handle, error)
                return True
        state = _SUCCEEDED if error is None else _FAILED
        if self._nowait:
            outcomes.finish_now(handle, state, result, error)
        else:
            await outcomes.finish(handle, state, result=result, error=error)
        return True

    def _aborted(self, handle: JobHandle[Any], raised: BaseException) -> JobAborted:
        """The job's failure when its handler raised a BaseException that is not an
        Exception; all but a cancellation also stop the block (see ``_escalation``)."""
        record = handle._record
        if escalates(raised):
            what = "; the runner stops and raises it where its async with block is left"
            self._core.escalation.raise_later(raised)
        else:
            what = " though nobody had cancelled it"
        error = JobAborted(
            record.id,
            f"job {record.id!r} raised {type(raised).__qualname__}{what}",
        )
        error.__cause__ = raised
        return error
