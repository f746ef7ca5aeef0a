"""Storage backends for job records; the protocol is ``asyncjobs.abc.JobStore``."""

from .memory import MemoryJobStore

__all__ = ["MemoryJobStore"]
