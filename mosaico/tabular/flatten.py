"""Arrow-native flattening of topic tables into dotted leaf columns, and its inverse.

Nested structs become dotted columns (`acceleration.x`), fixed-size lists one column per
element (`covariance_0` ...) or stay arrays, variable lists stay list columns and binary
stays binary. Everything is column-wise Arrow work: no Python per row. This is the one
flattener of the project: the client's `to_pandas`, `mosaico.ml` and `mosaico cat` use it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mosaico.errors import InputError
from mosaico.ontology.placeholders import fill_required
from mosaico.protocol.topic_type import TIMESTAMP

FixedLists = Literal["columns", "arrays"]
"""How a fixed-size list flattens: one column per element, or one column of arrays."""


def check_fixed_lists(fixed_lists: str) -> None:
    """Raise `InputError` unless `fixed_lists` is 'columns' or 'arrays'."""
    if fixed_lists not in ("columns", "arrays"):
        msg = f"fixed_lists must be 'columns' or 'arrays', got {fixed_lists!r}"
        raise InputError(msg)


def column_name(prefix: str | None, path: str) -> str:
    """The flat column name of a field path under an optional topic prefix."""
    return f"{prefix}.{path}" if prefix else path


def flatten_table(
    table: pa.Table | pa.RecordBatch,
    *,
    prefix: str | None = None,
    fixed_lists: FixedLists = "columns",
) -> pa.Table:
    """Flatten a topic table: `timestamp_ns` stays, every other leaf becomes a dotted column.

    `prefix` (a topic name) goes before every column but `timestamp_ns`; `fixed_lists`
    says whether a fixed-size list becomes one column per element (`cov_0`, `cov_1`, ...)
    or stays one column of arrays. A child of a null struct row comes out null.

    Raises:
        InputError: `fixed_lists` is neither 'columns' nor 'arrays'.

    >>> flatten_table(imu_table, prefix="/imu").column_names[:3]
    ['timestamp_ns', '/imu.header.timestamp.seconds', '/imu.header.timestamp.nanoseconds']
    """
    check_fixed_lists(fixed_lists)
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    # Table.flatten splits one struct level per call, naming children `parent.child`; a
    # child of a null struct row comes out null.
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    names: list[str] = []
    columns: list[pa.ChunkedArray] = []
    for name, col in zip(table.column_names, table.columns):
        if fixed_lists == "columns" and pa.types.is_fixed_size_list(col.type):
            for i, elem in enumerate(_fixed_list_elements(col)):
                names.append(column_name(prefix, f"{name}_{i}"))
                columns.append(elem)
        else:
            names.append(name if name == TIMESTAMP else column_name(prefix, name))
            columns.append(col)
    return pa.Table.from_arrays(columns, names=names)


def flat_schema(
    schema: pa.Schema, *, prefix: str | None = None, fixed_lists: FixedLists = "columns"
) -> pa.Schema:
    """The schema `flatten_table` produces for tables of `schema` (no data needed).

    Raises:
        InputError: `fixed_lists` is neither 'columns' nor 'arrays'.
    """
    return flatten_table(schema.empty_table(), prefix=prefix, fixed_lists=fixed_lists).schema


def _fixed_list_elements(col: pa.ChunkedArray) -> list[pa.ChunkedArray]:
    """One column per element of a fixed-size list column (null where the list is null)."""
    t = col.type
    size, item = t.list_size, t.value_type
    if not col.chunks:
        return [pa.chunked_array([], type=item) for _ in range(size)]
    lists = [chunk.values.slice(chunk.offset * size, len(chunk) * size) for chunk in col.chunks]
    if pa.types.is_integer(item) or pa.types.is_floating(item):
        return [pa.chunked_array([e]) for e in _numeric_elements(col, lists, size)]
    return [
        pa.chunked_array(elems, type=item)
        for elems in zip(*(_taken_elements(c, v, size) for c, v in zip(col.chunks, lists)))
    ]


def _numeric_elements(col: pa.ChunkedArray, lists: list[pa.Array], size: int) -> list[pa.Array]:
    """Numbers: every chunk's values seen as rows x elements, copied once element-major.

    `.values` ignores a chunk's offset and keeps the slots of null lists, hence `lists`
    (each chunk's own slots); the rows of null lists, and null values, come out null.
    """
    item = col.type.value_type
    n = len(col)
    major = np.empty((size, n), dtype=item.to_pandas_dtype())
    any_null = col.null_count or any(v.null_count for v in lists)
    nulls = np.zeros((size, n), dtype=bool) if any_null else None
    row = 0
    for chunk, values in zip(col.chunks, lists):
        rows = len(chunk)
        filled = values.fill_null(0) if values.null_count else values
        major[:, row : row + rows] = filled.to_numpy().reshape(rows, size).T
        if nulls is not None:
            here = nulls[:, row : row + rows]
            if values.null_count:
                here |= values.is_null().to_numpy(zero_copy_only=False).reshape(rows, size).T
            if chunk.null_count:
                here |= chunk.is_null().to_numpy(zero_copy_only=False)
        row += rows
    return [
        pa.array(major[i], type=item, mask=None if nulls is None else nulls[i]) for i in range(size)
    ]


def _taken_elements(arr: pa.FixedSizeListArray, values: pa.Array, size: int) -> list[pa.Array]:
    """Any other item type: one `take` per element."""
    n = len(arr)
    base = np.arange(n, dtype=np.int64) * size
    out = []
    for i in range(size):
        elem = values.take(pa.array(base + i))
        if arr.null_count:
            elem = pc.if_else(arr.is_valid(), elem, pa.nulls(n, elem.type))
        out.append(elem)
    return out


def unflatten_table(
    flat: pa.Table,
    schema: pa.Schema,
    *,
    prefix: str | None = None,
    fixed_lists: FixedLists = "columns",
) -> pa.Table:
    """Rebuild a topic table of `schema` from flattened columns (inverse of `flatten_table`).

    A nullable struct or fixed-size list whose leaves are all null comes back as null: the
    flat form has no separate validity column. Under such a null, required fields get a
    placeholder (0, "", []), as writers put there: Arrow's Parquet writer refuses a null in
    a non-nullable child even under a null parent (typed `from_batch` would accept it).

    Raises:
        InputError: a column the schema needs is missing from `flat`, or a bad
            `fixed_lists`.

    >>> unflatten_table(flatten_table(table), table.schema).equals(table)  # no null structs
    True
    """
    check_fixed_lists(fixed_lists)
    builder = _Unflatten(flat, prefix, fixed_lists)
    arrays = [
        _column(flat, TIMESTAMP).cast(f.type)
        if f.name == TIMESTAMP
        else builder.build(f, f.name)[0]
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _column(flat: pa.Table, name: str) -> pa.Array:
    if name not in flat.column_names:
        msg = f"flat table has no column {name!r}"
        raise InputError(msg)
    return flat.column(name).combine_chunks()


def _valid(arr: pa.Array) -> np.ndarray:
    return arr.is_valid().to_numpy(zero_copy_only=False)


def _any(masks: list[np.ndarray], n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    for m in masks:
        out |= m
    return out


class _Unflatten:
    """Builds each field's array back from the flat columns of one table."""

    def __init__(self, flat: pa.Table, prefix: str | None, fixed_lists: FixedLists) -> None:
        self.flat = flat
        self.prefix = prefix
        self.fixed_lists = fixed_lists
        self.n = flat.num_rows

    def build(self, f: pa.Field, path: str) -> tuple[pa.Array, np.ndarray]:
        """The field's array and, per row, whether any of its leaves holds a value."""
        if pa.types.is_struct(f.type):
            return self._struct(f, path)
        if pa.types.is_fixed_size_list(f.type) and self.fixed_lists == "columns":
            return self._fixed_list(f, path)
        col = _column(self.flat, column_name(self.prefix, path)).cast(f.type)
        return col, _valid(col)

    def _null_mask(self, f: pa.Field, any_leaf: np.ndarray) -> pa.Array | None:
        return pa.array(~any_leaf) if f.nullable and not any_leaf.all() else None

    def _struct(self, f: pa.Field, path: str) -> tuple[pa.Array, np.ndarray]:
        t = f.type
        built = [self.build(c, f"{path}.{c.name}") for c in t]
        kids = [a for a, _ in built]
        any_leaf = _any([v for _, v in built], self.n)
        mask = self._null_mask(f, any_leaf)
        if mask is not None:
            kids = [fill_required(k, c.nullable, ~any_leaf) for k, c in zip(kids, t)]
        return pa.StructArray.from_arrays(kids, fields=list(t), mask=mask), any_leaf

    def _fixed_list(self, f: pa.Field, path: str) -> tuple[pa.Array, np.ndarray]:
        t, n = f.type, self.n
        size = t.list_size
        elems = [
            _column(self.flat, column_name(self.prefix, f"{path}_{i}")).cast(t.value_type)
            for i in range(size)
        ]
        any_leaf = _any([_valid(e) for e in elems], n)
        # Interleave element-major columns back into row-major list values.
        order = (np.arange(n)[:, None] + np.arange(size)[None, :] * n).ravel()
        values = pa.concat_arrays(elems).take(pa.array(order))
        mask = self._null_mask(f, any_leaf)
        return pa.FixedSizeListArray.from_arrays(values, type=t, mask=mask), any_leaf
