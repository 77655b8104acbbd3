"""Synchronised Arrow tables -> dense numpy arrays ready to become tensors (no torch here)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


def to_arrays(table: pa.Table, columns: Sequence[str], dtype: np.dtype) -> dict[str, np.ndarray]:
    """Writable copies: `timestamp_ns` as int64, each column as `dtype`.

    Nulls become NaN; a fixed-size list column of size k becomes an (n, k) array.
    """
    target = pa.from_numpy_dtype(dtype)
    out = {TIMESTAMP: np.array(table.column(TIMESTAMP).to_numpy(), dtype=np.int64)}
    for name in columns:
        col = table.column(name).combine_chunks()
        if pa.types.is_fixed_size_list(col.type):
            size = col.type.list_size
            values = col.values.slice(col.offset * size, len(col) * size)
            arr = (
                pc.cast(values, target, safe=False)
                .to_numpy(zero_copy_only=False)
                .reshape(len(col), size)
            )
            if col.null_count:
                arr = arr.copy()
                arr[col.is_null().to_numpy(zero_copy_only=False)] = np.nan
            out[name] = np.array(arr, dtype=dtype)
        else:
            out[name] = np.array(
                pc.cast(col, target, safe=False).to_numpy(zero_copy_only=False), dtype=dtype
            )
    return out
