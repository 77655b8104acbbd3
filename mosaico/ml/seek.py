"""Find a topic's first, last, or last-before-a-time row without reading the whole topic.

A synchronisation that starts inside the data needs each stream's last sample before the
start (hold, as-of, drop and interpolation look back); a grid needs the first and last key.
With record time the catalogue's bounds and a backwards read in growing steps find them;
with another key (header or measurement time), which can differ from record time, a search
over record time.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mosaico.ml.cursor import Cursor, keyed
from mosaico.ml.source import TopicSource
from mosaico.ml.timekey import TimeKey
from mosaico.protocol.topic_type import TIMESTAMP

Found = tuple[pa.RecordBatch, int]
"""A one-row batch and its record time."""

_FOREVER = np.iinfo(np.int64).max


def first_key(source: TopicSource, key: TimeKey) -> int | None:
    """The key of the topic's first row (None: no row has one)."""
    if key.is_record:
        # The catalogue knows the first record time: no need to open a stream.
        bounds = source.bounds()
        return None if bounds is None else bounds[0]
    return Cursor(source, None, None, key).first_key()


def last_key(source: TopicSource, key: TimeKey) -> int | None:
    """The key of the topic's last row (None: no row has one)."""
    if key.is_record:
        bounds = source.bounds()
        return None if bounds is None else bounds[1]
    found = last_before_key(source, _FOREVER, key)
    return None if found is None else int(key.keys(found[0])[0][0])


def seed(
    source: TopicSource, t: int, floor: int | None, key: TimeKey
) -> tuple[pa.RecordBatch | None, int | None]:
    """The last row keyed before `t` (record time: not before `floor`) and, with another
    key, the record time to read the rest from: the seed's own, as records sharing it may
    be keyed after `t`."""
    if key.is_record:
        return last_before(source, t, floor), None
    found = last_before_key(source, t, key)
    if found is None:
        bounds = source.bounds()
        return None, None if bounds is None else bounds[0]
    return found


def records_from(source: TopicSource, t: int, key: TimeKey) -> int | None:
    """The record time to read from so that every row keyed at or after `t` is read (a key
    other than record time can follow its record); None for an empty topic."""
    found = last_before_key(source, t, key)
    if found is not None:
        return found[1]
    bounds = source.bounds()
    return None if bounds is None else bounds[0]


def last_before(source: TopicSource, t: int, floor: int | None) -> pa.RecordBatch | None:
    """The last record with floor <= timestamp_ns < t, read backwards in growing steps."""
    bounds = source.bounds()
    if bounds is None or bounds[0] >= t:
        return None
    first = bounds[0] if floor is None else max(bounds[0], floor)
    lookback = 1_000_000_000
    while True:
        lo = max(t - lookback, first)
        last = None
        for b in source.batches(lo, t):
            if len(b):
                last = b
        if last is not None:
            return last.slice(len(last) - 1, 1)
        if lo <= first:
            return None
        lookback *= 4


def _probe(source: TopicSource, r: int, t: int, key: TimeKey) -> tuple[int | None, Found | None]:
    """Reads the first batch at record time >= r that has keys. Returns the record
    time of its last row if all its rows are keyed before t (else None), and the last row
    keyed before t with its record time if the batch holds the crossing."""
    for raw in source.batches(r, None):
        b, keys = keyed(raw, key)
        if not keys.size:
            continue
        n = int(np.searchsorted(keys, t, "left"))
        records = b.column(TIMESTAMP)
        if n == len(keys):
            return int(records[n - 1].as_py()), None
        if n:
            return None, (b.slice(n - 1, 1), int(records[n - 1].as_py()))
        return None, None
    return None, None


def last_before_key(source: TopicSource, t: int, key: TimeKey) -> Found | None:
    """The last record whose key (not record time) is < t, and its record time.

    Keys are non-decreasing in record order, so the records keyed before t form a prefix: a
    search over record time finds its end, reading one batch per probe. It gallops from
    record time t (key and record time are usually close), then bisects.
    """
    bounds = source.bounds()
    if bounds is None:
        return None
    before, found = _probe(source, bounds[0], t, key)
    if found is not None or before is None:
        return found
    # From the last record when t is past them all (the last key is then one probe away).
    lo, found = _prefix_end(source, t, key, (before, bounds[1] + 1), min(t, bounds[1]))
    return found if found is not None else _last_keyed_at(source, lo, t, key)


def _prefix_end(
    source: TopicSource, t: int, key: TimeKey, span: tuple[int, int], r: int
) -> tuple[int, Found | None]:
    """Narrow `span`, record times `[lo, hi)`, to the record time of the prefix's last
    record, probing from `r`; or the crossing row, if a probe meets it first.

    Invariant: the first keyed record at >= lo is keyed before t; none at >= hi is.
    """
    lo, hi = span
    step, gallop = 1_000_000, 0
    while hi - lo > 1:
        if not lo < r < hi:
            r = (lo + hi) // 2
        before, found = _probe(source, r, t, key)
        if found is not None:
            return lo, found
        direction = 1 if before is not None else -1
        if before is not None:
            lo = before
        else:
            hi = r
        # Keep galloping while the probes move one way; bisect once they turned.
        if gallop in (0, direction):
            gallop, r, step = direction, r + direction * step, step * 2
        else:
            r = (lo + hi) // 2
    return lo, None


def _last_keyed_at(source: TopicSource, lo: int, t: int, key: TimeKey) -> Found:
    """The last row keyed before t among the records at record time lo (records sharing
    it may pass t)."""
    last = None
    for raw in source.batches(lo, lo + 1):
        b, keys = keyed(raw, key)
        n = int(np.searchsorted(keys, t, "left"))
        if n:
            last = b.slice(n - 1, 1)
    assert last is not None
    return last, lo
