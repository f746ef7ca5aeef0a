"""Retention: records of finished jobs are removed once they are older than their TTL.

A sweep runs every tenth of the shorter retention time (at least every minute, at most
every second) and asks the store to ``expire`` what is past ``result_ttl`` (jobs that did
not fail) and ``dead_letter_ttl`` (dead letters). ``cleanup`` does the same on demand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from . import _validation
from ._core import Core
from ._states import TERMINAL_STATES, JobState
from ._timers import TimerService

logger = logging.getLogger("asyncjobs")

_FAILED = JobState.FAILED


class Retention:
    """Removes one runner's expired records."""

    def __init__(
        self,
        core: Core,
        timers: TimerService,
        result_ttl: float | None,
        dead_letter_ttl: float | None,
    ) -> None:
        self._core = core
        self._timers = timers
        self._result_ttl = result_ttl
        self._dead_letter_ttl = dead_letter_ttl
        ttls = [t for t in (result_ttl, dead_letter_ttl) if t is not None]
        self._interval = None if not ttls else min(60.0, max(1.0, min(ttls) / 10))

    def start(self) -> None:
        """Sweep an interval from now, and every interval after that."""
        if self._interval is not None:
            self._timers.call_at(self._core.clock.monotonic() + self._interval, self._sweep)

    async def _sweep(self) -> None:
        """Remove records past their retention time, then come back in an interval."""
        store = self._core.store
        try:
            now = self._core.clock.time()
            if self._result_ttl is not None:
                await store.expire(
                    finished_before=now - self._result_ttl, states=TERMINAL_STATES - {_FAILED}
                )
            if self._dead_letter_ttl is not None:
                await store.expire(finished_before=now - self._dead_letter_ttl, states=(_FAILED,))
        except Exception:
            logger.exception("store failed to remove expired records; trying again later")
        finally:
            self.start()

    async def cleanup(
        self, older_than: float | timedelta, states: Iterable[JobState | str] | None
    ) -> int:
        """See ``JobRunner.cleanup``."""
        age = _validation.non_negative_duration("older_than", older_than)
        wanted = (
            None if states is None else _validation.states("states", states, terminal_only=True)
        )
        return await self._core.store.expire(
            finished_before=self._core.clock.time() - age, states=wanted
        )
