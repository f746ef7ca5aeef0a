"""Runners sharing one backend: jobs wait in it, any runner with a free worker runs them, and
outcomes, cancels, unique keys and bounds hold across runners.

Two runners on one ``MemoryBackend`` in one process stand in for two processes on a shared
backend (they meet only through the backend's protocol and its channel); the ``encoded``
backend shares no object with the engine at all.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.lowlevel
import pytest

from asyncjobs import (
    Decision,
    FixedBackoff,
    FullQueue,
    FullQueuePolicy,
    InvalidOption,
    JobCancelled,
    JobDefinition,
    JobHandle,
    JobInterrupted,
    JobRecord,
    JobRejected,
    JobRunner,
    JobState,
    JobSubmitted,
    JobTimedOut,
    QueueConfig,
    QueueFull,
    RemoteJobError,
    ResultExpired,
    Retry,
    UnencodablePayload,
    Unique,
    current_runner,
    job,
    report_progress,
)
from asyncjobs.abc import Backend, JobEnded
from asyncjobs.storage import MemoryBackend
from asyncjobs.testing import FakeClock, run_until_idle

from .encoded_backend import EncodedBackend

pytestmark = pytest.mark.anyio

BACKENDS: dict[str, Callable[[FakeClock | None], Backend]] = {
    "memory": lambda clock: MemoryBackend(clock=clock),
    "encoded": lambda clock: EncodedBackend(clock=clock),
}


@pytest.fixture(params=sorted(BACKENDS))
def make_backend(request: pytest.FixtureRequest) -> Callable[[FakeClock | None], Backend]:
    return BACKENDS[request.param]


ran_in: dict[str, str] = {}  # job tag -> the name of the runner that ran it
gates: dict[str, anyio.Event] = {}
started: dict[str, anyio.Event] = {}


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran_in.clear()
    gates.clear()
    started.clear()


def name_of(runner: JobRunner) -> str:
    return "a" if getattr(runner, "tag", None) == "a" else "b"


@job(name="test_shared.work")
async def work(tag: str, value: int) -> int:
    ran_in[tag] = name_of(current_runner())
    if tag in started:
        started[tag].set()
    if tag in gates:
        await gates[tag].wait()
    return value * 2


@job(name="test_shared.broken")
async def broken() -> None:
    raise ValueError("broken in the other runner")


async def occupy(a: JobRunner, b: JobRunner) -> tuple[JobRunner, JobHandle[int]]:
    """Fill one runner's only worker with a held job: that runner, and the job's handle.
    A job the busy runner submits next can only run in the other one."""
    gates["hold"], started["hold"] = anyio.Event(), anyio.Event()
    held = await a.submit(work, "hold", 0)
    await started["hold"].wait()
    return (a if ran_in["hold"] == "a" else b), held


def runner(backend: Backend, tag: str, **options: object) -> JobRunner:
    made = JobRunner(store=backend, queues={"default": 1}, **options)  # type: ignore[arg-type]
    made.tag = tag  # type: ignore[attr-defined]
    return made


async def test_a_job_waits_for_whichever_runner_is_free(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    with anyio.fail_after(10):
        async with runner(backend, "a") as a, runner(backend, "b") as b:
            busy, held = await occupy(a, b)
            handle = await busy.submit(work, "next", 21)
            assert await handle == 42
            assert ran_in["next"] != ran_in["hold"]  # the free runner ran it
            gates["hold"].set()
            assert await held == 0
            stored = await backend.get(handle.id)
            assert (stored.state, stored.result, stored.attempts) == (JobState.SUCCEEDED, 42, 1)


async def test_a_failure_elsewhere_reaches_the_submitter(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    with anyio.fail_after(10):
        async with runner(backend, "a") as a, runner(backend, "b") as b:
            busy, held = await occupy(a, b)
            handle = await busy.submit(broken)
            with pytest.raises(RemoteJobError, match="ValueError: broken in the other runner"):
                await handle
            assert handle.state is JobState.FAILED
            assert "Traceback" in ((await busy.get_job(handle.id)).traceback or "")
            gates["hold"].set()
            await held


async def test_cancel_reaches_the_runner_running_the_job(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    gates["forever"], started["forever"] = anyio.Event(), anyio.Event()
    with anyio.fail_after(10):
        async with runner(backend, "a") as a, runner(backend, "b") as b:
            busy, held = await occupy(a, b)
            forever = await busy.submit(work, "forever", 1)
            await started["forever"].wait()  # running in the other runner
            assert ran_in["forever"] != ran_in["hold"]
            assert await forever.cancel() is True
            with pytest.raises(JobCancelled, match="while running"):
                await forever
            assert (await backend.get(forever.id)).state is JobState.CANCELLED
            gates["hold"].set()
            await held


async def test_cancel_by_id_of_a_job_waiting_in_the_backend(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    with anyio.fail_after(10):
        async with runner(backend, "a") as a:
            later = await a.submit(work.with_options(delay=3600), "later", 1)
            assert await a.cancel(later.id) is True
            with pytest.raises(JobCancelled):
                await later
            assert (await backend.get(later.id)).state is JobState.CANCELLED
            assert await a.cancel(later.id) is False


async def test_unique_keys_hold_across_runners(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    unique_work = work.with_options(unique=Unique())
    gates["k"], started["k"] = anyio.Event(), anyio.Event()
    with anyio.fail_after(10):
        async with runner(backend, "a") as a, runner(backend, "b") as b:
            first = await a.submit(unique_work, "k", 5)
            again = await b.submit(unique_work, "k", 5)
            assert again.id == first.id
            await started["k"].wait()
            gates["k"].set()
            assert (await first, await again) == (10, 10)
            assert [r.id for r in (await backend.list()).records] == [first.id]


async def test_a_bound_holds_across_runners(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    queues = {"default": QueueConfig(concurrency=1, maxsize=1)}
    with anyio.fail_after(10):
        async with (
            JobRunner(store=backend, queues=queues) as a,
            JobRunner(store=backend, queues=queues) as b,
        ):
            waiting = await a.submit(work.with_options(delay=3600), "w", 1)
            with pytest.raises(QueueFull, match="'default'"):
                await b.submit(work.with_options(delay=3600), "x", 1)
            assert [r.id for r in (await backend.list()).records] == [waiting.id]


async def test_policies_that_act_on_local_jobs_are_refused_on_a_shared_backend() -> None:
    with pytest.raises(InvalidOption, match=r"queues\['default'\].on_full='caller_runs'"):
        JobRunner(
            store=MemoryBackend(),
            queues={"default": QueueConfig(maxsize=1, on_full="caller_runs")},
        )


def ended_event(backend: Backend) -> anyio.Event:
    """Set when the backend's channel says a job ended."""
    ended = anyio.Event()
    backend.listen(lambda message: ended.set() if isinstance(message, JobEnded) else None)
    return ended


async def test_shutdown_leaves_waiting_jobs_in_the_backend(clock: FakeClock) -> None:
    backend = MemoryBackend(clock=clock)
    with anyio.fail_after(10):
        async with JobRunner(store=backend, clock=clock) as first:
            later = await first.submit(work.with_options(delay=60), "later", 4)
        with pytest.raises(JobInterrupted, match="waits in the backend"):
            await later
        assert (await backend.get(later.id)).state is JobState.SCHEDULED
        ended = ended_event(backend)
        async with JobRunner(store=backend, clock=clock) as second:
            await clock.advance(60)
            await ended.wait()
            assert (await second.get_job(later.id)).result == 8


async def test_a_job_whose_runner_died_runs_again_after_its_lease(clock: FakeClock) -> None:
    backend = MemoryBackend(clock=clock)
    orphan = JobRecord(id="orphan", name="test_shared.work", queue="default", args=("orphan", 3))
    await backend.admit(orphan)
    # A runner took the job and died holding it: its lease is never renewed.
    await backend.acquire([("default", 1)], owner="dead", lease=10)
    ended = ended_event(backend)
    with anyio.fail_after(10):
        async with JobRunner(store=backend, clock=clock, lease_time=10):
            await clock.advance(10)
            await ended.wait()
    record = await backend.get("orphan")
    assert (record.state, record.result, record.attempts) == (JobState.SUCCEEDED, 6, 2)
    assert "lease of 'dead' ran out" in (record.retries[0].error or "")


async def test_the_encoded_backend_shares_no_object_with_the_engine() -> None:
    backend = EncodedBackend()
    payload = {"rows": [1, 2]}
    with anyio.fail_after(10):
        async with JobRunner(store=backend) as a:

            @job(name="test_shared.count_rows")
            async def count_rows(data: dict[str, list[int]]) -> int:
                return len(data["rows"])

            handle = await a.submit(count_rows, payload)
            payload["rows"].append(3)  # after submit: the stored job has its own copy
            assert await handle == 2
            assert backend.writes > 0
            with pytest.raises(UnencodablePayload) as caught:
                await a.submit(count_rows, {"rows": object()})
            assert caught.value.field == "args[0]['rows']"


@job(name="test_shared.tick")
async def tick(log: list[tuple[str, float]]) -> None:
    log.append((name_of(current_runner()), current_runner().clock.time()))


async def test_two_runners_fire_each_schedule_slot_once(clock: FakeClock) -> None:
    backend = MemoryBackend(clock=clock)
    log: list[tuple[str, float]] = []
    with anyio.fail_after(10):
        async with runner(backend, "a", clock=clock) as a:
            await a.schedules.add("tick", tick.call(log), "*/10 * * * * *")
            async with runner(backend, "b", clock=clock) as b:
                await clock.advance(60)
                await a.wait_idle()
                await b.wait_idle()
                stored = await backend.get_schedule("tick")
    start = clock.time() - 60
    assert sorted(t - start for _, t in log) == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert stored.runs == 6
    assert stored.last_slot_at == start + 60


@job(name="test_shared.unencodable_result")
async def unencodable_result() -> object:
    return {"when": object()}


async def test_a_result_a_backend_of_bytes_cannot_keep_fails_the_job() -> None:
    backend = EncodedBackend()
    with anyio.fail_after(10):
        async with JobRunner(store=backend) as a:
            handle = await a.submit(unencodable_result)
            with pytest.raises(UnencodablePayload) as caught:
                await handle
            assert caught.value.field == "result['when']"
            stored = await backend.get(handle.id)
            assert stored.state is JobState.FAILED
            assert "UnencodablePayload" in (stored.error or "")


failures: dict[str, int] = {}


@job(name="test_shared.fails_once")
async def fails_once(tag: str) -> str:
    ran_in[tag] = name_of(current_runner())
    failures[tag] = failures.get(tag, 0) + 1
    if failures[tag] == 1:
        raise ConnectionError(tag)
    return "ok"


async def test_the_submitters_retry_policy_holds_in_the_runner_that_runs_it(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    retried = fails_once.with_options(retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=0)))
    failures.clear()
    with anyio.fail_after(10):
        async with runner(backend, "a") as a, runner(backend, "b") as b:
            busy, held = await occupy(a, b)
            handle = await busy.submit(retried, "t")  # the registered job has no retries
            assert await handle == "ok"
            assert ran_in["t"] != ran_in["hold"]
            assert (await backend.get(handle.id)).attempts == 2
            gates["hold"].set()
            await held


def retried_once(delay: float) -> JobDefinition[[str], str]:
    """``fails_once`` retried once, ``delay`` seconds after its first attempt fails."""
    failures.clear()
    return fails_once.with_options(retry=Retry(max_attempts=2, backoff=FixedBackoff(delay=delay)))


async def test_a_retry_starts_when_it_is_due_not_at_the_next_poll(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    clock = FakeClock()
    backend = make_backend(clock)
    retried = retried_once(delay=0.5)
    with anyio.fail_after(10):
        async with runner(backend, "a", clock=clock, poll_interval=600) as a:
            await clock.advance(0)  # the runner's worker and feeder wait for work
            handle = await a.submit(retried, "due")
            await clock.advance(0.4)  # its first attempt failed; it waits for its retry
            assert failures["due"] == 1
            assert handle.state is JobState.SCHEDULED
            await clock.advance(0.1)
            assert await handle == "ok"
            assert failures["due"] == 2


async def test_run_until_idle_waits_for_what_waits_in_the_backend(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    clock = FakeClock()
    backend = make_backend(clock)
    retried = retried_once(delay=30)
    later = work.with_options(delay=60)
    with anyio.fail_after(10):
        async with runner(backend, "a", clock=clock) as a:
            handle = await a.submit(retried, "idle")
            delayed = await a.submit(later, "later", 4)
            await run_until_idle(a, clock)
            assert (handle.state, delayed.state) == (JobState.SUCCEEDED, JobState.SUCCEEDED)
            assert failures["idle"] == 2
            assert clock.monotonic() >= 60


async def test_a_backoff_a_backend_of_bytes_cannot_name_is_refused_at_submit() -> None:
    backend = EncodedBackend()
    with anyio.fail_after(10):
        async with JobRunner(store=backend) as a:
            unnamed = fails_once.with_options(retry=Retry(backoff=lambda attempt: 0.0))
            with pytest.raises(InvalidOption, match=r"retry\.backoff="):
                await a.submit(unnamed, "t")
            assert (await backend.list()).records == []


@job(name="test_shared.reports")
async def reports(tag: str) -> str:
    ran_in[tag] = name_of(current_runner())
    report_progress(percent=50, message="half")
    await gates[tag].wait()
    report_progress(percent=100, message="all")
    return "ok"


async def test_progress_reaches_the_submitter_from_the_runner_running_the_job(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    gates["p"] = anyio.Event()
    with anyio.fail_after(10):
        async with runner(backend, "a") as a, runner(backend, "b") as b:
            busy, held = await occupy(a, b)
            handle = await busy.submit(reports, "p")
            seen: list[tuple[float | None, str | None]] = []
            async for update in handle.progress():
                seen.append((update.percent, update.message))
                if update.percent == 50:
                    assert ran_in["p"] != ran_in["hold"]
                    gates["p"].set()
            assert seen == [(50, "half"), (100, "all")]
            assert await handle == "ok"
            gates["hold"].set()
            await held


class EvictNewest(FullQueuePolicy):
    """A policy of one's own: the newest waiting job makes room."""

    async def decide(self, full: FullQueue) -> Decision:
        waiting = full.waiting()
        return full.evict(waiting[-1], "the newest goes") if waiting else full.admit()


@pytest.mark.parametrize(
    ("policy", "dropped"), [("drop_oldest", "first"), (EvictNewest(), "second")]
)
async def test_a_full_queue_policy_picks_its_victim_among_the_jobs_in_the_backend(
    make_backend: Callable[[FakeClock | None], Backend], policy: object, dropped: str
) -> None:
    backend = make_backend(None)
    queues = {"default": QueueConfig(maxsize=2, on_full=policy)}  # type: ignore[arg-type]
    later = work.with_options(delay=3600)
    with anyio.fail_after(10):
        async with JobRunner(store=backend, queues=queues) as a:
            handles = {tag: await a.submit(later, tag, 1) for tag in ("first", "second")}
            third = await a.submit(later, "third", 1)
            with pytest.raises(JobRejected, match="was dropped"):
                await handles[dropped]
            assert (await backend.get(handles[dropped].id)).state is JobState.REJECTED
            kept = {tag: h for tag, h in handles.items() if tag != dropped}
            waiting = {h.id for h in (*kept.values(), third)}
            page = await backend.list(states={JobState.SCHEDULED})
            assert {record.id for record in page.records} == waiting


async def test_drop_newest_drops_the_new_job_on_a_shared_backend(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    queues = {"default": QueueConfig(maxsize=1, on_full="drop_newest")}
    later = work.with_options(delay=3600)
    with anyio.fail_after(10):
        async with JobRunner(store=backend, queues=queues) as a:
            first = await a.submit(later, "first", 1)
            second = await a.submit(later, "second", 1)
            with pytest.raises(JobRejected, match="drop_newest"):
                await second
            assert (await backend.get(first.id)).state is JobState.SCHEDULED


async def test_block_waits_for_room_in_the_backend(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    queues = {"default": QueueConfig(concurrency=1, maxsize=1, on_full="block")}
    gates["hold"], started["hold"] = anyio.Event(), anyio.Event()
    with anyio.fail_after(10):
        async with JobRunner(store=backend, queues=queues, poll_interval=0.01) as a:
            held = await a.submit(work, "hold", 0)
            await started["hold"].wait()  # the only worker is busy
            waiting = await a.submit(work, "waiting", 1)  # fills the queue's one place
            result: list[int] = []

            async def submit_blocked() -> None:
                result.append(await (await a.submit(work, "blocked", 2)))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(submit_blocked)
                gates["hold"].set()  # the waiting job starts: room for the blocked one
            assert result == [4]
            assert (await held, await waiting) == (0, 2)


async def test_a_cancel_just_after_the_job_was_taken_is_not_lost() -> None:
    backend = MemoryBackend()
    gates["slow"] = anyio.Event()  # never set: only a cancel ends it
    with anyio.fail_after(10):
        async with JobRunner(store=backend, queues={"default": 1}) as a:
            handle = await a.submit(work, "slow", 1)
            while (await backend.get(handle.id)).state is not JobState.RUNNING:
                await anyio.lowlevel.checkpoint()  # taken by the runner, maybe not started
            assert await handle.cancel() is True
            with pytest.raises(JobCancelled):
                await handle
            assert (await backend.get(handle.id)).state is JobState.CANCELLED


async def test_a_job_whose_record_is_gone_before_it_is_read_still_ends_its_handle() -> None:
    backend = MemoryBackend(max_finished=1)  # a second end pushes the first record out
    gates["j"] = anyio.Event()
    with anyio.fail_after(10):
        async with runner(backend, "a") as a, JobRunner(store=backend, queues={"default": 2}) as b:
            busy, held = await occupy(a, b)
            first = await busy.submit(work, "j", 1)
            second = await busy.submit(work, "j", 2)
            gates["j"].set()  # both end in the other runner, one right after the other
            outcomes = []
            for handle in (first, second):
                try:
                    outcomes.append(await handle)
                except ResultExpired:
                    outcomes.append("expired")
            assert sorted(map(str, outcomes)) in (["2", "4"], ["2", "expired"], ["4", "expired"])
            gates["hold"].set()
            await held


@job(name="test_shared.fails_until_told")
async def fails_until_told(tag: str) -> str:
    if tag not in started:
        raise LookupError(f"{tag} is not ready")
    return "ready"


async def test_a_dead_letter_is_requeued_through_the_backend(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    with anyio.fail_after(10):
        async with runner(backend, "a") as a, runner(backend, "b"):
            submitted: list[str] = []
            a.subscribe(lambda event: submitted.append(event.job_id), JobSubmitted)
            handle = await a.submit(fails_until_told, "d")
            with pytest.raises((LookupError, RemoteJobError), match="d is not ready"):
                await handle
            assert [r.id for r in (await a.dead_letters.list()).records] == [handle.id]
            started["d"] = anyio.Event()
            again = await a.dead_letters.requeue(handle.id)
            assert submitted == [handle.id, handle.id]  # submitted again, as on its own queues
            assert await again == "ready"
            # The first handle still tells the attempt it followed, whoever ran the job.
            assert (handle.state, handle.done()) == (JobState.FAILED, True)
            stored = await backend.get(handle.id)
            assert (stored.state, [a.outcome for a in stored.history]) == (
                JobState.SUCCEEDED,
                [JobState.FAILED, JobState.SUCCEEDED],
            )


async def test_requeue_all_through_a_backend_is_all_or_none(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    queues = {"default": QueueConfig(concurrency=1, maxsize=2)}
    with anyio.fail_after(10):
        async with JobRunner(store=backend, queues=queues) as a:
            for tag in "xyz":
                with pytest.raises((LookupError, RemoteJobError), match="is not ready"):
                    await (await a.submit(fails_until_told, tag))
            # Three dead letters, two places: none is requeued (one at a time, two would
            # have been, and the third refused).
            with pytest.raises(QueueFull, match="3 dead letters to requeue, 2 places free"):
                await a.dead_letters.requeue_all()
            dead = (await a.dead_letters.list()).records
            assert len(dead) == 3
            assert [(await backend.get(r.id)).state for r in dead] == [JobState.FAILED] * 3
            for tag in "xyz":
                started[tag] = anyio.Event()
            assert await (await a.dead_letters.requeue(dead[0].id)) == "ready"
            handles = await a.dead_letters.requeue_all()  # the two left fit
            assert sorted(h.id for h in handles) == sorted(r.id for r in dead[1:])
            assert [await handle for handle in handles] == ["ready", "ready"]
            assert (await a.dead_letters.list()).records == []


@job(name="test_shared.too_slow", timeout=0.01)
async def too_slow() -> None:
    await anyio.Event().wait()


async def test_a_timeout_holds_on_a_shared_backend(
    make_backend: Callable[[FakeClock | None], Backend],
) -> None:
    backend = make_backend(None)
    with anyio.fail_after(10):
        async with runner(backend, "a") as a:
            handle = await a.submit(too_slow)
            with pytest.raises(JobTimedOut):
                await handle
            assert (await backend.get(handle.id)).state is JobState.FAILED


async def test_schedules_on_a_backend_of_bytes_fire_and_refuse_what_it_cannot_keep(
    clock: FakeClock,
) -> None:
    backend = EncodedBackend(clock=clock)
    ended = ended_event(backend)
    with anyio.fail_after(10):
        async with JobRunner(store=backend, clock=clock) as a:
            unnamed = work.with_options(retry=Retry(backoff=lambda attempt: 0.0))
            with pytest.raises(InvalidOption, match=r"retry\.backoff="):
                await a.schedules.add("bad", unnamed.call("s", 1), "@hourly")
            await a.schedules.add("hourly", work.call("s", 21), "@hourly")
            await clock.advance(3600)
            await ended.wait()
        stored = await backend.get_schedule("hourly")
        assert stored.runs == 1
        assert stored.last_job_id is not None
        assert (await backend.get(stored.last_job_id)).result == 42
        assert [s.name for s in await backend.list_schedules()] == ["hourly"]


picked: list[str] = []  # queues, in the order their jobs ran


@job(name="test_shared.noted")
async def noted(queue: str) -> None:
    picked.append(queue)


@pytest.mark.parametrize("selection", ["strict", "weighted"])
async def test_one_worker_serves_every_queue_by_its_selection(
    make_backend: Callable[[FakeClock | None], Backend], selection: str
) -> None:
    """One free slot and three queues: the backend is asked for a job from each, one in
    all, so a job in any queue runs; weighted shares hold while every queue has work."""
    backend = make_backend(None)
    weights = {"critical": 6, "default": 3, "low": 1}
    queues = {name: QueueConfig(weight=weight) for name, weight in weights.items()}
    log = picked
    log.clear()
    with anyio.fail_after(10):
        async with JobRunner(
            store=backend, queues=queues, max_workers=1, selection=selection
        ) as runner:
            assert await (await runner.submit(noted.with_options(queue="low"), "low")) is None
            log.clear()
            gates["hold"] = anyio.Event()
            started["hold"] = anyio.Event()
            held = await runner.submit(work.with_options(queue="low"), "hold", 0)
            await started["hold"].wait()
            handles = [
                await runner.submit(noted.with_options(queue=name), name)
                for name in weights
                for _ in range(20)
            ]
            gates["hold"].set()
            await held
            for handle in handles:
                await handle
    if selection == "strict":
        assert log == ["critical"] * 20 + ["default"] * 20 + ["low"] * 20
    else:
        for start in range(0, 20, 10):  # while every queue has work: 6/3/1 in each ten
            window = log[start : start + 10]
            assert [window.count(name) for name in weights] == [6, 3, 1]


@pytest.mark.parametrize("delay", [1e-6, 5e-324])
async def test_a_delay_below_the_timestamps_resolution_never_starts_early(
    make_backend: Callable[[FakeClock | None], Backend], delay: float
) -> None:
    """The backend keeps due times as epoch seconds, whose resolution is a few tenths of a
    microsecond: a tiny delay is rounded up to the next such time, never down."""
    clock = FakeClock()
    log = picked
    log.clear()
    async with JobRunner(store=make_backend(clock), clock=clock) as shared:
        with anyio.fail_after(5):
            handle = await shared.submit(noted.with_options(delay=delay), "late enough")
            record = handle.record()
            assert record.scheduled_for is not None
            assert record.scheduled_for - record.created_at >= delay
            await run_until_idle(shared, clock)
            await handle
    assert log == ["late enough"]
    assert clock.monotonic() >= delay
