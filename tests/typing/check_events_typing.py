"""Checked by ``mypy --strict`` only (never run): progress, the bus and middleware are typed.

Lines marked ``type: ignore[...]`` must be errors (``warn_unused_ignores`` checks that).
"""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from asyncjobs import (
    BusSubscription,
    Delivery,
    EventBus,
    JobHandle,
    JobMiddleware,
    JobRunner,
    Progress,
    ProgressFollower,
    ProgressSubscription,
    report_progress,
)


async def check(runner: JobRunner, handle: JobHandle[int]) -> None:
    assert_type(report_progress(50, "half", done=1, total=2, step="x"), Progress)
    report_progress(percent="half")  # type: ignore[arg-type]
    assert_type(handle.latest_progress(), Progress | None)
    follower = assert_type(handle.progress(buffer=4), ProgressFollower)
    async for update in follower:
        assert_type(update, Progress)
        assert_type(update.percent, float | None)
    assert_type(handle.on_progress(lambda update: None), ProgressSubscription)

    bus = assert_type(runner.bus, EventBus)
    assert_type(bus.subscribe("job.*", lambda event: None), BusSubscription)
    await bus.publish(object(), topic="app.thing")
    bus.publish_nowait(object(), topic="app.thing")

    async def middleware(delivery: Delivery, call_next: Any) -> None:
        await call_next(delivery)

    EventBus(middleware=[middleware])


class Hooks(JobMiddleware):
    async def after_run(
        self, handle: JobHandle[Any], result: Any, error: BaseException | None
    ) -> None:
        pass


JobRunner(middleware=[Hooks()])
