"""``JobRunner``: the engine. Queues, dispatch, workers, timeouts, cancellation, shutdown.

The path of a job: ``submit`` validates (raising before anything is created), builds the
record and handle, reserves a place in the queue, ``store.add``s the record, then either
schedules it (delay/at) or makes it ready. Idle workers park on an event each; making a job
ready wakes one. A worker takes the next job by queue selection (strict or smooth weighted
round-robin over queues with a free concurrency slot), runs it in a cancel scope inside the
submitter's context, records the outcome, resolves the handle, then emits the event.
"""

from __future__ import annotations

import contextvars
import enum
import functools
import inspect
import itertools
import logging
import os
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import timedelta
from types import MappingProxyType, TracebackType
from typing import Any, NamedTuple, ParamSpec, TypeVar, overload

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import attrs

from . import _validation
from ._bus import BusState, EventBus
from ._clock import Clock, SystemClock, VirtualClock
from ._context import current_job_var, in_context
from ._dead_letters import DeadLetters
from ._definition import (
    JobCall,
    JobDefinition,
    JobOptions,
    JobRegistry,
    default_registry,
    make_definition,
)
from ._errors import (
    BusNotRunning,
    DuplicateJob,
    DuplicateJobId,
    InvalidJob,
    InvalidOption,
    InvalidOptionType,
    JobAborted,
    JobCancelled,
    JobInterrupted,
    JobNestingError,
    JobNotFound,
    JobRejected,
    JobStateError,
    JobTimedOut,
    NotInJob,
    QueueFull,
    ResultTimeout,
    RunnerNotRunning,
    UnknownQueue,
    WrongEventLoop,
)
from ._escalation import Escalation, cancel_requested, cancelled_here, escalates
from ._events import (
    ENDED_EVENTS,
    JobDeadLettered,
    JobEvent,
    JobProgressed,
    JobRetried,
    JobStarted,
    JobSubmitted,
    Listeners,
    Subscription,
)
from ._faults import RepeatLog, describe_error
from ._handle import JobHandle
from ._middleware import JobMiddleware, MiddlewareChain
from ._progress import Progress, next_progress
from ._queue import JobQueue, QueueConfig, QueueStatistics, RejectPolicy
from ._record import Attempt, JobRecord
from ._schedule_events import ScheduleEvent
from ._scheduler import Schedules
from ._spawn import Event, current_loop, current_task, event_factory, spawn_detached
from ._states import TERMINAL_STATES, JobState
from ._stats import JobStatistics, longest_window
from ._threads import Threads, unwrap
from ._timers import Timer, TimerService
from ._tracebacks import trim
from ._unique import OnConflict
from ._waits import JobWaits
from .abc import JobPage, JobStore
from .storage.memory import MemoryJobStore

_E = TypeVar("_E", bound="JobEvent | ScheduleEvent")
logger = logging.getLogger("asyncjobs")

P = ParamSpec("P")
R = TypeVar("R")

_current_runner: contextvars.ContextVar[JobRunner | None] = contextvars.ContextVar(
    "asyncjobs_current_runner", default=None
)
_current_job = current_job_var

# Most jobs take no keyword arguments: they share one read-only empty mapping instead of
# each keeping an empty dict (64 bytes a job).
_NO_KWARGS: Mapping[str, Any] = MappingProxyType({})

# Enum member lookups cost about 50 ns each on Python 3.11; the hot path uses these names.
_SCHEDULED = JobState.SCHEDULED
_QUEUED = JobState.QUEUED
_RUNNING = JobState.RUNNING
_SUCCEEDED = JobState.SUCCEEDED
_FAILED = JobState.FAILED
_INTERRUPTED = JobState.INTERRUPTED

MAX_WORKERS = 10_000
"""The most workers a runner has (each is a task, started with the runner)."""

_get_ident = threading.get_ident
_STOP_TURNS = 4  # loop turns a cancelled handler gets to stop, whatever the cancel timeout
_YIELD_EVERY = 64  # jobs a worker runs back to back before it lets the event loop run others
_KEPT_DEFINITIONS = 10_000  # dead letters' own definitions kept for a requeue

_SHUTDOWN = "shutdown"
_CANCEL = "cancel"
_TIMEOUT = "timeout"


# Runners started and not yet stopped, for current_runner() where no runner is current: a
# web framework runs its lifespan and its request handlers in different tasks, so a runner
# entered in the lifespan is not in the handlers' context.
_live_runners: list[JobRunner] = []


def _forget_runners_of_closed_loops() -> None:
    """Drop runners whose asyncio loop has closed with their block still open (the loop
    was torn down around them): they can never be current again."""
    for runner in tuple(_live_runners):
        is_closed = getattr(runner._loop, "is_closed", None)
        if is_closed is not None and is_closed() and runner in _live_runners:
            _live_runners.remove(runner)


def current_runner() -> JobRunner:
    """The runner that ``job.submit()`` submits to.

    That is the runner running the job the caller is in, else the runner whose ``async with``
    block the caller is in; else, the one runner started on the running event loop (a
    runner entered in a web app's lifespan, seen from its request handlers). Raises
    ``RunnerNotRunning`` if there is none, or if several are running there and none is the
    caller's.
    """
    job = _current_job.get()
    if job is not None:  # in a job: the runner running it, whoever submitted it
        return job._runner
    runner = _current_runner.get()
    if runner is not None:
        return runner
    loop = current_loop()
    # A tuple first: one C call, so another thread's runner starting or stopping meanwhile
    # cannot shift this loop's runner past the scan.
    found = [runner for runner in tuple(_live_runners) if runner._loop is loop]
    if len(found) == 1:
        return found[0]
    if not found:
        raise RunnerNotRunning(
            "no current runner: no JobRunner is running on this event loop. Submit inside "
            "'async with JobRunner() as runner:' (or a web app's lifespan that enters one), "
            "from a running job, or with runner.submit(...)"
        )
    raise RunnerNotRunning(
        f"no current runner: {len(found)} JobRunners are running on this event loop and "
        "the caller is in none of their blocks; submit with runner.submit(...)"
    )


def current_job() -> JobHandle[object] | None:
    """The handle of the job the caller runs in, or None outside jobs."""
    return _current_job.get()


class RunnerState(str, enum.Enum):
    """Lifecycle of a runner. A runner starts once and stops once."""

    NEW = "new"
    STARTING = "starting"
    STARTED = "started"
    STOPPING = "stopping"
    STOPPED = "stopped"


class Selection(str, enum.Enum):
    """How workers choose among queues that have ready jobs and a free slot.

    ``strict``: always the queue with the highest weight (ties: the order given).
    ``weighted``: smooth weighted round-robin; under load each queue gets its weight's share.
    """

    STRICT = "strict"
    WEIGHTED = "weighted"


class _Held:
    """A unique key's holder: the job, until when (monotonic), and while it is still being
    admitted, an event that is set once admission has succeeded or failed."""

    __slots__ = ("handle", "expires", "admitting")

    def __init__(self, handle: JobHandle[Any], expires: float, admitting: Event | None) -> None:
        self.handle = handle
        self.expires = expires
        self.admitting = admitting


class PoolStatistics(NamedTuple):
    """The worker pool at one moment: capacity = workers; waiting = ready jobs not started."""

    capacity: int
    running: int
    idle: int
    waiting: int
    scheduled: int


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


def _queue_configs(queues: Mapping[str, int | QueueConfig] | None) -> dict[str, QueueConfig]:
    if queues is None:
        return {"default": QueueConfig()}
    if not isinstance(queues, Mapping):
        raise InvalidOptionType("queues", queues, "expected a mapping of name -> QueueConfig")
    if not queues:
        raise InvalidOption("queues", queues, "configure at least one queue")
    configs: dict[str, QueueConfig] = {}
    for given, config in queues.items():
        name = _validation.name("queues", given)
        if isinstance(config, QueueConfig):
            configs[name] = config
        elif isinstance(config, int) and not isinstance(config, bool):
            configs[name] = QueueConfig(
                concurrency=_validation.positive_int(f"queues[{name!r}]", config)
            )
        else:
            raise InvalidOptionType(
                f"queues[{name!r}]", config, "expected a concurrency (int) or a QueueConfig"
            )
    return configs


class JobRunner:
    """Runs jobs inside the host's event loop. Use it as ``async with JobRunner() as runner``.

    :param queues: queue name -> concurrency, or -> ``QueueConfig``. Default: one queue,
        ``"default"``, running up to 10 jobs at once, unbounded.
    :param max_workers: workers in all, at most ``MAX_WORKERS`` (10,000); default: the sum
        of the queues' concurrency, up to that.
    :param selection: ``"strict"`` or ``"weighted"`` choice among queues (see ``Selection``).
    :param store: where records are kept; default ``MemoryJobStore()``.
    :param clock: the clock for delays, timeouts and timestamps; default the system clock.
    :param grace_period: seconds shutdown lets running (and, with ``drain_on_shutdown``,
        queued) jobs finish before cancelling them.
    :param cancel_timeout: seconds shutdown then waits for cancelled handlers to stop before
        abandoning them. Shutdown returns within ``grace_period + cancel_timeout``.
    :param drain_on_shutdown: run queued jobs during the grace period (True), or end them as
        interrupted at once (False). Scheduled jobs not yet due are always interrupted.
    :param result_ttl: seconds (or a timedelta) the records of finished jobs that did not
        fail, with their results, are kept; default one hour; None keeps them until the
        store's count cap (``MemoryJobStore(max_finished=10_000)``) pushes them out.
    :param dead_letter_ttl: the same for failed jobs (dead letters); default seven days;
        their count cap is the store's ``max_dead_letters`` (10,000).
    :param registry: where ``dead_letters.requeue`` looks up a job by name; default the
        registry ``@job`` uses.
    :param statistics_window: the longest window ``job_statistics`` can report on; default
        one hour; None turns windowed statistics off (saving a little time per job).
    :param bus: the ``EventBus`` job lifecycle events are published on (``runner.bus``).
        Default: a bus of the runner's own, started and closed with it (its
        ``close_timeout`` is ``cancel_timeout``). A bus you pass in must be running
        already (``async with EventBus() as bus, JobRunner(bus=bus) as runner:``).
    :param middleware: ``JobMiddleware`` instances, hooked around submitting and running
        every job (see ``JobMiddleware`` for the order and the isolation rules).
    :param scheduler_max_sleep: the longest (seconds) the scheduler of ``runner.schedules``
        sleeps before it reads the wall clock again; it bounds how late a slot fires after
        the wall clock jumps or the machine wakes from sleep. Default one minute.
    :param max_depth: the deepest jobs may nest, a job submitted from a running job being
        one deeper than it (``JobNestingError`` past it); a submit with a delay or a time
        starts at depth zero again. None: no limit. Default 1000.

    Expired records are removed by a sweep that runs every tenth of the shorter retention
    time (at least every minute, at most every second); reading one afterwards raises
    ``ResultExpired``. A handle you hold keeps its own outcome regardless.

    No signal handlers are installed: the host owns its process.
    """

    def __init__(
        self,
        *,
        queues: Mapping[str, int | QueueConfig] | None = None,
        max_workers: int | None = None,
        selection: Selection | str = Selection.STRICT,
        store: JobStore | None = None,
        clock: Clock | None = None,
        grace_period: float = 10.0,
        cancel_timeout: float = 5.0,
        drain_on_shutdown: bool = True,
        result_ttl: float | timedelta | None = 3600.0,
        dead_letter_ttl: float | timedelta | None = 7 * 24 * 3600.0,
        registry: JobRegistry | None = None,
        statistics_window: float | timedelta | None = 3600.0,
        bus: EventBus | None = None,
        middleware: Iterable[JobMiddleware] = (),
        scheduler_max_sleep: float | timedelta = 60.0,
        max_depth: int | None = 1000,
    ) -> None:
        configs = _queue_configs(queues)
        self._max_depth = (
            None if max_depth is None else _validation.positive_int("max_depth", max_depth)
        )
        self._selection = _validation.member(Selection, "selection", selection)
        total = sum(c.concurrency for c in configs.values())
        if max_workers is not None:
            max_workers = _validation.positive_int("max_workers", max_workers)
            if max_workers > MAX_WORKERS:
                raise InvalidOption(
                    "max_workers",
                    max_workers,
                    f"at most {MAX_WORKERS:,} (each worker is a task; for more jobs at once "
                    "than that, await I/O in the jobs rather than adding workers)",
                )
        self._max_workers = min(total, MAX_WORKERS) if max_workers is None else max_workers
        if store is not None and not isinstance(store, JobStore):
            raise InvalidOptionType("store", store, "expected a JobStore (see asyncjobs.abc)")
        if clock is not None and not isinstance(clock, Clock):
            raise InvalidOptionType("clock", clock, "expected a Clock (see asyncjobs.Clock)")
        if not isinstance(drain_on_shutdown, bool):
            raise InvalidOptionType("drain_on_shutdown", drain_on_shutdown, "expected a bool")
        self._grace_period = _validation.non_negative_duration("grace_period", grace_period)
        self._cancel_timeout = _validation.non_negative_duration("cancel_timeout", cancel_timeout)
        self._drain = drain_on_shutdown
        self._result_ttl = _validation.optional_duration("result_ttl", result_ttl)
        self._dead_letter_ttl = _validation.optional_duration("dead_letter_ttl", dead_letter_ttl)
        if registry is not None and not isinstance(registry, JobRegistry):
            raise InvalidOptionType("registry", registry, "expected a JobRegistry")
        self._registry = registry if registry is not None else default_registry
        self._stats = longest_window(statistics_window)
        # Finished records waiting to be folded into the statistics (None: statistics off).
        self._stats_pending = None if self._stats is None else self._stats.pending
        self._store: JobStore = store if store is not None else MemoryJobStore()
        # Stores holding the engine's own record objects need no write for non-terminal moves.
        self._write_progress = getattr(self._store, "shares_records", False) is not True
        # Stores whose writes never wait may offer them as plain calls (see JobStore).
        add_nowait = getattr(self._store, "add_nowait", None)
        update_nowait = getattr(self._store, "update_nowait", None)
        nowait = callable(add_nowait) and callable(update_nowait)
        self._add_nowait: Callable[[JobRecord], None] | None = add_nowait if nowait else None
        self._update_nowait: Callable[[JobRecord], None] | None = update_nowait if nowait else None
        self._clock: Clock = clock if clock is not None else SystemClock()
        # Bound once: timestamps are taken three times a job. The system clock's is
        # time.time itself, one Python call less each time.
        self._time: Callable[[], float] = (
            time.time if type(self._clock) is SystemClock else self._clock.time
        )

        self._queues: dict[str, JobQueue] = {n: JobQueue(n, c) for n, c in configs.items()}
        # Strict order: highest weight first; sorted() is stable, so ties keep the given order.
        self._queue_list = sorted(self._queues.values(), key=lambda q: -q.weight)
        self._single_queue = self._queue_list[0] if len(self._queue_list) == 1 else None
        self._timers = TimerService(self._clock)
        if bus is not None and not isinstance(bus, EventBus):
            raise InvalidOptionType("bus", bus, "expected an EventBus")
        self._owns_bus = bus is None
        self._bus = (
            bus
            if bus is not None
            else EventBus(clock=self._clock, close_timeout=self._cancel_timeout)
        )
        # A KeyboardInterrupt (or the like) from user code: raised from the block, once.
        self._escalation = Escalation()
        # Failing user callbacks: the first of each kind logged in full, repeats summarised.
        self._faults = RepeatLog(self._clock.monotonic, escalate=self._escalation.raise_later)
        chain = MiddlewareChain(middleware, self._faults)
        self._hooks: MiddlewareChain | None = chain if chain.any else None
        # Submits of plain jobs to unbounded queues can skip _admit: no hooks to call, no
        # store write to await.
        self._plain_submit = self._add_nowait is not None and self._hooks is None
        self._listeners = Listeners(self._rewatch, self._faults)
        # Whether anyone listens to lifecycle events (a listener or a bus subscription):
        # one truth test per lifecycle step when nobody does.
        self._watched = False
        self._loop_thread = threading.get_ident()
        self._loop: object | None = None  # the event loop it runs on, once started
        self._state = RunnerState.NEW
        self._accepting = False
        self._id_prefix = os.urandom(6).hex() + "-"
        self._id_counter = itertools.count(1)
        self._adhoc: dict[Callable[..., Any], JobDefinition[Any, Any]] = {}

        # Running jobs -> the cancel scope their handler runs in (None until it starts).
        self._running: dict[JobHandle[Any], anyio.CancelScope | None] = {}
        # Sync jobs whose function is running in a worker thread (a stopped one's too).
        self._threads: Threads[JobHandle[Any]] = Threads()
        # Scheduled jobs -> the timer that makes them due.
        self._scheduled: dict[JobHandle[Any], Timer] = {}
        # Unique keys -> the job holding each; and the other way round, for release.
        self._unique: dict[str, _Held] = {}
        self._unique_keys: dict[JobHandle[Any], str] = {}
        # Ids of dead letters being requeued right now (one requeue per id at a time).
        self._requeuing: set[str] = set()
        # Jobs running in their submitter's task (caller_runs), not in a worker.
        self._in_callers: set[JobHandle[Any]] = set()
        # The workers' tasks: a wait made in one is its job's own (not a task it spawned).
        self._worker_tasks: set[object] = set()
        # Untimed waits of jobs for jobs, to catch the waits that could never end.
        self._waits = JobWaits(
            lambda: self._running.keys() - self._in_callers,
            lambda: self._live_workers,
            lambda queue: self._queues[queue].concurrency,
        )
        # The definition a dead letter was submitted with, where it is not the registered
        # one (``with_options``): requeued, it runs with those options again. The newest
        # _KEPT_DEFINITIONS are kept; an older one requeues with the registered options.
        self._dead_definitions: dict[str, JobDefinition[Any, Any]] = {}
        self._dead_letters = DeadLetters(self)
        self._schedules = Schedules(
            self, _validation.duration_at_least("scheduler_max_sleep", scheduler_max_sleep, 0.01)
        )
        # The context the last job was submitted from, as a snapshot jobs can share.
        self._last_context = contextvars.copy_context()
        self._new_event: Callable[[], Event] = anyio.Event
        self._idle_workers: deque[Event] = deque()
        self._idle_waiters: list[Event] = []
        self._live_workers = 0
        self._workers_done: anyio.Event | None = None  # events are made on start, in the loop
        self._timer_scope: anyio.CancelScope | None = None
        self._timer_done: anyio.Event | None = None
        self._runner_token: contextvars.Token[JobRunner | None] | None = None
        self._stopped: anyio.Event | None = None
        self._report: ShutdownReport | None = None
        self._shutdown_interrupted: list[str] | None = None  # ids, once shutdown has begun

    # ----------------------------------------------------------------- lifecycle

    @property
    def state(self) -> RunnerState:
        """Where the runner is in its lifecycle."""
        return self._state

    @property
    def clock(self) -> Clock:
        """The clock the runner runs on."""
        return self._clock

    @property
    def store(self) -> JobStore:
        """The store that keeps job records."""
        return self._store

    async def __aenter__(self) -> JobRunner:
        if self._state is RunnerState.STOPPED:
            raise RunnerNotRunning(
                "this runner has run and stopped, and a JobRunner starts only once: make a "
                "new JobRunner for each start. In a web app, create it in the app's lifespan "
                "(an app factory), not at module level, so that each server or TestClient "
                "start gets its own (see docs/web-apps.md)"
            )
        if self._state is not RunnerState.NEW:
            raise RunnerNotRunning(
                f"this runner is {self._state.value} already: its async with block is open"
            )
        if not self._owns_bus and self._bus.state is not BusState.RUNNING:
            raise BusNotRunning(
                f"the event bus given to JobRunner(bus=...) is {self._bus.state.value}: start it "
                "first (async with EventBus() as bus, JobRunner(bus=bus) as runner: ...)"
            )
        self._state = RunnerState.STARTING
        self._loop_thread = threading.get_ident()
        self._loop = current_loop()
        self._new_event = event_factory()
        self._stopped = anyio.Event()
        self._workers_done = anyio.Event()
        try:
            await self._store.open()
            await self._schedules._load()
        except BaseException:
            self._state = RunnerState.STOPPED
            raise
        if self._owns_bus:
            self._bus.start(escalate=self._escalation.raise_later)
        self._bus._watchers.append(self._rewatch)
        self._rewatch()
        self._timer_scope = anyio.CancelScope()
        self._timer_done = anyio.Event()
        spawn_detached(self._run_timers, "asyncjobs-timers")
        self._schedule_sweep()
        for index in range(self._max_workers):
            self._live_workers += 1
            spawn_detached(functools.partial(self._worker, index), f"asyncjobs-worker-{index}")
        self._runner_token = _current_runner.set(self)
        _forget_runners_of_closed_loops()
        _live_runners.append(self)
        self._accepting = True
        self._state = RunnerState.STARTED
        spawn_detached(self._run_schedules, "asyncjobs-scheduler")
        self._escalation.enter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        # The block's cancellation by a KeyboardInterrupt or the like from user code (see
        # _escalation) ends here, first: shutting down then gets its grace period. A
        # cancellation from outside does not: it cuts the grace period short.
        ours = self._escalation.close(exc_type, exc, tb)
        try:
            if isinstance(self._clock, VirtualClock):
                # Nobody moves a fake clock while the block's own task waits in shutdown:
                # let it move itself, or a job still running would hang the block.
                await self._clock.autojump(self.shutdown, self.running_jobs)
            else:
                await self.shutdown()
        finally:
            if self._runner_token is not None:
                try:
                    _current_runner.reset(self._runner_token)
                except ValueError:  # exited in another context than it entered
                    _current_runner.set(None)
                self._runner_token = None
            self._escalation.raise_kept()  # raised once, here, whatever else happened
        return ours

    async def _run_schedules(self) -> None:
        # Jobs fired by schedules see this runner as current_runner(), on trio too (whose
        # system tasks start from an empty context).
        _current_runner.set(self)
        await self._schedules._main()

    async def _run_timers(self) -> None:
        assert self._timer_scope is not None
        assert self._timer_done is not None
        try:
            with self._timer_scope:
                await self._timers.run()
        finally:
            self._timer_done.set()

    # ----------------------------------------------------------------- retention

    def _sweep_interval(self) -> float | None:
        ttls = [t for t in (self._result_ttl, self._dead_letter_ttl) if t is not None]
        return None if not ttls else min(60.0, max(1.0, min(ttls) / 10))

    def _schedule_sweep(self) -> None:
        interval = self._sweep_interval()
        if interval is not None:
            self._timers.call_at(self._clock.monotonic() + interval, self._sweep)

    async def _sweep(self) -> None:
        """Remove records past their retention time, then come back in an interval."""
        try:
            now = self._clock.time()
            if self._result_ttl is not None:
                await self._store.expire(
                    finished_before=now - self._result_ttl, states=TERMINAL_STATES - {_FAILED}
                )
            if self._dead_letter_ttl is not None:
                await self._store.expire(
                    finished_before=now - self._dead_letter_ttl, states=(_FAILED,)
                )
        except Exception:
            logger.exception("store failed to remove expired records; trying again later")
        finally:
            self._schedule_sweep()

    async def cleanup(
        self, older_than: float | timedelta, *, states: Iterable[JobState | str] | None = None
    ) -> int:
        """Remove the records of jobs that finished more than ``older_than`` seconds ago (of
        the given terminal states; default all, dead letters included); returns how many
        were removed. Their ids then read as expired (``ResultExpired``)."""
        age = _validation.non_negative_duration("older_than", older_than)
        wanted = (
            None if states is None else _validation.states("states", states, terminal_only=True)
        )
        return await self._store.expire(finished_before=self._clock.time() - age, states=wanted)

    def _check_accepting(self) -> None:
        if not self._accepting:
            if self._state is RunnerState.NEW:
                raise RunnerNotRunning(
                    "the runner has not started: use it as an async context manager "
                    "(async with JobRunner() as runner: ...)"
                )
            raise RunnerNotRunning(f"the runner is {self._state.value} and takes no new jobs")

    # ----------------------------------------------------------------- submitting

    @overload
    async def submit(
        self, job: JobDefinition[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> JobHandle[R]: ...

    @overload
    async def submit(
        self, job: Callable[P, Coroutine[Any, Any, R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> JobHandle[R]: ...

    @overload
    async def submit(
        self, job: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> JobHandle[R]: ...

    async def submit(self, job: Any, /, *args: Any, **kwargs: Any) -> JobHandle[Any]:
        """Submit ``job(*args, **kwargs)``; returns its handle once the job is accepted.

        ``job`` is an ``@job`` definition (use ``job.with_options(...)`` for per-call queue,
        priority, delay, at, timeout or job_id) or any function. Bad input raises before
        anything is created. A full queue applies its ``on_full`` policy.
        """
        if _get_ident() != self._loop_thread:
            raise WrongEventLoop("runner.submit called")
        definition = job if isinstance(job, JobDefinition) else self._definition_for(job)
        definition.check_arguments(args, kwargs)
        if not self._accepting:
            self._check_accepting()
        queue = self._queue_for(definition)
        options = definition.options
        if options._plain and queue.maxsize is None and self._plain_submit:
            # The common case, with no await: no policy, timer, id to check or key to take.
            handle = self._new_handle(definition, args, kwargs, queue)
            queue.size += 1
            try:
                self._add_nowait(handle._record)  # type: ignore[misc]  # set: _plain_submit
            except BaseException:
                queue.release()
                raise
            self._accepted(handle, queue, None)
            return handle
        if options.unique is not None:
            return await self._submit_unique(definition, queue, args, kwargs)
        handle = self._new_handle(definition, args, kwargs, queue)
        if options.job_id is not None:
            await self._check_new_id(options.job_id)
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
            held = self._live_holder(key)
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

    async def _admit_claimed(self, held: _Held, queue: JobQueue, job_id: str | None) -> None:
        """Admit the job of a claim (checking its given ``job_id`` first): its key is let go
        if that fails, and submitters waiting on the claim look again either way."""
        try:
            if job_id is not None:
                await self._check_new_id(job_id)
            await self._admit(held.handle, queue)
        except BaseException:
            self._release_unique(held.handle)
            raise
        finally:
            self._unique_admitted(held)

    def _claim(
        self,
        definition: JobDefinition[Any, Any],
        queue: JobQueue,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        key: str,
    ) -> _Held:
        """Make the job and let it hold ``key`` while it is admitted (no await here)."""
        unique = definition.options.unique
        assert unique is not None
        handle = self._new_handle(definition, args, kwargs, queue)
        held = _Held(handle, self._clock.monotonic() + unique.ttl, self._new_event())
        self._unique[key] = held
        self._unique_keys[handle] = key
        return held

    def _live_holder(self, key: str) -> _Held | None:
        """The job holding a unique key, unless it has ended or its hold has run out."""
        held = self._unique.get(key)
        if held is None or held.handle._done or held.expires <= self._clock.monotonic():
            return None
        return held

    def _unique_admitted(self, held: _Held) -> None:
        """Admission of the key's holder is settled: let waiting submitters look again."""
        admitting, held.admitting = held.admitting, None
        if admitting is not None:
            admitting.set()

    def _release_unique(self, handle: JobHandle[Any]) -> None:
        """The job ended (or was never accepted): free its unique key if it still holds it."""
        key = self._unique_keys.pop(handle, None)
        if key is not None:
            held = self._unique.get(key)
            if held is not None and held.handle is handle:
                del self._unique[key]

    async def submit_many(self, calls: Iterable[JobCall[R]]) -> list[JobHandle[R]]:
        """Submit several jobs: ``await runner.submit_many([a.call(1), b.call(x=2)])``.

        All calls are validated first (arguments, queues, job ids, unique keys held with
        ``on_conflict="raise"``, and room in queues whose policy is ``raise``): if any is
        refused, none is submitted. A unique job whose key is held (by a job already there,
        even one still being admitted, or by an earlier call of the batch) gives the
        holder's handle, as ``submit`` does, or with ``on_conflict="raise"`` refuses the
        batch. The batch's keys are all taken before its first job is admitted.
        """
        if _get_ident() != self._loop_thread:
            raise WrongEventLoop("runner.submit_many called")
        batch = _validation.collection("calls", calls)
        for index, call in enumerate(batch):
            if not isinstance(call, JobCall):
                raise InvalidOptionType(
                    f"calls[{index}]", call, "expected a JobCall (made with job.call(...))"
                )
        self._check_accepting()
        plan: list[tuple[JobDefinition[Any, Any], JobQueue, JobCall[Any]]] = []
        ids: set[str] = set()
        for call in batch:
            definition = call.definition
            queue = self._queue_for(definition)
            job_id = definition.options.job_id
            if job_id is not None:
                if job_id in ids:
                    raise DuplicateJobId(job_id)
                ids.add(job_id)
            self._depth_for(definition.options, _current_job.get())  # refused before any
            plan.append((definition, queue, call))
        for job_id in ids:
            await self._check_new_id(job_id)
        self._check_accepting()
        # From here to the first admission there is no await: the keys are looked at and
        # taken at once, so no other submit can take one in between.
        slots: list[JobHandle[Any] | _Held | None] = []  # a holder's handle, a claim, or new
        claims: list[_Held] = []
        handles: list[JobHandle[Any]] = []
        try:
            for definition, queue, call in plan:
                unique = definition.options.unique
                if unique is None:
                    slots.append(None)
                    continue
                key = unique.key_for(definition.name, call.args, call.kwargs)
                held = self._live_holder(key)
                if held is None:
                    held = self._claim(definition, queue, call.args, call.kwargs, key)
                    claims.append(held)
                    slots.append(held)
                elif unique.on_conflict is OnConflict.RAISE:
                    holder = "an earlier call of this batch" if held in claims else held.handle.id
                    raise DuplicateJob(key, holder)
                else:
                    slots.append(held.handle)
            self._check_room(
                (
                    queue.name
                    for (_, queue, _), slot in zip(plan, slots, strict=True)
                    if not isinstance(slot, JobHandle)
                ),
                lambda queue: queue.config.on_full is RejectPolicy.RAISE,
                "the batch needs {count} places, {free} free",
                count_refusal=True,
            )
            for (definition, queue, call), slot in zip(plan, slots, strict=True):
                if isinstance(slot, JobHandle):
                    handles.append(slot)
                elif slot is None:
                    handle = self._new_handle(definition, call.args, call.kwargs, queue)
                    await self._admit(handle, queue)
                    handles.append(handle)
                else:
                    await self._admit_claimed(slot, queue, None)  # ids were checked above
                    handles.append(slot.handle)
        except BaseException:
            for held in claims:
                if held.admitting is not None:  # never admitted: let its key go
                    self._release_unique(held.handle)
                    self._unique_admitted(held)
            raise
        return handles

    def _check_room(
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
            queue = self._queues.get(name)
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

    def _definition_for(self, job: Any) -> JobDefinition[Any, Any]:
        if isinstance(job, JobDefinition):
            return job
        try:
            return self._adhoc[job]
        except KeyError:
            pass
        except Exception:  # noqa: BLE001 - an unhashable (or unhashing) callable: not kept
            return make_definition(job)
        definition = make_definition(job)
        if len(self._adhoc) < 1024:
            self._adhoc[job] = definition
        return definition

    def _queue_for(self, definition: JobDefinition[Any, Any]) -> JobQueue:
        name = definition.options.queue
        queue = self._queues.get(name)
        if queue is None:
            raise UnknownQueue(name, list(self._queues))
        return queue

    async def _check_new_id(self, job_id: str) -> None:
        try:
            await self._store.get(job_id)
        except LookupError:
            return
        raise DuplicateJobId(job_id)

    def _new_handle(
        self,
        definition: JobDefinition[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        queue: JobQueue,
    ) -> JobHandle[Any]:
        options = definition.options
        parent = _current_job.get()
        depth = 0 if parent is None else self._depth_for(options, parent)
        record = JobRecord._new(
            options.job_id or f"{self._id_prefix}{next(self._id_counter)}",
            definition.name,
            queue.name,
            options.priority,
            args,
            kwargs or _NO_KWARGS,
            self._time(),
            options.timeout,
        )
        # Jobs submitted from an unchanged context share one snapshot of it (Context equality
        # is an identity check of the variables' map when nothing changed), so a waiting job
        # keeps no Context of its own: one object less per job to allocate and collect.
        context = contextvars.copy_context()
        if context == self._last_context:
            context = self._last_context
        else:
            self._last_context = context
        handle: JobHandle[Any] = JobHandle(record, definition, self, context)
        if depth:
            handle._depth = depth
        return handle

    def _depth_for(self, options: JobOptions, parent: JobHandle[Any] | None) -> int:
        """How deep a job submitted now nests: one deeper than ``parent``, the running job
        submitting it, or zero (submitted from outside a job, or to start later)."""
        if parent is None or parent._runner is not self or options.delay or options.at:
            return 0
        depth = parent._depth + 1
        if self._max_depth is not None and depth > self._max_depth:
            raise JobNestingError(parent.name, depth)
        return depth

    async def _admit(self, handle: JobHandle[Any], queue: JobQueue) -> None:
        """Take an accepted-or-rejected decision for a new job and carry it out."""
        hooks = self._hooks
        if hooks is not None and hooks.before_submit:
            skip = await hooks.before(hooks.before_submit, handle)
            if skip is not None:
                await self._refuse(handle, self._skipped(handle, skip))
                return
        evict = False
        if not queue.has_space() or queue.space_waiters:
            policy = queue.config.on_full
            if policy is RejectPolicy.RAISE:
                queue.rejected += 1
                assert queue.maxsize is not None
                raise QueueFull(queue.name, queue.maxsize, "policy: raise")
            if policy is RejectPolicy.BLOCK:
                await self._wait_for_space(queue)
            elif policy is RejectPolicy.DROP_OLDEST:
                evict = queue.oldest() is not None
            elif policy is RejectPolicy.CALLER_RUNS:
                if not queue.has_space():
                    if self._due_at(handle) is not None:
                        queue.rejected += 1
                        assert queue.maxsize is not None
                        raise QueueFull(
                            queue.name,
                            queue.maxsize,
                            "policy: caller_runs, but the caller cannot run a job that is "
                            "scheduled for later",
                        )
                    await self._run_in_caller(handle, queue)
                    return
            else:  # DROP_NEWEST or a custom handler
                if not queue.has_space():
                    await self._reject_new(handle, queue, policy)
                    return
        queue.size += 1  # reserve the place before the first await
        record = handle._record
        options = handle._definition.options
        if options.delay is not None:
            record.scheduled_for = record.created_at + options.delay
        elif options.at is not None:
            record.scheduled_for = options.at.timestamp()
        due = self._due_at(handle)
        if due is not None:
            record.state = _SCHEDULED
        try:
            if self._add_nowait is not None:
                self._add_nowait(record)
            else:
                await self._store.add(record)
        except BaseException:
            queue.release()
            raise
        if not self._accepting:  # shutdown began while the store was adding
            queue.release()
            await self._finish(handle, JobState.INTERRUPTED, error=self._interrupted(handle))
            return
        self._accepted(handle, queue, due)
        if evict:
            oldest = queue.oldest()
            if oldest is not None and oldest is not handle:
                self._discard_waiting(oldest)
                queue.rejected += 1
                await self._finish(
                    oldest,
                    JobState.REJECTED,
                    error=JobRejected(
                        oldest.id,
                        f"job {oldest.id!r} was dropped: queue {queue.name!r} was full "
                        f"({queue.maxsize} waiting); policy drop_oldest made room for a newer one",
                    ),
                )
        if hooks is not None and hooks.after_submit:
            await hooks.call(hooks.after_submit, handle)

    def _due_at(self, handle: JobHandle[Any]) -> float | None:
        """When (monotonic) a new job with a delay or ``at`` is due, or None if it is due
        now: ``delay=0`` and an ``at`` that has passed both mean now."""
        options = handle._definition.options
        if options.delay:
            return self._clock.monotonic() + options.delay
        if options.at is not None:
            wait = options.at.timestamp() - handle._record.created_at
            if wait > 0:
                return self._clock.monotonic() + wait
        return None

    def _accepted(self, handle: JobHandle[Any], queue: JobQueue, due: float | None) -> None:
        """A job is in the store and holds its place: schedule it, or make it ready."""
        if due is None:
            self._make_ready(handle, queue, new=True)
        else:
            queue.track(handle)
            self._scheduled[handle] = self._timers.call_at(
                due, functools.partial(self._make_due, handle)
            )
        if self._watched:
            self._emit_submitted(handle)

    async def _wait_for_space(self, queue: JobQueue) -> None:
        async def room() -> None:
            while not queue.has_space():
                event = self._new_event()
                queue.space_waiters.append(event)
                try:
                    await event.wait()
                except BaseException:
                    if event in queue.space_waiters:
                        queue.space_waiters.remove(event)
                    elif queue.space_waiters and queue.has_space():
                        queue.space_waiters.popleft().set()  # pass the wake-up on
                    raise
                self._check_accepting()

        timeout = queue.config.block_timeout
        if timeout is None:
            await room()
        elif not await self._within(self._clock.monotonic() + timeout, room):
            queue.rejected += 1
            assert queue.maxsize is not None
            raise QueueFull(
                queue.name, queue.maxsize, f"policy: block; no room within {timeout} seconds"
            )

    async def _reject_new(self, handle: JobHandle[Any], queue: JobQueue, policy: Any) -> None:
        record = handle._record
        reason = "drop_newest" if policy is RejectPolicy.DROP_NEWEST else "a custom reject handler"
        error = JobRejected(
            record.id,
            f"job {record.id!r} was dropped: queue {queue.name!r} was full "
            f"({queue.maxsize} waiting); policy: {reason}",
        )
        await self._refuse(handle, error)
        queue.rejected += 1
        if policy is not RejectPolicy.DROP_NEWEST:
            try:
                outcome = policy(handle)
                if inspect.isawaitable(outcome):
                    outcome = await outcome
                if outcome is not None:
                    self._faults.returned("reject handler", policy, outcome, f"job {record.id!r}")
            except BaseException as exc:
                if cancelled_here(exc):
                    raise
                self._faults.callback_failed("reject handler", policy, exc, f"job {record.id!r}")

    async def _refuse(self, handle: JobHandle[Any], error: JobRejected) -> None:
        """End a new job as rejected before it was accepted; its record is stored ended."""
        self._settle(handle, JobState.REJECTED, None, error)
        await self._store.add(handle._record)
        self._announce(handle)

    def _skipped(self, handle: JobHandle[Any], skip: BaseException) -> JobRejected:
        record = handle._record
        return JobRejected(record.id, f"job {record.id!r} was skipped by middleware: {skip}")

    async def _run_in_caller(self, handle: JobHandle[Any], queue: JobQueue) -> None:
        record = handle._record
        hooks = self._hooks
        if hooks is not None and hooks.after_submit:
            await hooks.call(hooks.after_submit, handle)  # accepted, to run right here
        if hooks is not None and hooks.before_run:
            assert handle._context is not None
            # A private copy, not the snapshot jobs share: what the hooks set stays this job's.
            handle._context = context = handle._context.copy()
            context.run(_current_job.set, handle)
            skip = await hooks.before(hooks.before_run, handle, context)
            if skip is not None:
                await self._refuse(handle, self._skipped(handle, skip))
                return
        record.state = JobState.RUNNING
        await self._store.add(record)
        key = self._unique_keys.get(handle)
        if key is not None:  # accepted: duplicates get this handle while the caller runs it
            self._unique_admitted(self._unique[key])
        queue.rejected += 1
        queue.enqueued += 1
        if self._watched:
            self._emit_submitted(handle)
        concluded = False
        self._in_callers.add(handle)
        try:
            with anyio.CancelScope() as scope:
                concluded = await self._run(handle, queue, scope, in_caller=True)
        finally:
            self._in_callers.discard(handle)
        if not concluded:
            await self._conclude_stopped(handle)

    def _make_ready(self, handle: JobHandle[Any], queue: JobQueue, new: bool = False) -> None:
        """Queue a waiting job as ready (``new``: just accepted) and wake a parked worker."""
        queue.push(handle, new)
        idle = self._idle_workers
        if idle:
            # The most recently parked worker: its frames are likeliest still in cache.
            idle.pop().set()
        if not new:
            self._waits.requeued(handle)  # a job awaiting it may now wait for ever

    async def _persist(self, record: JobRecord) -> None:
        """Write a non-terminal change; a failing store is logged, never fatal to a job."""
        try:
            await self._store.update(record)
        except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
            self._faults.callback_failed("store", self._store.update, exc, f"job {record.id!r}")

    async def _make_due(self, handle: JobHandle[Any]) -> None:
        if handle._record.state is not _SCHEDULED:
            return
        self._scheduled.pop(handle, None)
        record = handle._record
        record.state = _QUEUED
        record.error = None  # a retry's earlier error stays in record.retries
        # Ready first, with no await in between, so a cancel can never see a half-moved job.
        self._make_ready(handle, self._queues[record.queue])
        if self._write_progress:
            await self._persist(record)

    def _discard_waiting(self, handle: JobHandle[Any]) -> None:
        """Take a scheduled or queued job out of its queue, keeping every count in step.
        The caller then finishes it (cancelled, rejected or interrupted)."""
        queue = self._queues[handle._record.queue]
        queue.remove(handle)
        self._unschedule(handle)
        queue.compact()

    def _unschedule(self, handle: JobHandle[Any]) -> None:
        timer = self._scheduled.pop(handle, None)
        if timer is not None:
            timer.cancel()

    # ----------------------------------------------------------------- running

    def _choose(self) -> JobQueue | None:
        """The queue to take the next job from, by queue selection, or None."""
        queue = self._single_queue
        if queue is not None:
            if not queue.ready or queue.running >= queue.concurrency:
                return None
        elif self._selection is Selection.STRICT:
            for candidate in self._queue_list:
                if candidate.ready and candidate.running < candidate.concurrency:
                    queue = candidate
                    break
            else:
                return None
        else:
            total = 0
            for candidate in self._queue_list:
                if candidate.ready and candidate.running < candidate.concurrency:
                    candidate.current_weight += candidate.weight
                    total += candidate.weight
                    if queue is None or candidate.current_weight > queue.current_weight:
                        queue = candidate
            if queue is None:
                return None
            queue.current_weight -= total
        return queue

    def _has_ready(self) -> bool:
        return any(queue.ready for queue in self._queue_list)

    async def _worker(self, index: int) -> None:
        # One cancel scope serves many jobs; a job is stopped (cancel, timeout, shutdown) by
        # cancelling it. The worker then leaves the scope, concludes the stopped job outside
        # it, and opens a fresh scope. This saves creating a scope for every job.
        idle = self._idle_workers
        budget = _YIELD_EVERY
        task = current_task()
        self._worker_tasks.add(task)
        try:
            while True:
                stopped: JobHandle[Any] | None = None
                with anyio.CancelScope() as scope:
                    while True:
                        queue = self._choose()
                        if queue is None:
                            stopping = (
                                not self._accepting and self._state is not RunnerState.STARTING
                            )
                            if stopping and not self._has_ready():
                                # Nothing left for anyone: let parked workers see it too.
                                while idle:
                                    idle.popleft().set()
                                return
                            event = self._new_event()
                            idle.append(event)
                            await event.wait()
                            continue
                        stopped = queue.pop()  # until _run says it reached its outcome
                        try:
                            if not await self._run(stopped, queue, scope):
                                break  # stopped: conclude outside the cancelled scope
                        finally:
                            queue.running -= 1  # the slot pop() took
                        # A parked worker must not keep its last job alive.
                        stopped = None
                        budget -= 1
                        if not budget:
                            break  # jobs that never wait would keep the loop from others
                if stopped is not None:  # stopped, by a return or by the scope catching it
                    await self._conclude_stopped(stopped)
                elif not budget:
                    budget = _YIELD_EVERY
                    await anyio.lowlevel.checkpoint()  # outside the job scope: no stop lands
        except BaseException as exc:
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            # Only a bug in asyncjobs gets here: never let it crash the host's event loop.
            logger.exception("asyncjobs worker %d crashed", index)
        finally:
            self._worker_tasks.discard(task)
            self._live_workers -= 1
            if not self._live_workers and self._workers_done is not None:
                self._workers_done.set()

    async def _run(
        self,
        handle: JobHandle[Any],
        queue: JobQueue,
        scope: anyio.CancelScope | None,
        in_caller: bool = False,
    ) -> bool:
        """Run one job. Returns True when it reached its outcome; False when it was stopped
        (cancel, timeout, shutdown) and must be concluded with ``_conclude_stopped`` outside
        ``scope``. Our own cancellation of ``scope`` propagates to it; no other exception
        escapes, except the task's own cancellation. ``in_caller``: a caller-runs job, already
        stored as running, whose ``before_run`` hooks have run."""
        record = handle._record
        snapshot = handle._context
        assert snapshot is not None  # dropped only once the job has finished
        # The job's own context, made now: a waiting job holds only the shared snapshot.
        context = snapshot.copy()
        context.run(_current_job.set, handle)
        hooks = self._hooks
        if hooks is not None and not in_caller and hooks.before_run:
            self._running[handle] = None  # a cancel now is remembered, not lost
            try:
                skip = await hooks.before(hooks.before_run, handle, context)
            finally:
                self._running.pop(handle, None)
            if handle._stop_reason is not None:
                return False
            if skip is not None:
                await self._finish(handle, JobState.REJECTED, error=self._skipped(handle, skip))
                return True
        record.state = _RUNNING
        record.started_at = self._time()
        record.attempts += 1
        if not in_caller and self._write_progress:
            self._running[handle] = None  # running while its start is being stored
            await self._persist(record)
        if self._watched:
            self._emit(JobStarted, handle)
        timer = None
        if record.timeout is not None:
            timer = self._timers.call_at(
                self._clock.monotonic() + record.timeout,
                functools.partial(self._stop_job, handle, _TIMEOUT),
            )
        definition = handle._definition
        result: Any = None
        error: BaseException | None = None
        self._running[handle] = scope  # only now can a stop cancel this handler
        try:
            try:
                if handle._stop_reason is not None:  # stopped while its start was being stored
                    return False
                if definition.is_async:
                    coro = context.run(definition.fn, *record.args, **record.kwargs)
                    try:
                        first = context.run(coro.send, None)
                    except StopIteration as stop:
                        result = stop.value  # done without waiting: no driver needed
                    else:
                        result = await in_context(context, coro, first)
                else:
                    call = self._threads.call(
                        handle, context, definition.fn, record.args, record.kwargs
                    )
                    result = unwrap(await anyio.to_thread.run_sync(call, abandon_on_cancel=True))
            finally:
                if timer is not None:
                    timer.cancel()
                self._running.pop(handle, None)
        except anyio.get_cancelled_exc_class() as exc:
            if handle._stop_reason is not None:
                raise  # ours: the worker's scope catches it
            if cancel_requested():
                # The worker task itself is being cancelled (the event loop is closing).
                await self._finish(handle, JobState.INTERRUPTED, error=self._interrupted(handle))
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
            delay = self._retry_delay(handle, error)
            if delay is not None:
                await self._retry(handle, error, delay)
                return True
            self._log_failure(record, error)
            if hooks is not None:
                await self._failed_for_good(handle, error)
                return True
        state = _SUCCEEDED if error is None else _FAILED
        if self._update_nowait is not None:
            self._finish_now(handle, state, result, error)
        else:
            await self._finish(handle, state, result=result, error=error)
        return True

    def _aborted(self, handle: JobHandle[Any], raised: BaseException) -> JobAborted:
        """The job's failure when its handler raised a BaseException that is not an
        Exception; all but a cancellation also stop the block (see ``_escalation``)."""
        record = handle._record
        if escalates(raised):
            what = "; the runner stops and raises it where its async with block is left"
            self._escalation.raise_later(raised)
        else:
            what = " though nobody had cancelled it"
        error = JobAborted(
            record.id,
            f"job {record.id!r} raised {type(raised).__qualname__}{what}",
        )
        error.__cause__ = raised
        return error

    @staticmethod
    def _log_failure(record: JobRecord, error: BaseException) -> None:
        """Every final failure logs this one WARNING, with the traceback if there is one."""
        logger.warning(
            "job %s (%s) failed: %s", record.name, record.id, describe_error(error), exc_info=error
        )

    async def _failed_for_good(self, handle: JobHandle[Any], error: BaseException) -> None:
        """Record a final failure with the middleware's ``on_failure`` and ``on_dead_letter``
        hooks around it."""
        hooks = self._hooks
        if hooks is not None and hooks.on_failure:
            await hooks.call(hooks.on_failure, handle, error)
        await self._finish(handle, JobState.FAILED, error=error)
        if hooks is not None and hooks.on_dead_letter and handle._record.state is _FAILED:
            await hooks.call(hooks.on_dead_letter, handle)

    async def _conclude_stopped(self, handle: JobHandle[Any]) -> None:
        """Record the outcome of a job that we stopped, by the reason it was stopped."""
        record = handle._record
        reason = handle._stop_reason
        if reason is _CANCEL:
            when = "while running" if record.state is _RUNNING else "before it started"
            await self._finish(
                handle,
                JobState.CANCELLED,
                error=JobCancelled(record.id, f"job {record.id!r} was cancelled {when}"),
            )
        elif reason is _TIMEOUT:
            error = JobTimedOut(
                record.id, f"job {record.id!r} timed out after {record.timeout} seconds"
            )
            delay = self._retry_delay(handle, error)
            if delay is None:
                self._log_failure(record, error)
                await self._failed_for_good(handle, error)
            else:
                handle._stop_reason = None  # the stop was for this attempt only
                await self._retry(handle, error, delay)
        else:
            await self._finish(handle, JobState.INTERRUPTED, error=self._interrupted(handle))

    def _retry_delay(self, handle: JobHandle[Any], error: BaseException) -> float | None:
        """Seconds until the failed job's next attempt, or None if it has failed for good."""
        policy = handle._definition.options.retry
        if policy is None or isinstance(error, (JobAborted, InvalidJob)):
            return None  # a stop, or a mistake in the job: another attempt ends the same
        try:
            return policy.delay_after(handle._record.attempts, error)
        except BaseException as exc:  # a backoff function's KeyboardInterrupt or the like
            if not escalates(exc):
                raise
            self._faults.callback_failed("backoff", policy.backoff, exc, f"job {handle.id!r}")
            return None  # the job fails for good: the runner is stopping

    async def _retry(self, handle: JobHandle[Any], error: BaseException, delay: float) -> None:
        """The running job's attempt failed and it gets another after ``delay`` seconds: it
        leaves its worker and waits, like a scheduled job, then re-enters its queue."""
        record = handle._record
        now = self._time()
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
        assert record.started_at is not None  # it was running
        record.retries = (
            *record.retries,
            Attempt(
                number=len(record.retries) + 1,
                started_at=record.started_at,
                finished_at=now,
                outcome=_FAILED,
                error=text,
            ),
        )
        record.error = text
        record.started_at = None  # no attempt under way
        record.state = _SCHEDULED
        record.scheduled_for = now + delay
        if not self._accepting:
            # Shutdown has begun: the job keeps its remaining attempts and ends interrupted.
            # It ran and ended (no longer RUNNING, so _settle would not count it).
            self._queues[record.queue].processed += 1
            await self._finish(handle, JobState.INTERRUPTED, error=self._interrupted(handle))
            return
        if self._stats is not None:
            self._stats.note_retry(record.name, record.queue, now)
        self._queues[record.queue].hold_for_retry(handle)
        self._scheduled[handle] = self._timers.call_at(
            self._clock.monotonic() + delay, functools.partial(self._make_due, handle)
        )
        if self._watched:
            self._emit(JobRetried, handle, attempt=record.attempts, delay=delay, error=text)
        if self._write_progress:
            await self._persist(record)
        hooks = self._hooks
        if hooks is not None and hooks.on_retry:
            await hooks.call(hooks.on_retry, handle, error, delay)
        if self._idle_waiters:  # it waits for its retry now, neither queued nor running
            self._wake_idle()

    def _stop_job(self, handle: JobHandle[Any], reason: str) -> None:
        """Ask a running job to stop; the first reason given decides its outcome.

        ``_running`` holds the job's scope only while its handler runs, so the cancellation
        can only land in this job's handler, never in the worker's next job. A stop that comes
        before the handler starts is remembered, and the handler is never started."""
        if handle._stop_reason is None and not handle._done:
            handle._stop_reason = reason
            scope = self._running.get(handle)
            if scope is not None:
                scope.cancel()

    def _interrupted(self, handle: JobHandle[Any]) -> JobInterrupted:
        return JobInterrupted(
            handle._record.id, f"job {handle._record.id!r} was interrupted by shutdown"
        )

    async def _finish(
        self,
        handle: JobHandle[Any],
        state: JobState,
        *,
        result: Any = None,
        error: BaseException | None = None,
    ) -> None:
        """Record the terminal outcome, resolve the handle, emit the event. Once per job."""
        if self._update_nowait is not None:
            self._finish_now(handle, state, result, error)
        elif self._settle(handle, state, result, error):
            try:
                await self._store.update(handle._record)
            except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
                self._faults.callback_failed("store", self._store.update, exc, f"job {handle.id!r}")
            finally:
                self._announce(handle)

    def _finish_now(
        self, handle: JobHandle[Any], state: JobState, result: Any, error: BaseException | None
    ) -> None:
        """``_finish`` for a store with ``update_nowait``: no coroutine on the hot path."""
        assert self._update_nowait is not None
        if self._settle(handle, state, result, error):
            try:
                self._update_nowait(handle._record)
            except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
                self._faults.callback_failed(
                    "store", self._update_nowait, exc, f"job {handle.id!r}"
                )
            finally:
                self._announce(handle)

    def _settle(
        self, handle: JobHandle[Any], state: JobState, result: Any, error: BaseException | None
    ) -> bool:
        """Write the outcome into the record; False if the job had already finished."""
        if handle._done:
            return False
        record = handle._record
        if record.state is _RUNNING:  # it ran: count it where it ran
            queue = self._queues[record.queue]
            queue.processed += 1
            if state is _FAILED:
                queue.failed += 1
            elif state is _INTERRUPTED:
                record.attempts -= 1  # an attempt cut off by shutdown is not used up
        record.state = state
        record.finished_at = self._time()
        record.result = result
        if error is not None:
            record.error = describe_error(error)
            handle._error = error
            handle._error_tb = error.__traceback__
            if state is _FAILED:
                record.traceback = "".join(traceback.format_exception(error))
                self._keep_definition(handle)
            elif state is _INTERRUPTED and self._shutdown_interrupted is not None:
                self._shutdown_interrupted.append(record.id)
        handle._done = True  # from here on, nothing else can finish this job
        pending = self._stats_pending
        if pending is not None:
            pending.append(record)
            if len(pending) >= 512:
                assert self._stats is not None
                self._stats.fold()
        if self._unique_keys:
            self._release_unique(handle)
        # The context holds current_job, which is this handle: drop it so a finished job is
        # freed by reference counting alone, without waiting for the cycle collector.
        handle._context = None
        return True

    def _keep_definition(self, handle: JobHandle[Any]) -> None:
        """Remember a dead letter's definition if a requeue could not find it by name."""
        definition = handle._definition
        name = definition.name
        registry = self._registry
        if name in registry and registry.get(name) is definition:
            return
        if self._adhoc.get(definition.fn) is definition:
            return
        kept = self._dead_definitions
        kept.pop(handle.id, None)
        kept[handle.id] = definition
        if len(kept) > _KEPT_DEFINITIONS:
            del kept[next(iter(kept))]

    def _announce(self, handle: JobHandle[Any]) -> None:
        """The outcome is stored: resolve the handle, wake idle waiters, emit the event."""
        waiter = handle._waiter  # handle._done is already set
        if waiter is not None:
            waiter.set()
        if self._idle_waiters:
            self._wake_idle()
        channel = handle._progress
        if channel is not None:
            channel.close()
        if self._watched:
            self._emit_ended(handle)

    def _wake_idle(self) -> None:
        """Wake ``wait_idle`` callers if no job is queued or running now."""
        if not self._running and not self._has_ready():
            for waiter in self._idle_waiters:
                waiter.set()
            self._idle_waiters.clear()

    # ----------------------------------------------------------------- cancelling

    async def _cancel(self, handle: JobHandle[Any]) -> bool:
        if _get_ident() != self._loop_thread:
            raise WrongEventLoop("a job cancelled")
        if handle._done:
            return False
        record = handle._record
        if record.state is JobState.RUNNING or handle in self._running:
            self._stop_job(handle, _CANCEL)  # in _running: its before_run hooks are running
            return True
        self._discard_waiting(handle)
        await self._finish(
            handle,
            JobState.CANCELLED,
            error=JobCancelled(record.id, f"job {record.id!r} was cancelled before it started"),
        )
        return True

    async def cancel(self, job_id: str) -> bool:
        """Cancel a job of this runner by id; see ``JobHandle.cancel``.

        Raises ``JobNotFound`` for an id this runner is not running or holding.
        """
        self._check_thread("runner.cancel called")
        job_id = _validation.name("job_id", job_id)
        for handle in itertools.chain(self._running, self._scheduled):
            if handle._record.id == job_id:
                return await self._cancel(handle)
        for queue in self._queue_list:
            for handle in queue.ready_jobs():
                if handle._record.id == job_id:
                    return await self._cancel(handle)
        await self._store.get(job_id)  # raises JobNotFound if unknown
        return False  # known, and finished

    # ----------------------------------------------------------------- waiting

    async def _within(self, deadline: float, wait: Callable[[], Awaitable[object]]) -> bool:
        """Await ``wait()`` until the clock reaches ``deadline``; True if it finished."""
        scope = anyio.CancelScope()
        timer = self._timers.call_at(deadline, scope.cancel)
        try:
            with scope:
                await wait()
        finally:
            timer.cancel()
        return not scope.cancelled_caught

    async def _wait_handle(self, handle: JobHandle[Any], timeout: float) -> None:  # noqa: ASYNC109
        seconds = _validation.duration("timeout", timeout)
        # A timed wait ends by itself: never a deadlock, so not through _wait_in_job.
        if not await self._within(self._clock.monotonic() + seconds, handle._wait_event):
            raise ResultTimeout(handle._record.id, seconds)

    def _check_thread(self, what: str) -> None:
        """Refuse a call from a thread other than the loop's (WrongEventLoop)."""
        if _get_ident() != self._loop_thread:
            raise WrongEventLoop(what)

    async def _wait_in_job(self, parent: JobHandle[Any], handle: JobHandle[Any]) -> None:
        """A running job's code waits for ``handle`` (no timeout): raises ``JobDeadlock``
        if the wait could never end. A task the job started waits as any other task: the
        job's own flow may go on meanwhile, so its wait blocks nothing."""
        if current_task() not in self._worker_tasks:
            await handle._event().wait()
        else:
            await self._waits.wait(parent, handle, handle._event())

    def running_jobs(self) -> tuple[JobHandle[object], ...]:
        """The jobs running now: in a worker, in their submitter (``caller_runs``), or in
        their ``before_run`` hooks. A job whose handler shutdown abandoned has ended (its
        handle has resolved) and is not among them."""
        return tuple(handle for handle in self._running if not handle._done)

    async def wait_idle(self) -> None:
        """Wait until no job is queued or running (scheduled jobs may remain)."""
        while self._running or self._has_ready():
            event = self._new_event()
            self._idle_waiters.append(event)
            await event.wait()

    async def _wait_event_until(self, event: Event, deadline: float) -> bool:
        return event.is_set() or await self._within(deadline, event.wait)

    async def _wait_quiet_until(self, deadline: float) -> bool:
        """Wait until the workers have exited and no job runs anywhere (a caller-runs job
        runs in its submitter's task), or the deadline passes; True if quiet."""
        assert self._workers_done is not None
        if not await self._wait_event_until(self._workers_done, deadline):
            return False
        while self._running:
            event = self._new_event()
            self._idle_waiters.append(event)
            if not await self._wait_event_until(event, deadline):
                return False
        return True

    # ----------------------------------------------------------------- shutdown

    async def shutdown(self) -> ShutdownReport:
        """Stop taking jobs, let work finish for the grace period, cancel the rest.

        Returns within ``grace_period + cancel_timeout`` even if handlers ignore
        cancellation, plus the time the runner's own bus takes to deliver its last events
        (at most ``cancel_timeout`` more). Leaving the ``async with`` block calls it; calling
        it again returns the same report. Cancelled from outside, it cuts the grace period
        short (running jobs are cancelled at once), finishes the rest shielded, and then
        lets the cancellation go on.
        """
        if self._report is not None:
            return self._report
        if self._state is RunnerState.NEW:
            raise RunnerNotRunning("the runner has not started; there is nothing to shut down")
        assert self._stopped is not None
        assert self._workers_done is not None
        if self._state is RunnerState.STOPPING:
            await self._stopped.wait()
            assert self._report is not None
            return self._report
        self._state = RunnerState.STOPPING
        self._accepting = False
        self._schedules._stop_firing()
        # Every job that ends interrupted from now on, whichever path ends it (see _settle).
        interrupted = self._shutdown_interrupted = []
        clock = self._clock
        with anyio.CancelScope(shield=True):
            for queue in self._queue_list:
                while queue.space_waiters:
                    queue.space_waiters.popleft().set()
            for handle in list(self._scheduled):
                await self._interrupt_waiting(handle)
            if not self._drain:
                await self._interrupt_ready()
            idle = self._idle_workers
            while idle:
                idle.popleft().set()
            grace_ends = clock.monotonic() + self._grace_period
            grace_ends_at = self._time() + self._grace_period  # the same, on the wall clock
            running_at_start = list(self._running)
        hurried: BaseException | None = None
        try:  # the only part a cancellation from outside may cut short
            drained = await self._wait_quiet_until(grace_ends)
            if drained:  # threads of jobs stopped earlier get the rest of the grace period
                await self._threads.wait_until(grace_ends, self._new_event, self._wait_event_until)
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
                await self._interrupt_ready()
                running = list(self._running)
                for handle in running:
                    self._stop_job(handle, _SHUTDOWN)
                deadline = clock.monotonic() + self._cancel_timeout
                if await self._wait_quiet_until(deadline):
                    await self._threads.wait_until(
                        deadline, self._new_event, self._wait_event_until
                    )
                # A cancelled handler needs a turn or two of the loop to stop (trio's
                # checkpoint takes two), even when the cancel timeout left it no time.
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
                        await self._finish(
                            handle, JobState.INTERRUPTED, error=self._interrupted(handle)
                        )
            for handle in self._threads.still_running():
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
            self._report = report
            if self._rewatch in self._bus._watchers:
                self._bus._watchers.remove(self._rewatch)
            if self._owns_bus:
                await self._bus.aclose()  # delivers the last events, within close_timeout
            # Every job has ended: the schedules note the outcomes of theirs.
            await self._within(clock.monotonic() + self._cancel_timeout, self._schedules._closed)
            if self._timer_scope is not None and self._timer_done is not None:
                self._timer_scope.cancel()
                await self._timer_done.wait()
            try:
                self._faults.flush()
                await self._store.close()
            finally:
                if self in _live_runners:
                    _live_runners.remove(self)
                self._state = RunnerState.STOPPED
                self._stopped.set()
        if hurried is not None:
            raise hurried
        return report

    async def _interrupt_waiting(self, handle: JobHandle[Any]) -> None:
        self._discard_waiting(handle)
        await self._finish(handle, JobState.INTERRUPTED, error=self._interrupted(handle))

    async def _interrupt_ready(self) -> None:
        for queue in self._queue_list:
            for handle in queue.ready_jobs():
                await self._interrupt_waiting(handle)
            queue.compact()

    # ----------------------------------------------------------------- schedules

    @property
    def schedules(self) -> Schedules:
        """Cron, interval and one-shot schedules of jobs (see ``Schedules``)."""
        return self._schedules

    # ----------------------------------------------------------------- dead letters

    @property
    def dead_letters(self) -> DeadLetters:
        """The failed jobs: list, inspect, requeue and purge them (see ``DeadLetters``)."""
        return self._dead_letters

    def _definition_named(self, name: str) -> JobDefinition[Any, Any]:
        if name in self._registry:
            return self._registry.get(name)
        for definition in self._adhoc.values():
            if definition.name == name:
                return definition
        raise InvalidJob(
            name,
            "no job of this name is registered (decorate it with @job, or pass the runner "
            "its registry), so a dead letter of it cannot be requeued",
        )

    async def _requeue(self, job_id: str) -> JobHandle[Any]:
        """Put a failed job back in its queue, with a fresh retry budget (see DeadLetters)."""
        self._check_accepting()
        job_id = _validation.name("job_id", job_id)
        if job_id in self._requeuing:
            raise JobStateError(job_id, "being requeued", "another requeue of it is under way")
        self._requeuing.add(job_id)
        try:
            record = await self._store.get(job_id)  # our own copy: the engine's record now
            if record.state is not _FAILED:
                raise JobStateError(
                    job_id, record.state.value, "only failed jobs (dead letters) can be requeued"
                )
            definition = self._dead_definitions.get(job_id) or self._definition_named(record.name)
            queue = self._queues.get(record.queue)
            if queue is None:
                raise UnknownQueue(record.queue, list(self._queues))
            if not queue.has_space():
                if queue.config.on_full is not RejectPolicy.BLOCK:
                    assert queue.maxsize is not None
                    raise QueueFull(queue.name, queue.maxsize, "no place for a requeued job")
                await self._wait_for_space(queue)
            handle = await self._requeue_into(record, definition, queue)
            self._dead_definitions.pop(job_id, None)
            return handle
        finally:
            self._requeuing.discard(job_id)

    async def _requeue_all(self, records: Iterable[JobRecord]) -> list[JobHandle[Any]]:
        """Requeue these dead letters, all or nothing where a bounded queue would refuse."""
        records = list(records)
        self._check_room(
            (record.queue for record in records),
            lambda queue: queue.config.on_full is not RejectPolicy.BLOCK,
            "{count} dead letters to requeue, {free} places free",
        )
        self._check_unique_keys(records)
        handles: list[JobHandle[Any]] = []
        for record in records:
            try:
                handles.append(await self._requeue(record.id))
            except (JobNotFound, JobStateError):
                continue  # no longer a dead letter: requeued or purged meanwhile
        return handles

    def _check_unique_keys(self, records: list[JobRecord]) -> None:
        """Refuse (``DuplicateJob``) a batch of dead letters of unique jobs if one's key is
        held, or two share a key: before any is requeued, so the batch is all or nothing."""
        seen: dict[str, str] = {}
        for record in records:
            definition = self._dead_definitions.get(record.id) or self._definition_named(
                record.name
            )
            unique = definition.options.unique
            if unique is None:
                continue
            key = unique.key_for(definition.name, record.args, dict(record.kwargs))
            holder = self._live_holder(key)
            if holder is not None:
                raise DuplicateJob(key, holder.handle.id)
            if key in seen:
                raise DuplicateJob(key, seen[key])
            seen[key] = record.id

    async def _requeue_into(
        self, record: JobRecord, definition: JobDefinition[Any, Any], queue: JobQueue
    ) -> JobHandle[Any]:
        handle: JobHandle[Any] = JobHandle(record, definition, self, contextvars.copy_context())
        held: _Held | None = None
        unique = definition.options.unique
        if unique is not None:
            key = unique.key_for(definition.name, record.args, dict(record.kwargs))
            holder = self._live_holder(key)
            if holder is not None:
                raise DuplicateJob(key, holder.handle.id)
            held = _Held(handle, self._clock.monotonic() + unique.ttl, self._new_event())
            self._unique[key] = held
            self._unique_keys[handle] = key
        # The failed attempt joins the history; the job starts over with no attempts used.
        record.retries = record.history
        record.state = _QUEUED
        record.scheduled_for = record.started_at = record.finished_at = None
        record.attempts = 0
        record.result = record.error = record.traceback = None
        queue.size += 1  # reserve the place before the first await
        try:
            await self._store.update(record)
        except BaseException:
            queue.release()
            self._release_unique(handle)
            raise
        finally:
            if held is not None:
                self._unique_admitted(held)
        if not self._accepting:  # shutdown began while the store was writing
            queue.release()
            await self._finish(handle, JobState.INTERRUPTED, error=self._interrupted(handle))
            return handle
        logger.info("job %s (%s) requeued from the dead letters", record.name, record.id)
        self._accepted(handle, queue, None)
        return handle

    # ----------------------------------------------------------------- observing

    @overload
    def subscribe(self, listener: Callable[[JobEvent], object]) -> Subscription: ...

    @overload
    def subscribe(
        self, listener: Callable[[_E], object], *event_types: type[_E]
    ) -> Subscription: ...

    def subscribe(self, listener: Callable[[Any], object], *event_types: type[Any]) -> Subscription:
        """Call ``listener(event)`` for each lifecycle event (of the given types, or every
        job event). Schedule events (``ScheduleEvent`` and its subclasses) come to
        listeners that name them.

        Listeners run synchronously in the runner's tasks and must be quick; one that raises
        is logged and skipped. Use the returned subscription as a context manager, or call
        its ``unsubscribe()``.
        """
        if not callable(listener):
            raise InvalidOptionType("listener", listener, "expected a callable")
        for event_type in event_types:
            if not (
                isinstance(event_type, type) and issubclass(event_type, (JobEvent, ScheduleEvent))
            ):
                raise InvalidOptionType(
                    "event_types", event_type, "expected JobEvent or ScheduleEvent subclasses"
                )
        return self._listeners.add(listener, event_types)

    @property
    def bus(self) -> EventBus:
        """The event bus lifecycle events are published on; publish your own events on it
        too (``await runner.bus.publish(...)``)."""
        return self._bus

    def _rewatch(self) -> None:
        """Listeners or bus subscriptions changed: note whether anyone listens now."""
        self._watched = bool(self._listeners._entries) or bool(self._bus._subscriptions)

    def _emit(self, cls: type[JobEvent], handle: JobHandle[Any], **extra: Any) -> None:
        """Build and deliver a lifecycle event, if a listener or subscription wants it."""
        record = handle._record
        self._publish(cls, job_id=record.id, job_name=record.name, queue=record.queue, **extra)

    def _publish(self, cls: type[JobEvent | ScheduleEvent], **fields: Any) -> None:
        """Build and deliver an event, if a listener or subscription wants it."""
        bus = self._bus
        to_bus = bus._state is BusState.RUNNING and bus.wants(cls.topic)
        if not (to_bus or self._listeners._entries):
            return
        event = cls(timestamp=self._clock.time(), **fields)
        self._listeners.emit(event)
        if to_bus:
            bus.publish_nowait(event, topic=cls.topic)

    def _emit_submitted(self, handle: JobHandle[Any]) -> None:
        self._emit(JobSubmitted, handle, state=handle._record.state)

    def _emit_ended(self, handle: JobHandle[Any]) -> None:
        record = handle._record
        self._emit(ENDED_EVENTS[record.state], handle, state=record.state, error=record.error)
        if record.state is _FAILED:
            self._emit(JobDeadLettered, handle, attempts=record.attempts, error=record.error)

    # ----------------------------------------------------------------- progress

    def _report_progress(
        self,
        handle: JobHandle[Any],
        percent: float | None,
        message: str | None,
        done: int | None,
        total: int | None,
        step: str | None,
    ) -> Progress:
        """``report_progress`` for ``handle``; from a worker thread, it hops to the loop."""
        if threading.get_ident() != self._loop_thread:
            return anyio.from_thread.run_sync(
                self._report_progress, handle, percent, message, done, total, step
            )
        record = handle._record
        if handle._done:
            raise NotInJob(
                f"job {record.id!r} has ended ({record.state.value}); its progress is final"
            )
        update = next_progress(record.progress, percent, message, done, total, step, self._time())
        record.progress = update
        channel = handle._progress
        if channel is not None:
            channel.publish(update)
        if self._watched:
            self._emit(JobProgressed, handle, progress=update)
        return update

    def queue_statistics(self, name: str | None = None) -> dict[str, QueueStatistics]:
        """Counters per queue (or of the one named)."""
        if name is not None:
            name = _validation.name("name", name)
            queue = self._queues.get(name)
            if queue is None:
                raise UnknownQueue(name, list(self._queues))
            return {name: queue.statistics()}
        return {queue.name: queue.statistics() for queue in self._queues.values()}

    def job_statistics(self, window: float | timedelta = 300.0) -> JobStatistics:
        """Jobs that finished in the last ``window`` seconds (default five minutes; at most
        ``statistics_window``): counts, success rate and run times, overall, per job name
        and per queue. See ``WindowStatistics`` for what each figure counts."""
        if self._stats is None:
            raise InvalidOption(
                "statistics_window", None, "windowed statistics are off for this runner"
            )
        return self._stats.report(window, self._clock.time())

    def pool_statistics(self) -> PoolStatistics:
        """The worker pool now: capacity, running, idle, waiting and scheduled jobs."""
        running = sum(queue.running for queue in self._queue_list)
        return PoolStatistics(
            capacity=self._max_workers,
            running=running,
            idle=self._live_workers - running,
            waiting=sum(queue.ready for queue in self._queue_list),
            scheduled=len(self._scheduled),
        )

    async def get_job(self, job_id: str) -> JobRecord:
        """A snapshot of a job's record; ``JobNotFound`` if unknown (or evicted)."""
        return await self._store.get(_validation.name("job_id", job_id))

    async def list_jobs(
        self,
        *,
        states: Iterable[JobState | str] | None = None,
        queue: str | None = None,
        name: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> JobPage:
        """A page of job records in submission order; see ``JobStore.list``."""
        wanted = None if states is None else _validation.states("states", states)
        return await self._store.list(
            states=wanted,
            queue=_validation.optional_name("queue", queue),
            name=_validation.optional_name("name", name),
            limit=limit,
            cursor=cursor,
        )
