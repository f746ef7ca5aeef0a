"""Which runner may fire each due schedule: claims that run out, for the memory backend.

A runner claims the schedules that are due and not claimed by another (or whose claim ran
out), fires them, and releases each claim with the schedule as it left it. A release with a
claim that is not the one held (it ran out and another runner claimed the schedule) is
refused, so one slot fires once however many runners share the backend.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from .._coordination import ScheduleClaim
from .._schedule import ScheduleRecord


class ScheduleClaims:
    """The claims held on schedules, by schedule name."""

    def __init__(self) -> None:
        self._held: dict[str, ScheduleClaim] = {}
        self._tokens = itertools.count(1)

    def acquire(
        self, schedules: Iterable[ScheduleRecord], now: float, owner: str, lease: float
    ) -> list[ScheduleClaim]:
        """Claim, for ``owner``, each of ``schedules`` due at ``now`` that nobody holds."""
        claims: list[ScheduleClaim] = []
        for record in schedules:
            if record.paused or record.next_run_at is None or record.next_run_at > now:
                continue
            held = self._held.get(record.name)
            if held is not None and held.expires_at > now:
                continue
            claim = ScheduleClaim(record.snapshot(), owner, next(self._tokens), now + lease)
            self._held[record.name] = claim
            claims.append(claim)
        return claims

    def release(self, claim: ScheduleClaim, record: ScheduleRecord) -> bool:
        """Let go of ``claim``, released with ``record``: False if it is not the one held."""
        held = self._held.get(claim.name)
        if held is None or held.token != claim.token or record.name != claim.name:
            return False
        del self._held[claim.name]
        return True

    def drop(self, name: str) -> None:
        """The schedule is gone: so is any claim on it."""
        self._held.pop(name, None)
