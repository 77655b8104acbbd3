"""Protobuf and JSON channels: how their messages decode, and their generic Arrow layout.

`decoder_for(message_encoding, schema)` gives a `Decoded`: the decode function (protobuf
through `mcap-protobuf-support`'s `DecoderFactory`, JSON through `json.loads`), and the
Arrow struct a decoded message becomes under the generic adapter, derived from the
protobuf descriptor or the JSON schema, with the function turning decoded messages into
rows of it.

Protobuf: scalars → the Arrow scalar of the same width, enums → int32 (their numbers),
string → string, bytes → binary, messages → structs (null when a field with presence is
unset), repeated → list, maps → list<struct<key, value>>, a message nested in itself →
binary (its serialized bytes).

JSON schema: integer → int64, number → float64, boolean → bool, string → string (binary
for `"contentEncoding": "base64"`, decoded), object with properties → struct, array with
`items` → list, local `$ref`s followed; anything else (free-form objects, unions,
recursive references) → string holding the value's JSON text. Every JSON field is
nullable (absent keys are null). A message without schema keeps its JSON text whole.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pyarrow as pa
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError
from mcap.exceptions import McapError
from mcap.records import Schema
from mcap_protobuf.decoder import DecoderFactory

from mosaico.bridges.ros.errors import RosBridgeError

Convert = Callable[[Any], Any]
Rows = Callable[[Sequence[Any]], list[Any]]

JSON_TEXT = "json"  # the one column of schemaless JSON messages


class DecodedMessages:
    """What the adapters of decoded (protobuf, JSON) messages share: `to_batch` takes the
    messages themselves, not the generic ROS layout, and nothing is kept for export."""

    @property
    def ros_layout(self) -> bool:
        """False: `to_batch` takes the decoded messages (protobuf objects, JSON)."""
        return False

    @property
    def keeps_originals(self) -> bool:
        """False: there is nothing to restore on export."""
        return False

    def originals(self, msg: Any) -> dict[str, Any]:
        """Nothing to keep: always `{}`."""
        return {}


@attrs.frozen
class Decoded:
    """How the messages of one protobuf or JSON schema decode, and their generic layout.

    `msgtype` is the schema name; `schema_text` its data as text (JSON schema as it is,
    protobuf descriptors in base64). `layout` is the Arrow struct of one message under the
    generic adapter and `rows` turns decoded messages into Python rows of it.
    """

    msgtype: str
    message_encoding: str
    schema_encoding: str
    schema_text: str
    decode: Callable[[bytes], Any]
    layout: pa.StructType
    rows: Rows


def decoder_for(message_encoding: str, schema: Schema | None) -> Decoded:
    """The decoding of a protobuf or JSON channel.

    Raises:
        RosBridgeError: another encoding, or a schema that does not load (the message
            names the schema and the reason).
    """
    encoding = schema.encoding if schema is not None else ""
    if message_encoding == "protobuf" and schema is not None and encoding == "protobuf":
        return _protobuf(schema)
    if message_encoding == "json" and encoding in ("jsonschema", ""):
        return _json(schema)
    raise RosBridgeError(
        f"message encoding {message_encoding!r} with schema encoding {encoding or 'none'!r} "
        "is not supported: mosaico reads cdr (ROS 2 msg/idl schemas), protobuf (protobuf "
        "schemas) and json (jsonschema or no schema) channels"
    )


# --- protobuf -------------------------------------------------------------------------------

_T = FieldDescriptor
_PB_SCALARS = {
    _T.TYPE_DOUBLE: pa.float64(),
    _T.TYPE_FLOAT: pa.float32(),
    _T.TYPE_INT64: pa.int64(),
    _T.TYPE_SINT64: pa.int64(),
    _T.TYPE_SFIXED64: pa.int64(),
    _T.TYPE_UINT64: pa.uint64(),
    _T.TYPE_FIXED64: pa.uint64(),
    _T.TYPE_INT32: pa.int32(),
    _T.TYPE_SINT32: pa.int32(),
    _T.TYPE_SFIXED32: pa.int32(),
    _T.TYPE_UINT32: pa.uint32(),
    _T.TYPE_FIXED32: pa.uint32(),
    _T.TYPE_BOOL: pa.bool_(),
    _T.TYPE_STRING: pa.string(),
    _T.TYPE_BYTES: pa.binary(),
    _T.TYPE_ENUM: pa.int32(),
}


def _protobuf(schema: Schema) -> Decoded:
    try:
        decode = DecoderFactory().decoder_for("protobuf", schema)
        if decode is None:
            raise McapError("not a protobuf schema")
        # The empty message is a valid encoding: it yields the class, hence the descriptor.
        descriptor = decode(b"").DESCRIPTOR
    except (McapError, DecodeError, TypeError, KeyError, ValueError) as exc:
        raise RosBridgeError(f"unusable protobuf schema {schema.name}: {exc}") from None
    layout, convert = _ProtoLayout().message(descriptor)
    return Decoded(
        msgtype=schema.name,
        message_encoding="protobuf",
        schema_encoding="protobuf",
        schema_text=base64.b64encode(schema.data).decode("ascii"),
        decode=decode,
        layout=layout,
        rows=lambda msgs: [convert(m) for m in msgs],
    )


class _ProtoLayout:
    """Arrow types and row converters of protobuf messages, memoised per message type."""

    def __init__(self) -> None:
        self._done: dict[str, tuple[pa.StructType, Convert]] = {}
        self._open: set[str] = set()  # messages being built: a reference back is recursion

    def message(self, desc: Descriptor) -> tuple[pa.StructType, Convert]:
        if desc.full_name in self._done:
            return self._done[desc.full_name]
        self._open.add(desc.full_name)
        fields, plan = [], []
        for fd in desc.fields:
            arrow, convert = self.field(fd)
            presence = fd.has_presence and not _repeated(fd)
            fields.append(pa.field(fd.name, arrow, nullable=presence))
            plan.append((fd.name, convert, presence))
        self._open.discard(desc.full_name)

        def row(msg: Any) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, convert, presence in plan:
                if presence and not msg.HasField(name):
                    out[name] = None
                else:
                    value = getattr(msg, name)
                    out[name] = value if convert is None else convert(value)
            return out

        self._done[desc.full_name] = result = (pa.struct(fields), row)
        return result

    def field(self, fd: FieldDescriptor) -> tuple[pa.DataType, Convert | None]:
        """A field's Arrow type and its value converter (None: taken as it is)."""
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            return self._map(fd.message_type)
        item, convert = self._single(fd)
        if not _repeated(fd):
            return item, convert
        each = convert
        return pa.list_(item), (list if each is None else lambda v: [each(x) for x in v])

    def _single(self, fd: FieldDescriptor) -> tuple[pa.DataType, Convert | None]:
        if fd.message_type is None:
            return _PB_SCALARS[fd.type], None
        if fd.message_type.full_name in self._open:
            return pa.binary(), lambda m: m.SerializeToString()
        return self.message(fd.message_type)

    def _map(self, entry: Descriptor) -> tuple[pa.DataType, Convert]:
        key_fd, value_fd = entry.fields_by_name["key"], entry.fields_by_name["value"]
        value_type, value_convert = self._single(value_fd)
        item = pa.struct(
            [
                pa.field("key", _PB_SCALARS[key_fd.type], nullable=False),
                pa.field("value", value_type),
            ]
        )

        def pairs(container: Any) -> list[dict[str, Any]]:
            if value_convert is None:
                return [{"key": k, "value": container[k]} for k in container]
            return [{"key": k, "value": value_convert(container[k])} for k in container]

        return pa.list_(item), pairs


def _repeated(fd: FieldDescriptor) -> bool:
    flag = getattr(fd, "is_repeated", None)  # protobuf >= 6; `label` before, gone in 7
    return bool(flag) if flag is not None else fd.label == FieldDescriptor.LABEL_REPEATED


# --- JSON -----------------------------------------------------------------------------------


def _json(schema: Schema | None) -> Decoded:
    name = schema.name if schema is not None else ""
    if schema is None or not schema.data:
        return Decoded(
            msgtype=name or "json",
            message_encoding="json",
            schema_encoding="",
            schema_text="",
            decode=json.loads,
            layout=pa.struct([pa.field(JSON_TEXT, pa.string())]),
            rows=lambda msgs: [{JSON_TEXT: json.dumps(m)} for m in msgs],
        )
    text = schema.data.decode(errors="replace")
    try:
        root = json.loads(text)
    except ValueError as exc:
        raise RosBridgeError(f"JSON schema {name!r} is not JSON: {exc}") from None
    arrow, convert = _JsonLayout(root).type_of(root)
    if isinstance(arrow, pa.StructType):
        layout, rows_of = arrow, convert
    else:  # a message that is not an object: one column, `value`
        layout = pa.struct([pa.field("value", arrow)])
        rows_of = (lambda v: {"value": v}) if convert is None else (
            lambda v: {"value": convert(v)}
        )  # fmt: skip

    def decode(raw: bytes) -> Any:
        value = json.loads(raw)
        return value if rows_of is None else rows_of(value)

    title = root.get("title") if isinstance(root, dict) else None
    return Decoded(
        msgtype=name or str(title or "json"),
        message_encoding="json",
        schema_encoding="jsonschema",
        schema_text=text,
        decode=decode,
        layout=layout,
        rows=list,
    )


def _text(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _base64(value: Any) -> bytes | None:
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise RosBridgeError(f"a base64 field does not decode: {exc}") from None


def _kind(node: dict[str, Any]) -> Any:
    """The one JSON type a schema node allows besides null; None for a union."""
    kind = node.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if kind is None and "properties" in node:
        kind = "object"
    return kind


_JSON_SCALARS = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
}


class _JsonLayout:
    """Arrow types and value converters of one JSON schema document."""

    def __init__(self, root: Any) -> None:
        self._root = root
        self._open: set[str] = set()  # `$ref`s being followed: meeting one again is recursion

    def type_of(self, node: Any) -> tuple[pa.DataType, Convert | None]:
        """The Arrow type of values of the schema `node`, and their converter."""
        if not isinstance(node, dict):
            return pa.string(), _text
        if "$ref" in node:
            return self._ref(node["$ref"])
        kind = _kind(node)
        if kind == "object" and isinstance(node.get("properties"), dict):
            return self._object(node["properties"])
        if kind == "array" and isinstance(node.get("items"), dict):
            return self._array(node["items"])
        if kind == "string" and node.get("contentEncoding") == "base64":
            return pa.binary(), _base64
        if kind in _JSON_SCALARS:
            return _JSON_SCALARS[kind], None
        return pa.string(), _text

    def _ref(self, ref: Any) -> tuple[pa.DataType, Convert | None]:
        if not isinstance(ref, str) or not ref.startswith("#") or ref in self._open:
            return pa.string(), _text
        node = self._root
        for part in ref[1:].split("/")[1:]:
            key = part.replace("~1", "/").replace("~0", "~")
            node = node.get(key) if isinstance(node, dict) else None
        self._open.add(ref)
        try:
            return self.type_of(node)
        finally:
            self._open.discard(ref)

    def _object(self, properties: dict[str, Any]) -> tuple[pa.DataType, Convert | None]:
        fields, converts = [], {}
        for name, sub in properties.items():
            arrow, convert = self.type_of(sub)
            fields.append(pa.field(name, arrow))
            if convert is not None:
                converts[name] = convert
        if not converts:
            return pa.struct(fields), None

        def convert_object(value: Any) -> Any:
            if not isinstance(value, dict):
                return value  # Arrow reports the mismatch
            out = dict(value)
            for name, convert in converts.items():
                out[name] = convert(value.get(name))
            return out

        return pa.struct(fields), convert_object

    def _array(self, items: Any) -> tuple[pa.DataType, Convert | None]:
        item, convert = self.type_of(items)
        if convert is None:
            return pa.list_(item), None
        each = convert
        return pa.list_(item), lambda v: v if not isinstance(v, list) else [each(x) for x in v]
