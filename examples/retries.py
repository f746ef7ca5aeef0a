"""Retries: a flaky call that recovers, one that gives up, and one that names its own wait.

Each job prints what happened to it, attempt by attempt, from its record's history. The
waits are a few tens of milliseconds so the example finishes at once; real ones would be
seconds or minutes.
"""

import asyncio
import logging

from asyncjobs import (
    ExponentialBackoff,
    JobHandle,
    JobRunner,
    Retry,
    RetryAfter,
    SkipRetry,
    job,
)

calls: dict[str, int] = {}


def count(name: str) -> int:
    calls[name] = calls.get(name, 0) + 1
    return calls[name]


@job(retry=Retry(max_attempts=5, backoff=ExponentialBackoff(initial=0.01, cap=1, jitter="full")))
async def fetch_price(symbol: str) -> float:
    """Fails twice with a connection error, then answers."""
    if count("fetch") <= 2:
        raise ConnectionError(f"price service unreachable for {symbol}")
    return 101.5


@job(retry=Retry(max_attempts=5, give_up_on=(KeyError,)))
async def charge(account: str) -> None:
    """A closed account will not reopen by trying again: give up at once."""
    count("charge")
    if account.startswith("closed-"):
        raise SkipRetry(f"account {account} is closed")


@job(retry=Retry(max_attempts=3))
async def call_rate_limited_api() -> str:
    """The API said when to come back: wait exactly that long."""
    if count("api") == 1:
        raise RetryAfter(0.05, "rate limited; retry in 50 ms")
    return "200 OK"


async def report(handle: JobHandle[object]) -> None:
    try:
        outcome = f"result {await handle!r}"
    except Exception as exc:  # noqa: BLE001 - the example prints every outcome
        outcome = f"gave up: {type(exc).__name__}: {exc}"
    record = handle.record()
    print(f"{record.name.split('.')[-1]}: {outcome}, after {record.attempts} attempt(s)")
    for attempt in record.history:
        start = attempt.started_at - record.created_at
        line = f"  #{attempt.number} at +{start:.3f}s: {attempt.outcome.value}"
        print(f"{line} {attempt.error or ''}".rstrip())


async def main() -> None:
    async with JobRunner() as runner:
        handles = [
            await runner.submit(fetch_price, "ACME"),
            await runner.submit(charge, "closed-42"),
            await runner.submit(call_rate_limited_api),
        ]
        for handle in handles:
            await report(handle)
        print("retried attempts:", runner.queue_statistics()["default"].retried)


# A job that fails for good logs a warning with its traceback; this example prints its own.
logging.getLogger("asyncjobs").setLevel(logging.ERROR)
asyncio.run(main())
