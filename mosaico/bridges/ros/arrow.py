"""Columnar builders: many decoded messages in, one Arrow array per field out.

Two kinds: the builders of the generic layout gather fields of rosbags' message objects
(values handed to Arrow in one call per field, numpy arrays concatenated once); the column
helpers (`field`, `as_list`, `relist`) reshape struct arrays of that layout into the
columns of a mosaico type, in Arrow, without touching rows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
            arr = _nulls(field.type, n)
        arrays.append(arr)
    return arrays


@functools.lru_cache(maxsize=256)
def _nulls(t: pa.DataType, n: int) -> pa.Array:
    """n nulls of `t`, made once per batch size (arrays are immutable): null structs keep
    placeholder values in their required children (Parquet)."""
    return null_struct(t, n) if pa.types.is_struct(t) else pa.nulls(n, t)


def from_numpy(values: np.ndarray[Any, Any], t: pa.DataType) -> pa.Array:
    """A 1-d numpy array of `t`'s width as an Arrow array of type `t` (no nulls): zero-copy
    for numbers, bit-packed for booleans (nonzero is true).

    Unlike `pa.array`, it never imports pandas (a second of start-up in a fresh process).
    """
    if pa.types.is_boolean(t):
        data = np.packbits(np.asarray(values) != 0, bitorder="little")
    else:
        data = np.ascontiguousarray(values, dtype=t.to_pandas_dtype())
    return pa.Array.from_buffers(t, len(values), [None, pa.py_buffer(data)])


def repeat_string(value: str, n: int) -> pa.Array:
    """`value` n times, as a string array (without `pa.array`, see `from_numpy`)."""
    data = value.encode()
    offsets = np.arange(n + 1, dtype=np.int32) * len(data)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)]
    )


def batch(
    schema: pa.Schema, log_times: Sequence[int], cols: Mapping[str, pa.Array]
) -> pa.RecordBatch:
    """A topic record batch: `timestamp_ns` from the log times, then the payload columns."""
    n = len(log_times)
    ts = from_numpy(np.asarray(log_times, dtype=np.int64), pa.int64())
    payload = _children(pa.schema(list(schema)[1:]), n, cols)
    return pa.RecordBatch.from_arrays([ts, *payload], schema=schema)


def attr(objs: Sequence[Any], name: str, t: pa.DataType) -> pa.Array:
    """One scalar field of every message object (protobuf, JSON views)."""
    return pa.array([getattr(o, name) for o in objs], type=t)


def field(rows: pa.StructArray, name: str, t: pa.DataType | None = None) -> pa.Array:
    """The field `name` of every message, cast to `t` when given.

    Raises:
        RosBridgeError: a value does not fit `t` (named with the field and the value).
    """
    arr = rows.field(name)
    if t is None or arr.type == t:
        return arr
    try:
        return arr.cast(t)
    except pa.ArrowInvalid as exc:
        sign = "negative or " if pa.types.is_unsigned_integer(t) else ""
        raise RosBridgeError(
            f"field {name!r}: a value is {sign}too large to fit {t} ({exc})"
        ) from None


def as_list(arr: pa.Array, item: pa.DataType) -> pa.ListArray:
    """A list or fixed-size list array as `list<item>` (the items cast to `item`)."""
    t = pa.list_(pa.field("item", item))
    return arr if arr.type == t else arr.cast(t)


def relist(lists: pa.Array, items: pa.Array) -> pa.ListArray:
    """`items` (one per element of `lists`, flattened) in the lists of `lists`."""
    lists = (
        as_list(lists, lists.type.value_type) if pa.types.is_fixed_size_list(lists.type) else lists
    )
    start = lists.offsets[0].as_py() if len(lists) else 0
    offsets = pc.subtract(lists.offsets, start) if start else lists.offsets
    return pa.ListArray.from_arrays(offsets, items, type=pa.list_(pa.field("item", items.type)))


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
