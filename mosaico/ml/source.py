"""The narrow read interface the ML module consumes, and an in-memory implementation.

The ML module never talks to the client directly: anything that can hand out a topic's
record batches (topic schema, sorted by `timestamp_ns`) for a `[start, end)` window is a
`TopicSource`. Adapters from the client's handlers implement the same protocol. A source
can be asked for some fields only (``batches(..., fields=[...])``): the client's adapter has
the server read only those columns, `TableSource` projects in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from mosaico.ml.errors import MLInputError
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.projection import project, project_table
from mosaico.protocol.topic_type import TIMESTAMP

__all__ = ["TIMESTAMP", "TableSource", "TopicSource", "by_name", "project_schema", "select"]


@runtime_checkable
class TopicSource(Protocol):
    """One topic of a sequence, readable by record-time window."""

    @property
    def name(self) -> str:
        """Topic name, e.g. `/imu`; used as the column prefix."""
        ...

    @property
    def tag(self) -> str:
        """Ontology tag of the topic's type (e.g. `IMU`)."""
        ...

    @property
    def schema(self) -> pa.Schema:
        """Topic schema: `timestamp_ns` then the payload fields."""
        ...

    def bounds(self) -> tuple[int, int] | None:
        """First and last record timestamp (both inclusive), or None for an empty topic."""
        ...

    def batches(
        self, start_ns: int | None, end_ns: int | None, fields: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches with `start_ns <= timestamp_ns < end_ns`, in timestamp order.

        With `fields` (dotted paths through structs, `[]` for timestamps only) the batches
        hold `timestamp_ns` and those fields only, of the schema `project_schema` gives.
        """
        ...


def project_schema(source: TopicSource, fields: Sequence[str]) -> pa.Schema:
    """The schema of `source`'s batches projected to `fields` (see `TopicSource.batches`).

    Raises:
        MLInputError: a field the source lacks (the message names it).
    """
    try:
        return project(source.schema, fields, source.name).schema
    except InvalidArgument as err:
        raise MLInputError(err.detail) from err


class TableSource:
    """A `TopicSource` over an in-memory Arrow table (tests, notebooks, cached data).

    The table has the topic layout (`timestamp_ns`, then the payload fields); rows out of
    time order are sorted once (stably). `batches` yields slices of at most `batch_rows`
    rows, without copying.

    Raises:
        MLInputError: no `timestamp_ns` column, or `batch_rows` <= 0.

    >>> imu = TableSource("/imu", "IMU", table)
    >>> to_pandas(by_name([imu, gps]))
    """

    def __init__(
        self, name: str, tag: str, table: pa.Table | pa.RecordBatch, *, batch_rows: int = 65536
    ) -> None:
        if TIMESTAMP not in table.schema.names:
            raise MLInputError(f"topic {name!r}: table has no {TIMESTAMP!r} column")
        if batch_rows <= 0:
            raise MLInputError(f"batch_rows must be > 0, got {batch_rows}")
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        ts = table.column(TIMESTAMP).to_numpy()
        if ts.size and np.any(ts[1:] < ts[:-1]):
            # Stable, so records sharing a timestamp keep their write order.
            order = np.argsort(ts, kind="stable")
            table = table.take(pa.array(order))
            ts = ts[order]
        self._name = name
        self._tag = tag
        self._table = table
        self._ts = ts
        self._batch_rows = batch_rows

    @classmethod
    def from_objects(
        cls,
        name: str,
        objs: Sequence[Any],
        timestamps_ns: Iterable[int],
        *,
        kind: type | None = None,
        batch_rows: int = 65536,
    ) -> TableSource:
        """A source from ontology objects of one type (`kind`, needed only when there are
        none) and their record timestamps.

        Raises:
            MLInputError: no objects and no `kind`.

        >>> src = TableSource.from_objects("/temp", temps, stamps)
        >>> src.tag
        'Temperature'
        """
        if kind is None:
            if not objs:
                raise MLInputError(f"topic {name!r}: no objects, so give their kind")
            kind = type(objs[0])
        ts = np.asarray(list(timestamps_ns), dtype=np.int64)
        batch = kind.to_batch(list(objs), ts)  # type: ignore[attr-defined]
        return cls(name, kind.TAG, batch, batch_rows=batch_rows)  # type: ignore[attr-defined]

    @property
    def name(self) -> str:
        """Topic name, the column prefix (e.g. `/imu`)."""
        return self._name

    @property
    def tag(self) -> str:
        """Ontology tag of the rows' type (e.g. `IMU`)."""
        return self._tag

    @property
    def schema(self) -> pa.Schema:
        """The table's schema: `timestamp_ns` then the payload fields."""
        return self._table.schema

    @property
    def table(self) -> pa.Table:
        """The whole table, sorted by `timestamp_ns`."""
        return self._table

    def bounds(self) -> tuple[int, int] | None:
        """First and last `timestamp_ns` (both inclusive); None for an empty table."""
        if not self._ts.size:
            return None
        return int(self._ts[0]), int(self._ts[-1])

    def batches(
        self, start_ns: int | None, end_ns: int | None, fields: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Zero-copy slices of the rows in `[start_ns, end_ns)`, at most `batch_rows` each;
        with `fields`, projected in memory (the kept leaves are not copied either).

        Raises:
            MLInputError: a field the table lacks.
        """
        schema = None if fields is None else project_schema(self, fields)
        lo = 0 if start_ns is None else int(np.searchsorted(self._ts, start_ns, "left"))
        hi = len(self._ts) if end_ns is None else int(np.searchsorted(self._ts, end_ns, "left"))
        if hi > lo:
            rows = self._table.slice(lo, hi - lo)
            if schema is not None:
                rows = project_table(rows, schema)
            yield from rows.to_batches(max_chunksize=self._batch_rows)


def by_name(sources: Iterable[TopicSource]) -> dict[str, TopicSource]:
    """Index sources by topic name, refusing duplicates.

    Raises:
        MLInputError: two sources share a name.
    """
    out: dict[str, TopicSource] = {}
    for s in sources:
        if s.name in out:
            raise MLInputError(f"topic {s.name!r} given twice")
        out[s.name] = s
    return out


def select(sources: Mapping[str, TopicSource], topics: Iterable[str] | None) -> list[TopicSource]:
    """The named topics (all when None), in the order named.

    Raises:
        MLInputError: a name that is not a key of `sources`.
    """
    if topics is None:
        return list(sources.values())
    picked = []
    for t in topics:
        if t not in sources:
            known = ", ".join(sorted(sources)) or "none"
            raise MLInputError(f"unknown topic {t!r} (topics: {known})")
        picked.append(sources[t])
    return picked
