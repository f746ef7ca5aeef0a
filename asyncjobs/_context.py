"""Run a coroutine inside a given ``contextvars.Context`` without creating a task for it.

Each step of the coroutine runs through ``context.run``, so context variables the submitter
had at submit time are visible to the job, and changes the job makes stay in its own context.
The yielded values pass through untouched, so this works on any event loop anyio supports.
"""

from __future__ import annotations

import contextvars
from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class InContext(Generic[T]):
    """``await InContext(ctx, coro)`` runs ``coro`` with ``ctx`` as its context."""

    __slots__ = ("_context", "_coro")

    def __init__(self, context: contextvars.Context, coro: Coroutine[Any, Any, T]) -> None:
        self._context = context
        self._coro = coro

    def __await__(self) -> Generator[Any, Any, T]:
        run = self._context.run
        coro = self._coro
        send, throw = coro.send, coro.throw
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                if error is None:
                    yielded = run(send, value)
                else:
                    yielded = run(throw, error)
                    error = None
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            try:
                value = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - delivered into the coroutine
                error = exc
                value = None
