"""Reading a ROS 1 bag's selected connections record by record, not chunk by chunk.

rosbags' `Reader.messages(connections=...)` loads (and decompresses) every chunk holding
one selected message: for an IMU topic recorded next to a camera that is the whole file,
one frame per few IMU messages. In an uncompressed chunk each message record can be read
alone, at the offset the bag's index gives, so unselected connections cost nothing. This
uses the index rosbags has already read (`indexes`, `chunks`); a bag with compressed chunks
(or a rosbags without that index) is read by rosbags as before. rosbags orders the index
entries by (time, chunk, offset); so does this reader, so both yield the same sequence.
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from rosbags.interfaces import Connection
from rosbags.rosbag1 import Reader, ReaderError
from rosbags.rosbag1 import reader as rosbag1_reader

_UINT32 = struct.Struct("<I")
_OP_MSGDATA, _OP_CONNECTION = 2, 7


def messages(
    reader: Reader, connections: Sequence[Connection]
) -> Iterator[tuple[Connection, int, bytes]]:
    """(connection, log time ns, raw bytes) of `connections`, in rosbags' order.

    Raises:
        ReaderError: a record is truncated or not where the index says.
    """
    chunks: dict[int, Any] | None = getattr(reader, "chunks", None)
    indexes: dict[int, list[Any]] | None = getattr(reader, "indexes", None)
    bio: BinaryIO | None = getattr(reader, "bio", None)
    plain = getattr(rosbag1_reader, "decompressors", {}).get("none")
    if (
        plain is None
        or chunks is None
        or indexes is None
        or bio is None
        or any(c.decompressor is not plain for c in chunks.values())
    ):
        yield from reader.messages(connections=connections)
        return
    by_id = {c.id: c for c in connections}
    for entry in heapq.merge(*(indexes[c.id] for c in connections)):
        bio.seek(chunks[entry.chunk_pos].datapos + entry.offset)
        conn_id, data = _message(bio)
        if conn_id not in by_id:
            raise ReaderError(f"the index points at a message of another connection ({conn_id})")
        yield by_id[conn_id], entry.time, data


def _message(bio: BinaryIO) -> tuple[int, bytes]:
    """The connection id and data of the message record at `bio` (connection records that
    precede it in the chunk are skipped)."""
    while True:
        fields = _header(bio)
        data = _sized(bio)
        op = fields.get(b"op", b"")
        if op == bytes([_OP_MSGDATA]) and len(fields.get(b"conn", b"")) == 4:
            return _UINT32.unpack(fields[b"conn"])[0], data
        if op != bytes([_OP_CONNECTION]):
            raise ReaderError("expected a message record at an indexed offset")


def _header(bio: BinaryIO) -> dict[bytes, bytes]:
    raw = _sized(bio)
    fields, i = {}, 0
    while i + 4 <= len(raw):
        (size,) = _UINT32.unpack_from(raw, i)
        name, _, value = raw[i + 4 : i + 4 + size].partition(b"=")
        fields[name] = value
        i += 4 + size
    return fields


def _sized(bio: BinaryIO) -> bytes:
    head = bio.read(4)
    if len(head) != 4:
        raise ReaderError("truncated record")
    (size,) = _UINT32.unpack(head)
    data = bio.read(size)
    if len(data) != size:
        raise ReaderError("truncated record")
    return data
