"""Fixed-size lists split into one column per element: every item type, nulls, chunks."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from mosaico.tabular import flatten_table

ROWS: list[Any] = [[1, 2, 3], None, [4, None, 6], [7, 8, 9], None, [10, 11, 12]]


def _expected(rows: list[Any], size: int) -> list[list[Any]]:
    """Element i of every row (None for a null row), computed row by row."""
    return [[None if r is None else r[i] for r in rows] for i in range(size)]


def _chunked(item: pa.DataType, rows: list[Any], cuts: list[int]) -> pa.ChunkedArray:
    """`rows` as chunks cut at `cuts`, each a slice (non-zero offset) of a bigger array."""
    t = pa.list_(item, 3)
    pad = rows[0]
    chunks, lo = [], 0
    for hi in [*cuts, len(rows)]:
        padded = pa.array([pad, *rows[lo:hi], pad], t)
        chunks.append(padded.slice(1, hi - lo))
        lo = hi
    return pa.chunked_array(chunks, type=t)


def _as(item: pa.DataType, rows: list[Any]) -> list[Any]:
    if pa.types.is_floating(item):
        return [None if r is None else [None if v is None else float(v) for v in r] for r in rows]
    if pa.types.is_string(item):
        return [None if r is None else [None if v is None else str(v) for v in r] for r in rows]
    return rows


@pytest.mark.parametrize(
    "item", [pa.float64(), pa.float32(), pa.int16(), pa.uint64(), pa.int64(), pa.string()]
)
@pytest.mark.parametrize("cuts", [[], [1], [2, 3, 5]])
def test_elements_of_sliced_chunks_with_null_rows_and_values(
    item: pa.DataType, cuts: list[int]
) -> None:
    rows = _as(item, ROWS)
    col = _chunked(item, rows, cuts)
    stamps = pa.chunked_array([pa.array(range(len(c)), pa.int64()) for c in col.chunks])
    table = pa.Table.from_arrays([stamps, col], names=["timestamp_ns", "cov"])
    flat = flatten_table(table)
    assert flat.column_names == ["timestamp_ns", "cov_0", "cov_1", "cov_2"]
    for i, expected in enumerate(_expected(rows, 3)):
        got = flat.column(f"cov_{i}")
        assert got.type == item  # integers stay integers, even with nulls
        assert got.to_pylist() == expected, (i, item, cuts)


def test_lists_without_rows_or_chunks() -> None:
    t = pa.list_(pa.float64(), 2)
    for col in (pa.chunked_array([], type=t), pa.chunked_array([pa.array([], t)])):
        table = pa.Table.from_arrays(
            [pa.chunked_array([], pa.int64()), col], names=["timestamp_ns", "v"]
        )
        flat = flatten_table(table)
        assert flat.num_rows == 0 and flat.column_names == ["timestamp_ns", "v_0", "v_1"]
        assert flat.schema.field("v_0").type == pa.float64()


def test_lists_inside_null_structs_come_out_null() -> None:
    """A fixed-size list under a null struct row is null in the flat form."""
    t = pa.list_(pa.float64(), 2)
    pose = pa.StructArray.from_arrays(
        [pa.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], t)],
        names=["cov"],
        mask=pa.array([False, True, False]),
    )
    table = pa.table({"timestamp_ns": pa.array([1, 2, 3], pa.int64()), "pose": pose})
    flat = flatten_table(table)
    assert flat.column("pose.cov_0").to_pylist() == [1.0, None, 5.0]
    assert flat.column("pose.cov_1").to_pylist() == [2.0, None, 6.0]
