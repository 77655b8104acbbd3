"""Make an uploaded table storable in Parquet without changing what it means.

Arrow lets a non-nullable child hold nulls under a null parent (its value there is
undefined); Parquet refuses such a column. Those slots get a placeholder value, and a
non-nullable struct that arrived with null rows gets valid rows with placeholder children
(Arrow readers of the stored schema see no nulls there either way).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from mosaico_codegen.columnar import placeholder


def fill_required_nulls(table: pa.Table) -> pa.Table:
    columns = [
        _repair(table.column(i).combine_chunks(), field.nullable)
        for i, field in enumerate(table.schema)
    ]
    return pa.Table.from_arrays(columns, schema=table.schema)


def _repair(arr: pa.Array, nullable: bool) -> pa.Array:
    if pa.types.is_struct(arr.type):
        kids = [_repair(arr.field(i), f.nullable) for i, f in enumerate(arr.type)]
        mask = arr.is_null() if nullable and arr.null_count else None
        return pa.StructArray.from_arrays(kids, fields=list(arr.type), mask=mask)
    if nullable or arr.null_count == 0:
        return arr
    return pc.fill_null(arr, pa.scalar(placeholder(arr.type), type=arr.type))
