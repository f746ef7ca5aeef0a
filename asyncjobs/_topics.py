"""Dotted topic names and the patterns that select them.

A topic is one or more dot-separated segments of letters, digits, ``_`` and ``-``
(``post.published``, ``job.failed``). A pattern is a topic whose segments may also be ``*``
(exactly one segment) or ``**`` (any number of segments, none included): ``job.*`` selects
``job.failed`` but not ``job`` or ``job.a.b``; ``job.**`` selects all three; ``**`` selects
everything. Wildcards are whole segments only (``a*b`` is refused).

Both are bounded, since they may come from configuration or from users: at most
``MAX_LENGTH`` characters and ``MAX_SEGMENTS`` segments, refused with ``InvalidOption``
otherwise. Matching never backtracks: ``match_steps`` walks the topic's segments once,
keeping the set of pattern positions still alive (a pattern is a tiny automaton), so its
work is at most ``(pattern segments + 1) * (topic segments + 1)`` steps, whatever the
wildcards (``**.**.**.x`` against a long topic included).
"""

from __future__ import annotations

import re
from typing import Any

from ._errors import InvalidOption, InvalidOptionType

MAX_LENGTH = 256
"""The most characters a topic or a pattern may have."""

MAX_SEGMENTS = 32
"""The most dot-separated segments a topic or a pattern may have."""

_ECHO = 64  # characters of a refused value that its error message repeats

_SEGMENT = re.compile(r"[A-Za-z0-9_\-]+\Z")


def _echo(value: str) -> str:
    """The start of a refused value, short enough to repeat in an error message."""
    return value if len(value) <= _ECHO else value[:_ECHO] + "..."


def _split(field: str, value: str, what: str) -> list[str]:
    """``value``'s segments, once its length and number of segments are within bounds."""
    if len(value) > MAX_LENGTH:
        raise InvalidOption(
            field,
            _echo(value),
            f"a {what} has at most {MAX_LENGTH} characters; this one has {len(value)}",
        )
    segments = value.split(".")  # at most MAX_LENGTH characters: cheap
    if len(segments) > MAX_SEGMENTS:
        raise InvalidOption(
            field,
            _echo(value),
            f"a {what} has at most {MAX_SEGMENTS} dot-separated segments; this one has "
            f"{len(segments)}",
        )
    return segments


def topic(field: str, value: Any) -> str:
    """A valid topic name, without wildcards."""
    if not isinstance(value, str):
        raise InvalidOptionType(field, value, "expected a dotted topic name like 'post.published'")
    for segment in _split(field, value, "topic"):
        if not _SEGMENT.match(segment):
            raise InvalidOption(
                field,
                value,
                "expected dot-separated segments of letters, digits, '_' and '-' "
                "(wildcards only in subscription patterns)",
            )
    return value


def pattern(field: str, value: Any) -> tuple[str, ...]:
    """A valid pattern, split into segments (a run of ``**`` kept as one: same meaning)."""
    if not isinstance(value, str):
        raise InvalidOptionType(field, value, "expected a topic pattern such as 'job.*'")
    segments: list[str] = []
    for segment in _split(field, value, "pattern"):
        if segment not in ("*", "**") and not _SEGMENT.match(segment):
            raise InvalidOption(
                field,
                value,
                "expected dot-separated segments of letters, digits, '_' and '-', "
                "or the wildcards '*' (one segment) and '**' (any number); a wildcard is a "
                "whole segment",
            )
        if segment == "**" and segments and segments[-1] == "**":
            continue
        segments.append(segment)
    return tuple(segments)


def matches(segments: tuple[str, ...], name: str) -> bool:
    """Whether the pattern ``segments`` selects the topic ``name``."""
    if "**" not in segments:
        parts = name.split(".")
        return len(parts) == len(segments) and all(
            want == "*" or want == part for want, part in zip(segments, parts, strict=True)
        )
    return match_steps(segments, name)[0]


def match_steps(segments: tuple[str, ...], name: str) -> tuple[bool, int]:
    """Whether ``segments`` selects ``name``, and the steps it took to tell (one step is one
    pattern position tried against one topic segment, or the final check).

    ``alive`` is the set of pattern positions the topic's segments so far can have reached,
    as flags: each topic segment moves every live position on at most once, so no segment
    is ever looked at twice for one position. A ``**`` position stays alive (it takes the
    segment) and also lets the next position be alive (it takes none)."""
    size = len(segments)
    steps = 0
    alive = _closure(segments, [True] + [False] * size)
    for part in name.split("."):
        after = [False] * (size + 1)
        for i in range(size):
            if not alive[i]:
                continue
            steps += 1
            want = segments[i]
            if want == "**":
                after[i] = True
            elif want == "*" or want == part:
                after[i + 1] = True
        alive = _closure(segments, after)
        if not any(alive):
            return False, steps
    return alive[size], steps + 1


def _closure(segments: tuple[str, ...], alive: list[bool]) -> list[bool]:
    """``alive`` with every position a live ``**`` may skip to (it can take no segment)."""
    for i, want in enumerate(segments):
        if want == "**" and alive[i]:
            alive[i + 1] = True
    return alive
