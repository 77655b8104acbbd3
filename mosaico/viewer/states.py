"""State bands for the viewer: the runs of a string, enum or bool field over time.

A run is a stretch of consecutive samples with one value, from its first sample's time to
the next run's first sample (the last run ends at its last sample). Where a field changes
faster than one bucket of the plot's width, the bucket's runs are shown as one *mixed*
run (value None), so the reply stays under about two runs per bucket however busy the
field is; memory stays bounded the same way while the topic is read, batch by batch, with
only the field's column.

>>> bands = state_runs(source, "status.service", buckets=1000)
>>> bands.values[:2], bands.starts_ns[:2]
(['gps', None], array([1700000000000000000, 1700000000040000000]))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mosaico.ml.source import TIMESTAMP, TopicSource
from mosaico.tabular import flatten_table
from mosaico.viewer.errors import ViewerError
from mosaico.viewer.series import MAX_BUCKETS, time_range

__all__ = ["StateRuns", "state_fields", "state_runs"]

_MIXED = -1


@attrs.frozen
class StateRuns:
    """The runs of one field: ``starts_ns``/``ends_ns`` (int64) and ``values`` (text, None
    for a mixed run), in time order, over ``[start_ns, end_ns)``."""

    field: str
    starts_ns: np.ndarray
    ends_ns: np.ndarray
    values: list[str | None]
    start_ns: int
    end_ns: int


def _is_state(t: pa.DataType) -> bool:
    return (
        pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t)
        or pa.types.is_dictionary(t)
    )  # fmt: skip


def _leaves(fields: pa.Schema | pa.StructType, prefix: str) -> Iterator[str]:
    for field in fields:
        if pa.types.is_struct(field.type):
            yield from _leaves(field.type, f"{prefix}{field.name}.")
        elif _is_state(field.type):
            yield f"{prefix}{field.name}"


def state_fields(schema: pa.Schema) -> list[str]:
    """The flat names of the schema's string, enum (dictionary) and bool leaves."""
    return list(_leaves(schema, ""))


class _Runs:
    """Runs folded in batch by batch: start times and value codes, coalesced per bucket."""

    def __init__(self, lo: int, width: int) -> None:
        self.lo, self.width = lo, width
        self.starts = np.zeros(0, np.int64)
        self.codes = np.zeros(0, np.int64)
        self.last_ts: int | None = None
        self.names: dict[str, int] = {}

    def add(self, ts: np.ndarray, values: pa.Array) -> None:
        """Fold in one batch's samples (record times ``ts``, in time order)."""
        if not len(values):
            return
        text = pc.cast(values, pa.string()).fill_null("null")
        encoded = pc.dictionary_encode(text)
        to_code = np.array(
            [self.names.setdefault(v, len(self.names)) for v in encoded.dictionary.to_pylist()],
            np.int64,
        )
        code = to_code[encoded.indices.to_numpy()]
        change = np.r_[True, code[1:] != code[:-1]]
        if self.codes.size and code.size and code[0] == self.codes[-1]:
            change[0] = False
        self.starts = np.r_[self.starts, ts[change]]
        self.codes = np.r_[self.codes, code[change]]
        self.last_ts = int(ts[-1])
        self._coalesce()

    def _coalesce(self) -> None:
        """Runs that start in the same bucket become one mixed run; then equal neighbours
        merge."""
        # Unsigned difference: exact for any int64 range.
        bucket = (self.starts - np.int64(self.lo)).view(np.uint64) // np.uint64(self.width)
        crowded = np.r_[bucket[1:] == bucket[:-1], False] | np.r_[False, bucket[1:] == bucket[:-1]]
        codes = np.where(crowded, _MIXED, self.codes)
        keep = np.r_[True, codes[1:] != codes[:-1]]
        self.starts, self.codes = self.starts[keep], codes[keep]


def state_runs(
    source: TopicSource, field: str, start_ns: int | None = None, end_ns: int | None = None,
    buckets: int = 2000,
) -> StateRuns:  # fmt: skip
    """The runs of ``field`` (one of `state_fields`) in ``[start_ns, end_ns)``.

    Raises:
        ViewerError: an unknown or non-state field, an empty or unknown range, or
            ``buckets`` outside 1..100,000.
    """
    known = state_fields(source.schema)
    if field not in known:
        shown = ", ".join(known[:12]) or "none"
        raise ViewerError(
            f"topic {source.name!r} has no string, enum or bool field {field!r} "
            f"(state fields: {shown})"
        )
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ViewerError(f"buckets must be in 1..{MAX_BUCKETS}, got {buckets}")
    lo, hi = time_range(source, start_ns, end_ns)
    runs = _Runs(lo, -(-(hi - lo) // buckets))
    for batch in source.batches(lo, hi, fields=[field]):
        flat = flatten_table(batch)
        runs.add(flat.column(TIMESTAMP).to_numpy(), flat.column(field).combine_chunks())
    return _result(field, runs, lo, hi)


def _result(field: str, runs: _Runs, lo: int, hi: int) -> StateRuns:
    names: Sequence[str] = list(runs.names)
    values = [None if c == _MIXED or c >= len(names) else names[c] for c in runs.codes.tolist()]
    ends = np.r_[runs.starts[1:], runs.last_ts if runs.last_ts is not None else lo]
    return StateRuns(field, runs.starts, ends.astype(np.int64), values, lo, hi)
