"""Dispatch: the worker tasks that take ready jobs and run them, one at a time each.

Idle workers park on an event each; making a job ready wakes one. A worker takes the next
job by queue selection (``Waiting.choose``) and runs it with ``Attempts.run``. One cancel
scope serves many jobs: a stopped job's scope is left, the job concluded outside it, and a
fresh scope opened.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel

from ._attempt import Attempts
from ._core import Core, RunnerState
from ._handle import JobHandle
from ._outcomes import Outcomes
from ._queue import JobQueue
from ._spawn import current_task, spawn_detached
from ._waiting import Waiting

logger = logging.getLogger("asyncjobs")

_YIELD_EVERY = 64  # jobs a worker runs back to back before it lets the event loop run others


class Workers:
    """The worker pool of one runner."""

    def __init__(
        self, core: Core, waiting: Waiting, attempts: Attempts, outcomes: Outcomes, count: int
    ) -> None:
        self._core = core
        self._waiting = waiting
        self._attempts = attempts
        self._outcomes = outcomes
        self.count = count
        self.live = 0
        self.done: anyio.Event | None = None  # made on start, in the loop
        # The workers' tasks: a wait made in one is its job's own (not a task it spawned).
        self.tasks: set[object] = set()
        # Takes jobs from a shared backend with a plain call, before a worker parks; True
        # if it took any (set by the runner on such a backend).
        self.refill: Callable[[], bool] | None = None
        # Takes the next job from a runner's own backend to run at once, its slot counted;
        # None if there is none (set by the runner on such a backend).
        self.take: Callable[[], tuple[JobHandle[Any], JobQueue] | None] | None = None

    def start(self) -> None:
        self.done = anyio.Event()
        for index in range(self.count):
            self.live += 1
            spawn_detached(functools.partial(self._work, index), f"asyncjobs-worker-{index}")

    async def _work(self, index: int) -> None:
        core = self._core
        waiting = self._waiting
        run = self._attempts.run
        idle = waiting.idle_workers
        choose = waiting.choose
        refill = self.refill
        take = self.take
        budget = _YIELD_EVERY
        task = current_task()
        self.tasks.add(task)
        try:
            while True:
                stopped: JobHandle[Any] | None = None
                with anyio.CancelScope() as scope:
                    while True:
                        if take is not None:  # local queue first, then the backend
                            taken = take()
                            if taken is not None:
                                stopped, queue = taken
                                taken = None  # a parked worker must not keep it alive
                        elif (chosen := choose()) is not None:
                            queue = chosen
                            stopped = queue.pop()  # until run() says it reached its outcome
                        if stopped is None:
                            if refill is not None and refill():
                                continue
                            stopping = not core.accepting and core.state is not RunnerState.STARTING
                            if stopping and not waiting.has_ready():
                                # Nothing left for anyone: let parked workers see it too.
                                waiting.wake_all_workers()
                                return
                            event = core.new_event()
                            idle.append(event)
                            await event.wait()
                            continue
                        try:
                            if not await run(stopped, queue, scope):
                                break  # stopped: conclude outside the cancelled scope
                        finally:
                            queue.running -= 1  # the slot pop() took
                        # A parked worker must not keep its last job alive.
                        stopped = None
                        budget -= 1
                        if not budget:
                            break  # jobs that never wait would keep the loop from others
                if stopped is not None:  # stopped, by a return or by the scope catching it
                    await self._outcomes.conclude_stopped(stopped)
                elif not budget:
                    budget = _YIELD_EVERY
                    await anyio.lowlevel.checkpoint()  # outside the job scope: no stop lands
        except BaseException as exc:
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            # Only a bug in asyncjobs gets here: never let it crash the host's event loop.
            logger.exception("asyncjobs worker %d crashed", index)
        finally:
            self.tasks.discard(task)
            self.live -= 1
            if not self.live and self.done is not None:
                self.done.set()
