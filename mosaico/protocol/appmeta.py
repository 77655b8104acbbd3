"""FlightInfo / FlightEndpoint ``app_metadata`` documents (spec §7.2, §7.3).

The server describes a sequence (``SequenceMetadata``, on the sequence ``FlightInfo``) and
each topic (``TopicMetadata``, on every topic endpoint) with these JSON objects; the client
reads them back with ``from_bytes``. Timestamps are int nanoseconds: ``*_at_ns`` are
wall-clock catalog times, ``Interval`` bounds are row ``timestamp_ns`` values.
"""

from __future__ import annotations

from typing import Any

import attrs

from mosaico.protocol import jsonbody as jb
from mosaico.protocol.actions import SERIALIZATION_FORMATS
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.names import TopicLocator


@attrs.frozen
class Interval:
    """Both bounds inclusive: actual smallest and largest ``timestamp_ns``."""

    start_ns: int
    end_ns: int

    def to_json(self) -> dict[str, int]:
        """``{"start_ns", "end_ns"}``."""
        return {"start_ns": self.start_ns, "end_ns": self.end_ns}

    @classmethod
    def from_json(cls, obj: Any, what: str) -> Interval | None:
        """The interval of a decoded ``interval`` value; null, or both bounds null, is None.

        Args:
            obj: the decoded JSON value (an object, or None).
            what: names the enclosing document in error messages.

        Raises:
            InvalidArgument: ``obj`` is not an object, a bound is not an int64, or only one
                bound is given.
        """
        if obj is None:
            return None
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{what}: interval must be an object")
        start, end = jb.opt_int(obj, "start_ns", what), jb.opt_int(obj, "end_ns", what)
        if start is None and end is None:
            return None
        if start is None or end is None:
            raise InvalidArgument(f"{what}: interval needs both start_ns and end_ns")
        return cls(start, end)


def _interval_json(interval: Interval | None) -> dict[str, int] | None:
    return None if interval is None else interval.to_json()


@attrs.frozen
class DataInfo:
    """Statistics of a whole topic (§7.3 ``data_info``); a read window never changes them.

    Attributes:
        total_bytes: stored size in bytes.
        total_chunks_count: number of stored chunks (0 for a topic without rows).
        total_row_count: number of rows.
        interval: smallest and largest row timestamp, or None when the topic has no rows.
    """

    total_bytes: int
    total_chunks_count: int
    total_row_count: int
    interval: Interval | None

    def to_json(self) -> dict[str, Any]:
        """The ``data_info`` object; ``interval`` is null for an empty topic."""
        return {
            "total_bytes": self.total_bytes,
            "total_chunks_count": self.total_chunks_count,
            "total_row_count": self.total_row_count,
            "interval": _interval_json(self.interval),
        }


@attrs.frozen
class TimeWindowInfo:
    """What a requested read window holds (§7.3 ``time_window_info``).

    Attributes:
        row_count: rows with ``start <= timestamp_ns < end``.
        interval: smallest and largest row timestamp inside the window, or None when the
            window holds no row.
    """

    row_count: int
    interval: Interval | None

    def to_json(self) -> dict[str, Any]:
        """The ``time_window_info`` object."""
        return {"row_count": self.row_count, "interval": _interval_json(self.interval)}


@attrs.frozen
class TopicMetadata:
    """A topic endpoint's app_metadata; ``window`` is set iff the request carried a window.

    Attributes:
        topic: the topic's locator (``resource_locator`` on the wire).
        created_at_ns: topic creation time.
        completed_at_ns: when its session was finalized, or None while pending.
        locked: True once the session is finalized.
        ontology_tag: the tag given at ``topic_create``.
        serialization_format: one of ``SERIALIZATION_FORMATS``.
        user_metadata: the topic's user metadata (``{}`` when none, never None).
        data_info: statistics of the whole topic.
        window: what the requested window holds, or None without a window.
    """

    topic: TopicLocator
    created_at_ns: int
    completed_at_ns: int | None
    locked: bool
    ontology_tag: str
    serialization_format: str
    user_metadata: dict[str, Any]
    data_info: DataInfo
    window: TimeWindowInfo | None = None

    def to_json(self) -> dict[str, Any]:
        """The app_metadata object; ``time_window_info`` is null without a window."""
        return {
            "resource_locator": str(self.topic),
            "created_at_ns": self.created_at_ns,
            "completed_at_ns": self.completed_at_ns,
            "locked": self.locked,
            "ontology_tag": self.ontology_tag,
            "serialization_format": self.serialization_format,
            "user_metadata": self.user_metadata,
            "data_info": self.data_info.to_json(),
            "time_window_info": None if self.window is None else self.window.to_json(),
        }

    def to_bytes(self) -> bytes:
        """The UTF-8 JSON an endpoint carries as ``app_metadata``."""
        return jb.dump_object(self.to_json())

    @classmethod
    def from_bytes(cls, data: bytes) -> TopicMetadata:
        """Parse an endpoint's ``app_metadata``; a missing ``total_row_count`` reads as 0.

        Raises:
            InvalidArgument: not a JSON object, a required key missing or of the wrong type,
                an unknown ``serialization_format`` or a malformed locator or interval.
        """
        what = "topic app_metadata"
        obj = jb.load_object(data, what)
        fmt = jb.req_str(obj, "serialization_format", what)
        if fmt not in SERIALIZATION_FORMATS:
            raise InvalidArgument(f"{what}: unknown serialization_format {fmt!r}")
        info = jb.opt_object(obj, "data_info", what)
        if info is None:
            raise InvalidArgument(f"{what}: missing data_info")
        window = jb.opt_object(obj, "time_window_info", what)
        return cls(
            topic=TopicLocator.parse(jb.req_str(obj, "resource_locator", what)),
            created_at_ns=jb.req_int(obj, "created_at_ns", what),
            completed_at_ns=jb.opt_int(obj, "completed_at_ns", what),
            locked=jb.opt_bool(obj, "locked", what, default=False),
            ontology_tag=jb.req_str(obj, "ontology_tag", what),
            serialization_format=fmt,
            user_metadata=jb.metadata(obj, "user_metadata", what),
            data_info=DataInfo(
                total_bytes=jb.req_int(info, "total_bytes", what),
                total_chunks_count=jb.req_int(info, "total_chunks_count", what),
                total_row_count=jb.opt_int(info, "total_row_count", what) or 0,
                interval=Interval.from_json(info.get("interval"), what),
            ),
            window=None
            if window is None
            else TimeWindowInfo(
                jb.req_int(window, "row_count", what),
                Interval.from_json(window.get("interval"), what),
            ),
        )


@attrs.frozen
class SessionMetadata:
    """One session of a sequence's app_metadata (§7.2 ``sessions[]``).

    Attributes:
        locator: the session locator ``<sequence>:<id>``.
        created_at_ns: session creation time.
        completed_at_ns: finalize time, or None while pending.
        locked: True once finalized.
        topics: locators (``seq/path``) of the topics created in the session, in order.
    """

    locator: str
    created_at_ns: int
    completed_at_ns: int | None
    locked: bool
    topics: list[str]

    def to_json(self) -> dict[str, Any]:
        """One ``sessions[]`` entry."""
        return {
            "locator": self.locator,
            "created_at_ns": self.created_at_ns,
            "completed_at_ns": self.completed_at_ns,
            "locked": self.locked,
            "topics": list(self.topics),
        }


@attrs.frozen
class SequenceMetadata:
    """A sequence ``FlightInfo``'s app_metadata (§7.2).

    The client builds a sequence's list of topics from ``sessions[].topics`` only.

    Attributes:
        sequence: the sequence name (``resource_locator`` on the wire).
        created_at_ns: sequence creation time.
        user_metadata: the sequence's user metadata (``{}`` when none, never None).
        sessions: every session, in creation order.
    """

    sequence: str
    created_at_ns: int
    user_metadata: dict[str, Any]
    sessions: list[SessionMetadata]

    def to_json(self) -> dict[str, Any]:
        """The app_metadata object."""
        return {
            "resource_locator": self.sequence,
            "created_at_ns": self.created_at_ns,
            "user_metadata": self.user_metadata,
            "sessions": [s.to_json() for s in self.sessions],
        }

    def to_bytes(self) -> bytes:
        """The UTF-8 JSON a sequence ``FlightInfo`` carries as ``app_metadata``."""
        return jb.dump_object(self.to_json())

    @classmethod
    def from_bytes(cls, data: bytes) -> SequenceMetadata:
        """Parse a sequence's ``app_metadata``; topic locators are normalised.

        Raises:
            InvalidArgument: not a JSON object, a required key missing or of the wrong type,
                a session entry that is not an object, or a topic entry that is not a topic
                locator.
        """
        what = "sequence app_metadata"
        obj = jb.load_object(data, what)
        sessions = []
        for entry in jb.opt_list(obj, "sessions", what):
            if not isinstance(entry, dict):
                raise InvalidArgument(f"{what}: session entries must be objects")
            topics = jb.opt_list(entry, "topics", what)
            sessions.append(
                SessionMetadata(
                    locator=jb.req_str(entry, "locator", what),
                    created_at_ns=jb.req_int(entry, "created_at_ns", what),
                    completed_at_ns=jb.opt_int(entry, "completed_at_ns", what),
                    locked=jb.opt_bool(entry, "locked", what, default=False),
                    topics=[str(TopicLocator.parse(t)) for t in topics],
                )
            )
        return cls(
            sequence=jb.req_str(obj, "resource_locator", what),
            created_at_ns=jb.req_int(obj, "created_at_ns", what),
            user_metadata=jb.metadata(obj, "user_metadata", what),
            sessions=sessions,
        )
