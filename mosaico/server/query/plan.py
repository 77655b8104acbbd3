"""A validated `query` request (``mosaico.protocol.QueryRequest``) planned against schemas.

Parsing and operand rules are the protocol's; this module adds what needs the data: the
ontology entries grouped by tag, their paths resolved in each topic's Arrow schema, and their
operands bound to Arrow scalars of the leaf's type. Every rejection is an ``InvalidArgument``
whose message starts with the offending key, as the user wrote it (``IMU.acceleration.x``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa

from mosaico.protocol import operators as ops
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.query import (
    CatalogSection,
    OntologyEntry,
    OntologySection,
    QueryRequest,
    Selector,
    Step,
)


@attrs.frozen
class QueryPlan:
    """What the engine evaluates: both catalog sections (empty when absent) and the
    ontology entries by tag."""

    sequence: CatalogSection
    topic: CatalogSection
    ontology: Mapping[str, tuple[OntologyEntry, ...]]


def plan_query(request: QueryRequest) -> QueryPlan:
    """The plan of a validated request: an absent catalog section becomes an empty one
    (every row passes it) and the ontology entries are grouped by tag. Checking the entries
    against schemas is ``check_ontology``'s job."""
    return QueryPlan(
        request.sequence or CatalogSection(),
        request.topic or CatalogSection(),
        (request.ontology or OntologySection()).by_tag(),
    )


def stats_path(entry: OntologyEntry) -> str:
    """The leaf's name in the chunk statistics (``covariance[]`` for list elements)."""
    return "".join(
        ("[]" if isinstance(s, Selector) else (f".{s}" if i else s))
        for i, s in enumerate(entry.path)
    )


def read_column(entry: OntologyEntry) -> str:
    """The narrowest dotted column to read: the struct prefix before the first list."""
    names: list[str] = []
    for step in entry.path:
        if isinstance(step, Selector):
            break
        names.append(step)
    return ".".join(names)


# --- ontology paths against Arrow schemas ----------------------------------------------------


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def resolve(schema: pa.Schema, path: Sequence[Step]) -> pa.DataType | str:
    """The leaf type at ``path``, or a reason why the schema has no such leaf."""
    first = path[0]
    if not isinstance(first, str) or schema.get_field_index(first) < 0:
        return f"no field {first!r}"
    current = schema.field(first).type
    where = first
    for step in path[1:]:
        if _is_list(current):
            if not isinstance(step, Selector):
                return f"{where} is a list: select elements with [?], [!] or [<index>]"
            current = current.value_type
        elif pa.types.is_struct(current):
            if not isinstance(step, str) or current.get_field_index(step) < 0:
                return f"{where} has no field {step!r}"
            current = current.field(current.get_field_index(step)).type
        else:
            return f"{where} is a {current} leaf, not a struct or list"
        where = f"{where}{step}" if isinstance(step, Selector) else f"{where}.{step}"
    if _is_list(current):
        return f"{where} is a list: select elements with [?], [!] or [<index>]"
    return current


def leaf_kind(t: pa.DataType) -> str | None:
    """The operator table's kind of an Arrow leaf type; None when it is not comparable."""
    if pa.types.is_boolean(t):
        return ops.BOOL
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return ops.NUMBER
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return ops.STRING
    if pa.types.is_temporal(t):
        return ops.TEMPORAL
    return None  # binary, maps, structs: not comparable


def _ns_scalar(value: Any, t: pa.DataType) -> pa.Scalar:
    """Integer nanoseconds (a JSON integer or its decimal text) as a scalar of ``t``."""
    ns = pa.scalar(int(value), pa.int64())
    if pa.types.is_timestamp(t):
        return ns.cast(pa.timestamp("ns", t.tz)).cast(t, safe=False)
    if pa.types.is_duration(t):
        return ns.cast(pa.duration("ns")).cast(t, safe=False)
    if pa.types.is_time(t):
        return ns.cast(pa.time64("ns")).cast(t, safe=False)
    return ns.cast(pa.timestamp("ns")).cast(t, safe=False)


def _iso_scalar(value: str, t: pa.DataType) -> pa.Scalar | None:
    """ISO-8601 text as a scalar of ``t``; None for a type that takes no text."""
    if pa.types.is_date(t):
        return pa.scalar(dt.date.fromisoformat(value), t)
    if pa.types.is_time(t):
        return pa.scalar(dt.time.fromisoformat(value), t)
    if pa.types.is_timestamp(t):
        moment = dt.datetime.fromisoformat(value)
        if t.tz is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return pa.scalar(moment, t)
    return None


def _temporal(key: str, value: Any, t: pa.DataType) -> pa.Scalar:
    """A date/time operand (ISO text, or decimal/integer nanoseconds) as a scalar of ``t``."""
    found = None
    try:
        if isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit()):
            found = _ns_scalar(value, t)
        elif isinstance(value, str):
            found = _iso_scalar(value, t)
    except (ValueError, OverflowError, pa.ArrowException) as exc:
        raise InvalidArgument(f"{key}: {value!r} is not a valid {t} value: {exc}") from None
    if found is None:
        raise InvalidArgument(f"{key}: a {t} leaf is compared with ISO-8601 text or integer ns")
    return found


def _number(value: int | float, leaf: pa.DataType) -> pa.Scalar:
    if isinstance(value, int) and pa.types.is_integer(leaf):
        try:
            return pa.scalar(value, leaf)
        except (OverflowError, pa.ArrowException):
            pass  # outside the column's range: compare as a double instead
    return pa.scalar(float(value), pa.float64())


def operand_scalars(entry: OntologyEntry, leaf: pa.DataType) -> list[pa.Scalar]:
    """The operand values as Arrow scalars that compare with the leaf column; raises
    ``InvalidArgument`` naming the key when the operator or operand does not fit the leaf."""
    cond = entry.condition
    kind = leaf_kind(leaf)
    if kind is None:
        raise InvalidArgument(f"{cond.key}: a {leaf} leaf cannot be queried")
    ops.applies_to(cond.key, cond.operator, kind, leaf)
    values = cond.operand if isinstance(cond.operand, list) else [cond.operand]
    if kind == ops.TEMPORAL:
        return [_temporal(cond.key, v, leaf) for v in values]
    if cond.kind != kind:
        raise ops.cannot_compare(cond.key, f"{leaf} leaf", cond.operand)
    if kind == ops.NUMBER:
        return [_number(v, leaf) for v in values]
    return [pa.scalar(v, pa.string() if kind == ops.STRING else pa.bool_()) for v in values]


def check_ontology(
    ontology: Mapping[str, Sequence[OntologyEntry]], schemas: Mapping[str, Sequence[pa.Schema]]
) -> None:
    """Reject unknown tags, paths that exist in no known schema of their tag, and operands
    that do not fit the leaf. ``schemas`` maps a tag to every schema known for it (its
    registered type, the topics stored under it)."""
    for tag, entries in ontology.items():
        known = schemas.get(tag, ())
        if not known:
            raise InvalidArgument(
                f"{entries[0].key}: unknown ontology tag {tag!r} (no registered type and no "
                "stored topic has it)"
            )
        for entry in entries:
            reasons = []
            for schema in known:
                leaf = resolve(schema, entry.path)
                if isinstance(leaf, str):
                    reasons.append(leaf)
                    continue
                operand_scalars(entry, leaf)
            if len(reasons) == len(known):
                raise InvalidArgument(f"{entry.key}: unknown field for tag {tag!r}: {reasons[0]}")
