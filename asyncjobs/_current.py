"""Which runner ``job.submit()`` goes to: the current runner.

That is the runner running the job the caller is in, else the runner whose ``async with``
block the caller is in; else the one runner started on the running event loop (a runner
entered in a web app's lifespan, seen from its request handlers, which run in other tasks).
``JobRunner`` enters itself here as it starts and leaves as it stops.
"""

from __future__ import annotations

import contextvars

from ._errors import RunnerNotRunning
from ._handle import Runner, current_job_var
from ._spawn import current_loop

current_runner_var: contextvars.ContextVar[Runner | None] = contextvars.ContextVar(
    "asyncjobs_current_runner", default=None
)
"""The runner whose ``async with`` block this context is in."""

# Runners started and not yet stopped, with the event loop each runs on.
_live: list[tuple[Runner, object]] = []


def started(runner: Runner, loop: object) -> None:
    """``runner`` started on ``loop``: it may be found from that loop's other tasks."""
    _forget_runners_of_closed_loops()
    _live.append((runner, loop))


def stopped(runner: Runner) -> None:
    for entry in tuple(_live):
        if entry[0] is runner and entry in _live:
            _live.remove(entry)


def _forget_runners_of_closed_loops() -> None:
    """Drop runners whose asyncio loop has closed with their block still open (the loop
    was torn down around them): they can never be current again."""
    for entry in tuple(_live):
        is_closed = getattr(entry[1], "is_closed", None)
        if is_closed is not None and is_closed() and entry in _live:
            _live.remove(entry)


def find() -> Runner:
    """The current runner; ``RunnerNotRunning`` if there is none, or if several run on
    this event loop and none is the caller's."""
    job = current_job_var.get()
    if job is not None:  # in a job: the runner running it, whoever submitted it
        return job._engine.runner  # the engine's own slot of the handle
    runner = current_runner_var.get()
    if runner is not None:
        return runner
    loop = current_loop()
    # A tuple first: one C call, so another thread's runner starting or stopping meanwhile
    # cannot shift this loop's runner past the scan.
    found = [runner for runner, on in tuple(_live) if on is loop]
    if len(found) == 1:
        return found[0]
    if not found:
        raise RunnerNotRunning(
            "no current runner: no JobRunner is running on this event loop. Submit inside "
            "'async with JobRunner() as runner:' (or a web app's lifespan that enters one), "
            "from a running job, or with runner.submit(...)"
        )
    raise RunnerNotRunning(
        f"no current runner: {len(found)} JobRunners are running on this event loop and "
        "the caller is in none of their blocks; submit with runner.submit(...)"
    )
