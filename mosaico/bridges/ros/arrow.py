"""Columnar builders: many decoded messages in, one Arrow array per field out.

No per-row Python objects are built: values are gathered per field and handed to Arrow in
one call, and numeric arrays (numpy views from rosbags) are concatenated once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.errors import UnknownNameError
from mosaico.ontology.placeholders import null_struct


def struct(t: pa.StructType, n: int, cols: Mapping[str, pa.Array]) -> pa.StructArray:
    """A struct array of layout `t`; nullable fields not in `cols` are all null."""
    return pa.StructArray.from_arrays(_children(t, n, cols), fields=list(t))


def _children(t: pa.StructType | pa.Schema, n: int, cols: Mapping[str, pa.Array]) -> list[pa.Array]:
    unknown = set(cols) - set(t.names)
    if unknown:
        raise UnknownNameError(f"no field(s) {sorted(unknown)} in {t}")
    arrays = []
    for field in t:
        arr = cols.get(field.name)
        if arr is None:
            if not field.nullable:
                raise UnknownNameError(f"required field {field.name!r} missing")
            # Null structs keep placeholder values in their required children (Parquet).
            arr = (
                null_struct(field.type, n)
                if pa.types.is_struct(field.type)
                else pa.nulls(n, field.type)
            )
        arrays.append(arr)
    return arrays


def batch(
    schema: pa.Schema, log_times: Sequence[int], cols: Mapping[str, pa.Array]
) -> pa.RecordBatch:
    """A topic record batch: `timestamp_ns` from the log times, then the payload columns."""
    n = len(log_times)
    ts = pa.array(np.asarray(log_times, dtype=np.int64))
    payload = _children(pa.schema(list(schema)[1:]), n, cols)
    return pa.RecordBatch.from_arrays([ts, *payload], schema=schema)


def attr(objs: Sequence[Any], name: str, t: pa.DataType) -> pa.Array:
    """One scalar field of every message."""
    return pa.array([getattr(o, name) for o in objs], type=t)


def _offsets(lengths: Sequence[int]) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.array(offsets)


def _flat(arrays: Sequence[Any], t: pa.DataType) -> pa.Array:
    if not arrays:
        return pa.array([], type=t)
    if isinstance(arrays[0], np.ndarray):
        return pa.array(np.concatenate(arrays), type=t)
    return pa.array([v for a in arrays for v in a], type=t)


def list_of(arrays: Sequence[Any], item: pa.DataType) -> pa.ListArray:
    """`list<item>` from per-row sequences (numpy arrays or Python lists)."""
    flat = _flat(arrays, item)
    return pa.ListArray.from_arrays(
        _offsets([len(a) for a in arrays]), flat, type=pa.list_(pa.field("item", item))
    )


def list_of_structs(items: Sequence[Sequence[Any]], struct_array: pa.Array) -> pa.ListArray:
    """`list<struct>` from per-row item counts and the struct array of all items, flattened."""
    return pa.ListArray.from_arrays(
        _offsets([len(i) for i in items]),
        struct_array,
        type=pa.list_(pa.field("item", struct_array.type)),
    )


def fixed_list(arrays: Sequence[Any], t: pa.FixedSizeListType) -> pa.Array:
    """`fixed_size_list<item>[n]`; Arrow checks every row has exactly n values."""
    flat = _flat(arrays, t.value_type)
    if len(flat) != len(arrays) * t.list_size:
        bad = next(len(a) for a in arrays if len(a) != t.list_size)
        raise RosBridgeError(f"expected {t.list_size} values per row, got {bad}")
    return pa.FixedSizeListArray.from_arrays(flat, type=t)


def binary(blobs: Sequence[Any]) -> pa.Array:
    """`binary` from per-row byte buffers (uint8 numpy arrays or bytes), one copy."""
    lengths = [len(b) for b in blobs]
    if sum(lengths) >= 2**31:
        raise RosBridgeError("a batch of binary values must stay below 2 GiB")
    data = (
        np.concatenate([np.frombuffer(b, dtype=np.uint8) for b in blobs])
        if blobs
        else np.zeros(0, dtype=np.uint8)
    )
    offsets = _offsets(lengths)
    return pa.Array.from_buffers(
        pa.binary(), len(blobs), [None, offsets.buffers()[1], pa.py_buffer(data)]
    )
