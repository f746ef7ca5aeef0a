"""A job's error keeps the traceback of the job's own code, not the engine's frames.

The exception a job raised is kept on its handle (``await handle`` raises it) and its
traceback is written into the record. Caught in the worker, its traceback starts with the
worker's own frame and the event loop's and asyncjobs' frames between it and the job's
function. Those frames hold the job's handle, which holds the exception: a reference cycle
that only the cycle collector frees (with it off, every failed job's exception, traceback
and frames stay alive). ``trim`` drops those leading frames, so the traceback starts at the
job's function and the engine's frames are freed when they end.
"""

from __future__ import annotations

from types import TracebackType

_ENGINE = frozenset(
    {"asyncjobs", "anyio", "trio", "outcome", "asyncio", "concurrent", "threading", "sniffio"}
)


def _is_engine(tb: TracebackType) -> bool:
    module = tb.tb_frame.f_globals.get("__name__")
    if not isinstance(module, str):
        return False
    return module.partition(".")[0] in _ENGINE


def trim(error: BaseException) -> BaseException:
    """Drop the leading engine frames from ``error``'s traceback (and its cause's and
    context's); keep the last frame if every frame is the engine's (an error asyncjobs
    raised itself). Returns ``error``."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None and tb.tb_next is not None and _is_engine(tb):
            tb = tb.tb_next
        if tb is not current.__traceback__:
            current.__traceback__ = tb
        current = current.__cause__ or current.__context__
    return error
