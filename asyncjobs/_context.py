"""Run a coroutine inside a given ``contextvars.Context`` without creating a task for it.

Each step of the coroutine runs through ``context.run``, so context variables the submitter
had at submit time are visible to the job, and changes the job makes stay in its own context.
The yielded values pass through untouched, so this works on any event loop anyio supports.
"""

from __future__ import annotations

import contextvars
import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


@types.coroutine
def in_context(
    context: contextvars.Context, coro: Coroutine[Any, Any, T]
) -> Generator[Any, Any, T]:
    """``await in_context(ctx, coro)`` runs ``coro`` with ``ctx`` as its context."""
    run = context.run
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
