"""What every stage of the engine shares: the clock, the store, the hooks, the fault log,
and whether the runner takes jobs.

The runner builds one ``Core`` and hands it to each stage (admission, dispatch, attempts,
outcomes, shutdown, retention). It holds settings and services, not the state of jobs: each
stage owns its own (the waiting jobs are ``Waiting``'s, the running ones ``Attempts``').
"""

from __future__ import annotations

import enum
import itertools
import os
import threading
import time
from collections.abc import Callable

import anyio

from ._clock import Clock, SystemClock
from ._errors import RunnerNotRunning, WrongEventLoop
from ._escalation import Escalation
from ._faults import RepeatLog
from ._middleware import MiddlewareChain
from ._record import JobRecord
from ._spawn import Event
from ._stats import StatisticsWindow
from .abc import Backend, EncodingStore, JobStore, NowaitBackend, NowaitStore
from .serializers import Serializer

_get_ident = threading.get_ident


class RunnerState(str, enum.Enum):
    """Lifecycle of a runner. A runner starts once and stops once."""

    NEW = "new"
    STARTING = "starting"
    STARTED = "started"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Core:
    """Settings and services of one runner, shared by its stages."""

    def __init__(
        self,
        *,
        store: JobStore,
        clock: Clock,
        hooks: MiddlewareChain | None,
        faults: RepeatLog,
        escalation: Escalation,
        stats: StatisticsWindow | None,
        max_depth: int | None,
        owned: bool = False,
    ) -> None:
        self.store = store
        # A store that coordinates the work (queues, leases, keys) for runners sharing it:
        # jobs then wait in it, not here, and every write hands it a copy (see _shared).
        self.backend: Backend | None = store if isinstance(store, Backend) else None
        # A backend the runner made for itself (it was given no store): nobody else reaches
        # it, so it needs no channel listener, no heartbeat and no lease that runs out, and
        # at shutdown its waiting jobs end here, as a runner's own queues' do.
        self.own_backend = owned and self.backend is not None
        # A backend whose every step is a plain call (the memory backend): a plain submit
        # and an attempt's end then make no coroutine. Not for one that keeps bytes: what
        # it stores is checked against its serializer on the way, by the awaited steps.
        self.nowait_backend: NowaitBackend | None = (
            store
            if self.backend is not None
            and isinstance(store, NowaitBackend)
            and not isinstance(store, EncodingStore)
            else None
        )
        # A store whose writes never wait, holding the engine's own record objects: writes
        # are plain calls, and non-terminal moves need none (see NowaitStore).
        nowait = store if self.backend is None and isinstance(store, NowaitStore) else None
        # A backend has the moves it makes itself (running, at acquire): none written.
        self.write_progress = nowait is None and self.backend is None
        self.add_nowait: Callable[[JobRecord], None] | None = (
            None if nowait is None else nowait.add_nowait
        )
        self.update_nowait: Callable[[JobRecord], None] | None = (
            None if nowait is None else nowait.update_nowait
        )
        # What job data must encode with, for a store that keeps bytes (None: objects).
        self.serializer: Serializer | None = (
            store.serializer if isinstance(store, EncodingStore) else None
        )
        self.clock = clock
        # Bound once: timestamps are taken three times a job. The system clock's is
        # time.time itself, one Python call less each time.
        self.time: Callable[[], float] = time.time if type(clock) is SystemClock else clock.time
        self.hooks = hooks
        self.faults = faults
        self.escalation = escalation
        self.stats = stats
        self.max_depth = max_depth
        self.state = RunnerState.NEW
        self.accepting = False
        self.loop_thread = _get_ident()
        self.loop: object | None = None  # the event loop it runs on, once started
        self.new_event: Callable[[], Event] = anyio.Event
        self.id_prefix = os.urandom(6).hex() + "-"
        self.id_counter = itertools.count(1)
        # Ids of jobs ended interrupted once shutdown has begun (None before).
        self.shutdown_interrupted: list[str] | None = None

    def check_accepting(self) -> None:
        """Raise ``RunnerNotRunning`` unless the runner takes new jobs now."""
        if not self.accepting:
            if self.state is RunnerState.NEW:
                raise RunnerNotRunning(
                    "the runner has not started: use it as an async context manager "
                    "(async with JobRunner() as runner: ...)"
                )
            raise RunnerNotRunning(f"the runner is {self.state.value} and takes no new jobs")

    def check_thread(self, what: str) -> None:
        """Refuse a call from a thread other than the loop's (WrongEventLoop)."""
        if _get_ident() != self.loop_thread:
            raise WrongEventLoop(what)

    async def persist(self, record: JobRecord) -> None:
        """Write a non-terminal change; a failing store is logged, never fatal to a job."""
        try:
            await self.store.update(record if self.backend is None else record.snapshot())
        except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
            self.faults.callback_failed("store", self.store.update, exc, f"job {record.id!r}")

    async def add(self, record: JobRecord) -> None:
        """Store a new record, as a plain call where the store offers one."""
        if self.add_nowait is not None:
            self.add_nowait(record)
        else:
            await self.store.add(record)
