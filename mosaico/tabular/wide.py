"""Merged rows laid out wide: one set of columns per topic, null on the other topics' rows.

`FlatWide` is the one flat wide table (the client's `SequenceDataStreamer.to_pandas`,
`mosaico.ml.to_arrow` and its windows); the client's `wide_batches` (one struct column per
topic) places whole structs the same way. Values move with `spread`, at memory speed for
numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from mosaico.protocol.topic_type import TIMESTAMP
from mosaico.tabular.flatten import FixedLists, flat_schema, flatten_table
from mosaico.tabular.merge import MergedRound


def spread(col: pa.Array | pa.ChunkedArray, mine: np.ndarray) -> pa.Array | pa.ChunkedArray:
    """A column with `col`'s values, in order, at the rows where `mine`; null elsewhere."""
    n = len(mine)
    if len(col) == n:
        return col  # every row is this topic's: nothing to move
    if col.null_count == len(col):
        return pa.nulls(n, col.type)
    t = col.type
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
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


def topic_column(names: Sequence[str], topic_of: np.ndarray) -> pa.DictionaryArray:
    """The `topic` column of merged rows: each row's topic name, dictionary-encoded."""
    return pa.DictionaryArray.from_arrays(pa.array(topic_of), pa.array(names, type=pa.string()))


class MergedRows:
    """The rows of consecutive merge rounds, in merged order, grouped by topic.

    Args:
        rounds: consecutive rounds of one `TimestampMerge`.
        streams: how many streams that merge has.
    """

    def __init__(self, rounds: Sequence[MergedRound], streams: int) -> None:
        self.parts: list[list[pa.RecordBatch]] = [[] for _ in range(streams)]
        for rnd in rounds:
            for i, part in rnd.parts:
                self.parts[i].append(part)
        ordered = [rnd.timestamps[rnd.order] for rnd in rounds]
        owners = [rnd.topic_of() for rnd in rounds]
        self.timestamps: np.ndarray = _joined(ordered, np.int64)
        self.topic_of: np.ndarray = _joined(owners, np.int16)

    def __len__(self) -> int:
        return len(self.timestamps)

    def spread(self, i: int, col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        """Stream `i`'s column (one value per row of that stream) placed at its rows."""
        return spread(col, self.topic_of == i)


class FlatWide:
    """The flat wide table of merged topics: `timestamp_ns`, optionally `topic`, then each
    topic's flat leaves as `<topic>.<field path>`, null on the other topics' rows.

    Args:
        schemas: the topics' schemas (`timestamp_ns` then the payload), in merge order.
        names: the topics' names, the column prefixes.
        fixed_lists: fixed-size lists as one column per element, or as arrays.
        topic_column: whether to add the `topic` column.
    """

    def __init__(
        self,
        schemas: Sequence[pa.Schema],
        names: Sequence[str],
        fixed_lists: FixedLists,
        *,
        topic_column: bool,
    ) -> None:
        self.schemas = list(schemas)
        self.names = list(names)
        self.fixed_lists: FixedLists = fixed_lists
        self.topic_column = topic_column
        fields = [pa.field(TIMESTAMP, pa.int64(), nullable=False)]
        if topic_column:
            fields.append(pa.field("topic", pa.dictionary(pa.int16(), pa.string()), nullable=False))
        for schema, name in zip(self.schemas, self.names):
            flat = flat_schema(schema, prefix=name, fixed_lists=fixed_lists)
            # Another topic's rows leave these columns null: every payload column is nullable.
            fields += [f.with_nullable(True) for f in flat if f.name != TIMESTAMP]
        self.schema = pa.schema(fields)

    def table(self, rounds: Sequence[MergedRound]) -> pa.Table:
        """The table of consecutive rounds: each topic flattened once, then spread."""
        rows = MergedRows(rounds, len(self.schemas))
        columns: list[pa.Array | pa.ChunkedArray] = [pa.array(rows.timestamps, pa.int64())]
        if self.topic_column:
            columns.append(topic_column(self.names, rows.topic_of))
        for i, (schema, name) in enumerate(zip(self.schemas, self.names)):
            parts = rows.parts[i]
            table = pa.Table.from_batches(parts) if parts else schema.empty_table()
            flat = flatten_table(table, prefix=name, fixed_lists=self.fixed_lists)
            mine = rows.topic_of == i
            columns += [spread(c, mine) for n, c in zip(flat.column_names, flat.columns)
                        if n != TIMESTAMP]  # fmt: skip
        return pa.Table.from_arrays(columns, schema=self.schema)


def _joined(pieces: list[np.ndarray], dtype: type) -> np.ndarray:
    if len(pieces) == 1:
        return pieces[0]
    return np.concatenate(pieces) if pieces else np.empty(0, dtype=dtype)
