"""``@job``: turn a function into a job definition that keeps its signature."""

from __future__ import annotations

import functools
import inspect
import math
import threading
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar, overload

import attrs

from . import _current, _validation
from ._errors import (
    DuplicateJobName,
    InvalidArguments,
    InvalidJob,
    InvalidOptionType,
)
from ._options import UNSET, JobOptions, make_options
from ._retry import Retry
from ._unique import Unique

if TYPE_CHECKING:
    from ._handle import JobHandle

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

_UNSET: Any = UNSET


def _qualified(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None) or "?"
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}.{qualname}"


def _unwrap_callable(fn: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def is_async_callable(fn: Callable[..., Any]) -> bool:
    """True for ``async def`` functions, partials of them and objects with an async __call__."""
    target = _unwrap_callable(fn)
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(target, "__call__", None)  # noqa: B004 - we want the method itself
    return call is not None and inspect.iscoroutinefunction(call)


def _signature_and_bounds(
    fn: Callable[..., Any],
) -> tuple[inspect.Signature | None, tuple[int, float] | None]:
    """The signature, and (fewest, most) positional arguments when counting them alone
    decides whether a positional-only call binds (no required keyword-only parameters)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None, None
    kinds = inspect.Parameter
    params = list(signature.parameters.values())
    if any(p.kind is kinds.KEYWORD_ONLY and p.default is kinds.empty for p in params):
        return signature, None
    positional = [
        p for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    fewest = sum(1 for p in positional if p.default is kinds.empty)
    most = math.inf if any(p.kind is kinds.VAR_POSITIONAL for p in params) else len(positional)
    return signature, (fewest, most)


class JobDefinition(Generic[P, R]):
    """A function made into a job. Call it directly as before; submit it to a runner.

    ``R`` is the job's result type: for ``async def f() -> int`` it is ``int``.
    """

    # No __slots__: update_wrapper copies __name__, __doc__ and __wrapped__ onto instances.

    def __init__(
        self, fn: Callable[P, Any], *, name: str, options: JobOptions, is_async: bool
    ) -> None:
        self.fn = fn
        self.name = name
        self.options = options
        self.is_async = is_async
        self._signature, self._bounds = _signature_and_bounds(fn)

    def check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Raise ``InvalidArguments`` unless ``fn(*args, **kwargs)`` binds."""
        bounds = self._bounds
        # Fast path: positional arguments only, within the precomputed bounds.
        if bounds is not None and not kwargs and bounds[0] <= len(args) <= bounds[1]:
            return
        if self._signature is None:
            return  # no introspectable signature (some builtins): nothing to check
        try:
            self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidArguments(self.name, str(exc)) from None

    def with_options(
        self,
        *,
        queue: str = _UNSET,
        priority: int | float = _UNSET,
        timeout: float | timedelta | None = _UNSET,
        delay: float | timedelta | None = _UNSET,
        at: datetime | None = _UNSET,
        job_id: str | None = _UNSET,
        retry: Retry | None = _UNSET,
        unique: Unique | None = _UNSET,
    ) -> JobDefinition[P, R]:
        """A copy of this job with some options changed, validated now.

        For example ``await runner.submit(send.with_options(priority=9), "to@example.com")``.
        Setting ``delay`` clears ``at`` and the other way round.
        """
        base = self.options
        if delay is not _UNSET and delay is not None:
            base = attrs.evolve(base, at=None)
        if at is not _UNSET and at is not None:
            base = attrs.evolve(base, delay=None)
        options = make_options(
            base,
            queue=queue,
            priority=priority,
            timeout=timeout,
            delay=delay,
            at=at,
            job_id=job_id,
            retry=retry,
            unique=unique,
        )
        return self.with_checked_options(options)

    def with_checked_options(self, options: JobOptions) -> JobDefinition[P, R]:
        """A copy of this job with these options (already validated)."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.options = options
        return clone

    def call(self, *args: P.args, **kwargs: P.kwargs) -> JobCall[R]:
        """Bind arguments now (checked against the signature) for ``runner.submit_many``."""
        self.check_arguments(args, kwargs)
        return JobCall(self, args, kwargs)

    async def submit(self, *args: P.args, **kwargs: P.kwargs) -> JobHandle[R]:
        """Submit to the current runner: the one whose ``async with`` block, or job, we're in."""
        return await _current.find().submit(self, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<job {self.name!r} queue={self.options.queue!r}>"


class AsyncJob(JobDefinition[P, R]):
    """A job made from an ``async def`` function; calling it returns the coroutine."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]:
        return self.fn(*args, **kwargs)  # type: ignore[no-any-return]


class SyncJob(JobDefinition[P, R]):
    """A job made from a plain function; the runner runs it in a worker thread."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)  # type: ignore[no-any-return]


class JobCall(Generic[R_co]):
    """A job with its arguments bound, ready for ``runner.submit_many``."""

    __slots__ = ("definition", "args", "kwargs")

    def __init__(
        self, definition: JobDefinition[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.definition = definition
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        given = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"<call of job {self.definition.name!r}({', '.join(given)})>"


class JobRegistry:
    """Job names to definitions. Registering one name for two functions is refused."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobDefinition[Any, Any]] = {}
        self._lock = threading.Lock()

    def register(self, definition: JobDefinition[Any, Any]) -> None:
        """Add a definition; re-registering the same function (a module reload) replaces it."""
        with self._lock:
            existing = self._jobs.get(definition.name)
            if existing is not None and existing.fn is not definition.fn:
                old, new = _qualified(existing.fn), _qualified(definition.fn)
                if old != new:
                    raise DuplicateJobName(definition.name, old, new)
            self._jobs[definition.name] = definition

    def get(self, name: str) -> JobDefinition[Any, Any]:
        """The definition registered under ``name``; ``KeyError`` if none."""
        return self._jobs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def __len__(self) -> int:
        return len(self._jobs)


default_registry = JobRegistry()
"""The registry ``@job`` uses unless given another."""


def make_definition(
    fn: Any,
    *,
    name: str | None = None,
    options: JobOptions | None = None,
) -> JobDefinition[Any, Any]:
    """Build (but do not register) a definition for ``fn``; refuse what cannot be a job."""
    if isinstance(fn, JobDefinition):
        return fn
    if inspect.iscoroutine(fn):
        raise InvalidJob(fn, "a coroutine object, not a function; pass the function itself")
    if not callable(fn):
        raise InvalidJob(fn, "not callable")
    if inspect.isasyncgenfunction(_unwrap_callable(fn)):
        raise InvalidJob(fn, "an async generator function cannot be a job")
    job_name = _validation.name("name", name) if name is not None else _qualified(fn)
    is_async = is_async_callable(fn)
    cls: type[JobDefinition[Any, Any]] = AsyncJob if is_async else SyncJob
    definition = cls(fn, name=job_name, options=options or JobOptions(), is_async=is_async)
    functools.update_wrapper(definition, fn, updated=())  # type: ignore[arg-type]
    return definition


class JobDecorator(Protocol):
    """What ``@job(...)`` with options returns."""

    @overload
    def __call__(  # type: ignore[overload-overlap]
        self, fn: Callable[P, Coroutine[Any, Any, R]], /
    ) -> AsyncJob[P, R]: ...

    @overload
    def __call__(self, fn: Callable[P, R], /) -> SyncJob[P, R]: ...


@overload
def job(fn: Callable[P, Coroutine[Any, Any, R]], /) -> AsyncJob[P, R]: ...  # type: ignore[overload-overlap]


@overload
def job(fn: Callable[P, R], /) -> SyncJob[P, R]: ...


@overload
def job(
    *,
    name: str | None = None,
    queue: str = "default",
    priority: int | float = 0,
    timeout: float | timedelta | None = None,
    retry: Retry | None = None,
    unique: Unique | None = None,
    registry: JobRegistry | None = None,
) -> JobDecorator: ...


def job(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    queue: str = "default",
    priority: int | float = 0,
    timeout: float | timedelta | None = None,
    retry: Retry | None = None,
    unique: Unique | None = None,
    registry: JobRegistry | None = None,
) -> Any:
    """Make a function into a job, bare (``@job``) or with options (``@job(queue="emails")``).

    ``async def`` functions run on the event loop; plain functions run in a worker thread.
    The name defaults to ``module.qualname``; two functions may not share a name.
    """
    options = make_options(
        JobOptions(),
        queue=queue,
        priority=priority,
        timeout=timeout,
        retry=retry,
        unique=unique,
    )
    if registry is not None and not isinstance(registry, JobRegistry):
        raise InvalidOptionType("registry", registry, "expected a JobRegistry")
    target = registry if registry is not None else default_registry

    def decorate(func: Callable[..., Any]) -> JobDefinition[Any, Any]:
        if isinstance(func, JobDefinition):
            raise InvalidJob(func, "already a job; decorate the function only once")
        definition = make_definition(func, name=name, options=options)
        target.register(definition)
        return definition

    if fn is not None:
        return decorate(fn)
    return decorate
