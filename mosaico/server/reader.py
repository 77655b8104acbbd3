"""Sorted, windowed, bounded-memory reads of one topic.

Every chunk file is sorted by ``timestamp_ns`` when written, so reading a topic is a k-way
merge of sorted runs. The merge is vectorised: each open chunk holds a small buffer of rows
(one Parquet batch at a time); all buffered rows below the smallest "frontier" (the largest
timestamp loaded so far by any still-open chunk, or the first timestamp of a chunk not yet
opened) can be emitted at once with one stable sort. Chunks are opened only when the merge
reaches their first timestamp, so memory is bounded by the chunks that overlap in time.
Ties keep upload order: buffers are concatenated in chunk order before the stable sort, and a
timestamp is emitted only once every chunk that may hold it has loaded all of its copies.

The usual case needs no merge at all: a topic uploaded in time order has chunks whose time
ranges do not overlap, so the sorted stream is just the chunks one after the other. That case
streams each chunk's row groups in target-sized batches, with no buffering, sorting, take or
concatenation (see ``_disjoint`` and ``_streamed_pieces``).

Both paths can read some columns only (a projected ticket): ``columns`` are the dotted paths
Parquet reads (``timestamp_ns`` among them), and ``schema`` is then the projected schema.
Such a chunk is opened for ranged reads rather than fetched whole (``ChunkStore.open_chunk``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mosaico.protocol.commands import TimeWindow
from mosaico.protocol.topic_type import TIMESTAMP
from mosaico.server.catalog import ChunkRow
from mosaico.server.storage import ChunkStore

_INF = np.iinfo(np.int64).max


def _timestamp_leaf(meta: pq.FileMetaData) -> int:
    """The Parquet column index of ``timestamp_ns``: its leaf position, which differs from
    its Arrow field index when a struct or list field comes before it."""
    for i in range(meta.num_columns):
        if meta.schema.column(i).path == TIMESTAMP:
            return i
    raise ValueError(f"chunk file has no {TIMESTAMP!r} column")  # never: uploads require it


def _row_groups(pf: pq.ParquetFile, window: TimeWindow) -> list[int]:
    """Row groups whose timestamp statistics may hold rows inside the window."""
    meta = pf.metadata
    ts_index = _timestamp_leaf(meta)
    keep = []
    for rg in range(meta.num_row_groups):
        stats = meta.row_group(rg).column(ts_index).statistics
        if meta.row_group(rg).num_rows == 0:
            continue
        if stats is None or not stats.has_min_max or window.overlaps(stats.min, stats.max):
            keep.append(rg)
    return keep


def _inside(ts: np.ndarray, start: int | None, end: int | None) -> tuple[int, int]:
    """The slice ``[lo, hi)`` of sorted timestamps that lies in ``[start, end)``; a bound
    that is None is not applied."""
    lo = 0 if start is None else int(np.searchsorted(ts, start))
    hi = len(ts) if end is None else int(np.searchsorted(ts, end))
    return lo, hi


class _Run:
    """One open chunk: a sorted buffer of in-window rows and how far it has been read."""

    def __init__(
        self, pf: pq.ParquetFile, ordinal: int, schema: pa.Schema, window: TimeWindow,
        read_rows: int, columns: list[str] | None,
    ) -> None:  # fmt: skip
        self.ordinal = ordinal
        self.schema = schema
        self.window = window
        groups = _row_groups(pf, window)
        self._batches = pf.iter_batches(
            batch_size=read_rows, row_groups=groups, columns=columns, use_threads=False
        )
        self.table = schema.empty_table()
        self.ts = np.empty(0, dtype=np.int64)
        self.frontier = -_INF - 1  # largest timestamp loaded so far
        self.done = not groups
        self.load()

    def load(self) -> None:
        """Append the next batch (window-trimmed) to the buffer; mark done at the end."""
        if self.done:
            return
        batch = next(self._batches, None)
        if batch is None:
            self.done = True
            return
        ts = batch.column(TIMESTAMP).to_numpy()
        self.frontier = int(ts[-1])
        lo, hi = _inside(ts, self.window.start_ns, self.window.end_ns)
        if hi < len(ts):
            self.done = True  # sorted: nothing later can be inside the window
        if hi > lo:
            piece = batch.slice(lo, hi - lo).cast(self.schema)
            self.table = pa.concat_tables([self.table, pa.Table.from_batches([piece])])
            self.ts = np.concatenate([self.ts, ts[lo:hi]])

    def take_below(self, bound: int) -> pa.Table | None:
        """Remove and return the buffered rows with timestamp < bound (a prefix)."""
        cut = len(self.ts) if bound > _INF else int(np.searchsorted(self.ts, bound))
        if cut == 0:
            return None
        head = self.table.slice(0, cut)
        self.table = self.table.slice(cut)
        self.ts = self.ts[cut:]
        return head


def _in_time_order(chunks: list[ChunkRow], window: TimeWindow) -> list[ChunkRow]:
    """The chunks that may hold rows inside the window, by (first timestamp, upload order)."""
    return sorted(
        (c for c in chunks if window.overlaps(c.min_ts, c.max_ts)),
        key=lambda c: (c.min_ts, c.ordinal),
    )


def _disjoint(ordered: list[ChunkRow]) -> bool:
    """Whether reading the chunks one after the other (in the given order) is already the
    stable sort: every chunk starts after the previous one ends, or exactly where it ends
    when it was also uploaded after it (equal timestamps then keep upload order)."""
    for prev, cur in zip(ordered, ordered[1:]):
        if prev.max_ts > cur.min_ts or (prev.max_ts == cur.min_ts and prev.ordinal > cur.ordinal):
            return False
    return True


def _streamed_pieces(
    store: ChunkStore, ordered: list[ChunkRow], schema: pa.Schema, window: TimeWindow,
    batch_rows: int, columns: list[str] | None,
) -> Iterator[pa.Table]:  # fmt: skip
    """Rows of chunks that do not overlap in time, chunk after chunk: each chunk's in-window
    row groups are decoded ``batch_rows`` rows at a time (the only rows held in memory) and
    trimmed to the window at its edges."""
    start, end = window.start_ns, window.end_ns
    for chunk in ordered:
        # Only a chunk that reaches past an edge of the window needs its timestamps read.
        trim_start = start if start is not None and chunk.min_ts < start else None
        trim_end = end if end is not None and chunk.max_ts >= end else None
        pf = store.open_chunk(chunk.path, whole=columns is None)
        yield from _chunk_pieces(pf, schema, window, (trim_start, trim_end), batch_rows, columns)


def _chunk_pieces(
    pf: pq.ParquetFile, schema: pa.Schema, window: TimeWindow,
    trim: tuple[int | None, int | None], batch_rows: int, columns: list[str] | None,
) -> Iterator[pa.Table]:  # fmt: skip
    """The in-window rows of one chunk, ``batch_rows`` at a time, cast to ``schema``; rows
    are cut only at the edges ``trim`` gives (None: the chunk lies inside the window on
    that side)."""
    groups = _row_groups(pf, window)
    if not groups:
        return
    trim_start, trim_end = trim
    cast: bool | None = None  # decided on the first batch (a projection reads fewer columns)
    trims = trim_start is not None or trim_end is not None
    for batch in pf.iter_batches(
        batch_size=batch_rows, row_groups=groups, columns=columns, use_threads=False
    ):
        if cast is None:
            cast = not batch.schema.equals(schema, check_metadata=True)
        lo, hi = 0, batch.num_rows
        if trims:
            lo, hi = _inside(batch.column(TIMESTAMP).to_numpy(), trim_start, trim_end)
        if hi > lo:
            piece = batch if hi - lo == batch.num_rows else batch.slice(lo, hi - lo)
            yield pa.Table.from_batches([piece.cast(schema) if cast else piece])
        if hi < batch.num_rows:
            return  # sorted: nothing later in this chunk is inside the window


def _merge_bound(active: list[_Run], pending: list[ChunkRow]) -> int:
    """Every buffered row below this timestamp can be emitted: no open chunk still to be
    read (``frontier``) and no chunk not yet opened (``min_ts``) can hold an earlier one."""
    bound = min((r.frontier for r in active if not r.done), default=_INF + 1)
    return min(bound, pending[-1].min_ts) if pending else bound


def _stable_sorted(pieces: list[pa.Table]) -> pa.Table | None:
    """The pieces (given in upload order) as one table sorted stably by timestamp."""
    if len(pieces) <= 1:
        return pieces[0] if pieces else None
    merged = pa.concat_tables(pieces)
    ts = merged.column(TIMESTAMP).to_numpy()
    return merged.take(pa.array(np.argsort(ts, kind="stable")))


def _merged_pieces(
    store: ChunkStore, ordered: list[ChunkRow], schema: pa.Schema, window: TimeWindow,
    read_rows: int, columns: list[str] | None,
) -> Iterator[pa.Table]:  # fmt: skip
    """Rows of chunks in time order (``_in_time_order``) that overlap in time, k-way merged
    (see the module docstring): each step emits what lies below ``_merge_bound``, then opens
    or reads further whatever holds the bound back."""
    pending = ordered[::-1]  # pop() from the end = next chunk in time
    active: list[_Run] = []  # in upload order, so that concatenation keeps ties stable
    while pending or active:
        bound = _merge_bound(active, pending)
        merged = _stable_sorted([p for r in active if (p := r.take_below(bound)) is not None])
        if merged is not None:
            yield merged
        active = [r for r in active if not (r.done and len(r.ts) == 0)]
        if pending and pending[-1].min_ts <= bound:
            chunk = pending.pop()
            pf = store.open_chunk(chunk.path, whole=columns is None)
            run = _Run(pf, chunk.ordinal, schema, window, read_rows, columns)
            active.append(run)
            active.sort(key=lambda r: r.ordinal)
        for run in active:
            if not run.done and run.frontier <= bound:
                run.load()


def read_sorted(
    store: ChunkStore, chunks: list[ChunkRow], schema: pa.Schema, window: TimeWindow,
    batch_rows: int, read_rows: int, columns: list[str] | None = None,
) -> Iterator[pa.RecordBatch]:  # fmt: skip
    """Rows of the chunks inside the window, sorted by timestamp (stable), in batches of
    ``batch_rows`` rows (the last may be smaller), never empty, cast to ``schema``.

    With ``columns`` (dotted Parquet paths, ``timestamp_ns`` among them) only those are
    read, and ``schema`` is the projected schema they make.

    Chunks that do not overlap in time are streamed one after the other, ``batch_rows`` rows
    at a time. Otherwise each open chunk is read ``read_rows`` rows at a time: that, times
    the number of chunks overlapping in time, bounds the memory of the merge."""
    ordered = _in_time_order(chunks, window)
    pieces = (
        _streamed_pieces(store, ordered, schema, window, batch_rows, columns)
        if _disjoint(ordered)
        else _merged_pieces(store, ordered, schema, window, read_rows, columns)
    )
    # Pieces of at least a quarter of the target go out as they are (no copy); smaller ones
    # are coalesced first so that the stream does not degrade into many tiny messages.
    min_rows = max(1, batch_rows // 4)
    buffered: list[pa.Table] = []
    rows = 0
    for piece in pieces:
        if not buffered and piece.num_rows >= min_rows and piece.column(0).num_chunks == 1:
            yield from piece.to_batches(max_chunksize=batch_rows)
            continue
        buffered.append(piece)
        rows += piece.num_rows
        if rows >= min_rows:
            yield from pa.concat_tables(buffered).combine_chunks().to_batches(batch_rows)
            buffered, rows = [], 0
    if rows:
        yield from pa.concat_tables(buffered).combine_chunks().to_batches(batch_rows)


def window_counts(
    store: ChunkStore, chunks: list[ChunkRow], window: TimeWindow
) -> tuple[int, int | None, int | None]:
    """(row count, min, max) of the timestamps inside the window, reading only what the
    chunk bounds cannot answer (the timestamp column of partially covered chunks)."""
    count, lo, hi = 0, None, None
    for chunk in chunks:
        if not window.overlaps(chunk.min_ts, chunk.max_ts):
            continue
        if window.contains_interval(chunk.min_ts, chunk.max_ts):
            count += chunk.row_count
            c_lo, c_hi = chunk.min_ts, chunk.max_ts
        else:
            pf = store.open_chunk(chunk.path)
            groups = _row_groups(pf, window)
            ts = pf.read_row_groups(groups, columns=[TIMESTAMP]).column(0).to_numpy()
            start, end = _inside(ts, window.start_ns, window.end_ns)
            if end <= start:
                continue
            count += end - start
            c_lo, c_hi = int(ts[start]), int(ts[end - 1])
        lo = c_lo if lo is None else min(lo, c_lo)
        hi = c_hi if hi is None else max(hi, c_hi)
    return count, lo, hi
