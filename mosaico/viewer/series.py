"""Downsampled series: at most four points per pixel bucket of a topic's numeric fields.

The time range ``[start_ns, end_ns)`` is cut into ``buckets`` equal slices (one per pixel
of the plot's width). Each slice keeps its **first, minimum, maximum and last** sample
(M4, Jugel et al., VLDB 2014): the min/max keep every spike, first/last keep the lines
between slices where they are in the full data, so a line through the points looks like a
line through every sample at that width. Points come out in time order, a sample kept for
two roles (first and min, say) once.

The topic is read batch by batch, only the named fields' columns (``TopicSource.batches``
with ``fields``: a server reads only those Parquet columns), and folded into per-bucket
accumulators: memory is bounded by ``buckets``, never by the topic's length, and every
step is vectorised numpy. Nulls and NaN are skipped; bool, enum and integer fields are
plotted as numbers (as float64: integers beyond 2**53 are rounded).

>>> series = downsample(source, ["acceleration.x", "acceleration.z"], buckets=1000)
>>> s = series["acceleration.x"]
>>> s.timestamps_ns.dtype, s.values.dtype, len(s.values) <= 4 * 1000
(dtype('int64'), dtype('float64'), True)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs
import numpy as np
import pyarrow as pa

from mosaico.client import TopicHandler
from mosaico.ml.client_source import HandlerSource
from mosaico.ml.source import TIMESTAMP, TopicSource
from mosaico.tabular import flatten_table
from mosaico.viewer.errors import ViewerError

__all__ = [
    "DEFAULT_BUCKETS",
    "MAX_BUCKETS",
    "NumericField",
    "Series",
    "downsample",
    "numeric_fields",
    "time_range",
]

DEFAULT_BUCKETS = 2000
MAX_BUCKETS = 100_000


@attrs.frozen
class NumericField:
    """A numeric leaf of a topic's schema, as a plot picker lists it.

    Attributes:
        name: the flat dotted name (``acceleration.x``, ``covariance_3``), as
            ``mosaico.ml.flatten`` names the column.
        path: the field path the server is asked for (the whole list for a list element).
        type: the leaf's Arrow type.
        unit: the ``unit`` metadata of the leaf, else (for a float leaf) of its struct;
            None if neither has one.
    """

    name: str
    path: str
    type: pa.DataType
    unit: str | None


@attrs.frozen
class Series:
    """One field's downsampled points over ``[start_ns, end_ns)``.

    Attributes:
        field: the field (flat dotted name).
        unit: its unit, or None.
        timestamps_ns: int64 record times of the points, ascending.
        values: float64 values of the points (no NaN).
        start_ns: start of the range (inclusive).
        end_ns: end of the range (exclusive).
        bucket_ns: width of one bucket in nanoseconds.
        rows: the non-null samples read for this field.
    """

    field: str
    unit: str | None
    timestamps_ns: np.ndarray
    values: np.ndarray
    start_ns: int
    end_ns: int
    bucket_ns: int
    rows: int


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def _unit(field: pa.Field) -> str | None:
    unit = (field.metadata or {}).get(b"unit")
    return unit.decode() if unit else None


def _leaves(
    fields: pa.Schema | pa.StructType, prefix: str, parent_unit: str | None
) -> Iterator[NumericField]:
    for field in fields:
        name = f"{prefix}{field.name}"
        t = field.type
        # A struct's unit (Vector3d's m/s²) is that of its float components, not of its
        # counters, codes or nested headers.
        own = _unit(field) or (parent_unit if pa.types.is_floating(t) else None)
        if pa.types.is_struct(t):
            yield from _leaves(t, f"{name}.", _unit(field))
        elif pa.types.is_fixed_size_list(t) and _is_numeric(t.value_type):
            for i in range(t.list_size):
                yield NumericField(f"{name}_{i}", name, t.value_type, own)
        elif _is_numeric(t) and name != TIMESTAMP:
            yield NumericField(name, name, t, own)


def numeric_fields(topic: TopicSource | TopicHandler | pa.Schema) -> list[NumericField]:
    """The numeric leaves of a topic's schema (ints, floats, bools, enums; elements of
    fixed-size numeric lists), in stored order, without ``timestamp_ns``.

    >>> [f.name for f in numeric_fields(imu_source)][:2]
    ['header.timestamp.seconds', 'header.timestamp.nanoseconds']
    """
    schema = topic if isinstance(topic, pa.Schema) else _source(topic).schema
    return list(_leaves(schema, "", None))


def _source(topic: TopicSource | TopicHandler) -> TopicSource:
    return HandlerSource(topic) if isinstance(topic, TopicHandler) else topic


def _resolve(source: TopicSource, fields: Sequence[str]) -> list[NumericField]:
    if isinstance(fields, str):
        fields = [fields]
    if not fields:
        raise ViewerError(f"topic {source.name!r}: name at least one field to plot")
    known = {f.name: f for f in numeric_fields(source)}
    out = []
    for name in fields:
        if name not in known:
            raise ViewerError(_unknown(source, name, known))
        out.append(known[name])
    return out


def _unknown(source: TopicSource, name: str, known: dict[str, NumericField]) -> str:
    flat = source.schema.empty_table()
    every = flatten_table(flat).column_names
    shown = ", ".join(list(known)[:12]) + (", ..." if len(known) > 12 else "")
    if name in every:
        return (
            f"topic {source.name!r}: field {name!r} is not numeric "
            f"({flatten_table(flat).schema.field(name).type}); numeric fields: {shown or 'none'}"
        )
    return f"topic {source.name!r} has no field {name!r} (numeric fields: {shown or 'none'})"


def time_range(
    source: TopicSource, start_ns: int | None, end_ns: int | None
) -> tuple[int, int]:
    """``[start_ns, end_ns)`` with a missing bound taken from the topic's first record or just
    after its last.

    Raises:
        ViewerError: the range is empty, or a bound is missing and the topic has no data.
    """
    if start_ns is None or end_ns is None:
        bounds = source.bounds()
        if bounds is None:
            raise ViewerError(f"topic {source.name!r} has no data")
        start_ns = bounds[0] if start_ns is None else start_ns
        end_ns = bounds[1] + 1 if end_ns is None else end_ns
    if start_ns >= end_ns:
        raise ViewerError(
            f"empty time range: end ({end_ns} ns) must be after start ({start_ns} ns)"
        )
    return int(start_ns), int(end_ns)


class _Buckets:
    """Per-bucket first/min/max/last of one field, folded in batch by batch."""

    def __init__(self, n: int) -> None:
        self.seen = np.zeros(n, dtype=bool)
        # Rows: first, min, max, last; timestamps and values of each role.
        self.ts = np.zeros((4, n), dtype=np.int64)
        self.v = np.zeros((4, n), dtype=np.float64)
        self.v[1] = np.inf
        self.v[2] = -np.inf
        self.rows = 0

    def add(self, bucket: np.ndarray, ts: np.ndarray, v: np.ndarray) -> None:
        """Fold in samples in time order (``bucket`` their bucket numbers, ascending)."""
        if not v.size:
            return
        self.rows += v.size
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        u = bucket[starts]
        last = np.r_[starts[1:] - 1, v.size - 1]
        new = ~self.seen[u]
        self._put(0, u[new], starts[new], ts, v)
        self._put(3, u, last, ts, v)
        for role, reduce in ((1, np.minimum), (2, np.maximum)):
            at = _first_extreme(v, starts, reduce)
            better = v[at] < self.v[role, u] if role == 1 else v[at] > self.v[role, u]
            self._put(role, u[better], at[better], ts, v)
        self.seen[u] = True

    def _put(self, role: int, u: np.ndarray, at: np.ndarray, ts: np.ndarray, v: np.ndarray) -> None:
        self.ts[role, u] = ts[at]
        self.v[role, u] = v[at]

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept points in time order, each sample once."""
        occupied = np.flatnonzero(self.seen)
        ts, v = self.ts[:, occupied].T, self.v[:, occupied].T
        order = np.argsort(ts, axis=1, kind="stable")
        ts, v = np.take_along_axis(ts, order, 1), np.take_along_axis(v, order, 1)
        keep = np.ones(ts.shape, dtype=bool)
        keep[:, 1:] = (ts[:, 1:] != ts[:, :-1]) | (v[:, 1:] != v[:, :-1])
        return ts[keep], v[keep]


def _first_extreme(v: np.ndarray, starts: np.ndarray, reduce: np.ufunc) -> np.ndarray:
    """Index of the first minimum (or maximum) of each segment of ``v`` from ``starts``."""
    extreme = reduce.reduceat(v, starts)
    counts = np.diff(np.r_[starts, v.size])
    hits = np.flatnonzero(v == np.repeat(extreme, counts))
    segment = np.searchsorted(starts, hits, "right") - 1
    return hits[np.r_[True, segment[1:] != segment[:-1]]]


def _values(flat: pa.Table, name: str) -> np.ndarray:
    col = flat.column(name)
    if pa.types.is_boolean(col.type):
        col = col.cast(pa.int8())
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


def downsample(
    topic: TopicSource | TopicHandler,
    fields: Sequence[str],
    start_ns: int | None = None,
    end_ns: int | None = None,
    buckets: int = DEFAULT_BUCKETS,
) -> dict[str, Series]:
    """Each field's first/min/max/last per time bucket of ``[start_ns, end_ns)``.

    Args:
        topic: a `TopicSource` (e.g. ``HandlerSource``) or a client ``TopicHandler``.
        fields: flat dotted names of numeric leaves (see `numeric_fields`).
        start_ns: start of the range (inclusive); default: the topic's first record.
        end_ns: end of the range (exclusive); default: just after its last record.
        buckets: number of time buckets (the plot's width in pixels); at most 4 points
            each.

    Returns:
        One `Series` per field, in the order named. A range with no samples gives empty
        arrays.

    Raises:
        ViewerError: an unknown or non-numeric field, no field, an empty or unknown range
            (an empty topic without both bounds), ``buckets`` outside 1..100,000.
    """
    if isinstance(buckets, bool) or not isinstance(buckets, int) or not 1 <= buckets <= MAX_BUCKETS:
        raise ViewerError(f"buckets must be an integer in 1..{MAX_BUCKETS}, got {buckets!r}")
    source = _source(topic)
    picked = _resolve(source, fields)
    lo, hi = time_range(source, start_ns, end_ns)
    width = -(-(hi - lo) // buckets)
    acc = {f.name: _Buckets(-(-(hi - lo) // width)) for f in picked}
    paths = list(dict.fromkeys(f.path for f in picked))
    for batch in source.batches(lo, hi, fields=paths):
        flat = flatten_table(batch)
        ts = flat.column(TIMESTAMP).to_numpy()
        # Unsigned difference: exact for any int64 range.
        bucket = (ts - np.int64(lo)).view(np.uint64) // np.uint64(width)
        for name, state in acc.items():
            v = _values(flat, name)
            ok = ~np.isnan(v)
            state.add(bucket[ok], ts[ok], v[ok])
    out = {}
    for f in picked:
        ts, v = acc[f.name].points()
        out[f.name] = Series(f.name, f.unit, ts, v, lo, hi, width, acc[f.name].rows)
    return out
