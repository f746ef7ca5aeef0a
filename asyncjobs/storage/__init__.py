"""Storage backends: ``MemoryJobStore`` keeps job records (the protocol is
``asyncjobs.abc.JobStore``); ``MemoryBackend`` also coordinates their work
(``asyncjobs.abc.Backend``)."""

from .memory import MemoryJobStore
from .memory_backend import MemoryBackend

__all__ = ["MemoryBackend", "MemoryJobStore"]
