"""Logging that stays bounded when the same thing goes wrong over and over.

A faulty listener, hook, middleware, progress callback, reject handler or bus subscriber is
isolated: its error never changes a job's outcome. (A ``BaseException`` that is not an
``Exception``, such as ``KeyboardInterrupt``, is logged the same way and then handed to the
owner's ``escalate``: see ``_escalation``.) It is also logged, but a callback that
raises on every job would otherwise write a traceback per job (tens of thousands a second
in a burst). ``RepeatLog`` logs the first occurrence of each kind of trouble in full, counts
the repeats, and writes one summary line for them at most once per ``interval`` seconds,
and a last one when its owner closes (``flush``). Dropped bus events use it too.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Hashable

from ._errors import error_text
from ._escalation import escalates

logger = logging.getLogger("asyncjobs")

SUMMARY_INTERVAL = 60.0
"""Seconds between two summaries of the same repeated trouble."""

_MAX_KINDS = 1024  # kinds of trouble remembered; the least recently seen is forgotten first
_MAX_TEXT = 300  # characters of an error's text kept for a summary line


def describe_callable(fn: object) -> str:
    """A short, stable name for a callback: its function's qualified name (through
    ``functools.partial`` and bound methods), else its class's; never raises."""
    try:
        while isinstance(fn, functools.partial):
            fn = fn.func
        fn = getattr(fn, "__func__", fn)  # a bound method: its function
        name = getattr(fn, "__qualname__", None)
        if not isinstance(name, str):  # an instance with __call__: its class
            fn = type(fn)
            name = fn.__qualname__
        module = getattr(fn, "__module__", None)
        return f"{module}.{name}" if isinstance(module, str) else name
    except Exception:  # noqa: BLE001 - a name for a log line must not fail the caller
        return type(fn).__qualname__


def _text(error: BaseException) -> str:
    """``str(error)``, cut short, and never raising (a user's ``__str__`` may)."""
    text = error_text(error, _MAX_TEXT)
    return "<unprintable error>" if text is None else text


def describe_error(error: BaseException, limit: int = 2000) -> str:
    """``"TypeName: text"`` for a log line or a record, at most ``limit`` characters of text;
    never raises: an error whose ``str()`` raises is described by its type name alone."""
    name = type(error).__qualname__
    text = error_text(error, limit)
    if text is None:
        return f"{name} (its str() raised)"
    return f"{name}: {text}" if text else name


def _raised_at(error: BaseException) -> tuple[str, int] | None:
    """Where ``error`` was raised (file and line of its innermost frame), or None."""
    tb = error.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename, tb.tb_lineno


class _Repeats:
    __slots__ = ("what", "count", "unlogged", "logged_at", "latest")

    def __init__(self, what: str, now: float) -> None:
        self.what = what
        self.count = 1
        self.unlogged = 0
        self.logged_at = now
        self.latest = ""


class RepeatLog:
    """The first occurrence of each key logged in full; repeats counted and summarised.

    :param now: the monotonic clock the summaries are spaced on (the owner's clock).
    :param interval: seconds between two summary lines of one key.
    """

    def __init__(
        self,
        now: Callable[[], float],
        *,
        interval: float = SUMMARY_INTERVAL,
        escalate: Callable[[BaseException], object] | None = None,
    ) -> None:
        self._now = now
        self._interval = interval
        self._seen: dict[Hashable, _Repeats] = {}
        self.escalate = escalate
        """Called with each ``KeyboardInterrupt``, ``SystemExit`` or other non-``Exception``
        a callback raised, after it is logged (the owner raises it from its block)."""

    def callback_failed(self, kind: str, callback: object, error: BaseException, on: str) -> None:
        """A user callback raised ``error`` and was isolated. ``kind`` says what it is
        ("listener", "job middleware", ...), ``on`` what it was called for."""
        name = describe_callable(callback)
        error_type = type(error).__qualname__
        if escalates(error):
            logger.error(
                "%s %s raised %s on %s; its owner (the runner, or the event bus) stops and "
                "raises it where its async with block is left",
                kind,
                name,
                error_type,
                on,
                exc_info=error,
            )
            if self.escalate is not None:
                self.escalate(error)
            return
        # One kind of trouble: this callback, this error type, raised at this line.
        self.note(
            (kind, name, type(error), _raised_at(error)),
            logging.ERROR,
            f"{kind} {name} raised on {on}; ignored (the same error from the same place "
            "again is counted and summarised, not logged each time)",
            what=f"{kind} {name} raised {error_type} again",
            latest=f"on {on}: {_text(error)}",
            exc_info=error,
        )

    def returned(self, kind: str, callback: object, value: object, on: str) -> None:
        """A user callback whose return value is not used returned ``value`` (not None):
        a coroutine is closed unawaited and logged as an error, anything else as a warning,
        each once per callback and then summarised."""
        name = describe_callable(callback)
        if inspect.iscoroutine(value):
            value.close()  # never awaited: close it so Python does not warn at collection
            self.note(
                (kind, name, "coroutine"),
                logging.ERROR,
                f"{kind} {name} returned a coroutine on {on}; it was not run: a {kind} is "
                "called synchronously (make it a plain def, or start the work as a task)",
                what=f"{kind} {name} returned a coroutine again",
                latest=f"on {on}",
            )
            return
        self.note(
            (kind, name, "value"),
            logging.WARNING,
            f"{kind} {name} returned {type(value).__qualname__} on {on}; a {kind}'s return "
            "value is ignored",
            what=f"{kind} {name} returned a value again",
            latest=f"on {on}",
        )

    def note(
        self,
        key: Hashable,
        level: int,
        message: str,
        *,
        what: str,
        latest: str = "",
        exc_info: BaseException | None = None,
    ) -> None:
        """Log ``message`` (at ``level``, with ``exc_info``) the first time ``key`` comes;
        afterwards count it, and once ``interval`` has passed since the last line about it,
        log a WARNING that ``what`` happened so many times. ``latest`` describes this
        occurrence for that summary."""
        now = self._now()
        seen = self._seen.pop(key, None)
        if seen is not None:
            self._seen[key] = seen  # the most recently seen goes last: evicted last
        else:
            if len(self._seen) >= _MAX_KINDS:
                del self._seen[next(iter(self._seen))]
            self._seen[key] = _Repeats(what, now)
            logger.log(level, "%s", message, exc_info=exc_info)
            return
        seen.count += 1
        seen.unlogged += 1
        seen.latest = latest
        if now - seen.logged_at >= self._interval:
            self._summarise(seen, now)

    def _summarise(self, seen: _Repeats, now: float) -> None:
        logger.warning(
            "%s: %d time(s) in the last %.0f s, %d in all%s",
            seen.what,
            seen.unlogged,
            now - seen.logged_at,
            seen.count,
            f"; latest {seen.latest}" if seen.latest else "",
        )
        seen.unlogged = 0
        seen.logged_at = now

    def flush(self) -> None:
        """Log a summary of every repeat not summarised yet (the owner is closing)."""
        now = self._now()
        for seen in self._seen.values():
            if seen.unlogged:
                self._summarise(seen, now)

    def counts(self) -> dict[Hashable, int]:
        """How often each key has come so far (for tests and diagnostics)."""
        return {key: seen.count for key, seen in self._seen.items()}
