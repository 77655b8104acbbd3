"""Raw messages of one type → one Arrow struct array, following a compiled layout.

Each layout node is read for all messages at once (`Cursor`); sequences of strings or of
messages are read one item position at a time (a numpy round per position, over the
messages that have that many items), then put in message order with one `take`. The
result equals `generic.ros_rows` of the rosbags-decoded messages, value for value: any
batch whose bytes rosbags would refuse is refused here too (`Reject`), and the caller
falls back to rosbags.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np
import pyarrow as pa

from mosaico.bridges.ros.arrow import from_numpy
from mosaico.bridges.ros.cdr.cursor import Cursor, Reject
from mosaico.bridges.ros.cdr.layout import (
    MAX_LOOP_ITEMS,
    Array,
    Bytes,
    Node,
    Prim,
    Run,
    Str,
    Struct,
    min_wire_size,
)
from mosaico.bridges.ros.cdr.packed import Packed

LITTLE_ENDIAN_HOST = sys.byteorder == "little"


def _prim(node: Prim, cur: Cursor, count: int = 1) -> pa.Array:
    values = cur.values(node.dtype, count).reshape(-1)
    return from_numpy(values, node.arrow)


def _string(cur: Cursor) -> pa.Array:
    lengths = cur.counts()
    if cur.cdr:  # the length counts a terminating NUL
        if bool(np.any(lengths < 1)):
            raise Reject("a CDR string without terminator")
        cur.need(lengths)
        if bool(np.any(cur.buf[cur.pos + lengths - 1] != 0)):
            raise Reject("a CDR string without terminator")
    offsets, data = cur.ranges(lengths - 1 if cur.cdr else lengths)
    if cur.cdr:
        cur.pos = cur.pos + 1
    arr = pa.Array.from_buffers(pa.string(), len(cur), [None, offsets, data])
    try:
        arr.validate(full=True)  # UTF-8, as rosbags' str.decode
    except pa.ArrowInvalid as exc:
        raise Reject(f"a string is not UTF-8: {exc}") from None
    return arr


def _bytes(node: Bytes, cur: Cursor) -> pa.Array:
    if node.count is None:
        offsets, data = cur.ranges(cur.counts())
    else:
        data = pa.py_buffer(cur.fixed(node.count))
        offsets = pa.py_buffer(np.arange(len(cur) + 1, dtype=np.int32) * node.count)
    return pa.Array.from_buffers(pa.binary(), len(cur), [None, offsets, data])


def _prim_sequence(node: Array, item: Prim, cur: Cursor) -> pa.Array:
    counts = cur.counts()
    size = item.size
    cur.need(counts * size)
    cur.align(size, where=counts > 0)
    offsets, data = cur.ranges(counts * size)
    raw = np.frombuffer(data, np.uint8).reshape(-1, size) if size > 1 else None
    if raw is not None and cur.swap is not None:
        rows = np.repeat(cur.swap, counts)
        raw[rows] = raw[rows][:, ::-1]
    values = np.frombuffer(data, item.dtype)
    flat = from_numpy(values, item.arrow)
    item_offsets = from_numpy(np.frombuffer(offsets, np.int32) // size, pa.int32())
    return pa.ListArray.from_arrays(item_offsets, flat, type=node.arrow)


def _items(node: Array, cur: Cursor) -> pa.Array:
    """Strings or messages, T[N] or T[]: one round per item position."""
    if node.count is None:
        counts = cur.counts()
        cur.need(counts * min_wire_size(node.item, cur.cdr))
    else:
        counts = np.full(len(cur), node.count, np.int64)
    most = int(counts.max()) if len(cur) else 0
    if most > MAX_LOOP_ITEMS:
        raise Reject("too many variable-size items for the fast path")
    offsets = np.zeros(len(cur) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    parts, places = [], []
    for j in range(most):
        rows = np.flatnonzero(counts > j)
        sub = cur.subset(rows)
        parts.append(decode(node.item, sub))
        places.append(offsets[rows] + j)
        cur.pos[rows] = sub.pos
    item_type = node.arrow.value_type
    flat = pa.concat_arrays(parts) if parts else pa.array([], item_type)
    if len(parts) > 1:
        order = np.argsort(np.concatenate(places), kind="stable")
        flat = flat.take(from_numpy(order, pa.int64()))
    if node.count is not None:
        return pa.FixedSizeListArray.from_arrays(flat, type=node.arrow)
    return pa.ListArray.from_arrays(from_numpy(offsets, pa.int32()), flat, type=node.arrow)


def _array(node: Array, cur: Cursor) -> pa.Array:
    item = node.item
    if not isinstance(item, Prim):
        return _items(node, cur)
    if node.count is None:
        return _prim_sequence(node, item, cur)
    return pa.FixedSizeListArray.from_arrays(_prim(item, cur, node.count), type=node.arrow)


def decode(node: Node, cur: Cursor) -> pa.Array:
    """The Arrow array of `node` for every row of `cur`, which moves past it."""
    if isinstance(node, Prim):
        return _prim(node, cur)
    if isinstance(node, Str):
        return _string(cur)
    if isinstance(node, Bytes):
        return _bytes(node, cur)
    if isinstance(node, Array):
        return _array(node, cur)
    children: list[pa.Array] = []
    for group in node.groups:
        if isinstance(group, Run):
            children.extend(_run(group, cur))
        else:
            children.append(decode(group, cur))
    return pa.StructArray.from_arrays(children, fields=list(node.arrow))


def _run(run: Run, cur: Cursor) -> list[pa.Array]:
    """Consecutive same-size primitives, gathered at once, then split per field."""
    size = run.size
    values = cur.values(np.dtype(f"<u{size}"), len(run.items))
    return [
        from_numpy(np.ascontiguousarray(values[:, j]).view(item.dtype), item.arrow)
        for j, item in enumerate(run.items)
    ]


_scratch = threading.local()  # per decoding thread: the buffer big batches are joined in
_BIG = 1 << 20


def _joined(raws: list[bytes], total: int) -> np.ndarray[Any, Any]:
    """The messages back to back. Big batches (camera frames) are copied into a buffer
    reused from batch to batch: fresh memory of that size costs more than the copy."""
    if total < _BIG:
        return np.frombuffer(b"".join(raws), np.uint8)
    buf: np.ndarray[Any, Any] | None = getattr(_scratch, "buf", None)
    if buf is None or len(buf) < total:
        buf = _scratch.buf = np.empty(total + total // 4, np.uint8)
    view, at = buf.data, 0
    for raw in raws:
        view[at : at + len(raw)] = raw
        at += len(raw)
    return buf[:total]


def _cursor(
    buf: np.ndarray[Any, Any], starts: np.ndarray[Any, Any], lengths: np.ndarray[Any, Any], cdr: bool
) -> Cursor:
    end = starts + lengths
    if not cdr:
        return Cursor(buf, starts, end, starts, None, cdr=False)
    if bool(np.any(lengths < 4)):
        raise Reject("a CDR message shorter than its encapsulation header")
    # Encapsulation: 00 00 is big-endian CDR, 00 01 little-endian; options are ignored.
    kind, endian = buf[starts], buf[starts + 1]
    if bool(np.any(kind != 0)) or bool(np.any(endian > 1)):
        raise Reject("an unsupported CDR encapsulation")
    return Cursor(buf, starts + 4, end, starts + 4, endian == 0, cdr=True)


def decode_batch(layout: Struct, raws: list[bytes] | Packed, cdr: bool) -> pa.StructArray:
    """Raw messages of `layout`'s type (CDR when `cdr`, else ROS 1) → one struct array;
    `raws` as `bytes` each, or where they lie in one buffer (`Packed`).

    Raises:
        Reject: a message does not decode on the fast path (too short or long, a bad
            string, an unsupported encapsulation, limits); rosbags decides it.
    """
    if not LITTLE_ENDIAN_HOST:
        raise Reject("the fast path reads little-endian hosts only")
    if isinstance(raws, Packed):
        cur = _cursor(raws.buf, raws.starts, raws.lengths, cdr)
    else:
        lengths = np.fromiter(map(len, raws), np.int64, len(raws))
        starts = np.zeros(len(lengths), np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        cur = _cursor(_joined(raws, int(lengths.sum())), starts, lengths, cdr)
    out = decode(layout, cur)
    rest = cur.end - cur.pos
    # rosbags tolerates up to 3 bytes of CDR end padding, nothing after a ROS 1 message.
    if bool(np.any(rest < 0)) or bool(np.any(rest > (3 if cdr else 0))):
        raise Reject("a message is longer or shorter than its layout")
    return out  # type: ignore[no-any-return]
