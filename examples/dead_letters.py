"""Dead letters and unique jobs: an outage, the jobs it killed, and putting them back.

A webhook sender fails while its endpoint is down. Jobs whose retries run out become dead
letters: they are listed, one is inspected, and once the endpoint is back they are requeued
and succeed. A unique job shows that submitting the same work twice makes one job. Last,
the windowed statistics and what a purge and an expired record look like. Waits are tens of
milliseconds so the example finishes at once.
"""

import asyncio
import logging

from asyncjobs import FixedBackoff, JobRunner, ResultExpired, Retry, Unique, job

endpoint_up = False


@job(retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=0.01)))
async def send_webhook(order: int) -> str:
    if not endpoint_up:
        raise ConnectionError(f"hooks.example.com refused order {order}")
    return f"delivered order {order}"


@job(unique=Unique(key=lambda customer: f"invoice-{customer}"))
async def build_invoice(customer: str) -> str:
    await asyncio.sleep(0.01)
    return f"invoice for {customer}"


@job(retry=None)
async def parse(text: str) -> int:
    return int(text)


async def main() -> None:
    global endpoint_up
    async with JobRunner(result_ttl=3600, dead_letter_ttl=7 * 86400) as runner:
        # Unique: the second submit returns the first job's handle; nothing new is made.
        first = await runner.submit(build_invoice, "ada")
        second = await runner.submit(build_invoice, "ada")
        print("same job:", first is second, "->", await second)

        # An outage: three webhooks use up their two attempts and end as dead letters.
        handles = [await runner.submit(send_webhook, order) for order in (1, 2, 3)]
        bad = await runner.submit(parse, "not a number")
        for handle in [*handles, bad]:
            await handle.wait()
        dead = runner.dead_letters
        page = await dead.list(error="ConnectionError")
        print("dead letters from the outage:", len(page.records))
        record = await dead.get(handles[0].id)
        print(f"  {record.name.split('.')[-1]} {record.id}: {record.error}")
        print(f"  attempts: {record.attempts};", [a.outcome.value for a in record.history])
        print("  traceback ends with:", (record.traceback or "").strip().splitlines()[-1])

        # The endpoint is back: requeue the outage's dead letters, with a fresh retry budget.
        endpoint_up = True
        requeued = await dead.requeue_all(name=send_webhook.name)
        print("requeued:", sorted([await handle for handle in requeued]))
        print("left:", [r.error for r in (await dead.list()).records])

        stats = runner.job_statistics(window=60)
        webhooks = stats.by_name[send_webhook.name]
        print(
            f"last minute, webhooks: {webhooks.succeeded} succeeded, {webhooks.failed} failed, "
            f"{webhooks.retried} retried; overall success rate {stats.overall.success_rate:.0%}"
        )

        print("purged:", await dead.purge(name=parse.name))
        removed = await runner.cleanup(older_than=0)  # what result_ttl would do an hour on
        print("cleaned up:", removed, "finished records")
        try:
            await runner.get_job(first.id)
        except ResultExpired as exc:
            print("asked for an old result:", type(exc).__name__)


# Failing jobs log warnings with their tracebacks; this example prints its own summary.
logging.getLogger("asyncjobs").setLevel(logging.ERROR)
asyncio.run(main())
