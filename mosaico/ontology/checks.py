"""Column-wise checks: the constraint model of a type applied to whole Arrow columns.

Used where values arrive as columns (``push_batch``, ``validate_batch``, and every decode of
Arrow data into objects while validation is on): each constraint is one vectorised kernel
over a column (``min_max``, ``is_in``, ``list_value_length``), never a loop over rows. Objects
built in Python are checked once, at construction, by their generated ``validate()``, which
derives from the same ``mosaico.ontology.constraints`` values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mosaico.ontology import constraints as c
from mosaico.ontology.columnar import LIST_STRUCT, STRUCT, plan
from mosaico.ontology.validity import ValidationError

__all__ = ["check_column", "check_rule", "validate_columns", "validate_struct"]


def validate_struct(cls: type, arr: pa.Array, path: str = "") -> None:
    """Check the constraints of `cls` over a struct array (null rows are skipped)."""
    if len(arr) == 0 or arr.null_count == len(arr):
        return
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        arr = arr.filter(arr.is_valid())
    validate_columns(cls, [arr.field(i) for i in range(arr.type.num_fields)], path)


def validate_columns(cls: type, columns: Sequence[pa.Array], path: str = "") -> None:
    """Check the constraints of `cls` over its top-level columns (nested types recurse)."""
    name = cls.__name__
    field_constraints: dict[str, c.Constraints] = cls.CONSTRAINTS  # type: ignore[attr-defined]
    by_name = {}
    for fp, col in zip(plan(cls), columns):
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        by_name[fp.name] = col
        where = f"{path}{fp.name}"
        if not fp.field.nullable and col.null_count:
            raise ValidationError(name, where, None, c.REQUIRED)
        rules = field_constraints.get(fp.name)
        if rules is not None:
            check_column(rules, name, where, col)
        if fp.kind == STRUCT:
            validate_struct(fp.nested, col, f"{where}.")  # type: ignore[arg-type]
        elif fp.kind == LIST_STRUCT:
            validate_struct(fp.nested, col.flatten(), f"{where}[].")  # type: ignore[arg-type]
    for rule in cls.RULES:  # type: ignore[attr-defined]
        check_rule(rule, name, path, by_name)


def check_column(rules: c.Constraints, type_name: str, where: str, col: pa.Array) -> None:
    """Raise ValidationError for the first value of `col` that breaks `rules`."""
    if rules.required and col.null_count:
        raise ValidationError(type_name, where, None, c.REQUIRED)
    if rules.allowed is not None:
        _allowed(rules.allowed, type_name, where, _leaf_values(col))
    if rules.bounded:
        _bounds(rules, type_name, where, _leaf_values(col))
    if rules.sized:
        _lengths(rules, type_name, where, col)


def check_rule(rule: c.Rule, type_name: str, path: str, cols: dict[str, pa.Array]) -> None:
    """Raise ValidationError when a cross-field rule fails on some row."""
    if isinstance(rule, c.AtLeastOneOf):
        _at_least_one_of(rule.names, type_name, path, cols)
    else:
        _ordered(rule.names, type_name, path, cols)


def _leaf_values(col: pa.Array) -> pa.Array:
    """The element values of a (possibly nested) list column, or the column itself."""
    while pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type):
        col = col.flatten()
    return col


def _bounds(rules: c.Constraints, type_name: str, where: str, values: pa.Array) -> None:
    _within(values, rules.low, rules.high, type_name, where, (c.at_least, c.at_most))


def _lengths(rules: c.Constraints, type_name: str, where: str, col: pa.Array) -> None:
    lengths = pc.list_value_length(col)
    reasons = (c.min_elements, c.max_elements)
    _within(lengths, rules.min_length, rules.max_length, type_name, where, reasons)


def _within(
    values: pa.Array,
    low: Any,
    high: Any,
    type_name: str,
    where: str,
    reasons: tuple[Callable[[Any], str], Callable[[Any], str]],
) -> None:
    """Raise for the smallest value below `low` or the largest above `high` (nulls skipped)."""
    if len(values) == 0 or values.null_count == len(values):
        return
    lo, hi = (s.as_py() for s in pc.min_max(values).values())
    if low is not None and lo < low:
        raise ValidationError(type_name, where, lo, reasons[0](low))
    if high is not None and hi > high:
        raise ValidationError(type_name, where, hi, reasons[1](high))


def _allowed(allowed: tuple[Any, ...], type_name: str, where: str, values: pa.Array) -> None:
    values = values.drop_null()
    if len(values) == 0:
        return
    ok = pc.is_in(values, value_set=pa.array(allowed, type=values.type))
    if not pc.all(ok).as_py():
        bad = values.filter(pc.invert(ok))[0].as_py()
        raise ValidationError(type_name, where, bad, c.column_one_of(allowed))


def _at_least_one_of(
    names: Sequence[str], type_name: str, path: str, cols: dict[str, pa.Array]
) -> None:
    present = cols[names[0]].is_valid()
    for n in names[1:]:
        present = pc.or_(present, cols[n].is_valid())
    if not pc.all(present).as_py():
        raise ValidationError(type_name, path + "/".join(names), None, c.AT_LEAST_ONE)


def _ordered(names: Sequence[str], type_name: str, path: str, cols: dict[str, pa.Array]) -> None:
    for a, b in zip(names, names[1:]):
        ok = pc.less_equal(cols[a], cols[b])
        if not pc.all(ok).as_py():
            i = pc.index(ok, False).as_py()
            pair = (cols[a][i].as_py(), cols[b][i].as_py())
            raise ValidationError(type_name, f"{path}{a}/{b}", pair, c.not_above(a, b))
