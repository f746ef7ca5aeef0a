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

Handlers may be plain functions or coroutine functions (a plain function's return value
other than None, or an awaitable, is logged: nobody reads it). Middleware wraps every
delivery, in both ways, in the order given: the first middleware is the outermost, so it
sees the delivery first and its result last. Its ``call_next`` passes the delivery on once;
a second call (or one after the middleware returned) raises ``CallNextTwice`` into it and is
logged, so a subscriber never gets one publish twice. Job lifecycle events are published
fire-and-forget under ``job.*`` topics by the runner.

Counting: every pair of an event and a matching subscription ends counted once, as
``delivered``, ``failed`` (the handler or a middleware raised) or ``dropped`` (a full
buffer, an unsubscribe, the bus closing, or the delivery cancelled under way).

A ``KeyboardInterrupt``, ``SystemExit`` or other ``BaseException`` that is neither an
``Exception`` nor a cancellation, raised by a subscriber or a middleware, fails its delivery
like an error (the other subscribers still get the event, delivery tasks go on); it is
logged, then handed on (see ``_escalation``): out of the ``async with EventBus()`` block,
whose task is cancelled and which raises it, once, after closing; to ``start``'s
``escalate``; or, started with neither, from ``aclose()``. A cancellation of the delivering
task itself (the bus closing, the publisher cancelled) goes on as a cancellation; one that
user code raised on its own is an ordinary failure.
"""

from __future__ import annotations

import enum
import functools
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, NamedTuple, NoReturn

import anyio

from . import _topics, _validation
from ._clock import Clock, SystemClock
from ._errors import (
    BusNotRunning,
    CallNextTwice,
    EventDeliveryError,
    InvalidOption,
    InvalidOptionType,
)
from ._escalation import Escalation, cancelled_here, escalates
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
"""``async def middleware(delivery, call_next)``: call ``await call_next(delivery)`` once to
pass the delivery on (to the next middleware, and at the end to the handler), or don't, to
drop it. A second call raises ``CallNextTwice``."""


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


_FRESH, _CALLED, _OVER = 0, 1, 2


class _Walk:
    """One delivery's way through the middleware: who raised what came out of it."""

    __slots__ = ("culprit", "error")

    def __init__(self) -> None:
        self.culprit: object = None  # the middleware that raised ``error``; None: the handler
        self.error: BaseException | None = None


class _CallNext:
    """The ``call_next`` one middleware gets for one delivery: it passes the delivery on
    once, while the middleware runs."""

    __slots__ = ("_bus", "_index", "_walk", "_state")

    def __init__(self, bus: EventBus, index: int, walk: _Walk) -> None:
        self._bus = bus
        self._index = index  # the next layer's
        self._walk = walk
        self._state = _FRESH

    def __call__(self, delivery: Delivery) -> Awaitable[None]:
        # A plain method returning the next step's coroutine: one frame less per layer.
        if self._state is not _FRESH:
            self._bus._refuse(self._index - 1, delivery, late=self._state is _OVER)
        self._state = _CALLED
        return self._bus._through(delivery, self._index, self._walk)


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
        "_inflight",
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
        self._inflight = False  # its pump is delivering one (not yet counted)
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
    """Publish and subscribe by topic, inside one process. Use as ``async with EventBus()``
    (or ``start()`` and ``aclose()``).

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
        if isinstance(middleware, (str, bytes)) or not isinstance(middleware, Iterable):
            raise InvalidOptionType(
                "middleware", middleware, "expected a list of middleware (callables)"
            )
        try:
            chain = tuple(middleware)
        except Exception as exc:  # a hostile iterable: refused, typed
            raise InvalidOptionType(
                "middleware", middleware, f"could not be read as a list ({type(exc).__name__})"
            ) from exc
        for item in chain:
            if not callable(item):
                raise InvalidOptionType("middleware", item, "expected a callable middleware")
        # Typed as returning anything: a middleware's return value is checked (it should
        # be None).
        self._middleware: tuple[Callable[[Delivery, CallNext], Awaitable[object]], ...] = chain
        self._buffer = _validation.positive_int("buffer", buffer)
        self._on_full = _on_full(on_full)
        self._close_timeout = _validation.non_negative_duration("close_timeout", close_timeout)
        if clock is not None and not isinstance(clock, Clock):
            raise InvalidOptionType("clock", clock, "expected a Clock (see asyncjobs.Clock)")
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._faults = RepeatLog(self._clock.monotonic)
        self._block: Escalation | None = None  # the async with block's, while in it
        self._kept: Escalation | None = None  # start()ed with no escalate: aclose raises
        self._state = BusState.NEW
        self._subscriptions: tuple[BusSubscription, ...] = ()
        self._routes: dict[str, tuple[BusSubscription, ...]] = {}
        self._watchers: list[Callable[[], None]] = []
        self._pumps = 0
        self._drained: anyio.Event | None = None
        self._scopes: dict[anyio.CancelScope, BusSubscription] = {}  # pumps' scopes
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
        self._start_once()
        block = Escalation()
        self._faults.escalate = block.raise_later
        block.enter()
        self._block = block
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        block, self._block = self._block, None
        if block is None:  # not entered by this block (a bug in the caller's code)
            await self.aclose()
            return
        try:
            await self.aclose()
        except BaseException as error:
            block.exit(type(error), error, error.__traceback__)
            raise
        # Raises the first KeyboardInterrupt, SystemExit or other stopping exception a
        # subscriber or middleware raised, once the bus has closed.
        block.exit(exc_type, exc, tb)

    def start(self, *, escalate: Callable[[BaseException], object] | None = None) -> None:
        """Start taking events (``async with`` does this).

        :param escalate: called with each ``KeyboardInterrupt``, ``SystemExit`` or other
            ``BaseException`` that is not an ``Exception`` (nor a cancellation) raised by a
            subscriber or a middleware, once it is logged (a runner owning the bus passes
            its own). If None, the bus keeps the first one and ``aclose()`` raises it at its
            end, once the bus has closed.
        """
        self._start_once()
        if escalate is None:
            self._kept = Escalation()  # never entered: it only keeps the error
            escalate = self._kept.raise_later
        self._faults.escalate = escalate

    def _start_once(self) -> None:
        if self._state is not BusState.NEW:
            raise BusNotRunning(f"this bus is {self._state.value}; an EventBus starts once")
        self._state = BusState.RUNNING

    async def aclose(self) -> None:
        """Stop taking events, let buffered ones drain for ``close_timeout``, then cancel the
        deliveries still under way. Calling it again does nothing.

        A bus started with ``start()`` and no ``escalate`` then raises the first stopping
        exception (``KeyboardInterrupt``, ``SystemExit``, ...) a subscriber or middleware
        raised, if any."""
        if self._state is BusState.CLOSED:
            return
        self._state = BusState.CLOSED
        with anyio.CancelScope(shield=True):
            if self._pumps:
                self._drained = anyio.Event()
                await self._wait_drained(self._clock.monotonic() + self._close_timeout)
            cut = 0
            for scope, sub in list(self._scopes.items()):
                scope.cancel()
                if sub._inflight:  # counted here, so the counts are whole when we return
                    sub._inflight = False
                    sub.dropped += 1
                    self._dropped += 1
                    cut += 1
        left = sum(len(sub._buffer) for sub in self._subscriptions)
        if left or cut:
            logger.warning(
                "event bus closed with %d event(s) undelivered after close_timeout=%s "
                "(%d delivery(ies) under way cancelled, %d buffered event(s) dropped)",
                left + cut,
                self._close_timeout,
                cut,
                left,
            )
        for sub in self._subscriptions:
            sub.dropped += len(sub._buffer)
            self._dropped += len(sub._buffer)
            sub._buffer.clear()
        self._faults.flush()
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.raise_kept()

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

    def watch(self, watcher: Callable[[], None]) -> None:
        """Call ``watcher()`` whenever the subscriptions change (publishers that skip
        building events nobody wants keep their answer current this way)."""
        self._watchers.append(watcher)

    def unwatch(self, watcher: Callable[[], None]) -> None:
        """Stop calling ``watcher`` (see ``watch``); a watcher not watching is ignored."""
        if watcher in self._watchers:
            self._watchers.remove(watcher)

    def has_subscriptions(self) -> bool:
        """Whether anything is subscribed to the bus at all."""
        return bool(self._subscriptions)

    def running(self) -> bool:
        """Whether the bus takes events now."""
        return self._state is BusState.RUNNING

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
        if isinstance(topic, str):  # a subclass's own hash and eq are not used in routing
            topic = _validation.plain_str("topic", topic)
        return _topics.topic("topic", topic)

    async def publish(self, event: Any, *, topic: str | None = None) -> None:
        """Deliver ``event`` to every matching subscriber and wait for them all.

        Raises ``EventDeliveryError`` afterwards if any of them raised."""
        self._check_running()
        name = self._topic_of(event, topic)
        self._published += 1
        errors: list[tuple[BusSubscription, BaseException]] = []
        stops: list[tuple[str, object, BaseException]] = []
        try:
            for subscription in self._route(name):
                if not subscription._active:  # unsubscribed by an earlier subscriber
                    subscription.dropped += 1
                    self._dropped += 1
                    continue
                delivery = Delivery(name, event, subscription)
                walk = _Walk() if self._middleware else None
                try:
                    if walk is None:
                        await self._call_handler(delivery)
                    else:
                        await self._through(delivery, 0, walk)
                except BaseException as error:  # reported back, after everyone had it
                    if cancelled_here(error):
                        subscription.dropped += 1  # cut off under way: not delivered
                        self._dropped += 1
                        raise
                    subscription.failed += 1
                    self._failed += 1
                    errors.append((subscription, error))
                    if escalates(error):
                        stops.append((*self._blame(delivery, walk, error), error))
                else:
                    subscription.delivered += 1
                    self._delivered += 1
        finally:
            # Handed on once every subscriber had the event (handing on cancels the block
            # this publish may run in, which would cut the later subscribers off).
            for kind, callback, stop in stops:
                self._faults.callback_failed(kind, callback, stop, repr(name))
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
        self._scopes[scope] = subscription
        try:
            with scope:
                while buffer:
                    delivery = buffer.popleft()
                    walk = _Walk() if self._middleware else None
                    subscription._inflight = True
                    try:
                        if walk is None:
                            await self._call_handler(delivery)
                        else:
                            await self._through(delivery, 0, walk)
                    except BaseException as error:  # isolated; RepeatLog logs it
                        if cancelled_here(error):
                            raise  # to the scope, which ends this pump (counted as dropped)
                        if subscription._inflight:  # else aclose counted it as dropped
                            subscription._inflight = False
                            subscription.failed += 1
                            self._failed += 1
                        if not isinstance(error, CallNextTwice):  # logged when refused
                            kind, callback = self._blame(delivery, walk, error)
                            self._faults.callback_failed(
                                kind, callback, error, repr(delivery.topic)
                            )
                    else:
                        if subscription._inflight:
                            subscription._inflight = False
                            subscription.delivered += 1
                            self._delivered += 1
        finally:
            if subscription._inflight:  # cancelled, not by aclose (the loop closing)
                subscription._inflight = False
                subscription.dropped += 1
                self._dropped += 1
            self._scopes.pop(scope, None)
            subscription._pumping = False
            self._pumps -= 1
            if not self._pumps and self._drained is not None:
                self._drained.set()

    # ----------------------------------------------------------------- delivering

    async def _through(self, delivery: Delivery, index: int, walk: _Walk) -> None:
        """Middleware ``index`` on, then the handler; notes in ``walk`` who raised."""
        middleware = self._middleware
        if index == len(middleware):
            try:
                await self._call_handler(delivery)
            except BaseException as error:
                walk.culprit, walk.error = None, error
                raise
            return
        layer = middleware[index]
        call_next = _CallNext(self, index + 1, walk)
        try:
            returned = await layer(delivery, call_next)
        except BaseException as error:
            if error is not walk.error:  # its own, not one passed on from further in
                walk.culprit, walk.error = layer, error
            raise
        finally:
            call_next._state = _OVER
        if returned is not None:
            self._middleware_returned(layer, returned, delivery.topic)

    async def _call_handler(self, delivery: Delivery) -> None:
        handler = delivery.subscription.handler
        outcome = handler(delivery.event)
        if outcome is not None:
            if inspect.isawaitable(outcome):
                await outcome
            else:  # a plain function's return value: nobody reads it
                self._faults.returned("bus subscriber", handler, outcome, repr(delivery.topic))

    def _middleware_returned(self, layer: object, value: object, topic: str) -> None:
        if not inspect.iscoroutine(value):
            self._faults.returned("bus middleware", layer, value, repr(topic))
            return
        value.close()  # never awaited: close it so Python does not warn at collection
        name = describe_callable(layer)
        self._faults.note(
            ("bus middleware", name, "coroutine"),
            logging.ERROR,
            f"bus middleware {name} returned a coroutine on {topic!r} instead of awaiting it; "
            "it was not run (write 'await call_next(delivery)', not 'return call_next(...)')",
            what=f"bus middleware {name} returned a coroutine again",
            latest=f"on {topic!r}",
        )

    def _refuse(self, index: int, delivery: Delivery, *, late: bool) -> NoReturn:
        layer = self._middleware[index]
        name = describe_callable(layer)
        error = CallNextTwice(name, delivery.topic, late=late)
        self._faults.note(
            ("bus middleware", name, "call_next twice"),
            logging.ERROR,
            f"{error}; the middleware is faulty and this error is raised into it",
            what=f"bus middleware {name} called call_next twice again",
            latest=f"on {delivery.topic!r}",
        )
        raise error

    @staticmethod
    def _blame(delivery: Delivery, walk: _Walk | None, error: BaseException) -> tuple[str, object]:
        """What raised ``error`` out of a delivery: a middleware, or else the handler."""
        if walk is not None and walk.error is error and walk.culprit is not None:
            return "bus middleware", walk.culprit
        return "bus subscriber", delivery.subscription.handler

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
    if isinstance(value, OnFull):
        return value
    if not isinstance(value, str):
        raise InvalidOptionType("on_full", value, "expected 'drop_oldest' or 'drop_newest'")
    text = str.__str__(value)  # its characters, whatever a subclass's __eq__ or __hash__ do
    for policy in OnFull:
        if policy.value == text:
            return policy
    raise InvalidOption("on_full", value, "expected 'drop_oldest' or 'drop_newest'")
