"""Columnar input for ``TopicWriter.push_batch``: Arrow or numpy columns -> a topic batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from mosaico.errors import InputError, InputTypeError
from mosaico.ontology.placeholders import null_struct
from mosaico.protocol.topic_type import TIMESTAMP, TopicType


def build_batch(topic_type: TopicType, data: Any, timestamps_ns: Any = None) -> pa.RecordBatch:
    """A record batch with exactly ``topic_type.schema`` from the accepted input forms.

    Args:
        topic_type: the topic's type; its schema is the target.
        data: a RecordBatch or Table with the topic's column names (cast to the schema's
            types), a StructArray of the payload, or a mapping of field name -> column
            (numpy, Arrow, list; nested structs as a mapping or dotted names such as
            ``"acceleration.x"``). Missing nullable fields become null columns.
        timestamps_ns: the ``timestamp_ns`` column, when ``data`` does not hold it.

    Raises:
        InputTypeError: ``data`` is none of the accepted forms.
        InputError: timestamps missing, given twice, null or of the wrong length; a required
            field missing; an unknown field; a column that cannot be cast to its type.
    """
    schema, owner = topic_type.schema, topic_type.name
    if isinstance(data, pa.Table):
        data = pa.RecordBatch.from_arrays(
            [c.combine_chunks() for c in data.columns], schema=data.schema
        )
    if isinstance(data, pa.RecordBatch):
        if timestamps_ns is not None:
            data = data.add_column(0, TIMESTAMP, _timestamps(timestamps_ns, data.num_rows))
        return _conform(owner, data, schema)
    if isinstance(data, pa.StructArray):
        data = {f.name: data.field(i) for i, f in enumerate(data.type)}
    if not isinstance(data, Mapping):
        raise InputTypeError(
            f"push_batch takes a RecordBatch, Table, StructArray or mapping of columns, "
            f"not {type(data).__name__}"
        )
    columns = _nest(dict(data))
    if TIMESTAMP in columns:
        if timestamps_ns is not None:
            raise InputError("timestamps given twice (column and timestamps_ns=)")
        timestamps_ns = columns.pop(TIMESTAMP)
    if timestamps_ns is None:
        raise InputError("push_batch needs timestamps_ns")
    n = len(timestamps_ns)
    arrays = [_timestamps(timestamps_ns, n)]
    for field in list(schema)[1:]:
        arrays.append(_column(owner, field, columns.pop(field.name, None), n))
    if columns:
        raise InputError(f"{owner} has no field(s) {sorted(columns)}")
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _nest(columns: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": x}`` -> ``{"a": {"b": x}}`` (dotted names address struct children)."""
    out: dict[str, Any] = {}
    for key, value in columns.items():
        head, dot, rest = key.partition(".")
        if not dot:
            if head in out and isinstance(out[head], dict) and isinstance(value, Mapping):
                out[head].update(value)
            else:
                out[head] = value
            continue
        sub = out.setdefault(head, {})
        if not isinstance(sub, dict):
            raise InputError(f"column {head!r} given both whole and by its children")
        sub[rest] = value
    return {k: _nest(v) if isinstance(v, dict) else v for k, v in out.items()}


def _timestamps(values: Any, n: int) -> pa.Array:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = values.cast(pa.int64())
    else:
        arr = pa.array(np.asarray(values, dtype=np.int64))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if len(arr) != n:
        raise InputError(f"{len(arr)} timestamps for {n} rows")
    if arr.null_count:
        raise InputError("timestamp_ns must not contain nulls")
    return arr


def _column(owner: str, field: pa.Field, value: Any, n: int) -> pa.Array:
    where = f"{owner}.{field.name}"
    if value is None:
        if not field.nullable:
            raise InputError(f"{where} is required but no column was given")
        if pa.types.is_struct(field.type):
            return null_struct(field.type, n)
        return pa.nulls(n, field.type)
    if isinstance(value, Mapping):
        if not pa.types.is_struct(field.type):
            raise InputError(f"{where} is not a struct; cannot take children {sorted(value)}")
        kids = dict(value)
        arrays = [_column(where, f, kids.pop(f.name, None), n) for f in field.type]
        if kids:
            raise InputError(f"{where} has no field(s) {sorted(kids)}")
        return pa.StructArray.from_arrays(arrays, fields=list(field.type))
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    try:
        arr = value if isinstance(value, pa.Array) else pa.array(value, type=field.type)
        if not arr.type.equals(field.type):
            arr = arr.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError) as exc:
        raise InputError(f"{where}: cannot use column as {field.type}: {exc}") from exc
    if len(arr) != n:
        raise InputError(f"{where} has {len(arr)} rows, expected {n}")
    return arr


def _conform(owner: str, batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if batch.schema.equals(schema):
        return batch
    if batch.schema.names != schema.names:
        raise InputError(f"batch columns {batch.schema.names} do not match {owner}: {schema.names}")
    arrays = [_column(owner, f, batch.column(i), batch.num_rows) for i, f in enumerate(schema)]
    if arrays[0].null_count:
        raise InputError("timestamp_ns must not contain nulls")
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
