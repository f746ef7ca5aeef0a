"""Job middleware: hook order, every hook's arguments, SkipJob, context, isolation."""

from __future__ import annotations

import contextvars
from typing import Any

import anyio
import pytest

from asyncjobs import (
    Delivery,
    EventBus,
    FixedBackoff,
    InvalidOptionType,
    JobCancelled,
    JobEvent,
    JobHandle,
    JobInterrupted,
    JobMiddleware,
    JobRejected,
    JobRunner,
    JobState,
    QueueConfig,
    Retry,
    SkipJob,
    job,
    report_progress,
)
from asyncjobs.testing import FakeClock, run_until_idle

pytestmark = pytest.mark.anyio

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class Tracer(JobMiddleware):
    """Notes every hook call as (name, hook, job name, detail)."""

    def __init__(self, name: str, log: list[tuple[str, ...]]) -> None:
        self.name = name
        self.log = log

    def note(self, hook: str, handle: JobHandle[Any], detail: str = "") -> None:
        self.log.append((self.name, hook, handle.name.rsplit(".", 1)[-1], detail))

    async def before_submit(self, handle: JobHandle[Any]) -> None:
        self.note("before_submit", handle)

    async def after_submit(self, handle: JobHandle[Any]) -> None:
        self.note("after_submit", handle, handle.state.value)

    async def before_run(self, handle: JobHandle[Any]) -> None:
        self.note("before_run", handle)

    async def after_run(
        self, handle: JobHandle[Any], result: Any, error: BaseException | None
    ) -> None:
        self.note("after_run", handle, repr(result) if error is None else type(error).__name__)

    async def on_retry(self, handle: JobHandle[Any], error: BaseException, delay: float) -> None:
        self.note("on_retry", handle, f"{type(error).__name__} {delay}")

    async def on_failure(self, handle: JobHandle[Any], error: BaseException) -> None:
        self.note("on_failure", handle, type(error).__name__)

    async def on_dead_letter(self, handle: JobHandle[Any]) -> None:
        self.note("on_dead_letter", handle, handle.state.value)


@job(name="tests.middleware.ok")
async def ok(x: int) -> int:
    return x


_flaky_calls: dict[str, int] = {}


@job(name="tests.middleware.flaky", retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=3)))
async def flaky(key: str) -> str:
    _flaky_calls[key] = _flaky_calls.get(key, 0) + 1
    raise ConnectionError(f"down ({key})")


async def test_hooks_in_order_around_success() -> None:
    log: list[tuple[str, ...]] = []
    chain = [Tracer("a", log), Tracer("b", log)]
    async with JobRunner(middleware=chain) as runner:
        with anyio.fail_after(5):
            assert await (await runner.submit(ok, 7)) == 7
    assert log == [
        ("a", "before_submit", "ok", ""),
        ("b", "before_submit", "ok", ""),
        ("b", "after_submit", "ok", "queued"),
        ("a", "after_submit", "ok", "queued"),
        ("a", "before_run", "ok", ""),
        ("b", "before_run", "ok", ""),
        ("b", "after_run", "ok", "7"),
        ("a", "after_run", "ok", "7"),
    ]


async def test_retry_failure_and_dead_letter_hooks(clock: FakeClock) -> None:
    log: list[tuple[str, ...]] = []
    async with JobRunner(middleware=[Tracer("a", log)], clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(flaky, "retry-hooks")
            await run_until_idle(runner, clock)
            with pytest.raises(ConnectionError):
                await handle
    assert [entry[1:] for entry in log] == [
        ("before_submit", "flaky", ""),
        ("after_submit", "flaky", "queued"),
        ("before_run", "flaky", ""),
        ("after_run", "flaky", "ConnectionError"),
        ("on_retry", "flaky", "ConnectionError 3.0"),
        ("before_run", "flaky", ""),
        ("after_run", "flaky", "ConnectionError"),
        ("on_failure", "flaky", "ConnectionError"),
        ("on_dead_letter", "flaky", "failed"),
    ]


_fail_first: set[str] = set()


@job(name="tests.middleware.fails_first")
async def fails_first(key: str) -> str:
    if key not in _fail_first:
        _fail_first.add(key)
        raise ValueError(key)
    return key


async def test_requeued_dead_letter_skips_submit_hooks_and_gets_run_hooks() -> None:
    log: list[tuple[str, ...]] = []
    _fail_first.discard("requeue-hooks")
    async with JobRunner(middleware=[Tracer("a", log)]) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(fails_first, "requeue-hooks")
            with pytest.raises(ValueError, match="requeue-hooks"):
                await handle
            del log[:]
            again = await runner.dead_letters.requeue(handle.id)
            assert await again == "requeue-hooks"
    assert [entry[1:] for entry in log] == [
        ("before_run", "fails_first", ""),
        ("after_run", "fails_first", "'requeue-hooks'"),
    ]


async def test_timeout_that_fails_for_good_calls_failure_hooks(clock: FakeClock) -> None:
    log: list[tuple[str, ...]] = []

    @job(name="tests.middleware.sleepy", timeout=1)
    async def sleepy() -> None:
        await anyio.sleep_forever()

    async with JobRunner(middleware=[Tracer("a", log)], clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(sleepy)
            await run_until_idle(runner, clock, settle=0)  # to its timeout
            await handle.wait()
    assert handle.state is JobState.FAILED
    assert [entry[1:] for entry in log][-2:] == [
        ("on_failure", "sleepy", "JobTimedOut"),
        ("on_dead_letter", "sleepy", "failed"),
    ]


class Skipper(JobMiddleware):
    def __init__(self, at: str) -> None:
        self.at = at

    async def before_submit(self, handle: JobHandle[Any]) -> None:
        if self.at == "submit" and handle.name.endswith("counted"):
            raise SkipJob("rate limit reached")

    async def before_run(self, handle: JobHandle[Any]) -> None:
        if self.at == "run" and handle.name.endswith("counted"):
            raise SkipJob("already done elsewhere")


@pytest.mark.parametrize(
    ("at", "reason"), [("submit", "rate limit reached"), ("run", "already done elsewhere")]
)
async def test_skip_job_rejects_the_job_on_purpose(at: str, reason: str) -> None:
    log: list[tuple[str, ...]] = []
    events: list[str] = []
    calls: list[int] = []

    @job(name="tests.middleware.counted")
    async def counted() -> None:
        calls.append(1)

    # The tracer is outermost: its before hooks run first, and it sees no run of a skipped job.
    async with JobRunner(middleware=[Tracer("t", log), Skipper(at)]) as runner:
        with anyio.fail_after(5):
            runner.subscribe(lambda e: events.append(type(e).__name__))
            handle = await runner.submit(counted)
            with pytest.raises(JobRejected, match=f"skipped by middleware: {reason}"):
                await handle
            assert await (await runner.submit(ok, 1)) == 1  # still accepting work
    assert calls == []
    assert handle.state is JobState.REJECTED
    hooks = [entry[1] for entry in log if entry[2] == "counted"]
    if at == "submit":
        assert hooks == ["before_submit"]
        assert events[0] == "JobRejectedEvent"
    else:
        assert hooks == ["before_submit", "after_submit", "before_run"]
    assert (await runner.get_job(handle.id)).state is JobState.REJECTED


async def test_hooks_in_the_caller_runs_path() -> None:
    gate = anyio.Event()

    @job(name="tests.middleware.hold")
    async def hold() -> None:
        await gate.wait()

    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full="caller_runs")}
    log: list[tuple[str, ...]] = []
    async with JobRunner(queues=queues, middleware=[Tracer("t", log)]) as runner:
        with anyio.fail_after(5):
            first = await runner.submit(hold)
            await anyio.wait_all_tasks_blocked()  # first runs: the queue is empty again
            await runner.submit(hold)  # waits in the full queue
            third = await runner.submit(ok, 3)  # the caller runs it
            assert third.done()
            assert await third == 3
            gate.set()
            await first
    assert [e[1] for e in log if e[2] == "ok"] == [
        "before_submit",
        "after_submit",
        "before_run",
        "after_run",
    ]


class Tagger(JobMiddleware):
    """Sets a context variable in before_run; the job and after_run see it."""

    def __init__(self) -> None:
        self.seen_after: list[str] = []

    async def before_run(self, handle: JobHandle[Any]) -> None:
        request_id.set(f"req-{handle.id}")

    async def after_run(
        self, handle: JobHandle[Any], result: Any, error: BaseException | None
    ) -> None:
        self.seen_after.append(request_id.get())


@job(name="tests.middleware.read_tag")
async def read_tag() -> str:
    return request_id.get()


async def test_before_run_sets_context_the_job_and_after_run_see() -> None:
    tagger = Tagger()
    async with JobRunner(middleware=[tagger]) as runner:
        with anyio.fail_after(5):
            first = await runner.submit(read_tag)
            second = await runner.submit(read_tag)  # shares the submit-time snapshot
            assert await first == f"req-{first.id}"
            assert await second == f"req-{second.id}"
    assert tagger.seen_after == [f"req-{first.id}", f"req-{second.id}"]
    assert request_id.get() == "-"  # the submitter's context is untouched


async def test_caller_run_jobs_get_their_own_context_too() -> None:
    gate = anyio.Event()

    @job(name="tests.middleware.hold_tag")
    async def hold() -> str:
        await gate.wait()
        return request_id.get()

    tagger = Tagger()
    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full="caller_runs")}
    async with JobRunner(queues=queues, middleware=[tagger]) as runner:
        with anyio.fail_after(5):
            first = await runner.submit(hold)
            await anyio.wait_all_tasks_blocked()
            waiting = await runner.submit(hold)
            ran_here = await runner.submit(read_tag)  # the caller runs it
            assert await ran_here == f"req-{ran_here.id}"
            # The snapshot later jobs from this context share was not touched by the hooks.
            assert runner._admission.last_context.run(request_id.get) == "-"
            gate.set()
            assert await first == f"req-{first.id}"
            assert await waiting == f"req-{waiting.id}"  # not the caller-run job's tag


class Broken(JobMiddleware):
    """Every hook raises."""

    async def before_submit(self, handle: JobHandle[Any]) -> None:
        raise RuntimeError("before_submit bug")

    async def after_submit(self, handle: JobHandle[Any]) -> None:
        raise RuntimeError("after_submit bug")

    async def before_run(self, handle: JobHandle[Any]) -> None:
        raise RuntimeError("before_run bug")

    async def after_run(
        self, handle: JobHandle[Any], result: Any, error: BaseException | None
    ) -> None:
        raise RuntimeError("after_run bug")

    async def on_retry(self, handle: JobHandle[Any], error: BaseException, delay: float) -> None:
        raise RuntimeError("on_retry bug")

    async def on_failure(self, handle: JobHandle[Any], error: BaseException) -> None:
        raise RuntimeError("on_failure bug")

    async def on_dead_letter(self, handle: JobHandle[Any]) -> None:
        raise RuntimeError("on_dead_letter bug")

    async def on_end(
        self, handle: JobHandle[Any], state: JobState, error: BaseException | None
    ) -> None:
        raise RuntimeError("on_end bug")


async def test_raising_middleware_listeners_and_subscribers_change_no_outcome(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Every hook, listener, bus subscriber, bus middleware and progress callback raises;
    every job still reaches its own terminal state and the runner keeps taking work."""
    gate = anyio.Event()

    @job(name="tests.middleware.waits")
    async def waits() -> None:
        report_progress(1)
        await gate.wait()

    def bad_listener(event: JobEvent) -> None:
        raise RuntimeError("listener bug")

    async def bad_subscriber(event: Any) -> None:
        raise RuntimeError("subscriber bug")

    async def bad_bus_middleware(delivery: Delivery, call_next: Any) -> None:
        if delivery.topic == "job.started":
            raise RuntimeError("bus middleware bug")
        await call_next(delivery)

    def bad_callback(update: Any) -> None:
        raise RuntimeError("progress callback bug")

    queues = {"default": QueueConfig(concurrency=2, maxsize=3, on_full="drop_newest")}
    async with EventBus(middleware=[bad_bus_middleware]) as bus:
        runner = JobRunner(
            queues=queues, middleware=[Broken(), Broken()], clock=clock, bus=bus, grace_period=0
        )
        async with runner:
            with anyio.fail_after(5):
                runner.subscribe(bad_listener)
                bus.subscribe("**", bad_subscriber)
                good = await runner.submit(ok, 1)
                failing = await runner.submit(flaky, "isolation")
                cancelled = await runner.submit(waits)
                await anyio.wait_all_tasks_blocked()
                await cancelled.cancel()
                await run_until_idle(runner, clock)
                assert await good == 1
                with pytest.raises(ConnectionError):
                    await failing
                with pytest.raises(JobCancelled):
                    await cancelled
                assert await (await runner.submit(ok, 2)) == 2  # still accepting work
                interrupted = [await runner.submit(waits) for _ in range(2)]
                for handle in interrupted:
                    handle.on_progress(bad_callback)
                await anyio.wait_all_tasks_blocked()  # both running, holding their workers
                for _ in range(3):
                    await runner.submit(waits)  # fill the queue
                rejected = await runner.submit(ok, 3)
                with pytest.raises(JobRejected):
                    await rejected
        # Leaving the runner (grace_period=0) cut the running and queued jobs off.
        for handle in interrupted:
            with pytest.raises(JobInterrupted):
                await handle
    states = [h.state for h in (good, failing, cancelled, interrupted[0], rejected)]
    assert states == [
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.INTERRUPTED,
        JobState.REJECTED,
    ]
    for hook in ("before_submit", "after_submit", "before_run", "after_run", "on_retry"):
        assert f"{hook} bug" in caplog.text
    for text in (
        "on_failure",
        "on_dead_letter",
        "on_end",
        "listener",
        "subscriber",
        "bus middleware",
        "progress callback",
    ):
        assert f"{text} bug" in caplog.text


async def test_cancel_while_before_run_waits() -> None:
    entered = anyio.Event()
    release = anyio.Event()

    class Slow(JobMiddleware):
        async def before_run(self, handle: JobHandle[Any]) -> None:
            entered.set()
            await release.wait()

    calls: list[int] = []

    @job(name="tests.middleware.never")
    async def never() -> None:
        calls.append(1)

    async with JobRunner(middleware=[Slow()]) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(never)
            await entered.wait()
            assert await handle.cancel() is True
            release.set()
            with pytest.raises(JobCancelled, match="before it started"):
                await handle
            assert runner.queue_statistics()["default"].running == 0
    assert calls == []


async def test_untouched_hooks_cost_nothing_and_bad_middleware_is_refused() -> None:
    class OnlyAfter(JobMiddleware):
        async def after_run(
            self, handle: JobHandle[Any], result: Any, error: BaseException | None
        ) -> None:
            pass

    runner = JobRunner(middleware=[OnlyAfter()])
    assert runner._core.hooks is not None
    assert runner._core.hooks.before_submit == ()
    assert runner._core.hooks.on_end == ()
    assert len(runner._core.hooks.after_run) == 1
    assert JobRunner(middleware=[JobMiddleware()])._core.hooks is None
    with pytest.raises(InvalidOptionType, match="middleware"):
        JobRunner(middleware=[object()])  # type: ignore[list-item]
