"""The event bus against hostile user code: subscribers and middleware raising
``KeyboardInterrupt``, ``SystemExit`` and other stopping exceptions, raising cancellation on
their own, returning the wrong thing, middleware calling ``call_next`` twice, and topic
patterns built to be slow."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import anyio
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from asyncjobs import (
    AsyncJobsError,
    CallNextTwice,
    Delivery,
    EventBus,
    EventDeliveryError,
    FilterMiddleware,
    InvalidOption,
    LoggingMiddleware,
    MetricsMiddleware,
    RecoveryMiddleware,
    TimingMiddleware,
)
from asyncjobs._topics import MAX_LENGTH, MAX_SEGMENTS, match_steps, matches, pattern
from asyncjobs.testing import FakeClock

from .conftest import asyncjobs_task_names

pytestmark = pytest.mark.anyio


@attrs.frozen
class PostPublished:
    topic: ClassVar[str] = "post.published"

    post_id: int


class Stop(BaseException):
    """A stopping exception of the application's own."""


STOPPING = [KeyboardInterrupt, SystemExit, Stop]


def _records(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


# --------------------------------------------------------------------------- stopping


@pytest.mark.parametrize("stop", STOPPING)
@pytest.mark.parametrize("site", ["sync subscriber", "async subscriber", "middleware"])
@pytest.mark.parametrize("awaited", [True, False], ids=["publish", "publish_nowait"])
async def test_a_stopping_exception_fails_its_delivery_and_leaves_the_block_once(
    stop: type[BaseException], site: str, awaited: bool, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[tuple[str, int]] = []
    body: list[str] = []
    raised = stop("stop now")

    def before(event: PostPublished) -> None:
        got.append(("before", event.post_id))

    def sync_raiser(event: PostPublished) -> None:
        if event.post_id == 1:
            raise raised
        got.append(("raiser", event.post_id))

    async def async_raiser(event: PostPublished) -> None:
        await anyio.lowlevel.checkpoint()
        if event.post_id == 1:
            raise raised
        got.append(("raiser", event.post_id))

    async def after(event: PostPublished) -> None:
        await anyio.lowlevel.checkpoint()  # later subscribers run whole, not cancelled
        got.append(("after", event.post_id))

    async def stopping_middleware(delivery: Delivery, call_next: Any) -> None:
        if delivery.subscription is raiser and delivery.event.post_id == 1:
            raise raised
        await call_next(delivery)

    handler = {"sync subscriber": sync_raiser, "async subscriber": async_raiser}.get(site, before)
    bus = EventBus(middleware=[stopping_middleware] if site == "middleware" else [])
    raiser = bus.subscribe("post.*", handler)
    bus.subscribe("post.published", after)

    async def block() -> None:
        with anyio.fail_after(5):
            async with bus:
                if awaited:
                    with pytest.raises(EventDeliveryError) as delivery_error:
                        await bus.publish(PostPublished(1))
                    assert [e for _, e in delivery_error.value.errors] == [raised]
                    assert got == [("after", 1)]  # the later subscriber had it, whole
                else:
                    for i in (1, 2):
                        bus.publish_nowait(PostPublished(i))
                try:
                    await anyio.sleep_forever()
                finally:
                    body.append("cancelled")
            body.append("not reached")

    with pytest.raises(stop) as caught:
        await block()
    assert caught.value is raised
    assert body == ["cancelled"]
    assert asyncjobs_task_names() == []
    stats = bus.statistics()
    if awaited:
        assert got == [("after", 1)]
        assert (stats.published, stats.delivered, stats.failed, stats.dropped) == (1, 1, 1, 0)
        assert raiser.statistics()[1:] == (0, 0, 1, 0)  # buffered, delivered, failed, dropped
    else:
        # The other subscriber had both events, the raiser the one after the one it (or its
        # middleware) stopped on: its delivery task went on.
        second = ("before", 2) if site == "middleware" else ("raiser", 2)
        assert sorted(got) == sorted([("after", 1), ("after", 2), second])
        assert (stats.published, stats.delivered, stats.failed, stats.dropped) == (2, 3, 1, 0)
        assert raiser.statistics()[1:] == (0, 1, 1, 0)
    kind = "bus middleware" if site == "middleware" else "bus subscriber"
    logged = _records(caplog, f"raised {stop.__qualname__}")
    assert len(logged) == 1
    assert logged[0].levelno == logging.ERROR
    assert logged[0].getMessage().startswith(kind)
    assert logged[0].exc_info is not None
    assert logged[0].exc_info[1] is raised


async def test_only_the_first_stopping_exception_is_raised_the_rest_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = KeyboardInterrupt("first"), Stop("second")

    def raise_first(event: object) -> None:
        raise first

    def raise_second(event: object) -> None:
        raise second

    bus = EventBus()
    bus.subscribe("a", raise_first)
    bus.subscribe("a", raise_second)

    async def block() -> None:
        with anyio.fail_after(5):
            async with bus:
                with pytest.raises(EventDeliveryError):
                    await bus.publish({}, topic="a")
                await anyio.sleep_forever()

    with pytest.raises(KeyboardInterrupt) as caught:
        await block()
    assert caught.value is first
    assert len(_records(caplog, "raised KeyboardInterrupt")) == 1
    assert len(_records(caplog, "raised Stop")) == 1
    assert bus.statistics().failed == 2


@pytest.mark.parametrize("stop", STOPPING)
async def test_a_started_bus_hands_stopping_exceptions_to_escalate(
    stop: type[BaseException],
) -> None:
    handed: list[BaseException] = []
    later: list[int] = []
    bus = EventBus()
    bus.start(escalate=handed.append)

    def raiser(event: PostPublished) -> None:
        if event.post_id == 1:
            raise stop()
        later.append(event.post_id)

    bus.subscribe("post.published", raiser)
    with anyio.fail_after(5):
        bus.publish_nowait(PostPublished(1))
        bus.publish_nowait(PostPublished(2))
        await bus.aclose()  # does not raise: the error went to escalate
    assert [type(e) for e in handed] == [stop]
    assert later == [2]
    assert bus.statistics()[1:4] == (1, 1, 0)


@pytest.mark.parametrize("stop", STOPPING)
@pytest.mark.parametrize("awaited", [True, False], ids=["publish", "publish_nowait"])
async def test_a_started_bus_without_escalate_raises_from_aclose_once_closed(
    stop: type[BaseException], awaited: bool
) -> None:
    later: list[int] = []
    bus = EventBus()
    bus.start()

    async def raiser(event: PostPublished) -> None:
        await anyio.lowlevel.checkpoint()
        if event.post_id == 1:
            raise stop()
        later.append(event.post_id)

    bus.subscribe("post.published", raiser)
    with anyio.fail_after(5):
        if awaited:
            with pytest.raises(EventDeliveryError):
                await bus.publish(PostPublished(1))
            await bus.publish(PostPublished(2))
        else:
            bus.publish_nowait(PostPublished(1))
            bus.publish_nowait(PostPublished(2))
        with pytest.raises(stop):
            await bus.aclose()
        await bus.aclose()  # once: closed already, nothing more to raise
    assert later == [2]  # closing fully came first: the buffered event was delivered
    assert bus.state.value == "closed"
    assert bus.statistics()[1:4] == (1, 1, 0)
    assert asyncjobs_task_names() == []


async def test_recovery_does_not_swallow_a_stopping_exception_and_metrics_count_it() -> None:
    recovery = RecoveryMiddleware()
    metrics = MetricsMiddleware()

    def raiser(event: object) -> None:
        raise KeyboardInterrupt

    async def block() -> None:
        with anyio.fail_after(5):
            async with EventBus(middleware=[LoggingMiddleware(), recovery, metrics]) as bus:
                bus.subscribe("a", raiser)
                bus.publish_nowait({}, topic="a")
                await anyio.sleep_forever()

    with pytest.raises(KeyboardInterrupt):
        await block()
    assert recovery.recovered == 0
    assert metrics.metrics()["a"] == (1, 1)


@pytest.mark.parametrize("awaited", [True, False], ids=["publish", "publish_nowait"])
async def test_a_cancellation_raised_by_a_subscriber_itself_is_an_ordinary_failure(
    awaited: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """asyncio's CancelledError raised on purpose (on trio too, where it is just an error):
    counted failed and logged, the bus goes on, nothing is stopped or cancelled."""
    later: list[int] = []

    async def raiser(event: PostPublished) -> None:
        await anyio.lowlevel.checkpoint()
        if event.post_id == 1:
            raise asyncio.CancelledError("on its own")
        later.append(event.post_id)

    with anyio.fail_after(5):
        async with EventBus() as bus:
            sub = bus.subscribe("post.published", raiser)
            if awaited:
                with pytest.raises(EventDeliveryError) as caught:
                    await bus.publish(PostPublished(1))
                assert isinstance(caught.value.errors[0][1], asyncio.CancelledError)
                await bus.publish(PostPublished(2))
            else:
                bus.publish_nowait(PostPublished(1))
                bus.publish_nowait(PostPublished(2))
    assert later == [2]
    assert sub.statistics()[2:] == (1, 1, 0)
    if not awaited:
        assert _records(caplog, "raised on 'post.published'; ignored")


async def test_a_cancelled_publisher_is_cancelled_and_counts_the_cut_delivery_dropped() -> None:
    entered = anyio.Event()
    after: list[int] = []

    async def stuck(event: object) -> None:
        entered.set()
        await anyio.sleep_forever()

    async with EventBus() as bus:
        with anyio.fail_after(5):
            bus.subscribe("a", stuck)
            bus.subscribe("a", lambda e: after.append(1))
            async with anyio.create_task_group() as group:

                async def publisher() -> None:
                    await bus.publish({}, topic="a")
                    after.append(99)  # never: publish raised the cancellation

                group.start_soon(publisher)
                await entered.wait()
                group.cancel_scope.cancel()
    assert after == []
    assert bus.statistics()[1:4] == (0, 0, 1)


# --------------------------------------------------------------------------- return values


async def test_wrong_return_values_are_logged_not_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    async def work(event: object) -> None:
        ran.append("coroutine")

    def returns_a_value(event: object) -> int:
        return 42

    with anyio.fail_after(5):
        async with EventBus() as bus:
            bus.subscribe("a", returns_a_value)
            bus.subscribe("a", lambda e: work(e))  # an awaitable is awaited: that is fine
            for _ in range(3):
                await bus.publish({}, topic="a")
            bus.publish_nowait({}, topic="a")
    assert ran == ["coroutine"] * 4
    logged = _records(caplog, "returned int")
    assert len(logged) == 1  # once, then counted and summarised
    assert logged[0].levelno == logging.WARNING
    assert "bus subscriber" in logged[0].getMessage()
    assert "returns_a_value" in logged[0].getMessage()
    assert bus.statistics()[1:3] == (8, 0)


async def test_a_middleware_returning_its_call_next_unawaited_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    got: list[object] = []

    async def forgets_await(delivery: Delivery, call_next: Any) -> Any:
        return call_next(delivery)  # a coroutine, never run

    async def returns_value(delivery: Delivery, call_next: Any) -> Any:
        await call_next(delivery)
        return "done"

    with anyio.fail_after(5):
        async with EventBus(middleware=[forgets_await]) as bus:
            bus.subscribe("a", got.append)
            await bus.publish({}, topic="a")
        async with EventBus(middleware=[returns_value]) as other:
            other.subscribe("a", got.append)
            await other.publish({}, topic="a")
    assert got == [{}]  # the first never reached the handler; no "never awaited" warning
    coroutine = _records(caplog, "returned a coroutine")
    assert len(coroutine) == 1
    assert coroutine[0].levelno == logging.ERROR
    assert "forgets_await" in coroutine[0].getMessage()
    value = _records(caplog, "returned str")
    assert len(value) == 1
    assert "returns_value" in value[0].getMessage()


async def test_async_filter_predicates_and_timing_reports_are_noticed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    got: list[object] = []

    async def predicate(delivery: Delivery) -> bool:
        return True

    async def report(delivery: Delivery, seconds: float) -> None:
        got.append("report ran")

    chain: list[Any] = [
        TimingMiddleware(report, clock=FakeClock()),
        FilterMiddleware(predicate),  # type: ignore[arg-type]
    ]
    with anyio.fail_after(5):
        async with EventBus(middleware=chain) as bus:
            bus.subscribe("a", got.append)
            await bus.publish({}, topic="a")
            await bus.publish({}, topic="a")
    assert got == []  # the filter refused its coroutine; the report never ran
    assert len(_records(caplog, "filter predicate")) == 1
    assert len(_records(caplog, "timing report")) == 1


# --------------------------------------------------------------------------- call_next twice


@pytest.mark.parametrize("awaited", [True, False], ids=["publish", "publish_nowait"])
async def test_call_next_twice_is_refused_and_the_event_delivered_once(
    awaited: bool, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[int] = []
    done = anyio.Event()

    async def twice(delivery: Delivery, call_next: Any) -> None:
        await call_next(delivery)
        await call_next(delivery)

    def handler(event: PostPublished) -> None:
        got.append(event.post_id)
        done.set()

    with anyio.fail_after(5):
        async with EventBus(middleware=[twice]) as bus:
            sub = bus.subscribe("post.published", handler)
            if awaited:
                with pytest.raises(EventDeliveryError) as caught:
                    await bus.publish(PostPublished(1))
                [(_, error)] = caught.value.errors
                assert isinstance(error, CallNextTwice)
                assert isinstance(error, AsyncJobsError)
                assert "a second time" in str(error)
            else:
                bus.publish_nowait(PostPublished(1))
                await done.wait()
    assert got == [1]
    assert sub.statistics()[2:] == (0, 1, 0)  # the middleware raised: a failed delivery
    logged = _records(caplog, "call_next")
    assert len(logged) == 1  # logged once, where it was refused, not again as a failure
    assert logged[0].levelno == logging.ERROR
    assert logged[0].getMessage().startswith("bus middleware")
    assert "twice" in logged[0].getMessage()
    assert "call_next a second time" in logged[0].getMessage()


async def test_call_next_twice_swallowed_or_after_return_is_still_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    got: list[int] = []
    kept: list[Any] = []
    refusals: list[BaseException] = []

    async def retries(delivery: Delivery, call_next: Any) -> None:
        for _ in range(3):  # a naive retry: every call after the first is refused
            try:
                await call_next(delivery)
            except Exception as exc:
                refusals.append(exc)

    async def stashes(delivery: Delivery, call_next: Any) -> None:
        kept.append((call_next, delivery))
        await call_next(delivery)

    with anyio.fail_after(5):
        async with EventBus(middleware=[retries]) as bus:
            sub = bus.subscribe("post.published", lambda e: got.append(e.post_id))
            await bus.publish(PostPublished(1))  # does not raise: retries swallowed it
        async with EventBus(middleware=[stashes]) as other:
            other.subscribe("post.published", lambda e: got.append(e.post_id))
            await other.publish(PostPublished(2))
            call_next, delivery = kept[0]
            with pytest.raises(CallNextTwice, match="after it had returned"):
                await call_next(delivery)
    assert got == [1, 2]
    assert [type(e) for e in refusals] == [CallNextTwice, CallNextTwice]
    assert sub.statistics()[2:] == (1, 0, 0)
    assert len(_records(caplog, "a second time")) == 1  # the repeat is counted
    assert len(_records(caplog, "after it had returned")) == 1


# --------------------------------------------------------------------------- topics


def _reference(segments: tuple[str, ...], parts: list[str]) -> bool:
    """The obvious backtracking matcher (exponential on the worst patterns): a reference
    for small cases."""
    if not segments:
        return not parts
    head, rest = segments[0], segments[1:]
    if head == "**":
        return any(_reference(rest, parts[k:]) for k in range(len(parts) + 1))
    return bool(parts) and head in ("*", parts[0]) and _reference(rest, parts[1:])


_segment = st.sampled_from(["a", "b", "*", "**"])


@given(
    st.lists(_segment, min_size=1, max_size=7),
    st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=8),
)
def test_matching_agrees_with_the_backtracking_reference(
    wanted: list[str], parts: list[str]
) -> None:
    segments = pattern("pattern", ".".join(wanted))
    assert matches(segments, ".".join(parts)) is _reference(tuple(wanted), parts)


@pytest.mark.parametrize(
    ("wanted", "topic"),
    [
        (".".join(["**", "a"] * 15) + ".b", ".".join(["a"] * MAX_SEGMENTS)),
        ("**." + ".".join(["*"] * 30) + ".x", ".".join(["a"] * MAX_SEGMENTS)),
        (".".join(["**"] * 31) + ".x", ".".join(["a"] * MAX_SEGMENTS)),
        ("*.*.*.*.*.*.*.*.x", ".".join(["a"] * 9)),
    ],
)
def test_a_pathological_pattern_matches_in_bounded_steps(wanted: str, topic: str) -> None:
    segments = pattern("pattern", wanted)
    parts = topic.split(".")
    found, steps = match_steps(segments, topic)
    assert found is False
    assert matches(segments, topic) is False
    # Each topic segment tries each pattern position at most once: no backtracking. The
    # backtracking reference takes tens of millions of calls on the first of these.
    assert steps <= (len(segments) + 1) * (len(parts) + 1)


def test_runs_of_double_wildcards_collapse() -> None:
    assert pattern("pattern", "a.**.**.**.b") == ("a", "**", "b")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a" * (MAX_LENGTH + 1), "at most 256 characters"),
        ("x" * 1_000_000, "at most 256 characters"),
        (".".join(["a"] * (MAX_SEGMENTS + 1)), "at most 32 dot-separated segments"),
        ("a*a*a*a*a*a*b", "whole segment"),
        ("a.#.b", "wildcards"),
    ],
)
async def test_oversized_or_bad_patterns_and_topics_are_refused(value: str, reason: str) -> None:
    with pytest.raises(InvalidOption, match=reason) as caught:
        pattern("pattern", value)
    assert caught.value.field == "pattern"
    assert len(str(caught.value)) < 400  # a capped prefix of the value, not all of it
    async with EventBus() as bus:
        with pytest.raises(InvalidOption) as refused:
            bus.subscribe(value, print)
        assert refused.value.field == "pattern"
        if "*" not in value and "#" not in value:
            with pytest.raises(InvalidOption, match=reason) as refused:
                await bus.publish({}, topic=value)
            assert refused.value.field == "topic"
            assert len(str(refused.value)) < 400
    assert bus.statistics().subscriptions == 0


def test_the_largest_allowed_pattern_and_topic_are_accepted() -> None:
    longest = ".".join(["ab"] * MAX_SEGMENTS)  # 95 characters, 32 segments
    assert matches(pattern("pattern", longest), longest)
    wide = "a" * MAX_LENGTH
    assert matches(pattern("pattern", "**"), wide)


# --------------------------------------------------------------------------- options


class _HostileStr(str):
    __slots__ = ()

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")


class _HostileIterable:
    def __iter__(self) -> Any:
        raise RuntimeError("iter")


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: EventBus(middleware=5), "middleware"),
        (lambda: EventBus(middleware=_HostileIterable()), "middleware"),
        (lambda: EventBus(middleware="abc"), "middleware"),
        (lambda: EventBus(on_full=5), "on_full"),
        (lambda: EventBus(on_full=_HostileStr("drop_all")), "on_full"),
        (lambda: EventBus().subscribe("a", print, on_full=[]), "on_full"),
        (lambda: LoggingMiddleware(level="INFO"), "level"),
        (lambda: LoggingMiddleware(level=10**5000), "level"),
        (lambda: LoggingMiddleware(logger="asyncjobs"), "logger"),
        (lambda: RecoveryMiddleware(logger=42), "logger"),
        (lambda: TimingMiddleware(slow=-1), "slow"),
        (lambda: TimingMiddleware(slow="1"), "slow"),
        (lambda: TimingMiddleware(report=42), "report"),
        (lambda: TimingMiddleware(clock=42), "clock"),
        (lambda: MetricsMiddleware(max_topics=0), "max_topics"),
        (lambda: FilterMiddleware(42), "predicate"),
    ],
)
def test_bus_and_middleware_options_are_refused_with_a_typed_error(make: Any, field: str) -> None:
    with pytest.raises(InvalidOption) as caught:
        make()
    assert caught.value.field == field


def test_on_full_takes_a_str_subclass_by_its_characters() -> None:
    class Policy(str):
        __slots__ = ()

    bus = EventBus(on_full=Policy("drop_newest"))
    assert bus.subscribe("a", print).statistics().pattern == "a"
    assert bus._on_full.value == "drop_newest"


class _TopicHashRaises(str):
    def __hash__(self) -> int:
        raise RuntimeError("str subclass __hash__")


class _TopicEqRaises(str):
    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("str subclass __eq__")


async def test_a_topic_str_subclass_is_routed_as_a_plain_string() -> None:
    clock = FakeClock()
    got: list[object] = []
    async with EventBus(clock=clock) as bus:
        bus.subscribe("post.*", got.append)
        await bus.publish(1, topic=_TopicHashRaises("post.published"))
        bus.publish_nowait(2, topic=_TopicEqRaises("post.published"))
        await clock.advance(0)
    assert got == [1, 2]
    assert bus.statistics().delivered == 2
