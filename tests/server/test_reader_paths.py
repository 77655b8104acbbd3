"""``read_sorted`` on chunk files written by hand: the streaming path for chunks that do not
overlap in time and the k-way merge for chunks that do, against a plain stable sort."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaico.protocol.commands import TimeWindow
from mosaico.server import reader
from mosaico.server.catalog import ChunkRow
from mosaico.server.reader import read_sorted
from mosaico.server.storage import ChunkStore

STORED = pa.schema(
    [
        pa.field("timestamp_ns", pa.int64(), nullable=False, metadata={"unit": "ns"}),
        pa.field("upload_index", pa.int64(), nullable=False),
        pa.field("label", pa.string()),
    ],
    metadata={"tag": "Thing"},
)


def _write_chunks(
    root: Path, chunks: list[list[int]], row_group_rows: int, schema: pa.Schema = STORED
) -> list[ChunkRow]:
    """One Parquet file per chunk (timestamps sorted inside it, as the server writes them);
    ``upload_index`` numbers the rows in upload order across chunks."""
    rows, first = [], 0
    for ordinal, stamps in enumerate(chunks):
        stamps = sorted(stamps)
        index = list(range(first, first + len(stamps)))
        first += len(stamps)
        table = pa.table(
            {"timestamp_ns": stamps, "upload_index": index,
             "label": [None if t % 3 == 0 else f"l{t}" for t in stamps]},
            schema=schema,
        )  # fmt: skip
        path = f"c{ordinal}.parquet"
        pq.write_table(table, str(root / path), row_group_size=row_group_rows)
        rows.append(
            ChunkRow(
                id=f"c{ordinal}",
                topic_id="t",
                ordinal=ordinal,
                path=path,
                row_count=len(stamps),
                file_bytes=0,
                arrow_bytes=table.nbytes,
                min_ts=stamps[0],
                max_ts=stamps[-1],
            )  # fmt: skip
        )
    return rows


def _expected(chunks: list[list[int]], window: TimeWindow) -> list[tuple[int, int]]:
    uploaded: list[tuple[int, int]] = []
    for stamps in chunks:
        base = len(uploaded)
        uploaded.extend((t, base + i) for i, t in enumerate(sorted(stamps)))
    keep = [(t, i) for t, i in uploaded if window.overlaps(t, t)]
    return sorted(keep, key=lambda row: row[0])  # stable: ties keep upload order


def _read(
    root: Path, rows: list[ChunkRow], window: TimeWindow, batch_rows: int, read_rows: int
) -> list[pa.RecordBatch]:
    store = ChunkStore(pafs.LocalFileSystem(), str(root))
    batches = list(read_sorted(store, rows, STORED, window, batch_rows, read_rows))
    assert all(b.num_rows > 0 for b in batches)
    assert all(b.schema.equals(STORED, check_metadata=True) for b in batches)
    assert all(b.num_rows <= batch_rows for b in batches)
    return batches


def _pairs(batches: list[pa.RecordBatch]) -> list[tuple[int, int]]:
    table = pa.Table.from_batches(batches, schema=STORED)
    return list(zip(table["timestamp_ns"].to_pylist(), table["upload_index"].to_pylist()))


@pytest.fixture
def no_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the k-way merge runs: the layout must take the streaming path."""

    def refuse(*args: Any) -> Any:
        raise AssertionError("merge path used")

    monkeypatch.setattr(reader, "_merged_pieces", refuse)


def test_disjoint_chunks_stream_without_merge(tmp_path: Path, no_merge: None) -> None:
    chunks = [list(range(i * 100, i * 100 + 100)) for i in range(6)]
    rows = _write_chunks(tmp_path, chunks, row_group_rows=30)
    window = TimeWindow()
    batches = _read(tmp_path, rows, window, batch_rows=80, read_rows=30)
    assert _pairs(batches) == _expected(chunks, window)


@pytest.mark.parametrize(
    ("start", "end"),
    [(None, None), (45, None), (None, 377), (45, 377), (130, 135), (199, 200), (0, 600), (7, 8)],
)
def test_disjoint_windows_cut_inside_row_groups(
    tmp_path: Path, no_merge: None, start: int | None, end: int | None
) -> None:
    chunks = [list(range(i * 100, i * 100 + 100)) for i in range(4)]
    rows = _write_chunks(tmp_path, chunks, row_group_rows=16)
    window = TimeWindow(start, end)
    ordered = [r for r in rows if window.overlaps(r.min_ts, r.max_ts)]
    batches = _read(tmp_path, ordered, window, batch_rows=40, read_rows=16)
    assert _pairs(batches) == _expected(chunks, window)


def test_chunks_touching_in_upload_order_stream(tmp_path: Path, no_merge: None) -> None:
    # The last timestamp of one chunk is the first of the next: still a plain concatenation.
    chunks = [[0, 1, 5, 5], [5, 5, 9], [9, 12]]
    rows = _write_chunks(tmp_path, chunks, row_group_rows=2)
    batches = _read(tmp_path, rows, TimeWindow(), batch_rows=3, read_rows=2)
    assert _pairs(batches) == _expected(chunks, TimeWindow())


def test_touching_against_upload_order_or_overlapping_merge(tmp_path: Path) -> None:
    later_first = [[5, 6, 7], [1, 2, 5]]  # chunk 1 sorts first in time but ties go to chunk 0
    rows = _write_chunks(tmp_path, later_first, row_group_rows=2)
    assert not reader._disjoint(reader._in_time_order(rows, TimeWindow()))
    batches = _read(tmp_path, rows, TimeWindow(), batch_rows=4, read_rows=2)
    assert _pairs(batches) == _expected(later_first, TimeWindow())


def test_disjoint_decision() -> None:
    def row(ordinal: int, lo: int, hi: int) -> ChunkRow:
        return ChunkRow(f"c{ordinal}", "t", ordinal, "", 1, 0, 0, lo, hi)

    assert reader._disjoint([])
    assert reader._disjoint([row(0, 0, 9)])
    assert reader._disjoint([row(0, 0, 9), row(1, 10, 19)])
    assert reader._disjoint([row(3, 0, 9), row(1, 10, 19)])  # upload order irrelevant if apart
    assert reader._disjoint([row(0, 0, 9), row(1, 9, 19)])
    assert not reader._disjoint([row(1, 0, 9), row(0, 9, 19)])
    assert not reader._disjoint([row(0, 0, 10), row(1, 9, 19)])


def test_stored_schema_is_restored(tmp_path: Path, no_merge: None) -> None:
    # A file whose schema lost the field metadata still reads back as the stored schema.
    bare = pa.schema([pa.field(f.name, f.type, f.nullable) for f in STORED])
    rows = _write_chunks(tmp_path, [[1, 2, 3], [4, 5]], row_group_rows=2, schema=bare)
    batches = _read(tmp_path, rows, TimeWindow(), batch_rows=10, read_rows=2)
    assert _pairs(batches) == _expected([[1, 2, 3], [4, 5]], TimeWindow())


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[list[int]], TimeWindow, int, int, int]:
    disjoint = draw(st.booleans())
    n = draw(st.integers(1, 6))
    if disjoint:  # increasing uploads, touching or apart
        chunks, t = [], draw(st.integers(0, 5))
        for _ in range(n):
            size = draw(st.integers(1, 12))
            steps = draw(st.lists(st.integers(0, 3), min_size=size - 1, max_size=size - 1))
            stamps = list(np.cumsum([t, *steps]))
            chunks.append([int(s) for s in stamps])
            t = int(stamps[-1]) + draw(st.integers(0, 2))
    else:
        chunks = draw(
            st.lists(st.lists(st.integers(0, 40), min_size=1, max_size=12), min_size=n, max_size=n)
        )
    start = draw(st.none() | st.integers(-2, 45))
    end = draw(st.none() | st.integers(-2, 45))
    if start is not None and end is not None and end <= start:
        end = start + 1
    return (
        chunks, TimeWindow(start, end), draw(st.integers(1, 9)), draw(st.integers(1, 5)),
        draw(st.integers(1, 5)),
    )  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(layout=layouts())
def test_matches_stable_sort(tmp_path_factory: pytest.TempPathFactory, layout: Any) -> None:
    chunks, window, batch_rows, read_rows, row_group_rows = layout
    root = tmp_path_factory.mktemp("chunks")
    rows = _write_chunks(root, chunks, row_group_rows)
    batches = _read(root, rows, window, batch_rows, read_rows)
    assert _pairs(batches) == _expected(chunks, window)


NESTED_FIRST = pa.schema(
    [
        pa.field("payload", pa.struct([("a", pa.int64()), ("b", pa.int64())])),
        pa.field("timestamp_ns", pa.int64(), nullable=False),
    ]
)


@pytest.mark.parametrize("chunk_starts", [[0], [0, 5]], ids=["streamed", "merged"])
def test_a_struct_before_the_timestamps_does_not_hide_rows(
    tmp_path: Path, chunk_starts: list[int]
) -> None:
    # timestamp_ns is Arrow field 1 but Parquet leaf 2: row groups must be pruned by its own
    # statistics, not those of payload.b (all negative, which would rule every group out).
    rows = []
    for ordinal, first in enumerate(chunk_starts):
        ts = list(range(first, first + 10_000, 10))
        payload = [{"a": ordinal, "b": -i} for i in range(len(ts))]
        table = pa.table({"payload": payload, "timestamp_ns": ts}, schema=NESTED_FIRST)
        pq.write_table(table, str(tmp_path / f"c{ordinal}.parquet"), row_group_size=100)
        rows.append(ChunkRow(id=f"c{ordinal}", topic_id="t", ordinal=ordinal,
                             path=f"c{ordinal}.parquet", row_count=len(ts), file_bytes=0,
                             arrow_bytes=table.nbytes, min_ts=ts[0], max_ts=ts[-1]))  # fmt: skip
    store = ChunkStore(pafs.LocalFileSystem(), str(tmp_path))
    window = TimeWindow(5_000, 6_000)
    got = pa.Table.from_batches(
        list(read_sorted(store, rows, NESTED_FIRST, window, 10_000, 1_000)), schema=NESTED_FIRST
    )
    assert got.num_rows == 100 * len(chunk_starts)
    stamps = got["timestamp_ns"].to_pylist()
    assert stamps == sorted(stamps) and stamps[0] >= 5_000 and stamps[-1] < 6_000
    assert reader.window_counts(store, rows, window) == (got.num_rows, stamps[0], stamps[-1])
