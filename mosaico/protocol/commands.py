"""Descriptor commands and tickets (spec §6.1, §7.1, §7.5)."""

from __future__ import annotations

from typing import Any

import attrs

from mosaico.protocol import jsonbody as jb
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.names import (
    TopicLocator,
    is_topic_locator,
    normalize_sequence_name,
    parse_uuid,
)


def _check_window(start: int | None, end: int | None, what: str) -> None:
    if start is not None and end is not None and start >= end:
        raise InvalidArgument(f"{what}: empty time window, start {start} >= end {end}")


@attrs.frozen
class TimeWindow:
    """Half-open ``[start_ns, end_ns)``; a None bound is unbounded (§7.7)."""

    start_ns: int | None = None
    end_ns: int | None = None

    @property
    def bounded(self) -> bool:
        return self.start_ns is not None or self.end_ns is not None

    def overlaps(self, min_ts: int, max_ts: int) -> bool:
        """Whether a closed interval of actual timestamps can hold a row inside the window."""
        if self.start_ns is not None and max_ts < self.start_ns:
            return False
        return not (self.end_ns is not None and min_ts >= self.end_ns)

    def contains_interval(self, min_ts: int, max_ts: int) -> bool:
        if self.start_ns is not None and min_ts < self.start_ns:
            return False
        return not (self.end_ns is not None and max_ts >= self.end_ns)


@attrs.frozen
class ResourceCommand:
    """GetFlightInfo / GetSchema command: a sequence name or a topic locator, plus a window."""

    sequence: str
    topic: TopicLocator | None
    window: TimeWindow = TimeWindow()

    @classmethod
    def parse(cls, data: bytes) -> ResourceCommand:
        what = "resource command"
        obj = jb.load_object(data, what)
        raw = jb.req_str(obj, "resource_locator", what)
        if ":" in raw:
            raise InvalidArgument(f"{what}: session locator {raw!r} cannot be described")
        start = jb.opt_int(obj, "timestamp_ns_start", what)
        end = jb.opt_int(obj, "timestamp_ns_end", what)
        _check_window(start, end, what)
        if is_topic_locator(raw):
            topic = TopicLocator.parse(raw)
            return cls(topic.sequence, topic, TimeWindow(start, end))
        return cls(normalize_sequence_name(raw), None, TimeWindow(start, end))

    @property
    def locator(self) -> str:
        return self.sequence if self.topic is None else str(self.topic)

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"resource_locator": self.locator}
        if self.window.start_ns is not None:
            obj["timestamp_ns_start"] = self.window.start_ns
        if self.window.end_ns is not None:
            obj["timestamp_ns_end"] = self.window.end_ns
        return obj

    def to_bytes(self) -> bytes:
        return jb.dump_object(self.to_json())


@attrs.frozen
class UploadCommand:
    """DoPut descriptor: ``{"resource_locator", "topic_uuid"}``."""

    topic: TopicLocator
    topic_uuid: str

    @classmethod
    def parse(cls, data: bytes) -> UploadCommand:
        what = "upload descriptor"
        obj = jb.load_object(data, what)
        topic = TopicLocator.parse(jb.req_str(obj, "resource_locator", what))
        return cls(topic, parse_uuid(jb.req_str(obj, "topic_uuid", what), "topic_uuid"))

    def to_bytes(self) -> bytes:
        return jb.dump_object({"resource_locator": str(self.topic), "topic_uuid": self.topic_uuid})


@attrs.frozen
class Ticket:
    """DoGet ticket: the topic and the requested window, as JSON."""

    topic: TopicLocator
    window: TimeWindow = TimeWindow()

    @classmethod
    def parse(cls, data: bytes) -> Ticket:
        what = "ticket"
        obj = jb.load_object(data, what)
        topic = TopicLocator.parse(jb.req_str(obj, "locator", what))
        start = jb.opt_int(obj, "start_ns", what)
        end = jb.opt_int(obj, "end_ns", what)
        _check_window(start, end, what)
        return cls(topic, TimeWindow(start, end))

    def to_bytes(self) -> bytes:
        window = self.window
        return jb.dump_object(
            {"locator": str(self.topic), "start_ns": window.start_ns, "end_ns": window.end_ns}
        )
