"""Error policies of writers (spec §13.3, §13.4) and writer states, named like the reference."""

from __future__ import annotations

from enum import Enum


class SessionLevelErrorPolicy(str, Enum):
    """What a sequence writer does with its session when the ``with`` block fails."""

    Report = "report"  # notify, then finalize what was uploaded
    Delete = "delete"  # delete the session (and a sequence created by this writer)


class TopicLevelErrorPolicy(str, Enum):
    """What a topic writer used as a context manager does when its block fails."""

    Raise = "raise"  # propagate to the session policy
    Finalize = "finalize"  # notify, close the topic without flushing, suppress the error
    Ignore = "ignore"  # notify, keep the topic open, suppress the error


class SessionStatus(str, Enum):
    Pending = "pending"
    Finalized = "finalized"
    Failed = "failed"
    Deleted = "deleted"


class TopicWriterStatus(str, Enum):
    Active = "active"
    Finalized = "finalized"
    FinalizedWithError = "finalized_with_error"
    IgnoredLastError = "ignored_last_error"
    RecordTooLarge = "record_too_large"
    Failed = "failed"
