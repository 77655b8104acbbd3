"""Column projection: the payload fields a reader asks for, checked against a topic schema.

A projection (``commands.Fields``, checked as JSON by ``commands.parse_fields``) is a list of
dotted field paths through structs: ``"acceleration.x"`` (one
leaf), ``"orientation"`` (a whole struct), ``"covariance"`` (a list, always whole). The
empty list asks for timestamps only. The projected schema keeps ``timestamp_ns`` and the
requested fields in stored order, nesting kept: ``acceleration: struct<x>`` is the
``acceleration`` struct pruned to ``x``, with the stored field and schema metadata.

>>> import pyarrow as pa
>>> schema = pa.schema([("timestamp_ns", pa.int64()),
...                     ("acc", pa.struct([("x", pa.float64()), ("y", pa.float64())])),
...                     ("temp", pa.float32())])
>>> p = project(schema, ["temp", "acc.x"], "run/imu")
>>> p.schema.names, p.columns
(['timestamp_ns', 'acc', 'temp'], ['timestamp_ns', 'acc.x', 'temp'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pyarrow as pa

from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.topic_type import TIMESTAMP

_Tree = dict[str, Any]  # name -> True (whole field) or the tree of its selected children


@attrs.frozen
class Projection:
    """A projection resolved against a topic schema.

    ``schema`` is what a projected read returns; ``columns`` the dotted paths to read from
    Parquet (``timestamp_ns`` first, then the selected fields in stored order).
    """

    schema: pa.Schema
    columns: list[str]


def project(schema: pa.Schema, fields: Sequence[str], topic: str) -> Projection:
    """Resolve ``fields`` against a topic's stored ``schema``.

    ``timestamp_ns`` is always kept (naming it changes nothing); a path and one under it
    select the whole field.

    Raises:
        InvalidArgument: a path the schema lacks (naming it, the topic and the fields at
            that level), or one that goes through a field that is not a struct.
    """
    tree: _Tree = {}
    for path in fields:
        if path != TIMESTAMP:
            _select(tree, schema, path, topic)
    kept = [schema.field(TIMESTAMP)] if TIMESTAMP in schema.names else []
    for field in schema:
        if field.name in tree and field.name != TIMESTAMP:
            kept.append(_pruned(field, tree[field.name]))
    columns = [TIMESTAMP] + _columns(tree, schema, "")
    return Projection(pa.schema(kept, metadata=schema.metadata), columns)


def _select(tree: _Tree, schema: pa.Schema, path: str, topic: str) -> None:
    steps = path.split(".")
    fields: pa.Schema | pa.StructType = schema
    node = tree
    for depth, step in enumerate(steps):
        index = fields.get_field_index(step)
        if index < 0:
            where = "top level" if depth == 0 else ".".join(steps[:depth])
            names = [f.name for f in fields if f.name != TIMESTAMP]
            shown = ", ".join(names[:16]) + (", ..." if len(names) > 16 else "")
            raise InvalidArgument(
                f"topic '{topic}' has no field {path!r} (fields at {where}: {shown or 'none'})"
            )
        if depth == len(steps) - 1:
            node[step] = True
            return
        if node.get(step) is True:
            return  # an ancestor is selected whole already
        t = fields.field(index).type
        if not pa.types.is_struct(t):
            raise InvalidArgument(
                f"topic '{topic}': field {'.'.join(steps[: depth + 1])!r} is a {t}, not a "
                f"struct, so {path!r} cannot be selected (select the field whole)"
            )
        node = node.setdefault(step, {})
        fields = t


def _pruned(field: pa.Field, node: _Tree | bool) -> pa.Field:
    if node is True:
        return field
    assert isinstance(node, dict)
    children = [_pruned(c, node[c.name]) for c in field.type if c.name in node]
    return field.with_type(pa.struct(children))


def _columns(node: _Tree, fields: pa.Schema | pa.StructType, prefix: str) -> list[str]:
    out: list[str] = []
    for field in fields:
        sub = node.get(field.name)
        if sub is None or (not prefix and field.name == TIMESTAMP):
            continue
        path = f"{prefix}{field.name}"
        out += [path] if sub is True else _columns(sub, field.type, f"{path}.")
    return out


def project_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The columns of ``table`` that a projected ``schema`` keeps, structs pruned in
    memory (no copy of the kept leaves). ``schema`` comes from ``project`` on the table's
    schema."""
    columns = [
        _pruned_column(table.column(f.name), f.type, table.schema.field(f.name).type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _pruned_column(column: pa.ChunkedArray, want: pa.DataType, has: pa.DataType) -> Any:
    if want.equals(has):
        return column
    return pa.chunked_array([_pruned_array(c, want) for c in column.chunks], type=want)


def _pruned_array(array: pa.StructArray, want: pa.StructType) -> pa.Array:
    if array.type.equals(want):
        return array
    has = array.type
    children = []
    for f in want:
        child = array.field(has.get_field_index(f.name))
        children.append(_pruned_array(child, f.type) if pa.types.is_struct(f.type) else child)
    mask = array.is_null() if array.null_count else None
    return pa.StructArray.from_arrays(children, fields=list(want), mask=mask)
