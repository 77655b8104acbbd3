"""Synchronised Arrow tables -> dense numpy arrays ready to become tensors (no torch here)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mosaico.errors import MosaicoWarning
from mosaico.ml.errors import MLInputError
from mosaico.protocol.topic_type import TIMESTAMP


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def tensor_able(t: pa.DataType) -> bool:
    """Numbers, booleans, and fixed-size lists of them."""
    return _numeric(t) or (pa.types.is_fixed_size_list(t) and _numeric(t.value_type))


def pick_columns(schema: pa.Schema, columns: Sequence[str] | None) -> list[str]:
    """The columns to turn into tensors: all tensor-able ones, or the named ones (checked).

    Raises:
        MLInputError: a named column is not in `schema`, or is not numeric.
    """
    if columns is None:
        return [f.name for f in schema if f.name != TIMESTAMP and tensor_able(f.type)]
    for c in columns:
        if c not in schema.names:
            raise MLInputError(f"unknown column {c!r}")
        if not tensor_able(schema.field(c).type):
            raise MLInputError(f"column {c!r} of type {schema.field(c).type} is not numeric")
    return list(columns)


def _leaf(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_fixed_size_list(t) else t


def lossless_dtype(t: pa.DataType) -> np.dtype:
    """The float dtype that holds every value of a column of type `t` (NaN marks a null).

    A float keeps its own width (float64 latitude stays float64); booleans and integers of
    up to 16 bits take float32, wider integers float64 (exact up to 2**53).
    """
    leaf = _leaf(t)
    if pa.types.is_floating(leaf):
        return np.dtype(leaf.to_pandas_dtype())
    if pa.types.is_boolean(leaf) or leaf.bit_width <= 16:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


class PrecisionWarning(MosaicoWarning):
    """A 64-bit integer column whose values a float64 tensor cannot hold exactly."""


_EXACT = 2**53


def _warn_if_inexact(name: str, col: pa.Array, dtype: np.dtype) -> None:
    leaf = _leaf(col.type)
    if dtype != np.float64 or not pa.types.is_integer(leaf) or leaf.bit_width < 64:
        return
    values = col.values if pa.types.is_fixed_size_list(col.type) else col
    bounds = pc.min_max(values)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is not None and max(abs(low), abs(high)) > _EXACT:
        warnings.warn(
            f"column {name!r}: integers beyond 2**53 are rounded in float64 tensors "
            "(leave it out with columns=..., or read it from the table)",
            PrecisionWarning,
            stacklevel=4,
        )


def _array(col: pa.Array, dtype: np.dtype) -> np.ndarray:
    """One column as a writable `dtype` array; nulls are NaN."""
    target = pa.from_numpy_dtype(dtype)
    if not pa.types.is_fixed_size_list(col.type):
        return np.array(pc.cast(col, target, safe=False).to_numpy(zero_copy_only=False), dtype)
    size = col.type.list_size
    values = col.values.slice(col.offset * size, len(col) * size)
    arr = pc.cast(values, target, safe=False).to_numpy(zero_copy_only=False).reshape(len(col), size)
    if col.null_count:
        arr = arr.copy()
        arr[col.is_null().to_numpy(zero_copy_only=False)] = np.nan
    return np.array(arr, dtype=dtype)


def to_arrays(
    table: pa.Table, columns: Sequence[str], dtype: np.dtype | None = None
) -> dict[str, np.ndarray]:
    """Writable copies: `timestamp_ns` as int64, each column as `dtype`.

    `dtype` None gives each column its `lossless_dtype` (and a `PrecisionWarning` for 64-bit
    integers past 2**53); a given `dtype` casts every column to it, as asked. Nulls become
    NaN; a fixed-size list column of size k becomes an (n, k) array.
    """
    out = {TIMESTAMP: np.array(table.column(TIMESTAMP).to_numpy(), dtype=np.int64)}
    for name in columns:
        col = table.column(name).combine_chunks()
        target = lossless_dtype(col.type) if dtype is None else dtype
        if dtype is None:
            _warn_if_inexact(name, col, target)
        out[name] = _array(col, target)
    return out
