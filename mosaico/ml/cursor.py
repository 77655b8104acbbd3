"""A topic read as a queue of rows keyed by time, cut into windows with bounded memory.

The key is the record `timestamp_ns` or the sensor's `header.timestamp`; either must be
non-decreasing in stream order so that windows can be cut without sorting the stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mosaico.ml.errors import MLInputError
from mosaico.ml.source import TopicSource
from mosaico.protocol.topic_type import TIMESTAMP

TimestampSource = Literal["record", "header"]


def check_timestamp_source(timestamp: str) -> None:
    """Raise `MLInputError` unless `timestamp` is "record" or "header"."""
    if timestamp not in ("record", "header"):
        raise MLInputError(f"timestamp must be 'record' or 'header', got {timestamp!r}")


def has_header_time(schema: pa.Schema) -> bool:
    """Whether the topic schema carries `header.timestamp.{seconds,nanoseconds}`."""
    if "header" not in schema.names:
        return False
    header = schema.field("header").type
    if not pa.types.is_struct(header) or header.get_field_index("timestamp") < 0:
        return False
    ts = header.field("timestamp").type
    return (
        pa.types.is_struct(ts)
        and ts.get_field_index("seconds") >= 0
        and ts.get_field_index("nanoseconds") >= 0
    )


def keys_of(
    batch: pa.RecordBatch, timestamp: TimestampSource
) -> tuple[np.ndarray, np.ndarray | None]:
    """Time keys of a batch's rows, and (header time only) the mask of rows that have one."""
    if timestamp == "record":
        return batch.column(TIMESTAMP).to_numpy().astype(np.int64, copy=False), None
    header = batch.column("header")
    sec = pc.struct_field(header, ["timestamp", "seconds"])
    nsec = pc.struct_field(header, ["timestamp", "nanoseconds"])
    valid = pc.and_(sec.is_valid(), nsec.is_valid()).to_numpy(zero_copy_only=False)
    s = sec.fill_null(0).to_numpy().astype(np.int64)
    ns = nsec.fill_null(0).to_numpy().astype(np.int64)
    keys = s * 1_000_000_000 + ns
    return (keys, None) if valid.all() else (keys[valid], valid)


def keyed(batch: pa.RecordBatch, timestamp: TimestampSource) -> tuple[pa.RecordBatch, np.ndarray]:
    """The rows of a batch that have a time key, and their keys."""
    keys, valid = keys_of(batch, timestamp)
    return (batch, keys) if valid is None else (batch.filter(pa.array(valid)), keys)


class OrderCheck:
    """Raises `MLInputError` when a topic's keys go backwards, within or across batches."""

    def __init__(self, topic: str, timestamp: TimestampSource) -> None:
        self.topic = topic
        self.timestamp: TimestampSource = timestamp
        self.last: int | None = None

    def __call__(self, keys: np.ndarray) -> None:
        """Check the next batch's (non-empty) keys."""
        if np.any(keys[1:] < keys[:-1]) or (self.last is not None and keys[0] < self.last):
            what = "timestamp_ns" if self.timestamp == "record" else "header.timestamp"
            raise MLInputError(f"topic {self.topic!r}: {what} is not non-decreasing")
        self.last = int(keys[-1])


def ordered_batches(
    source: TopicSource, start_ns: int | None, end_ns: int | None
) -> Iterator[pa.RecordBatch]:
    """The source's non-empty batches in `[start_ns, end_ns)`, checked to be in record order."""
    check = OrderCheck(source.name, "record")
    for batch in source.batches(start_ns, end_ns):
        if len(batch):
            check(keys_of(batch, "record")[0])
            yield batch


class Cursor:
    """Buffered, key-ordered reader of one topic over a record-time range.

    The synchronizer `fill`s every topic's cursor up to a window's end, then `take`s the
    rows before it: memory holds about one batch per topic beyond the window.

    Raises:
        MLInputError: (while reading) the keys go backwards.
    """

    def __init__(
        self,
        source: TopicSource,
        start_ns: int | None,
        end_ns: int | None,
        timestamp: TimestampSource,
        *,
        records_from: int | None = None,
    ) -> None:
        """Rows keyed in `[start_ns, end_ns)`; with header time, records are read from
        record time `records_from` (default `start_ns`), as a key can precede its record."""
        self.topic = source.name
        self.schema = source.schema
        self._timestamp = timestamp
        read_from = start_ns if records_from is None or timestamp == "record" else records_from
        self._batches: Iterator[pa.RecordBatch] = iter(source.batches(read_from, end_ns))
        # Header time can fall outside the record-time range: keep the window's promise.
        self._lo = start_ns if timestamp == "header" else None
        self._hi = end_ns if timestamp == "header" else None
        self._parts: list[tuple[pa.RecordBatch, np.ndarray]] = []
        self._order = OrderCheck(source.name, timestamp)
        self._exhausted = False

    @property
    def last_key(self) -> int | None:
        """Key of the last row read so far (None before the first)."""
        return self._order.last

    @property
    def done(self) -> bool:
        """True once the topic is read to its end and every buffered row was taken."""
        return self._exhausted and not self._parts

    def _keyed(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, np.ndarray]:
        """A batch's rows that have a key in the window, and their keys."""
        batch, keys = keyed(batch, self._timestamp)
        if self._lo is None and self._hi is None:
            return batch, keys
        keep = np.ones(len(keys), dtype=bool)
        if self._lo is not None:
            keep &= keys >= self._lo
        if self._hi is not None:
            keep &= keys < self._hi
        if keep.all():
            return batch, keys
        return batch.filter(pa.array(keep)), keys[keep]

    def _pull(self) -> bool:
        for raw in self._batches:
            batch, keys = self._keyed(raw)
            if len(keys):
                self._order(keys)
                self._parts.append((batch, keys))
                return True
        self._exhausted = True
        return False

    def fill(self, until: int) -> None:
        """Read until a row with key >= `until` is buffered or the topic ends."""
        while not self._exhausted and (not self._parts or self._parts[-1][1][-1] < until):
            self._pull()

    def first_key(self) -> int | None:
        """Key of the next buffered row (reading one batch if needed)."""
        while not self._parts and not self._exhausted:
            self._pull()
        return int(self._parts[0][1][0]) if self._parts else None

    def take(self, until: int) -> tuple[list[pa.RecordBatch], np.ndarray]:
        """Remove and return the rows with key < `until` (call `fill(until)` first)."""
        out: list[pa.RecordBatch] = []
        keys: list[np.ndarray] = []
        while self._parts:
            batch, k = self._parts[0]
            cut = int(np.searchsorted(k, until, "left"))
            if cut == len(k):
                out.append(batch)
                keys.append(k)
                self._parts.pop(0)
                continue
            if cut:
                out.append(batch.slice(0, cut))
                keys.append(k[:cut])
                self._parts[0] = (batch.slice(cut), k[cut:])
            break
        return out, (np.concatenate(keys) if keys else np.empty(0, np.int64))

    def peek(self) -> tuple[pa.RecordBatch, int] | None:
        """The next buffered row (one-row batch) and its key, without removing it."""
        if not self._parts:
            return None
        batch, k = self._parts[0]
        return batch.slice(0, 1), int(k[0])
