"""A topic read as a queue of rows keyed by time, cut into windows with bounded memory.

The key is the record `timestamp_ns` or a time field of the topic (`mosaico.ml.timekey`);
either must be non-decreasing in stream order so that windows can be cut without sorting
the stream.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from mosaico.ml.errors import MLInputError
from mosaico.ml.source import TopicSource
from mosaico.ml.timekey import RECORD_KEY, TimeKey


def keyed(batch: pa.RecordBatch, key: TimeKey) -> tuple[pa.RecordBatch, np.ndarray]:
    """The rows of a batch that have a time key, and their keys."""
    keys, valid = key.keys(batch)
    return (batch, keys) if valid is None else (batch.filter(pa.array(valid)), keys)


class OrderCheck:
    """Raises `MLInputError` when a topic's keys go backwards, within or across batches."""

    def __init__(self, topic: str, key: TimeKey) -> None:
        self.topic = topic
        self.key = key
        self.last: int | None = None

    def __call__(self, keys: np.ndarray) -> None:
        """Check the next batch's (non-empty) keys."""
        if np.any(keys[1:] < keys[:-1]) or (self.last is not None and keys[0] < self.last):
            raise MLInputError(f"topic {self.topic!r}: {self.key.label} is not non-decreasing")
        self.last = int(keys[-1])


def ordered_batches(
    source: TopicSource, start_ns: int | None, end_ns: int | None
) -> Iterator[pa.RecordBatch]:
    """The source's non-empty batches in `[start_ns, end_ns)`, checked to be in record order."""
    check = OrderCheck(source.name, RECORD_KEY)
    for batch in source.batches(start_ns, end_ns):
        if len(batch):
            check(RECORD_KEY.keys(batch)[0])
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
        key: TimeKey,
        *,
        records_from: int | None = None,
    ) -> None:
        """Rows keyed in `[start_ns, end_ns)`.

        With a key other than record time, records are read from record time
        `records_from` (default `start_ns`), as a key can follow its record, and on until
        the first row keyed at or past `end_ns`, as a key can precede its record.
        """
        self.topic = source.name
        self.schema = source.schema
        self._key = key
        read_from = start_ns if records_from is None or key.is_record else records_from
        read_to = end_ns if key.is_record else None
        self._batches: Iterator[pa.RecordBatch] = iter(source.batches(read_from, read_to))
        # Another key can fall outside the record-time range: keep the window's promise.
        self._lo = None if key.is_record else start_ns
        self._hi = None if key.is_record else end_ns
        self._parts: list[tuple[pa.RecordBatch, np.ndarray]] = []
        self._order = OrderCheck(source.name, key)
        self._exhausted = False
        self._past_end = False

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
        batch, keys = keyed(batch, self._key)
        if self._hi is not None and keys.size and keys.max() >= self._hi:
            self._past_end = True  # keys do not decrease: no later row is in the window
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
            if self._past_end:
                self._stop()
            if len(keys):
                self._order(keys)
                self._parts.append((batch, keys))
                return True
            if self._exhausted:
                return False
        self._exhausted = True
        return False

    def _stop(self) -> None:
        """End the read early (a client stream is cancelled)."""
        self._exhausted = True
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()

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
