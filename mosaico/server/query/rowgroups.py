"""Row-group pruning inside a chunk file, from the statistics in its Parquet footer.

A chunk holds several row groups (8 MiB each by default); the same "may match" test that
prunes chunks by their catalog statistics skips the row groups that cannot match, so a
selective query decodes only the row groups holding candidates.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.parquet as pq

from mosaico.server.query.pruning import KeepTest
from mosaico.server.stats import leaves


@attrs.frozen
class RowGroupLeaf:
    """Bounds of one leaf in one row group; both None when it holds nulls only."""

    kind: str
    min_value: Any
    max_value: Any


def row_group_stats(metadata: pq.FileMetaData, schema: pa.Schema, index: int) -> dict[str, Any]:
    """Leaf path (``acceleration.x``, ``positions[]``) -> bounds, for leaves whose
    statistics are present and trustworthy in row group ``index``."""
    columns = leaves(schema)
    if len(columns) != metadata.num_columns:
        return {}  # a layout this module does not map: no pruning
    group = metadata.row_group(index)
    out: dict[str, Any] = {}
    for position, leaf in enumerate(columns):
        if leaf.kind is None:
            continue
        column = group.column(position)
        stats = column.statistics
        if stats is None:
            continue
        if stats.has_min_max:
            out[leaf.path] = RowGroupLeaf(leaf.kind, stats.min, stats.max)
        elif stats.has_null_count and stats.null_count == column.num_values:
            out[leaf.path] = RowGroupLeaf(leaf.kind, None, None)
    return out


def read_pruned(
    parquet: pq.ParquetFile, columns: Sequence[str], keep: KeepTest, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Batches of ``columns`` from the row groups that ``keep`` does not rule out."""
    schema = parquet.schema_arrow
    metadata = parquet.metadata
    groups = [
        i for i in range(metadata.num_row_groups)
        if metadata.row_group(i).num_rows and keep(row_group_stats(metadata, schema, i))
    ]  # fmt: skip
    if groups:
        yield from parquet.iter_batches(
            batch_size=batch_rows, row_groups=groups, columns=list(columns), use_threads=False
        )
