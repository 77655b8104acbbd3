"""How a recording is compressed: read from rosbags' readers, chosen and set for its writers.

ROS 1 bags compress chunks (bz2, lz4); rosbag2 compresses with zstd whole storage files
(`file`) or each message (`message`); MCAP files compress their chunks (`chunk`). Ingest
records the recording's compression in each topic's `_ros_` metadata, export writes the
same again when the target format can hold it, and the nearest compression it can hold
otherwise (a compressed recording stays compressed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs
from rosbags.rosbag1 import Reader as Reader1
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag1 import reader as rosbag1_reader
from rosbags.rosbag2 import CompressionFormat, CompressionMode
from rosbags.rosbag2 import Reader as Reader2
from rosbags.rosbag2 import Writer as Writer2

from mosaico.bridges.ros.errors import RosBridgeError

CHOICES = ("none", "zstd", "lz4", "bz2")
# Target → compression format → its modes, the preferred first. A bare storage file has no
# metadata.yaml to say that its messages or the file are compressed.
_SUPPORTED: dict[str, dict[str, tuple[str, ...]]] = {
    "bag": {"lz4": ("chunk",), "bz2": ("chunk",)},
    "db3": {"zstd": ("message", "file")},
    "mcap": {"zstd": ("chunk", "message", "file")},
    "db3 file": {},
    "mcap file": {"zstd": ("chunk",)},
}
_ROS2_MODES = {
    "chunk": CompressionMode.STORAGE,
    "message": CompressionMode.MESSAGE,
    "file": CompressionMode.FILE,
}
_NOUNS = {"chunk": "chunks", "message": "messages", "file": "file"}


@attrs.frozen
class Compression:
    """A compression format (`none`, `zstd`, `lz4`, `bz2`) and what it applies to (`mode`:
    `chunk`, `message` or `file`; see the module docstring)."""

    format: str = "none"
    mode: str = "chunk"

    def to_metadata(self) -> dict[str, str] | None:
        """The `_ros_.compression` entry; None when uncompressed."""
        return None if self.format == "none" else {"format": self.format, "mode": self.mode}

    @classmethod
    def from_metadata(cls, value: Any) -> Compression:
        """The compression an `_ros_.compression` entry names (uncompressed when absent).

        Raises:
            RosBridgeError: the entry is not `{"format": ..., "mode": ...}` of known names.
        """
        if value is None:
            return NONE
        if (
            not isinstance(value, dict)
            or value.get("format") not in CHOICES
            or value.get("mode") not in _ROS2_MODES
        ):
            raise RosBridgeError(
                f"bad compression metadata {value!r}: expected "
                f'{{"format": one of {list(CHOICES)}, "mode": one of {list(_ROS2_MODES)}}}'
            )
        return cls(value["format"], value["mode"])

    def __str__(self) -> str:
        return "none" if self.format == "none" else f"{self.format} {_NOUNS[self.mode]}"


NONE = Compression()


def recorded(readers: Iterable[Reader1 | Reader2]) -> Compression:
    """The compression of an open recording (of the first compressed file among split bags).

    A file whose chunks mix formats reports its most frequent compressed one.
    """
    for reader in readers:
        found = _ros1(reader) if isinstance(reader, Reader1) else _ros2(reader)
        if found != NONE:
            return found
    return NONE


def _most_common(names: Iterable[str], mode: str) -> Compression:
    counts = Counter(n for n in names if n and n != "none")
    return Compression(counts.most_common(1)[0][0], mode) if counts else NONE


def _ros1(reader: Reader1) -> Compression:
    # rosbags keeps each chunk's decompressor, taken from this table by compression name.
    table = getattr(rosbag1_reader, "decompressors", {})
    names = {id(func): name for name, func in table.items()}
    return _most_common(
        (names.get(id(c.decompressor), "") for c in reader.chunks.values()), "chunk"
    )


def _ros2(reader: Reader2) -> Compression:
    if reader.compression_mode in ("file", "message"):
        return Compression(reader.compression_format or "zstd", reader.compression_mode)
    # MCAP chunk compression: per file of a rosbag2 folder, or of a bare .mcap file.
    storages = getattr(reader.storage, "storages", [reader.storage])
    chunks = (c.compression for s in storages for c in getattr(s, "chunks", ()))
    return _most_common(chunks, "chunk")


def choose(recorded: Compression, target: str, requested: str | None = None) -> Compression:
    """The compression to export with: `requested` (a name of `CHOICES`), else `recorded`.

    `target`: `bag`, `db3`, `mcap`, or `db3 file` / `mcap file` for a bare storage file.
    The recorded mode is kept when the target has it, else the target's usual one; a
    recorded format the target lacks becomes the target's usual format.

    Raises:
        RosBridgeError: `requested` is unknown or the target cannot hold it.
    """
    supported = _SUPPORTED[target]
    if requested is not None and requested not in CHOICES:
        raise RosBridgeError(f"unknown compression {requested!r}; expected one of {CHOICES}")
    if requested == "none" or (requested is None and recorded == NONE):
        return NONE
    if requested is not None and requested not in supported:
        can = ", ".join(["none", *supported])
        raise RosBridgeError(f"a {target} export cannot be compressed with {requested} ({can})")
    fmt = requested or (
        recorded.format if recorded.format in supported else next(iter(supported), None)
    )
    if fmt is None:  # a bare .db3 file: nowhere to say it is compressed
        return NONE
    modes = supported[fmt]
    return Compression(fmt, recorded.mode if recorded.mode in modes else modes[0])


def configure(writer: Writer1 | Writer2, compression: Compression) -> None:
    """Set `compression` on a writer that is not open yet."""
    if compression == NONE:
        return
    if isinstance(writer, Writer1):
        writer.set_compression(Writer1.CompressionFormat[compression.format.upper()])
    else:
        writer.set_compression(
            _ROS2_MODES[compression.mode], CompressionFormat[compression.format.upper()]
        )
