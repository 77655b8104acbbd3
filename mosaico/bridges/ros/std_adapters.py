"""std_msgs adapters: scalar wrappers, String, Header and the ROS 1 Time/Duration."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

import mosaico.types as onto
from mosaico.bridges.ros import parts
from mosaico.bridges.ros.adapter import Row, register
from mosaico.bridges.ros.arrow import field
from mosaico.ontology import OntologyType

P = "std_msgs/msg/"

_SCALARS: dict[str, type[OntologyType]] = {
    "Bool": onto.Boolean,
    "Byte": onto.Integer8,  # rosbags: byte is signed, char unsigned
    "Char": onto.Unsigned8,
    "Int8": onto.Integer8,
    "Int16": onto.Integer16,
    "Int32": onto.Integer32,
    "Int64": onto.Integer64,
    "UInt8": onto.Unsigned8,
    "UInt16": onto.Unsigned16,
    "UInt32": onto.Unsigned32,
    "UInt64": onto.Unsigned64,
    "Float32": onto.Floating32,
    "Float64": onto.Floating64,
    "String": onto.String,
}


def _data_column(t: pa.DataType) -> Any:
    return lambda ms: {"data": field(ms, "data", t)}


def _data_ros(r: Row) -> Row:
    return {"data": r["data"]}


for _name, _ontology in _SCALARS.items():
    register(P + _name, _ontology, _data_column(_ontology.ARROW_TYPE.field("data").type), _data_ros)


def _time(ms: pa.StructArray) -> dict[str, pa.Array]:
    stamps = ms.field("data")
    return {
        "seconds": field(stamps, "sec", pa.int32()),
        "nanoseconds": field(stamps, "nanosec", pa.uint32()),
    }


def _time_ros(r: Row) -> Row:
    return {"data": parts.time_ros(r)}


register(P + "Time", onto.Time, _time, _time_ros)
register(P + "Duration", onto.Duration, _time, _time_ros)


def _header(ms: pa.StructArray) -> dict[str, pa.Array]:
    hdr = parts.header(ms)
    return {name: hdr.field(name) for name in hdr.type.names}


register(P + "Header", onto.Header, _header, parts.header_ros)
