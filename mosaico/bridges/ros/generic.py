"""The generic adapter: any message type, its Arrow layout derived from the definition.

Mapping: ROS scalars → the Arrow scalar of the same width (byte → int8, char → uint8),
string → string, nested message → struct of its fields, arrays of one-byte elements
(uint8/byte/char, fixed or not) → binary, T[N] → fixed_size_list<T>[N], T[] → list<T>.
Field names are kept, so an Arrow row is already the ROS field dict of the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pyarrow as pa
from rosbags.typesys.base import Nodetype
from rosbags.typesys.store import Typestore

from mosaico.bridges.ros.adapter import Row
from mosaico.bridges.ros.arrow import batch, binary, fixed_list, list_of, list_of_structs, struct
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.typedefs import BYTE_NAMES
from mosaico.protocol.topic_type import TIMESTAMP, TIMESTAMP_FIELD, TopicType

GENERIC = "generic"

_BASE = {
    "bool": pa.bool_(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "wstring": pa.string(),
    "byte": pa.int8(),
    "char": pa.uint8(),
}


def _is_bytes(desc: tuple[Any, Any]) -> bool:
    node, detail = desc
    return node == Nodetype.BASE and detail[0] in BYTE_NAMES


def ros_arrow_type(typestore: Typestore | None, desc: tuple[Any, Any]) -> pa.DataType:
    """The generic Arrow type of a field descriptor (a primitive needs no typestore)."""
    return _Builder(typestore).arrow_type(desc)  # type: ignore[arg-type]


def ros_rows(typestore: Typestore, msgtype: str, msgs: Sequence[Any]) -> pa.StructArray:
    """Decoded messages of `msgtype` as one struct array of their generic layout.

    Raises:
        RosBridgeError: a fixed-size array has the wrong length, or the batch's byte
            arrays reach 2 GiB.
    """
    return _Builder(typestore).struct_array(msgtype, msgs)


class _Builder:
    """Arrow types and columnar builders for one typestore, memoised per message type."""

    def __init__(self, typestore: Typestore) -> None:
        self.typestore = typestore
        self._structs: dict[str, pa.StructType] = {}

    def struct_type(self, msgtype: str) -> pa.StructType:
        if msgtype not in self._structs:
            fields = self.typestore.fielddefs[msgtype][1]
            self._structs[msgtype] = pa.struct(
                [pa.field(name, self.arrow_type(desc), nullable=False) for name, desc in fields]
            )
        return self._structs[msgtype]

    def arrow_type(self, desc: tuple[Any, Any]) -> pa.DataType:
        node, detail = desc
        if node == Nodetype.BASE:
            return _BASE[detail[0]]
        if node == Nodetype.NAME:
            return self.struct_type(detail)
        inner, size = detail
        if _is_bytes(inner):
            return pa.binary()
        item = pa.field("item", self.arrow_type(inner))
        return pa.list_(item, size) if node == Nodetype.ARRAY else pa.list_(item)

    def array(self, desc: tuple[Any, Any], values: Sequence[Any]) -> pa.Array:
        """One field of many messages → one Arrow array."""
        node, detail = desc
        t = self.arrow_type(desc)
        if node == Nodetype.BASE:
            return pa.array(values, type=t)
        if node == Nodetype.NAME:
            return self.struct_array(detail, values)
        inner = detail[0]
        if _is_bytes(inner):
            return binary(values)
        if inner[0] == Nodetype.NAME:
            flat = [v for row in values for v in row]
            items = self.struct_array(inner[1], flat)
            nested = list_of_structs(values, items)
            return nested if node == Nodetype.SEQUENCE else nested.cast(t)
        if node == Nodetype.ARRAY:
            return fixed_list(values, t)
        return list_of(values, t.value_type)

    def struct_array(self, msgtype: str, objs: Sequence[Any]) -> pa.StructArray:
        fields = self.typestore.fielddefs[msgtype][1]
        cols = {name: self.array(desc, [getattr(o, name) for o in objs]) for name, desc in fields}
        return struct(self.struct_type(msgtype), len(objs), cols)


@attrs.frozen
class GenericAdapter:
    """Keeps messages of any type, custom ones included, under the tag = ROS type name.

    The topic type has no codec (the data is read back as Arrow, or as `Unmodeled`), and
    its serialization format is `ragged` when the message has lists or byte arrays.

    >>> with RosSource(["run.mcap"]) as source:
    ...     adapter = GenericAdapter.for_type(source.typestore, "my_msgs/msg/Status")
    >>> adapter.topic_type.tag
    'my_msgs/msg/Status'
    """

    ros_type: str
    topic_type: TopicType

    @classmethod
    def for_type(cls, typestore: Typestore, ros_type: str) -> GenericAdapter:
        """The adapter of `ros_type`, its schema derived from the typestore's definition.

        Raises:
            RosBridgeError: the message has a field named `timestamp_ns`.
            KeyError: `ros_type`, or a type it nests, is not in the typestore.
        """
        builder = _Builder(typestore)
        payload = list(builder.struct_type(ros_type))
        if any(f.name == TIMESTAMP for f in payload):
            raise RosBridgeError(f"{ros_type} has a field named timestamp_ns, the envelope column")
        schema = pa.schema([TIMESTAMP_FIELD, *payload])
        # Lists dominate variable-length messages; the hint only tunes storage.
        has_lists = any(pa.types.is_list(f.type) or pa.types.is_binary(f.type) for f in payload)
        topic_type = TopicType(ros_type, schema, "ragged" if has_lists else "default")
        return cls(ros_type, topic_type)

    @property
    def name(self) -> str:
        """Always `"generic"`: export rebuilds the adapter from the stored definition."""
        return GENERIC

    def to_batch(self, rows: pa.StructArray, log_times: Sequence[int]) -> pa.RecordBatch:
        """One column per top-level field of the message (`rows`' fields), after
        `timestamp_ns`."""
        cols = {name: rows.field(name) for name in rows.type.names}
        return batch(self.topic_type.schema, log_times, cols)

    @property
    def ros_layout(self) -> bool:
        """True: `to_batch` takes a struct array of the generic layout."""
        return True

    @property
    def keeps_originals(self) -> bool:
        """False: the generic layout holds every value of the message."""
        return False  # the layout is the message's own: nothing is lost

    def originals(self, msg: Any) -> Row:
        """Nothing to keep: always `{}`."""
        return {}

    def to_ros(self, row: Row, originals: Row) -> Row:
        """The row itself: its keys are the ROS field names already."""
        return row
