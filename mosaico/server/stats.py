"""Per-chunk column statistics for the query engine's pruning, taken from Parquet's own.

Leaves are named with dotted struct paths; a list element adds ``[]`` (``positions[]``,
``acceleration.covariance[]``). Only numeric, boolean and string leaves are kept, and only
bounds that hold for every row group of the chunk and that the catalog can store exactly.
"""

from __future__ import annotations

from typing import Any

import attrs
import pyarrow as pa
import pyarrow.parquet as pq

from mosaico.server.catalog import ColumnStats


@attrs.frozen
class Leaf:
    """One leaf column of a schema: its statistics path (``acceleration.x``,
    ``positions[]``, ``tags{key}``) and the kind its bounds are kept as."""

    path: str
    kind: str | None  # int, real, text, bool; None for leaves without statistics


def _kind(dtype: pa.DataType) -> str | None:
    if pa.types.is_boolean(dtype):
        return "bool"
    if pa.types.is_integer(dtype):
        return "int"
    if pa.types.is_floating(dtype) and not pa.types.is_float16(dtype):
        return "real"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "text"
    return None


def _walk(path: str, dtype: pa.DataType, out: list[Leaf]) -> None:
    if pa.types.is_struct(dtype):
        for i in range(dtype.num_fields):
            child = dtype.field(i)
            _walk(f"{path}.{child.name}", child.type, out)
    elif pa.types.is_map(dtype):
        _walk(f"{path}{{key}}", dtype.key_type, out)
        _walk(f"{path}{{value}}", dtype.item_type, out)
    elif (
        pa.types.is_list(dtype)
        or pa.types.is_large_list(dtype)
        or pa.types.is_fixed_size_list(dtype)
    ):
        _walk(f"{path}[]", dtype.value_type, out)
    else:
        out.append(Leaf(path, _kind(dtype)))


def leaves(schema: pa.Schema) -> list[Leaf]:
    """Leaf columns in Parquet column order (depth first)."""
    out: list[Leaf] = []
    for field in schema:
        _walk(field.name, field.type, out)
    return out


def _normalise(kind: str, value: Any) -> int | float | str | None:
    if kind == "bool":
        return int(bool(value))
    if kind == "int":
        # uint64 beyond int64 cannot live in a BIGINT column; store no bound rather than a lie.
        return value if -(2**63) <= value < 2**63 else None
    if kind == "real":
        return float(value)
    # PostgreSQL's text cannot hold NUL: such a bound is not kept (the chunk is not pruned).
    return value if isinstance(value, str) and "\x00" not in value else None


def _bounds(metadata: pq.FileMetaData, index: int) -> tuple[int, Any, Any] | None:
    """(null count, min, max) of one leaf over every row group; None when some row group
    lacks statistics or has values without recorded bounds (then no bound is safe)."""
    lo: Any = None
    hi: Any = None
    nulls = 0
    for rg in range(metadata.num_row_groups):
        column = metadata.row_group(rg).column(index)
        stats = column.statistics
        if stats is None:
            return None
        nulls += stats.null_count if stats.has_null_count else 0
        if stats.has_min_max:
            lo = stats.min if lo is None else min(lo, stats.min)
            hi = stats.max if hi is None else max(hi, stats.max)
        elif column.num_values > (stats.null_count or 0):
            return None  # values present but no bounds recorded
    return nulls, lo, hi


def _leaf_stats(metadata: pq.FileMetaData, index: int, path: str, kind: str) -> ColumnStats | None:
    """The statistics of one leaf, or None if its bounds cannot be kept."""
    bounds = _bounds(metadata, index)
    if bounds is None:
        return None
    nulls, lo, hi = bounds
    lo_n = None if lo is None else _normalise(kind, lo)
    hi_n = None if hi is None else _normalise(kind, hi)
    if (lo is None) != (lo_n is None) or (hi is None) != (hi_n is None):
        return None  # a bound the catalog cannot hold
    return ColumnStats(path, kind, nulls, lo_n, hi_n)


def chunk_stats(metadata: pq.FileMetaData, schema: pa.Schema) -> list[ColumnStats]:
    """Aggregate row-group statistics of one written Parquet file into per-leaf min/max."""
    columns = leaves(schema)
    if len(columns) != metadata.num_columns:
        return []
    found = (
        _leaf_stats(metadata, index, leaf.path, leaf.kind)
        for index, leaf in enumerate(columns)
        if leaf.kind is not None
    )
    return [stats for stats in found if stats is not None]
