"""asyncjobs: in-process background jobs for asyncio and trio programs.

No broker, no worker process: decorate with ``@job``, submit inside
``async with JobRunner() as runner:``, and ``await`` the handle for the result.
"""

from ._backoff import (
    Backoff,
    ExponentialBackoff,
    FixedBackoff,
    Jitter,
    LinearBackoff,
    QuadraticBackoff,
)
from ._clock import Clock, SystemClock
from ._dead_letters import DeadLetters
from ._definition import AsyncJob, JobCall, JobDefinition, JobOptions, JobRegistry, SyncJob, job
from ._errors import (
    AsyncJobsError,
    DuplicateJob,
    DuplicateJobId,
    DuplicateJobName,
    InvalidArguments,
    InvalidJob,
    InvalidOption,
    InvalidOptionType,
    JobCancelled,
    JobInterrupted,
    JobNotFound,
    JobOutcomeError,
    JobRejected,
    JobStateError,
    JobTimedOut,
    QueueFull,
    ResultExpired,
    ResultTimeout,
    RunnerNotRunning,
    UnknownQueue,
)
from ._events import (
    JobCancelledEvent,
    JobEnded,
    JobEvent,
    JobFailed,
    JobInterruptedEvent,
    JobRejectedEvent,
    JobRetrying,
    JobStarted,
    JobSubmitted,
    JobSucceeded,
    Subscription,
)
from ._handle import JobHandle
from ._queue import QueueConfig, QueueStatistics, RejectPolicy
from ._record import Attempt, JobRecord
from ._retry import Retry, RetryAfter, SkipRetry
from ._runner import (
    JobRunner,
    PoolStatistics,
    RunnerState,
    Selection,
    ShutdownReport,
    current_job,
    current_runner,
)
from ._states import TRANSITIONS, JobState
from ._stats import JobStatistics, WindowStatistics
from ._unique import OnConflict, Unique
from .abc import JobPage, JobStore
from .storage import MemoryJobStore

__version__ = "0.1.0"

__all__ = [
    "AsyncJob",
    "AsyncJobsError",
    "Attempt",
    "Backoff",
    "Clock",
    "DeadLetters",
    "DuplicateJob",
    "DuplicateJobId",
    "DuplicateJobName",
    "ExponentialBackoff",
    "FixedBackoff",
    "InvalidArguments",
    "InvalidJob",
    "InvalidOption",
    "InvalidOptionType",
    "Jitter",
    "JobCall",
    "JobCancelled",
    "JobCancelledEvent",
    "JobDefinition",
    "JobEnded",
    "JobEvent",
    "JobFailed",
    "JobHandle",
    "JobInterrupted",
    "JobInterruptedEvent",
    "JobNotFound",
    "JobOptions",
    "JobOutcomeError",
    "JobPage",
    "JobRecord",
    "JobRegistry",
    "JobRejected",
    "JobRejectedEvent",
    "JobRetrying",
    "JobRunner",
    "JobStarted",
    "JobState",
    "JobStateError",
    "JobStatistics",
    "JobStore",
    "JobSubmitted",
    "JobSucceeded",
    "JobTimedOut",
    "LinearBackoff",
    "MemoryJobStore",
    "OnConflict",
    "PoolStatistics",
    "QuadraticBackoff",
    "QueueConfig",
    "QueueFull",
    "QueueStatistics",
    "RejectPolicy",
    "ResultExpired",
    "ResultTimeout",
    "Retry",
    "RetryAfter",
    "RunnerNotRunning",
    "RunnerState",
    "Selection",
    "ShutdownReport",
    "SkipRetry",
    "Subscription",
    "SyncJob",
    "SystemClock",
    "TRANSITIONS",
    "Unique",
    "UnknownQueue",
    "WindowStatistics",
    "__version__",
    "current_job",
    "current_runner",
    "job",
]
