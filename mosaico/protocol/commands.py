"""Descriptor commands and tickets (spec §6.1, §7.1, §7.5), and the one ``TimeWindow``.

Each is UTF-8 JSON on the wire: ``ResourceCommand`` is the command of GetFlightInfo and
GetSchema, ``UploadCommand`` the DoPut descriptor, ``Ticket`` what DoGet receives.

>>> from mosaico.protocol import Ticket, TimeWindow, TopicLocator
>>> Ticket(TopicLocator("run-001", "imu"), TimeWindow(1, None)).to_bytes()
b'{"locator":"run-001/imu","start_ns":1,"end_ns":null}'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from mosaico.protocol import jsonbody as jb
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.names import (
    TopicLocator,
    is_topic_locator,
    normalize_sequence_name,
    normalize_topic_path,
    parse_uuid,
)

MAX_FIELDS = 10_000
"""Most field paths one command or ticket may name (as many as an upload has leaves)."""
MAX_FIELD_CHARS = 1024
"""Longest field path accepted, in characters."""

Fields = tuple[str, ...]
"""A checked projection: dotted field paths, ``()`` for timestamps only."""


def parse_fields(value: Any, what: str, budget: int = MAX_FIELDS) -> Fields:
    """A received ``fields`` array, checked: at most ``budget`` non-empty strings of at
    most ``MAX_FIELD_CHARS`` characters each.

    Raises:
        InvalidArgument: naming the document (``what``) and what was wrong.
    """
    if not isinstance(value, list):
        raise InvalidArgument(
            f"{what}: 'fields' must be a JSON array of field paths, got {_kind(value)}"
        )
    if len(value) > budget:
        raise InvalidArgument(f"{what}: 'fields' names {len(value)} paths, more than {budget}")
    for index, path in enumerate(value):
        if not isinstance(path, str) or not path:
            got = "an empty string" if path == "" else _kind(path)
            raise InvalidArgument(f"{what}: fields[{index}] must be a field path, got {got}")
        if len(path) > MAX_FIELD_CHARS:
            raise InvalidArgument(
                f"{what}: fields[{index}] is {len(path)} characters, longer than {MAX_FIELD_CHARS}"
            )
    return tuple(value)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


@attrs.frozen
class TimeWindow:
    """Half-open ``[start_ns, end_ns)``; a None bound is unbounded (§7.7).

    The one window shape of the protocol: reads (§7), tickets and the temporal filters' range
    (§9.1) all use it. Windows received or given by a user are built with ``checked``.
    """

    start_ns: int | None = None
    end_ns: int | None = None

    @classmethod
    def checked(cls, start_ns: int | None, end_ns: int | None, what: str) -> TimeWindow:
        """A window that is not empty; ``what`` names it in the error.

        Raises:
            InvalidArgument: both bounds are given and ``start_ns >= end_ns``.
        """
        if start_ns is not None and end_ns is not None and start_ns >= end_ns:
            raise InvalidArgument(
                f"{what}: empty time window, start_ns {start_ns} must be < end_ns {end_ns}. "
                "Hint: the window is half-open [start, end), so it needs start < end."
            )
        return cls(start_ns, end_ns)

    @classmethod
    def from_json(cls, obj: dict[str, Any], what: str, required: bool = False) -> TimeWindow:
        """``{"start_ns", "end_ns"}``; with ``required`` both bounds must be integers."""
        read = jb.req_int if required else jb.opt_int
        return cls.checked(read(obj, "start_ns", what), read(obj, "end_ns", what), what)

    def to_json(self) -> dict[str, Any]:
        """``{"start_ns", "end_ns"}``, a missing bound as null."""
        return {"start_ns": self.start_ns, "end_ns": self.end_ns}

    @property
    def bounded(self) -> bool:
        """Whether at least one bound is set (False: the whole time line)."""
        return self.start_ns is not None or self.end_ns is not None

    def overlaps(self, min_ts: int, max_ts: int) -> bool:
        """Whether a closed interval of actual timestamps can hold a row inside the window."""
        if self.start_ns is not None and max_ts < self.start_ns:
            return False
        return not (self.end_ns is not None and min_ts >= self.end_ns)

    def contains_interval(self, min_ts: int, max_ts: int) -> bool:
        """Whether every row of a closed interval of actual timestamps is inside the window."""
        if self.start_ns is not None and min_ts < self.start_ns:
            return False
        return not (self.end_ns is not None and max_ts >= self.end_ns)


TopicFields = Mapping[str, Fields]
"""A projection per topic path (no leading ``/``): what a sequence command may carry."""


@attrs.frozen
class ResourceCommand:
    """GetFlightInfo / GetSchema command: a sequence name or a topic locator, plus a window
    and, optionally, the payload fields to read (our extension, see ``parse``).

    ``sequence`` is always set (for a topic, the topic's sequence); ``topic`` is None when
    the command names a sequence. ``fields`` is None (every field), one projection (for a
    topic, or every topic of a sequence) or, for a sequence, a projection per topic path.
    """

    sequence: str
    topic: TopicLocator | None
    window: TimeWindow = TimeWindow()
    fields: Fields | TopicFields | None = attrs.field(default=None, hash=False)

    @classmethod
    def parse(cls, data: bytes) -> ResourceCommand:
        """Parse a descriptor command: one segment names a sequence, more name a topic.

        The locator is normalised (§3.4); the optional ``timestamp_ns_start`` (inclusive) and
        ``timestamp_ns_end`` (exclusive) become ``window``. The optional ``fields`` (an
        extension the reference client never sends) is an array of dotted field paths, or,
        in a sequence command, an object mapping topic paths to such arrays (topics it
        does not name are read whole); each path is checked against the topic schemas when
        the command is described.

        Raises:
            InvalidArgument: not a JSON object, no ``resource_locator``, a session locator
                (with ``:``), a malformed name, an empty window or malformed ``fields``.
        """
        what = "resource command"
        obj = jb.load_object(data, what)
        raw = jb.req_str(obj, "resource_locator", what)
        if ":" in raw:
            raise InvalidArgument(f"{what}: session locator {raw!r} cannot be described")
        start = jb.opt_int(obj, "timestamp_ns_start", what)
        window = TimeWindow.checked(start, jb.opt_int(obj, "timestamp_ns_end", what), what)
        if is_topic_locator(raw):
            topic = TopicLocator.parse(raw)
            return cls(topic.sequence, topic, window, _fields(obj.get("fields"), what, False))
        fields = _fields(obj.get("fields"), what, True)
        return cls(normalize_sequence_name(raw), None, window, fields)

    @property
    def locator(self) -> str:
        """The wire locator: the sequence name, or ``<sequence>/<path>`` for a topic."""
        return self.sequence if self.topic is None else str(self.topic)

    def fields_of(self, path: str) -> Fields | None:
        """The projection of the topic at ``path`` (no leading ``/``); None: every field."""
        if self.fields is None or isinstance(self.fields, tuple):
            return self.fields
        return self.fields.get(path)

    def to_json(self) -> dict[str, Any]:
        """The command object; each window bound, and ``fields``, sent only when set (§7.1)."""
        obj: dict[str, Any] = {"resource_locator": self.locator}
        if self.window.start_ns is not None:
            obj["timestamp_ns_start"] = self.window.start_ns
        if self.window.end_ns is not None:
            obj["timestamp_ns_end"] = self.window.end_ns
        if isinstance(self.fields, tuple):
            obj["fields"] = list(self.fields)
        elif self.fields is not None:
            obj["fields"] = {path: list(f) for path, f in self.fields.items()}
        return obj

    def to_bytes(self) -> bytes:
        """The command as UTF-8 JSON, for ``FlightDescriptor.for_command``."""
        return jb.dump_object(self.to_json())


def _fields(value: Any, what: str, per_topic: bool) -> Fields | TopicFields | None:
    """A command's ``fields``: absent or null, an array, or (``per_topic``) an object of
    arrays by topic path, at most ``MAX_FIELDS`` paths (and topics) in all."""
    if value is None or isinstance(value, list):
        return None if value is None else parse_fields(value, what)
    if not per_topic or not isinstance(value, dict):
        shape = "an array" + (" or an object of arrays by topic" if per_topic else "")
        raise InvalidArgument(f"{what}: 'fields' must be {shape}, got {type(value).__name__}")
    budget = MAX_FIELDS - len(value)
    if budget < 0:
        raise InvalidArgument(f"{what}: 'fields' names {len(value)} topics, more than {MAX_FIELDS}")
    out: dict[str, Fields] = {}
    for key, paths in value.items():
        path = normalize_topic_path(key)
        if path in out:
            raise InvalidArgument(f"{what}: 'fields' names topic {path!r} twice")
        out[path] = parse_fields(paths, f"{what}: topic {path!r}", budget)
        budget -= len(out[path])
    return out


@attrs.frozen
class UploadCommand:
    """DoPut descriptor: ``{"resource_locator", "topic_uuid"}``."""

    topic: TopicLocator
    topic_uuid: str

    @classmethod
    def parse(cls, data: bytes) -> UploadCommand:
        """Parse a DoPut descriptor command.

        Raises:
            InvalidArgument: not a JSON object, a missing key, a malformed topic locator or
                a ``topic_uuid`` that is not a UUID.
        """
        what = "upload descriptor"
        obj = jb.load_object(data, what)
        topic = TopicLocator.parse(jb.req_str(obj, "resource_locator", what))
        return cls(topic, parse_uuid(jb.req_str(obj, "topic_uuid", what), "topic_uuid"))

    def to_bytes(self) -> bytes:
        """The descriptor as UTF-8 JSON, for ``FlightDescriptor.for_command``."""
        return jb.dump_object({"resource_locator": str(self.topic), "topic_uuid": self.topic_uuid})


@attrs.frozen
class Ticket:
    """DoGet ticket: the topic and the requested window, as JSON (§7.5), and the fields to
    read (our extension: ``fields``, sent only when set, so the tickets of the reference
    client are as in the spec).

    The server issues one per topic endpoint; the client passes it back unchanged.
    """

    topic: TopicLocator
    window: TimeWindow = TimeWindow()
    fields: Fields | None = None

    @classmethod
    def parse(cls, data: bytes) -> Ticket:
        """Parse a ticket received by DoGet.

        Raises:
            InvalidArgument: not a JSON object, no valid ``locator``, a bound that is not an
                int64, an empty window, or malformed ``fields``.
        """
        what = "ticket"
        obj = jb.load_object(data, what)
        topic = TopicLocator.parse(jb.req_str(obj, "locator", what))
        raw = obj.get("fields")
        fields = None if raw is None else parse_fields(raw, what)
        return cls(topic, TimeWindow.from_json(obj, what), fields)

    def to_bytes(self) -> bytes:
        """``{"locator", "start_ns", "end_ns"}`` (and ``"fields"`` when set) as UTF-8
        JSON, for ``flight.Ticket``."""
        obj = {"locator": str(self.topic), **self.window.to_json()}
        if self.fields is not None:
            obj["fields"] = list(self.fields)
        return jb.dump_object(obj)
