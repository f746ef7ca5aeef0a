"""Dotted topic names and the patterns that select them.

A topic is one or more dot-separated segments of letters, digits, ``_`` and ``-``
(``post.published``, ``job.failed``). A pattern is a topic whose segments may also be ``*``
(exactly one segment) or ``**`` (any number of segments, none included): ``job.*`` selects
``job.failed`` but not ``job`` or ``job.a.b``; ``job.**`` selects all three; ``**`` selects
everything.
"""

from __future__ import annotations

import re
from typing import Any

from ._errors import InvalidOption, InvalidOptionType

_SEGMENT = re.compile(r"[A-Za-z0-9_\-]+\Z")


def topic(field: str, value: Any) -> str:
    """A valid topic name, without wildcards."""
    if not isinstance(value, str):
        raise InvalidOptionType(field, value, "expected a dotted topic name like 'post.published'")
    for segment in value.split("."):
        if not _SEGMENT.match(segment):
            raise InvalidOption(
                field,
                value,
                "expected dot-separated segments of letters, digits, '_' and '-' "
                "(wildcards only in subscription patterns)",
            )
    return value


def pattern(field: str, value: Any) -> tuple[str, ...]:
    """A valid pattern, split into segments."""
    if not isinstance(value, str):
        raise InvalidOptionType(field, value, "expected a topic pattern such as 'job.*'")
    segments = tuple(value.split("."))
    for segment in segments:
        if segment not in ("*", "**") and not _SEGMENT.match(segment):
            raise InvalidOption(
                field,
                value,
                "expected dot-separated segments of letters, digits, '_' and '-', "
                "or the wildcards '*' (one segment) and '**' (any number)",
            )
    return segments


def matches(segments: tuple[str, ...], name: str) -> bool:
    """Whether the pattern ``segments`` selects the topic ``name``."""
    parts = name.split(".")
    if "**" not in segments:
        return len(parts) == len(segments) and all(
            want == "*" or want == part for want, part in zip(segments, parts, strict=True)
        )
    return _match_from(segments, 0, parts, 0)


def _match_from(segments: tuple[str, ...], i: int, parts: list[str], j: int) -> bool:
    while i < len(segments):
        want = segments[i]
        if want == "**":
            return any(_match_from(segments, i + 1, parts, k) for k in range(j, len(parts) + 1))
        if j == len(parts) or (want != "*" and want != parts[j]):
            return False
        i += 1
        j += 1
    return j == len(parts)
