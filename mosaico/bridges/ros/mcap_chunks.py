"""Reading a rosbag2 MCAP recording's selected topics chunk by chunk, with numpy.

rosbags' MCAP reader yields one message at a time (about 0.3 M msg/s on the bench: a
`BytesIO`, a tuple and a heap merge over every chunk per message). This reader keeps
rosbags for the file: its index (`McapReader.chunks`: where each chunk and each channel's
message index lie, the compression) and its `decompress` (sizes and CRC checked). What it
adds is reading each chunk's message index records (log time and offset of every message
of a channel, one numpy array) and locating every message's payload in the decompressed
chunk with numpy: one `Run` per topic and chunk, no Python object per message.

Only files laid out as recorders write them are read this way: chunks in time order (none
begins before the one before it ends), every message indexed, no per-message compression; `runs`
returns None for any other file and rosbags reads it as before. Per topic the order is
rosbags': chunks in file order (rosbags breaks ties of log time that way too), each
chunk's messages stable-sorted by log time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, BinaryIO

import attrs
import numpy as np
from rosbags.interfaces import Connection
from rosbags.rosbag2 import ReaderError, storage_mcap

from mosaico.bridges.ros.cdr.packed import Packed

_OP_MESSAGE, _OP_MESSAGE_INDEX = 0x05, 0x07
_RECORD_HEAD = 9  # opcode u8, length u64
_MESSAGE_HEAD = 22  # channel u16, sequence u32, log time u64, publish time u64
_INDEX_ENTRY = np.dtype([("log_time", "<u8"), ("offset", "<u8")])


@attrs.frozen
class Run:
    """Consecutive messages of one topic from one chunk, in log-time order."""

    topic: str
    times: np.ndarray[Any, Any]  # int64 log times, ns
    packed: Packed

    def __len__(self) -> int:
        return len(self.times)

    def split(self, k: int) -> tuple[Run, Run]:
        """The first `k` messages and the rest."""
        p = self.packed
        head = Packed(p.buf, p.starts[:k], p.lengths[:k])
        tail = Packed(p.buf, p.starts[k:], p.lengths[k:])
        return Run(self.topic, self.times[:k], head), Run(self.topic, self.times[k:], tail)


def runs(readers: Sequence[Any], topics: Mapping[str, str]) -> Iterator[Run] | None:
    """The messages of `topics` (name -> message type) of rosbags rosbag2 `readers`, as
    runs; None when a reader is not an indexed MCAP file this module reads (see above).

    Raises (while iterating):
        ReaderError: a chunk or index record is truncated or not what the index says.
    """
    plans = [_plan(reader, topics) for reader in readers]
    if any(plan is None for plan in plans):
        return None
    return (run for plan in plans if plan is not None for run in _read(plan))


def _storages(reader: Any) -> list[Any] | None:
    """The MCAP storages of a rosbags `Reader` (one file, or a rosbag2 folder's files)."""
    storage = getattr(reader, "storage", None)
    if isinstance(storage, storage_mcap.McapReader):
        return [storage]
    inner = getattr(storage, "storages", None)
    mode = getattr(getattr(storage, "metadata", None), "compression_mode", None)
    if inner and mode != "message" and all(isinstance(s, storage_mcap.McapReader) for s in inner):
        return list(inner)
    return None


_Plan = list[tuple[Any, dict[int, str], list[Any]]]  # (storage, channel id -> topic, chunks)


def _plan(reader: Any, topics: Mapping[str, str]) -> _Plan | None:
    """Per storage: its wanted channels (id -> topic) and the chunks holding them."""
    storages = _storages(reader)
    if storages is None or not hasattr(storage_mcap, "decompress"):
        return None
    out = []
    for storage in storages:
        conns: list[Connection] = storage.connections
        channels = {c.id: c.topic for c in conns if topics.get(c.topic) == c.msgtype}
        chunks = sorted(
            (c for c in storage.chunks if any(c.channel_count.get(i) for i in channels)),
            key=lambda c: c.chunk_start_offset,
        )
        if channels and not storage.chunks:
            return None  # no chunk index: rosbags scans the file
        ordered = all(a.message_end_time <= b.message_start_time for a, b in zip(chunks, chunks[1:]))
        indexed = _all_indexed(storage, channels, chunks)
        if not (ordered and indexed):
            return None
        out.append((storage, channels, chunks))
    return out


def _all_indexed(storage: Any, channels: Mapping[int, str], chunks: Sequence[Any]) -> bool:
    """Whether the message indexes count every message the file's statistics count (a
    writer may leave messages unindexed; the summary has no statistics: trusted)."""
    stats = getattr(storage, "statistics", None)
    counts = getattr(stats, "channel_message_counts", None)
    if not counts:
        return True
    indexed = {cid: sum(c.channel_count.get(cid, 0) for c in chunks) for cid in channels}
    return all(indexed[cid] == counts.get(cid, 0) for cid in channels)


def _read(plan: _Plan) -> Iterator[Run]:
    for storage, channels, chunks in plan:
        for chunk in chunks:
            yield from _chunk_runs(storage.bio, chunk, channels)


def _chunk_runs(bio: BinaryIO, chunk: Any, channels: Mapping[int, str]) -> Iterator[Run]:
    buf = _records(bio, chunk)
    base = chunk.chunk_start_offset + chunk.chunk_length  # the message indexes follow the chunk
    index = _read_at(bio, base, chunk.message_index_length)
    for cid in sorted(cid for cid in channels if chunk.channel_count.get(cid)):
        entries = _index_entries(index, chunk.message_index_offsets[cid] - base, cid)
        times, packed = _locate(buf, entries, cid, chunk)
        if packed.nbytes * 2 < len(buf):
            packed = packed.compact()
        yield Run(channels[cid], times, packed)


def _read_at(bio: BinaryIO, offset: int, size: int) -> bytes:
    bio.seek(offset)
    data = bio.read(size)
    if len(data) != size:
        raise ReaderError("the MCAP file is truncated (a chunk or its index)")
    return data


def _records(bio: BinaryIO, chunk: Any) -> np.ndarray[Any, Any]:
    """The chunk's records, decompressed and checked by rosbags."""
    head = chunk.chunk_start_offset + _RECORD_HEAD
    crc = int.from_bytes(_read_at(bio, head + 24, 4), "little")
    data = _read_at(bio, head + 40 + len(chunk.compression), chunk.compressed_size)
    raw = storage_mcap.decompress(data, chunk.compression, chunk.uncompressed_size, crc)
    return np.frombuffer(raw, np.uint8)


def _index_entries(index: bytes, at: int, cid: int) -> np.ndarray[Any, Any]:
    """The entries of the message index record of channel `cid` at `at` in `index`."""
    head = _RECORD_HEAD + 6
    if at < 0 or at + head > len(index) or index[at] != _OP_MESSAGE_INDEX:
        raise ReaderError(f"no message index record of channel {cid} where the index says")
    channel = int.from_bytes(index[at + 9 : at + 11], "little")
    size = int.from_bytes(index[at + 11 : at + 15], "little")
    if channel != cid or size % _INDEX_ENTRY.itemsize or at + head + size > len(index):
        raise ReaderError(f"a malformed message index record of channel {cid}")
    return np.frombuffer(index, _INDEX_ENTRY, size // _INDEX_ENTRY.itemsize, at + head)


def _uint(buf: np.ndarray[Any, Any], at: np.ndarray[Any, Any], size: int) -> np.ndarray[Any, Any]:
    """The little-endian unsigned integers of `size` bytes at offsets `at`."""
    dtype = np.dtype(f"<u{size}")
    return buf[at[:, None] + np.arange(size)].view(dtype).reshape(-1).astype(np.int64)


def _locate(
    buf: np.ndarray[Any, Any], entries: np.ndarray[Any, Any], cid: int, chunk: Any
) -> tuple[np.ndarray[Any, Any], Packed]:
    """Log times and payloads of the indexed messages, checked against their records."""
    at = entries["offset"].astype(np.int64)
    if bool(np.any(at < 0)) or bool(np.any(at + _RECORD_HEAD + _MESSAGE_HEAD > len(buf))):
        raise ReaderError(f"a message index entry of channel {cid} points outside its chunk")
    length = _uint(buf, at + 1, 8)
    ok = (buf[at] == _OP_MESSAGE) & (_uint(buf, at + _RECORD_HEAD, 2) == cid)
    ok &= (length >= _MESSAGE_HEAD) & (at + _RECORD_HEAD + length <= len(buf))
    if not bool(ok.all()):
        raise ReaderError(f"a message index entry of channel {cid} is not a message of it")
    times = _uint(buf, at + _RECORD_HEAD + 6, 8)
    if bool(np.any(times < chunk.message_start_time)) or bool(
        np.any(times > chunk.message_end_time)
    ):
        raise ReaderError("a message's log time lies outside its chunk's time range")
    order = np.lexsort((at, times))  # by time, in record order for equal times (as rosbags)
    at, times, length = at[order], times[order], length[order]
    start = at + _RECORD_HEAD + _MESSAGE_HEAD
    return times, Packed(buf, start, length - _MESSAGE_HEAD)
