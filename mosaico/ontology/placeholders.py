"""Placeholder values for required Arrow slots that carry no meaning (under a null parent).

Arrow lets a non-nullable child hold anything (even a null) below a null parent; Parquet
refuses a null in a required column whatever its parent. Every writer of topic data (the
generated classes, ``push_batch``, the ROS bridge, the ML unflattening, the server when it
stores an upload) therefore puts the simplest valid value there, built by this one module.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["fill_required", "fill_required_columns", "null_struct", "placeholder"]


def placeholder(t: pa.DataType) -> pa.Scalar:
    """The simplest valid value of a non-struct Arrow type (0, "", b"", False, [])."""
    if pa.types.is_fixed_size_list(t):
        return pa.scalar([None] * t.list_size, type=t)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.scalar([], type=t)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.scalar("", type=t)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.scalar(b"", type=t)
    if pa.types.is_fixed_size_binary(t):
        return pa.scalar(b"\0" * t.byte_width, type=t)
    if pa.types.is_boolean(t):
        return pa.scalar(False, type=t)
    return pa.scalar(0).cast(t)


def null_struct(struct_type: pa.StructType, n: int) -> pa.Array:
    """``n`` null rows of a struct type whose required descendants hold placeholders."""
    return _filler(struct_type, True, n)


def _filler(t: pa.DataType, nullable: bool, n: int) -> pa.Array:
    if pa.types.is_struct(t):
        kids = [_filler(f.type, f.nullable, n) for f in t]
        mask = _bits(np.ones(n, dtype=bool)) if nullable else None
        return pa.StructArray.from_arrays(kids, fields=list(t), mask=mask)
    if nullable:
        return pa.nulls(n, t)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_temporal(t):
        zeros = pa.py_buffer(np.zeros(n * (t.bit_width // 8), np.uint8))
        return pa.Array.from_buffers(t, n, [None, zeros])
    return pa.repeat(placeholder(t), n)


def _bits(values: np.ndarray) -> pa.Array:
    """A boolean array from numpy, without ``pa.array`` (whose first call imports pandas:
    a second of start-up for a command that writes null structs)."""
    packed = pa.py_buffer(np.packbits(values, bitorder="little"))
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, packed])


def fill_required(arr: pa.Array, nullable: bool, where: np.ndarray | None = None) -> pa.Array:
    """``arr`` with a placeholder in the null slots of its required descendants.

    ``nullable`` tells whether ``arr`` itself may hold nulls; ``where`` (a boolean mask)
    restricts the filling to those rows, e.g. the rows whose parent is null. A required
    struct that had null rows comes back valid there, with placeholder children.
    """
    t = arr.type
    if pa.types.is_struct(t):
        kids = [fill_required(arr.field(i), f.nullable, where) for i, f in enumerate(t)]
        mask = arr.is_null() if nullable and arr.null_count else None
        return pa.StructArray.from_arrays(kids, fields=list(t), mask=mask)
    if nullable or arr.null_count == 0:
        return arr
    missing = arr.is_null()
    if where is not None:
        missing = pc.and_(missing, pa.array(where))
    return pc.if_else(missing, placeholder(t), arr)


def fill_required_columns(table: pa.Table) -> pa.Table:
    """A table Parquet can store: ``fill_required`` over every column."""
    columns = [
        fill_required(table.column(i).combine_chunks(), field.nullable)
        for i, field in enumerate(table.schema)
    ]
    return pa.Table.from_arrays(columns, schema=table.schema)
