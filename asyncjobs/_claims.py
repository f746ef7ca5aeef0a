"""Unique keys and the jobs holding them (``@job(unique=...)``).

A key is claimed before the first await of a submit, so two concurrent submits of one key
can never both create a job. While its holder is still being admitted (a store write, a
full queue), other submitters of the key wait on the claim's event, then look again.
A key is free again when its holder ends, or when its hold (``Unique.ttl``) runs out.
"""

from __future__ import annotations

from typing import Any

from ._core import Core
from ._handle import JobHandle
from ._spawn import Event


class Claim:
    """A unique key's holder: the job, until when (monotonic), and while it is still being
    admitted, an event that is set once admission has succeeded or failed."""

    __slots__ = ("handle", "expires", "admitting")

    def __init__(self, handle: JobHandle[Any], expires: float, admitting: Event | None) -> None:
        self.handle = handle
        self.expires = expires
        self.admitting = admitting


class Claims:
    """The unique keys held by the jobs of one runner."""

    def __init__(self, core: Core) -> None:
        self._monotonic = core.clock.monotonic
        self._core = core  # its event factory is set when the runner starts
        # Unique keys -> the job holding each; and the other way round, for release.
        self.holders: dict[str, Claim] = {}
        self.keys: dict[JobHandle[Any], str] = {}

    def holder(self, key: str) -> Claim | None:
        """The job holding a unique key, unless it has ended or its hold has run out."""
        held = self.holders.get(key)
        if held is None or held.handle._done or held.expires <= self._monotonic():
            return None
        return held

    def claim(self, handle: JobHandle[Any], key: str, ttl: float) -> Claim:
        """Let ``handle`` hold ``key`` while it is admitted (no await here)."""
        held = Claim(handle, self._monotonic() + ttl, self._core.new_event())
        self.holders[key] = held
        self.keys[handle] = key
        return held

    def claim_of(self, handle: JobHandle[Any]) -> Claim | None:
        """The claim ``handle`` holds, if any."""
        key = self.keys.get(handle)
        return None if key is None else self.holders.get(key)

    @staticmethod
    def admitted(held: Claim) -> None:
        """Admission of the key's holder is settled: let waiting submitters look again."""
        admitting, held.admitting = held.admitting, None
        if admitting is not None:
            admitting.set()

    def release(self, handle: JobHandle[Any]) -> None:
        """The job ended (or was never accepted): free its unique key if it still holds it."""
        key = self.keys.pop(handle, None)
        if key is not None:
            held = self.holders.get(key)
            if held is not None and held.handle is handle:
                del self.holders[key]
