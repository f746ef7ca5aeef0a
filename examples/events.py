"""The event bus and job middleware: an app event fans out into jobs, and hooks watch them.

Publishing a ``post.published`` event makes three subscribers each enqueue a job (index,
feed, notify). Bus middleware logs, recovers and counts deliveries; a subscriber that
raises is isolated. Job middleware times every run and turns away notifications for muted
users with ``SkipJob``. A ``job.*`` subscriber counts lifecycle events as they happen.
"""

import asyncio
from collections import Counter
from typing import Any, ClassVar

import attrs

from asyncjobs import (
    EventBus,
    JobHandle,
    JobMiddleware,
    JobRejected,
    JobRunner,
    MetricsMiddleware,
    RecoveryMiddleware,
    SkipJob,
    job,
)


@attrs.frozen
class PostPublished:
    topic: ClassVar[str] = "post.published"

    post_id: int
    author: str


@job
async def index_post(post_id: int) -> str:
    await asyncio.sleep(0.005)
    return f"indexed post {post_id}"


@job
async def update_feed(post_id: int) -> str:
    return f"feed has post {post_id}"


@job
async def notify_followers(author: str, post_id: int) -> str:
    return f"told {author}'s followers about post {post_id}"


class Timing(JobMiddleware):
    """Counts runs by job name and adds up their time."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self._started: dict[str, float] = {}

    async def before_run(self, handle: JobHandle[Any]) -> None:
        self._started[handle.id] = asyncio.get_running_loop().time()

    async def after_run(self, handle: JobHandle[Any], result: Any, error: Any) -> None:
        name = handle.name.rsplit(".", 1)[-1]
        self.runs[name] += 1
        self.seconds[name] += asyncio.get_running_loop().time() - self._started.pop(handle.id)


class MutedAuthors(JobMiddleware):
    """Notifications for muted authors are turned away before they are queued."""

    def __init__(self, muted: set[str]) -> None:
        self.muted = muted

    async def before_submit(self, handle: JobHandle[Any]) -> None:
        if handle.name.endswith("notify_followers") and handle.record().args[0] in self.muted:
            raise SkipJob(f"author {handle.record().args[0]!r} is muted")


async def main() -> None:
    metrics = MetricsMiddleware()
    recovery = RecoveryMiddleware()
    timing = Timing()
    async with (
        EventBus(middleware=[recovery, metrics]) as bus,
        JobRunner(bus=bus, middleware=[timing, MutedAuthors({"spammer"})]) as runner,
    ):
        handles: list[JobHandle[Any]] = []
        lifecycle: Counter[str] = Counter()
        bus.subscribe("job.*", lambda event: lifecycle.update([event.topic]))

        @bus.on("post.published")
        async def enqueue_index(event: PostPublished) -> None:
            handles.append(await runner.submit(index_post, event.post_id))

        @bus.on("post.published")
        async def enqueue_feed(event: PostPublished) -> None:
            handles.append(await runner.submit(update_feed, event.post_id))

        @bus.on("post.*")
        async def enqueue_notify(event: PostPublished) -> None:
            handles.append(await runner.submit(notify_followers, event.author, event.post_id))

        @bus.on("post.published")
        def broken_subscriber(event: PostPublished) -> None:
            raise RuntimeError("this subscriber has a bug")

        await bus.publish(PostPublished(post_id=1, author="ada"))
        await bus.publish(PostPublished(post_id=2, author="spammer"))
        for handle in handles:
            try:
                print(await handle)
            except JobRejected as rejected:
                print(f"rejected: {rejected}")
    # Closing the bus (after the runner) delivered the lifecycle events still buffered.
    delivered = metrics.metrics()["post.published"]
    print(f"post.published: {delivered.delivered} deliveries, {delivered.failed} raised")
    print(f"recovered from {recovery.recovered} raising subscriber calls")
    print(f"runs by job: {dict(sorted(timing.runs.items()))}")
    print(f"index_post took {timing.seconds['index_post'] / 2 * 1000:.0f} ms a run (it sleeps 5)")
    print(f"lifecycle events: {dict(sorted(lifecycle.items()))}")


asyncio.run(main())
