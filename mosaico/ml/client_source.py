"""`TopicSource`s over the client: a topic handler's windowed record batches.

`SequenceOpener` is the picklable recipe a DataLoader worker uses to open a sequence over
its own connection (one per worker and server, shared by its sequences, never across
processes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs
import pyarrow as pa

from mosaico.client import MosaicoClient, SequenceHandler, TopicHandler
from mosaico.ml.errors import MLInputError
from mosaico.ml.source import TopicSource


class HandlerSource:
    """A `TopicSource` reading one topic through a client `TopicHandler`."""

    def __init__(self, handler: TopicHandler) -> None:
        self._handler = handler
        # A handler's catalogue entry does not change: its names and schema are read once.
        self.name: str = handler.name
        self.tag: str = handler.ontology_tag
        self.schema: pa.Schema = handler.schema

    def bounds(self) -> tuple[int, int] | None:
        """First and last record time from the catalogue entry (no data read); None when
        the topic is empty."""
        lo, hi = self._handler.timestamp_ns_min, self._handler.timestamp_ns_max
        return None if lo is None or hi is None else (lo, hi)

    def batches(
        self, start_ns: int | None, end_ns: int | None, fields: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """The topic's batches in `[start_ns, end_ns)`, one ``DoGet`` per call, of `fields`
        only when given (the server reads only those columns); the stream is cancelled when
        the iterator is closed early.

        Raises:
            InvalidArgument: a field the topic lacks.
        """
        streamer = self._handler.get_data_streamer(start_ns, end_ns, fields)
        try:
            yield from streamer.batches()
        finally:
            streamer.close()


def sequence_sources(
    sequence: SequenceHandler, topics: Iterable[str] | None = None
) -> dict[str, TopicSource]:
    """Sources of a sequence's topics (all, or the named ones), keyed by topic name.

    Names are `/path` (a missing leading `/` is added). One handler is fetched per topic.

    Raises:
        MLInputError: a named topic is not in the sequence.

    >>> sources = sequence_sources(client.sequence_handler("run-1"), ["imu", "/gps"])
    >>> sorted(sources)
    ['/gps', '/imu']
    """
    known = sequence.topics
    wanted = known if topics is None else [t if t.startswith("/") else f"/{t}" for t in topics]
    for t in wanted:
        if t not in known:
            raise MLInputError(
                f"sequence {sequence.name!r} has no topic {t!r} (topics: {', '.join(known)})"
            )
    return {t: HandlerSource(sequence.get_topic_handler(t)) for t in wanted}


_clients: dict[tuple[int, str, int, str], MosaicoClient] = {}


def _client(host: str, port: int, kwargs: dict[str, Any]) -> MosaicoClient:
    """This process's connection to a server, made on first use.

    A worker opens every sequence (to count its windows): one connection serves them all.
    Keyed by pid, so a forked worker never uses its parent's gRPC channel.
    """
    key = (os.getpid(), host, port, repr(sorted(kwargs.items())))
    client = _clients.get(key)
    if client is None or client.closed:
        client = _clients[key] = MosaicoClient.connect(host, port, **kwargs)
    return client


@attrs.frozen
class SequenceOpener:
    """Opens one sequence's sources; picklable, so each DataLoader worker calls it in its
    own process, where openers of the same server share one connection.

    ``connect_kwargs`` go to ``MosaicoClient.connect`` (``api_key``, ``enable_tls``, ...).

    >>> openers = [SequenceOpener("robot-lab", 6726, name, ("/imu",)) for name in runs]
    >>> dataset = StreamDataset(openers, ["/imu"], length=100, rate_hz=100.0)
    """

    host: str
    port: int
    sequence: str
    topics: tuple[str, ...] | None = None
    connect_kwargs: dict[str, Any] = attrs.field(factory=dict)

    def __call__(self) -> dict[str, TopicSource]:
        """The sequence's sources, over this process's connection to the server.

        Raises:
            MLInputError: the sequence does not exist, or lacks a named topic.
            Unavailable: the server cannot be reached.
        """
        handler = _client(self.host, self.port, self.connect_kwargs).sequence_handler(self.sequence)
        if handler is None:
            raise MLInputError(f"unknown sequence {self.sequence!r}")
        return sequence_sources(handler, self.topics)
