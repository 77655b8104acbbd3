"""Column-wise conversion between generated objects and Arrow arrays.

Objects -> Arrow gathers one Python list per leaf column (attribute getters mapped over the
rows) and builds every array once; nested structs recurse on the present sub-objects only.
Arrow -> objects decodes every column to a Python list, then builds the objects in one pass
per type through the generated `_from_columns`. Nothing goes through per-row dicts.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mosaico.errors import InputError
from mosaico.ontology import runtime
from mosaico.ontology.placeholders import null_struct
from mosaico.ontology.runtime import TIMESTAMP_FIELD, ValidationError

# Field kinds of a compiled plan.
_SCALAR, _STRUCT, _LIST_STRUCT, _LIST = range(4)


class _FieldPlan:
    __slots__ = ("field", "get", "kind", "nested", "name")

    def __init__(self, field: pa.Field, nested: type | None) -> None:
        self.name = field.name
        self.field = field
        self.get = attrgetter(field.name)
        self.nested = nested
        if pa.types.is_struct(field.type):
            self.kind = _STRUCT
        elif nested is not None:
            self.kind = _LIST_STRUCT
        elif pa.types.is_list(field.type) or pa.types.is_fixed_size_list(field.type):
            self.kind = _LIST
        else:
            self.kind = _SCALAR


_PLANS: dict[type, list[_FieldPlan]] = {}


def _plan(cls: type) -> list[_FieldPlan]:
    plan = _PLANS.get(cls)
    if plan is None:
        nested: dict[str, type] = cls.NESTED  # type: ignore[attr-defined]
        plan = [_FieldPlan(f, nested.get(f.name)) for f in cls.ARROW_TYPE]  # type: ignore[attr-defined]
        _PLANS[cls] = plan
    return plan


# --- objects -> Arrow --------------------------------------------------------------------------


def children(cls: type, objs: Sequence[Any]) -> list[pa.Array]:
    """One Arrow array per top-level field of `cls`, for objects that are all present."""
    out = []
    for fp in _plan(cls):
        values = list(map(fp.get, objs))
        if fp.kind == _STRUCT:
            out.append(struct_array(fp.nested, values))  # type: ignore[arg-type]
        elif fp.kind == _LIST_STRUCT:
            out.append(_list_of_structs(fp, values))
        else:
            out.append(_scalar_array(cls, fp, values))
    return out


def struct_array(cls: type, values: Sequence[Any]) -> pa.Array:
    """A struct array of `cls` from objects, `None` marking null rows."""
    struct_type: pa.StructType = cls.ARROW_TYPE  # type: ignore[attr-defined]
    fields = list(struct_type)
    n = len(values)
    present = [v for v in values if v is not None]
    if not present:
        return null_struct(struct_type, n)
    _check_kinds(cls, present)
    kids = children(cls, present)
    if len(present) == n:
        return pa.StructArray.from_arrays(kids, fields=fields)
    # Spread the present rows to their positions. Null rows repeat row 0: children under a
    # null parent must still be valid, or Parquet rejects their non-nullable columns.
    positions = []
    k = 0
    for v in values:
        positions.append(k if v is not None else 0)
        k += v is not None
    index = pa.array(positions, type=pa.int64())
    mask = pa.array([v is None for v in values], type=pa.bool_())
    return pa.StructArray.from_arrays([kid.take(index) for kid in kids], fields=fields, mask=mask)


def _check_kinds(cls: type, objs: Sequence[Any]) -> None:
    for o in objs:
        if type(o) is not cls and not isinstance(o, cls):
            raise ValidationError(cls.__name__, "<value>", o, f"expected {cls.__name__}")


def _list_of_structs(fp: _FieldPlan, values: list[Any]) -> pa.Array:
    offsets = [0]
    flat: list[Any] = []
    mask = []
    for v in values:
        if v is None:
            mask.append(True)
        else:
            mask.append(False)
            flat.extend(v)
        offsets.append(len(flat))
    child = struct_array(fp.nested, flat)  # type: ignore[arg-type]
    list_type: pa.ListType = fp.field.type
    arr = pa.ListArray.from_arrays(
        pa.array(offsets, type=pa.int32()),
        child,
        type=list_type,
        mask=pa.array(mask, type=pa.bool_()) if any(mask) else None,
    )
    return arr


def _scalar_array(cls: type, fp: _FieldPlan, values: list[Any]) -> pa.Array:
    try:
        return pa.array(values, type=fp.field.type, from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as exc:
        raise ValidationError(
            cls.__name__, fp.name, _first_offender(fp.field.type, values), str(exc)
        ) from exc


def _first_offender(arrow_type: pa.DataType, values: list[Any]) -> Any:
    for v in values:
        try:
            pa.array([v], type=arrow_type)
        except Exception:  # noqa: BLE001 - we are only locating the bad value
            return v
    return values


def record_batch(cls: type, objs: Sequence[Any], timestamps_ns: Any) -> pa.RecordBatch:
    """A topic record batch: timestamp envelope + the fields of `cls`."""
    ts = pa.array(np.asarray(timestamps_ns, dtype=np.int64), type=pa.int64())
    if len(ts) != len(objs):
        raise InputError(f"{len(objs)} objects but {len(ts)} timestamps")
    _check_kinds(cls, objs)
    return pa.RecordBatch.from_arrays(
        [ts, *children(cls, objs)],
        schema=cls.ARROW_SCHEMA,  # type: ignore[attr-defined]
    )


# --- Arrow -> objects --------------------------------------------------------------------------


def from_struct_array(cls: type, arr: pa.Array, validate: bool = True) -> list[Any]:
    """Objects of `cls` (None for null rows) from a struct array of its layout."""
    if validate:
        if runtime.VALIDATE:
            validate_struct(cls, arr)
        with _gc_paused():
            return from_struct_array(cls, arr, validate=False)
    n = len(arr)
    if arr.null_count == n:
        return [None] * n
    if arr.null_count:
        valid = arr.is_valid()
        dense = from_struct_array(cls, arr.filter(valid), validate=False)
        it = iter(dense)
        return [next(it) if ok else None for ok in valid.to_pylist()]
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    cols = [_column(fp, arr.field(i)) for i, fp in enumerate(_plan(cls))]
    return cls._from_columns(cols)  # type: ignore[attr-defined,no-any-return]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many acyclic objects.

    CPython's generational collector otherwise runs over and over as the new objects pile up,
    which makes decoding several times slower.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def from_columns(cls: type, columns: Sequence[pa.Array]) -> list[Any]:
    """Objects of `cls` from its top-level columns (a record batch without the envelope).

    With validation on, the constraints are checked over whole columns first; the objects
    are then built without per-object checks.
    """
    if runtime.VALIDATE:
        validate_columns(cls, columns)
    with _gc_paused():
        cols = [_column(fp, c) for fp, c in zip(_plan(cls), columns)]
        return cls._from_columns(cols)  # type: ignore[attr-defined,no-any-return]


def _column(fp: _FieldPlan, arr: pa.Array) -> list[Any]:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if fp.kind == _STRUCT:
        return from_struct_array(fp.nested, arr, validate=False)  # type: ignore[arg-type]
    if fp.kind == _LIST_STRUCT:
        items = from_struct_array(fp.nested, arr.flatten(), validate=False)  # type: ignore[arg-type]
        offsets = arr.offsets.to_numpy()
        if arr.offset or offsets[0]:
            offsets = offsets - offsets[0]
        valid = arr.is_valid().to_pylist() if arr.null_count else None
        out: list[Any] = [items[offsets[i] : offsets[i + 1]] for i in range(len(arr))]
        if valid is not None:
            out = [v if ok else None for v, ok in zip(out, valid)]
        return out
    if fp.kind == _SCALAR and arr.null_count == 0 and _numpy_friendly(arr.type):
        return arr.to_numpy(zero_copy_only=False).tolist()  # type: ignore[no-any-return]
    return arr.to_pylist()  # type: ignore[no-any-return]


def _numpy_friendly(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def split_batch(batch: pa.RecordBatch | pa.Table) -> tuple[pa.Array, list[pa.Array]]:
    """The timestamp column and the payload columns of a topic batch."""
    names = batch.schema.names
    ts_index = names.index(TIMESTAMP_FIELD.name)
    cols = [batch.column(i) for i in range(len(names)) if i != ts_index]
    return batch.column(ts_index), cols


# --- column-wise validation ---------------------------------------------------------------------


def validate_struct(cls: type, arr: pa.Array, path: str = "") -> None:
    """Check the YAML constraints of `cls` over whole columns (rows that are null are skipped)."""
    if len(arr) == 0 or arr.null_count == len(arr):
        return
    if arr.null_count:
        arr = arr.filter(arr.is_valid())
    validate_columns(cls, [arr.field(i) for i in range(arr.type.num_fields)], path)


def validate_columns(cls: type, columns: Sequence[pa.Array], path: str = "") -> None:
    """Check the constraints of `cls` over its top-level columns."""
    name = cls.__name__
    by_name = {}
    for fp, col in zip(_plan(cls), columns):
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        by_name[fp.name] = col
        where = f"{path}{fp.name}"
        if not fp.field.nullable and col.null_count:
            raise ValidationError(name, where, None, "a value is required")
        for check in cls.COLUMN_CHECKS.get(fp.name, ()):  # type: ignore[attr-defined]
            check.apply(name, where, col)
        if fp.kind == _STRUCT:
            validate_struct(fp.nested, col, f"{where}.")  # type: ignore[arg-type]
        elif fp.kind == _LIST_STRUCT:
            validate_struct(fp.nested, col.flatten(), f"{where}[].")  # type: ignore[arg-type]
    for rule in cls.RULES:  # type: ignore[attr-defined]
        rule.apply(name, path, by_name)


def _leaf_values(col: pa.Array) -> pa.Array:
    """The element values of a (possibly nested) list column, or the column itself."""
    while pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type):
        col = col.flatten()
    return col


class Bounds:
    """min/max (inclusive) over a numeric column or every element of a list column."""

    def __init__(self, low: float | None, high: float | None) -> None:
        self.low = low
        self.high = high

    def apply(self, type_name: str, where: str, col: pa.Array) -> None:
        values = _leaf_values(col)
        if len(values) == 0 or values.null_count == len(values):
            return
        lo, hi = pc.min_max(values).values()
        if self.low is not None and lo.as_py() < self.low:
            raise ValidationError(type_name, where, lo.as_py(), f"must be >= {self.low}")
        if self.high is not None and hi.as_py() > self.high:
            raise ValidationError(type_name, where, hi.as_py(), f"must be <= {self.high}")


class Allowed:
    """Values limited to a set (enums, `allowed:`)."""

    def __init__(self, values: Sequence[Any]) -> None:
        self.values = list(values)

    def apply(self, type_name: str, where: str, col: pa.Array) -> None:
        values = _leaf_values(col).drop_null()
        if len(values) == 0:
            return
        ok = pc.is_in(values, value_set=pa.array(self.values, type=values.type))
        if not pc.all(ok).as_py():
            bad = values.filter(pc.invert(ok))[0].as_py()
            raise ValidationError(type_name, where, bad, f"must be one of {self.values}")


class Length:
    """Number of elements of a variable list."""

    def __init__(self, low: int | None, high: int | None) -> None:
        self.low = low
        self.high = high

    def apply(self, type_name: str, where: str, col: pa.Array) -> None:
        lengths = pc.list_value_length(col).drop_null()
        if len(lengths) == 0:
            return
        lo, hi = (s.as_py() for s in pc.min_max(lengths).values())
        if self.low is not None and lo < self.low:
            raise ValidationError(type_name, where, lo, f"needs at least {self.low} elements")
        if self.high is not None and hi > self.high:
            raise ValidationError(type_name, where, hi, f"allows at most {self.high} elements")


class Required:
    """A wire-nullable field that the model still requires (vector components)."""

    def apply(self, type_name: str, where: str, col: pa.Array) -> None:
        if col.null_count:
            raise ValidationError(type_name, where, None, "a value is required")


class AtLeastOneOf:
    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    def apply(self, type_name: str, path: str, cols: dict[str, pa.Array]) -> None:
        present = None
        for n in self.names:
            valid = cols[n].is_valid()
            present = valid if present is None else pc.or_(present, valid)
        if present is not None and not pc.all(present).as_py():
            raise ValidationError(
                type_name, path + "/".join(self.names), None, "at least one must be set"
            )


class Ordered:
    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    def apply(self, type_name: str, path: str, cols: dict[str, pa.Array]) -> None:
        for a, b in zip(self.names, self.names[1:]):
            ok = pc.less_equal(cols[a], cols[b])
            if not pc.all(ok).as_py():
                i = pc.index(ok, False).as_py()
                raise ValidationError(
                    type_name,
                    f"{path}{a}/{b}",
                    (cols[a][i].as_py(), cols[b][i].as_py()),
                    f"{a} must be <= {b}",
                )
