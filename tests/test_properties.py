"""Property: over random mixes of outcomes, limits hold and every job ends exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncjobs import (
    JobEnded,
    JobEvent,
    JobRunner,
    JobState,
    JobTimedOut,
    QueueConfig,
    QueueFull,
    RejectPolicy,
    job,
)
from asyncjobs.testing import FakeClock, run_until_idle

pytestmark = pytest.mark.anyio

KINDS = ("ok", "error", "cancel_early", "cancel_late", "timeout")

job_specs = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(KINDS), st.integers(-2, 2)),
    min_size=1,
    max_size=40,
)
queue_specs = st.lists(
    st.tuples(
        st.integers(1, 4),  # concurrency
        st.integers(1, 5),  # weight
        st.one_of(st.none(), st.integers(1, 6)),  # maxsize
        st.sampled_from(["raise", "drop_oldest", "drop_newest"]),  # policy when full
    ),
    min_size=1,
    max_size=3,
)


class Tracker:
    def __init__(self, limits: dict[str, int], max_workers: int) -> None:
        self.limits = limits
        self.max_workers = max_workers
        self.running: Counter[str] = Counter()
        self.violations: list[str] = []

    def enter(self, queue: str) -> None:
        self.running[queue] += 1
        if self.running[queue] > self.limits[queue]:
            self.violations.append(f"{queue}: {self.running[queue]} > {self.limits[queue]}")
        if sum(self.running.values()) > self.max_workers:
            self.violations.append(f"total {sum(self.running.values())} > {self.max_workers}")

    def leave(self, queue: str) -> None:
        self.running[queue] -= 1


class Failure(Exception):
    pass


@job
async def mixed(tracker: Tracker, queue: str, kind: str) -> str:
    tracker.enter(queue)
    try:
        await anyio.lowlevel.checkpoint()
        if kind == "error":
            raise Failure(kind)
        if kind in ("timeout", "cancel_late", "cancel_early"):
            await anyio.sleep_forever()
        return kind
    finally:
        tracker.leave(queue)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    queues=queue_specs,
    max_workers=st.integers(1, 6),
    weighted=st.booleans(),
    specs=job_specs,
)
async def test_limits_hold_and_every_job_ends_exactly_once(
    queues: list[tuple[int, int, int | None, str]],
    max_workers: int,
    weighted: bool,
    specs: list[Any],
) -> None:
    names = [f"q{i}" for i in range(len(queues))]
    configs = {
        n: QueueConfig(concurrency=c, weight=w, maxsize=m, on_full=p)
        for n, (c, w, m, p) in zip(names, queues, strict=True)
    }
    tracker = Tracker({n: c for n, (c, *_) in zip(names, queues, strict=True)}, max_workers)
    refused = 0
    clock = FakeClock()
    endings: Counter[str] = Counter()

    def on_end(event: JobEvent) -> None:
        endings[event.job_id] += 1

    runner = JobRunner(
        queues=configs,
        max_workers=max_workers,
        selection="weighted" if weighted else "strict",
        clock=clock,
    )
    with anyio.fail_after(20):
        async with runner:
            runner.subscribe(on_end, JobEnded)
            submitted = []
            for queue_index, kind, priority in specs:
                queue = names[queue_index % len(names)]
                definition = mixed.with_options(
                    queue=queue, priority=priority, timeout=1 if kind == "timeout" else None
                )
                try:
                    handle = await runner.submit(definition, tracker, queue, kind)
                except QueueFull:
                    refused += 1
                    continue
                submitted.append((handle, kind))
                if kind == "cancel_early" and not handle.done():
                    assert await handle.cancel() is True
            await anyio.wait_all_tasks_blocked()
            for handle, kind in submitted:
                if kind == "cancel_late" and not handle.done():
                    assert await handle.cancel() is True
            await run_until_idle(runner, clock, settle=0)  # timeouts pass

            assert tracker.violations == []
            expected = {
                "ok": JobState.SUCCEEDED,
                "error": JobState.FAILED,
                "timeout": JobState.FAILED,
                "cancel_early": JobState.CANCELLED,
                "cancel_late": JobState.CANCELLED,
            }
            for handle, kind in submitted:
                assert handle.done()
                if handle.state is JobState.REJECTED:
                    policy = configs[handle.queue].on_full
                    assert policy in (RejectPolicy.DROP_OLDEST, RejectPolicy.DROP_NEWEST)
                    continue
                assert handle.state is expected[kind], (kind, handle)
                if kind == "timeout":
                    with pytest.raises(JobTimedOut):
                        await handle
            assert all(endings[h.id] == 1 for h, _ in submitted)
            assert sum(endings.values()) == len(submitted)
            # Every permit is back.
            pool = runner.pool_statistics()
            assert (pool.running, pool.waiting, pool.scheduled) == (0, 0, 0)
            assert pool.idle == max_workers
            for stats in runner.queue_statistics().values():
                assert (stats.running, stats.size) == (0, 0)
            started = sum(1 for h, _ in submitted if h.record().started_at is not None)
            all_stats = runner.queue_statistics().values()
            assert sum(s.dequeued for s in all_stats) == started
            assert sum(s.processed for s in all_stats) == started
            rejected = sum(1 for h, _ in submitted if h.state is JobState.REJECTED)
            assert sum(s.rejected for s in all_stats) == rejected + refused
            assert sum(s.enqueued for s in all_stats) == len(submitted) - sum(
                1
                for h, _ in submitted
                if h.state is JobState.REJECTED
                and h.record().attempts == 0
                and _dropped_on_arrival(h, configs)
            )
    assert runner.state.value == "stopped"
    assert sum(tracker.running.values()) == 0


def _dropped_on_arrival(handle: Any, configs: dict[str, QueueConfig]) -> bool:
    return configs[handle.queue].on_full is RejectPolicy.DROP_NEWEST
