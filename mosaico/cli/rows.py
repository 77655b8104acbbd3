"""How ``mosaico cat`` writes rows: JSON lines, CSV, or the cells of a text table.

Every format is exact: a float is printed in the shortest form that reads back as the same
value of its stored type (float64 ``45.000001``, float32 ``0.1``, never rounded for show).
Lists (variable or fixed size) are JSON arrays in CSV and in the table; bytes are base64
everywhere. CSV leaves null cells empty. NaN and infinities are written as Python's
``json`` writes them (``NaN``, ``Infinity``) inside JSON, and as ``nan``/``inf`` in CSV.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from mosaico.tabular import flatten_table

_NARROW = (pa.float16(), pa.float32())


def jsonable(value: Any) -> Any:
    """``value`` (nested lists / dicts from ``to_pylist``) with bytes as base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def _replace_narrow(type_: pa.DataType, to: pa.DataType) -> pa.DataType:
    """``type_`` with every float16/float32 leaf replaced by ``to``; nested fields become
    nullable (a null row of a merged topic column has nulls under required fields)."""

    def field(f: pa.Field) -> pa.Field:
        return f.with_type(_replace_narrow(f.type, to)).with_nullable(True)

    if type_ in _NARROW:
        return to
    if pa.types.is_struct(type_):
        return pa.struct([field(f) for f in type_])
    if pa.types.is_fixed_size_list(type_):
        return pa.list_(field(type_.value_field), type_.list_size)
    if pa.types.is_list(type_):
        return pa.list_(field(type_.value_field))
    if pa.types.is_large_list(type_):
        return pa.large_list(field(type_.value_field))
    return type_


def _has_narrow(type_: pa.DataType) -> bool:
    if type_ in _NARROW:
        return True
    return any(_has_narrow(type_.field(i).type) for i in range(type_.num_fields))


def exact_floats(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with float16/float32 leaves as float64 holding their shortest decimal
    (float32 0.1 becomes 0.1, not 0.10000000149011612): what Python then prints reads
    back as the same float32. Columns without narrow floats are not copied.
    """
    columns = list(batch.columns)
    for i, column in enumerate(columns):
        if _has_narrow(column.type):
            # Arrow formats a float as its shortest round-trip decimal; parsing that as
            # float64 gives the value Python prints the same way.
            text = column.cast(_replace_narrow(column.type, pa.string()))
            columns[i] = text.cast(_replace_narrow(column.type, pa.float64()))
    if all(a is b for a, b in zip(columns, batch.columns)):
        return batch
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def jsonl_lines(batches: Iterable[pa.RecordBatch], merged: bool) -> Iterator[str]:
    """One JSON object per row, nested as stored (bytes as base64).

    ``merged`` batches are wide (``timestamp_ns``, ``topic``, one struct per topic); each
    row becomes ``{"timestamp_ns", "topic", "data"}`` with the row's own topic's payload.
    """
    for batch in batches:
        for row in exact_floats(batch).to_pylist():
            if merged:
                row = {"timestamp_ns": row["timestamp_ns"], "topic": row["topic"],
                       "data": row[row["topic"]]}  # fmt: skip
            yield json.dumps(jsonable(row), ensure_ascii=False)


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A flat column CSV can hold unambiguously: lists as JSON, bytes as base64 text,
    dictionary-encoded values decoded; numbers, strings and booleans as they are."""
    type_ = column.type
    if pa.types.is_dictionary(type_):
        return column.cast(type_.value_type)
    nested = pa.types.is_list(type_) or pa.types.is_large_list(type_)
    if nested or pa.types.is_fixed_size_list(type_) or pa.types.is_struct(type_):
        values = [None if v is None else json.dumps(jsonable(v)) for v in column.to_pylist()]
        return pa.chunked_array([pa.array(values, pa.string())])
    if pa.types.is_binary(type_) or pa.types.is_large_binary(type_):
        return pa.chunked_array([pa.array([jsonable(v) for v in column.to_pylist()], pa.string())])
    return column


def _flat_text(batch: pa.RecordBatch) -> pa.Table:
    flat = flatten_table(exact_floats(batch), fixed_lists="arrays")
    return pa.Table.from_arrays([_as_text(c) for c in flat.columns], names=flat.column_names)


def csv_chunks(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[str]:
    """CSV text, a header row then one chunk per batch; nested fields flattened to dotted
    columns (lists as JSON arrays, bytes as base64, nulls empty). The header comes from
    ``schema``, so an empty stream still has it."""
    yield _csv(_flat_text(pa.RecordBatch.from_pylist([], schema=schema)), header=True)
    for batch in batches:
        yield _csv(_flat_text(batch), header=False)


def _csv(table: pa.Table, header: bool) -> str:
    out = pa.BufferOutputStream()
    pcsv.write_csv(table, out, pcsv.WriteOptions(include_header=header))
    return out.getvalue().to_pybytes().decode("utf-8")


def text_cells(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> tuple[
    list[str], list[list[str | None]]
]:  # fmt: skip
    """Column names and cell texts (None for null) of the rows, flattened as in CSV."""
    parts = [_flat_text(b) for b in batches]
    flat = pa.concat_tables(parts) if parts else _flat_text(
        pa.RecordBatch.from_pylist([], schema=schema)
    )  # fmt: skip
    texts = [_cell_texts(c).to_pylist() for c in flat.columns]
    return flat.column_names, [list(r) for r in zip(*texts)]


def _cell_texts(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column as text; a whole float keeps a ``.0`` (``9.0``, as Python prints it) so
    that it does not read as an integer."""
    text = column.cast(pa.string())
    if not pa.types.is_floating(column.type):
        return text
    whole = pc.match_substring_regex(text, r"^-?\d+$")
    return pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
