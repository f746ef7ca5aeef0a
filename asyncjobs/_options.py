"""A job's options: queue, priority, timeout, delay or time, id, retry policy, unique key.

``JobOptions`` is what ``@job(...)`` and ``with_options(...)`` set; ``make_options`` checks
a change against a base (naming the field and value of a bad one) and gives the new options.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import attrs

from . import _validation
from ._errors import InvalidOption, InvalidOptionType
from ._retry import Retry
from ._unique import Unique

UNSET: Any = object()
"""An option that was not given."""


@attrs.frozen(kw_only=True)
class JobOptions:
    """Options of a job: set with ``@job(...)``, overridden per call with ``with_options``.

    ``delay`` and ``at`` are exclusive; one rule for "now" holds for both: ``delay=0`` and an
    ``at`` that has already passed run the job at once. ``job_id`` is only meaningful for a
    single submit.
    """

    queue: str = "default"
    priority: int | float = 0
    timeout: float | None = None
    delay: float | None = None
    at: datetime | None = None
    job_id: str | None = None
    retry: Retry | None = None
    unique: Unique | None = None
    # No delay, at, job_id or unique key: a submit that needs no timer, no id check and no
    # key, which the runner takes without a coroutine. Worked out once, not per submit.
    _plain: bool = attrs.field(
        init=False,
        eq=False,
        repr=False,
        default=attrs.Factory(
            lambda self: (
                self.delay is None
                and self.at is None
                and self.job_id is None
                and self.unique is None
            ),
            takes_self=True,
        ),
    )


def make_options(base: JobOptions, **changes: Any) -> JobOptions:
    """Validate ``changes`` and apply them to ``base``; unknown keys are refused."""
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if value is UNSET:
            continue
        if key == "queue":
            values[key] = _validation.name("queue", value)
        elif key == "priority":
            values[key] = _validation.priority(value)
        elif key == "timeout":
            values[key] = _validation.optional_duration(key, value)
        elif key == "delay":  # zero is "now", as an ``at`` that has passed
            values[key] = None if value is None else _validation.non_negative_duration(key, value)
        elif key == "at":
            values[key] = None if value is None else _validation.aware_datetime("at", value)
        elif key == "job_id":
            values[key] = None if value is None else _validation.name("job_id", value)
        elif key == "retry":
            if value is not None and not isinstance(value, Retry):
                raise InvalidOptionType("retry", value, "expected a Retry(...) or None")
            values[key] = value
        elif key == "unique":
            if value is not None and not isinstance(value, Unique):
                raise InvalidOptionType("unique", value, "expected a Unique(...) or None")
            values[key] = value
        else:  # pragma: no cover - guarded by the typed signatures
            raise InvalidOption(key, value, "unknown option")
    options = attrs.evolve(base, **values)
    if options.delay is not None and options.at is not None:
        raise InvalidOption("at", options.at, "give either delay= or at=, not both")
    return options


def after(start: float, delay: float) -> float:
    """The time ``delay`` seconds after ``start`` (epoch seconds), never earlier: a sum
    rounded down to the nearest float (a delay below the timestamp's resolution) is moved
    up to the next one, so a job due then never starts early."""
    when = start + delay
    if when - start < delay:
        when = math.nextafter(when, math.inf)
    return when


def due(options: JobOptions, created_at: float) -> tuple[float | None, float | None]:
    """When a job submitted at ``created_at`` (epoch seconds) is due: the time its record
    keeps (``scheduled_for``; None without a ``delay`` or ``at``), and the seconds to wait
    until then (None: it is due now, as with ``delay=0`` or an ``at`` that has passed)."""
    if options.delay is not None:
        return after(created_at, options.delay), options.delay or None
    if options.at is not None:
        at = options.at.timestamp()
        return at, at - created_at if at > created_at else None
    return None, None
