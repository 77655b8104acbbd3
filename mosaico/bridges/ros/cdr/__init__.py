"""Vectorised decoding of raw ROS messages (ROS 1 serialization and CDR) into Arrow.

`BatchDecoder.for_type` compiles a message type's wire layout once (`layout`); its
`decode` reads a whole batch of raw messages with numpy (`cursor`, `decode`) into the
struct array of the generic Arrow layout, the same array `generic.ros_rows` builds from
rosbags' decoded messages. Batches it refuses (`Reject`) go to rosbags.
"""

from __future__ import annotations

import attrs
import pyarrow as pa
from rosbags.typesys.store import Typestore

from mosaico.bridges.ros.cdr.cursor import Reject
from mosaico.bridges.ros.cdr.decode import decode_batch
from mosaico.bridges.ros.cdr.layout import Struct, Unsupported, compile_layout
from mosaico.bridges.ros.cdr.packed import Packed

__all__ = ["BatchDecoder", "Packed", "Reject", "Unsupported"]


@attrs.frozen
class BatchDecoder:
    """Decodes batches of raw messages of one type, of one ROS generation."""

    msgtype: str
    layout: Struct
    cdr: bool

    @classmethod
    def for_type(cls, typestore: Typestore, msgtype: str, ros_version: int) -> BatchDecoder:
        """The decoder of `msgtype` messages of a ROS 1 (`ros_version` 1) or 2 recording.

        Raises:
            Unsupported: the type has a field the fast path does not cover.
            KeyError: the type, or one it nests, is not in the typestore.
        """
        cdr = ros_version == 2
        return cls(msgtype, compile_layout(typestore, msgtype, cdr), cdr)

    def decode(self, raws: list[bytes] | Packed) -> pa.StructArray:
        """The messages (`bytes` each, or `Packed` in one buffer) as one struct array of
        the generic layout.

        Raises:
            Reject: the batch is left to rosbags (see `decode.decode_batch`).
        """
        return decode_batch(self.layout, raws, self.cdr)
