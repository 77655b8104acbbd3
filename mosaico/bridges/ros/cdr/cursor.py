"""Read positions of a whole batch of raw messages, moved together with numpy.

The batch is one byte buffer (the messages back to back); each message ("row") has its
own read position, end and CDR alignment origin, and is little- or big-endian. Every read
is one numpy operation over all rows: no Python object per message. A read past a row's
end raises `Reject`, so garbage lengths never allocate or read out of place.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

# Values longer than this (on average) are copied one row at a time: a byte-index array
# would cost 8 bytes per byte, and one slice copy per row is cheap next to its data.
_LONG_VALUES = 256
_U32 = np.dtype("<u4")
MAX_BYTES = 2**31 - 1  # int32 Arrow offsets


class Reject(Exception):  # noqa: N818 - a signal: rosbags decides these batches
    """The batch does not decode on the fast path (malformed, or beyond its limits)."""


class Cursor:
    """Per-row read positions over one buffer (`buf`, uint8), moved together.

    `pos` and `end` are absolute offsets per row; `origin` is where CDR alignment counts
    from (4 bytes into the message); `swap` marks big-endian rows, None when there are
    none. ROS 1 (`cdr` False) has no alignment and is little-endian.
    """

    def __init__(
        self,
        buf: np.ndarray[Any, Any],
        pos: np.ndarray[Any, Any],
        end: np.ndarray[Any, Any],
        origin: np.ndarray[Any, Any],
        swap: np.ndarray[Any, Any] | None,
        cdr: bool,
    ) -> None:
        self.buf, self.pos, self.end, self.origin, self.cdr = buf, pos, end, origin, cdr
        self.swap = swap if swap is not None and swap.any() else None

    def __len__(self) -> int:
        return len(self.pos)

    def subset(self, rows: np.ndarray[Any, Any]) -> Cursor:
        """A cursor over some rows, positioned as they are here (copy its `pos` back)."""
        swap = None if self.swap is None else self.swap[rows]
        return Cursor(self.buf, self.pos[rows], self.end[rows], self.origin[rows], swap, self.cdr)

    def align(self, size: int, where: np.ndarray[Any, Any] | None = None) -> None:
        """CDR: move each row (those in `where`) to the next multiple of `size`."""
        if not self.cdr or size == 1:
            return
        aligned = self.origin + ((self.pos - self.origin + (size - 1)) & -size)
        self.pos = aligned if where is None else np.where(where, aligned, self.pos)

    def need(self, nbytes: int | np.ndarray[Any, Any]) -> None:
        """Every row has `nbytes` (per row, or the same for all) left to read."""
        if len(self) and bool(np.any(self.pos + nbytes > self.end)):
            raise Reject("a message is shorter than its layout")

    def fixed(self, nbytes: int) -> np.ndarray[Any, Any]:
        """The next `nbytes` of every row, as an (n, nbytes) uint8 array (a copy)."""
        self.need(nbytes)
        if not len(self):
            return np.zeros((0, nbytes), np.uint8)
        stride = self._stride()
        if stride is None:
            rows = sliding_window_view(self.buf, nbytes)[self.pos]
        else:  # rows evenly spaced (fixed-size messages): one strided copy, no index array
            whole = np.dtype((np.void, nbytes))  # a row's bytes as one item: copied at once
            view = np.ndarray((len(self),), whole, self.buf, int(self.pos[0]), (stride,))
            rows = view.copy().view(np.uint8).reshape(len(self), nbytes)
        self.pos = self.pos + nbytes
        return rows

    def _stride(self) -> int | None:
        """The distance between consecutive rows' positions when it is one and the same
        (positive) for all, else None."""
        if len(self) == 1:
            return 1
        steps = np.diff(self.pos)
        first = int(steps[0])
        return first if first > 0 and bool(np.all(steps == first)) else None

    def values(self, dtype: np.dtype[Any], count: int = 1) -> np.ndarray[Any, Any]:
        """`count` aligned values of `dtype` per row, native order, shape (n, count)."""
        size = dtype.itemsize
        self.align(size)
        raw = self.fixed(size * count)
        if self.swap is not None and size > 1:
            swapped = raw[self.swap].reshape(-1, count, size)[:, :, ::-1]
            raw[self.swap] = swapped.reshape(-1, size * count)
        return raw.view(dtype)

    def counts(self) -> np.ndarray[Any, Any]:
        """A uint32 length or count per row (int64)."""
        return self.values(_U32)[:, 0].astype(np.int64)

    def ranges(self, lengths: np.ndarray[Any, Any]) -> tuple[pa.Buffer, pa.Buffer]:
        """The next `lengths` bytes of every row, back to back, with their int32 offsets.

        Raises:
            Reject: a row is too short, or the values reach 2 GiB.
        """
        self.need(lengths)
        offsets = np.zeros(len(self) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        total = int(offsets[-1])
        if total > MAX_BYTES:
            raise Reject("a batch of variable-length values must stay below 2 GiB")
        out = pa.allocate_buffer(total)
        data = np.frombuffer(out, np.uint8)
        if total > _LONG_VALUES * len(self):
            for src, dst, n in zip(self.pos.tolist(), offsets.tolist(), lengths.tolist()):
                data[dst : dst + n] = self.buf[src : src + n]
        elif total:
            data[:] = self.buf[np.repeat(self.pos - offsets[:-1], lengths) + np.arange(total)]
        self.pos = self.pos + lengths
        return pa.py_buffer(offsets.astype(np.int32)), out
