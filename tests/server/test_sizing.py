"""Rows per DoGet message and per merged read, from the catalog's figures of a topic."""

from __future__ import annotations

from mosaico.protocol.info import Limits
from mosaico.server.catalog import ChunkRow
from mosaico.server.sizing import ReadSizes, read_sizes


def _chunk(rows: int, arrow_bytes: int) -> ChunkRow:
    return ChunkRow("c", "t", 0, "p", rows, 0, arrow_bytes, 0, 1)


def test_target_then_maximum_then_row_group() -> None:
    limits = Limits(grpc_target_encode_message_size=1000, grpc_max_encode_message_size=600)
    chunks = [_chunk(50, 500), _chunk(50, 500)]  # 10 bytes a row
    assert read_sizes(chunks, limits, row_group_bytes=10_000) == ReadSizes(60, 60)
    assert read_sizes(chunks, limits, row_group_bytes=200) == ReadSizes(60, 20)
    limits = Limits(grpc_target_encode_message_size=400, grpc_max_encode_message_size=600)
    assert read_sizes(chunks, limits, row_group_bytes=10_000) == ReadSizes(40, 40)


def test_never_below_one_row() -> None:
    limits = Limits(grpc_target_encode_message_size=1, grpc_max_encode_message_size=1)
    assert read_sizes([_chunk(1, 10**9)], limits, row_group_bytes=1) == ReadSizes(1, 1)
    assert read_sizes([], Limits(), row_group_bytes=1) == ReadSizes(
        Limits().grpc_target_encode_message_size, 1
    )
