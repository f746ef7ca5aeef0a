"""``EventBus``: publish and subscribe by dotted topic, with a middleware chain around delivery.

Two ways to publish:

* ``await bus.publish(event)``: awaited delivery. Each matching subscriber is called in turn,
  in the publisher's task, in the order they subscribed; the publisher waits for all of
  them. If any raised (and no middleware recovered), ``EventDeliveryError`` is raised after
  every subscriber has had the event, listing each failure.
* ``bus.publish_nowait(event)``: fire and forget. The event is put in each matching
  subscriber's own bounded buffer and delivered by a task of that subscription, in order. A
  raising subscriber is logged and isolated. A full buffer follows the subscription's
  ``on_full`` policy: ``drop_oldest`` (the default: the newest events are kept) or
  ``drop_newest``; drops are counted in ``statistics()``.

Handlers may be plain functions or coroutine functions. Middleware wraps every delivery, in
both ways, in the order given: the first middleware is the outermost, so it sees the
delivery first and its result last. Job lifecycle events are published fire-and-forget under
``job.*`` topics by the runner.
"""

from __future__ import annotations

import enum
import functools
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, NamedTuple

import anyio

from . import _topics, _validation
from ._clock import Clock, SystemClock
from ._errors import BusNotRunning, EventDeliveryError, InvalidOption, InvalidOptionType
from ._faults import RepeatLog, describe_callable
from ._spawn import spawn_detached
from ._unsubscribe import UnsubscribeOnExit

logger = logging.getLogger("asyncjobs")

Handler = Callable[[Any], Awaitable[object] | object]


class Delivery:
    """One event on its way to one subscriber; what middleware sees."""

    __slots__ = ("topic", "event", "subscription")

    def __init__(self, topic: str, event: Any, subscription: BusSubscription) -> None:
        self.topic = topic
        self.event = event
        self.subscription = subscription

    @property
    def handler(self) -> Handler:
        """The subscriber's handler."""
        return self.subscription.handler

    def __repr__(self) -> str:
        return f"<Delivery {self.topic!r} to {self.subscription.handler!r}>"


CallNext = Callable[[Delivery], Awaitable[None]]
BusMiddleware = Callable[[Delivery, CallNext], Awaitable[None]]
"""``async def middleware(delivery, call_next)``: call ``await call_next(delivery)`` to pass
the delivery on (to the next middleware, and at the end to the handler), or don't, to drop
it."""


class OnFull(str, enum.Enum):
    """What a subscription's full buffer does with one more fire-and-forget event."""

    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"


class SubscriptionStatistics(NamedTuple):
    """Counters of one subscription. ``failed`` counts deliveries whose handler (or
    middleware) raised; ``dropped`` counts events its full buffer let go."""

    pattern: str
    buffered: int
    delivered: int
    failed: int
    dropped: int


class BusStatistics(NamedTuple):
    """Counters of a bus: events published (either way), deliveries made, failed and
    dropped, and subscriptions now active."""

    published: int
    delivered: int
    failed: int
    dropped: int
    subscriptions: int


async def _call_handler(delivery: Delivery) -> None:
    outcome = delivery.subscription.handler(delivery.event)
    if inspect.isawaitable(outcome):
        await outcome


def _chain(middleware: tuple[BusMiddleware, ...]) -> CallNext:
    call: CallNext = _call_handler
    for outer in reversed(middleware):

        def step(
            delivery: Delivery, _outer: BusMiddleware = outer, _next: CallNext = call
        ) -> Awaitable[None]:
            return _outer(delivery, _next)

        call = step
    return call


class BusSubscription(UnsubscribeOnExit):
    """A handler subscribed to a pattern. ``unsubscribe()``, or leave its ``with`` block, to
    stop delivery; events still in its buffer are then dropped."""

    __slots__ = (
        "pattern",
        "handler",
        "_segments",
        "_bus",
        "_buffer",
        "_buffer_size",
        "_drop_newest",
        "_pumping",
        "_active",
        "delivered",
        "failed",
        "dropped",
    )

    def __init__(
        self,
        bus: EventBus,
        pattern: str,
        segments: tuple[str, ...],
        handler: Handler,
        buffer: int,
        on_full: OnFull,
    ) -> None:
        self.pattern = pattern
        self.handler = handler
        self._segments = segments
        self._bus = bus
        self._buffer: deque[Delivery] = deque()
        self._drop_newest = on_full is OnFull.DROP_NEWEST
        self._pumping = False
        self._active = True
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self._buffer_size = buffer

    def unsubscribe(self) -> None:
        """Stop delivery to this handler; calling it again does nothing."""
        if self._active:
            self._active = False
            self.dropped += len(self._buffer)
            self._bus._dropped += len(self._buffer)
            self._buffer.clear()
            self._bus._remove(self)

    def statistics(self) -> SubscriptionStatistics:
        """A snapshot of this subscription's counters and how many events wait in its buffer."""
        return SubscriptionStatistics(
            pattern=self.pattern,
            buffered=len(self._buffer),
            delivered=self.delivered,
            failed=self.failed,
            dropped=self.dropped,
        )

    def __repr__(self) -> str:
        return f"<BusSubscription {self.pattern!r} -> {self.handler!r}>"


class BusState(str, enum.Enum):
    """Where an ``EventBus`` is in its life: ``NEW`` until started, ``RUNNING``, then ``CLOSED``.

    ``publish`` and ``publish_nowait`` need ``RUNNING``; ``subscribe`` works in any state.
    """

    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


class EventBus:
    """Publish and subscribe by topic, inside one process. Use as ``async with EventBus()``.

    :param middleware: wrappers around every delivery, outermost first (see ``BusMiddleware``
        and the built-ins ``LoggingMiddleware``, ``RecoveryMiddleware``, ``TimingMiddleware``,
        ``MetricsMiddleware``, ``FilterMiddleware``).
    :param buffer: default size of each subscription's buffer of fire-and-forget events.
    :param on_full: default policy of a full buffer: ``"drop_oldest"`` or ``"drop_newest"``.
    :param close_timeout: seconds ``aclose`` lets buffered events drain before it cancels
        the deliveries still under way (the rest are dropped and logged).
    :param clock: the clock ``close_timeout`` runs on (default: the system clock).

    An event's topic is the ``topic=`` given to ``publish``, else its class's ``topic``
    attribute (job events have one: ``job.submitted``, ``job.failed``, ...).
    """

    def __init__(
        self,
        *,
        middleware: Iterable[BusMiddleware] = (),
        buffer: int = 1000,
        on_full: OnFull | str = OnFull.DROP_OLDEST,
        close_timeout: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        chain = tuple(middleware)
        for item in chain:
            if not callable(item):
                raise InvalidOptionType("middleware", item, "expected a callable middleware")
        self._middleware = chain
        self._deliver = _chain(chain)
        self._buffer = _validation.positive_int("buffer", buffer)
        self._on_full = _on_full(on_full)
        self._close_timeout = _validation.non_negative_duration("close_timeout", close_timeout)
        if clock is not None and not isinstance(clock, Clock):
            raise InvalidOptionType("clock", clock, "expected a Clock (see asyncjobs.Clock)")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._faults = RepeatLog(self._clock.monotonic)
        self._state = BusState.NEW
        self._subscriptions: tuple[BusSubscription, ...] = ()
        self._routes: dict[str, tuple[BusSubscription, ...]] = {}
        self._watchers: list[Callable[[], None]] = []
        self._pumps = 0
        self._drained: anyio.Event | None = None
        self._scopes: set[anyio.CancelScope] = set()
        self._published = 0
        self._delivered = 0
        self._failed = 0
        self._dropped = 0

    # ----------------------------------------------------------------- lifecycle

    @property
    def state(self) -> BusState:
        """Where the bus is in its life (see ``BusState``)."""
        return self._state

    async def __aenter__(self) -> EventBus:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start(self) -> None:
        """Start taking events (``async with`` does this)."""
        if self._state is not BusState.NEW:
            raise BusNotRunning(f"this bus is {self._state.value}; an EventBus starts once")
        self._state = BusState.RUNNING

    async def aclose(self) -> None:
        """Stop taking events, let buffered ones drain for ``close_timeout``, then cancel the
        deliveries still under way. Calling it again does nothing."""
        if self._state is BusState.CLOSED:
            return
        self._state = BusState.CLOSED
        with anyio.CancelScope(shield=True):
            if self._pumps:
                self._drained = anyio.Event()
                await self._wait_drained(self._clock.monotonic() + self._close_timeout)
            for scope in list(self._scopes):
                scope.cancel()
        left = sum(len(sub._buffer) for sub in self._subscriptions)
        if left or self._scopes:
            logger.warning(
                "event bus closed with %d event(s) undelivered after close_timeout=%s",
                left,
                self._close_timeout,
            )
        for sub in self._subscriptions:
            sub.dropped += len(sub._buffer)
            self._dropped += len(sub._buffer)
            sub._buffer.clear()
        self._faults.flush()

    async def _wait_drained(self, deadline: float) -> None:
        assert self._drained is not None
        drained = self._drained
        async with anyio.create_task_group() as group:

            async def watchdog() -> None:
                await self._clock.sleep_until(deadline)
                group.cancel_scope.cancel()

            group.start_soon(watchdog)
            await drained.wait()
            group.cancel_scope.cancel()

    def _check_running(self) -> None:
        if self._state is not BusState.RUNNING:
            if self._state is BusState.NEW:
                raise BusNotRunning(
                    "the event bus has not started: use it as an async context manager "
                    "(async with EventBus() as bus: ...)"
                )
            raise BusNotRunning("the event bus is closed and takes no new events")

    # ----------------------------------------------------------------- subscribing

    def subscribe(
        self,
        pattern: str,
        handler: Handler,
        *,
        buffer: int | None = None,
        on_full: OnFull | str | None = None,
    ) -> BusSubscription:
        """Call ``handler(event)`` for each event whose topic ``pattern`` selects
        (``*``: one segment, ``**``: any number). ``buffer`` and ``on_full`` override the
        bus defaults for fire-and-forget events. Returns the subscription: use it as a
        context manager, or call ``unsubscribe()``."""
        segments = _topics.pattern("pattern", pattern)
        if not callable(handler):
            raise InvalidOptionType("handler", handler, "expected a function or coroutine function")
        size = self._buffer if buffer is None else _validation.positive_int("buffer", buffer)
        policy = self._on_full if on_full is None else _on_full(on_full)
        subscription = BusSubscription(self, pattern, segments, handler, size, policy)
        self._subscriptions = (*self._subscriptions, subscription)
        self._changed()
        return subscription

    def on(self, pattern: str, **options: Any) -> Callable[[Handler], Handler]:
        """Decorator form of ``subscribe``: ``@bus.on("post.published")``."""

        def register(handler: Handler) -> Handler:
            self.subscribe(pattern, handler, **options)
            return handler

        return register

    def _remove(self, subscription: BusSubscription) -> None:
        self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)
        self._changed()

    def _changed(self) -> None:
        self._routes = {}
        for watcher in self._watchers:
            watcher()

    def _route(self, topic: str) -> tuple[BusSubscription, ...]:
        routes = self._routes
        found = routes.get(topic)
        if found is None:
            found = tuple(s for s in self._subscriptions if _topics.matches(s._segments, topic))
            if len(routes) >= 4096:  # topics are usually few; never let the cache grow
                routes.clear()
            routes[topic] = found
        return found

    def wants(self, topic: str) -> bool:
        """Whether any subscription selects ``topic`` (publishers can skip building events)."""
        return bool(self._subscriptions) and bool(self._route(topic))

    # ----------------------------------------------------------------- publishing

    def _topic_of(self, event: Any, topic: str | None) -> str:
        if topic is None:
            topic = getattr(type(event), "topic", None)
            if topic is None:
                raise InvalidOption(
                    "topic",
                    None,
                    f"{type(event).__name__} has no 'topic' class attribute: pass topic=",
                )
        return _topics.topic("topic", topic)

    async def publish(self, event: Any, *, topic: str | None = None) -> None:
        """Deliver ``event`` to every matching subscriber and wait for them all.

        Raises ``EventDeliveryError`` afterwards if any of them raised."""
        self._check_running()
        name = self._topic_of(event, topic)
        self._published += 1
        errors: list[tuple[BusSubscription, BaseException]] = []
        for subscription in self._route(name):
            if not subscription._active:
                continue
            try:
                await self._deliver(Delivery(name, event, subscription))
            except Exception as exc:  # noqa: BLE001 - reported back, after everyone had it
                subscription.failed += 1
                self._failed += 1
                errors.append((subscription, exc))
            else:
                subscription.delivered += 1
                self._delivered += 1
        if errors:
            raise EventDeliveryError(name, errors)

    def publish_nowait(self, event: Any, *, topic: str | None = None) -> None:
        """Queue ``event`` for every matching subscriber and return at once."""
        self._check_running()
        name = self._topic_of(event, topic)
        self._published += 1
        for subscription in self._route(name):
            buffer = subscription._buffer
            if len(buffer) >= subscription._buffer_size:
                subscription.dropped += 1
                self._dropped += 1
                self._note_drop(subscription)
                if subscription._drop_newest:
                    continue
                buffer.popleft()
            buffer.append(Delivery(name, event, subscription))
            if not subscription._pumping:
                subscription._pumping = True
                self._pumps += 1
                spawn_detached(functools.partial(self._pump, subscription), "asyncjobs-bus")

    def _note_drop(self, subscription: BusSubscription) -> None:
        """Say so in the log, the first time and then at most once a minute."""
        handler = describe_callable(subscription.handler)
        self._faults.note(
            ("dropped", subscription.pattern, handler),  # names: no reference kept
            logging.WARNING,
            f"event bus subscription {subscription.pattern!r} -> "
            f"{handler} dropped an event: its buffer of "
            f"{subscription._buffer_size} was full (on_full="
            f"{'drop_newest' if subscription._drop_newest else 'drop_oldest'}). Publishing "
            "outran its delivery; further drops are counted (subscription.statistics()) and "
            "summarised. A subscriber that must see every event (metrics, say) should be a "
            "runner listener (runner.subscribe), called as each event happens, or have a "
            "buffer as large as the largest burst",
            what=f"event bus subscription {subscription.pattern!r} -> {handler} dropped events",
        )

    async def _pump(self, subscription: BusSubscription) -> None:
        """Deliver a subscription's buffered events in order, then end."""
        buffer = subscription._buffer
        scope = anyio.CancelScope()
        self._scopes.add(scope)
        try:
            with scope:
                while buffer:
                    delivery = buffer.popleft()
                    try:
                        await self._deliver(delivery)
                    except Exception as exc:  # noqa: BLE001 - isolated; RepeatLog logs it
                        subscription.failed += 1
                        self._failed += 1
                        self._faults.callback_failed(
                            "event subscriber", subscription.handler, exc, repr(delivery.topic)
                        )
                    else:
                        subscription.delivered += 1
                        self._delivered += 1
        finally:
            self._scopes.discard(scope)
            subscription._pumping = False
            self._pumps -= 1
            if not self._pumps and self._drained is not None:
                self._drained.set()

    def statistics(self) -> BusStatistics:
        """A snapshot of the bus's counters (published, delivered, failed, dropped, ...)."""
        return BusStatistics(
            published=self._published,
            delivered=self._delivered,
            failed=self._failed,
            dropped=self._dropped,
            subscriptions=len(self._subscriptions),
        )


def _on_full(value: Any) -> OnFull:
    try:
        return OnFull(value)
    except ValueError:
        raise InvalidOption("on_full", value, "expected 'drop_oldest' or 'drop_newest'") from None
