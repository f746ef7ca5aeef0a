"""Job statistics over a sliding time window, per job name and per queue.

Finished records are batched on the hot path (one list append a job) and folded into time
slots when the batch fills or someone asks. A slot (a six-hundredth of the longest window)
holds one cell per (name, queue): exact counts, the exact sum of run times, and the first
256 run times as a sample for percentiles. Slots older than the longest window are dropped,
so memory is bounded: 600 slots times the distinct (name, queue) pairs times about 2 KB.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import attrs

from . import _validation
from ._errors import InvalidOption
from ._record import JobRecord
from ._states import JobState

_SLOTS = 600  # slots in the longest window
_BATCH = 512  # finished records folded in at once
_SAMPLES = 256  # run times kept per cell for percentiles
_SUCCEEDED = JobState.SUCCEEDED
_FAILED = JobState.FAILED


@attrs.frozen(kw_only=True)
class WindowStatistics:
    """Jobs that finished within a window, and the run times of those that ran to an end.

    ``total`` counts every job that reached a terminal state (cancelled, interrupted and
    rejected ones too); ``succeeded`` and ``failed`` the two outcomes of a run; ``retried``
    the failed attempts that were retried. ``success_rate`` is succeeded / (succeeded +
    failed), None when neither happened. ``mean``, ``p50`` and ``p95`` are the run times in
    seconds of the last attempt of succeeded and failed jobs (None without any).
    """

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    success_rate: float | None = None
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None


@attrs.frozen(kw_only=True)
class JobStatistics:
    """``JobRunner.job_statistics()``: one window, overall, per job name and per queue.

    ``since`` is the wall-clock start of the window as counted: the window is rounded out to
    whole slots (a six-hundredth of the runner's ``statistics_window``)."""

    window: float
    since: float
    overall: WindowStatistics
    by_name: Mapping[str, WindowStatistics]
    by_queue: Mapping[str, WindowStatistics]


class _Cell:
    """Counts and run times of one (name, queue) in one slot."""

    __slots__ = ("ended", "succeeded", "failed", "retried", "run_time", "samples")

    def __init__(self) -> None:
        self.ended = 0
        self.succeeded = 0
        self.failed = 0
        self.retried = 0
        self.run_time = 0.0
        self.samples: list[float] = []

    def add(self, other: _Cell) -> None:
        self.ended += other.ended
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.retried += other.retried
        self.run_time += other.run_time
        self.samples += other.samples

    def summary(self) -> WindowStatistics:
        runs = self.succeeded + self.failed
        if not runs:
            return WindowStatistics(total=self.ended, retried=self.retried)
        samples = sorted(self.samples)
        return WindowStatistics(
            total=self.ended,
            succeeded=self.succeeded,
            failed=self.failed,
            retried=self.retried,
            success_rate=self.succeeded / runs,
            mean=self.run_time / runs,
            p50=_percentile(samples, 0.50),
            p95=_percentile(samples, 0.95),
        )


def _percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of a sorted, non-empty sample."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class StatisticsWindow:
    """The runner's collector. ``note`` is on the hot path: keep it an append."""

    def __init__(self, longest: float) -> None:
        self.longest = longest
        self._width = longest / _SLOTS
        self._slots: dict[int, dict[tuple[str, str], _Cell]] = {}
        self._newest = -(2**62)
        self.pending: list[JobRecord] = []

    def note_retry(self, name: str, queue: str, now: float) -> None:
        self._cell(int(now // self._width), name, queue).retried += 1

    def fold(self) -> None:
        """Fold the pending finished records into their slots.

        Runs of records with the same slot, name and queue are gathered first and added to
        their cell at once, which keeps the loop lean."""
        pending = self.pending
        width = self._width
        index: float | None = None
        name = queue = ""
        run_times: list[float] = []
        ended = 0
        succeeded = 0
        for record in pending:
            finished = record.finished_at
            assert finished is not None
            if finished // width != index or record.name is not name or record.queue is not queue:
                if ended:
                    self._add_run(index, name, queue, ended, succeeded, run_times)
                    run_times = []
                    ended = succeeded = 0
                index = finished // width
                name = record.name
                queue = record.queue
            ended += 1
            state = record.state
            if state is _SUCCEEDED:
                succeeded += 1
            elif state is not _FAILED:
                continue
            run_times.append(finished - record.started_at)  # type: ignore[operator]
        if ended:
            self._add_run(index, name, queue, ended, succeeded, run_times)
        pending.clear()

    def _add_run(
        self,
        index: float | None,
        name: str,
        queue: str,
        ended: int,
        succeeded: int,
        run_times: list[float],
    ) -> None:
        assert index is not None
        cell = self._cell(int(index), name, queue)
        cell.ended += ended
        cell.succeeded += succeeded
        cell.failed += len(run_times) - succeeded
        if run_times:
            cell.run_time += math.fsum(run_times)
            room = _SAMPLES - len(cell.samples)
            if room > 0:
                cell.samples += run_times[:room]

    def _slot(self, index: int) -> dict[tuple[str, str], _Cell]:
        cells = self._slots.get(index)
        if cells is None:
            cells = self._slots[index] = {}
            if index > self._newest:
                self._newest = index
                oldest = index - _SLOTS
                for stale in [i for i in self._slots if i <= oldest]:
                    del self._slots[stale]
        return cells

    def _cell(self, index: int, name: str, queue: str) -> _Cell:
        cells = self._slot(index)
        cell = cells.get((name, queue))
        if cell is None:
            cell = cells[(name, queue)] = _Cell()
        return cell

    def report(self, window: Any, now: float) -> JobStatistics:
        seconds = _validation.duration("window", window)
        if seconds > self.longest:
            raise InvalidOption(
                "window",
                window,
                f"longer than the {self.longest:g} seconds kept (JobRunner statistics_window)",
            )
        self.fold()
        first = int((now - seconds) // self._width)
        overall = _Cell()
        by_name: dict[str, _Cell] = {}
        by_queue: dict[str, _Cell] = {}
        for index, cells in self._slots.items():
            if index < first:
                continue
            for (name, queue), cell in cells.items():
                overall.add(cell)
                by_name.setdefault(name, _Cell()).add(cell)
                by_queue.setdefault(queue, _Cell()).add(cell)
        return JobStatistics(
            window=seconds,
            since=first * self._width,
            overall=overall.summary(),
            by_name=_summaries(by_name.items()),
            by_queue=_summaries(by_queue.items()),
        )


def _summaries(cells: Iterable[tuple[str, _Cell]]) -> dict[str, WindowStatistics]:
    return {key: cell.summary() for key, cell in sorted(cells, key=lambda item: item[0])}


def longest_window(value: float | timedelta | None) -> StatisticsWindow | None:
    if value is None:
        return None
    # Smaller windows would make slots too narrow to count in (a tiny one: zero wide).
    return StatisticsWindow(
        _validation.duration_at_least("statistics_window", value, 1.0, "second")
    )
