"""Model-based test of the runner: a hypothesis state machine over the public API.

Each example starts a ``JobRunner`` on a ``FakeClock`` with random queues (concurrency,
bounds and full-queue policy, weights, strict or weighted selection, workers) and shutdown
settings, in an event loop of its own (asyncio or trio, run in a thread by an anyio blocking
portal, so that hypothesis drives the rules). The rules:

- ``submit`` one to three jobs with random options (queue, priority, delay, timeout, retry
  policy and backoff, unique key), each call of whose function does what its spec says:
  return a value, raise (retried, given up on, SkipRetry, RetryAfter), after some fake time
  or at once, or hang until stopped (on the fake clock, past every deadline);
- ``cancel`` by handle or by id (also an unknown id);
- ``advance`` the fake clock, second by second; ``run_until_idle(settle=0)``;
- ``result_with_timeout``: ``handle.result(timeout=)`` while the clock moves;
- ``requeue`` a job (a dead letter, or any, to be refused) and ``requeue_all``;
- and at the end, shut down: ``await runner.shutdown()`` with the clock stepped by hand, or
  leaving the block (the fake clock then moves by itself).

A model follows along, online: every lifecycle event (``runner.subscribe``) and every call
of a job's function is checked against it as it happens, and moves it on. An event is legal
only if the model allows it then: a job starts only when queued, with a free slot and worker,
ahead of every job of its queue that surely came first (priority, then FIFO) and, under strict
selection, with no queue before its own able to run; a job ends only when its spec, timeout,
retry policy, a cancel or shutdown say so, at that fake instant. Where two things happen at
one instant in an order that is up to the event loop (a timer and a job ending), the model
accepts either and learns from the event which it was. After every rule, once every task is
blocked, the state seen through the public API (handle states, ``running_jobs()``, queue
and pool statistics, what the jobs themselves count as running at once) must equal the
model's, nothing may be overdue (a job running past its end or timeout, a due job not
queued, a ready job beside a free slot and worker), and the counts must add up. At the end,
every job has ended exactly once, every handle has resolved exactly once, at the instant
its job ended, with what the model expects (the job's own value or exception object, or the
right outcome error), the records (attempts, history, timestamps), the store, the dead
letters and the windowed statistics agree, the shutdown report is right, and nothing of
asyncjobs is left running. An ERROR logged by asyncjobs is a failure too.

Every duration is whole seconds and time moves only on the fake clock; each rule is bounded
in real time. ``ASYNCJOBS_MODEL_EXAMPLES`` sets the examples per backend (default 50),
``ASYNCJOBS_MODEL_STEPS`` the most rules per example (default 30); ``tests/run_model.py``
runs many more examples and prints figures.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.from_thread import BlockingPortal, start_blocking_portal
from anyio.streams.memory import MemoryObjectSendStream
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from asyncjobs import (
    Backoff,
    DuplicateJob,
    ExponentialBackoff,
    FixedBackoff,
    JobCancelled,
    JobCancelledEvent,
    JobDeadLettered,
    JobDefinition,
    JobEvent,
    JobFailed,
    JobHandle,
    JobInterrupted,
    JobInterruptedEvent,
    JobNotFound,
    JobProgressed,
    JobRejected,
    JobRejectedEvent,
    JobRetried,
    JobRunner,
    JobStarted,
    JobState,
    JobStateError,
    JobSubmitted,
    JobSucceeded,
    JobTimedOut,
    LinearBackoff,
    QueueConfig,
    QueueFull,
    ResultTimeout,
    Retry,
    RetryAfter,
    RunnerNotRunning,
    RunnerState,
    ShutdownReport,
    SkipRetry,
    Unique,
    current_job,
    job,
)
from asyncjobs.testing import FakeClock, run_until_idle

from .conftest import asyncjobs_task_names

EXAMPLES = int(os.environ.get("ASYNCJOBS_MODEL_EXAMPLES", "50"))
STEPS = int(os.environ.get("ASYNCJOBS_MODEL_STEPS", "30"))
HORIZON = 1_000_000.0  # a hanging job sleeps on the fake clock until then: past every deadline
REAL_LIMIT = 20.0  # real seconds any one rule (or the shutdown) may take
QUEUE_NAMES = ("q0", "q1", "q2")
WAITING = (JobState.SCHEDULED, JobState.QUEUED)
ERROR_NAMES = {
    "error": "ModelError",
    "fatal": "ModelFatal",
    "skip": "SkipRetry",
    "retry_after": "RetryAfter",
}


# ------------------------------------------------------------------------ what is generated


@dataclass(frozen=True)
class Act:
    """What one call of a job's function does: ``kind`` after ``takes`` seconds of fake time.

    ``ok`` returns a value; ``error`` raises ModelError (retried); ``fatal`` raises ModelFatal
    (given up on when the policy says so); ``skip`` raises SkipRetry; ``retry_after`` raises
    RetryAfter(after); ``hang`` sleeps until stopped. ``yields``: an outcome at once awaits a
    checkpoint first (or completes on its first step, without awaiting at all).
    """

    kind: str = "ok"
    takes: int = 0
    yields: bool = False
    after: int = 1


@dataclass(frozen=True)
class RetrySpec:
    max_attempts: int = 2
    backoff: str = "fixed"  # fixed, linear, exponential or a plain function
    base: int = 1
    give_up_fatal: bool = False

    def policy(self) -> Retry:
        base = self.base
        backoff: Backoff | Callable[[int], float]
        if self.backoff == "fixed":
            backoff = FixedBackoff(delay=base)
        elif self.backoff == "linear":
            backoff = LinearBackoff(initial=base, step=1)
        elif self.backoff == "exponential":
            backoff = ExponentialBackoff(initial=base)
        else:

            def by_attempt(attempt: int) -> float:
                return float(base * attempt)

            backoff = by_attempt
        give_up = (ModelFatal,) if self.give_up_fatal else ()
        return Retry(max_attempts=self.max_attempts, backoff=backoff, give_up_on=give_up)

    def wait(self, attempt: int) -> float:
        """The model's own reckoning of the backoff after attempt ``attempt`` failed."""
        if self.backoff == "fixed":
            return float(self.base)
        if self.backoff == "linear":
            return float(min(300, self.base + (attempt - 1)))
        if self.backoff == "exponential":
            return float(min(300, self.base * 2 ** (attempt - 1)))
        return float(self.base * attempt)


@dataclass(frozen=True)
class UniqueSpec:
    key: int = 0
    on_conflict: str = "existing"
    ttl: int = 3600

    @property
    def name(self) -> str:
        return f"key-{self.key}"


@dataclass(frozen=True)
class JobSpec:
    queue: int = 0  # an index, modulo the number of queues
    priority: int = 0
    delay: int | None = None
    timeout: int | None = None
    retry: RetrySpec | None = None
    unique: UniqueSpec | None = None
    acts: tuple[Act, ...] = (Act(),)  # one per call of the function; the last one repeats

    def act(self, call: int) -> Act:
        return self.acts[min(call, len(self.acts) - 1)]


@dataclass(frozen=True)
class QueueSpec:
    concurrency: int = 1
    maxsize: int | None = None
    on_full: str = "raise"
    weight: int = 1


@dataclass(frozen=True)
class Config:
    queues: tuple[QueueSpec, ...] = (QueueSpec(),)
    max_workers: int | None = None
    selection: str = "strict"
    grace: int = 2
    cancel_timeout: int = 1
    drain: bool = True
    explicit_shutdown: bool = False  # await runner.shutdown() stepping the clock; else leave


acts = st.builds(
    Act,
    kind=st.sampled_from(("ok", "error", "ok", "fatal", "skip", "retry_after", "hang")),
    takes=st.sampled_from((0, 0, 1, 2, 3)),
    yields=st.booleans(),
    after=st.integers(1, 2),
)
retry_specs = st.builds(
    RetrySpec,
    max_attempts=st.integers(1, 3),
    backoff=st.sampled_from(("fixed", "linear", "exponential", "function")),
    base=st.integers(1, 3),
    give_up_fatal=st.booleans(),
)
unique_specs = st.builds(
    UniqueSpec,
    key=st.integers(0, 1),
    on_conflict=st.sampled_from(("existing", "raise")),
    ttl=st.sampled_from((3600, 2, 5)),
)
job_specs = st.builds(
    JobSpec,
    queue=st.integers(0, 2),
    priority=st.integers(-1, 1),
    delay=st.one_of(st.none(), st.integers(0, 4)),
    timeout=st.one_of(st.none(), st.integers(1, 4)),
    retry=st.one_of(st.none(), retry_specs),
    unique=st.one_of(st.none(), st.none(), unique_specs),
    acts=st.lists(acts, min_size=1, max_size=3).map(tuple),
)
queue_specs = st.builds(
    QueueSpec,
    concurrency=st.integers(1, 3),
    maxsize=st.one_of(st.none(), st.integers(1, 4)),
    on_full=st.sampled_from(("raise", "drop_newest", "drop_oldest")),
    weight=st.integers(1, 3),
)
configs = st.builds(
    Config,
    queues=st.lists(queue_specs, min_size=1, max_size=3).map(tuple),
    max_workers=st.one_of(st.none(), st.integers(1, 4)),
    selection=st.sampled_from(("strict", "weighted")),
    grace=st.integers(0, 4),
    cancel_timeout=st.integers(0, 2),
    drain=st.booleans(),
    explicit_shutdown=st.booleans(),
)


# ------------------------------------------------------------------------ the jobs


class ModelError(Exception):
    def __init__(self, token: int, call: int) -> None:
        super().__init__(f"job {token}, call {call} failed")


class ModelFatal(Exception):
    def __init__(self, token: int, call: int) -> None:
        super().__init__(f"job {token}, call {call} failed for good")


@job
async def model_job(harness: Harness, token: int) -> str:
    """The one job of the model: does what its spec says for this call."""
    call, act = harness.enter(token)
    try:
        clock = harness.clock
        if act.kind == "hang":
            await clock.sleep_until(HORIZON)
        elif act.takes:
            await clock.sleep_until(clock.monotonic() + act.takes)
        elif act.yields:
            await anyio.lowlevel.checkpoint()
        if act.kind == "ok":
            return f"result {token}.{call}"
        error: Exception
        if act.kind == "error":
            error = ModelError(token, call)
        elif act.kind == "fatal":
            error = ModelFatal(token, call)
        elif act.kind == "skip":
            error = SkipRetry(f"job {token}, call {call} skips its retries")
        else:
            error = RetryAfter(act.after, f"job {token}, call {call}: again in {act.after} s")
        harness.raised[token, call] = error
        raise error
    finally:
        harness.leave(token)


# ------------------------------------------------------------------------ the model


class Violation(AssertionError):
    pass


@dataclass
class AttemptModel:
    started: float
    finished: float | None
    outcome: JobState
    error: str | None  # the error's type name


@dataclass
class Current:
    """The attempt under way."""

    call: int
    act: Act
    started: float
    end: float | None  # when its own outcome comes (None: it hangs)
    deadline: float | None  # when it times out
    entered: bool = False


@dataclass
class Expected:
    """How a handle must resolve: ``value`` (of call), ``raised`` (the exception of call),
    or one of the outcome errors: ``timeout``, ``cancelled``, ``interrupted``, ``rejected``."""

    kind: str
    call: int | None = None


@dataclass
class ModelJob:
    token: int
    spec: JobSpec
    queue: str
    calls: int = 0  # calls of its function so far, over all its runs
    runs: list[Run] = field(default_factory=list)


@dataclass(eq=False)
class Run:
    """One run of a job id: from its acceptance (or a requeue) to its terminal state."""

    job: ModelJob
    number: int
    id: str
    history: list[AttemptModel]
    handle: JobHandle[str] | None = None
    state: JobState = JobState.QUEUED
    due: float | None = None
    key: tuple[float, int, int] | None = None  # (time, phase, seq) it became ready
    attempts: int = 0
    current: Current | None = None
    stop: str | None = None
    finished: float | None = None
    expected: Expected | None = None
    claim: str | None = None
    claim_expires: float = 0.0
    resolutions: int = 0

    @property
    def terminal(self) -> bool:
        return self.state.is_terminal

    def __repr__(self) -> str:
        return f"<run {self.id} job {self.job.token} #{self.number} {self.state.value}>"


@dataclass
class QueueModel:
    name: str
    spec: QueueSpec
    rank: int
    waiting: list[Run] = field(default_factory=list)  # scheduled and queued, in entry order
    enqueued: int = 0
    dequeued: int = 0
    rejected: int = 0
    processed: int = 0
    failed: int = 0
    retried: int = 0
    ended_waiting: int = 0  # accepted, then ended without running again


@dataclass
class Pending:
    """What the model expects of the call under way (submit, requeue, cancel)."""

    kind: str
    job: ModelJob | None = None
    evict: Run | None = None
    olds: list[Run] = field(default_factory=list)
    news: list[Run] = field(default_factory=list)
    created: Run | None = None
    cancelling: Run | None = None


def _ready_before(a: tuple[float, int, int], b: tuple[float, int, int]) -> bool:
    """Whether a job that became ready at ``a`` surely became ready before one at ``b``.

    Keys are (time, phase, seq): phase 0 for a timer making a job due (all of them fire
    while the clock moves to their time, in an order the model does not know), phase 1 for
    a submit or requeue by the test, after the clock has moved, in ``seq`` order."""
    if a[0] != b[0]:
        return a[0] < b[0]
    if a[1] != b[1]:
        return a[1] < b[1]
    return a[1] == 1 and a[2] < b[2]


class Model:
    """What the runner must be doing: every run of every job, the queues and their
    counters, unique keys, shutdown. Moved on by events, checked at every step."""

    def __init__(self, config: Config, clock: FakeClock) -> None:
        self.config = config
        self.clock = clock
        self.wall0 = clock.time() - clock.monotonic()
        specs = config.queues
        order = sorted(range(len(specs)), key=lambda i: -specs[i].weight)
        self.queues = [
            QueueModel(QUEUE_NAMES[i], spec, order.index(i)) for i, spec in enumerate(specs)
        ]
        self.by_name = {q.name: q for q in self.queues}
        self.workers = (
            config.max_workers
            if config.max_workers is not None
            else sum(q.concurrency for q in specs)
        )
        self.jobs: list[ModelJob] = []
        self.runs: list[Run] = []
        self.current: dict[str, Run] = {}  # id -> its latest run
        self.ids: list[str] = []  # in order of first submission (the store's order)
        self.active: dict[str, Run] = {}  # runs not ended yet
        self.holders: dict[str, Run] = {}
        self.seq = 0
        self.pending: Pending | None = None
        self.dead_letter_due: str | None = None
        self.shutdown_at: float | None = None
        self.grace_end: float | None = None
        self.grace_interrupts = 0
        self.interrupted: list[str] = []
        self.retried_total = 0
        self.ended: Counter[JobState] = Counter()
        self.tally: Counter[str] = Counter()  # refusals and requeues, for the figures
        self.violations: list[str] = []
        self.raised: dict[tuple[int, int], BaseException] = {}  # by (token, call)
        self.live: Counter[str] = Counter()  # what the jobs count as running, per queue
        # Takes a handle the test was not given (see RunnerMachine.adopt); set by the machine.
        self.adopt: Callable[[Run, JobHandle[Any]], None] = lambda run, handle: None

    # ---------------------------------------------------------------- bookkeeping

    def fail(self, message: str) -> None:
        self.violations.append(f"at t={self.clock.monotonic():g}: {message}")

    def require(self, condition: bool, message: str) -> None:
        if not condition:
            raise Violation(message)

    def raise_violations(self) -> None:
        if self.violations:
            raise Violation("\n".join(self.violations[:5]))

    def queue_of(self, run: Run) -> QueueModel:
        return self.by_name[run.job.queue]

    def running(self, queue: QueueModel | None = None) -> list[Run]:
        return [
            r
            for r in self.active.values()
            if r.state is JobState.RUNNING and (queue is None or r.job.queue == queue.name)
        ]

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def promote(self, now: float, *, inclusive: bool) -> None:
        """Scheduled jobs that are due are queued: surely so if due before now (or at now,
        once every task has been blocked at now)."""
        for run in self.active.values():
            if run.state is JobState.SCHEDULED:
                assert run.due is not None
                if run.due < now or (inclusive and run.due <= now):
                    self._make_ready(run)

    def _make_ready(self, run: Run) -> None:
        assert run.due is not None
        run.state = JobState.QUEUED
        run.key = (run.due, 0, 0)

    def live_holder(self, key: str, now: float) -> Run | None:
        run = self.holders.get(key)
        if run is None or run.terminal or run.claim_expires <= now:
            return None
        return run

    def claim(self, run: Run, now: float) -> None:
        unique = run.job.spec.unique
        if unique is not None:
            self.holders[unique.name] = run
            run.claim = unique.name
            run.claim_expires = now + unique.ttl

    def delay_after(self, run: Run, cause: str) -> float | None:
        """The model's own retry decision after the attempt failed with ``cause``."""
        retry = run.job.spec.retry
        if retry is None or run.attempts >= retry.max_attempts or cause == "skip":
            return None
        if cause == "retry_after":
            assert run.current is not None
            return float(run.current.act.after)
        if cause == "fatal" and retry.give_up_fatal:
            return None
        return retry.wait(run.attempts)

    def in_time(self, run: Run, now: float) -> bool:
        """Whether the attempt under way reaches its own outcome now."""
        current = run.current
        return (
            current is not None
            and current.entered
            and current.end == now
            and (current.deadline is None or now <= current.deadline)
            and run.stop is None
            and (self.grace_end is None or now <= self.grace_end)
        )

    def times_out(self, run: Run, now: float) -> bool:
        """Whether the attempt under way times out now."""
        current = run.current
        return (
            current is not None
            and current.deadline == now
            and (current.end is None or current.end >= now)
            and run.stop is None
            and (self.grace_end is None or now <= self.grace_end)
        )

    def cause_of(self, run: Run, error_text: str | None, now: float) -> str:
        """Which end of its attempt an event reports, checked against the model: the act's
        own error (``error``, ``fatal``, ...) or ``timeout``."""
        name = (error_text or "").split(":", 1)[0]
        if name == "JobTimedOut":
            self.require(self.times_out(run, now), f"{run} timed out, not due to: {run.current}")
            return "timeout"
        current = run.current
        assert current is not None
        self.require(
            ERROR_NAMES.get(current.act.kind) == name,
            f"{run} failed with {error_text!r}, but its call does {current.act}",
        )
        self.require(self.in_time(run, now), f"{run} failed now, not due to: {current}")
        return current.act.kind

    def finish(self, run: Run, state: JobState, expected: Expected, now: float) -> None:
        run.state = state
        run.finished = now
        run.current = None
        run.expected = expected
        self.active.pop(run.id, None)
        if run.claim is not None and self.holders.get(run.claim) is run:
            del self.holders[run.claim]
        self.ended[state] += 1

    def close_attempt(self, run: Run, now: float, outcome: JobState, error: str | None) -> None:
        current = run.current
        assert current is not None
        run.history.append(AttemptModel(current.started, now, outcome, error))

    def register(self, run: Run) -> None:
        if run.id not in self.current:
            self.ids.append(run.id)
        self.current[run.id] = run
        self.active[run.id] = run
        self.runs.append(run)
        run.job.runs.append(run)

    # ---------------------------------------------------------------- events

    def on_event(self, event: JobEvent) -> None:
        if self.violations:
            return
        try:
            self._on_event(event)
        except Violation as exc:
            self.fail(f"{type(event).__name__}({event.job_id}): {exc}")

    def _on_event(self, event: JobEvent) -> None:
        now = self.clock.monotonic()
        self.require(event.timestamp == self.wall0 + now, f"timestamp {event.timestamp}")
        if self.dead_letter_due is not None:
            self.require(
                isinstance(event, JobDeadLettered) and event.job_id == self.dead_letter_due,
                "job.dead_lettered must follow job.failed at once",
            )
            failed = self.current[event.job_id]
            assert isinstance(event, JobDeadLettered)
            self.require(event.attempts == failed.attempts, f"attempts {event.attempts}")
            self.dead_letter_due = None
            return
        self.require(not isinstance(event, JobDeadLettered), "job.dead_lettered without failing")
        self.require(not isinstance(event, JobProgressed), "progress nobody reported")
        self.promote(now, inclusive=False)
        run = self.current.get(event.job_id)
        if isinstance(event, JobSubmitted):
            self._submitted(event, run, now)
            return
        if isinstance(event, JobRejectedEvent):
            self._rejected(event, run, now)
            return
        self.require(run is not None and not run.terminal, f"an event for {run}")
        assert run is not None
        if run.state is JobState.SCHEDULED and run.due is not None and run.due <= now:
            self._make_ready(run)  # due now: made ready by its timer meanwhile
        if isinstance(event, JobStarted):
            self._started(run, now)
        elif isinstance(event, JobSucceeded):
            self._succeeded(run, now)
        elif isinstance(event, JobRetried):
            self._retried(event, run, now)
        elif isinstance(event, JobFailed):
            self._failed(event, run, now)
        elif isinstance(event, JobCancelledEvent):
            self._cancelled(run, now)
        elif isinstance(event, JobInterruptedEvent):
            self._interrupted(run, now)
        else:
            raise Violation(f"unexpected event {event!r}")

    def _submitted(self, event: JobSubmitted, run: Run | None, now: float) -> None:
        pending = self.pending
        if pending is not None and pending.kind in ("accept", "drop_oldest"):
            self.require(run is None and pending.created is None, "a second job.submitted")
            assert pending.job is not None
            run = Run(pending.job, 0, event.job_id, [])
            pending.created = run
            delay = pending.job.spec.delay
        elif pending is not None and pending.kind == "requeue":
            self.require(len(pending.news) < len(pending.olds), "more requeued than expected")
            old = pending.olds[len(pending.news)]
            self.require(run is old, f"requeued {run}, expected {old}")
            run = Run(old.job, old.number + 1, old.id, list(old.history))
            pending.news.append(run)
            delay = None
        else:
            raise Violation(f"job.submitted for {run}, expecting {pending}")
        self.register(run)
        queue = self.queue_of(run)
        queue.enqueued += 1
        queue.waiting.append(run)
        if delay:
            run.state = JobState.SCHEDULED
            run.due = now + delay
        else:
            run.state = JobState.QUEUED
            run.key = (now, 1, self.next_seq())
        self.require(event.state is run.state, f"submitted {event.state}, expected {run.state}")
        self.require(self.shutdown_at is None, "a job accepted during shutdown")

    def _rejected(self, event: JobRejectedEvent, run: Run | None, now: float) -> None:
        pending = self.pending
        if run is None:
            self.require(
                pending is not None and pending.kind == "drop_newest" and pending.created is None,
                f"a new job rejected, expecting {pending}",
            )
            assert pending is not None
            assert pending.job is not None
            run = Run(pending.job, 0, event.job_id, [])
            pending.created = run
            self.register(run)
        else:
            self.require(
                pending is not None and pending.kind == "drop_oldest" and pending.evict is run,
                f"{run} rejected, expecting {pending}",
            )
            self.require(run.state in WAITING, f"{run} rejected while not waiting")
            self.queue_of(run).waiting.remove(run)
            self.queue_of(run).ended_waiting += 1
        self.queue_of(run).rejected += 1
        self.finish(run, JobState.REJECTED, Expected("rejected"), now)

    def _started(self, run: Run, now: float) -> None:
        queue = self.queue_of(run)
        self.require(run.state is JobState.QUEUED, f"started while {run.state.value}")
        running = self.running(queue)
        self.require(len(running) < queue.spec.concurrency, f"{queue.name} is full: {running}")
        self.require(len(self.running()) < self.workers, "every worker is busy")
        if self.shutdown_at is not None:
            assert self.grace_end is not None
            self.require(self.config.drain and now <= self.grace_end, "started during shutdown")
        assert run.key is not None
        for other in queue.waiting:
            if other is run or other.state is not JobState.QUEUED:
                continue
            assert other.key is not None
            better = other.job.spec.priority > run.job.spec.priority or (
                other.job.spec.priority == run.job.spec.priority
                and _ready_before(other.key, run.key)
            )
            self.require(not better, f"started before {other}, which comes first")
        if self.config.selection == "strict":
            for other_queue in self.queues:
                if other_queue.rank >= queue.rank:
                    continue
                if len(self.running(other_queue)) < other_queue.spec.concurrency and any(
                    r.state is JobState.QUEUED for r in other_queue.waiting
                ):
                    raise Violation(f"strict selection: {other_queue.name} comes first")
        queue.waiting.remove(run)
        queue.dequeued += 1
        self.tally["attempt started"] += 1
        run.state = JobState.RUNNING
        run.attempts += 1
        call = run.job.calls
        act = run.job.spec.act(call)
        timeout = run.job.spec.timeout
        run.current = Current(
            call=call,
            act=act,
            started=now,
            end=None if act.kind == "hang" else now + act.takes,
            deadline=None if timeout is None else now + timeout,
        )

    def on_enter(self, token: int, handle: JobHandle[object] | None) -> tuple[int, Act]:
        """A job's function was called: it must be the attempt that just started."""
        job_model = self.jobs[token]
        run = job_model.runs[-1]
        if handle is None or handle.id != run.id:
            self.fail(f"{run} runs, but current_job() is {handle}")
        elif run.handle is None:
            self.adopt(run, handle)  # requeued by a requeue_all that raised: its handle
        elif handle is not run.handle:
            self.fail(f"{run} runs, but current_job() is another handle: {handle}")
        current = run.current
        if run.state is not JobState.RUNNING or current is None or current.entered:
            self.fail(f"{run} entered its function while {run.state.value}: {current}")
            return job_model.calls, job_model.spec.act(job_model.calls)
        if current.started != self.clock.monotonic():
            self.fail(f"{run} entered its function after it started: {current}")
        current.entered = True
        job_model.calls += 1
        queue = self.by_name[job_model.queue]
        self.live[queue.name] += 1
        if self.live[queue.name] > queue.spec.concurrency:
            self.fail(f"{self.live[queue.name]} jobs of {queue.name} run at once")
        if sum(self.live.values()) > self.workers:
            self.fail(f"{sum(self.live.values())} jobs run at once, on {self.workers} workers")
        return current.call, current.act

    def on_leave(self, token: int) -> None:
        self.live[self.jobs[token].queue] -= 1

    def _succeeded(self, run: Run, now: float) -> None:
        self.require(run.state is JobState.RUNNING, f"succeeded while {run.state.value}")
        assert run.current is not None
        self.require(run.current.act.kind == "ok", f"succeeded, but its call does {run.current}")
        self.require(self.in_time(run, now), f"succeeded now, not due to: {run.current}")
        queue = self.queue_of(run)
        queue.processed += 1
        self.close_attempt(run, now, JobState.SUCCEEDED, None)
        self.finish(run, JobState.SUCCEEDED, Expected("value", run.current.call), now)

    def _retried(self, event: JobRetried, run: Run, now: float) -> None:
        self.require(run.state is JobState.RUNNING, f"retried while {run.state.value}")
        self.require(self.shutdown_at is None, "retried during shutdown")
        cause = self.cause_of(run, event.error, now)
        delay = self.delay_after(run, cause)
        self.require(delay is not None, f"retried, but the policy gives up ({cause})")
        self.require(event.delay == delay, f"retried in {event.delay} s, expected {delay}")
        self.require(event.attempt == run.attempts, f"attempt {event.attempt}")
        assert delay is not None
        queue = self.queue_of(run)
        queue.retried += 1
        queue.waiting.append(run)
        self.retried_total += 1
        self.tally[f"attempt retried after {cause}"] += 1
        self.close_attempt(run, now, JobState.FAILED, event.error.split(":", 1)[0])
        run.current = None
        run.state = JobState.SCHEDULED
        run.due = now + delay

    def _failed(self, event: JobFailed, run: Run, now: float) -> None:
        self.require(run.state is JobState.RUNNING, f"failed while {run.state.value}")
        current = run.current
        assert current is not None
        cause = self.cause_of(run, event.error, now)
        delay = self.delay_after(run, cause)
        self.require(delay is None, f"failed, but the policy retries in {delay} s ({cause})")
        queue = self.queue_of(run)
        queue.processed += 1
        queue.failed += 1
        self.tally[f"failed for good by {cause}"] += 1
        self.close_attempt(run, now, JobState.FAILED, (event.error or "").split(":", 1)[0])
        expected = Expected("timeout") if cause == "timeout" else Expected("raised", current.call)
        self.finish(run, JobState.FAILED, expected, now)
        self.dead_letter_due = run.id

    def _cancelled(self, run: Run, now: float) -> None:
        queue = self.queue_of(run)
        if run.state is JobState.RUNNING:
            self.require(run.stop == "cancel", "cancelled, but nobody cancelled it")
            self.tally["cancelled while running"] += 1
            queue.processed += 1
            self.close_attempt(run, now, JobState.CANCELLED, "JobCancelled")
        else:
            pending = self.pending
            self.require(
                pending is not None and pending.cancelling is run,
                f"cancelled while {run.state.value}, but nobody cancelled it",
            )
            queue.waiting.remove(run)
            queue.ended_waiting += 1
            self.tally[f"cancelled while {run.state.value}"] += 1
        self.finish(run, JobState.CANCELLED, Expected("cancelled"), now)

    def _interrupted(self, run: Run, now: float) -> None:
        self.require(self.shutdown_at is not None, "interrupted before shutdown")
        assert self.grace_end is not None
        queue = self.queue_of(run)
        at_start = now == self.shutdown_at
        at_grace_end = now == self.grace_end
        if run.state is JobState.SCHEDULED:
            self.require(at_start, "a scheduled job interrupted after shutdown began")
            self.tally["interrupted while scheduled"] += 1
            queue.waiting.remove(run)
            queue.ended_waiting += 1
        elif run.state is JobState.QUEUED:
            self.require(
                (at_start and not self.config.drain) or at_grace_end,
                "a queued job interrupted before the grace period ended",
            )
            self.tally["interrupted while queued"] += 1
            if at_grace_end and self.config.drain:
                self.grace_interrupts += 1
            queue.waiting.remove(run)
            queue.ended_waiting += 1
        else:
            current = run.current
            assert current is not None
            assert run.handle is not None
            record = run.handle.record()
            if record.started_at is None:
                # Its attempt failed with a retry left; shutdown has begun, so it ends here.
                self.require(bool(record.retries), "no failed attempt on the record")
                cause = self.cause_of(run, record.retries[-1].error, now)
                delay = self.delay_after(run, cause)
                self.require(delay is not None, f"interrupted, but the policy gives up ({cause})")
                self.count_ended_by_its_attempt(queue)
                self.tally["interrupted instead of a retry"] += 1
                error = (record.retries[-1].error or "").split(":", 1)[0]
                self.close_attempt(run, now, JobState.FAILED, error)
            else:
                self.require(at_grace_end, "a running job interrupted before the grace ended")
                self.require(
                    (current.end is None or current.end >= now)
                    and (current.deadline is None or current.deadline >= now),
                    f"interrupted after it should have ended: {current}",
                )
                self.grace_interrupts += 1
                self.tally["interrupted while running"] += 1
                queue.processed += 1
                run.attempts -= 1  # an attempt cut off by shutdown is not used up
                self.close_attempt(run, now, JobState.INTERRUPTED, "JobInterrupted")
        self.interrupted.append(run.id)
        self.finish(run, JobState.INTERRUPTED, Expected("interrupted"), now)

    def count_ended_by_its_attempt(self, queue: QueueModel) -> None:
        """A job whose attempt failed during shutdown, with a retry left, ended (interrupted)
        as that attempt ended: it ended while running, so it counts as processed (see
        docs/runner.md, "processed: jobs that ended while running, whatever the outcome")."""
        queue.processed += 1

    # ---------------------------------------------------------------- predictions

    def predict_submit(self, model_job: ModelJob, now: float) -> tuple[Pending, Run | None]:
        spec = model_job.spec
        if spec.unique is not None:
            holder = self.live_holder(spec.unique.name, now)
            if holder is not None:
                kind = "existing" if spec.unique.on_conflict == "existing" else "duplicate"
                return Pending(kind, model_job), holder
        queue = self.by_name[model_job.queue]
        maxsize = queue.spec.maxsize
        if maxsize is None or len(queue.waiting) < maxsize:
            return Pending("accept", model_job), None
        if queue.spec.on_full == "raise":
            return Pending("queue_full", model_job), None
        if queue.spec.on_full == "drop_newest":
            return Pending("drop_newest", model_job), None
        return Pending("drop_oldest", model_job, evict=queue.waiting[0]), None

    def may_hang(self) -> bool:
        """Whether some job might never end by itself (a hang with no timeout)."""
        for run in self.active.values():
            spec = run.job.spec
            if spec.timeout is not None:
                continue
            allowed = 1 if spec.retry is None else spec.retry.max_attempts
            first = run.job.calls - (1 if run.state is JobState.RUNNING else 0)
            last = run.job.calls + max(0, allowed - run.attempts)
            if any(spec.act(call).kind == "hang" for call in range(first, last + 1)):
                return True
        return False

    # ---------------------------------------------------------------- checks

    def check_outcome(self, run: Run, value: object, error: BaseException | None) -> None:
        """``await handle`` (or ``result()``) gave ``value`` or raised ``error``: as expected?"""
        expected = run.expected
        if expected is None or not run.terminal:
            self.fail(f"{run} resolved before it ended")
            return
        token = run.job.token
        if expected.kind == "value":
            if error is not None or value != f"result {token}.{expected.call}":
                self.fail(f"{run} gave {value!r} / {error!r}, expected call {expected.call}")
            return
        if expected.kind == "raised":
            raised = self.raised.get((token, expected.call or 0))
            if error is None or error is not raised:
                self.fail(f"{run} raised {error!r}, expected its own {raised!r}")
            return
        kinds: dict[str, type[Exception]] = {
            "timeout": JobTimedOut,
            "cancelled": JobCancelled,
            "interrupted": JobInterrupted,
            "rejected": JobRejected,
        }
        wanted = kinds[expected.kind]
        if type(error) is not wanted or getattr(error, "job_id", None) != run.id:
            self.fail(f"{run} raised {error!r}, expected {wanted.__name__}")

    def check_quiescent(self, runner: JobRunner) -> None:
        """Every task is blocked: compare what the public API shows with the model."""
        if self.violations:
            return
        try:
            self._check_quiescent(runner)
        except Violation as exc:
            self.fail(str(exc))

    def _check_quiescent(self, runner: JobRunner) -> None:
        now = self.clock.monotonic()
        self.require(self.dead_letter_due is None, "job.failed without job.dead_lettered")
        self.promote(now, inclusive=True)
        stopping = self.shutdown_at is not None
        for run in self.active.values():
            current = run.current
            if run.state is JobState.RUNNING:
                assert current is not None
                self.require(current.entered, f"{run} started, but its function was not called")
                self.require(current.end is None or current.end > now, f"{run} is overdue")
                self.require(
                    current.deadline is None or current.deadline > now, f"{run} not timed out"
                )
                self.require(run.stop is None, f"{run} still runs after its cancel")
            if stopping:
                assert self.grace_end is not None
                self.require(run.state is not JobState.SCHEDULED, f"{run} scheduled in shutdown")
                self.require(now < self.grace_end, f"{run} not ended by the grace period's end")
        busy = len(self.running())
        for queue in self.queues:
            running = self.running(queue)
            ready = [r for r in queue.waiting if r.state is JobState.QUEUED]
            if ready and len(running) < queue.spec.concurrency and busy < self.workers:
                raise Violation(f"{ready[0]} waits beside a free slot of {queue.name}")
            self.require(
                self.live[queue.name] == len(running),
                f"{self.live[queue.name]} jobs of {queue.name} in their function, model "
                f"{len(running)}",
            )
        for run in self.runs:
            handle = run.handle
            if handle is None:
                continue
            self.require(handle.state is run.state, f"{run}: the handle says {handle.state.value}")
            self.require(handle.done() is run.terminal, f"{run}: done() is {handle.done()}")
            self.require(
                run.resolutions == (1 if run.terminal else 0),
                f"{run} resolved {run.resolutions} times",
            )
        running_ids = sorted(h.id for h in runner.running_jobs())
        self.require(
            running_ids == sorted(r.id for r in self.running()), f"running_jobs {running_ids}"
        )
        stats = runner.queue_statistics()
        for queue in self.queues:
            got = stats[queue.name]
            want = (
                len(queue.waiting),
                queue.spec.maxsize,
                len(self.running(queue)),
                queue.spec.concurrency,
                queue.enqueued,
                queue.dequeued,
                queue.rejected,
                queue.processed,
                queue.failed,
                queue.retried,
            )
            self.require(tuple(got[1:]) == want, f"{queue.name}: {got}, model {want}")
            # Bounds hold: retries are never refused, but the jobs waiting for a first attempt
            # were let in with room to spare, so they fit. (drop_oldest may drop a retry
            # for a newcomer, keeping the size as it was.)
            maxsize = queue.spec.maxsize
            if maxsize is not None and queue.spec.on_full != "drop_oldest":
                fresh = sum(1 for r in queue.waiting if r.attempts == 0)
                self.require(fresh <= maxsize, f"{queue.name}: {fresh} waiting, {maxsize} places")
            # Counts add up: every job accepted into the queue waits, runs, or has ended
            # (after running, or while waiting: cancelled, dropped or interrupted).
            self.require(
                got.enqueued == got.size + got.running + got.processed + queue.ended_waiting,
                f"{queue.name}: enqueued {got.enqueued} != waiting {got.size} + running "
                f"{got.running} + processed {got.processed} + ended waiting "
                f"{queue.ended_waiting}",
            )
        pool = runner.pool_statistics()
        waiting = sum(1 for r in self.active.values() if r.state is JobState.QUEUED)
        scheduled = sum(1 for r in self.active.values() if r.state is JobState.SCHEDULED)
        want_pool = (self.workers, busy, waiting, scheduled)
        got_pool = (pool.capacity, pool.running, pool.waiting, pool.scheduled)
        self.require(got_pool == want_pool, f"pool {pool}, model {want_pool}")
        if not stopping:
            self.require(pool.idle == self.workers - busy, f"pool {pool}")


# ------------------------------------------------------------------------ the harness


class Harness:
    """What a job's function sees of the test: the clock, and the model to report to."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.clock = model.clock
        self.raised = model.raised

    def enter(self, token: int) -> tuple[int, Act]:
        return self.model.on_enter(token, current_job())

    def leave(self, token: int) -> None:
        self.model.on_leave(token)

    def __repr__(self) -> str:
        return "<harness>"


class ErrorLog(logging.Handler):
    """asyncjobs logs nothing at ERROR here unless something is wrong (a worker crashed, a
    timer callback raised, a handler ignored cancellation): each such line is a violation."""

    def __init__(self, model: Model) -> None:
        super().__init__(logging.ERROR)
        self.model = model

    def emit(self, record: logging.LogRecord) -> None:
        self.model.fail(f"asyncjobs logged {record.levelname}: {record.getMessage()}")


@dataclass
class Figures:
    """What the machines did, for tests/run_model.py to print."""

    examples: int = 0
    steps: int = 0
    submits: int = 0
    jobs: int = 0
    requeued: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # the final state of each run
    events: Counter[str] = field(default_factory=Counter)  # what happened on the way


FIGURES = Figures()


# ------------------------------------------------------------------------ the machine


class RunnerMachine(RuleBasedStateMachine):
    """The rules, run in the portal's event loop; ``machine_for(backend)`` picks the loop."""

    backend: ClassVar[str] = "asyncio"

    def __init__(self) -> None:
        super().__init__()
        self.portal_cm: AbstractContextManager[BlockingPortal] | None = None
        self.portal: BlockingPortal | None = None
        self.group_cm: AbstractContextManager[None] | None = None
        self.runner_cm: AbstractContextManager[JobRunner] | None = None
        self.to_watch: MemoryObjectSendStream[Run] | None = None
        self.failed = False
        self.stuck = False
        self.steps = 0
        self.error_log: ErrorLog | None = None

    # ---------------------------------------------------------------- plumbing

    @property
    def model(self) -> Model:
        return self.harness.model

    def run(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` in the loop, let everything settle, then check the model."""

        async def body() -> None:
            with anyio.fail_after(REAL_LIMIT):
                await step()
                await self.clock.advance(0)
                self.model.check_quiescent(self.runner)

        assert self.portal is not None
        try:
            self.portal.call(body)
            self.model.raise_violations()
        except BaseException:
            self.failed = True
            raise

    async def tick(self) -> None:
        """One second of fake time, then the model's check of the state at that second."""
        await self.clock.advance(1)
        self.model.check_quiescent(self.runner)

    def adopt(self, run: Run, handle: JobHandle[Any]) -> None:
        run.handle = handle
        self.watch(run)

    def watch(self, run: Run) -> None:
        """Await the run's handle in a task of its own, to see when and how it resolves.

        The task is started by the watchers' own task, not by the caller: a handle adopted
        inside its job must not be awaited from the job's context (a job awaiting itself)."""
        assert self.to_watch is not None
        assert run.handle is not None
        self.to_watch.send_nowait(run)

    async def _watch(self, run: Run) -> None:
        handle = run.handle
        assert handle is not None
        value: object = None
        error: BaseException | None = None
        try:
            value = await handle
        except Exception as exc:
            error = exc
        run.resolutions += 1
        if run.finished != self.clock.monotonic():
            self.model.fail(f"{run} resolved at another time than it ended")
        self.model.check_outcome(run, value, error)

    @asynccontextmanager
    async def watchers(self) -> AsyncIterator[None]:
        send, receive = anyio.create_memory_object_stream[Run](1000)

        async def spawn() -> None:
            async with receive:
                async for run in receive:
                    group.start_soon(self._watch, run)

        async with anyio.create_task_group() as group, send:
            self.to_watch = send
            group.start_soon(spawn)
            yield
            group.cancel_scope.cancel()  # any handle still unresolved has been reported

    def pick(self, ref: int, runs: list[Run]) -> Run | None:
        return runs[ref % len(runs)] if runs else None

    # ---------------------------------------------------------------- start

    @initialize(config=configs)
    def start(self, config: Config) -> None:
        queues = {
            QUEUE_NAMES[i]: QueueConfig(
                concurrency=q.concurrency, maxsize=q.maxsize, on_full=q.on_full, weight=q.weight
            )
            for i, q in enumerate(config.queues)
        }
        self.clock = FakeClock()
        self.harness = Harness(Model(config, self.clock))
        self.model.adopt = self.adopt
        self.error_log = ErrorLog(self.model)
        logging.getLogger("asyncjobs").addHandler(self.error_log)
        self.runner = JobRunner(
            queues=queues,
            max_workers=config.max_workers,
            selection=config.selection,
            clock=self.clock,
            grace_period=config.grace,
            cancel_timeout=config.cancel_timeout,
            drain_on_shutdown=config.drain,
        )
        try:
            self.portal_cm = start_blocking_portal(self.backend)
            self.portal = self.portal_cm.__enter__()
            self.group_cm = self.portal.wrap_async_context_manager(self.watchers())
            self.group_cm.__enter__()
            self.runner_cm = self.portal.wrap_async_context_manager(self.runner)
            self.runner_cm.__enter__()
            self.portal.call(self.runner.subscribe, self.model.on_event)
        except BaseException:
            self.failed = True
            raise

    # ---------------------------------------------------------------- rules

    @rule(specs=st.lists(job_specs, min_size=1, max_size=3), settle=st.booleans())
    def submit(self, specs: list[JobSpec], settle: bool) -> None:
        """Submit one job after another; with ``settle``, every task runs in between."""
        self.steps += 1

        async def step() -> None:
            for spec in specs:
                await self._submit(spec)
                if settle:
                    await self.clock.advance(0)

        self.run(step)

    async def _submit(self, spec: JobSpec) -> None:
        model = self.model
        now = self.clock.monotonic()
        queue = QUEUE_NAMES[spec.queue % len(model.queues)]
        model_job = ModelJob(len(model.jobs), spec, queue)
        model.jobs.append(model_job)
        pending, holder = model.predict_submit(model_job, now)
        options = model_job_options(spec, queue)
        model.pending = pending
        handle: JobHandle[str] | None = None
        try:
            handle = await self.runner.submit(options, self.harness, model_job.token)
        except QueueFull:
            outcome = "queue_full"
        except DuplicateJob as exc:
            outcome = "duplicate"
            if holder is None or exc.job_id != holder.id:
                model.fail(f"DuplicateJob names {exc.job_id}, the model {holder}")
        else:
            outcome = "returned"
        finally:
            model.pending = None
        kind = pending.kind
        if kind in ("queue_full", "duplicate", "existing"):
            model.tally[kind] += 1
            if kind == "queue_full":
                model.by_name[queue].rejected += 1
            if kind == "existing":
                assert holder is not None
                if holder.handle is None and handle is not None and handle.id == holder.id:
                    self.adopt(holder, handle)  # requeued by a requeue_all that raised
                elif handle is None or handle is not holder.handle:
                    model.fail(f"submit gave {handle}, expected the holder's {holder}")
            elif outcome != kind:
                model.fail(f"submit {outcome}, expected {kind}")
            if pending.created is not None:
                model.fail(f"submit created {pending.created}, expected {kind}")
            return
        run = pending.created
        if handle is None or run is None or handle.id != run.id:
            model.fail(f"submit gave {handle} ({outcome}), expected {kind} ({run})")
            return
        run.handle = handle
        if kind == "drop_oldest":
            assert pending.evict is not None
            if pending.evict.state is not JobState.REJECTED:
                model.fail(f"{pending.evict} was not dropped for the newer {run}")
        if kind != "drop_newest":
            model.claim(run, now)
        self.watch(run)

    @rule(ref=st.integers(0, 255), by_id=st.booleans())
    def cancel(self, ref: int, by_id: bool) -> None:
        self.steps += 1
        self.run(lambda: self._cancel(ref, by_id))

    async def _cancel(self, ref: int, by_id: bool) -> None:
        model = self.model
        runs = [r for r in model.runs if r.handle is not None]
        run = None if ref % (len(runs) + 1) == len(runs) else runs[ref % (len(runs) + 1)]
        if run is None:
            try:
                await self.runner.cancel("no-such-job")
            except JobNotFound:
                return
            model.fail("cancel of an unknown id did not raise JobNotFound")
            return
        if by_id:
            run = model.current[run.id]  # the id names its latest run
        was = run.state
        pending = Pending("cancel")
        if was in WAITING:
            pending.cancelling = run
        elif was is JobState.RUNNING:
            run.stop = "cancel"
        model.pending = pending
        try:
            if by_id:
                cancelled = await self.runner.cancel(run.id)
            else:
                assert run.handle is not None
                cancelled = await run.handle.cancel()
        finally:
            model.pending = None
        if cancelled is was.is_terminal:
            model.fail(f"cancel of {run} ({was.value}) returned {cancelled}")
        if was in WAITING and run.state is not JobState.CANCELLED:
            model.fail(f"{run} was {was.value}: it must be cancelled at once")

    @rule(seconds=st.integers(1, 4))
    def advance(self, seconds: int) -> None:
        self.steps += 1

        async def step() -> None:
            for _ in range(seconds):
                await self.tick()

        self.run(step)

    @rule()
    def run_until_idle(self) -> None:
        self.steps += 1
        self.run(self._run_until_idle)

    async def _run_until_idle(self) -> None:
        model = self.model
        if model.may_hang():
            await self.tick()  # a job might never end: run_until_idle would not return
            return
        model.tally["run_until_idle"] += 1
        await run_until_idle(self.runner, self.clock, settle=0)
        model.promote(self.clock.monotonic(), inclusive=True)
        if model.active:
            model.fail(f"run_until_idle returned with {list(model.active.values())}")

    @rule(ref=st.integers(0, 255), seconds=st.integers(1, 3))
    def result_with_timeout(self, ref: int, seconds: int) -> None:
        self.steps += 1
        self.run(lambda: self._result_with_timeout(ref, seconds))

    async def _result_with_timeout(self, ref: int, seconds: int) -> None:
        model = self.model
        run = self.pick(ref, [r for r in model.runs if r.handle is not None])
        if run is None:
            await self.tick()
            return
        handle = run.handle
        assert handle is not None
        start = self.clock.monotonic()
        got: list[tuple[float, object, BaseException | None]] = []

        async def wait() -> None:
            try:
                value = await handle.result(timeout=seconds)
            except Exception as exc:
                got.append((self.clock.monotonic(), None, exc))
            else:
                got.append((self.clock.monotonic(), value, None))

        async with anyio.create_task_group() as group:
            group.start_soon(wait)
            await self.clock.advance(0)
            model.check_quiescent(self.runner)
            for _ in range(seconds):
                if got:
                    break
                await self.tick()
            if not got:
                model.fail(f"result(timeout={seconds}) of {run} did not return in time")
                group.cancel_scope.cancel()
                return
        when, value, error = got[0]
        ended = run.finished if run.terminal else None
        deadline = start + seconds
        model.tally["result(timeout=) " + ("timed out" if got[0][2] else "returned")] += 1
        if isinstance(error, ResultTimeout):
            if when != deadline or (ended is not None and ended < deadline):
                model.fail(f"result of {run} timed out at {when}; it ended at {ended}")
            return
        if ended is None or when != max(start, ended) or ended > deadline:
            model.fail(f"result of {run} returned at {when}; it ended at {ended}")
            return
        model.check_outcome(run, value, error)

    @rule(ref=st.integers(0, 255), dead_only=st.booleans())
    def requeue(self, ref: int, dead_only: bool) -> None:
        self.steps += 1
        self.run(lambda: self._requeue(ref, dead_only))

    async def _requeue(self, ref: int, dead_only: bool) -> None:
        model = self.model
        now = self.clock.monotonic()
        candidates = [model.current[i] for i in model.ids]
        if dead_only:
            candidates = [r for r in candidates if r.state is JobState.FAILED]
        old = self.pick(ref, candidates)
        if old is None:
            await self.tick()
            return
        queue = model.queue_of(old)
        unique = old.job.spec.unique
        if old.state is not JobState.FAILED:
            expect = "state"
        elif queue.spec.maxsize is not None and len(queue.waiting) >= queue.spec.maxsize:
            expect = "queue_full"
        elif unique is not None and model.live_holder(unique.name, now) is not None:
            expect = "duplicate"
        else:
            expect = "requeue"
        pending = Pending("requeue", olds=[old])
        model.pending = pending
        handle = None
        try:
            handle = await self.runner.dead_letters.requeue(old.id)
        except JobStateError:
            got = "state"
        except QueueFull:
            got = "queue_full"
        except DuplicateJob:
            got = "duplicate"
        else:
            got = "requeue"
        finally:
            model.pending = None
        if got != expect:
            model.fail(f"requeue of {old}: {got}, expected {expect}")
            return
        if got != "requeue":
            model.tally[f"requeue_{got}"] += 1
            return
        self._requeued(pending, [handle], now)

    def _requeued(self, pending: Pending, handles: list[object], now: float) -> None:
        model = self.model
        if len(pending.news) != len(pending.olds) or len(handles) != len(pending.news):
            model.fail(f"requeued {pending.news} ({handles}), expected {pending.olds}")
            return
        for old, new, handle in zip(pending.olds, pending.news, handles, strict=True):
            if not isinstance(handle, JobHandle) or handle.id != new.id or handle is old.handle:
                model.fail(f"requeue of {old} gave {handle}")
                continue
            new.handle = handle
            model.claim(new, now)
            self.watch(new)
        model.tally["requeued"] += len(pending.news)

    @rule()
    def requeue_all(self) -> None:
        self.steps += 1
        self.run(self._requeue_all)

    async def _requeue_all(self) -> None:
        model = self.model
        now = self.clock.monotonic()
        dead = [model.current[i] for i in model.ids if model.current[i].state is JobState.FAILED]
        counts = Counter(r.job.queue for r in dead)
        full = any(
            (maxsize := model.by_name[name].spec.maxsize) is not None
            and len(model.by_name[name].waiting) + count > maxsize
            for name, count in counts.items()
        )
        olds: list[Run] = []
        conflict = False
        if not full:
            keys = {k: r for k, r in model.holders.items() if model.live_holder(k, now)}
            for run in dead:
                unique = run.job.spec.unique
                if unique is not None and unique.name in keys:
                    conflict = True  # DuplicateJob, and none is requeued
                    break
                if unique is not None:
                    keys[unique.name] = run
                olds.append(run)
            if conflict:
                olds = []
        pending = Pending("requeue", olds=olds)
        model.pending = pending
        handles: list[JobHandle[object]] = []
        try:
            handles = await self.runner.dead_letters.requeue_all()
        except QueueFull:
            got = "queue_full"
        except DuplicateJob:
            got = "duplicate"
        else:
            got = "requeue"
        finally:
            model.pending = None
        expect = "queue_full" if full else "duplicate" if conflict else "requeue"
        if got != expect:
            model.fail(f"requeue_all: {got}, expected {expect} of {dead}")
            return
        if got == "requeue":
            self._requeued(pending, list(handles), now)
        else:
            # Refused whole: nothing was requeued (so nothing to claim, normally).
            for new in pending.news:
                model.claim(new, now)
            model.tally[f"requeue_all_{got}"] += 1

    @invariant()
    def state_matches_the_model(self) -> None:
        # Each rule checks once every task is blocked; this makes sure nothing is pending.
        if self.portal is not None and not self.failed:
            self.model.raise_violations()

    # ---------------------------------------------------------------- the end

    def teardown(self) -> None:
        try:
            if self.portal is not None and not self.failed:
                self.finish()
        finally:
            self.cleanup()

    def finish(self) -> None:
        model = self.model
        assert self.portal is not None
        assert self.runner_cm is not None
        reports: list[ShutdownReport] = []

        async def explicit() -> None:
            async def stop() -> None:
                reports.append(await self.runner.shutdown())

            with anyio.fail_after(REAL_LIMIT):
                self.begin_shutdown()
                async with anyio.create_task_group() as group:
                    group.start_soon(stop)
                    await self.clock.advance(0)
                    model.check_quiescent(self.runner)
                    for _ in range(self.model.config.grace + self.model.config.cancel_timeout + 3):
                        if reports:
                            break
                        await self.tick()
                    if not reports:
                        model.fail("shutdown did not return by its deadline")
                        group.cancel_scope.cancel()

        try:
            if model.config.explicit_shutdown:
                self.portal.call(explicit)
                model.raise_violations()
                self.leave(self.runner_cm, "the runner's block")  # the same report again
            else:
                self.portal.call(self._begin_shutdown_async)
                self.leave(self.runner_cm, "the runner's block")  # shuts down on the clock
            self.runner_cm = None
            self.portal.call(lambda: self.final_checks(reports))
            model.raise_violations()
        except BaseException:
            self.failed = True
            raise

    async def _begin_shutdown_async(self) -> None:
        self.begin_shutdown()

    def begin_shutdown(self) -> None:
        now = self.clock.monotonic()
        self.model.promote(now, inclusive=True)
        self.model.shutdown_at = now
        self.model.grace_end = now + self.model.config.grace

    async def final_checks(self, reports: list[ShutdownReport]) -> None:
        with anyio.fail_after(REAL_LIMIT):
            await self.clock.advance(0)
            model = self.model
            try:
                await self._final_checks(reports)
            except Violation as exc:
                model.fail(str(exc))

    async def _final_checks(self, reports: list[ShutdownReport]) -> None:
        model = self.model
        runner = self.runner
        require = model.require
        model.check_quiescent(runner)
        if model.violations:
            return
        require(not model.active, f"jobs left after shutdown: {list(model.active.values())}")
        require(runner.state is RunnerState.STOPPED, f"runner {runner.state}")
        require(runner.running_jobs() == (), f"running after shutdown: {runner.running_jobs()}")
        require(asyncjobs_task_names() == [], f"tasks left: {asyncjobs_task_names()}")
        require(sum(model.live.values()) == 0, f"functions still running: {model.live}")
        report = await runner.shutdown()
        if reports:
            require(reports[0] == report, f"shutdown gave {reports[0]}, then {report}")
        require(report.interrupted == tuple(model.interrupted), f"{report} vs {model.interrupted}")
        require(report.abandoned == (), f"abandoned {report.abandoned}")
        require(report.late == (), f"late {report.late}: no job here holds the loop")
        require(not report.hurried, "hurried, yet nobody cancelled the shutdown")
        if model.grace_interrupts:
            require(not report.drained, "drained, yet the grace period cut jobs off")
        if model.config.grace > 0:
            assert model.grace_end is not None
            if all(r.finished is not None and r.finished < model.grace_end for r in model.runs):
                require(report.drained, "not drained, yet all ended within the grace period")
        # Every run ended once, with the record and the outcome the model expects.
        for run in model.runs:
            await self._check_run(run)
        # The store agrees: one record per job id, in the state of its latest run.
        records = {}
        cursor: str | None = None
        while True:
            page = await runner.list_jobs(limit=7, cursor=cursor)
            records.update({r.id: r for r in page.records})
            cursor = page.next_cursor
            if cursor is None:
                break
        require(list(records) == model.ids, f"records {list(records)} vs {model.ids}")
        for job_id, record in records.items():
            run = model.current[job_id]
            require(record.state is run.state, f"stored {record.state} for {run}")
            require(record.attempts == run.attempts, f"stored attempts {record.attempts}, {run}")
        dead = (await runner.dead_letters.list(limit=1000)).records
        want_dead = [i for i in model.ids if model.current[i].state is JobState.FAILED]
        require([r.id for r in dead] == want_dead, f"dead letters {dead}")
        # Counts add up: every accepted job ended in one state.
        ended = Counter(r.state for r in model.runs)
        require(ended == model.ended, f"ended {ended} vs {model.ended}")
        require(sum(ended.values()) == len(model.runs), "a run without an outcome")
        if self.clock.monotonic() < 3000:  # the window, one hour, covers every job
            stats = runner.job_statistics(window=3600).overall
            want = (
                len(model.runs),
                ended[JobState.SUCCEEDED],
                ended[JobState.FAILED],
                model.retried_total,
            )
            got = (stats.total, stats.succeeded, stats.failed, stats.retried)
            require(got == want, f"job_statistics {got}, model {want}")
        # A stopped runner takes nothing more.
        try:
            await runner.submit(model_job, self.harness, -1)
        except RunnerNotRunning:
            pass
        else:
            raise Violation("a stopped runner took a job")
        if model.ids:
            try:
                await runner.dead_letters.requeue(model.ids[0])
            except RunnerNotRunning:
                pass
            else:
                raise Violation("a stopped runner requeued a job")
            require(await runner.cancel(model.ids[0]) is False, "cancelled after shutdown")

    async def _check_run(self, run: Run) -> None:
        model = self.model
        require = model.require
        require(run.terminal, f"{run} did not end")
        handle = run.handle
        if handle is None:
            return
        require(run.resolutions == 1, f"{run} resolved {run.resolutions} times")
        try:  # a handle keeps its outcome
            value: object = await handle.result()
        except Exception as exc:
            model.check_outcome(run, None, exc)
        else:
            model.check_outcome(run, value, None)
        record = handle.record()
        wall0 = model.wall0
        require(record.state is run.state, f"{run}: record {record.state}")
        require(record.attempts == run.attempts, f"{run}: attempts {record.attempts}")
        assert run.finished is not None
        require(record.finished_at == wall0 + run.finished, f"{run}: finished {record}")
        history = record.history
        require(len(history) == len(run.history), f"{run}: history {history}, {run.history}")
        for got, want in zip(history, run.history, strict=False):
            error = None if got.error is None else got.error.split(":", 1)[0]
            require(
                (got.started_at, got.finished_at, got.outcome, error)
                == (
                    wall0 + want.started,
                    None if want.finished is None else wall0 + want.finished,
                    want.outcome,
                    want.error,
                ),
                f"{run}: attempt {got}, model {want}",
            )
        if run.state is JobState.SUCCEEDED:
            assert run.expected is not None
            want_result = f"result {run.job.token}.{run.expected.call}"
            require(record.result == want_result, f"{run}: result {record.result!r}")

    def leave(self, manager: AbstractContextManager[object], what: str) -> None:
        """Leave a block in the loop, within REAL_LIMIT seconds of real time: leaving the
        runner's block shuts it down, shielded, so no cancel scope can bound it."""
        done = threading.Event()
        failure: list[BaseException] = []

        def leave() -> None:
            try:
                manager.__exit__(None, None, None)
            except BaseException as exc:
                failure.append(exc)
            finally:
                done.set()

        threading.Thread(target=leave, name=f"leave {what}", daemon=True).start()
        if not done.wait(REAL_LIMIT):
            self.stuck = True
            raise Violation(f"leaving {what} did not return within {REAL_LIMIT} s")
        if failure:
            raise failure[0]

    def cleanup(self) -> None:
        """Close what is open, whatever happened: the runner, the watchers, the loop."""
        for name in ("runner_cm", "group_cm", "portal_cm"):
            manager = getattr(self, name)
            setattr(self, name, None)
            if manager is None or self.stuck:
                continue  # a stuck loop is left to its (daemon) thread
            try:
                self.leave(manager, name)
            except BaseException:
                if not self.failed:
                    raise
        self.portal = None
        if self.error_log is not None:
            logging.getLogger("asyncjobs").removeHandler(self.error_log)
            self.error_log = None
        FIGURES.examples += 1
        FIGURES.steps += self.steps
        if hasattr(self, "harness"):
            model = self.model
            FIGURES.submits += len(model.jobs)
            FIGURES.jobs += len({r.job.token for r in model.runs})
            FIGURES.requeued += sum(1 for r in model.runs if r.number)
            FIGURES.outcomes.update(r.state.value for r in model.runs)
            FIGURES.events.update(model.tally)


def model_job_options(spec: JobSpec, queue: str) -> JobDefinition[[Harness, int], str]:
    options = model_job.with_options(
        queue=queue,
        priority=spec.priority,
        timeout=spec.timeout,
        retry=None if spec.retry is None else spec.retry.policy(),
        unique=None
        if spec.unique is None
        else Unique(key=spec.unique.name, on_conflict=spec.unique.on_conflict, ttl=spec.unique.ttl),
    )
    if spec.delay is not None:
        options = options.with_options(delay=spec.delay)
    return options


def machine_for(backend: str) -> type[RunnerMachine]:
    return type(f"RunnerMachine_{backend}", (RunnerMachine,), {"backend": backend})


def model_settings(
    examples: int, *, derandomize: bool = False, print_blob: bool = False
) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=STEPS,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        derandomize=derandomize,
        print_blob=print_blob,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )


def test_runner_matches_the_model(anyio_backend: str) -> None:
    run_state_machine_as_test(
        machine_for(anyio_backend),
        settings=model_settings(EXAMPLES, derandomize=True),
    )
