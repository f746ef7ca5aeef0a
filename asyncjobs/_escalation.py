"""The one way a ``BaseException`` from user code leaves asyncjobs: out of the ``async with``.

User code that the runner or the bus calls (a job, a listener, a hook, a middleware, a
progress callback, a reject handler) may raise a ``BaseException`` that is not an
``Exception``: ``KeyboardInterrupt``, ``SystemExit``, or a subclass of its own. Such an
exception asks the program to stop, so it must not be swallowed like an error, yet it must
not unwind the engine's own tasks either (on asyncio it would escape the event loop, on trio
it would crash the run). The rule:

1. the piece of work it came from ends the way an error would (the job fails with
   ``JobAborted``; the callback's call is over) and the engine's books stay right;
2. the task that opened the ``async with`` block is cancelled, as a task group cancels its
   host when a child fails;
3. leaving the block shuts down as usual (grace period, report), then raises the first such
   exception, once. Later ones are logged, not raised.

``Escalation`` holds that exception and the cancel scope that reaches the block's task.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

import anyio


def is_cancellation(error: BaseException) -> bool:
    """Is ``error`` an event loop's cancellation exception (asyncio's or trio's)?"""
    if isinstance(error, asyncio.CancelledError):
        return True
    cls = type(error)
    return cls.__name__ == "Cancelled" and cls.__module__.startswith("trio")


def cancel_requested() -> bool:
    """Is the current task being cancelled, as opposed to user code raising the loop's
    cancellation exception on its own? (Call it where that exception was caught.)"""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return True  # not asyncio: trio's Cancelled cannot be made by user code
    if task is None:
        return True
    cancelling = getattr(task, "cancelling", None)  # Python >= 3.11
    return True if cancelling is None else bool(cancelling())


def cancelled_here(error: BaseException) -> bool:
    """Is ``error`` the current task's own cancellation (which must propagate), rather
    than something user code raised? (On trio, an ``asyncio.CancelledError`` is always
    the user's.)"""
    return isinstance(error, anyio.get_cancelled_exc_class()) and cancel_requested()


def escalates(error: BaseException) -> bool:
    """Does ``error``, raised by user code, stop the block (see the module's rule)?"""
    return not isinstance(error, Exception) and not is_cancellation(error)


class Escalation:
    """The first stopping exception raised by user code, and the way to the block's task.

    ``enter`` in the owner's ``__aenter__``, ``close`` then ``raise_kept`` in its
    ``__aexit__`` (the same task, so the scope nests like a task group's); ``raise_later``
    from anywhere on the loop."""

    __slots__ = ("_error", "_scope")

    def __init__(self) -> None:
        self._error: BaseException | None = None
        self._scope: anyio.CancelScope | None = None

    def enter(self) -> None:
        scope = anyio.CancelScope()
        scope.__enter__()
        self._scope = scope

    def raise_later(self, error: BaseException) -> bool:
        """Keep ``error`` to raise when the block is left and cancel the block's task.
        Returns False (and keeps nothing) if an earlier one is kept already."""
        if self._error is not None:
            return False
        self._error = error
        if self._scope is not None:
            self._scope.cancel()
        return True

    def close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        """Close the scope with the block's exception; True if that exception is the
        cancellation this scope caused (the owner's ``__aexit__`` swallows it)."""
        scope, self._scope = self._scope, None
        return bool(scope.__exit__(exc_type, exc, tb)) if scope is not None else False

    def raise_kept(self) -> None:
        """Raise the kept exception, if any (the owner is done leaving its block)."""
        error = self._error
        if error is not None:
            raise error

    def exit(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        """``close``, then ``raise_kept``: for an owner with nothing to do in between."""
        ours = self.close(exc_type, exc, tb)
        self.raise_kept()
        return ours
