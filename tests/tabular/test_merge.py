"""The shared timestamp merge with window caps, and the flat wide table built from it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaico.tabular import FlatWide, MergedRows, TimestampMerge, flatten_table

SCHEMA = pa.schema(
    [
        pa.field("timestamp_ns", pa.int64(), nullable=False),
        ("v", pa.struct([("x", pa.float64()), ("tag", pa.string())])),
    ]
)


def _batches(stamps: list[list[int]], topic: int) -> list[pa.RecordBatch]:
    out, row = [], 0
    for part in stamps:
        n = len(part)
        v = pa.StructArray.from_arrays(
            [pa.array(np.arange(row, row + n, dtype=np.float64)), pa.array([f"t{topic}"] * n)],
            names=["x", "tag"],
        )
        out.append(pa.RecordBatch.from_arrays([pa.array(part, pa.int64()), v], schema=SCHEMA))
        row += n
    return out


def _rows(rounds: list, streams: int) -> list[tuple[int, int]]:
    rows = MergedRows(rounds, streams)
    return list(zip(rows.timestamps.tolist(), rows.topic_of.tolist()))


def test_rounds_capped_at_a_window_end_leave_the_rest() -> None:
    a = _batches([[1, 5, 9], [12, 20]], 0)
    b = _batches([[], [5, 5], [30]], 1)  # an empty batch is skipped
    merge = TimestampMerge([a, b])
    assert merge.first_timestamp() == 1
    first = list(merge.rounds(before=6))
    assert _rows(first, 2) == [(1, 0), (5, 0), (5, 1), (5, 1)]
    assert list(merge.rounds(before=6)) == []  # nothing left below 6
    assert merge.first_timestamp() == 9
    rest = list(merge.rounds())
    assert _rows(rest, 2) == [(9, 0), (12, 0), (20, 0), (30, 1)]
    assert merge.first_timestamp() is None


@st.composite
def _topics(draw: st.DrawFn) -> list[list[list[int]]]:
    topics = []
    for _ in range(draw(st.integers(1, 3))):
        stamps = sorted(draw(st.lists(st.integers(0, 40), max_size=30)))
        cuts = sorted(draw(st.sets(st.integers(0, len(stamps)), max_size=5)))
        bounds = [0, *cuts, len(stamps)]
        topics.append([stamps[x:y] for x, y in zip(bounds, bounds[1:])])
    return topics


@settings(max_examples=100, deadline=None)
@given(topics=_topics(), window=st.integers(1, 15))
def test_windows_of_rounds_equal_a_stable_sort(topics: list[list[list[int]]], window: int) -> None:
    expected = sorted((t, i) for i, parts in enumerate(topics) for p in parts for t in p)
    merge = TimestampMerge([_batches(p, i) for i, p in enumerate(topics)])
    got: list[tuple[int, int]] = []
    w0 = 0
    while merge.first_timestamp() is not None:
        rows = _rows(list(merge.rounds(before=w0 + window)), len(topics))
        assert all(w0 <= t < w0 + window for t, _ in rows)
        got += rows
        w0 += window
    assert got == expected


def test_flat_wide_spreads_each_topic_to_its_rows() -> None:
    a, b = _batches([[1, 3]], 0), _batches([[2], [3]], 1)
    layout = FlatWide([SCHEMA, SCHEMA], ["/a", "/b"], "arrays", topic_column=True)
    table = layout.table(list(TimestampMerge([a, b]).rounds()))
    assert table.schema == layout.schema
    assert table.column_names == [
        "timestamp_ns",
        "topic",
        "/a.v.x",
        "/a.v.tag",
        "/b.v.x",
        "/b.v.tag",
    ]
    assert table.column("timestamp_ns").to_pylist() == [1, 2, 3, 3]
    assert table.column("topic").to_pylist() == ["/a", "/b", "/a", "/b"]
    assert table.column("/a.v.x").to_pylist() == [0.0, None, 1.0, None]
    assert table.column("/b.v.tag").to_pylist() == [None, "t1", None, "t1"]
    empty = layout.table([])
    assert empty.num_rows == 0 and empty.schema == layout.schema


def test_flatten_keeps_fixed_lists_as_arrays_or_splits_them() -> None:
    t = pa.table({"timestamp_ns": [1], "c": pa.array([[1.0, 2.0]], pa.list_(pa.float64(), 2))})
    assert flatten_table(t, fixed_lists="arrays").column_names == ["timestamp_ns", "c"]
    assert flatten_table(t, prefix="/p").column_names == ["timestamp_ns", "/p.c_0", "/p.c_1"]
