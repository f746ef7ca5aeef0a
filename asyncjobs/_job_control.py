"""What a job's handle asks of the engine: cancel it, wait for it, report its progress.

``JobControl`` is the engine as ``JobHandle`` sees it (``_handle.JobEngine``): handles hold
it, never the runner's stages themselves.
"""

from __future__ import annotations

from typing import Any

from . import _validation
from ._announcer import Announcer
from ._attempt import Attempts
from ._core import Core
from ._errors import ResultTimeout
from ._faults import RepeatLog
from ._handle import JobHandle, Runner
from ._outcomes import CANCEL, Outcomes
from ._progress import Progress
from ._shared import SharedWork
from ._spawn import Event, current_task
from ._states import JobState
from ._timers import TimerService
from ._waiting import Waiting
from ._waits import JobWaits
from ._workers import Workers

_RUNNING = JobState.RUNNING


class JobControl:
    """Cancels, waits and progress of one runner's jobs, for their handles."""

    def __init__(
        self,
        runner: Runner,
        core: Core,
        timers: TimerService,
        announcer: Announcer,
        waiting: Waiting,
        attempts: Attempts,
        outcomes: Outcomes,
        workers: Workers,
        waits: JobWaits,
        shared: SharedWork | None = None,
    ) -> None:
        self.runner = runner  # the JobRunner: the current runner inside its jobs
        self._shared = shared  # on a shared backend: a cancel reaches the job anywhere
        self._core = core
        self._timers = timers
        self._announcer = announcer
        self._waiting = waiting
        self._attempts = attempts
        self._outcomes = outcomes
        self._workers = workers
        self._waits = waits

    @property
    def loop_thread(self) -> int:
        return self._core.loop_thread

    @property
    def faults(self) -> RepeatLog:
        return self._core.faults

    def new_event(self) -> Event:
        return self._core.new_event()

    def check_thread(self, what: str) -> None:
        self._core.check_thread(what)

    async def cancel(self, handle: JobHandle[Any]) -> bool:
        """See ``JobHandle.cancel``."""
        self._core.check_thread("a job cancelled")
        if handle._done:
            return False
        if self._shared is not None:
            return await self._shared.cancel(handle)
        attempts = self._attempts
        if handle._record.state is _RUNNING or handle in attempts.running:
            attempts.stop(handle, CANCEL)  # in running: its before_run hooks are running
            return True
        self._waiting.discard(handle)
        await self._outcomes.cancelled(handle)
        return True

    async def cancel_id(self, job_id: str) -> bool:
        """See ``JobRunner.cancel``."""
        self._core.check_thread("runner.cancel called")
        job_id = _validation.name("job_id", job_id)
        if self._shared is not None:
            return await self._shared.cancel_id(job_id)
        for handle in self._attempts.running:
            if handle._record.id == job_id:
                return await self.cancel(handle)
        found = self._waiting.find(job_id)
        if found is not None:
            return await self.cancel(found)
        await self._core.store.get(job_id)  # raises JobNotFound if unknown
        return False  # known, and finished

    async def wait_timed(self, handle: JobHandle[Any], timeout: float) -> None:
        """Wait for ``handle`` at most ``timeout`` seconds (``ResultTimeout``)."""
        seconds = _validation.duration("timeout", timeout)
        # A timed wait ends by itself: never a deadlock, so not through wait_in_job.
        deadline = self._core.clock.monotonic() + seconds
        if not await self._timers.within(deadline, handle._wait_event):
            raise ResultTimeout(handle._record.id, seconds)

    async def wait_in_job(self, parent: JobHandle[Any], handle: JobHandle[Any]) -> None:
        """A running job's code waits for ``handle`` (no timeout): raises ``JobDeadlock``
        if the wait could never end. A task the job started waits as any other task: the
        job's own flow may go on meanwhile, so its wait blocks nothing."""
        if current_task() not in self._workers.tasks:
            await handle._event().wait()
        else:
            await self._waits.wait(parent, handle, handle._event())

    def report_progress(
        self,
        handle: JobHandle[Any],
        percent: float | None,
        message: str | None,
        done: int | None,
        total: int | None,
        step: str | None,
    ) -> Progress:
        return self._announcer.report_progress(handle, percent, message, done, total, step)
