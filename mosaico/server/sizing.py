"""How many rows a DoGet message carries, and how many a merged read decodes at once.

The server advertises a target and a maximum encoded message size (spec §2.6). A topic's
rows are sized from its catalog figures (Arrow bytes over rows, over all its chunks), so no
chunk is opened to decide: messages aim at the target, never exceed the maximum, and a read
that merges overlapping chunks loads at most about one Parquet row group per chunk. A read of
some columns only (a projected ticket) scales the figures by those columns' share of the
bytes, from one chunk's Parquet footer (``column_share``).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pyarrow.parquet as pq

from mosaico.protocol.info import Limits
from mosaico.server.catalog import ChunkRow


@attrs.frozen
class ReadSizes:
    """Row counts of one topic read (both at least 1)."""

    batch_rows: int  # rows per DoGet record batch
    read_rows: int  # rows a merge decodes from one chunk at a time (<= batch_rows)


def read_sizes(
    chunks: Sequence[ChunkRow], limits: Limits, row_group_bytes: int, share: float = 1.0
) -> ReadSizes:
    """The row counts for reading ``chunks``, from their mean Arrow bytes per row, of which
    a read of some columns only reads ``share`` (0 < share <= 1).

    Example:
        >>> chunk = ChunkRow("c", "t", 0, "p", row_count=100, file_bytes=0, arrow_bytes=1000,
        ...                  min_ts=0, max_ts=1)
        >>> read_sizes([chunk], Limits(grpc_target_encode_message_size=50,
        ...            grpc_max_encode_message_size=80), row_group_bytes=30)
        ReadSizes(batch_rows=5, read_rows=3)
    """
    rows = sum(c.row_count for c in chunks)
    row_bytes = max(1, int(sum(c.arrow_bytes for c in chunks) * share) // max(1, rows))
    # Near the target message size, never above the largest message promised.
    batch_rows = max(1, limits.grpc_target_encode_message_size // row_bytes)
    batch_rows = min(batch_rows, max(1, limits.grpc_max_encode_message_size // row_bytes))
    read_rows = max(1, min(batch_rows, row_group_bytes // row_bytes))
    return ReadSizes(batch_rows, read_rows)


def column_share(metadata: pq.FileMetaData, columns: Sequence[str]) -> float:
    """The share of a Parquet file's uncompressed bytes that the dotted ``columns`` (as
    ``ParquetFile.iter_batches`` takes them: a column or a prefix of nested ones) hold.

    Example:
        >>> import io, pyarrow as pa
        >>> sink = io.BytesIO()
        >>> pq.write_table(pa.table({"t": [1, 2], "blob": [b"x" * 100, b"y" * 100]}), sink)
        >>> column_share(pq.read_metadata(io.BytesIO(sink.getvalue())), ["t"]) < 0.2
        True
    """
    prefixes = tuple(f"{c}." for c in columns)
    wanted = set(columns)
    total = kept = 0
    for rg in range(metadata.num_row_groups):
        group = metadata.row_group(rg)
        for i in range(group.num_columns):
            column = group.column(i)
            size = column.total_uncompressed_size
            total += size
            if column.path_in_schema in wanted or column.path_in_schema.startswith(prefixes):
                kept += size
    return 1.0 if total == 0 else max(kept / total, 1e-6)
