"""Column-wise conversion between generated objects and Arrow arrays.

Objects -> Arrow gathers one Python list per leaf column (attribute getters mapped over the
rows) and builds every array once; nested structs recurse on the present sub-objects only.
Arrow -> objects decodes every column to a Python list (enum columns then hold the Enum
members, see ``enums``), then builds the objects in one pass per type through the generated
`_from_columns`. Nothing goes through per-row dicts.

Conversion only: value checks live in ``checks`` (columns) and the generated ``validate()``
(objects); the base class decides when each runs.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa

from mosaico.errors import InputError
from mosaico.ontology import enums
from mosaico.ontology.placeholders import null_struct
from mosaico.ontology.schema import TIMESTAMP_FIELD
from mosaico.ontology.validity import ValidationError

__all__ = [
    "LIST_STRUCT",
    "STRUCT",
    "FieldPlan",
    "children",
    "from_columns",
    "from_struct_array",
    "plan",
    "record_batch",
    "split_batch",
    "struct_array",
]

# Field kinds of a compiled plan.
SCALAR, STRUCT, LIST_STRUCT, LIST = range(4)


class FieldPlan:
    """How one top-level field of a type converts: its Arrow field, getter and kind, and
    for an enum field its Enum class and list depth (decoded values become members)."""

    __slots__ = ("depth", "enum", "field", "get", "kind", "nested", "name")

    def __init__(self, field: pa.Field, nested: type | None, enum: type | None = None) -> None:
        self.name = field.name
        self.field = field
        self.get = attrgetter(field.name)
        self.nested = nested
        self.enum = enum
        self.depth = _list_depth(field.type)
        if pa.types.is_struct(field.type):
            self.kind = STRUCT
        elif nested is not None:
            self.kind = LIST_STRUCT
        elif pa.types.is_list(field.type) or pa.types.is_fixed_size_list(field.type):
            self.kind = LIST
        else:
            self.kind = SCALAR


def _list_depth(t: pa.DataType) -> int:
    depth = 0
    while pa.types.is_list(t) or pa.types.is_fixed_size_list(t):
        t, depth = t.value_type, depth + 1
    return depth


_PLANS: dict[type, list[FieldPlan]] = {}


def plan(cls: type) -> list[FieldPlan]:
    """The conversion plan of a generated class, compiled once per class."""
    compiled = _PLANS.get(cls)
    if compiled is None:
        nested: dict[str, type] = cls.NESTED  # type: ignore[attr-defined]
        enum_of: dict[str, type] = getattr(cls, "ENUMS", {})
        compiled = [
            FieldPlan(f, nested.get(f.name), enum_of.get(f.name))
            for f in cls.ARROW_TYPE  # type: ignore[attr-defined]
        ]
        _PLANS[cls] = compiled
    return compiled


# --- objects -> Arrow --------------------------------------------------------------------------


def children(cls: type, objs: Sequence[Any]) -> list[pa.Array]:
    """One Arrow array per top-level field of `cls`, for objects that are all present."""
    out = []
    for fp in plan(cls):
        values = list(map(fp.get, objs))
        if fp.kind == STRUCT:
            out.append(struct_array(fp.nested, values))  # type: ignore[arg-type]
        elif fp.kind == LIST_STRUCT:
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


def _list_of_structs(fp: FieldPlan, values: list[Any]) -> pa.Array:
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


def _scalar_array(cls: type, fp: FieldPlan, values: list[Any]) -> pa.Array:
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


def from_struct_array(cls: type, arr: pa.Array) -> list[Any]:
    """Objects of `cls` (None for null rows) from a struct array of its layout.

    Values are taken as they are: callers check them column-wise first (``checks``).
    """
    with _gc_paused():
        return _objects(cls, arr)


def from_columns(cls: type, columns: Sequence[pa.Array]) -> list[Any]:
    """Objects of `cls` from its top-level columns (a record batch without the envelope).

    Values are taken as they are: callers check them column-wise first (``checks``); the
    objects are built without per-object checks.
    """
    with _gc_paused():
        cols = [_column(fp, c) for fp, c in zip(plan(cls), columns)]
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


def _objects(cls: type, arr: pa.Array) -> list[Any]:
    n = len(arr)
    if arr.null_count == n:
        return [None] * n
    if arr.null_count:
        valid = arr.is_valid()
        it = iter(_objects(cls, arr.filter(valid)))
        return [next(it) if ok else None for ok in valid.to_pylist()]
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    cols = [_column(fp, arr.field(i)) for i, fp in enumerate(plan(cls))]
    return cls._from_columns(cols)  # type: ignore[attr-defined,no-any-return]


def _column(fp: FieldPlan, arr: pa.Array) -> list[Any]:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if fp.kind == STRUCT:
        return _objects(fp.nested, arr)  # type: ignore[arg-type]
    if fp.kind == LIST_STRUCT:
        return _lists_of_objects(fp.nested, arr)  # type: ignore[arg-type]
    if fp.kind == SCALAR and arr.null_count == 0 and _numpy_friendly(arr.type):
        values: list[Any] = arr.to_numpy(zero_copy_only=False).tolist()
    else:
        values = arr.to_pylist()
    return values if fp.enum is None else enums.members(fp.enum, values, fp.depth)


def _lists_of_objects(cls: type, arr: pa.ListArray) -> list[Any]:
    items = _objects(cls, arr.flatten())
    offsets = arr.offsets.to_numpy()
    if arr.offset or offsets[0]:
        offsets = offsets - offsets[0]
    out: list[Any] = [items[offsets[i] : offsets[i + 1]] for i in range(len(arr))]
    if arr.null_count:
        out = [v if ok else None for v, ok in zip(out, arr.is_valid().to_pylist())]
    return out


def _numpy_friendly(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def split_batch(batch: pa.RecordBatch | pa.Table) -> tuple[pa.Array, list[pa.Array]]:
    """The timestamp column and the payload columns of a topic batch."""
    names = batch.schema.names
    ts_index = names.index(TIMESTAMP_FIELD.name)
    cols = [batch.column(i) for i in range(len(names)) if i != ts_index]
    return batch.column(ts_index), cols
