"""Chunk pruning from per-chunk, per-leaf min/max statistics.

A chunk is skipped only when statistics prove that no row can satisfy every entry of the
tag. Each entry is tested on its own (a necessary condition for the conjunction on one row).
List leaves (``covariance[]``) aggregate all elements, so one range covers ``[?]``, ``[!]``
(which needs at least one satisfying element) and ``[i]`` alike. When in doubt (no
statistics, a leaf kind the bounds do not order, NaN) the answer is "may match".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from mosaico.protocol.commands import TimeWindow
from mosaico.protocol.query import Condition, OntologyEntry
from mosaico.server.query.plan import stats_path

_GLOB_SPECIALS = "*?[#"


class LeafStats(Protocol):
    """What pruning needs of one leaf's statistics (``catalog.ColumnStats`` fits)."""

    @property
    def kind(self) -> str:
        """``int``, ``real``, ``text`` or ``bool`` (booleans bounded as 0 and 1)."""

    @property
    def min_value(self) -> Any:
        """Smallest non-null value of the leaf; None when it holds nulls only."""

    @property
    def max_value(self) -> Any:
        """Largest non-null value of the leaf; None when it holds nulls only."""


KeepTest = Callable[[Mapping[str, LeafStats]], bool]
"""A "may match" test over the statistics of a chunk or of a part of it (a row group)."""


def _literal_prefix(pattern: str) -> str:
    for i, char in enumerate(pattern):
        if char in _GLOB_SPECIALS:
            return pattern[:i]
    return pattern


# Which bound decides an ordered comparison: some v >= low satisfies `v < x` iff low < x.
_DECIDING_BOUND = {"$lt": 0, "$leq": 0, "$gt": 1, "$geq": 1}


def _match_may_satisfy(low: Any, high: Any, pattern: str) -> bool:
    prefix = _literal_prefix(pattern)
    # Strings starting with `prefix` form one contiguous run beginning at `prefix`.
    return bool(high >= prefix and (low <= prefix or low.startswith(prefix)))


def range_may_satisfy(low: Any, high: Any, kind: str, cond: Condition) -> bool:
    """Whether some non-null value v with low <= v <= high may satisfy ``cond``."""
    op, operand = cond.op, cond.operand
    if op in _DECIDING_BOUND:
        compare = cond.operator.compare
        assert compare is not None
        return bool(compare((low, high)[_DECIDING_BOUND[op]], operand))
    if op == "$eq":
        return bool(low <= operand <= high)
    if op == "$neq":
        # NaN is outside Parquet's bounds and differs from everything.
        return kind == "real" or not (low == high == operand)
    if op == "$between":
        return bool(high >= operand[0] and low <= operand[1])
    if op == "$outside":
        return bool(low < operand[0] or high > operand[1])
    if op == "$in":
        return any(low <= v <= high for v in operand)
    if op == "$match" and kind == "text":
        return _match_may_satisfy(low, high, operand)
    return True


def entry_may_match(stats: Mapping[str, LeafStats], entry: OntologyEntry) -> bool:
    """Whether the statistics leave room for a row satisfying one entry: True when its leaf
    has no statistics or its bounds do not compare with the operand, False when the leaf
    holds nulls only."""
    leaf = stats.get(stats_path(entry))
    if leaf is None:
        return True
    if leaf.min_value is None or leaf.max_value is None:
        # Complete statistics without bounds: the leaf holds nulls only, nothing compares.
        return False
    try:
        return range_may_satisfy(leaf.min_value, leaf.max_value, leaf.kind, entry.condition)
    except TypeError:  # e.g. text bounds against a temporal operand
        return True


def chunk_may_match(stats: Mapping[str, LeafStats], entries: Sequence[OntologyEntry]) -> bool:
    """False only if no row of the chunk can satisfy all ``entries`` (one tag's entries)."""
    return all(entry_may_match(stats, entry) for entry in entries)


def window_may_overlap(
    stats: Mapping[str, LeafStats], window: TimeWindow, timestamp: str
) -> bool:
    """Whether the chunk's timestamps may fall in the half-open window ``[start, end)``."""
    leaf = stats.get(timestamp)
    if not window.bounded or leaf is None or leaf.min_value is None or leaf.max_value is None:
        return True
    return window.overlaps(leaf.min_value, leaf.max_value)
