from __future__ import annotations

import asyncjobs
import asyncjobs.testing

EXPECTED = {
    "Cron",
    "IfExists",
    "Interval",
    "InvalidSchedule",
    "Misfire",
    "Once",
    "Overlap",
    "ScheduleAdded",
    "ScheduleEvent",
    "ScheduleExists",
    "ScheduleFired",
    "ScheduleMissed",
    "ScheduleNotFound",
    "SchedulePaused",
    "ScheduleRecord",
    "ScheduleRemoved",
    "ScheduleResumed",
    "ScheduleState",
    "ScheduleStore",
    "ScheduleUpdated",
    "SchedulerStatistics",
    "Schedules",
    "BusState",
    "BusStatistics",
    "BusSubscription",
    "Delivery",
    "EventBus",
    "OnFull",
    "SubscriptionStatistics",
    "FilterMiddleware",
    "LoggingMiddleware",
    "MetricsMiddleware",
    "RecoveryMiddleware",
    "TimingMiddleware",
    "TopicMetrics",
    "BusNotRunning",
    "CallNextTwice",
    "EventDeliveryError",
    "NotInJob",
    "JobDeadLettered",
    "JobProgressed",
    "JobMiddleware",
    "SkipJob",
    "Progress",
    "ProgressFollower",
    "ProgressSubscription",
    "report_progress",
    "DeadLetters",
    "JobStatistics",
    "WindowStatistics",
    "JobStateError",
    "ResultExpired",
    "DuplicateJob",
    "OnConflict",
    "Unique",
    "Attempt",
    "Backoff",
    "ExponentialBackoff",
    "FixedBackoff",
    "Jitter",
    "JobRetried",
    "LinearBackoff",
    "QuadraticBackoff",
    "Retry",
    "RetryAfter",
    "SkipRetry",
    "AsyncJob",
    "AsyncJobsError",
    "Clock",
    "DuplicateJobId",
    "DuplicateJobName",
    "InvalidArguments",
    "InvalidJob",
    "InvalidOption",
    "InvalidOptionType",
    "JobCall",
    "JobCancelled",
    "JobCancelledEvent",
    "JobDefinition",
    "JobEnded",
    "JobEvent",
    "JobFailed",
    "JobHandle",
    "JobAborted",
    "JobInterrupted",
    "JobNestingError",
    "UnencodablePayload",
    "CorruptPayload",
    "EncodingStore",
    "JobDeadlock",
    "JobInterruptedEvent",
    "JobNotFound",
    "JobOptions",
    "JobOutcomeError",
    "JobPage",
    "JobRecord",
    "JobRegistry",
    "JobRejected",
    "JobRejectedEvent",
    "JobRunner",
    "JobStarted",
    "JobState",
    "JobStore",
    "JobSubmitted",
    "JobSucceeded",
    "JobTimedOut",
    "MemoryJobStore",
    "PoolStatistics",
    "QueueConfig",
    "QueueFull",
    "QueueStatistics",
    "RemoteJobError",
    "RejectPolicy",
    "FullQueuePolicy",
    "FullQueue",
    "Decision",
    "ResultTimeout",
    "RunnerNotRunning",
    "RunnerState",
    "Selection",
    "ShutdownReport",
    "Subscription",
    "SyncJob",
    "SystemClock",
    "TRANSITIONS",
    "UnknownQueue",
    "WrongEventLoop",
    "__version__",
    "current_job",
    "current_runner",
    "job",
}


def test_public_names_are_pinned() -> None:
    assert set(asyncjobs.__all__) == EXPECTED
    assert len(asyncjobs.__all__) == len(EXPECTED)
    for name in asyncjobs.__all__:
        assert hasattr(asyncjobs, name), name


def test_testing_helpers_are_public() -> None:
    assert set(asyncjobs.testing.__all__) == {"FakeClock", "OutcomeRecorder", "run_until_idle"}


def test_every_error_derives_from_the_root() -> None:
    errors = [
        getattr(asyncjobs, name)
        for name in asyncjobs.__all__
        if isinstance(getattr(asyncjobs, name), type)
        and issubclass(getattr(asyncjobs, name), BaseException)
    ]
    assert len(errors) == 37
    for error in errors:
        assert issubclass(error, asyncjobs.AsyncJobsError), error


def test_every_public_name_is_documented() -> None:
    for name in asyncjobs.__all__:
        obj = getattr(asyncjobs, name)
        if callable(obj) and not isinstance(obj, str):
            assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
