"""Sequence or topic -> one flat, sparse table (Arrow, pandas or polars), whole or in time windows.

Each record becomes one row: `timestamp_ns`, then `<topic>.<field path>` columns, null for
the topics the record does not belong to. Rows are in timestamp order; records sharing a
timestamp keep the order of the topics given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

import pandas as pd
import pyarrow as pa

from mosaico.extras import require
from mosaico.ml.cursor import ordered_batches
from mosaico.ml.errors import MLInputError, check_ns
from mosaico.ml.flatten import FixedLists, check_fixed_lists
from mosaico.ml.reads import ProjectedSource
from mosaico.ml.source import TopicSource, select
from mosaico.tabular import FlatWide, TimestampMerge

if TYPE_CHECKING:
    from typing import Unpack

    import polars as pl

Sources = Mapping[str, TopicSource] | TopicSource


def _topics(sources: Sources, topics: Iterable[str] | None) -> list[TopicSource]:
    if isinstance(sources, Mapping):
        return select(sources, topics)
    return select({sources.name: sources}, topics)


def _projected(
    picked: list[TopicSource], fields: Mapping[str, Sequence[str]] | None
) -> list[TopicSource]:
    """The picked topics, those named in `fields` reading only those fields.

    Raises:
        MLInputError: `fields` names a topic not read, or a field a topic lacks.
    """
    if not fields:
        return picked
    names = [s.name for s in picked]
    unknown = sorted(set(fields) - set(names))
    if unknown:
        raise MLInputError(f"fields given for topics not read: {unknown} (read: {names})")
    return [ProjectedSource(s, fields[s.name]) if s.name in fields else s for s in picked]


class ReadOptions(TypedDict, total=False):
    """What to read: the keywords every `to_*` and `iter_*` function takes.

    - `topics`: the topic names to read (default: every source given).
    - `start_ns`, `end_ns`: the record-time window `[start_ns, end_ns)` (default: all).
    - `fixed_lists`: "columns" (default: one column per element) or "arrays".
    - `fields`: per topic name, the dotted payload paths to read (`{"/imu":
      ["acceleration.x"]}`; a struct path reads the whole struct; `[]` the timestamps only);
      the server then reads only those columns. Topics not named are read whole.
    """

    topics: Iterable[str] | None
    start_ns: int | None
    end_ns: int | None
    fixed_lists: FixedLists
    fields: Mapping[str, Sequence[str]] | None


class _Reader:
    """The checked arguments of one read: the topics, their flat layout, the window."""

    def __init__(
        self,
        sources: Sources,
        window_ns: int | None,
        topics: Iterable[str] | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        fixed_lists: FixedLists = "columns",
        fields: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        check_ns(start_ns=start_ns, end_ns=end_ns, window_ns=window_ns)
        if window_ns is not None and window_ns <= 0:
            raise MLInputError(f"window_ns must be > 0, got {window_ns}")
        self.picked = _projected(_topics(sources, topics), fields)
        check_fixed_lists(fixed_lists)
        self.start_ns, self.end_ns, self.window_ns = start_ns, end_ns, window_ns
        self.layout = FlatWide(
            [s.schema for s in self.picked],
            [s.name for s in self.picked],
            fixed_lists,
            topic_column=False,
        )

    def tables(self) -> Iterator[pa.Table]:
        """The flat tables of the non-empty `[w, w + window_ns)` windows (one if None)."""
        start_ns, end_ns, window_ns = self.start_ns, self.end_ns, self.window_ns
        if start_ns is not None and end_ns is not None and end_ns <= start_ns:
            return
        merge = TimestampMerge([ordered_batches(s, start_ns, end_ns) for s in self.picked])
        w0 = start_ns
        while (first := merge.first_timestamp()) is not None:
            w0 = first if w0 is None else w0
            if window_ns is None:
                yield self.layout.table(list(merge.rounds()))
                return
            w0 += (first - w0) // window_ns * window_ns  # over empty windows
            yield self.layout.table(list(merge.rounds(before=w0 + window_ns)))
            w0 += window_ns


def to_arrow(sources: Sources, **read: Unpack[ReadOptions]) -> pa.Table:
    """One flat table of the topics over `[start_ns, end_ns)` (typed and empty if no rows).

    Keywords: `ReadOptions` (`topics`, `start_ns`, `end_ns`, `fixed_lists`, `fields`).

    Raises:
        MLInputError: an unknown topic, a time that is not integer ns, a bad `fixed_lists`,
            or a topic whose `timestamp_ns` goes backwards.

    >>> table = to_arrow(sources, topics=["/imu"], start_ns=t0, end_ns=t0 + 5 * 10**9)
    >>> table.column_names[:3]
    ['timestamp_ns', '/imu.header.timestamp.seconds', '/imu.header.timestamp.nanoseconds']
    """
    reader = _Reader(sources, None, **read)
    table = next(reader.tables(), None)
    return reader.layout.schema.empty_table() if table is None else table


def iter_arrow(
    sources: Sources, *, window_ns: int, **read: Unpack[ReadOptions]
) -> Iterator[pa.Table]:
    """Flat tables of consecutive `[w, w + window_ns)` windows (empty windows skipped).

    Memory stays bounded by one window plus one source batch per topic. Windows start at
    `start_ns` (default: the first record) and step by `window_ns`. Keywords as
    `to_arrow`.

    Raises:
        MLInputError: as `to_arrow`, or `window_ns` that is not a positive integer.

    >>> for table in iter_arrow(sources, window_ns=10**9):  # one-second windows
    ...     process(table)
    """
    yield from _Reader(sources, window_ns, **read).tables()


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

    Raises:
        MLInputError: a `decoders` key that is not a column of `table`.
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
    arrow_dtypes: bool = False,
    decoders: Mapping[str, Callable[[bytes], Any]] | None = None,
    **read: Unpack[ReadOptions],
) -> pd.DataFrame:
    """One flat DataFrame of the topics over `[start_ns, end_ns)`.

    Keywords as `to_arrow`, then `arrow_dtypes` and `decoders` as `table_to_pandas`.

    >>> df = to_pandas(sources, topics=["/imu", "/gps"], arrow_dtypes=True)
    >>> df[df["/gps.position.x"].notna()]  # the GPS rows only
    """
    return table_to_pandas(to_arrow(sources, **read), arrow_dtypes=arrow_dtypes, decoders=decoders)


def iter_pandas(
    sources: Sources,
    *,
    window_ns: int,
    arrow_dtypes: bool = False,
    decoders: Mapping[str, Callable[[bytes], Any]] | None = None,
    **read: Unpack[ReadOptions],
) -> Iterator[pd.DataFrame]:
    """Flat DataFrames of consecutive time windows, with bounded memory (as `iter_arrow`)."""
    for table in iter_arrow(sources, window_ns=window_ns, **read):
        yield table_to_pandas(table, arrow_dtypes=arrow_dtypes, decoders=decoders)


def table_to_polars(table: pa.Table) -> pl.DataFrame:
    """A polars DataFrame of a flat table, sharing the Arrow buffers where polars can.

    Needs polars (in the `ml` extra); imported here so the rest of the module does not.

    Raises:
        MissingExtraError: polars is not installed.
    """
    require("ml", "polars")
    import polars as pl

    # rechunk=False keeps each Arrow chunk as a polars chunk instead of copying into one.
    out = pl.from_arrow(table, rechunk=False)
    assert isinstance(out, pl.DataFrame)
    return out


def to_polars(sources: Sources, **read: Unpack[ReadOptions]) -> pl.DataFrame:
    """One flat polars DataFrame of the topics over `[start_ns, end_ns)` (needs polars).

    Keywords as `to_arrow`.
    """
    return table_to_polars(to_arrow(sources, **read))


def iter_polars(
    sources: Sources, *, window_ns: int, **read: Unpack[ReadOptions]
) -> Iterator[pl.DataFrame]:
    """Flat polars DataFrames of consecutive time windows, with bounded memory."""
    for table in iter_arrow(sources, window_ns=window_ns, **read):
        yield table_to_polars(table)
