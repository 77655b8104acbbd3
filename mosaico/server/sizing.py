"""How many rows a DoGet message carries, and how many a merged read decodes at once.

The server advertises a target and a maximum encoded message size (spec §2.6). A topic's
rows are sized from its catalog figures (Arrow bytes over rows, over all its chunks), so no
chunk is opened to decide: messages aim at the target, never exceed the maximum, and a read
that merges overlapping chunks loads at most about one Parquet row group per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from mosaico.protocol.info import Limits
from mosaico.server.catalog import ChunkRow


@attrs.frozen
class ReadSizes:
    """Row counts of one topic read (both at least 1)."""

    batch_rows: int  # rows per DoGet record batch
    read_rows: int  # rows a merge decodes from one chunk at a time (<= batch_rows)


def read_sizes(chunks: Sequence[ChunkRow], limits: Limits, row_group_bytes: int) -> ReadSizes:
    """The row counts for reading ``chunks``, from their mean Arrow bytes per row.

    Example:
        >>> chunk = ChunkRow("c", "t", 0, "p", row_count=100, file_bytes=0, arrow_bytes=1000,
        ...                  min_ts=0, max_ts=1)
        >>> read_sizes([chunk], Limits(grpc_target_encode_message_size=50,
        ...            grpc_max_encode_message_size=80), row_group_bytes=30)
        ReadSizes(batch_rows=5, read_rows=3)
    """
    rows = sum(c.row_count for c in chunks)
    row_bytes = max(1, sum(c.arrow_bytes for c in chunks) // max(1, rows))
    # Near the target message size, never above the largest message promised.
    batch_rows = max(1, limits.grpc_target_encode_message_size // row_bytes)
    batch_rows = min(batch_rows, max(1, limits.grpc_max_encode_message_size // row_bytes))
    read_rows = max(1, min(batch_rows, row_group_bytes // row_bytes))
    return ReadSizes(batch_rows, read_rows)
