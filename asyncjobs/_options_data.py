"""A job's options as data, for a backend that keeps jobs as bytes: what another runner
needs to run the job as its submitter asked (its retry policy), and the whole options of a
schedule's job, with callables referenced by name.

The other options either go into the record at submit (queue, priority, timeout, the due
time) or act at admission only (the job id, the unique key). A retry policy crosses as a
dict of plain values: a built-in backoff strategy by its fields, a backoff function and the
exception classes of ``retry_on``/``give_up_on`` as ``"module:qualname"`` names that import
back to the same object. Anything else (a lambda, a nested function, an instance of a
strategy class of your own) is refused at submit with ``InvalidOption`` naming the field,
before anything is stored.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import attrs

from ._backoff import ExponentialBackoff, FixedBackoff, Jitter, LinearBackoff, QuadraticBackoff
from ._errors import CorruptPayload, InvalidOption
from ._options import JobOptions
from ._retry import Retry
from ._unique import OnConflict, Unique

_STRATEGIES: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (ExponentialBackoff, FixedBackoff, LinearBackoff, QuadraticBackoff)
}


def reference(field: str, value: object) -> str:
    """``"module:qualname"`` for a module-level function or class, checked to import back
    to ``value``; ``InvalidOption`` naming ``field`` for anything else."""
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        try:
            if _resolve(f"{module}:{qualname}") is value:
                return f"{module}:{qualname}"
        except (ImportError, AttributeError):
            pass
    raise InvalidOption(
        field,
        value,
        "a backend that stores jobs keeps a callable by its name: use a function or class "
        "defined at the top level of an importable module",
    )


def _resolve(name: str) -> object:
    module, _, qualname = name.partition(":")
    found: object = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def resolve(field: str, name: str) -> object:
    """The object a ``reference`` names; ``CorruptPayload`` if it is not there (any more)."""
    try:
        return _resolve(name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise CorruptPayload(field, "options", f"{name!r} does not import: {exc}") from exc


def retry_to_data(retry: Retry) -> dict[str, Any]:
    backoff = retry.backoff
    if type(backoff) in _STRATEGIES.values():
        fields = attrs.asdict(backoff)  # type: ignore[arg-type]
        fields = {key: getattr(value, "value", value) for key, value in fields.items()}
        backoff_data: dict[str, Any] = {"strategy": type(backoff).__name__, **fields}
    else:
        backoff_data = {"ref": reference("retry.backoff", backoff)}
    return {
        "max_attempts": retry.max_attempts,
        "backoff": backoff_data,
        "retry_on": [reference("retry.retry_on", cls) for cls in retry.retry_on],
        "give_up_on": [reference("retry.give_up_on", cls) for cls in retry.give_up_on],
    }


def retry_from_data(data: Mapping[str, Any]) -> Retry:
    try:
        spec = dict(data["backoff"])
        if "ref" in spec:
            backoff: Any = resolve("retry.backoff", spec["ref"])
        else:
            strategy = _STRATEGIES[spec.pop("strategy")]
            if "jitter" in spec:
                spec["jitter"] = Jitter(spec["jitter"])
            backoff = strategy(**spec)
        return Retry(
            max_attempts=data["max_attempts"],
            backoff=backoff,
            retry_on=tuple(resolve("retry.retry_on", n) for n in data["retry_on"]),
            give_up_on=tuple(resolve("retry.give_up_on", n) for n in data["give_up_on"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptPayload("retry", "options", f"not a stored retry policy: {exc}") from exc


def run_options(retry: Retry | None, *, as_data: bool) -> dict[str, object] | None:
    """What a backend keeps of a job's options for the runner that runs it (None: nothing
    beyond the record). ``as_data``: plain values (a backend of bytes); else the objects."""
    if retry is None:
        return None
    return {"retry": retry_to_data(retry) if as_data else retry}


def retry_of(options: Mapping[str, object] | None) -> Retry | None:
    """The retry policy kept with a job by ``run_options`` (None: none was kept)."""
    if options is None:
        return None
    kept = options.get("retry")
    if kept is None or isinstance(kept, Retry):
        return kept
    if not isinstance(kept, Mapping):
        raise CorruptPayload("retry", "options", f"not a stored retry policy: {kept!r}")
    return retry_from_data(kept)


def options_to_data(options: JobOptions) -> dict[str, Any]:
    """All of ``options`` as plain values (a schedule's job options, kept with it)."""
    unique = options.unique
    unique_data: dict[str, Any] | None = None
    if unique is not None:
        key = unique.key
        unique_data = {
            "key": key
            if key is None or isinstance(key, str)
            else {"ref": reference("unique.key", key)},
            "ttl": unique.ttl,
            "on_conflict": unique.on_conflict.value,
        }
    return {
        "queue": options.queue,
        "priority": options.priority,
        "timeout": options.timeout,
        "delay": options.delay,
        "at": None if options.at is None else options.at.timestamp(),
        "job_id": options.job_id,
        "retry": None if options.retry is None else retry_to_data(options.retry),
        "unique": unique_data,
    }


def options_from_data(data: Mapping[str, Any]) -> JobOptions:
    """The options ``options_to_data`` gave this dict for."""
    try:
        unique_data = data["unique"]
        unique = None
        if unique_data is not None:
            key = unique_data["key"]
            if isinstance(key, Mapping):
                key = resolve("unique.key", key["ref"])
            unique = Unique(
                key=key, ttl=unique_data["ttl"], on_conflict=OnConflict(unique_data["on_conflict"])
            )
        at = data["at"]
        return JobOptions(
            queue=data["queue"],
            priority=data["priority"],
            timeout=data["timeout"],
            delay=data["delay"],
            at=None if at is None else datetime.fromtimestamp(at, timezone.utc),
            job_id=data["job_id"],
            retry=None if data["retry"] is None else retry_from_data(data["retry"]),
            unique=unique,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptPayload("options", "options", f"not stored job options: {exc}") from exc
