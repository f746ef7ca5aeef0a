"""Drive a coroutine inside a given ``contextvars.Context`` without creating a task for it.

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
    context: contextvars.Context, coro: Coroutine[Any, Any, T], yielded: Any
) -> Generator[Any, Any, T]:
    """``await in_context(ctx, coro, yielded)`` drives ``coro`` on, with ``ctx`` as its
    context, after its first step (run by the caller, in ``ctx``) yielded ``yielded``.

    The caller runs the first step itself so that a coroutine that finishes without waiting,
    the common case for short jobs, never needs this driver.
    """
    run = context.run
    send, throw = coro.send, coro.throw
    while True:
        try:
            value = yield yielded
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - delivered into the coroutine
            try:
                yielded = run(throw, exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            continue
        try:
            yielded = run(send, value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


async def run_in(context: contextvars.Context, coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` with ``context`` as its context (no task is created for it)."""
    try:
        first = context.run(coro.send, None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    return await in_context(context, coro, first)
