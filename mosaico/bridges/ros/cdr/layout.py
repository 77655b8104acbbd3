"""Wire layouts of ROS message types, compiled once from rosbags' field definitions.

A layout is a tree of nodes that says, for every field of a message, how it sits on the
wire (ROS 1 serialization or CDR) and which Arrow type it decodes to. The Arrow types are
the generic adapter's (`generic.ros_arrow_type`), so a batch decoded through a layout is
the same struct array as the rosbags-decoded messages gathered by the generic builder.

Types a layout cannot describe (`wstring`, `float128`, empty ROS 1 messages) raise
`Unsupported`: their topics keep rosbags' decoding.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pyarrow as pa
from rosbags.typesys.base import Nodetype
from rosbags.typesys.store import Typestore

from mosaico.bridges.ros.generic import ros_arrow_type
from mosaico.bridges.ros.typedefs import BYTE_NAMES

_DTYPES = {
    "bool": "u1", "byte": "i1", "char": "u1", "int8": "i1", "uint8": "u1", "int16": "<i2",
    "uint16": "<u2", "int32": "<i4", "uint32": "<u4", "int64": "<i8", "uint64": "<u8",
    "float32": "<f4", "float64": "<f8",
}  # fmt: skip
# Sequences longer than this of variable-size items (strings, messages with strings) are
# left to rosbags: each item position is one numpy round over the batch.
MAX_LOOP_ITEMS = 4096


class Unsupported(Exception):  # noqa: N818 - a signal, not an error the user sees
    """A message type (or one it nests) has a field the layouts do not cover."""


@attrs.frozen
class Prim:
    """A fixed-size primitive: `dtype` is its little-endian numpy type."""

    dtype: np.dtype[Any]
    arrow: pa.DataType
    is_bool: bool

    @property
    def size(self) -> int:
        """Bytes on the wire, also its CDR alignment."""
        return self.dtype.itemsize


@attrs.frozen
class Str:
    """A length-prefixed UTF-8 string (CDR counts its terminating NUL, ROS 1 does not)."""

    arrow: pa.DataType = pa.string()


@attrs.frozen
class Bytes:
    """uint8/byte/char arrays: Arrow binary; `count` fixed, or None for a sequence."""

    count: int | None
    arrow: pa.DataType = pa.binary()


@attrs.frozen
class Array:
    """T[N] (`count`) or T[] (`count` None) of a primitive, string or message `item`."""

    item: Node
    count: int | None
    arrow: pa.DataType


@attrs.frozen
class Run:
    """Consecutive primitive fields of one size: no padding between them, so they are
    read in one gather (`size` bytes each)."""

    items: tuple[Prim, ...]

    @property
    def size(self) -> int:
        """The size (and alignment) of every item."""
        return self.items[0].size


@attrs.frozen
class Struct:
    """A message: its fields in wire order, and the same grouped into `Run`s for reading."""

    fields: tuple[tuple[str, Node], ...]
    arrow: pa.StructType
    groups: tuple[Node | Run, ...]


Node = Prim | Str | Bytes | Array | Struct


def min_wire_size(node: Node, cdr: bool) -> int:
    """The fewest bytes `node` can take (before alignment): bounds sequence counts."""
    if isinstance(node, Prim):
        return node.size
    if isinstance(node, Str):
        return 5 if cdr else 4
    if isinstance(node, Bytes):
        return 4 if node.count is None else node.count
    if isinstance(node, Array):
        return 4 if node.count is None else node.count * min_wire_size(node.item, cdr)
    return sum(min_wire_size(n, cdr) for _, n in node.fields)


# rosbags' stand-in field of empty messages: one byte in CDR, nothing in ROS 1.
_EMPTY_MEMBER = "structure_needs_at_least_one_member"


class _Compiler:
    def __init__(self, typestore: Typestore, cdr: bool) -> None:
        self.typestore = typestore
        self.cdr = cdr
        self.structs: dict[str, Struct] = {}

    def struct(self, msgtype: str) -> Struct:
        if msgtype not in self.structs:
            fields = self.typestore.fielddefs[msgtype][1]
            if not fields or (not self.cdr and any(n == _EMPTY_MEMBER for n, _ in fields)):
                raise Unsupported(f"{msgtype} has no fields")
            nodes = tuple((name, self.node(desc)) for name, desc in fields)
            arrow = ros_arrow_type(self.typestore, (Nodetype.NAME, msgtype))
            self.structs[msgtype] = Struct(nodes, arrow, _groups([n for _, n in nodes]))
        return self.structs[msgtype]

    def node(self, desc: tuple[Any, Any]) -> Node:
        kind, detail = desc
        if kind == Nodetype.BASE:
            return self.base(detail[0])
        if kind == Nodetype.NAME:
            return self.struct(detail)
        inner, count = detail
        count = count if kind == Nodetype.ARRAY else None
        if inner[0] == Nodetype.BASE and inner[1][0] in BYTE_NAMES:
            return Bytes(count)
        return Array(self.node(inner), count, ros_arrow_type(self.typestore, desc))

    @staticmethod
    def base(name: str) -> Node:
        if name == "string":
            return Str()
        if name not in _DTYPES:
            raise Unsupported(f"field type {name}")
        arrow = ros_arrow_type(None, (Nodetype.BASE, (name, 0)))
        return Prim(np.dtype(_DTYPES[name]), arrow, name == "bool")


def _groups(nodes: list[Node]) -> tuple[Node | Run, ...]:
    """`nodes` with each stretch of two or more same-size primitives made one `Run`."""
    groups: list[Node | Run] = []
    for node in nodes:
        last = groups[-1] if groups else None
        if isinstance(node, Prim) and isinstance(last, Prim | Run) and last.size == node.size:
            items = last.items if isinstance(last, Run) else (last,)
            groups[-1] = Run((*items, node))
        else:
            groups.append(node)
    return tuple(groups)


def compile_layout(typestore: Typestore, msgtype: str, cdr: bool) -> Struct:
    """The layout of `msgtype` and every type it nests, in CDR (`cdr`) or ROS 1.

    Raises:
        Unsupported: a field type the layouts do not cover.
        KeyError: `msgtype` or a nested type is not in the typestore.
    """
    return _Compiler(typestore, cdr).struct(msgtype)
