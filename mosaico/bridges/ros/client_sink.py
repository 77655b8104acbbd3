"""The mosaico client as ingest sink and export source."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from mosaico.bridges.ros.errors import TopicFailure
from mosaico.bridges.ros.export import ExportTopic
from mosaico.client import MosaicoClient, SequenceWriter, TopicWriter, UnmodeledTypeWarning
from mosaico.client.policies import SessionLevelErrorPolicy
from mosaico.errors import UnknownNameError
from mosaico.ontology import ValidationError
from mosaico.protocol.topic_type import TopicType


class ClientTopic:
    """A `TopicSink` over a client `TopicWriter` (made by `ClientSequence.topic`)."""

    def __init__(self, writer: TopicWriter) -> None:
        self._writer = writer

    def write(self, batch: pa.RecordBatch) -> None:
        """Push `batch` through `TopicWriter.push_batch`.

        Raises:
            TopicFailure: the writer's column checks reject the values (only with
                `validate`); the topic alone fails.
        """
        try:
            self._writer.push_batch(batch)
        except ValidationError as exc:  # checked before queueing: the upload is still sound
            raise TopicFailure(str(exc)) from exc

    def fail(self, reason: str) -> None:
        """Notify, then close keeping what was pushed (like the reference's `Finalize`).

        The close flushes: the bridge pushes only whole converted batches, and closing
        without flush would drop whichever of them are still queued, a timing-dependent
        tail. An upload error surfacing here is not per-topic and aborts the ingest.
        """
        self._writer.fail(reason, flush=True)


class ClientSequence:
    """A `SequenceSink` writing a new sequence through a `MosaicoClient`.

    The client's `SequenceWriter` applies the session error policy when ingest fails.
    Without `validate`, batches are stored as the recording has them: ROS data routinely
    breaks mosaico's value rules (e.g. infinite `Range` readings), and a bridge keeps data.

    Args:
        client: an open client.
        name: the new sequence's name; it is created when `ingest` enters the sink,
            after the recording has been checked.
        metadata: the sequence's user metadata.
        on_error: what the session does when ingest fails (`Report` keeps the topics
            written so far, `Delete` removes the sequence).
        validate: check every batch against the ontology's value rules.

    >>> from mosaico.bridges.ros import ingest
    >>> with MosaicoClient.local("data") as client:
    ...     report = ingest(["run.mcap"], ClientSequence(client, "run", {"site": "lab"}))
    """

    def __init__(
        self,
        client: MosaicoClient,
        name: str,
        metadata: dict[str, Any] | None = None,
        on_error: SessionLevelErrorPolicy = SessionLevelErrorPolicy.Report,
        validate: bool = False,
    ) -> None:
        self._writer: SequenceWriter = client.sequence_create(name, metadata, on_error)
        self._validate = validate

    def topic(self, name: str, metadata: dict[str, Any], topic_type: TopicType) -> ClientTopic:
        """Create the topic in the session (`SequenceWriter.topic_create`) and return its sink."""
        writer = self._writer.topic_create(name, metadata, topic_type, validate=self._validate)
        return ClientTopic(writer)

    def __enter__(self) -> ClientSequence:
        self._writer.__enter__()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._writer.__exit__(exc_type, exc, tb)


def stored_topics(client: MosaicoClient, sequence: str) -> list[ExportTopic]:
    """The topics of a stored sequence, their data streamed lazily, for `export`.

    Only the catalog is read here; each topic's batches are fetched when `export` iterates
    them, one stream per iteration.

    Raises:
        UnknownNameError: the sequence does not exist.

    >>> from mosaico.bridges.ros import export
    >>> with MosaicoClient.connect("localhost") as client:
    ...     report = export(stored_topics(client, "run"), "run.mcap", "mcap")
    """
    handler = client.sequence_handler(sequence)
    if handler is None:
        raise UnknownNameError(f"sequence {sequence!r} does not exist")
    topics = []
    for name in handler.topics:
        topic = handler.get_topic_handler(name)
        batches = _Batches(client, sequence, name)
        topics.append(
            ExportTopic(name, topic.user_metadata, topic.ontology_tag, batches, topic.row_count)
        )
    return topics


class _Batches:
    """Re-iterable: each iteration opens a new stream of the topic."""

    def __init__(self, client: MosaicoClient, sequence: str, topic: str) -> None:
        self._client, self._sequence, self._topic = client, sequence, topic

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        handler = self._client.topic_handler(self._sequence, self._topic)
        if handler is None:
            raise UnknownNameError(f"topic {self._sequence}/{self._topic} disappeared")
        with warnings.catch_warnings():
            # Only Arrow batches are read here, never objects: the typed-decoding fallback
            # warning about custom tags does not apply.
            warnings.simplefilter("ignore", UnmodeledTypeWarning)
            streamer = handler.get_data_streamer()
        yield from streamer.batches()
