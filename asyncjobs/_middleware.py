"""Job middleware: hooks around submitting and running jobs.

Subclass ``JobMiddleware`` and override the hooks you need (all are coroutines; the base
ones do nothing, and hooks left alone cost nothing). Give instances to
``JobRunner(middleware=[...])``.

Order: ``before_*`` hooks run in the order the middleware were given; ``after_*`` and
``on_*`` hooks run in reverse order, so the first middleware wraps all the others.

``on_end`` is the one hook that sees every job end, whatever the outcome (succeeded, failed,
cancelled, interrupted or rejected), exactly once per job, after the outcome is stored and
the handle resolved: metrics and tracing need nothing else.

Isolation: a hook that raises is logged and ignored; the job goes on as if the hook had
returned. The one exception on purpose is ``SkipJob``, raised from ``before_submit`` or
``before_run``: the job then ends ``rejected`` without running (``await handle`` raises
``JobRejected`` with the reason), and the remaining ``before_*`` hooks are not called.

``before_run`` and ``after_run`` run inside the job's own context, in the worker, so context
variables a ``before_run`` sets (a tracing span, a request id) are seen by the job and by
``after_run``, and by nothing else.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from . import _validation
from ._context import run_in
from ._errors import AsyncJobsError, InvalidOptionType
from ._escalation import cancelled_here
from ._faults import RepeatLog
from ._states import JobState

if TYPE_CHECKING:
    from ._handle import JobHandle

logger = logging.getLogger("asyncjobs")

Hook = Callable[..., Coroutine[Any, Any, None]]


class SkipJob(AsyncJobsError):
    """Raise from ``before_submit`` or ``before_run`` to reject the job on purpose: it ends
    ``rejected`` without running, and its handle raises ``JobRejected`` with this message."""


class JobMiddleware:
    """Base class of job middleware; every hook does nothing until overridden.

    A dead letter requeued by hand was submitted once already: it skips ``before_submit``
    and ``after_submit`` and goes straight to the run hooks."""

    async def before_submit(self, handle: JobHandle[Any]) -> None:
        """A job is about to be accepted (its record is built, not yet stored or queued).
        Raise ``SkipJob`` to reject it."""

    async def after_submit(self, handle: JobHandle[Any]) -> None:
        """A job was accepted: scheduled or queued."""

    async def before_run(self, handle: JobHandle[Any]) -> None:
        """A worker is about to start an attempt of the job. Raise ``SkipJob`` to reject it.
        Runs in the job's context."""

    async def after_run(
        self, handle: JobHandle[Any], result: Any, error: BaseException | None
    ) -> None:
        """An attempt ended: ``error`` is None if it returned ``result``. Runs in the job's
        context, before the outcome is recorded. Not called for an attempt that was
        stopped (cancelled, timed out or interrupted): ``on_end`` sees those."""

    async def on_retry(self, handle: JobHandle[Any], error: BaseException, delay: float) -> None:
        """An attempt failed with ``error``; the job runs again after ``delay`` seconds."""

    async def on_failure(self, handle: JobHandle[Any], error: BaseException) -> None:
        """The job failed for good (no retries left, or none allowed)."""

    async def on_dead_letter(self, handle: JobHandle[Any]) -> None:
        """The failed job's record is stored among the dead letters (after ``on_failure``)."""

    async def on_end(
        self, handle: JobHandle[Any], state: JobState, error: BaseException | None
    ) -> None:
        """The job ended: called once per job, whatever the outcome, ``state`` being the
        terminal one (``succeeded``, ``failed``, ``cancelled``, ``interrupted`` or
        ``rejected``) and ``error`` what ``await handle`` raises (None on success; the
        job's own exception, ``JobTimedOut``, ``JobCancelled``, ``JobInterrupted`` or
        ``JobRejected``). A retry is not an end (see ``on_retry``).

        Called after the outcome is stored and the handle resolved, and after every other
        hook of the job (``on_dead_letter`` included), in the task that ended the job (a
        worker, the canceller, the submitter, shutdown), not in the job's context. The
        record has the timings: ``handle.record()`` gives ``started_at`` (None if no
        attempt was under way) and ``finished_at``."""


_HOOKS = (
    "before_submit",
    "after_submit",
    "before_run",
    "after_run",
    "on_retry",
    "on_failure",
    "on_dead_letter",
    "on_end",
)


class MiddlewareChain:
    """The overridden hooks of a list of middleware, in calling order."""

    def __init__(self, middleware: Iterable[JobMiddleware], faults: RepeatLog) -> None:
        self._faults = faults
        items = _validation.collection("middleware", middleware)
        for item in items:
            if not isinstance(item, JobMiddleware):
                raise InvalidOptionType(
                    "middleware", item, "expected JobMiddleware instances (subclass it)"
                )
        hooks: dict[str, tuple[Hook, ...]] = {}
        for name in _HOOKS:
            base = getattr(JobMiddleware, name)
            found = tuple(
                getattr(item, name) for item in items if getattr(type(item), name) is not base
            )
            hooks[name] = found if name.startswith("before") else found[::-1]
        self.before_submit = hooks["before_submit"]
        self.after_submit = hooks["after_submit"]
        self.before_run = hooks["before_run"]
        self.after_run = hooks["after_run"]
        self.on_retry = hooks["on_retry"]
        self.on_failure = hooks["on_failure"]
        self.on_dead_letter = hooks["on_dead_letter"]
        self.on_end = hooks["on_end"]
        self.any = any(hooks.values())

    async def before(
        self,
        hooks: tuple[Hook, ...],
        handle: JobHandle[Any],
        context: contextvars.Context | None = None,
    ) -> SkipJob | None:
        """Call ``before_*`` hooks in order; the first ``SkipJob`` stops them and is
        returned."""
        for hook in hooks:
            try:
                if context is None:
                    await hook(handle)
                else:
                    await run_in(context, hook(handle))
            except SkipJob as skip:
                return skip
            except BaseException as exc:
                if cancelled_here(exc):
                    raise
                self._faults.callback_failed("job middleware", hook, exc, f"job {handle.id!r}")
        return None

    async def call(
        self,
        hooks: tuple[Hook, ...],
        handle: JobHandle[Any],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> None:
        """Call ``after_*``/``on_*`` hooks, each isolated."""
        for hook in hooks:
            try:
                if context is None:
                    await hook(handle, *args)
                else:
                    await run_in(context, hook(handle, *args))
            except BaseException as exc:
                if cancelled_here(exc):
                    raise
                self._faults.callback_failed("job middleware", hook, exc, f"job {handle.id!r}")
