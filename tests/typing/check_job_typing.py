"""Checked by ``mypy --strict`` only (never run): ``@job`` keeps signatures and result types.

Lines marked ``type: ignore[...]`` must be errors: with ``warn_unused_ignores`` (part of
``--strict``) mypy fails if any of them stops being one.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from typing_extensions import assert_type

from asyncjobs import AsyncJob, JobCall, JobHandle, JobRunner, SyncJob, job


@job
async def fetch(url: str, *, retries: int = 3) -> bytes:
    return url.encode() * retries


@job(queue="reports", priority=5, timeout=30)
def total(values: list[int]) -> int:
    return sum(values)


async def plain(count: int) -> str:
    return "x" * count


def plain_sync(flag: bool) -> float:
    return 1.0 if flag else 0.0


async def check(runner: JobRunner) -> None:
    assert isinstance(fetch, AsyncJob)
    assert isinstance(total, SyncJob)

    # Still callable directly, with the original types.
    coro = assert_type(fetch("https://example.com"), Coroutine[Any, Any, bytes])
    coro.close()
    assert_type(total([1, 2]), int)

    # Handles are generic in the result.
    handle = await runner.submit(fetch, "https://example.com", retries=1)
    assert_type(handle, JobHandle[bytes])
    assert_type(await handle, bytes)
    assert_type(await handle.result(timeout=5), bytes)
    assert_type(await runner.submit(total, [1, 2, 3]), JobHandle[int])
    assert_type(await runner.submit(fetch.with_options(priority=9), "u"), JobHandle[bytes])
    assert_type(await fetch.submit("u"), JobHandle[bytes])
    assert_type(fetch.call("u"), JobCall[bytes])
    assert_type(await runner.submit(plain, 3), JobHandle[str])
    assert_type(await runner.submit(plain_sync, True), JobHandle[float])

    # Wrong arguments are type errors.
    await runner.submit(fetch, 42)  # type: ignore[call-overload]
    await runner.submit(fetch, "u", retries="3")  # type: ignore[arg-type]
    await runner.submit(total)  # type: ignore[call-overload]
    await fetch.submit("u", colour="red")  # type: ignore[call-arg]
    fetch.call()  # type: ignore[call-arg]
    await runner.submit(plain, "three")  # type: ignore[call-overload]
    total(["a"])  # type: ignore[list-item]
