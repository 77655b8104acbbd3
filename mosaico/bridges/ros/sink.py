"""Where ingested topics go: a narrow interface, so decoding does not depend on the client."""

from __future__ import annotations

from typing import Any, Protocol

import attrs
import pyarrow as pa

from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.protocol.topic_type import TopicType


class TopicSink(Protocol):
    """One topic being written: ingest appends its converted batches, in log-time order."""

    def write(self, batch: pa.RecordBatch) -> None:
        """Append a record batch of the topic's schema. Raise `TopicFailure` to reject it
        for its values (the topic is then failed); any other error aborts the ingest."""

    def fail(self, reason: str) -> None:
        """End the topic after a failure confined to it: attach an `error` notification and
        close it, keeping every batch written before. No write follows."""


class SequenceSink(Protocol):
    """One sequence being written. Used as a context manager: leaving it with an exception
    must apply the session's error policy; leaving it normally finalizes the sequence."""

    def topic(self, name: str, metadata: dict[str, Any], topic_type: TopicType) -> TopicSink:
        """Create a topic (mosaico topic name, user metadata, type) and return its sink."""

    def __enter__(self) -> SequenceSink: ...

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None: ...


@attrs.define
class MemoryTopic:
    """A topic kept in memory: its batches as written, and the reason it failed, if any."""

    name: str
    metadata: dict[str, Any]
    topic_type: TopicType
    batches: list[pa.RecordBatch] = attrs.Factory(list)
    error: str | None = None  # the reason given to `fail`

    def write(self, batch: pa.RecordBatch) -> None:
        """Keep `batch`; its schema must equal the topic type's exactly.

        Raises:
            RosBridgeError: the topic has failed, or the schema differs.
        """
        if self.error is not None:
            raise RosBridgeError(f"topic {self.name} has failed; it takes no more writes")
        if not batch.schema.equals(self.topic_type.schema):
            raise RosBridgeError(f"topic {self.name}: batch schema differs from the topic schema")
        self.batches.append(batch)

    def fail(self, reason: str) -> None:
        """Record `reason` in `error`; the batches written so far stay."""
        self.error = reason

    def table(self) -> pa.Table:
        """Every written batch as one table of the topic schema (empty when none)."""
        return pa.Table.from_batches(self.batches, schema=self.topic_type.schema)


@attrs.define
class MemorySequence:
    """A sequence kept in memory: the sink of tests and of local conversions.

    Leaving the `with` block sets `finalized` (no exception) or `error` (the exception);
    nothing is rolled back, so a failed ingest leaves what it had written.

    >>> seq = MemorySequence("run")
    >>> report = ingest(["run.bag"], seq, topics=["/imu"])
    >>> table = seq.topics["imu"].table()  # timestamp_ns, then the IMU fields
    """

    name: str
    metadata: dict[str, Any] = attrs.Factory(dict)
    topics: dict[str, MemoryTopic] = attrs.Factory(dict)
    finalized: bool = False
    error: BaseException | None = None

    def topic(self, name: str, metadata: dict[str, Any], topic_type: TopicType) -> MemoryTopic:
        """Create the topic `name` in `topics` and return it.

        Raises:
            RosBridgeError: the sequence has a topic of that name already.
        """
        if name in self.topics:
            raise RosBridgeError(f"topic {name} already exists in sequence {self.name}")
        self.topics[name] = MemoryTopic(name, metadata, topic_type)
        return self.topics[name]

    def __enter__(self) -> MemorySequence:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.error = exc
        self.finalized = exc is None
