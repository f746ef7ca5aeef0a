"""The event bus: topics and wildcards, both delivery modes, middleware order, isolation,
bounded buffers, unsubscribe, and job lifecycle events on the bus."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import anyio
import attrs
import pytest

from asyncjobs import (
    BusNotRunning,
    BusState,
    Delivery,
    EventBus,
    EventDeliveryError,
    FilterMiddleware,
    InvalidOption,
    InvalidOptionType,
    JobEvent,
    JobRunner,
    LoggingMiddleware,
    MetricsMiddleware,
    RecoveryMiddleware,
    TimingMiddleware,
    job,
)
from asyncjobs._topics import matches, pattern
from asyncjobs.testing import FakeClock

pytestmark = pytest.mark.anyio


@attrs.frozen
class PostPublished:
    topic: ClassVar[str] = "post.published"

    post_id: int


@pytest.mark.parametrize(
    ("wanted", "topic", "expected"),
    [
        ("post.published", "post.published", True),
        ("post.published", "post.deleted", False),
        ("post.*", "post.deleted", True),
        ("post.*", "post", False),
        ("post.*", "post.a.b", False),
        ("*.published", "post.published", True),
        ("post.**", "post", True),
        ("post.**", "post.a.b", True),
        ("**", "anything.at.all", True),
        ("a.**.z", "a.z", True),
        ("a.**.z", "a.b.c.z", True),
        ("a.**.z", "a.b.c", False),
        ("job.*", "job.failed", True),
        ("job.*", "jobs.failed", False),
    ],
)
def test_wildcards(wanted: str, topic: str, expected: bool) -> None:
    assert matches(pattern("pattern", wanted), topic) is expected


@pytest.mark.parametrize("bad", ["", "a..b", "a.*x", "a b", "post.", 5])
def test_bad_patterns_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidOption) as caught:
        pattern("pattern", bad)
    assert caught.value.field == "pattern"


async def test_awaited_publish_reaches_sync_and_async_subscribers_in_order() -> None:
    seen: list[tuple[str, int]] = []

    def sync_handler(event: PostPublished) -> None:
        seen.append(("sync", event.post_id))

    async def async_handler(event: PostPublished) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(("async", event.post_id))

    async with EventBus() as bus:
        with anyio.fail_after(5):
            bus.subscribe("post.published", sync_handler)
            bus.subscribe("post.*", async_handler)
            bus.subscribe("post.deleted", lambda e: seen.append(("wrong", 0)))
            await bus.publish(PostPublished(1))
            assert seen == [("sync", 1), ("async", 1)]  # done when publish returns
    assert bus.statistics().delivered == 2


async def test_awaited_publish_reports_errors_after_everyone_had_the_event() -> None:
    seen: list[str] = []

    def first(event: Any) -> None:
        raise ValueError("first broke")

    def second(event: Any) -> None:
        seen.append("second")

    async with EventBus() as bus:
        with anyio.fail_after(5):
            bad = bus.subscribe("post.published", first)
            bus.subscribe("post.published", second)
            with pytest.raises(EventDeliveryError) as caught:
                await bus.publish(PostPublished(1))
    assert seen == ["second"]
    assert caught.value.topic == "post.published"
    assert [(sub, type(exc)) for sub, exc in caught.value.errors] == [(bad, ValueError)]
    assert bad.statistics().failed == 1


async def test_fire_and_forget_isolates_errors_and_keeps_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    got: list[int] = []
    done = anyio.Event()

    async def slow(event: PostPublished) -> None:
        await anyio.lowlevel.checkpoint()
        got.append(event.post_id)
        if event.post_id == 5:
            done.set()

    def broken(event: PostPublished) -> None:
        raise RuntimeError("subscriber bug")

    async with EventBus() as bus:
        with anyio.fail_after(5):
            bus.subscribe("post.published", slow)
            failing = bus.subscribe("post.published", broken)
            for i in range(1, 6):
                bus.publish_nowait(PostPublished(i))  # returns at once
            assert got == []
            await done.wait()
    assert got == [1, 2, 3, 4, 5]
    assert failing.statistics().failed == 5
    assert "subscriber bug" in caplog.text


@pytest.mark.parametrize(
    ("on_full", "expected"), [("drop_oldest", [4, 5, 6]), ("drop_newest", [1, 2, 3])]
)
async def test_full_buffer_follows_its_policy(on_full: str, expected: list[int]) -> None:
    got: list[int] = []
    with anyio.fail_after(5):
        async with EventBus() as bus:
            sub = bus.subscribe(
                "post.published", lambda e: got.append(e.post_id), buffer=3, on_full=on_full
            )
            for i in range(1, 7):
                bus.publish_nowait(PostPublished(i))  # no await: the subscriber is behind
            assert sub.statistics().buffered == 3
    assert got == expected  # closing the bus drained the buffer
    assert sub.statistics().dropped == 3
    assert bus.statistics().dropped == 3


async def test_unsubscribe_stops_delivery_and_drops_what_is_buffered() -> None:
    got: list[int] = []
    async with EventBus() as bus:
        with anyio.fail_after(5):
            with bus.subscribe("post.published", lambda e: got.append(e.post_id)) as sub:
                await bus.publish(PostPublished(1))
                bus.publish_nowait(PostPublished(2))
            sub.unsubscribe()  # twice is harmless
            await bus.publish(PostPublished(3))
            bus.publish_nowait(PostPublished(4))
    assert got == [1]
    assert sub.statistics().dropped == 1
    assert bus.statistics().dropped == 1
    assert bus.statistics().subscriptions == 0
    assert bus.state is BusState.CLOSED


async def test_middleware_runs_in_the_documented_order() -> None:
    trace: list[str] = []

    def tracer(name: str) -> Any:
        async def middleware(delivery: Delivery, call_next: Any) -> None:
            trace.append(f"{name} before")
            await call_next(delivery)
            trace.append(f"{name} after")

        return middleware

    async with EventBus(middleware=[tracer("outer"), tracer("inner")]) as bus:
        with anyio.fail_after(5):
            bus.subscribe("post.published", lambda e: trace.append("handler"))
            await bus.publish(PostPublished(1))
    assert trace == ["outer before", "inner before", "handler", "inner after", "outer after"]


async def test_builtin_middleware(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    timings: list[tuple[str, float]] = []
    metrics = MetricsMiddleware()
    recovery = RecoveryMiddleware()
    chain: list[Any] = [
        LoggingMiddleware(level=logging.INFO),
        recovery,
        metrics,
        TimingMiddleware(lambda d, s: timings.append((d.topic, s)), clock=clock),
        FilterMiddleware(lambda d: d.event.post_id != 2),
    ]
    got: list[int] = []

    def handler(event: PostPublished) -> None:
        if event.post_id == 3:
            raise ValueError("three")
        got.append(event.post_id)

    caplog.set_level(logging.INFO, logger="asyncjobs.bus")
    async with EventBus(middleware=chain) as bus:
        with anyio.fail_after(5):
            bus.subscribe("post.published", handler)
            for i in (1, 2, 3):
                await bus.publish(PostPublished(i))  # recovery: no EventDeliveryError
    assert got == [1]  # 2 filtered out, 3 raised
    assert recovery.recovered == 1
    counts = metrics.metrics()["post.published"]
    assert (counts.delivered, counts.failed) == (3, 1)
    assert timings == [("post.published", 0.0)] * 3
    assert "delivering 'post.published'" in caplog.text
    assert "recovered" in caplog.text


async def test_topic_from_the_class_or_given() -> None:
    got: list[Any] = []
    async with EventBus() as bus:
        with anyio.fail_after(5):
            bus.subscribe("orders.**", got.append)
            await bus.publish({"id": 7}, topic="orders.created.eu")
            with pytest.raises(InvalidOption, match="no 'topic'"):
                await bus.publish({"id": 8})
            with pytest.raises(InvalidOption, match="topic"):
                await bus.publish({"id": 9}, topic="orders.*")
    assert got == [{"id": 7}]


async def test_bus_lifecycle_and_bad_settings() -> None:
    bus = EventBus()
    with pytest.raises(BusNotRunning, match="async with EventBus"):
        await bus.publish(PostPublished(1))
    async with bus:
        pass
    with pytest.raises(BusNotRunning, match="closed"):
        bus.publish_nowait(PostPublished(1))
    with pytest.raises(InvalidOption, match="on_full"):
        EventBus(on_full="drop_all")
    with pytest.raises(InvalidOption, match="buffer"):
        EventBus(buffer=0)
    with pytest.raises(InvalidOptionType, match="middleware"):
        EventBus(middleware=[42])  # type: ignore[list-item]
    with pytest.raises(InvalidOptionType, match="handler"):
        EventBus().subscribe("a", 42)  # type: ignore[arg-type]


async def test_close_cancels_deliveries_that_outlast_close_timeout(clock: FakeClock) -> None:
    started = anyio.Event()
    cancelled = anyio.Event()

    async def stuck(event: Any) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    bus = EventBus(close_timeout=2, clock=clock)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            async with bus:
                bus.subscribe("post.published", stuck)
                bus.publish_nowait(PostPublished(1))
                bus.publish_nowait(PostPublished(2))
                await started.wait()

                async def push_time() -> None:
                    await anyio.wait_all_tasks_blocked()
                    await clock.advance(2)

                group.start_soon(push_time)
            await cancelled.wait()
    # The first was cut off under way, the second never started: both count as dropped.
    assert bus.statistics().dropped == 2
    assert bus.statistics().delivered == bus.statistics().failed == 0


@job(name="tests.bus.ok")
async def ok(x: int) -> int:
    return x


@job(name="tests.bus.bad")
async def bad() -> None:
    raise ValueError("bad")


async def test_job_lifecycle_events_on_the_bus() -> None:
    topics: list[tuple[str, str]] = []
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            runner.bus.subscribe("job.**", lambda e: topics.append((e.topic, e.job_name)))
            first = await runner.submit(ok, 1)
            await first
            second = await runner.submit(bad)
            await second.wait()
    # Leaving the runner closed its bus, which delivered everything buffered.
    assert topics == [
        ("job.submitted", "tests.bus.ok"),
        ("job.started", "tests.bus.ok"),
        ("job.succeeded", "tests.bus.ok"),
        ("job.submitted", "tests.bus.bad"),
        ("job.started", "tests.bus.bad"),
        ("job.failed", "tests.bus.bad"),
        ("job.dead_lettered", "tests.bus.bad"),
    ]


async def test_app_event_whose_subscribers_enqueue_jobs() -> None:
    indexed: list[int] = []

    @job(name="tests.bus.index")
    async def index(post_id: int) -> None:
        indexed.append(post_id)

    async with JobRunner() as runner:
        with anyio.fail_after(5):

            @runner.bus.on("post.published")
            async def enqueue_index(event: PostPublished) -> None:
                await runner.submit(index, event.post_id)

            await runner.bus.publish(PostPublished(42))
            await runner.wait_idle()
    assert indexed == [42]


async def test_a_shared_bus_must_be_running_and_outlives_the_runner() -> None:
    bus = EventBus()
    with pytest.raises(BusNotRunning, match="start it first"):
        async with JobRunner(bus=bus):
            pass
    with pytest.raises(InvalidOptionType, match="bus"):
        JobRunner(bus="not a bus")  # type: ignore[arg-type]
    got: list[str] = []
    async with EventBus() as shared:
        with anyio.fail_after(5):
            shared.subscribe("job.succeeded", lambda e: got.append(e.job_id))
            async with JobRunner(bus=shared) as runner:
                assert runner.bus is shared
                handle = await runner.submit(ok, 1)
                await handle
            assert shared.state.value == "running"  # the runner did not close it
            await shared.publish(PostPublished(1))  # still usable
    assert got == [handle.id]


async def test_nobody_listening_builds_no_events(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[type[Any]] = []
    original = JobEvent.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(type(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(JobEvent, "__init__", counting)
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            runner.bus.subscribe("post.*", lambda e: None)  # subscribed, not to job events
            await (await runner.submit(ok, 1))
    assert built == []


async def test_a_fire_and_forget_delivery_does_not_run_in_the_publishing_jobs_context() -> None:
    from asyncjobs import current_job

    seen: list[object] = []
    delivered = anyio.Event()

    def on_thing(event: object) -> None:
        seen.append(current_job())
        delivered.set()

    @job(name="tests.bus.publisher")
    async def publisher(bus: EventBus) -> None:
        bus.publish_nowait({"n": 1}, topic="app.thing")  # the first event starts the pump

    async with EventBus() as bus, JobRunner(bus=bus) as runner:
        bus.subscribe("app.*", on_thing)
        with anyio.fail_after(5):
            await (await runner.submit(publisher, bus))
            await delivered.wait()
    assert seen == [None]


async def test_each_event_reaches_each_subscription_as_one_count() -> None:
    """delivered + failed + dropped is the number of (event, matching subscription) pairs,
    whatever happened to them: an unsubscribe during an awaited publish, a full buffer, a
    raising handler."""
    subscriptions: list[Any] = []

    def unsubscribes_the_next(event: Any) -> None:
        subscriptions[1].unsubscribe()

    def raises(event: Any) -> None:
        raise ValueError("no")

    async with EventBus(buffer=2) as bus:
        with anyio.fail_after(5):
            subscriptions.append(bus.subscribe("a", unsubscribes_the_next))
            subscriptions.append(bus.subscribe("a", lambda e: None))
            subscriptions.append(bus.subscribe("a", raises))
            with pytest.raises(EventDeliveryError):
                await bus.publish({}, topic="a")  # the second was unsubscribed before its turn
            for _ in range(3):
                bus.publish_nowait({}, topic="a")  # one more than the buffers hold
    assert subscriptions[1].statistics()[2:] == (0, 0, 1)
    stats = bus.statistics()
    assert stats.published == 4
    assert (stats.delivered, stats.failed, stats.dropped) == (3, 3, 3)
    assert stats.delivered + stats.failed + stats.dropped == 3 + 2 * 3
