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
    """Where a sequence writer's session is: ``SequenceWriter.status``."""

    Pending = "pending"  # not started, or open and taking topics
    Finalized = "finalized"  # every topic closed, the session finalized (immutable)
    Failed = "failed"  # ended by an error; with Report, what was uploaded is kept
    Deleted = "deleted"  # ended by an error under Delete: the session is gone


class TopicWriterStatus(str, Enum):
    """How a topic writer fares: ``TopicWriter.status`` (derived from its state)."""

    Active = "active"  # open, nothing went wrong
    Finalized = "finalized"  # closed, every row pushed was sent
    FinalizedWithError = "finalized_with_error"  # closed after an upload error or `fail`
    IgnoredLastError = "ignored_last_error"  # the Ignore policy swallowed an error
    RecordTooLarge = "record_too_large"  # a record over the transport limit was dropped
    Failed = "failed"  # the upload failed; the writer waits to be closed
