"""Hostile values at every public boundary that takes an option (issue 15, item 1).

Each test feeds one value of the catalogue (``VALUES``) to one boundary (``BOUNDARIES``,
calls that need no running runner, and ``LIVE``, calls made on a running one). The contract
is the same everywhere:

* the call raises one of asyncjobs' own errors (a subclass of ``AsyncJobsError``) whose
  message names the field; for lookups (``get_job``, ``schedules.get``, ...) a well-typed
  value that matches nothing may raise the lookup's own miss instead (``JobNotFound``,
  ``ScheduleNotFound``, ``UnknownQueue``);
* or the value is accepted, and then works: a job with that timeout runs to its outcome on
  a fake clock, a schedule with that jitter fires, a bus with that buffer delivers, and so
  on, within a few seconds of real time, without an exception, and without the library
  logging a crash of its own tasks.

Any other exception escaping the call (``OverflowError``, ``TypeError``,
``decimal.InvalidOperation``, an exception raised by the value's own special methods, ...)
fails, as does an accepted value that breaks later. A failure's first line says where:
``[boundary]`` or ``[works on asyncio]``, the exception type, and the innermost asyncjobs
frame it came through.

Boundaries that need no running runner run their "works" check on both asyncio and trio in
the same test (one ``anyio.run`` with each backend, for all the values the call accepted;
a value whose check is slow and backend-blind, a queue of 10,000 workers, on the first
only); boundaries on a running runner are anyio tests, run once per backend by the
``anyio_backend`` fixture of ``conftest.py``, with a fresh runner for each value.

A fake clock's wall time stays inside datetime's range, so a wait past the year 9999 (a
delay of 1e308 seconds) never ends: "works" for it means the job stays scheduled, the
clock refuses to go there, and the job can still be cancelled.
"""

from __future__ import annotations

import logging
import math
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import anyio
import pytest

import asyncjobs
from asyncjobs import (
    AsyncJobsError,
    BusState,
    Cron,
    DuplicateJob,
    DuplicateJobId,
    EventBus,
    EventDeliveryError,
    ExponentialBackoff,
    FixedBackoff,
    Interval,
    InvalidOption,
    InvalidSchedule,
    JobDefinition,
    JobNotFound,
    JobPage,
    JobRecord,
    JobRegistry,
    JobRunner,
    JobState,
    JobTimedOut,
    LinearBackoff,
    LoggingMiddleware,
    MemoryJobStore,
    MetricsMiddleware,
    Once,
    Progress,
    QuadraticBackoff,
    QueueConfig,
    QueueFull,
    ResultExpired,
    ResultTimeout,
    Retry,
    RetryAfter,
    ScheduleNotFound,
    ScheduleRecord,
    TimingMiddleware,
    Unique,
    UnknownQueue,
    current_job,
    current_runner,
    job,
    report_progress,
)
from asyncjobs.testing import FakeClock, run_until_idle

LIBRARY = Path(asyncjobs.__file__).resolve().parent
BACKENDS = ("asyncio", "trio")
# Every check runs on a fake clock and takes milliseconds (the slowest, a runner of 10,000
# workers, a few hundred); more than this is a hang.
REAL_TIME_LIMIT = 1.5
# Waits further away than this are reached by jumping the wall clock, not by advancing.
FAR = 600.0
UTC = timezone.utc
# A fake clock's wall time stays inside datetime's range: a deadline past this never comes
# (the catalogue's waits are either far below it or far above).
CLOCK_END = datetime(9999, 1, 1, tzinfo=UTC).timestamp()

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------- hostile values


class Boom(Exception):
    """Raised by the special methods of the hostile objects below."""


class FloatRaises:
    def __float__(self) -> float:
        raise Boom("__float__")

    def __repr__(self) -> str:
        return "FloatRaises()"


class IndexRaises:
    def __index__(self) -> int:
        raise Boom("__index__")

    def __int__(self) -> int:
        raise Boom("__int__")

    def __repr__(self) -> str:
        return "IndexRaises()"


class EqRaises:
    """Unhashable, so enum and dict lookups fall back to comparing, which raises."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        raise Boom("__eq__")

    def __repr__(self) -> str:
        return "EqRaises()"


class HashRaises:
    def __hash__(self) -> int:
        raise Boom("__hash__")

    def __repr__(self) -> str:
        return "HashRaises()"


class OrderRaises:
    def __lt__(self, other: object) -> bool:
        raise Boom("__lt__")

    def __le__(self, other: object) -> bool:
        raise Boom("__le__")

    def __gt__(self, other: object) -> bool:
        raise Boom("__gt__")

    def __ge__(self, other: object) -> bool:
        raise Boom("__ge__")

    def __repr__(self) -> str:
        return "OrderRaises()"


class ReprRaises:
    def __repr__(self) -> str:
        raise Boom("__repr__")


class BoolRaises:
    def __bool__(self) -> bool:
        raise Boom("__bool__")

    def __repr__(self) -> str:
        return "BoolRaises()"


class IterRaises:
    def __iter__(self) -> Iterator[object]:
        raise Boom("__iter__")

    def __repr__(self) -> str:
        return "IterRaises()"


class FloatOnly:
    """A numpy-like scalar: a number by ``__float__`` only, not an int or float."""

    def __float__(self) -> float:
        return 1.0

    def __repr__(self) -> str:
        return "FloatOnly(1.0)"


class IndexOnly:
    """A numpy-like integer: an int by ``__index__`` only."""

    def __index__(self) -> int:
        return 1

    def __int__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return "IndexOnly(1)"


class NaNLike:
    """Converts to NaN and compares false to everything, as a NaN does."""

    def __float__(self) -> float:
        return math.nan

    def __eq__(self, other: object) -> bool:
        return False

    def __lt__(self, other: object) -> bool:
        return False

    def __le__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False

    def __ge__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "NaNLike()"


class FloatSubFloatRaises(float):
    def __float__(self) -> float:
        raise Boom("float subclass __float__")


class FloatSubReprRaises(float):
    def __repr__(self) -> str:
        raise Boom("float subclass __repr__")


class FloatSubOrderRaises(float):
    def __lt__(self, other: object) -> bool:
        raise Boom("float subclass __lt__")

    def __le__(self, other: object) -> bool:
        raise Boom("float subclass __le__")

    def __gt__(self, other: object) -> bool:
        raise Boom("float subclass __gt__")

    def __ge__(self, other: object) -> bool:
        raise Boom("float subclass __ge__")


class IntSubOrderRaises(int):
    def __lt__(self, other: object) -> bool:
        raise Boom("int subclass __lt__")

    def __le__(self, other: object) -> bool:
        raise Boom("int subclass __le__")

    def __gt__(self, other: object) -> bool:
        raise Boom("int subclass __gt__")

    def __ge__(self, other: object) -> bool:
        raise Boom("int subclass __ge__")


class IntSubFloatRaises(int):
    def __float__(self) -> float:
        raise Boom("int subclass __float__")


class IntSubIndexRaises(int):
    def __index__(self) -> int:
        raise Boom("int subclass __index__")


class IntSubReprRaises(int):
    def __repr__(self) -> str:
        raise Boom("int subclass __repr__")


class TimedeltaSubRaises(timedelta):
    def total_seconds(self) -> float:
        raise Boom("timedelta subclass total_seconds")


class StrSubHashRaises(str):
    def __hash__(self) -> int:
        raise Boom("str subclass __hash__")


class StrSubEqRaises(str):
    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        raise Boom("str subclass __eq__")

    def __ne__(self, other: object) -> bool:
        raise Boom("str subclass __ne__")


class RaisingZone(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise Boom("tzinfo.utcoffset")

    def dst(self, dt: datetime | None) -> timedelta:
        raise Boom("tzinfo.dst")

    def tzname(self, dt: datetime | None) -> str:
        raise Boom("tzinfo.tzname")


class DatetimeSubRaises(datetime):
    def timestamp(self) -> float:
        raise Boom("datetime subclass timestamp")


def _key_function(*args: object, **kwargs: object) -> str:
    return "hostile-key"


FAMILIES: dict[str, dict[str, Any]] = {
    "ints": {
        "int-0": 0,
        "int-1": 1,
        "int-minus-1": -1,
        "int-2**63": 2**63,
        "int-10**18": 10**18,
        "int-2**1024": 2**1024,
        "int-10**400": 10**400,
        "int-minus-10**400": -(10**400),
        "int-10**5000-no-repr": 10**5000,
        "bool-true": True,
        "bool-false": False,
    },
    "floats": {
        "float-0.5": 0.5,
        "float-0.0": 0.0,
        "float-minus-0.0": -0.0,
        "float-nan": math.nan,
        "float-inf": math.inf,
        "float-minus-inf": -math.inf,
        "float-1e18": 1e18,
        "float-1e308": 1e308,
        "float-max": sys.float_info.max,
        "float-minus-1e308": -1e308,
        "float-subnormal-1e-320": 1e-320,
        "float-subnormal-5e-324": 5e-324,
    },
    "other-numbers": {
        "decimal-1": Decimal("1"),
        "decimal-nan": Decimal("NaN"),
        "decimal-snan": Decimal("sNaN"),
        "decimal-inf": Decimal("Infinity"),
        "decimal-1e400": Decimal("1e400"),
        "fraction-3/2": Fraction(3, 2),
        "complex-1": complex(1, 0),
        "float-only-numpy-like": FloatOnly(),
        "index-only-numpy-like": IndexOnly(),
        "nan-like": NaNLike(),
    },
    "durations": {
        "timedelta-1us": timedelta(microseconds=1),
        "timedelta-1s": timedelta(seconds=1),
        "timedelta-0": timedelta(0),
        "timedelta-minus-1us": timedelta(microseconds=-1),
        "timedelta-max": timedelta.max,
        "timedelta-min": timedelta.min,
    },
    "moments": {
        "datetime-next-hour": datetime(2026, 1, 1, 1, tzinfo=UTC),
        "datetime-last-year": datetime(2025, 1, 1, tzinfo=UTC),
        "datetime-naive": datetime(2026, 1, 1, 1),
        "datetime-max-utc": datetime.max.replace(tzinfo=UTC),
        "datetime-min-utc": datetime.min.replace(tzinfo=UTC),
        "datetime-max-minus-23h59": datetime.max.replace(
            tzinfo=timezone(-timedelta(hours=23, minutes=59))
        ),
        "datetime-min-plus-23h59": datetime.min.replace(
            tzinfo=timezone(timedelta(hours=23, minutes=59))
        ),
    },
    "strings": {
        "str-empty": "",
        "str-1": "1",
        "str-1.5": "1.5",
        "str-nan": "nan",
        "str-default": "default",
        "str-huge": "x" * 100_000,
        "str-nul": "nul\x00byte",
        "bytes-1": b"1",
    },
    "schedule-strings": {
        "str-cron-every-minute": "* * * * *",
        "str-cron-huge-step": "*/99999999999999999999 * * * *",
        "str-cron-hashed": "H H * * *",
        "str-every-1s": "@every 1s",
        "str-every-huge": "@every 99999999999d",
        "str-every-1e30s": "@every 1" + "0" * 30 + "s",
        "str-zone-berlin": "Europe/Berlin",
        "str-zone-traversal": "../../../etc/passwd",
        "str-pattern-job-star": "job.*",
    },
    "objects": {
        "none": None,
        "list": [1],
        "dict": {"a": 1},
        "tuple": (1,),
        "set": {1},
        "object": object(),
        "type-int": int,
        "exception-class": ConnectionError,
        "key-function": _key_function,
    },
    "special-methods": {
        "float-raises": FloatRaises(),
        "index-raises": IndexRaises(),
        "eq-raises": EqRaises(),
        "hash-raises": HashRaises(),
        "order-raises": OrderRaises(),
        "repr-raises": ReprRaises(),
        "bool-raises": BoolRaises(),
        "iter-raises": IterRaises(),
    },
    "subclasses": {
        "float-subclass-float-raises": FloatSubFloatRaises(1.0),
        "float-subclass-repr-raises": FloatSubReprRaises(-1.0),
        "float-subclass-order-raises": FloatSubOrderRaises(1.0),
        "int-subclass-order-raises": IntSubOrderRaises(5),
        "int-subclass-float-raises": IntSubFloatRaises(5),
        "int-subclass-index-raises": IntSubIndexRaises(5),
        "int-subclass-repr-raises": IntSubReprRaises(0),
        "timedelta-subclass-raises": TimedeltaSubRaises(seconds=1),
        "datetime-zone-raises": datetime(2026, 1, 1, 1, tzinfo=RaisingZone()),
        "datetime-subclass-raises": DatetimeSubRaises(2026, 1, 1, 1, tzinfo=UTC),
        "str-subclass-hash-raises": StrSubHashRaises("default"),
        "str-subclass-eq-raises": StrSubEqRaises("default"),
    },
}
VALUES: dict[str, Any] = {k: v for family in FAMILIES.values() for k, v in family.items()}


def _plain(value: Any) -> float | None:
    """The seconds a plain value means (an int, float or timedelta, not a subclass), with
    ints too large for a float as infinities; None for anything else, whose meaning the
    checks do not guess."""
    if type(value) is timedelta:
        return value.total_seconds()
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return None


# --------------------------------------------------------------------------- jobs used


async def _nap(seconds: float = 0.0) -> str:
    """Takes ``seconds`` of the runner's (fake) clock."""
    clock = current_runner().clock
    if seconds:
        await clock.sleep_until(clock.monotonic() + seconds)
    return "rested"


nap = job(_nap)


@job
async def ok() -> str:
    return "ok"


@job
async def fail() -> None:
    raise ValueError("a dead letter")


@job
async def flaky() -> str:
    me = current_job()
    assert me is not None
    if me.record().attempts < 2:
        raise ConnectionError("the first attempt fails")
    return "recovered"


@job
async def raise_first(error: BaseException) -> str:
    me = current_job()
    assert me is not None
    if me.record().attempts < 2:
        raise error
    return "recovered"


@job
async def steps(count: int) -> int:
    clock = current_runner().clock
    for step in range(1, count + 1):
        report_progress(done=step, total=count)
        await clock.sleep_until(clock.monotonic() + 1)
    return count


@job
async def real_io() -> str:
    await anyio.sleep(0.001)
    return "io"


@dataclass(frozen=True)
class _Raised:
    """An exception a job caught, handed back as its result."""

    error: Exception


@job
async def report(fields: dict[str, Any]) -> object:
    try:
        return report_progress(**fields)
    except Exception as exc:
        return _Raised(exc)


# --------------------------------------------------------------------------- helpers


def _quiet(clock: FakeClock, **options: Any) -> JobRunner:
    """A runner with no periodic timer (no retention sweep), so that its fake clock can be
    advanced far in one step."""
    return JobRunner(clock=clock, result_ttl=None, dead_letter_ttl=None, **options)


async def _settle(runner: JobRunner, clock: FakeClock) -> None:
    await run_until_idle(runner, clock, settle=0)


async def _stays_before_the_end(clock: FakeClock) -> None:
    """The fake clock refuses to move past the year 9999, and its times still read."""
    try:
        await clock.advance(CLOCK_END - clock.time() + 86400 * 366)
    except InvalidOption as exc:
        refusal = str(exc)
    else:
        raise AssertionError(f"the clock moved past the year 9999: {clock.time()!r}")
    assert "seconds" in refusal, refusal
    _ = clock.now()


async def _never_due(runner: JobRunner, clock: FakeClock, handle: Any) -> None:
    """A job due past the end of the fake clock's range (the year 9999) waits: it stays
    scheduled, the clock refuses to go there, and the job can be cancelled."""
    assert handle.state is JobState.SCHEDULED, handle.state
    assert clock.next_deadline() is None, clock.next_deadline()
    await _stays_before_the_end(clock)
    _read_job_datetimes(handle.record())
    assert await runner.cancel(handle.id)
    assert handle.record().state is JobState.CANCELLED


def _read_job_datetimes(record: JobRecord) -> None:
    _ = (record.created, record.started, record.finished)


def _read_schedule_datetimes(record: ScheduleRecord) -> None:
    _ = (
        record.next_run,
        record.next_slot,
        record.last_slot,
        record.last_run,
        record.start,
        record.end,
        record.created,
    )


async def _fire_once(runner: JobRunner, clock: FakeClock, name: str) -> ScheduleRecord:
    """Let the schedule's next slot come, and show that it was dealt with (fired, or
    counted as missed); its datetimes must read before and after."""
    record = await runner.schedules.get(name)
    _read_schedule_datetimes(record)
    if record.paused:
        record = await runner.schedules.resume(name)
    assert record.next_run_at is not None, f"schedule {name!r} has no next run"
    due = record.next_run_at - clock.time()
    if due > FAR:  # as a machine waking from sleep: the scheduler notices within a minute
        clock.jump(due - 1.0)
        await clock.advance(62)
    else:  # just past the slot (a fast interval must not have to fire many slots first)
        await clock.advance(max(0.0, due) + 1e-5)
    record = await runner.schedules.get(name)
    assert record.runs + record.misses >= 1, f"schedule {name!r} never fired: {record!r}"
    _read_schedule_datetimes(record)
    return record


def _safe_str(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception as inner:
        text = f"<str() raised {type(inner).__name__}>"
    return text if len(text) <= 240 else text[:240] + "..."


def _leaf(exc: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups."""
    inner = getattr(exc, "exceptions", None)
    while isinstance(inner, tuple) and inner:
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


def _where(exc: BaseException) -> str:
    """The innermost asyncjobs frame the exception came through, and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if Path(f.filename).resolve().is_relative_to(LIBRARY)]
    parts = []
    if inside:
        f = inside[-1]
        rel = Path(f.filename).resolve().relative_to(LIBRARY.parent)
        parts.append(f"{rel}:{f.lineno} in {f.name}")
    else:
        parts.append("no asyncjobs frame")
    if frames and (not inside or frames[-1] is not inside[-1]):
        last = frames[-1]
        parts.append(f"raised at {Path(last.filename).name}:{last.lineno} in {last.name}")
    return "; ".join(parts)


def _escaped(phase: str, exc: BaseException) -> NoReturn:
    leaf = _leaf(exc)
    kind = type(leaf).__qualname__
    if isinstance(leaf, TimeoutError) and not isinstance(leaf, AsyncJobsError):
        kind = f"hang ({kind} after {REAL_TIME_LIMIT} s of real time)"
    text = "".join(traceback.format_exception(leaf))
    pytest.fail(f"[{phase}] {kind} at {_where(leaf)}: {_safe_str(leaf)}\n{text}", pytrace=False)


def _check_refusal(
    field_name: str | tuple[str, ...], misses: tuple[type[BaseException], ...], exc: Exception
) -> None:
    """A refusal must name the field (one of its names: a trigger's errors name ``cron``,
    ``every`` or ``at``, as documented), unless it is the lookup's own miss."""
    if misses and isinstance(exc, misses):
        return
    text = _safe_str(exc)
    names = (field_name,) if isinstance(field_name, str) else field_name
    if not any(name in text for name in names):
        pytest.fail(
            f"[refusal] {type(exc).__qualname__} does not name the field {names[0]!r}: {text}",
            pytrace=False,
        )


class _Pairs(Mapping[Any, Any]):
    """A mapping that never hashes or compares its keys, to hand any object over as one."""

    def __init__(self, *pairs: tuple[Any, Any]) -> None:
        self._pairs = pairs

    def __getitem__(self, key: Any) -> Any:
        for k, v in self._pairs:
            if k is key:
                return v
        raise KeyError("not among the pairs")

    def __iter__(self) -> Iterator[Any]:
        return (k for k, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)


class _CrashLog(logging.Handler):
    """Collects what the library logs when one of its own tasks breaks."""

    SIGNS = ("crashed", "failed to fire", "timer callback", "store failed", "failed to note")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.crashes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "asyncio" or any(sign in message for sign in self.SIGNS):
            detail = ""
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                detail = f" [{type(error).__qualname__} at {_where(error)}: {_safe_str(error)}]"
            self.crashes.append(f"{record.name}: {message[:200]}{detail}")


@contextmanager
def _crash_log() -> Iterator[_CrashLog]:
    """Collect the library's crash reports. Its records below ERROR (a failing job's
    warning, say: the catalogue makes thousands) are not made meanwhile: no check reads
    them, and formatting them for pytest's log capture would take seconds."""
    handler = _CrashLog()
    loggers = [logging.getLogger("asyncjobs"), logging.getLogger("asyncio")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.ERROR)
    try:
        yield handler
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def _check_crash_log(phase: str, log: _CrashLog) -> None:
    if log.crashes:
        first = log.crashes[0]
        pytest.fail(f"[{phase}] logged crash: {first}\n" + "\n".join(log.crashes), pytrace=False)


# ------------------------------------------------------- boundaries without a running runner

Works = Callable[[Any, Any], Awaitable[None]]
Check = Callable[[Any, Any], None]


@dataclass(frozen=True)
class Boundary:
    """``call(value)`` makes the call; if it accepts the value, ``check(value, result)``
    (plain) and ``works(value, result)`` (on each event loop) show that it then works."""

    field: str | tuple[str, ...]
    call: Callable[[Any], Any]
    works: Works | None = None
    check: Check | None = None
    misses: tuple[type[BaseException], ...] = ()
    # Values whose "works" check is slow (a runner of 10,000 workers) and takes the same
    # path on every loop: checked on the first loop only.
    expensive: Callable[[Any], bool] | None = None


# ---- JobRunner(...)


def _runner_with(name: str) -> Callable[[Any], JobRunner]:
    return lambda value: JobRunner(clock=FakeClock(), **{name: value})


async def _runs_a_job(runner: JobRunner, clock: FakeClock | None) -> None:
    async with runner:
        for queue in runner.queue_statistics():
            handle = await runner.submit(ok.with_options(queue=queue))
            await (run_until_idle(runner) if clock is None else _settle(runner, clock))
            assert await handle == "ok"
            _read_job_datetimes(handle.record())


def _works_runner(name: str) -> Works:
    async def works(value: Any, _: Any) -> None:
        clock = FakeClock()
        await _runs_a_job(JobRunner(clock=clock, **{name: value}), clock)

    return works


def _works_shutdown(name: str) -> Works:
    """Shutdown with a job still running (asleep on the fake clock) ends by its deadline:
    the job is interrupted, or finishes within a grace period long enough."""

    async def works(value: Any, _: Any) -> None:
        clock = FakeClock()
        runner = JobRunner(clock=clock, result_ttl=None, dead_letter_ttl=None, **{name: value})
        async with runner:
            done = await runner.submit(ok)
            sleeper = await runner.submit(nap, 1e9)
            await clock.advance(0)
            shutdown = await clock.autojump(runner.shutdown, runner.running_jobs)
        assert done.state is JobState.SUCCEEDED
        assert sleeper.state in (JobState.SUCCEEDED, JobState.INTERRUPTED)
        assert (sleeper.state is JobState.INTERRUPTED) == (sleeper.id in shutdown.interrupted)

    return works


def _works_retention(name: str) -> Works:
    async def works(value: Any, _: Any) -> None:
        clock = FakeClock()
        async with JobRunner(clock=clock, **{name: value}) as runner:
            handle = await runner.submit(fail if name == "dead_letter_ttl" else ok)
            await _settle(runner, clock)
            await handle.wait()
            await clock.advance(120)
            try:
                await runner.get_job(handle.id)
                kept = True
            except ResultExpired:
                kept = False
        ttl = _plain(value)
        if value is None or (ttl is not None and ttl > 200):
            assert kept, f"{name}={value!r}: the record went after 120 s"
        if ttl is not None and ttl < 10:
            assert not kept, f"{name}={value!r}: the record was still there after 120 s"

    return works


async def _works_statistics_window(value: Any, _: Any) -> None:
    clock = FakeClock()
    async with JobRunner(clock=clock, statistics_window=value) as runner:
        handle = await runner.submit(ok)
        await _settle(runner, clock)
        assert await handle == "ok"
        if value is None:
            with pytest.raises(InvalidOption, match="statistics_window"):
                runner.job_statistics()
            return
        stats = runner.job_statistics(window=value)  # the longest window kept
        assert stats.overall.total == 1
        assert math.isfinite(stats.since)
        longest = stats.window  # the library's own reading of the value, in seconds
        if longest < 300:  # the default window is longer: refused, as documented
            with pytest.raises(InvalidOption, match="window"):
                runner.job_statistics()
        else:
            assert runner.job_statistics().overall.total == 1


async def _works_scheduler_max_sleep(value: Any, _: Any) -> None:
    clock = FakeClock()
    async with _quiet(clock, scheduler_max_sleep=value) as runner:
        await runner.schedules.add("tick", ok, "@every 10s")
        await clock.advance(35)
        record = await runner.schedules.get("tick")
        assert record.runs == 3, record
        sleep = _plain(value)
        if sleep is not None and sleep <= FAR:  # a wall clock jump is noticed within it
            clock.jump(3600)
            await clock.advance(sleep + 1)
            after = await runner.schedules.get("tick")
            assert after.runs + after.misses > record.runs + record.misses, after


async def _works_max_workers(value: Any, _: Any) -> None:
    clock = FakeClock()
    async with JobRunner(clock=clock, max_workers=value) as runner:
        handles = [await runner.submit(ok) for _ in range(3)]
        await _settle(runner, clock)
        assert [await h for h in handles] == ["ok"] * 3
        assert runner.pool_statistics().capacity >= 1


def _many_workers(value: Any) -> bool:
    """Whether a queue of this concurrency makes a runner start more than a few workers."""
    count = _plain(value)
    return count is not None and count > 100


async def _works_concurrency_map(value: Any, _: Any) -> None:
    clock = FakeClock()
    async with JobRunner(clock=clock, queues={"default": value}) as runner:
        handles = [await runner.submit(ok) for _ in range(3)]
        await _settle(runner, clock)
        assert [await h for h in handles] == ["ok"] * 3


async def _works_queue_name(value: Any, _: Any) -> None:
    clock = FakeClock()
    await _runs_a_job(JobRunner(clock=clock, queues=_Pairs((value, 1))), clock)


async def _works_clock(value: Any, _: Any) -> None:
    runner = JobRunner(clock=value)
    await _runs_a_job(runner, value if isinstance(value, FakeClock) else None)


RUNNER: dict[str, Boundary] = {
    "JobRunner(grace_period=)": Boundary(
        "grace_period", _runner_with("grace_period"), _works_shutdown("grace_period")
    ),
    "JobRunner(cancel_timeout=)": Boundary(
        "cancel_timeout", _runner_with("cancel_timeout"), _works_shutdown("cancel_timeout")
    ),
    "JobRunner(result_ttl=)": Boundary(
        "result_ttl", _runner_with("result_ttl"), _works_retention("result_ttl")
    ),
    "JobRunner(dead_letter_ttl=)": Boundary(
        "dead_letter_ttl", _runner_with("dead_letter_ttl"), _works_retention("dead_letter_ttl")
    ),
    "JobRunner(statistics_window=)": Boundary(
        "statistics_window", _runner_with("statistics_window"), _works_statistics_window
    ),
    "JobRunner(scheduler_max_sleep=)": Boundary(
        "scheduler_max_sleep", _runner_with("scheduler_max_sleep"), _works_scheduler_max_sleep
    ),
    "JobRunner(max_workers=)": Boundary(
        "max_workers", _runner_with("max_workers"), _works_max_workers
    ),
    "JobRunner(queues=)": Boundary("queues", _runner_with("queues"), _works_runner("queues")),
    "JobRunner(queues={name: concurrency})": Boundary(
        "queues",
        lambda value: JobRunner(clock=FakeClock(), queues={"default": value}),
        _works_concurrency_map,
        expensive=_many_workers,
    ),
    "JobRunner(queues={key: 1})": Boundary(
        "queues",
        lambda value: JobRunner(clock=FakeClock(), queues=_Pairs((value, 1))),
        _works_queue_name,
    ),
    "JobRunner(selection=)": Boundary(
        "selection", _runner_with("selection"), _works_runner("selection")
    ),
    "JobRunner(drain_on_shutdown=)": Boundary(
        "drain_on_shutdown", _runner_with("drain_on_shutdown"), _works_runner("drain_on_shutdown")
    ),
    "JobRunner(middleware=)": Boundary(
        "middleware", _runner_with("middleware"), _works_runner("middleware")
    ),
    "JobRunner(store=)": Boundary("store", _runner_with("store"), _works_runner("store")),
    "JobRunner(registry=)": Boundary(
        "registry", _runner_with("registry"), _works_runner("registry")
    ),
    "JobRunner(bus=)": Boundary("bus", _runner_with("bus"), _works_runner("bus")),
    "JobRunner(clock=)": Boundary("clock", lambda value: JobRunner(clock=value), _works_clock),
}


# ---- QueueConfig(...) and MemoryJobStore(...)


async def _works_queue_config(value: Any, config: QueueConfig) -> None:
    clock = FakeClock()
    async with _quiet(clock, queues={"q": config}, max_workers=2) as runner:
        handles = []
        for _ in range(3):
            handles.append(await runner.submit(nap.with_options(queue="q"), 0.0))
            await _settle(runner, clock)
        assert [await h for h in handles] == ["rested"] * 3


async def _works_block_timeout(value: Any, _: Any) -> None:
    """A submit blocked on a full queue gives up after ``block_timeout`` (QueueFull), or
    gets in when room comes first."""
    clock = FakeClock()
    config = QueueConfig(concurrency=1, maxsize=1, on_full="block", block_timeout=value)
    async with _quiet(clock, queues={"q": config}) as runner:
        running = await runner.submit(nap.with_options(queue="q"), 1e9)
        await clock.advance(0)
        waiting = await runner.submit(nap.with_options(queue="q", delay=1e6), 0.0)
        outcome: list[object] = []

        async def blocked() -> None:
            try:
                outcome.append(await runner.submit(nap.with_options(queue="q"), 0.0))
            except QueueFull as exc:
                outcome.append(exc)

        timeout = _plain(value)
        async with anyio.create_task_group() as group:
            group.start_soon(blocked)
            await clock.advance(0)
            if timeout is not None and timeout <= FAR:
                await clock.advance(timeout)
                await clock.advance(0)
                assert outcome, "the blocked submit did not give up"
                assert isinstance(outcome[0], QueueFull), outcome
            else:
                await waiting.cancel()
        assert len(outcome) == 1
        await running.cancel()
        await _settle(runner, clock)


def _config_with(name: str) -> Callable[[Any], QueueConfig]:
    return lambda value: QueueConfig(**{name: value})


def _store_with(name: str) -> Callable[[Any], MemoryJobStore]:
    return lambda value: MemoryJobStore(**{name: value})


def _works_store(name: str) -> Works:
    async def works(value: Any, _: Any) -> None:
        clock = FakeClock()
        async with JobRunner(clock=clock, store=MemoryJobStore(**{name: value})) as runner:
            handles = [await runner.submit(ok) for _ in range(3)]
            dead = await runner.submit(fail)
            await _settle(runner, clock)
            assert [await h for h in handles] == ["ok"] * 3
            assert (await runner.get_job(handles[-1].id)).state is JobState.SUCCEEDED
            assert (await runner.dead_letters.get(dead.id)).state is JobState.FAILED

    return works


QUEUES: dict[str, Boundary] = {
    "QueueConfig(concurrency=)": Boundary(
        "concurrency", _config_with("concurrency"), _works_queue_config
    ),
    "QueueConfig(maxsize=)": Boundary("maxsize", _config_with("maxsize"), _works_queue_config),
    "QueueConfig(on_full=)": Boundary("on_full", _config_with("on_full"), _works_queue_config),
    "QueueConfig(block_timeout=)": Boundary(
        "block_timeout", _config_with("block_timeout"), _works_block_timeout
    ),
    "QueueConfig(weight=)": Boundary("weight", _config_with("weight"), _works_queue_config),
    "MemoryJobStore(max_finished=)": Boundary(
        "max_finished", _store_with("max_finished"), _works_store("max_finished")
    ),
    "MemoryJobStore(max_dead_letters=)": Boundary(
        "max_dead_letters", _store_with("max_dead_letters"), _works_store("max_dead_letters")
    ),
    "MemoryJobStore(remember_expired=)": Boundary(
        "remember_expired", _store_with("remember_expired"), _works_store("remember_expired")
    ),
}


# ---- @job(...) and with_options(...)


def _decorated_with(name: str) -> Callable[[Any], JobDefinition[Any, Any]]:
    def call(value: Any) -> JobDefinition[Any, Any]:
        options: dict[str, Any] = {name: value}
        if name != "registry":
            options["registry"] = JobRegistry()
        decorate: Any = job(**options)
        definition: JobDefinition[Any, Any] = decorate(_nap)
        return definition

    return call


def _with_option(name: str) -> Callable[[Any], JobDefinition[Any, Any]]:
    return lambda value: nap.with_options(**{name: value})


async def _works_definition(value: Any, definition: JobDefinition[Any, Any]) -> None:
    clock = FakeClock()
    async with _quiet(clock, queues=_Pairs((definition.options.queue, 2))) as runner:
        handle = await runner.submit(definition, 0.0)
        await _settle(runner, clock)
        assert await handle == "rested"
        assert str(handle.name) == str(definition.name)
        _read_job_datetimes(handle.record())


async def _works_timeout(value: Any, definition: JobDefinition[Any, Any]) -> None:
    timeout = definition.options.timeout
    clock = FakeClock()
    async with _quiet(clock) as runner:
        short = await runner.submit(definition, 0.75)
        await _settle(runner, clock)
        if timeout is None or timeout > 0.75:
            assert await short == "rested"
        else:
            with pytest.raises(JobTimedOut):
                await short
        if timeout is not None and timeout <= 1e9:
            too_long = await runner.submit(definition, 2 * timeout + 1)
            await _settle(runner, clock)
            with pytest.raises(JobTimedOut):
                await too_long


async def _works_priority(value: Any, definition: JobDefinition[Any, Any]) -> None:
    clock = FakeClock()
    async with _quiet(clock, queues={"default": 1}) as runner:
        handles = [
            await runner.submit(definition, 0.0),
            await runner.submit(nap, 0.0),
            await runner.submit(definition, 0.0),
            await runner.submit(nap.with_options(priority=-1), 0.0),
        ]
        await _settle(runner, clock)
        assert [await h for h in handles] == ["rested"] * 4
        page = await runner.list_jobs()
        assert len(page.records) == 4


async def _works_delay(value: Any, definition: JobDefinition[Any, Any]) -> None:
    delay = definition.options.delay
    at = definition.options.at
    clock = FakeClock()
    async with _quiet(clock) as runner:
        handle = await runner.submit(definition, 0.0)
        _read_job_datetimes(handle.record())
        await _settle(runner, clock)
        if delay and clock.time() + delay > CLOCK_END:
            await _never_due(runner, clock, handle)
            return
        assert await handle == "rested"
        if delay:
            assert clock.monotonic() >= delay * (1 - 1e-12)
        if at is not None:
            assert clock.time() >= at.timestamp() - 1e-3 * max(1.0, abs(at.timestamp()) * 1e-9)


async def _works_job_id(value: Any, definition: JobDefinition[Any, Any]) -> None:
    job_id = definition.options.job_id
    clock = FakeClock()
    async with _quiet(clock) as runner:
        handle = await runner.submit(definition, 0.0)
        await _settle(runner, clock)
        assert await handle == "rested"
        if job_id is not None:
            assert str(handle.id) == str(job_id)
            assert str((await runner.get_job(job_id)).id) == str(job_id)
            with pytest.raises(DuplicateJobId):
                await runner.submit(definition, 0.0)


JOBS: dict[str, Boundary] = {
    "@job(timeout=)": Boundary("timeout", _decorated_with("timeout"), _works_timeout),
    "@job(priority=)": Boundary("priority", _decorated_with("priority"), _works_priority),
    "@job(queue=)": Boundary("queue", _decorated_with("queue"), _works_definition),
    "@job(name=)": Boundary("name", _decorated_with("name"), _works_definition),
    "@job(retry=)": Boundary("retry", _decorated_with("retry"), _works_definition),
    "@job(unique=)": Boundary("unique", _decorated_with("unique"), _works_definition),
    "@job(registry=)": Boundary("registry", _decorated_with("registry"), _works_definition),
    "with_options(timeout=)": Boundary("timeout", _with_option("timeout"), _works_timeout),
    "with_options(priority=)": Boundary("priority", _with_option("priority"), _works_priority),
    "with_options(delay=)": Boundary("delay", _with_option("delay"), _works_delay),
    "with_options(at=)": Boundary("at", _with_option("at"), _works_delay),
    "with_options(job_id=)": Boundary("job_id", _with_option("job_id"), _works_job_id),
    "with_options(queue=)": Boundary("queue", _with_option("queue"), _works_definition),
    "with_options(retry=)": Boundary("retry", _with_option("retry"), _works_definition),
    "with_options(unique=)": Boundary("unique", _with_option("unique"), _works_definition),
}


# ---- Retry, backoff strategies, RetryAfter, Unique


async def _works_retry(value: Any, policy: Retry) -> None:
    expected = policy.delay_after(1, ConnectionError("the first attempt fails")) is not None
    clock = FakeClock()
    async with _quiet(clock) as runner:
        handle = await runner.submit(flaky.with_options(retry=policy))
        await _settle(runner, clock)
        if expected:
            assert await handle == "recovered"
        else:
            with pytest.raises(ConnectionError):
                await handle


def _check_waits(value: Any, backoff: Any) -> None:
    cap = backoff.cap
    assert isinstance(cap, float), cap
    assert math.isfinite(cap), cap
    assert cap >= 0, cap
    for attempt in (1, 2, 3, 10, 10**9):
        wait = backoff.seconds(attempt)
        assert isinstance(wait, float), (attempt, wait)
        assert 0 <= wait <= cap, (attempt, wait)


async def _works_backoff(value: Any, backoff: Any) -> None:
    clock = FakeClock()
    async with _quiet(clock) as runner:
        handle = await runner.submit(
            flaky.with_options(retry=Retry(max_attempts=2, backoff=backoff))
        )
        await _settle(runner, clock)
        assert await handle == "recovered"
        # The wait keeps to the cap, to within the resolution of a retry's wall-clock time
        # (a backend holds the time it is due as epoch seconds: about 0.24 µs today).
        assert clock.monotonic() <= backoff.cap + math.ulp(clock.time())


def _backoff_with(cls: Any, name: str) -> Callable[[Any], Any]:
    return lambda value: cls(**{name: value})


def _check_wait_within(cap: float) -> Check:
    def check(value: Any, wait: Any) -> None:
        assert isinstance(wait, float), wait
        assert 0 <= wait <= cap, wait

    return check


def _drawing_from(strategy: ExponentialBackoff) -> Callable[[Any], float]:
    """``strategy.seconds(3)`` with jitter drawn by a ``rand`` that returns the value."""

    def call(value: Any) -> float:
        return strategy.seconds(3, rand=lambda: value)

    return call


def _check_delay_after(value: Any, delay: Any) -> None:
    assert delay is None or (isinstance(delay, float) and 0 <= delay <= 300), delay


async def _works_retry_after(value: Any, error: RetryAfter) -> None:
    clock = FakeClock()
    async with _quiet(clock) as runner:
        handle = await runner.submit(raise_first.with_options(retry=Retry(max_attempts=2)), error)
        await _settle(runner, clock)
        if clock.time() + error.seconds > CLOCK_END:
            await _never_due(runner, clock, handle)
            return
        assert await handle == "recovered"
        assert clock.monotonic() >= error.seconds * (1 - 1e-12)


async def _works_unique(value: Any, unique: Unique) -> None:
    definition = nap.with_options(unique=unique, delay=5)
    clock = FakeClock()
    async with _quiet(clock) as runner:
        try:
            first = await runner.submit(definition, 0.0)
        except InvalidOption as exc:  # documented: a key function's bad key, at submit
            refused: InvalidOption | None = exc
        else:
            refused = None
        if refused is not None:
            assert callable(unique.key), refused
            assert "unique.key" in str(refused), refused
            return
        try:
            second = await runner.submit(definition, 0.0)
        except DuplicateJob:
            second = first
        await _settle(runner, clock)
        assert await first == "rested"
        assert await second == "rested"
        ttl = _plain(unique.ttl)
        if ttl is not None and ttl >= 10:
            assert second is first


RETRIES: dict[str, Boundary] = {
    "Retry(max_attempts=)": Boundary(
        "max_attempts", lambda value: Retry(max_attempts=value), _works_retry
    ),
    "Retry(backoff=)": Boundary("backoff", lambda value: Retry(backoff=value), _works_retry),
    "Retry(retry_on=)": Boundary("retry_on", lambda value: Retry(retry_on=value), _works_retry),
    "Retry(give_up_on=)": Boundary(
        "give_up_on", lambda value: Retry(give_up_on=value), _works_retry
    ),
    "Retry.delay_after(attempt=)": Boundary(
        "attempt",
        lambda value: Retry().delay_after(value, ConnectionError()),
        check=_check_delay_after,
    ),
    "RetryAfter(seconds=)": Boundary("seconds", RetryAfter, _works_retry_after),
    "Unique(key=)": Boundary("key", lambda value: Unique(key=value), _works_unique),
    "Unique(ttl=)": Boundary("ttl", lambda value: Unique(ttl=value), _works_unique),
    "Unique(on_conflict=)": Boundary(
        "on_conflict", lambda value: Unique(on_conflict=value), _works_unique
    ),
}
for _cls, _params in (
    (FixedBackoff, ("delay", "jitter")),
    (LinearBackoff, ("initial", "step", "cap", "jitter")),
    (ExponentialBackoff, ("initial", "factor", "cap", "jitter")),
    (QuadraticBackoff, ("unit", "cap", "jitter")),
):
    for _param in _params:
        RETRIES[f"{_cls.__name__}({_param}=)"] = Boundary(
            _param, _backoff_with(_cls, _param), _works_backoff, _check_waits
        )
    _strategy = _cls()
    RETRIES[f"{_cls.__name__}().seconds(attempt=)"] = Boundary(
        "attempt", _strategy.seconds, check=_check_wait_within(_strategy.cap)
    )
for _jitter in ("full", "equal"):
    _jittered = ExponentialBackoff(initial=10, jitter=_jitter)
    RETRIES[f"ExponentialBackoff(jitter={_jitter!r}).seconds(rand=)"] = Boundary(
        "rand", _drawing_from(_jittered), check=_check_wait_within(_jittered.cap)
    )


# ---- EventBus(...), bus.subscribe(...), bus middleware


async def _works_bus(bus: EventBus, clock: FakeClock, pattern: str = "t.x") -> None:
    topic = ".".join("x" if part in ("*", "**") else part for part in pattern.split("."))
    got: list[object] = []
    async with bus:
        if not bus.statistics().subscriptions:
            bus.subscribe(pattern, got.append)
        for n in range(3):
            bus.publish_nowait(n, topic=topic)
        with suppress(EventDeliveryError):  # a subscriber raised: reported, as it should be
            await bus.publish(99, topic=topic)
        await clock.advance(0)
        stats = bus.statistics()
        assert stats.published == 4
        assert stats.delivered + stats.failed + stats.dropped == 4, stats


def _works_bus_option(name: str) -> Works:
    async def works(value: Any, _: Any) -> None:
        clock = FakeClock()
        await _works_bus(EventBus(clock=clock, **{name: value}), clock)

    return works


async def _works_close_timeout(value: Any, _: Any) -> None:
    """Closing waits for a stuck delivery at most ``close_timeout``, then cancels it."""
    clock = FakeClock()
    await _works_bus(EventBus(clock=clock, close_timeout=value), clock)
    clock = FakeClock()
    bus = EventBus(clock=clock, close_timeout=value)

    async def stuck(event: object) -> None:
        await clock.sleep_until(clock.monotonic() + 1e9)

    bus.subscribe("t.x", stuck)
    bus.start()
    bus.publish_nowait(1, topic="t.x")
    await clock.advance(0)
    async with anyio.create_task_group() as group:
        group.start_soon(bus.aclose)
        await clock.advance(0)
        await clock.advance(1e9 + 1)
    assert bus.state is BusState.CLOSED


def _works_subscription(name: str) -> Works:
    async def works(value: Any, _: Any) -> None:
        clock = FakeClock()
        bus = EventBus(clock=clock)
        options: dict[str, Any] = {"pattern": "t.x", "handler": lambda event: None}
        options[name] = value
        pattern = options.pop("pattern")
        handler = options.pop("handler")
        bus.subscribe(pattern, handler, **options)
        await _works_bus(bus, clock, pattern)

    return works


def _subscribe_with(name: str) -> Callable[[Any], Any]:
    def call(value: Any) -> Any:
        options: dict[str, Any] = {"pattern": "t.x", "handler": lambda event: None}
        options[name] = value
        pattern = options.pop("pattern")
        handler = options.pop("handler")
        return EventBus(clock=FakeClock()).subscribe(pattern, handler, **options)

    return call


def _works_middleware(make: Callable[[Any], Any]) -> Works:
    async def works(value: Any, _: Any) -> None:
        clock = FakeClock()
        got: list[object] = []
        async with EventBus(clock=clock, middleware=[make(value)]) as bus:
            bus.subscribe("t.*", got.append)
            await bus.publish(1, topic="t.x")
            await bus.publish(2, topic="t.y")
        assert got == [1, 2]

    return works


def _timing(value: Any) -> TimingMiddleware:
    return TimingMiddleware(slow=value)


def _metrics(value: Any) -> MetricsMiddleware:
    return MetricsMiddleware(max_topics=value)


def _logging(value: Any) -> LoggingMiddleware:
    return LoggingMiddleware(level=value)


BUS: dict[str, Boundary] = {
    "EventBus(buffer=)": Boundary(
        "buffer", lambda value: EventBus(buffer=value), _works_bus_option("buffer")
    ),
    "EventBus(on_full=)": Boundary(
        "on_full", lambda value: EventBus(on_full=value), _works_bus_option("on_full")
    ),
    "EventBus(close_timeout=)": Boundary(
        "close_timeout", lambda value: EventBus(close_timeout=value), _works_close_timeout
    ),
    "EventBus(middleware=)": Boundary(
        "middleware", lambda value: EventBus(middleware=value), _works_bus_option("middleware")
    ),
    "EventBus(clock=)": Boundary("clock", lambda value: EventBus(clock=value)),
    "bus.subscribe(pattern=)": Boundary(
        "pattern", _subscribe_with("pattern"), _works_subscription("pattern")
    ),
    "bus.subscribe(handler=)": Boundary(
        "handler", _subscribe_with("handler"), _works_subscription("handler")
    ),
    "bus.subscribe(buffer=)": Boundary(
        "buffer", _subscribe_with("buffer"), _works_subscription("buffer")
    ),
    "bus.subscribe(on_full=)": Boundary(
        "on_full", _subscribe_with("on_full"), _works_subscription("on_full")
    ),
    "TimingMiddleware(slow=)": Boundary("slow", _timing, _works_middleware(_timing)),
    "MetricsMiddleware(max_topics=)": Boundary("max_topics", _metrics, _works_middleware(_metrics)),
    "LoggingMiddleware(level=)": Boundary("level", _logging, _works_middleware(_logging)),
}


# ---- triggers, the fake clock, runner listeners


async def _works_trigger(value: Any, trigger: Any) -> None:
    clock = FakeClock()
    async with _quiet(clock) as runner:
        try:
            await runner.schedules.add("t", ok, trigger)
        except InvalidSchedule as exc:  # add checks the timetable: refused there, typed
            refused: InvalidSchedule | None = exc
        else:
            refused = None
        if refused is not None:
            assert refused.field in ("cron", "every", "at", "timezone", "trigger"), refused
            return
        await _fire_once(runner, clock, "t")


async def _works_fake_clock(value: Any, _: Any) -> None:
    clock = FakeClock(start=value)
    _ = clock.now()
    async with _quiet(clock) as runner:
        handle = await runner.submit(nap.with_options(delay=1), 1.0)
        await _settle(runner, clock)
        assert await handle == "rested"
        _read_job_datetimes(handle.record())
    _ = clock.now()


def _jumped(value: Any) -> FakeClock:
    clock = FakeClock()
    clock.jump(value)
    return clock


def _check_clock(value: Any, clock: FakeClock) -> None:
    assert math.isfinite(clock.time())
    _ = clock.now()


async def _works_jump(value: Any, _: Any) -> None:
    clock = _jumped(value)
    async with _quiet(clock) as runner:
        handle = await runner.submit(ok)
        await _settle(runner, clock)
        assert await handle == "ok"
        _read_job_datetimes(handle.record())


def _listener_with(value: Any) -> Any:
    return JobRunner(clock=FakeClock()).subscribe(value)


def _event_types_with(value: Any) -> Any:
    return JobRunner(clock=FakeClock()).subscribe(lambda event: None, value)


async def _works_listener(value: Any, _: Any) -> None:
    clock = FakeClock()
    async with JobRunner(clock=clock) as runner:
        runner.subscribe(value)
        handle = await runner.submit(ok)
        await _settle(runner, clock)
        assert await handle == "ok"


async def _works_event_types(value: Any, _: Any) -> None:
    clock = FakeClock()
    seen: list[object] = []
    async with JobRunner(clock=clock) as runner:
        runner.subscribe(seen.append, value)
        handle = await runner.submit(ok)
        await _settle(runner, clock)
        assert await handle == "ok"


OTHERS: dict[str, Boundary] = {
    "Cron(expression=)": Boundary("cron", lambda value: Cron(value), _works_trigger),
    "Cron(timezone=)": Boundary(
        "timezone", lambda value: Cron("0 * * * *", timezone=value), _works_trigger
    ),
    "Interval(every=)": Boundary("every", Interval, _works_trigger),
    "Once(at=)": Boundary("at", Once, _works_trigger),
    "FakeClock(start=)": Boundary("start", FakeClock, _works_fake_clock),
    "FakeClock.jump(seconds=)": Boundary("seconds", _jumped, _works_jump, _check_clock),
    "runner.subscribe(listener=)": Boundary("listener", _listener_with, _works_listener),
    "runner.subscribe(*event_types)": Boundary(
        "event_types", _event_types_with, _works_event_types
    ),
}

BOUNDARIES: dict[str, Boundary] = {**RUNNER, **QUEUES, **JOBS, **RETRIES, **BUS, **OTHERS}


@dataclass
class _Accepted:
    """A value a boundary accepted, and what the call gave back."""

    value_id: str
    value: Any
    result: Any


async def _works_each(
    works: Works, accepted: list[_Accepted]
) -> dict[str, tuple[BaseException | None, _CrashLog]]:
    """Run the "works" check of each accepted value, one after another in this event loop
    (one loop for them all: a loop of its own for each would cost more than most checks);
    each is bounded in real time and has its crash log."""
    outcomes: dict[str, tuple[BaseException | None, _CrashLog]] = {}
    for item in accepted:
        error: BaseException | None = None
        with _crash_log() as log:
            try:
                with anyio.fail_after(REAL_TIME_LIMIT):
                    await works(item.value, item.result)
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                error = exc
        outcomes[item.value_id] = (error, log)
    return outcomes


def _sync_call(boundary: Boundary, value: Any) -> tuple[bool, Any]:
    """Make the call: ``(False, None)`` if it refused the value as it should, ``(True,
    result)`` if it accepted it (and the plain ``check`` passed); fails (``pytest.fail``)
    otherwise."""
    try:
        result = boundary.call(value)
    except AsyncJobsError as exc:
        _check_refusal(boundary.field, boundary.misses, exc)
        return False, None
    except Exception as exc:
        _escaped("boundary", exc)
    if boundary.check is not None:
        try:
            boundary.check(value, result)
        except Exception as exc:
            _escaped("works", exc)
    return True, result


class _Failures:
    """The failing values of one test, reported together: one line each first."""

    def __init__(self, family: str) -> None:
        self.family = family
        self.lines: list[str] = []
        self.details: list[str] = []
        self.failed: set[str] = set()

    @contextmanager
    def case(self, value_id: str) -> Iterator[None]:
        try:
            yield
        except pytest.fail.Exception as failed:
            message = str(failed.msg) if hasattr(failed, "msg") else str(failed)
            first, _, rest = message.partition("\n")
            self.failed.add(value_id)
            self.lines.append(f"{value_id}: {first}")
            self.details.append(f"--- {value_id}: {first}\n{rest}")

    def check(self) -> None:
        if self.lines:
            count = len(FAMILIES[self.family])
            summary = "\n".join(self.lines)
            pytest.fail(
                f"{len(self.lines)} of {count} {self.family} values failed:\n{summary}\n\n"
                + "\n".join(self.details),
                pytrace=False,
            )


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("boundary_id", list(BOUNDARIES))
def test_refused_with_a_typed_error_or_works(boundary_id: str, family: str) -> None:
    boundary = BOUNDARIES[boundary_id]
    failures = _Failures(family)
    accepted: list[_Accepted] = []
    for value_id, value in FAMILIES[family].items():
        with failures.case(value_id):
            taken, result = _sync_call(boundary, value)
            if taken and boundary.works is not None:
                accepted.append(_Accepted(value_id, value, result))
    for index, backend in enumerate(BACKENDS):
        expensive = boundary.expensive
        batch = [
            item
            for item in accepted
            if item.value_id not in failures.failed
            and (index == 0 or expensive is None or not expensive(item.value))
        ]
        if boundary.works is None or not batch:
            continue
        outcomes = anyio.run(_works_each, boundary.works, batch, backend=backend)
        for value_id, (error, log) in outcomes.items():
            with failures.case(value_id):
                if error is not None:
                    _escaped(f"works on {backend}", error)
                _check_crash_log(f"works on {backend}", log)
    failures.check()


# ------------------------------------------------------------- boundaries of a running runner


class _Late(Exception):
    """What went wrong after a call accepted its value, for calls that must check that it
    works inside their own task group."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class Env:
    runner: JobRunner
    clock: FakeClock
    ctx: dict[str, Any] = field(default_factory=dict)


LiveCall = Callable[[Env, Any], Awaitable[Any]]
LiveWorks = Callable[[Env, Any, Any], Awaitable[None]]


async def _nothing(env: Env) -> None:
    return None


@dataclass(frozen=True)
class Live:
    """``prepare(env)`` sets the scene with good values; ``call(env, value)`` makes the call
    under test; ``works(env, value, result)`` shows an accepted value works."""

    field: str | tuple[str, ...]
    call: LiveCall
    works: LiveWorks | None = None
    prepare: Callable[[Env], Awaitable[None]] = _nothing
    misses: tuple[type[BaseException], ...] = ()
    quiet: bool = False


async def _one_success(env: Env) -> None:
    handle = await env.runner.submit(ok)
    await _settle(env.runner, env.clock)
    env.ctx["handle"] = handle
    await env.clock.advance(100)


async def _one_dead_letter(env: Env) -> None:
    handle = await env.runner.submit(fail)
    await _settle(env.runner, env.clock)
    env.ctx["handle"] = handle
    await env.clock.advance(100)


async def _one_fresh_success(env: Env) -> None:
    handle = await env.runner.submit(ok)
    await _settle(env.runner, env.clock)
    env.ctx["handle"] = handle


async def _known_success(env: Env) -> None:
    handle = await env.runner.submit(nap.with_options(job_id="known-id", delay=5), 0.0)
    env.ctx["handle"] = handle


async def _known_dead_letter(env: Env) -> None:
    handle = await env.runner.submit(fail.with_options(job_id="known-id"))
    await _settle(env.runner, env.clock)
    env.ctx["handle"] = handle


async def _one_napping(env: Env) -> None:
    env.ctx["handle"] = await env.runner.submit(nap, 1.0)


async def _one_stepping(env: Env) -> None:
    env.ctx["handle"] = await env.runner.submit(steps, 3)


# ---- handles


async def _result_call(env: Env, value: Any) -> Any:
    handle = env.ctx["handle"]
    box: dict[str, Any] = {}

    async def wait() -> None:
        try:
            box["result"] = await handle.result(timeout=value)
        except ResultTimeout as exc:  # the outcome of a short timeout, not a refusal
            box["result"] = exc
        except Exception as exc:
            box["error"] = exc

    async with anyio.create_task_group() as group:
        group.start_soon(wait)
        await env.clock.advance(2.0)
    if "error" in box:
        raise box["error"]
    return box["result"]


async def _result_works(env: Env, value: Any, result: Any) -> None:
    timeout = _plain(value)
    if value is None or (timeout is not None and timeout > 1):
        assert result == "rested", result
    elif timeout is not None and timeout < 1:
        assert isinstance(result, ResultTimeout), result


async def _progress_call(env: Env, value: Any) -> Any:
    return env.ctx["handle"].progress(buffer=value)


async def _progress_works(env: Env, value: Any, follower: Any) -> None:
    got: list[int] = []

    async def read() -> None:
        async with follower:
            async for update in follower:
                got.append(update.sequence)

    async with anyio.create_task_group() as group:
        group.start_soon(read)
        await env.clock.advance(5)
    assert got, "the follower got nothing"
    assert got[-1] == 3, got
    assert len(got) <= 3, got


async def _on_progress_call(env: Env, value: Any) -> Any:
    return env.ctx["handle"].on_progress(value)


async def _on_progress_works(env: Env, value: Any, subscription: Any) -> None:
    await _settle(env.runner, env.clock)
    assert await env.ctx["handle"] == 3


# ---- runner methods


async def _cleanup_works(env: Env, value: Any, removed: Any) -> None:
    assert isinstance(removed, int), removed
    age = _plain(value)
    if age is not None and age < 99:
        assert removed == 1
    if age is not None and age > 101:
        assert removed == 0


async def _statistics_works(env: Env, value: Any, stats: Any) -> None:
    assert stats.overall.total == 1, stats
    assert math.isfinite(stats.since)


async def _page_works(env: Env, value: Any, page: Any) -> None:
    assert isinstance(page, JobPage), page
    assert isinstance(page.records, list)


async def _record_works(env: Env, value: Any, record: Any) -> None:
    assert str(record.id) == str(value)


async def _bool_works(env: Env, value: Any, result: Any) -> None:
    assert isinstance(result, bool)


async def _stats_dict_works(env: Env, value: Any, result: Any) -> None:
    assert isinstance(result, dict)


async def _handle_works(env: Env, value: Any, handle: Any) -> None:
    await _settle(env.runner, env.clock)
    assert handle.done()


async def _handles_works(env: Env, value: Any, handles: Any) -> None:
    await _settle(env.runner, env.clock)
    assert all(h.done() for h in handles)


async def _dead_older_works(env: Env, value: Any, page: Any) -> None:
    age = _plain(value)
    if age is not None and age < 99:
        assert len(page.records) == 1
    if age is not None and age > 101:
        assert len(page.records) == 0


async def _int_works(env: Env, value: Any, result: Any) -> None:
    assert isinstance(result, int)


RUNNING: dict[str, Live] = {
    "handle.result(timeout=)": Live("timeout", _result_call, _result_works, _one_napping),
    "handle.progress(buffer=)": Live("buffer", _progress_call, _progress_works, _one_stepping),
    "handle.on_progress(callback=)": Live(
        "callback", _on_progress_call, _on_progress_works, _one_stepping
    ),
    "runner.cleanup(older_than=)": Live(
        "older_than", lambda env, v: env.runner.cleanup(v), _cleanup_works, _one_success
    ),
    "runner.cleanup(states=)": Live(
        "states", lambda env, v: env.runner.cleanup(0, states=v), _int_works, _one_success
    ),
    "runner.list_jobs(states=)": Live(
        "states", lambda env, v: env.runner.list_jobs(states=v), _page_works, _one_success
    ),
    "runner.list_jobs(limit=)": Live(
        "limit", lambda env, v: env.runner.list_jobs(limit=v), _page_works, _one_success
    ),
    "runner.list_jobs(cursor=)": Live(
        "cursor", lambda env, v: env.runner.list_jobs(cursor=v), _page_works, _one_success
    ),
    "runner.list_jobs(queue=)": Live(
        "queue", lambda env, v: env.runner.list_jobs(queue=v), _page_works, _one_success
    ),
    "runner.list_jobs(name=)": Live(
        "name", lambda env, v: env.runner.list_jobs(name=v), _page_works, _one_success
    ),
    "runner.get_job(job_id=)": Live(
        "job_id",
        lambda env, v: env.runner.get_job(v),
        _record_works,
        _known_success,
        misses=(JobNotFound,),
    ),
    "runner.cancel(job_id=)": Live(
        "job_id",
        lambda env, v: env.runner.cancel(v),
        _bool_works,
        _known_success,
        misses=(JobNotFound,),
    ),
    "runner.submit(job=)": Live("job", lambda env, v: env.runner.submit(v), _handle_works),
    "runner.submit_many(calls=)": Live(
        "calls", lambda env, v: env.runner.submit_many(v), _handles_works
    ),
    "dead_letters.list(older_than=)": Live(
        "older_than",
        lambda env, v: env.runner.dead_letters.list(older_than=v),
        _dead_older_works,
        _one_dead_letter,
    ),
    "dead_letters.list(limit=)": Live(
        "limit",
        lambda env, v: env.runner.dead_letters.list(limit=v),
        _page_works,
        _one_dead_letter,
    ),
    "dead_letters.list(error=)": Live(
        "error",
        lambda env, v: env.runner.dead_letters.list(error=v),
        _page_works,
        _one_dead_letter,
    ),
    "dead_letters.list(queue=)": Live(
        "queue",
        lambda env, v: env.runner.dead_letters.list(queue=v),
        _page_works,
        _one_dead_letter,
    ),
    "dead_letters.list(cursor=)": Live(
        "cursor",
        lambda env, v: env.runner.dead_letters.list(cursor=v),
        _page_works,
        _one_dead_letter,
    ),
    "dead_letters.requeue_all(older_than=)": Live(
        "older_than",
        lambda env, v: env.runner.dead_letters.requeue_all(older_than=v),
        _handles_works,
        _one_dead_letter,
    ),
    "dead_letters.purge(older_than=)": Live(
        "older_than",
        lambda env, v: env.runner.dead_letters.purge(older_than=v),
        _int_works,
        _one_dead_letter,
    ),
    "dead_letters.get(job_id=)": Live(
        "job_id",
        lambda env, v: env.runner.dead_letters.get(v),
        _record_works,
        _known_dead_letter,
        misses=(JobNotFound,),
    ),
    "dead_letters.requeue(job_id=)": Live(
        "job_id",
        lambda env, v: env.runner.dead_letters.requeue(v),
        _handle_works,
        _known_dead_letter,
        misses=(JobNotFound,),
    ),
}


async def _statistics_call(env: Env, value: Any) -> Any:
    return env.runner.job_statistics(window=value)


async def _queue_statistics_call(env: Env, value: Any) -> Any:
    return env.runner.queue_statistics(value)


RUNNING["runner.job_statistics(window=)"] = Live(
    "window", _statistics_call, _statistics_works, _one_fresh_success
)
RUNNING["runner.queue_statistics(name=)"] = Live(
    "name", _queue_statistics_call, _stats_dict_works, misses=(UnknownQueue,)
)


# ---- schedules


def _add_with(name: str) -> LiveCall:
    async def call(env: Env, value: Any) -> Any:
        args: dict[str, Any] = {"name": "s", "job": ok, "trigger": "@every 10s"}
        options: dict[str, Any] = {}
        if name in args:
            args[name] = value
        else:
            options[name] = value
        if name == "timezone":
            args["trigger"] = "0 * * * *"
        return await env.runner.schedules.add(args["name"], args["job"], args["trigger"], **options)

    return call


async def _add_works(env: Env, value: Any, record: Any) -> None:
    assert isinstance(record, ScheduleRecord), record
    await _fire_once(env.runner, env.clock, record.name)


async def _misfire_grace_works(env: Env, value: Any, record: Any) -> None:
    schedules = env.runner.schedules
    await schedules.pause(record.name)
    await env.clock.advance(35)
    await schedules.resume(record.name)
    await env.clock.advance(0)
    after = await schedules.get(record.name)
    assert after.runs + after.misses >= 1, after
    await _fire_once(env.runner, env.clock, record.name)


async def _existing_schedule(env: Env) -> None:
    await env.runner.schedules.add("s", ok, "0 * * * *")


def _update_with(name: str) -> LiveCall:
    async def call(env: Env, value: Any) -> Any:
        return await env.runner.schedules.update("s", **{name: value})

    return call


async def _update_works(env: Env, value: Any, record: Any) -> None:
    await _fire_once(env.runner, env.clock, "s")


async def _list_works(env: Env, value: Any, records: Any) -> None:
    assert isinstance(records, list)


async def _get_schedule_works(env: Env, value: Any, record: Any) -> None:
    assert str(record.name) == str(value)


SCHEDULES: dict[str, Live] = {}
# A trigger's errors name what was wrong in it: the cron expression, the interval, the time.
TRIGGER_FIELDS = ("trigger", "cron", "every", "at")
for _name in (
    "name",
    "job",
    "trigger",
    "timezone",
    "start",
    "end",
    "max_runs",
    "jitter",
    "misfire",
    "overlap",
    "paused",
):
    names: str | tuple[str, ...] = TRIGGER_FIELDS if _name == "trigger" else _name
    SCHEDULES[f"schedules.add({_name}=)"] = Live(names, _add_with(_name), _add_works)
SCHEDULES["schedules.add(misfire_grace=)"] = Live(
    "misfire_grace", _add_with("misfire_grace"), _misfire_grace_works
)
SCHEDULES["schedules.add(if_exists=)"] = Live(
    "if_exists", _add_with("if_exists"), _add_works, _existing_schedule
)
for _name in ("trigger", "timezone", "jitter", "misfire_grace", "max_runs", "max_run"):
    _label = "misspelt keyword max_run" if _name == "max_run" else f"{_name}="
    SCHEDULES[f"schedules.update({_label})"] = Live(
        TRIGGER_FIELDS if _name == "trigger" else _name,
        _update_with(_name),
        _update_works,
        _existing_schedule,
    )
SCHEDULES["schedules.list(state=)"] = Live(
    "state", lambda env, v: env.runner.schedules.list(state=v), _list_works, _existing_schedule
)
SCHEDULES["schedules.get(name=)"] = Live(
    "name",
    lambda env, v: env.runner.schedules.get(v),
    _get_schedule_works,
    _existing_schedule,
    misses=(ScheduleNotFound,),
)
SCHEDULES["schedules.run_now(name=)"] = Live(
    "name",
    lambda env, v: env.runner.schedules.run_now(v),
    _handle_works,
    _existing_schedule,
    misses=(ScheduleNotFound,),
)


# ---- progress, the runner's bus, the fake clock, run_until_idle


def _report_with(name: str) -> LiveCall:
    async def call(env: Env, value: Any) -> Any:
        handle = await env.runner.submit(report, {name: value})
        await _settle(env.runner, env.clock)
        result = await handle
        if isinstance(result, _Raised):
            raise result.error
        return result

    return call


async def _report_works(env: Env, value: Any, update: Any) -> None:
    assert isinstance(update, Progress), update
    percent = update.percent
    assert percent is None or (isinstance(percent, float) and 0 <= percent <= 100), update
    _ = repr(update)


async def _publish_call(env: Env, value: Any) -> Any:
    await env.runner.bus.publish({"n": 1}, topic=value)


async def _publish_nowait_call(env: Env, value: Any) -> Any:
    env.runner.bus.publish_nowait({"n": 1}, topic=value)
    await env.clock.advance(0)


async def _advance_call(env: Env, value: Any) -> Any:
    clock = FakeClock()
    await clock.advance(value)
    return clock


async def _clock_works(env: Env, value: Any, clock: Any) -> None:
    assert math.isfinite(clock.monotonic())
    assert math.isfinite(clock.time())
    _ = clock.now()
    async with _quiet(clock) as runner:
        handle = await runner.submit(nap.with_options(delay=1), 1.0)
        await _settle(runner, clock)
        assert await handle == "rested"


async def _sleep_until_call(env: Env, value: Any) -> Any:
    clock = FakeClock()
    refused: list[Exception] = []

    async def sleeper() -> None:
        try:
            await clock.sleep_until(value)
        except Exception as exc:
            refused.append(exc)

    late: list[Exception] = []
    async with anyio.create_task_group() as group:
        group.start_soon(sleeper)
        await clock.advance(0)
        if not refused:
            try:  # accepted: the clock must be able to reach the deadline and wake the sleeper
                with anyio.fail_after(REAL_TIME_LIMIT):
                    seconds = _plain(value)
                    if seconds is not None and clock.time() + seconds > CLOCK_END:
                        # ... unless it is past the clock's range: asleep for good, as on a
                        # real clock; the clock refuses to go there
                        assert clock.next_deadline() is None, clock.next_deadline()
                        await _stays_before_the_end(clock)
                        group.cancel_scope.cancel()
                    deadline = clock.next_deadline()
                    if deadline is not None:
                        await clock.advance(max(0.0, deadline - clock.monotonic()))
                        await clock.advance(0)
                    assert not clock.next_deadline(), f"still asleep until {deadline!r}"
            except Exception as exc:
                late.append(exc)
                group.cancel_scope.cancel()
    if refused:
        raise refused[0]
    if late:
        raise _Late(late[0])
    return clock


async def _settle_call(env: Env, value: Any) -> Any:
    handle = await env.runner.submit(real_io)
    await run_until_idle(env.runner, env.clock, settle=value)
    return handle


async def _settle_works(env: Env, value: Any, handle: Any) -> None:
    assert await handle == "io"


OTHER_LIVE: dict[str, Live] = {
    **{
        f"report_progress({name}=)": Live(name, _report_with(name), _report_works)
        for name in ("percent", "done", "total", "message", "step")
    },
    "bus.publish(topic=)": Live("topic", _publish_call),
    "bus.publish_nowait(topic=)": Live("topic", _publish_nowait_call),
    "FakeClock.advance(seconds=)": Live("seconds", _advance_call, _clock_works, quiet=True),
    "FakeClock.sleep_until(deadline=)": Live(
        "deadline", _sleep_until_call, _clock_works, quiet=True
    ),
    "run_until_idle(settle=)": Live("settle", _settle_call, _settle_works, quiet=True),
}

LIVE: dict[str, Live] = {**RUNNING, **SCHEDULES, **OTHER_LIVE}


@asynccontextmanager
async def _env(quiet: bool) -> AsyncIterator[Env]:
    clock = FakeClock()
    # Two workers are plenty for the few jobs a scene has (and start and stop sooner than
    # the default ten: a runner is made for each value).
    queues = {"default": 2}
    runner = _quiet(clock, queues=queues) if quiet else JobRunner(clock=clock, queues=queues)
    async with runner:
        yield Env(runner, clock)


async def _live_case(boundary: Live, value: Any) -> None:
    """One value at one boundary of a running runner (a fresh one for each value)."""
    with _crash_log() as log:
        async with _env(boundary.quiet) as env:
            await boundary.prepare(env)
            try:
                with anyio.fail_after(REAL_TIME_LIMIT):
                    result = await boundary.call(env, value)
            except _Late as late:
                _escaped("works", late.error)
            except AsyncJobsError as exc:
                _check_refusal(boundary.field, boundary.misses, exc)
                return
            except Exception as exc:
                _escaped("boundary", exc)
            if boundary.works is not None:
                try:
                    with anyio.fail_after(REAL_TIME_LIMIT):
                        await boundary.works(env, value, result)
                except (Exception, pytest.fail.Exception) as exc:
                    _escaped("works", exc)
    _check_crash_log("works", log)


@pytest.mark.anyio
@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("boundary_id", list(LIVE))
async def test_refused_with_a_typed_error_or_works_while_running(
    boundary_id: str, family: str
) -> None:
    boundary = LIVE[boundary_id]
    failures = _Failures(family)
    for value_id, value in FAMILIES[family].items():
        with failures.case(value_id):
            await _live_case(boundary, value)
    failures.check()


# --------------------------------------------------------------------------- the harness itself


def _good_values() -> dict[str, Any]:
    """An ordinary value for each boundary that has one."""
    by_field: dict[str, Any] = {
        "timeout": 5,
        "delay": 1,
        "at": datetime(2026, 1, 1, 1, tzinfo=UTC),
        "priority": 1,
        "queue": "default",
        "name": "hostile-good-name",
        "job_id": "hostile-good-id",
        "grace_period": 1,
        "cancel_timeout": 1,
        "result_ttl": 3600,
        "dead_letter_ttl": 3600,
        "statistics_window": 600,
        "scheduler_max_sleep": 30,
        "max_workers": 2,
        "selection": "weighted",
        "drain_on_shutdown": False,
        "middleware": (),
        "registry": JobRegistry(),
        "concurrency": 2,
        "maxsize": 5,
        "on_full": "drop_newest",
        "block_timeout": 1,
        "weight": 2,
        "max_finished": 10,
        "max_dead_letters": 10,
        "remember_expired": 10,
        "retry": Retry(max_attempts=2),
        "unique": Unique(),
        "max_attempts": 2,
        "backoff": FixedBackoff(delay=2),
        "retry_on": (ConnectionError,),
        "give_up_on": (KeyError,),
        "initial": 1,
        "step": 1,
        "cap": 60,
        "unit": 1,
        "factor": 2,
        "jitter": 1,
        "seconds": 1,
        "key": "hostile-good-key",
        "ttl": 60,
        "on_conflict": "raise",
        "buffer": 4,
        "close_timeout": 1,
        "pattern": "job.*",
        "handler": lambda event: None,
        "slow": 1.0,
        "max_topics": 10,
        "level": logging.INFO,
        "cron": "0 * * * *",
        "timezone": "Europe/Berlin",
        "every": timedelta(seconds=10),
        "start": datetime(2026, 1, 1, 1, tzinfo=UTC),
        "end": datetime(2026, 1, 2, tzinfo=UTC),
        "listener": lambda event: None,
        "event_types": asyncjobs.JobSucceeded,
        "callback": lambda update: None,
        "older_than": 10,
        "states": ["succeeded"],
        "window": 60,
        "limit": 5,
        "error": "ValueError",
        "max_runs": 2,
        "misfire": "catch_up",
        "misfire_grace": 60,
        "overlap": "allow",
        "paused": True,
        "if_exists": "replace",
        "state": "active",
        "percent": 50,
        "done": 1,
        "total": 2,
        "message": "halfway",
        "deadline": 5,
        "settle": 1,
        "topic": "t.x",
        "trigger": "@every 10s",
        "job": ok,
    }
    by_id: dict[str, Any] = {
        "JobRunner(queues=)": {"default": 2, "other": QueueConfig()},
        "JobRunner(queues={name: concurrency})": 3,
        "JobRunner(queues={key: 1})": "other",
        "JobRunner(store=)": MemoryJobStore(),
        "JobRunner(clock=)": FakeClock(),
        "JobRunner(bus=)": None,
        "EventBus(middleware=)": [TimingMiddleware()],
        "@job(registry=)": JobRegistry(),
        "schedules.get(name=)": "s",
        "schedules.run_now(name=)": "s",
        "runner.queue_statistics(name=)": "default",
        "schedules.update(trigger=)": "@every 10s",
        "schedules.add(trigger=)": "@every 10s",
        "schedules.update(jitter=)": 1,
        "schedules.update(max_runs=)": 2,
        "runner.list_jobs(name=)": "tests.test_hostile_values.ok",
        "dead_letters.list(queue=)": "default",
        "report_progress(step=)": "halfway",
        "runner.get_job(job_id=)": "known-id",
        "runner.cancel(job_id=)": "known-id",
        "dead_letters.get(job_id=)": "known-id",
        "dead_letters.requeue(job_id=)": "known-id",
    }
    for cls in (FixedBackoff, LinearBackoff, ExponentialBackoff, QuadraticBackoff):
        by_id[f"{cls.__name__}(jitter=)"] = "full"
    good: dict[str, Any] = {}
    for table in (BOUNDARIES, LIVE):
        for boundary_id, boundary in table.items():
            if boundary_id in by_id:
                good[boundary_id] = by_id[boundary_id]
            elif boundary.field in by_field and boundary.works is not None:
                good[boundary_id] = by_field[boundary.field]
    return good


GOOD = _good_values()


@pytest.mark.parametrize("boundary_id", [b for b in BOUNDARIES if b in GOOD])
def test_a_good_value_is_accepted_and_works(boundary_id: str) -> None:
    """The checks above can pass: an ordinary value is accepted and passes them."""
    boundary = BOUNDARIES[boundary_id]
    value = GOOD[boundary_id]
    result = boundary.call(value)
    if boundary.check is not None:
        boundary.check(value, result)
    if boundary.works is not None:
        for backend in BACKENDS:
            anyio.run(boundary.works, value, result, backend=backend)


@pytest.mark.anyio
@pytest.mark.parametrize("boundary_id", [b for b in LIVE if b in GOOD])
async def test_a_good_value_is_accepted_and_works_while_running(boundary_id: str) -> None:
    boundary = LIVE[boundary_id]
    value = GOOD[boundary_id]
    async with _env(boundary.quiet) as env:
        await boundary.prepare(env)
        with anyio.fail_after(REAL_TIME_LIMIT):
            result = await boundary.call(env, value)
            if boundary.works is not None:
                await boundary.works(env, value, result)


def test_the_catalogue_is_large_enough() -> None:
    assert len(BOUNDARIES) + len(LIVE) >= 60
    assert len(VALUES) >= 60
