"""``JobRunner``: the owner of the engine and its facade. Use it as ``async with JobRunner()``.

The path of a job through the engine's stages, each a module of its own:

``_admission`` (submit: validate, build, claim a unique key, admit into a bounded queue)
-> ``_waiting`` (the ready queues and the jobs due later) -> ``_workers`` (dispatch: a worker
takes the next job by queue selection) -> ``_attempt`` (one run: context, hooks, timeout,
cancel scope) -> ``_outcomes`` (a retry, or the terminal outcome: stored, handle resolved,
event emitted). ``_shutdown`` and ``_retention`` end and clean up; ``_requeue`` puts dead
letters back; ``_job_control`` is the engine as handles see it. The runner builds the
stages, starts and stops them, and answers the public API by handing each call on.
"""

from __future__ import annotations

import contextvars
import math
import os
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import timedelta
from types import TracebackType
from typing import Any, NamedTuple, ParamSpec, TypeVar, overload

import anyio
import attrs

from . import _current, _validation
from ._admission import Admission
from ._announcer import Announcer
from ._attempt import Attempts
from ._batch import BatchAdmit
from ._bus import BusState, EventBus
from ._claims import Claims
from ._clock import Clock, SystemClock, VirtualClock
from ._core import Core, RunnerState
from ._dead_letters import DeadLetters
from ._definition import JobCall, JobDefinition, JobRegistry, default_registry
from ._errors import (
    BusNotRunning,
    InvalidJob,
    InvalidOption,
    InvalidOptionType,
    RunnerNotRunning,
    UnknownQueue,
    WrongEventLoop,
)
from ._escalation import Escalation
from ._events import JobEvent, Subscription
from ._faults import RepeatLog
from ._handle import Definition, JobHandle, Runner, current_job_var
from ._job_control import JobControl
from ._known_jobs import KnownJobs
from ._leases import LeaseBook
from ._middleware import JobMiddleware, MiddlewareChain
from ._options_data import retry_of
from ._outcomes import Outcomes
from ._queue import JobQueue, QueueConfig, QueueStatistics, policy_for
from ._record import JobRecord
from ._reject import CallerRuns
from ._requeue import Requeue
from ._retention import Retention
from ._schedule_events import ScheduleEvent
from ._scheduler import Schedules
from ._shared import SharedWork
from ._shutdown import Shutdown, ShutdownReport
from ._spawn import current_loop, event_factory, spawn_detached
from ._states import JobState
from ._stats import JobStatistics, longest_window
from ._timers import TimerService
from ._waiting import Selection, Waiting
from ._waits import JobWaits
from ._workers import Workers
from .abc import Backend, JobPage, JobStore
from .storage.memory import MemoryJobStore

__all__ = [
    "MAX_WORKERS",
    "JobRunner",
    "PoolStatistics",
    "RunnerState",
    "Selection",
    "ShutdownReport",
    "current_job",
    "current_runner",
]

_E = TypeVar("_E", bound="JobEvent | ScheduleEvent")

P = ParamSpec("P")
R = TypeVar("R")


MAX_WORKERS = 10_000
"""The most workers a runner has (each is a task, started with the runner)."""

_get_ident = threading.get_ident


def current_runner() -> JobRunner:
    """The runner that ``job.submit()`` submits to.

    That is the runner running the job the caller is in, else the runner whose ``async with``
    block the caller is in; else, the one runner started on the running event loop (a
    runner entered in a web app's lifespan, seen from its request handlers). Raises
    ``RunnerNotRunning`` if there is none, or if several are running there and none is the
    caller's.
    """
    runner = _current.find()
    assert isinstance(runner, JobRunner)  # the only kind that enters itself there
    return runner


def current_job() -> JobHandle[object] | None:
    """The handle of the job the caller runs in, or None outside jobs."""
    return current_job_var.get()


class PoolStatistics(NamedTuple):
    """The worker pool at one moment: capacity = workers; waiting = ready jobs not started."""

    capacity: int
    running: int
    idle: int
    waiting: int
    scheduled: int


def _own_store(clock: Clock) -> JobStore:
    """The store of a runner given none."""
    return MemoryJobStore()


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
    :param store: where records are kept; default ``MemoryJobStore()``. A store that is
        also a ``Backend`` (``MemoryBackend``) holds the waiting jobs too, and every runner
        given the same one shares its work (see docs/architecture.md).
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
    :param lease_time: on a shared backend (a ``store`` that is an ``asyncjobs.abc.Backend``,
        such as ``MemoryBackend``), the seconds a job taken from it stays this runner's
        unless renewed; the runner renews its leases every third of that. A runner that
        dies loses its jobs to the others once their lease runs out. Default 30.
    :param poll_interval: on a shared backend, the longest (seconds) the runner waits
        before asking it for work again when the event channel has said nothing. Default 1.

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
        lease_time: float | timedelta = 30.0,
        poll_interval: float | timedelta = 1.0,
    ) -> None:
        configs = _queue_configs(queues)
        depth = None if max_depth is None else _validation.positive_int("max_depth", max_depth)
        chosen = _validation.member(Selection, "selection", selection)
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
        workers = min(total, MAX_WORKERS) if max_workers is None else max_workers
        if store is not None and not isinstance(store, JobStore):
            raise InvalidOptionType("store", store, "expected a JobStore (see asyncjobs.abc)")
        if clock is not None and not isinstance(clock, Clock):
            raise InvalidOptionType("clock", clock, "expected a Clock (see asyncjobs.Clock)")
        if not isinstance(drain_on_shutdown, bool):
            raise InvalidOptionType("drain_on_shutdown", drain_on_shutdown, "expected a bool")
        grace = _validation.non_negative_duration("grace_period", grace_period)
        cancel_after = _validation.non_negative_duration("cancel_timeout", cancel_timeout)
        result_for = _validation.optional_duration("result_ttl", result_ttl)
        dead_for = _validation.optional_duration("dead_letter_ttl", dead_letter_ttl)
        if registry is not None and not isinstance(registry, JobRegistry):
            raise InvalidOptionType("registry", registry, "expected a JobRegistry")
        stats = longest_window(statistics_window)
        max_sleep = _validation.duration_at_least("scheduler_max_sleep", scheduler_max_sleep, 0.01)
        if bus is not None and not isinstance(bus, EventBus):
            raise InvalidOptionType("bus", bus, "expected an EventBus")
        lease_for = _validation.duration_at_least("lease_time", lease_time, 0.01)
        poll_every = _validation.duration_at_least("poll_interval", poll_interval, 0.001)
        if isinstance(store, Backend):
            for name, config in configs.items():
                if isinstance(policy_for(config), CallerRuns):
                    raise InvalidOption(
                        f"queues[{name!r}].on_full",
                        "caller_runs",
                        "on a shared backend a job runs in a runner's worker, never in its "
                        "submitter: choose another policy for this queue",
                    )
        clock = clock if clock is not None else SystemClock()
        # A KeyboardInterrupt (or the like) from user code: raised from the block, once.
        escalation = Escalation()
        # Failing user callbacks: the first of each kind logged in full, repeats summarised.
        faults = RepeatLog(clock.monotonic, escalate=escalation.raise_later)
        chain = MiddlewareChain(middleware, faults)
        core = self._core = Core(
            store=store if store is not None else _own_store(clock),
            owned=store is None,
            clock=clock,
            hooks=chain if chain.any else None,
            faults=faults,
            escalation=escalation,
            stats=stats,
            max_depth=depth,
        )
        self._owns_bus = bus is None
        # The counts of the runner's own backend, in its statistics: its jobs waiting there.
        own_counts = core.nowait_backend.counts_nowait if core.nowait_backend else None
        self._own_counts = own_counts if core.own_backend else None
        self._bus = bus if bus is not None else EventBus(clock=clock, close_timeout=cancel_after)

        # The stages, each handed the ones it passes jobs on to.
        timers = self._timers = TimerService(clock)
        announcer = self._announcer = Announcer(core, self._bus)
        known = self._known = KnownJobs(registry if registry is not None else default_registry)
        claims = self._claims = Claims(core)
        queues_by_name = {name: JobQueue(name, config) for name, config in configs.items()}
        # Untimed waits of jobs for jobs, to catch the waits that could never end.
        waits = JobWaits(
            lambda: attempts.running.keys() - attempts.in_callers,
            lambda: pool.live,
            lambda queue: queues_by_name[queue].concurrency,
        )
        waiting = self._waiting = Waiting(core, queues_by_name, chosen, timers, waits.requeued)
        backend = core.backend
        leases = self._leases = (
            None
            if backend is None
            else LeaseBook(
                backend,
                f"{os.getpid()}-{core.id_prefix[:-1]}",
                math.inf if core.own_backend else lease_for,  # nobody else takes its jobs
                faults,
                shares_records=core.own_backend,
            )
        )
        outcomes = self._outcomes = Outcomes(
            core, waiting, claims, announcer, known, self._busy, leases
        )
        attempts = self._attempts = Attempts(core, timers, outcomes, announcer)
        pool = self._workers = Workers(core, waiting, attempts, outcomes, workers)
        shared = self._shared = None
        if backend is not None and leases is not None:

            def wrap(
                record: JobRecord,
                definition: Definition | None,
                options: Mapping[str, object] | None,
            ) -> JobHandle[Any] | None:
                if definition is None:
                    try:
                        named = known.definition_named(record.name)
                    except InvalidJob:
                        return None
                    retry = retry_of(options)  # as its submitter asked
                    if retry is not None:
                        named = named.with_checked_options(attrs.evolve(named.options, retry=retry))
                    definition = named
                return admission.wrap(record, definition)

            shared = self._shared = SharedWork(
                core,
                backend,
                leases,
                waiting,
                attempts,
                outcomes,
                announcer,
                timers,
                capacity=workers,
                poll_interval=poll_every,
                wrap=wrap,
            )
            shared.came_due = waits.recheck
            if core.nowait_backend is not None:
                pool.refill = shared.refill_now
                pool.take = shared.worker_take()
        control = self._control = JobControl(
            self, core, timers, announcer, waiting, attempts, outcomes, pool, waits, shared
        )
        batches = None if backend is None or leases is None else BatchAdmit(core, backend, leases)
        admission = self._admission = Admission(
            core,
            control,
            known,
            waiting,
            claims,
            attempts,
            outcomes,
            announcer,
            timers,
            shared,
            batches,
        )
        requeue = Requeue(core, known, waiting, claims, admission, outcomes, shared)
        self._retention = Retention(core, timers, result_for, dead_for)
        self._shutdown = Shutdown(
            core,
            timers,
            waiting,
            attempts,
            outcomes,
            pool,
            grace_period=grace,
            cancel_timeout=cancel_after,
            drain=drain_on_shutdown,
            elsewhere=shared.interrupt_waiting if shared is not None and core.own_backend else None,
        )
        self._dead_letters = DeadLetters(core.store, clock, requeue)
        self._schedules = Schedules(_ScheduleHost(self, core, known, waiting, announcer), max_sleep)
        self._timer_scope: anyio.CancelScope | None = None
        self._timer_done: anyio.Event | None = None
        self._runner_token: contextvars.Token[Runner | None] | None = None
        self._stopped: anyio.Event | None = None
        self._report: ShutdownReport | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def state(self) -> RunnerState:
        """Where the runner is in its lifecycle."""
        return self._core.state

    @property
    def clock(self) -> Clock:
        """The clock the runner runs on."""
        return self._core.clock

    @property
    def store(self) -> JobStore:
        """The store that keeps job records."""
        return self._core.store

    async def __aenter__(self) -> JobRunner:
        core = self._core
        if core.state is RunnerState.STOPPED:
            raise RunnerNotRunning(
                "this runner has run and stopped, and a JobRunner starts only once: make a "
                "new JobRunner for each start. In a web app, create it in the app's lifespan "
                "(an app factory), not at module level, so that each server or TestClient "
                "start gets its own (see docs/web-apps.md)"
            )
        if core.state is not RunnerState.NEW:
            raise RunnerNotRunning(
                f"this runner is {core.state.value} already: its async with block is open"
            )
        if not self._owns_bus and self._bus.state is not BusState.RUNNING:
            raise BusNotRunning(
                f"the event bus given to JobRunner(bus=...) is {self._bus.state.value}: start it "
                "first (async with EventBus() as bus, JobRunner(bus=bus) as runner: ...)"
            )
        core.state = RunnerState.STARTING
        core.loop_thread = _get_ident()
        core.loop = current_loop()
        core.new_event = event_factory()
        self._stopped = anyio.Event()
        try:
            await core.store.open()
            await self._schedules.load()
        except BaseException:
            core.state = RunnerState.STOPPED
            raise
        if self._owns_bus:
            self._bus.start(escalate=core.escalation.raise_later)
        self._announcer.start()
        self._timer_scope = anyio.CancelScope()
        self._timer_done = anyio.Event()
        spawn_detached(self._run_timers, "asyncjobs-timers")
        self._retention.start()
        self._workers.start()
        self._runner_token = _current.current_runner_var.set(self)
        _current.started(self, core.loop)
        core.accepting = True
        core.state = RunnerState.STARTED
        if self._shared is not None:
            self._shared.start()
        spawn_detached(self._run_schedules, "asyncjobs-scheduler")
        core.escalation.enter()
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
        escalation = self._core.escalation
        ours = escalation.close(exc_type, exc, tb)
        try:
            clock = self._core.clock
            if isinstance(clock, VirtualClock):
                # Nobody moves a fake clock while the block's own task waits in shutdown:
                # let it move itself, or a job still running would hang the block.
                await clock.autojump(self.shutdown, self.running_jobs)
            else:
                await self.shutdown()
        finally:
            if self._runner_token is not None:
                try:
                    _current.current_runner_var.reset(self._runner_token)
                except ValueError:  # exited in another context than it entered
                    _current.current_runner_var.set(None)
                self._runner_token = None
            escalation.raise_kept()  # raised once, here, whatever else happened
        return ours

    async def _run_schedules(self) -> None:
        # Jobs fired by schedules see this runner as current_runner(), on trio too (whose
        # system tasks start from an empty context).
        _current.current_runner_var.set(self)
        await self._schedules.run()

    async def _run_timers(self) -> None:
        assert self._timer_scope is not None
        assert self._timer_done is not None
        try:
            with self._timer_scope:
                await self._timers.run()
        finally:
            self._timer_done.set()

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
        core = self._core
        if core.state is RunnerState.NEW:
            raise RunnerNotRunning("the runner has not started; there is nothing to shut down")
        assert self._stopped is not None
        if core.state is RunnerState.STOPPING:
            await self._stopped.wait()
            assert self._report is not None
            return self._report
        core.state = RunnerState.STOPPING
        core.accepting = False
        self._schedules.stop_firing()
        if self._shared is not None:
            with anyio.CancelScope(shield=True):
                await self._shared.stop_taking()
        report, hurried = await self._shutdown.drain()
        with anyio.CancelScope(shield=True):
            if self._shared is not None:
                await self._shared.close()
            self._report = report
            self._announcer.stop()
            if self._owns_bus:
                await self._bus.aclose()  # delivers the last events, within close_timeout
            # Every job has ended: the schedules note the outcomes of theirs.
            deadline = core.clock.monotonic() + self._shutdown.cancel_timeout
            await self._timers.within(deadline, self._schedules.wait_closed)
            if self._timer_scope is not None and self._timer_done is not None:
                self._timer_scope.cancel()
                await self._timer_done.wait()
            try:
                core.faults.flush()
                await core.store.close()
            finally:
                _current.stopped(self)
                core.state = RunnerState.STOPPED
                self._stopped.set()
        if hurried is not None:
            raise hurried
        return report

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
        if _get_ident() != self._core.loop_thread:
            raise WrongEventLoop("runner.submit called")
        admitted = self._admission.submit(job, args, kwargs)
        if isinstance(admitted, JobHandle):
            return admitted  # the plain case: taken in with no await
        return await admitted

    async def submit_many(self, calls: Iterable[JobCall[R]]) -> list[JobHandle[R]]:
        """Submit several jobs: ``await runner.submit_many([a.call(1), b.call(x=2)])``.

        All calls are validated first (arguments, queues, job ids, unique keys held with
        ``on_conflict="raise"``, and room in queues whose policy is ``raise``): if any is
        refused, none is submitted. A unique job whose key is held (by a job already there,
        even one still being admitted, or by an earlier call of the batch) gives the
        holder's handle, as ``submit`` does, or with ``on_conflict="raise"`` refuses the
        batch. The batch's keys are all taken before its first job is admitted.

        On a shared backend (a ``store`` that is an ``asyncjobs.abc.Backend``) the backend
        admits the batch in one step (``Backend.admit_all``), all or nothing alike.
        """
        if _get_ident() != self._core.loop_thread:
            raise WrongEventLoop("runner.submit_many called")
        return await self._admission.submit_many(calls)

    async def cancel(self, job_id: str) -> bool:
        """Cancel a job of this runner by id; see ``JobHandle.cancel``.

        Raises ``JobNotFound`` for an id this runner is not running or holding.
        """
        return await self._control.cancel_id(job_id)

    # ----------------------------------------------------------------- waiting

    def running_jobs(self) -> tuple[JobHandle[object], ...]:
        """The jobs running now: in a worker, in their submitter (``caller_runs``), or in
        their ``before_run`` hooks. A job whose handler shutdown abandoned has ended (its
        handle has resolved) and is not among them."""
        return self._attempts.running_jobs()

    async def wait_idle(self) -> None:
        """Wait until no job is queued or running (scheduled jobs may remain). On a shared
        backend: no job submitted here is queued or running, wherever it runs."""
        while self._busy() or self._waiting.has_ready():
            event = self._core.new_event()
            self._outcomes.idle_waiters.append(event)
            await event.wait()

    def _busy(self) -> bool:
        if self._attempts.running:
            return True
        leases = self._leases
        if leases is None or not leases.awaited:
            return False
        queued = JobState.QUEUED
        return any(handle._record.state is queued for handle in leases.awaited.values())

    # ----------------------------------------------------------------- parts

    @property
    def schedules(self) -> Schedules:
        """Cron, interval and one-shot schedules of jobs (see ``Schedules``)."""
        return self._schedules

    @property
    def dead_letters(self) -> DeadLetters:
        """The failed jobs: list, inspect, requeue and purge them (see ``DeadLetters``)."""
        return self._dead_letters

    @property
    def bus(self) -> EventBus:
        """The event bus lifecycle events are published on; publish your own events on it
        too (``await runner.bus.publish(...)``)."""
        return self._bus

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
        return self._announcer.subscribe(listener, event_types)

    def queue_statistics(self, name: str | None = None) -> dict[str, QueueStatistics]:
        """Counters per queue (or of the one named)."""
        queues = self._waiting.queues
        if name is not None:
            name = _validation.name("name", name)
            queue = queues.get(name)
            if queue is None:
                raise UnknownQueue(name, list(queues))
            return {name: self._queue_statistics(queue)}
        return {queue.name: self._queue_statistics(queue) for queue in queues.values()}

    def _queue_statistics(self, queue: JobQueue) -> QueueStatistics:
        counted = queue.statistics()
        own = self._own_counts
        if own is None:
            return counted
        return counted._replace(size=counted.size + own(queue.name).waiting)

    def job_statistics(self, window: float | timedelta = 300.0) -> JobStatistics:
        """Jobs that finished in the last ``window`` seconds (default five minutes; at most
        ``statistics_window``): counts, success rate and run times, overall, per job name
        and per queue. See ``WindowStatistics`` for what each figure counts."""
        stats = self._core.stats
        if stats is None:
            raise InvalidOption(
                "statistics_window", None, "windowed statistics are off for this runner"
            )
        return stats.report(window, self._core.clock.time())

    def pool_statistics(self) -> PoolStatistics:
        """The worker pool now: capacity, running, idle, waiting and scheduled jobs."""
        waiting = self._waiting
        running = waiting.running_count()
        ready = waiting.ready_count()
        scheduled = len(waiting.scheduled)
        own = self._own_counts
        if own is not None:  # what waits in the runner's own backend is this runner's
            for queue in waiting.queue_list:
                counts = own(queue.name)
                ready += counts.queued
                scheduled += counts.scheduled
        return PoolStatistics(
            capacity=self._workers.count,
            running=running,
            idle=self._workers.live - running,
            waiting=ready,
            scheduled=scheduled,
        )

    async def get_job(self, job_id: str) -> JobRecord:
        """A snapshot of a job's record; ``JobNotFound`` if unknown (or evicted)."""
        return await self._core.store.get(_validation.name("job_id", job_id))

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
        return await self._core.store.list(
            states=wanted,
            queue=_validation.optional_name("queue", queue),
            name=_validation.optional_name("name", name),
            limit=limit,
            cursor=cursor,
        )

    async def cleanup(
        self, older_than: float | timedelta, *, states: Iterable[JobState | str] | None = None
    ) -> int:
        """Remove the records of jobs that finished more than ``older_than`` seconds ago (of
        the given terminal states; default all, dead letters included); returns how many
        were removed. Their ids then read as expired (``ResultExpired``)."""
        return await self._retention.cleanup(older_than, states)


class _ScheduleHost:
    """The engine as ``runner.schedules`` sees it (``_scheduler.ScheduleHost``)."""

    def __init__(
        self,
        runner: JobRunner,
        core: Core,
        known: KnownJobs,
        waiting: Waiting,
        announcer: Announcer,
    ) -> None:
        self.submit = runner.submit
        self._core = core
        self.definition_for = known.definition_for
        self.definition_named = known.definition_named
        self.check_queue = waiting.queue_for
        self.publish = announcer.publish

    @property
    def store(self) -> JobStore:
        return self._core.store

    @property
    def clock(self) -> Clock:
        return self._core.clock

    def check_accepting(self) -> None:
        self._core.check_accepting()
