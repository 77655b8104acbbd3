"""Sequence or topic -> one flat, sparse table (Arrow, pandas or polars), whole or in time windows.

Each record becomes one row: `timestamp_ns`, then `<topic>.<field path>` columns, null for
the topics the record does not belong to. Rows are in timestamp order; records sharing a
timestamp keep the order of the topics given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mosaico.extras import require
from mosaico.ml.cursor import Cursor
from mosaico.ml.errors import MLInputError, check_ns
from mosaico.ml.flatten import FixedLists, flat_schema, flatten_table
from mosaico.ml.source import TIMESTAMP, TopicSource, select

if TYPE_CHECKING:
    import polars as pl

Sources = Mapping[str, TopicSource] | TopicSource


def _topics(sources: Sources, topics: Iterable[str] | None) -> list[TopicSource]:
    if isinstance(sources, Mapping):
        return select(sources, topics)
    return select({sources.name: sources}, topics)


def _check_window(start_ns: int | None, end_ns: int | None, window_ns: int | None) -> None:
    check_ns(start_ns=start_ns, end_ns=end_ns, window_ns=window_ns)
    if window_ns is not None and window_ns <= 0:
        raise MLInputError(f"window_ns must be > 0, got {window_ns}")


def _merged_schema(picked: list[TopicSource], fixed_lists: FixedLists) -> pa.Schema:
    fields = [pa.field(TIMESTAMP, pa.int64(), nullable=False)]
    for s in picked:
        flat = flat_schema(s.schema, prefix=s.name, fixed_lists=fixed_lists)
        # Another topic's rows leave these columns null, so every payload column is nullable.
        fields += [f.with_nullable(True) for f in flat if f.name != TIMESTAMP]
    return pa.schema(fields)


def _merge(
    parts: list[tuple[TopicSource, list[pa.RecordBatch], np.ndarray]],
    schema: pa.Schema,
    fixed_lists: FixedLists,
) -> pa.Table:
    flats = [
        flatten_table(
            pa.Table.from_batches(batches) if batches else source.schema.empty_table(),
            prefix=source.name,
            fixed_lists=fixed_lists,
        )
        for source, batches, _ in parts
    ]
    if len(flats) == 1:
        return pa.Table.from_arrays(flats[0].columns, schema=schema)
    keys = np.concatenate([k for _, _, k in parts])
    owner = np.concatenate([np.full(len(k), i, np.int32) for i, (_, _, k) in enumerate(parts)])
    # Stable: ties keep topic order, and each topic's rows keep their own order.
    order = np.argsort(keys, kind="stable")
    owner = owner[order]
    columns: list[pa.Array | pa.ChunkedArray] = [pa.array(keys[order], pa.int64())]
    for i, flat in enumerate(flats):
        mine = owner == i
        columns += [_spread(col, mine) for col in flat.columns[1:]]
    return pa.Table.from_arrays(columns, schema=schema)


def _spread(col: pa.ChunkedArray, mine: np.ndarray) -> pa.Array:
    """A column with `col`'s values, in order, at the rows where `mine`; null elsewhere."""
    n = len(mine)
    if col.null_count == len(col):
        return pa.nulls(n, col.type)
    t = col.type
    arr = col.combine_chunks()
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        # Numbers move with numpy at memory speed (Arrow's take with null indices is slower).
        values = np.zeros(n, dtype=t.to_pandas_dtype())
        values[mine] = arr.fill_null(0).to_numpy() if arr.null_count else arr.to_numpy()
        if arr.null_count:
            missing = np.ones(n, dtype=bool)
            missing[mine] = arr.is_null().to_numpy(zero_copy_only=False)
        else:
            missing = ~mine
        return pa.array(values, type=t, mask=missing)
    index = np.zeros(n, dtype=np.int64)
    index[mine] = np.arange(len(arr))
    return arr.take(pa.array(index, mask=~mine))


def iter_arrow(
    sources: Sources,
    *,
    window_ns: int,
    topics: Iterable[str] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    fixed_lists: FixedLists = "columns",
) -> Iterator[pa.Table]:
    """Flat tables of consecutive `[w, w + window_ns)` windows (empty windows skipped).

    Memory stays bounded by one window plus one source batch per topic.
    """
    _check_window(start_ns, end_ns, window_ns)
    yield from _windows(_topics(sources, topics), start_ns, end_ns, window_ns, fixed_lists)


def to_arrow(
    sources: Sources,
    *,
    topics: Iterable[str] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    fixed_lists: FixedLists = "columns",
) -> pa.Table:
    """One flat table of the topics over `[start_ns, end_ns)` (typed and empty if no rows)."""
    _check_window(start_ns, end_ns, None)
    picked = _topics(sources, topics)
    tables = list(_windows(picked, start_ns, end_ns, None, fixed_lists))
    if not tables:
        return _merged_schema(picked, fixed_lists).empty_table()
    return tables[0]


def _windows(
    picked: list[TopicSource],
    start_ns: int | None,
    end_ns: int | None,
    window_ns: int | None,
    fixed_lists: FixedLists,
) -> Iterator[pa.Table]:
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        return
    schema = _merged_schema(picked, fixed_lists)
    cursors = [Cursor(s, start_ns, end_ns, "record") for s in picked]
    firsts = [k for k in (c.first_key() for c in cursors) if k is not None]
    if not firsts:
        return
    w0 = start_ns if start_ns is not None else min(firsts)
    while not all(c.done for c in cursors):
        w1 = np.iinfo(np.int64).max if window_ns is None else w0 + window_ns
        parts = []
        for s, c in zip(picked, cursors):
            c.fill(w1)
            batches, keys = c.take(w1)
            parts.append((s, batches, keys))
        if any(len(k) for _, _, k in parts):
            yield _merge(parts, schema, fixed_lists)
        w0 = w1


def table_to_pandas(
    table: pa.Table,
    *,
    arrow_dtypes: bool = False,
    decoders: Mapping[str, Callable[[bytes], Any]] | None = None,
) -> pd.DataFrame:
    """A DataFrame of a flat table.

    `arrow_dtypes=True` keeps Arrow-backed columns (lossless: nullable integers stay
    integers, lists stay Arrow lists). `decoders` maps a binary column to a function applied
    to each non-null payload, for users who ask for decoded data.
    """
    for name in decoders or {}:
        if name not in table.column_names:
            raise MLInputError(f"decoders: unknown column {name!r}")
    if arrow_dtypes:
        df = table.to_pandas(types_mapper=pd.ArrowDtype)
    else:
        df = table.to_pandas(split_blocks=True)
    for name, fn in (decoders or {}).items():
        df[name] = df[name].map(fn, na_action="ignore")
    return df


def to_pandas(
    sources: Sources,
    *,
    topics: Iterable[str] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    fixed_lists: FixedLists = "columns",
    arrow_dtypes: bool = False,
    decoders: Mapping[str, Callable[[bytes], Any]] | None = None,
) -> pd.DataFrame:
    """One flat DataFrame of the topics over `[start_ns, end_ns)`."""
    table = to_arrow(
        sources, topics=topics, start_ns=start_ns, end_ns=end_ns, fixed_lists=fixed_lists
    )
    return table_to_pandas(table, arrow_dtypes=arrow_dtypes, decoders=decoders)


def iter_pandas(
    sources: Sources,
    *,
    window_ns: int,
    topics: Iterable[str] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    fixed_lists: FixedLists = "columns",
    arrow_dtypes: bool = False,
    decoders: Mapping[str, Callable[[bytes], Any]] | None = None,
) -> Iterator[pd.DataFrame]:
    """Flat DataFrames of consecutive time windows, with bounded memory."""
    for table in iter_arrow(
        sources,
        window_ns=window_ns,
        topics=topics,
        start_ns=start_ns,
        end_ns=end_ns,
        fixed_lists=fixed_lists,
    ):
        yield table_to_pandas(table, arrow_dtypes=arrow_dtypes, decoders=decoders)


def table_to_polars(table: pa.Table) -> pl.DataFrame:
    """A polars DataFrame of a flat table, sharing the Arrow buffers where polars can.

    Needs polars (in the `ml` extra); imported here so the rest of the module does not.
    """
    require("ml", "polars")
    import polars as pl

    # rechunk=False keeps each Arrow chunk as a polars chunk instead of copying into one.
    out = pl.from_arrow(table, rechunk=False)
    assert isinstance(out, pl.DataFrame)
    return out


def to_polars(
    sources: Sources,
    *,
    topics: Iterable[str] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    fixed_lists: FixedLists = "columns",
) -> pl.DataFrame:
    """One flat polars DataFrame of the topics over `[start_ns, end_ns)` (needs polars)."""
    return table_to_polars(
        to_arrow(sources, topics=topics, start_ns=start_ns, end_ns=end_ns, fixed_lists=fixed_lists)
    )


def iter_polars(
    sources: Sources,
    *,
    window_ns: int,
    topics: Iterable[str] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    fixed_lists: FixedLists = "columns",
) -> Iterator[pl.DataFrame]:
    """Flat polars DataFrames of consecutive time windows, with bounded memory."""
    for table in iter_arrow(
        sources,
        window_ns=window_ns,
        topics=topics,
        start_ns=start_ns,
        end_ns=end_ns,
        fixed_lists=fixed_lists,
    ):
        yield table_to_polars(table)
