"""Read-side handles on a sequence or a topic: catalogue properties and data streamers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import pyarrow as pa
import pyarrow.flight as flight

from mosaico.client.connection import Connection
from mosaico.client.fallback import resolve_type
from mosaico.client.streams import SequenceDataStreamer, TopicDataStreamer
from mosaico.errors import InputError, UnknownNameError
from mosaico.protocol.appmeta import Interval, SequenceMetadata, SessionMetadata, TopicMetadata
from mosaico.protocol.commands import Fields, ResourceCommand, TimeWindow
from mosaico.protocol.errors import InvalidArgument, NotFound, ProtocolError
from mosaico.protocol.names import TopicLocator, normalize_sequence_name, normalize_topic_path
from mosaico.protocol.topic_type import TIMESTAMP

if TYPE_CHECKING:
    from mosaico.client.sequence_writer import SequenceUpdater

log = logging.getLogger("mosaico.client")


def _endpoints(info: flight.FlightInfo) -> list[tuple[TopicMetadata, bytes]]:
    """Parseable topic endpoints; invalid ones are skipped like the reference does."""
    out = []
    for endpoint in info.endpoints:
        try:
            out.append((TopicMetadata.from_bytes(endpoint.app_metadata), endpoint.ticket.ticket))
        except ProtocolError as exc:
            log.warning("skipping an invalid topic endpoint: %s", exc)
    return out


def _interval(meta: TopicMetadata) -> Interval | None:
    """The effective interval: the window's when a window was asked for (spec §7.3)."""
    return meta.data_info.interval if meta.window is None else meta.window.interval


def _window(start: int | None, end: int | None) -> TimeWindow:
    try:
        return TimeWindow.checked(start, end, "data streamer")
    except InvalidArgument as err:
        raise InputError(err.detail) from err


def _fields(fields: Sequence[str] | None, what: str) -> Fields | None:
    """A user's field list as sent: None (every field) or a tuple of dotted paths."""
    if fields is None:
        return None
    if isinstance(fields, str) or not all(isinstance(f, str) and f for f in fields):
        raise InputError(
            f"{what}: fields must be a list of dotted field paths (['acceleration.x']), "
            f"got {fields!r}"
        )
    return tuple(fields)


def _endpoint(
    connection: Connection, topic: TopicLocator, window: TimeWindow, fields: Fields | None = None
) -> tuple[TopicMetadata, bytes]:
    """The catalogue entry and ticket of ``topic``, read in ``window`` (and projected to
    ``fields``)."""
    info = connection.flight_info(ResourceCommand(topic.sequence, topic, window, fields))
    for meta, ticket in _endpoints(info):
        if meta.topic == topic:
            return meta, ticket
    raise NotFound(f"no valid endpoint for topic {str(topic)!r}")


_T = TypeVar("_T")


class _Entry(Generic[_T]):
    """A read-only attribute of a topic handler, read from its catalogue entry."""

    def __init__(self, read: Callable[[TopicMetadata], _T], doc: str | None = None) -> None:
        self._read = read
        self.__doc__ = doc

    @overload
    def __get__(self, handler: None, owner: type) -> _Entry[_T]: ...

    @overload
    def __get__(self, handler: TopicHandler, owner: type) -> _T: ...

    def __get__(self, handler: TopicHandler | None, owner: type) -> _T | _Entry[_T]:
        return self if handler is None else self._read(handler.metadata)


class TopicHandler:
    """One topic: its catalogue entry, schema and data.

    Obtained from ``MosaicoClient.topic_handler`` or ``SequenceHandler.get_topic_handler``.
    The catalogue attributes are read once, when the handler is fetched; statistics cover
    the whole topic. ``metadata`` is the raw catalogue entry (`TopicMetadata`), ``schema``
    the topic's Arrow schema (``timestamp_ns`` first).

    >>> imu = client.topic_handler("run-1", "sensors/imu")
    >>> imu.ontology_tag, imu.row_count
    ('IMU', 12000)
    >>> df = imu.get_data_streamer(start_timestamp_ns=t0, end_timestamp_ns=t1).to_pandas()
    """

    def __init__(self, connection: Connection, meta: TopicMetadata, schema: pa.Schema) -> None:
        self._conn = connection
        self.metadata = meta
        self.schema = schema

    @classmethod
    def fetch(cls, connection: Connection, topic: TopicLocator) -> TopicHandler:
        """The handler of ``topic``: its catalogue entry (``GetFlightInfo``), then its
        schema (``GetSchema``).

        Raises:
            NotFound: the topic does not exist, or its endpoint is invalid.
        """
        meta, _ = _endpoint(connection, topic, TimeWindow())
        return cls(connection, meta, connection.schema(ResourceCommand(topic.sequence, topic)))

    name = _Entry(lambda m: m.topic.name, "The topic name ``/path``.")
    sequence_name = _Entry(lambda m: m.topic.sequence, "The name of the owning sequence.")
    locator = _Entry(lambda m: str(m.topic), "The topic locator ``<sequence>/<path>``.")
    user_metadata = _Entry(
        lambda m: m.user_metadata, "The topic's user metadata (a JSON object, fixed at creation)."
    )
    created_timestamp = _Entry(
        lambda m: m.created_at_ns, "Creation time: wall-clock ns since the Unix epoch (UTC)."
    )
    completed_timestamp = _Entry(
        lambda m: m.completed_at_ns,
        "When the topic's session was finalized (wall-clock ns, UTC); None while pending.",
    )
    locked = _Entry(lambda m: m.locked, "True once the session is finalized (immutable).")
    ontology_tag = _Entry(
        lambda m: m.ontology_tag,
        "The tag of the topic's type (``IMU``); it may name a type this client lacks.",
    )
    serialization_format = _Entry(
        lambda m: m.serialization_format,
        "The storage hint of the type: ``default``, ``ragged`` or ``image``.",
    )
    chunks_number = _Entry(
        lambda m: m.data_info.total_chunks_count, "How many stored chunks hold the rows."
    )
    total_size_bytes = _Entry(
        lambda m: m.data_info.total_bytes, "Stored size of the topic's rows, in bytes."
    )
    row_count = _Entry(lambda m: m.data_info.total_row_count, "Rows in the whole topic.")

    @property
    def timestamp_ns_min(self) -> int | None:
        """The smallest ``timestamp_ns`` of the topic; None when it has no rows."""
        interval = self.metadata.data_info.interval
        return None if interval is None else interval.start_ns

    @property
    def timestamp_ns_max(self) -> int | None:
        """The largest ``timestamp_ns`` of the topic (inclusive); None when it has no rows."""
        interval = self.metadata.data_info.interval
        return None if interval is None else interval.end_ns

    @property
    def ontology_schema(self) -> pa.StructType:
        """The payload struct: the topic schema without ``timestamp_ns``."""
        return pa.struct([f for f in self.schema if f.name != TIMESTAMP])

    @property
    def ontology_type(self) -> type | None:
        """The registered class rows decode into, or None when they fall back to Unmodeled."""
        return resolve_type(self.ontology_tag, self.schema)

    def get_data_streamer(
        self,
        start_timestamp_ns: int | None = None,
        end_timestamp_ns: int | None = None,
        fields: Sequence[str] | None = None,
    ) -> TopicDataStreamer:
        """The topic's rows with ``start <= timestamp_ns < end`` (bounds optional).

        The stream opens now (one ``GetFlightInfo``, one ``DoGet``); an empty window gives
        an empty stream. With ``fields`` (dotted paths: ``"acceleration.x"``, a whole struct
        ``"orientation"``; ``[]`` for timestamps only) the server reads and sends only
        ``timestamp_ns`` and those fields, nesting kept (``acceleration: struct<x>``); the
        stream is then ``projected`` (see `TopicDataStreamer`).

        Raises:
            InputError: ``start >= end`` (the window would be empty), or ``fields`` is not
                a list of non-empty strings.
            InvalidArgument: a field the topic lacks (the message names it).
            NotFound: the topic was deleted since the handler was fetched.
        """
        window = _window(start_timestamp_ns, end_timestamp_ns)
        wanted = _fields(fields, f"topic {self.locator!r}")
        meta, ticket = _endpoint(self._conn, self.metadata.topic, window, wanted)
        reader = self._conn.do_get(ticket)
        return TopicDataStreamer(self.name, meta.ontology_tag, reader, projected=wanted is not None)


class SequenceHandler:
    """One sequence: metadata, sessions, topics, statistics and merged data.

    Obtained from ``MosaicoClient.sequence_handler``. The catalogue entry is read when the
    handler is fetched; ``reload`` reads it again. Statistics sum over the topics with a
    valid endpoint. ``metadata`` is the raw catalogue entry (`SequenceMetadata`).

    >>> run = client.sequence_handler("run-1")
    >>> run.topics
    ['/sensors/imu', '/sensors/gps']
    >>> for topic, msg in run.get_data_streamer(["sensors/imu", "sensors/gps"]):
    ...     print(topic, msg.timestamp_ns)
    """

    def __init__(self, connection: Connection, info: flight.FlightInfo) -> None:
        self._conn = connection
        self._load(info)

    def _load(self, info: flight.FlightInfo) -> None:
        self.metadata = SequenceMetadata.from_bytes(info.app_metadata)
        self._topic_meta = {meta.topic.name: meta for meta, _ in _endpoints(info)}

    @classmethod
    def fetch(cls, connection: Connection, name: str) -> SequenceHandler:
        """The handler of sequence ``name`` (leading and trailing ``/`` removed).

        Raises:
            NotFound: the sequence does not exist.
        """
        return cls(
            connection, connection.flight_info(ResourceCommand(normalize_sequence_name(name), None))
        )

    def reload(self) -> None:
        """Fetch the catalogue entry again (e.g. after a ``sequence_update``)."""
        self._load(self._conn.flight_info(ResourceCommand(self.name, None)))

    @property
    def name(self) -> str:
        """The sequence name, as the server stores it (normalised, spec §3.4)."""
        return self.metadata.sequence

    @property
    def topics(self) -> list[str]:
        """Topic names (``/path``) of every session, in session and creation order."""
        return [TopicLocator.parse(t).name for s in self.sessions for t in s.topics]

    @property
    def sessions(self) -> list[SessionMetadata]:
        """Every session (locator, times, lock state, topic locators), in creation order."""
        return self.metadata.sessions

    @property
    def user_metadata(self) -> dict[str, Any]:
        """The sequence's user metadata (a JSON object, fixed at creation)."""
        return self.metadata.user_metadata

    @property
    def created_timestamp(self) -> int:
        """Creation time: wall-clock ns since the Unix epoch (UTC)."""
        return self.metadata.created_at_ns

    @property
    def updated_timestamps(self) -> list[int]:
        """Finalization times (wall-clock ns, UTC) of the finished sessions, in session
        order; pending sessions are left out."""
        return [s.completed_at_ns for s in self.sessions if s.completed_at_ns is not None]

    @property
    def topic_metadata(self) -> dict[str, TopicMetadata]:
        """Catalogue entry of every topic with a valid endpoint, by ``/path`` name."""
        return dict(self._topic_meta)

    @property
    def total_size_bytes(self) -> int:
        """Stored size of all topics, in bytes."""
        return sum(m.data_info.total_bytes for m in self._topic_meta.values())

    @property
    def total_row_count(self) -> int:
        """Rows of all topics."""
        return sum(m.data_info.total_row_count for m in self._topic_meta.values())

    @property
    def timestamp_ns_min(self) -> int | None:
        """The smallest ``timestamp_ns`` over all topics; None when none has rows."""
        starts = [i.start_ns for m in self._topic_meta.values() if (i := _interval(m))]
        return min(starts) if starts else None

    @property
    def timestamp_ns_max(self) -> int | None:
        """The largest ``timestamp_ns`` over all topics (inclusive); None when none has rows."""
        ends = [i.end_ns for m in self._topic_meta.values() if (i := _interval(m))]
        return max(ends) if ends else None

    def get_topic_handler(self, topic_name: str) -> TopicHandler:
        """The handler of one of this sequence's topics (``imu`` or ``/imu``).

        Raises:
            NotFound: the sequence has no such topic.
        """
        topic = TopicLocator(self.name, normalize_topic_path(topic_name))
        return TopicHandler.fetch(self._conn, topic)

    def topic_handlers(self) -> dict[str, TopicHandler]:
        """Every topic's handler by name, from this handler's catalogue entry plus one
        ``GetSchema`` per topic: half the calls of `get_topic_handler` on each, for pages
        and tools that show every topic of a big sequence.

        Raises:
            NotFound: a topic was deleted since this handler was fetched (``reload``).
        """
        return {
            name: TopicHandler(
                self._conn, meta, self._conn.schema(ResourceCommand(self.name, meta.topic))
            )
            for name, meta in self._topic_meta.items()
        }

    def get_data_streamer(
        self,
        topics: list[str] | None = None,
        start_timestamp_ns: int | None = None,
        end_timestamp_ns: int | None = None,
        fields: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    ) -> SequenceDataStreamer:
        """Selected (default: all) topics merged on timestamp inside ``[start, end)``.

        Topics with no row in the window are left out. Every topic's ``DoGet`` opens now;
        rows come merged in timestamp order, ties in the server's topic order.

        Args:
            topics: topic names (``imu`` or ``/imu``); None or empty: every topic.
            start_timestamp_ns: first ``timestamp_ns`` kept (inclusive); None: unbounded.
            end_timestamp_ns: end of the window (exclusive); None: unbounded.
            fields: the fields to read (see `TopicHandler.get_data_streamer`): one list for
                every selected topic with rows (each must have them all), or a list per topic
                name
                (``{"/imu": ["acceleration.x"], "/camera": []}``; topics not named are read
                whole).

        Raises:
            UnknownNameError: a name in ``topics`` or in ``fields`` is not a topic of this
                sequence.
            InputError: ``start >= end`` (the window would be empty), or malformed ``fields``.
            InvalidArgument: a field a topic lacks (the message names both).
        """
        window = _window(start_timestamp_ns, end_timestamp_ns)
        wanted: set[str] | None = None
        if topics:
            wanted = self._known({"/" + normalize_topic_path(t) for t in topics})
        per_topic = self._per_topic(fields, sorted(wanted or self.topics))
        command = ResourceCommand(
            self.name, None, window, None if per_topic is None else dict(per_topic)
        )
        streams = []
        for meta, ticket in _endpoints(self._conn.flight_info(command)):
            if _interval(meta) is None or (wanted is not None and meta.topic.name not in wanted):
                continue
            reader = self._conn.do_get(ticket)
            projected = per_topic is not None and meta.topic.path in per_topic
            streams.append(
                TopicDataStreamer(meta.topic.name, meta.ontology_tag, reader, projected=projected)
            )
        return SequenceDataStreamer(streams)

    def _known(self, names: set[str]) -> set[str]:
        """``names`` (``/path``), checked to be topics of this sequence."""
        unknown = names - set(self.topics)
        if unknown:
            raise UnknownNameError(f"sequence {self.name!r} has no topic(s) {sorted(unknown)}")
        return names

    def _per_topic(
        self, fields: Sequence[str] | Mapping[str, Sequence[str]] | None, topics: list[str]
    ) -> dict[str, Fields] | None:
        """``fields`` as the command sends it: a projection per topic path (no ``/``)."""
        if fields is None:
            return None
        if isinstance(fields, Mapping):
            named = {"/" + normalize_topic_path(t): f for t, f in fields.items()}
            self._known(set(named))
        else:  # topics without rows are left out of the stream: nothing to project
            named = dict.fromkeys(
                (t for t in topics if t in self._topic_meta and _interval(self._topic_meta[t])),
                fields,
            )
        out: dict[str, Fields] = {}
        for name, paths in named.items():
            wanted = _fields(paths, f"topic {name!r}")
            if wanted is not None:
                out[name[1:]] = wanted
        return out

    def update(self, **kwargs: Any) -> SequenceUpdater:
        """A writer for a new session of this sequence (see ``MosaicoClient.sequence_update``).

        ``kwargs`` are those of ``sequence_update`` (``on_error``, ``progress``,
        ``queue_chunks``). Unlike ``sequence_update``, the client does not track this
        writer: close it (``with``) before closing the client.
        """
        from mosaico.client.sequence_writer import SequenceUpdater

        return SequenceUpdater(self._conn, self.name, **kwargs)
