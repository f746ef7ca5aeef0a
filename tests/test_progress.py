"""Progress: reporting from a job, following it, late followers, bounded buffers, callbacks."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from asyncjobs import (
    InvalidOption,
    InvalidOptionType,
    JobEvent,
    JobProgressed,
    JobRunner,
    NotInJob,
    Progress,
    current_job,
    job,
    report_progress,
)
from asyncjobs.testing import FakeClock

pytestmark = pytest.mark.anyio


class Gate:
    """Lets a test step a job along: the job waits at ``step()`` until the test ``opens``."""

    def __init__(self) -> None:
        self.waiting = anyio.Event()
        self.go = anyio.Event()

    async def step(self) -> None:
        self.waiting.set()
        await self.go.wait()
        self.go = anyio.Event()

    async def open(self) -> None:
        await self.waiting.wait()
        self.waiting = anyio.Event()
        self.go.set()


def stepped_job(gate: Gate, steps: int) -> Any:
    @job(name=f"tests.progress.stepped{steps}")
    async def stepped() -> str:
        for i in range(1, steps + 1):
            await gate.step()
            report_progress(done=i, total=steps, step=f"part {i}")
        return "done"

    return stepped


async def test_follower_sees_each_update_as_it_happens_and_ends_with_the_job() -> None:
    gate = Gate()
    stepped = stepped_job(gate, 3)
    seen: list[Progress] = []
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(stepped)
            follower = handle.progress()
            for _ in range(3):
                await gate.open()
                seen.append(await follower.__anext__())  # each one before the next is made
            rest = [update async for update in follower]
            assert await handle == "done"
    assert rest == []
    assert [(u.done, u.total, u.step, u.sequence) for u in seen] == [
        (1, 3, "part 1", 1),
        (2, 3, "part 2", 2),
        (3, 3, "part 3", 3),
    ]
    assert [u.percent for u in seen] == pytest.approx([100 / 3, 200 / 3, 100.0])
    assert handle.latest_progress() == seen[-1]


async def test_latest_value_is_on_the_handle_and_the_record() -> None:
    gate = Gate()
    stepped = stepped_job(gate, 2)
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(stepped)
            assert handle.latest_progress() is None
            await gate.open()
            await gate.waiting.wait()  # the job reported part 1 and waits at step 2
            latest = handle.latest_progress()
            assert latest is not None
            assert (latest.done, latest.step) == (1, "part 1")
            assert (await runner.get_job(handle.id)).progress == latest
            await gate.open()
            await handle
    final = handle.latest_progress()
    assert final is not None
    assert final.done == 2


async def test_late_follower_first_gets_the_latest_value() -> None:
    gate = Gate()
    stepped = stepped_job(gate, 3)
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(stepped)
            await gate.open()
            await gate.open()
            await gate.waiting.wait()  # two reports made, nobody following
            follower = handle.progress()
            first = await follower.__anext__()
            await gate.open()
            rest = [update.done async for update in follower]
    assert (first.done, first.sequence) == (2, 2)
    assert rest == [3]


async def test_follower_of_a_finished_job_gets_the_last_value_then_ends() -> None:
    @job(name="tests.progress.quick")
    async def quick() -> None:
        report_progress(50, "half")
        report_progress(message="all")

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(quick)
            await handle
            updates = [u async for u in handle.progress()]
    assert [(u.percent, u.message, u.sequence) for u in updates] == [(50.0, "all", 2)]


async def test_slow_follower_keeps_the_latest_and_never_slows_the_job() -> None:
    gate = Gate()

    @job(name="tests.progress.hold")
    async def hold() -> None:
        await gate.step()

    @job(name="tests.progress.burst")
    async def burst(n: int) -> int:
        for i in range(1, n + 1):
            report_progress(done=i, total=n)  # no await: the follower cannot keep up
        return n

    async with JobRunner(queues={"default": 1}) as runner:
        with anyio.fail_after(5):
            blocker = await runner.submit(hold)  # holds the only worker
            handle = await runner.submit(burst, 1000)
            follower = handle.progress(buffer=4)  # following before the job starts
            await gate.open()
            await blocker
            assert await handle == 1000
            got = [(u.done, u.sequence) async for u in follower]
    assert got == [(997, 997), (998, 998), (999, 999), (1000, 1000)]


async def test_callbacks_per_job_isolated_and_unsubscribable() -> None:
    gate = Gate()
    stepped = stepped_job(gate, 3)
    calls: list[int | None] = []

    def faulty(update: Progress) -> None:
        raise RuntimeError("callback bug")

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(stepped)
            handle.on_progress(faulty)
            subscription = handle.on_progress(lambda u: calls.append(u.done))
            await gate.open()
            await gate.waiting.wait()
            subscription.unsubscribe()
            subscription.unsubscribe()  # twice is harmless
            await gate.open()
            await gate.open()
            assert await handle == "done"  # the raising callback changed nothing
    assert calls == [1]


async def test_callback_as_context_manager() -> None:
    gate = Gate()
    stepped = stepped_job(gate, 2)
    calls: list[int | None] = []
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(stepped)
            with handle.on_progress(lambda u: calls.append(u.done)):
                await gate.open()
                await gate.waiting.wait()
            await gate.open()
            await handle
    assert calls == [1]


async def test_progress_events_on_the_bus_and_to_listeners() -> None:
    @job(name="tests.progress.evented")
    async def evented() -> None:
        report_progress(10)
        report_progress(20)

    listened: list[float | None] = []
    bused: list[float | None] = []

    def listen(event: JobEvent) -> None:
        assert isinstance(event, JobProgressed)
        listened.append(event.progress.percent)

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            runner.subscribe(listen, JobProgressed)
            done = anyio.Event()

            async def on_bus(event: JobProgressed) -> None:
                bused.append(event.progress.percent)
                if len(bused) == 2:
                    done.set()

            runner.bus.subscribe("job.progress", on_bus)
            await (await runner.submit(evented))
            await done.wait()
    assert listened == [10.0, 20.0]
    assert bused == [10.0, 20.0]


async def test_fields_merge_and_percent_follows_done_and_total() -> None:
    @job(name="tests.progress.merge")
    async def merge() -> list[Progress]:
        return [
            report_progress(message="starting"),
            report_progress(step="download", done=0, total=4),
            report_progress(done=1),
            report_progress(37.5),
            report_progress(message="still going"),
            report_progress(done=4, total=4),
        ]

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            updates = await (await runner.submit(merge))
    assert [(u.percent, u.message, u.step, u.done, u.total) for u in updates] == [
        (None, "starting", None, None, None),
        (0.0, "starting", "download", 0, 4),
        (25.0, "starting", "download", 1, 4),
        (37.5, "starting", "download", 1, 4),
        (37.5, "still going", "download", 1, 4),
        (100.0, "still going", "download", 4, 4),
    ]


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"percent": 101}, InvalidOption, "percent"),
        ({"percent": -1}, InvalidOption, "percent"),
        ({"percent": float("nan")}, InvalidOption, "percent"),
        ({"percent": True}, InvalidOptionType, "percent"),
        ({"percent": "50"}, InvalidOptionType, "percent"),
        ({"message": 5}, InvalidOptionType, "message"),
        ({"step": b"x"}, InvalidOptionType, "step"),
        ({"done": -1}, InvalidOption, "done"),
        ({"done": 1.5}, InvalidOptionType, "done"),
        ({"total": -2}, InvalidOption, "total"),
        ({"done": 5, "total": 4}, InvalidOption, "done"),
        ({}, InvalidOption, "percent"),
    ],
)
async def test_bad_reports_are_refused_naming_the_field(
    kwargs: dict[str, Any], error: type[Exception], field: str
) -> None:
    @job(name="tests.progress.bad")
    async def bad() -> Progress | None:
        report_progress(10, "kept")
        with pytest.raises(error) as caught:
            report_progress(**kwargs)
        assert isinstance(caught.value, InvalidOption)
        assert caught.value.field == field
        handle = current_job()
        assert handle is not None
        return handle.latest_progress()

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            latest = await (await runner.submit(bad))
    assert latest is not None
    assert (latest.percent, latest.message, latest.sequence) == (
        10.0,
        "kept",
        1,
    )


async def test_report_outside_a_job_raises() -> None:
    with pytest.raises(NotInJob, match="outside a job"):
        report_progress(5)


async def test_report_after_the_job_ended_raises() -> None:
    handles: list[Any] = []

    @job(name="tests.progress.leaky")
    async def leaky() -> None:
        handles.append(current_job())

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            await (await runner.submit(leaky))
            handle = handles[0]
            with pytest.raises(NotInJob, match="has ended"):
                handle.report_progress(5, None, None, None, None)


async def test_sync_job_reports_from_its_thread() -> None:
    @job(name="tests.progress.threaded")
    def threaded(n: int) -> int:
        for i in range(1, n + 1):
            report_progress(done=i, total=n)
        return n

    async with JobRunner() as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(threaded, 3)
            updates = handle.progress(buffer=10)
            assert await handle == 3
            got = [u.done async for u in updates]
    assert got == [1, 2, 3]


async def test_follower_closed_early_detaches(clock: FakeClock) -> None:
    gate = Gate()
    stepped = stepped_job(gate, 2)
    async with JobRunner(clock=clock) as runner:
        with anyio.fail_after(5):
            handle = await runner.submit(stepped)
            async with handle.progress() as follower:
                await gate.open()
                first = await follower.__anext__()
            assert handle._progress is not None
            assert not handle._progress.followers
            await gate.open()
            await handle
            assert [u async for u in follower] == []
    assert first.done == 1
    assert first.timestamp == clock.time()


async def test_bad_buffer_and_callback_are_refused() -> None:
    async with JobRunner() as runner:
        with anyio.fail_after(5):
            gate = Gate()
            handle = await runner.submit(stepped_job(gate, 1))
            with pytest.raises(InvalidOption, match="buffer"):
                handle.progress(buffer=0)
            with pytest.raises(InvalidOptionType, match="callback"):
                handle.on_progress("not callable")  # type: ignore[arg-type]
            await gate.open()
            await handle
