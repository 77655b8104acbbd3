"""A batch of raw messages as one byte buffer with a start and a length per message.

The fast decoder reads messages where they lie (`decode.decode_batch`); a reader that
locates them in a decompressed MCAP chunk (`mcap_chunks`) hands them on this way, with no
`bytes` object per message. Messages need not be back to back: the record headers between
them stay in the buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np


@attrs.frozen
class Packed:
    """Messages `buf[starts[i] : starts[i] + lengths[i]]` (uint8 buffer, int64 offsets)."""

    buf: np.ndarray[Any, Any]
    starts: np.ndarray[Any, Any]
    lengths: np.ndarray[Any, Any]

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def nbytes(self) -> int:
        """The bytes of the messages (not of the buffer)."""
        return int(self.lengths.sum())

    def messages(self) -> list[bytes]:
        """One `bytes` per message: for rosbags, which decodes one message at a time."""
        view = self.buf.data
        return [bytes(view[s : s + n]) for s, n in zip(self.starts.tolist(), self.lengths.tolist())]

    def compact(self) -> Packed:
        """The messages back to back in a buffer of their own: a few messages taken from a
        big chunk must not keep the whole chunk in memory."""
        n = len(self)
        if n and bool(np.all(self.lengths == self.lengths[0])):
            size = int(self.lengths[0])
            buf = self.buf[self.starts[:, None] + np.arange(size)].reshape(-1)
        else:
            buf = np.frombuffer(b"".join(self.messages()), np.uint8)
        starts = np.zeros(n, np.int64)
        np.cumsum(self.lengths[:-1], out=starts[1:])
        return Packed(buf, starts, self.lengths)

    @classmethod
    def concat(cls, parts: Sequence[Packed]) -> Packed:
        """The messages of `parts`, in order, over one buffer."""
        if len(parts) == 1:
            return parts[0]
        shifts = np.cumsum([0] + [len(p.buf) for p in parts[:-1]])
        return cls(
            np.concatenate([p.buf for p in parts]),
            np.concatenate([p.starts + shift for p, shift in zip(parts, shifts)]),
            np.concatenate([p.lengths for p in parts]),
        )
