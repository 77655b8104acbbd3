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
from mosaico.ml.source import TIMESTAMP, TopicSource

TimestampSource = Literal["record", "header"]


def check_timestamp_source(timestamp: str) -> None:
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


class Cursor:
    """Buffered, key-ordered reader of one topic over a record-time range."""

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
        self._last: int | None = None
        self._exhausted = False
        self.last_key: int | None = None

    @property
    def done(self) -> bool:
        return self._exhausted and not self._parts

    def _pull(self) -> bool:
        for batch in self._batches:
            keys, valid = keys_of(batch, self._timestamp)
            if valid is not None:
                batch = batch.filter(pa.array(valid))
            if self._lo is not None or self._hi is not None:
                keep = np.ones(len(keys), dtype=bool)
                if self._lo is not None:
                    keep &= keys >= self._lo
                if self._hi is not None:
                    keep &= keys < self._hi
                if not keep.all():
                    batch, keys = batch.filter(pa.array(keep)), keys[keep]
            if not len(keys):
                continue
            if np.any(keys[1:] < keys[:-1]) or (self._last is not None and keys[0] < self._last):
                what = "timestamp_ns" if self._timestamp == "record" else "header.timestamp"
                raise MLInputError(f"topic {self.topic!r}: {what} is not non-decreasing")
            self._last = int(keys[-1])
            self.last_key = self._last
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
