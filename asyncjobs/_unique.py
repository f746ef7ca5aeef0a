"""Unique jobs: one job per key while it is queued, scheduled or running."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from . import _validation
from ._errors import InvalidOption, InvalidOptionType, echo_error


class OnConflict(str, enum.Enum):
    """What submitting a unique job does while its key is held.

    ``existing``: return the handle of the job holding the key (nothing new is created).
    ``raise``: raise ``DuplicateJob``.
    """

    EXISTING = "existing"
    RAISE = "raise"


def _on_conflict(value: Any) -> OnConflict:
    result: OnConflict = _validation.member(OnConflict, "on_conflict", value)
    return result


def _key(value: Any) -> str | Callable[..., str] | None:
    if value is None or callable(value):
        return value  # type: ignore[no-any-return]
    return _validation.name("key", value)


def _ttl(value: Any) -> float:
    return _validation.duration("ttl", value)


@attrs.frozen(kw_only=True)
class Unique:
    """Make a job unique by key: while a job with the key is queued, scheduled (also waiting
    for a retry) or running, submitting another one with that key does not create a job.

    :param key: a string; a function of the job's arguments returning one; or None (the
        default) for a key made from the job's name and the ``repr`` of its arguments.
    :param ttl: seconds a key is held at most (default one hour), so a job that runs for
        ever cannot hold its key for ever. The key is released earlier when the job ends,
        whatever the outcome.
    :param on_conflict: ``"existing"`` (default): return the holder's handle; ``"raise"``:
        raise ``DuplicateJob``.
    """

    key: str | Callable[..., str] | None = attrs.field(default=None, converter=_key)
    ttl: float = attrs.field(default=3600.0, converter=_ttl)
    on_conflict: OnConflict = attrs.field(default=OnConflict.EXISTING, converter=_on_conflict)

    def key_for(self, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
        """The key for one submit of job ``name`` with these arguments."""
        key = self.key
        if isinstance(key, str):
            return key
        if key is None:
            try:
                text = repr((args, sorted(kwargs.items())))
                if not isinstance(text, str):
                    raise TypeError(f"repr() returned {type(text).__qualname__}")
            except Exception as exc:
                raise InvalidOption(
                    "unique.key",
                    None,
                    f"the default key is made from the repr of job {name!r}'s arguments, and "
                    f"that raised {type(exc).__qualname__}: {echo_error(exc)}; give "
                    "Unique(key=...) a string or a function of the arguments",
                ) from exc
            digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
            return f"{name}:{digest}"
        try:
            made = key(*args, **kwargs)
        except Exception as exc:
            raise InvalidOption(
                "unique.key",
                key,
                f"the key function raised {type(exc).__qualname__}: {echo_error(exc)}",
            ) from exc
        if not isinstance(made, str) or not made:
            raise InvalidOptionType(
                "unique.key", made, "the key function must return a non-empty string"
            )
        return made
