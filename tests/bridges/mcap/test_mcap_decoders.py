"""The generic layouts `decoders.py` derives from protobuf descriptors and JSON schemas, on
the shapes a recording's own types do not reach: recursion, unions, maps, presence."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from google.protobuf import struct_pb2
from mcap.records import Schema
from mcap_protobuf.schema import build_file_descriptor_set

from mosaico.bridges.mcap import decoder_for, generic_adapter
from mosaico.bridges.ros import RosBridgeError


def _proto(cls: type) -> Schema:
    data = build_file_descriptor_set(cls).SerializeToString()
    return Schema(id=1, name=cls.DESCRIPTOR.full_name, encoding="protobuf", data=data)


def _json(schema: object, name: str = "t.Json") -> Schema:
    return Schema(id=1, name=name, encoding="jsonschema", data=json.dumps(schema).encode())


def test_recursive_protobuf_messages_keep_their_bytes() -> None:
    decoded = decoder_for("protobuf", _proto(struct_pb2.Struct))
    (fields,) = decoded.layout
    value = fields.type.value_type.field("value").type  # map<string, Value> as key/value items
    assert value.field("struct_value").type == pa.binary()  # Struct inside Struct
    assert value.field("list_value").type.field("values").type == pa.list_(pa.binary())
    msg = struct_pb2.Struct()
    msg.update({"speed": 2.5, "inner": {"ok": True}})
    got = decoded.decode(msg.SerializeToString())
    table = generic_adapter(decoded).to_batch([got], [7]).to_pylist()
    items = {i["key"]: i["value"] for i in table[0]["fields"]}
    assert items["speed"]["number_value"] == 2.5 and items["speed"]["struct_value"] is None
    inner = struct_pb2.Struct.FromString(items["inner"]["struct_value"])
    assert inner["ok"] is True


def test_json_schema_shapes() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": ["integer", "null"]},
            "either": {"type": ["integer", "string"]},  # a union: JSON text
            "any": {"oneOf": [{"type": "number"}, {"type": "string"}]},
            "tree": {"$ref": "#/definitions/node"},
            "pairs": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            "loose": {"type": "array"},
        },
        "definitions": {
            "node": {
                "type": "object",
                "properties": {
                    "v": {"type": "number"},
                    "kids": {"type": "array", "items": {"$ref": "#/definitions/node"}},
                },
            }
        },
    }
    decoded = decoder_for("json", _json(schema))
    layout = decoded.layout
    assert layout.field("id").type == pa.int64()
    assert layout.field("either").type == pa.string() and layout.field("any").type == pa.string()
    assert layout.field("tree").type.field("kids").type == pa.list_(pa.string())  # recursion
    assert layout.field("pairs").type == pa.list_(pa.list_(pa.float64()))
    assert layout.field("loose").type == pa.string()
    msg = {"id": 3, "either": "x", "any": 1.5, "tree": {"v": 1, "kids": [{"v": 2, "kids": []}]},
           "pairs": [[1, 2.5]], "loose": [1, "a"], "unknown": 1}  # fmt: skip
    row = generic_adapter(decoded).to_batch([decoded.decode(json.dumps(msg).encode())], [1])
    (got,) = row.to_pylist()
    assert got["either"] == '"x"' and got["any"] == "1.5" and got["loose"] == '[1, "a"]'
    assert got["tree"] == {"v": 1.0, "kids": [json.dumps({"v": 2, "kids": []})]}
    assert got["pairs"] == [[1.0, 2.5]] and "unknown" not in got


def test_json_values_that_break_the_schema_fail_the_batch() -> None:
    decoded = decoder_for(
        "json", _json({"type": "object", "properties": {"n": {"type": "integer"}}})
    )
    adapter = generic_adapter(decoded)
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        adapter.to_batch([decoded.decode(b'{"n": "seven"}')], [1])
    blob = decoder_for(
        "json",
        _json(
            {"type": "object", "properties": {"b": {"type": "string", "contentEncoding": "base64"}}}
        ),
    )
    with pytest.raises(RosBridgeError, match="base64"):
        blob.decode(b'{"b": "not base64!"}')


def test_a_message_that_is_not_an_object_is_one_column() -> None:
    decoded = decoder_for("json", _json({"type": "array", "items": {"type": "integer"}}))
    assert decoded.layout == pa.struct([pa.field("value", pa.list_(pa.int64()))])
    got = generic_adapter(decoded).to_batch([decoded.decode(b"[1, 2]")], [5]).to_pylist()
    assert got == [{"timestamp_ns": 5, "value": [1, 2]}]


def test_envelope_name_and_unknown_encodings_are_refused() -> None:
    clash = decoder_for("json", _json({"properties": {"timestamp_ns": {"type": "integer"}}}))
    with pytest.raises(RosBridgeError, match="timestamp_ns"):
        generic_adapter(clash)
    with pytest.raises(RosBridgeError, match="'flatbuffer' with schema encoding 'flatbuffer'"):
        decoder_for("flatbuffer", Schema(id=1, name="x", encoding="flatbuffer", data=b""))
