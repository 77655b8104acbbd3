"""Parsing and validation of a `query` request (spec §8.1-§8.5) into a plan.

Every rejection is an ``InvalidArgument`` whose message starts with the offending key, as the
user wrote it (``sequence.user_metadata.a.b``, ``IMU.acceleration.x``), so a bad query is
fixed from the error alone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa

from mosaico.protocol.errors import InvalidArgument
from mosaico.server.query.glob import GlobError, python_glob

TIMESTAMP = "timestamp_ns"

COMPARISONS = ("$eq", "$neq", "$lt", "$leq", "$gt", "$geq")
RANGES = ("$between", "$outside")
OPERATORS = frozenset((*COMPARISONS, *RANGES, "$in", "$match", "$ex", "$nex"))
_EXISTENCE = frozenset(("$ex", "$nex"))
_ORDERED = frozenset(("$lt", "$leq", "$gt", "$geq", *RANGES))


def json_kind(value: Any) -> str | None:
    """JSON type of a scalar: number, string, bool; None for null, arrays and objects."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


@attrs.frozen
class Condition:
    """One ``{"<op>": operand}`` whose operand shape has been checked."""

    key: str
    op: str
    operand: Any

    @property
    def kind(self) -> str | None:
        """JSON kind of the operand (of its elements for ranges and sets)."""
        if self.op in _EXISTENCE:
            return None
        if self.op in RANGES or self.op == "$in":
            return json_kind(self.operand[0])
        return json_kind(self.operand)


def parse_condition(key: str, value: Any) -> Condition:
    if not isinstance(value, dict) or len(value) != 1:
        raise InvalidArgument(
            f'{key}: expected an object with exactly one operator, e.g. {{"$eq": 1}}, got {value!r}'
        )
    ((op, operand),) = value.items()
    if op not in OPERATORS:
        raise InvalidArgument(
            f"{key}: unknown operator {op!r} (known: {', '.join(sorted(OPERATORS))})"
        )
    if op in _EXISTENCE:
        if operand is not None:
            raise InvalidArgument(f"{key}: {op} takes null, got {operand!r}")
    elif op in RANGES:
        if not isinstance(operand, list) or len(operand) != 2:
            raise InvalidArgument(f"{key}: {op} takes a [low, high] array, got {operand!r}")
        low, high = operand
        kinds = {json_kind(low), json_kind(high)}
        if len(kinds) != 1 or kinds & {None, "bool"}:
            raise InvalidArgument(
                f"{key}: {op} bounds must be two numbers or two strings, got {operand!r}"
            )
        if low > high:
            raise InvalidArgument(f"{key}: {op} range is inverted: {low!r} > {high!r}")
    elif op == "$in":
        if not isinstance(operand, list):
            raise InvalidArgument(f"{key}: $in takes an array, got {operand!r}")
        if not operand:
            raise InvalidArgument(f"{key}: $in needs at least one value")
        kinds = {json_kind(v) for v in operand}
        if None in kinds or len(kinds) != 1:
            raise InvalidArgument(
                f"{key}: $in values must be scalars of one JSON type, got {operand!r}"
            )
    elif op == "$match":
        if not isinstance(operand, str):
            raise InvalidArgument(f"{key}: $match takes a string pattern, got {operand!r}")
        try:
            python_glob(operand)
        except GlobError as exc:
            raise InvalidArgument(f"{key}: bad $match pattern {operand!r}: {exc}") from None
    elif json_kind(operand) is None:
        raise InvalidArgument(f"{key}: {op} takes a number, string or boolean, got {operand!r}")
    return Condition(key, op, operand)


# --- sequence and topic sections -------------------------------------------------------------


@attrs.frozen
class FieldFilter:
    """A condition on one catalog column (name, created_at_ns, ontology_tag, ...)."""

    field: str
    condition: Condition


@attrs.frozen
class MetadataFilter:
    """A condition on a dotted user-metadata path (spec §8.4)."""

    path: tuple[str, ...]
    condition: Condition


@attrs.frozen
class SectionPlan:
    fields: tuple[FieldFilter, ...] = ()
    metadata: tuple[MetadataFilter, ...] = ()


# Catalog columns of each section and the JSON kind of their values.
_SECTION_FIELDS: dict[str, dict[str, str]] = {
    "sequence": {"name": "string", "created_at_ns": "number"},
    "topic": {
        "name": "string",
        "created_at_ns": "number",
        "ontology_tag": "string",
        "serialization_format": "string",
    },
}


def _section(section: str, body: Any) -> SectionPlan:
    if body is None:
        return SectionPlan()
    if not isinstance(body, dict):
        raise InvalidArgument(f"{section}: must be a JSON object, got {body!r}")
    fields: list[FieldFilter] = []
    metadata: list[MetadataFilter] = []
    columns = _SECTION_FIELDS[section]
    for name, value in body.items():
        key = f"{section}.{name}"
        if name == "user_metadata":
            if not isinstance(value, dict):
                raise InvalidArgument(f"{key}: must be an object of dotted paths, got {value!r}")
            for path, cond in value.items():
                condition = parse_condition(f"{key}.{path}", cond)
                metadata.append(MetadataFilter(tuple(path.split(".")), condition))
            continue
        if name not in columns:
            known = ", ".join([*columns, "user_metadata"])
            raise InvalidArgument(f"{key}: unknown key (known: {known})")
        condition = parse_condition(key, value)
        if condition.op in _EXISTENCE:
            raise InvalidArgument(f"{key}: {condition.op} applies to user metadata only")
        expected = "string" if condition.op == "$match" else condition.kind
        if expected != columns[name]:
            raise InvalidArgument(
                f"{key}: a {columns[name]} value cannot be compared with {condition.operand!r}"
            )
        fields.append(FieldFilter(name, condition))
    return SectionPlan(tuple(fields), tuple(metadata))


# --- ontology section ------------------------------------------------------------------------


@attrs.frozen
class Selector:
    """A list selector: ``[?]`` (any), ``[!]`` (all) or ``[i]`` (index)."""

    kind: str  # "any", "all", "index"
    index: int = 0

    def __str__(self) -> str:
        return {"any": "[?]", "all": "[!]"}.get(self.kind, f"[{self.index}]")


Step = str | Selector
_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[(?:\?|!|\d+)\])*)")
_SELECTOR = re.compile(r"\[(\?|!|\d+)\]")


@attrs.frozen
class OntologyEntry:
    """``"<Tag>.<path>": {op: operand}``; ``path`` alternates field names and selectors."""

    tag: str
    path: tuple[Step, ...]
    condition: Condition

    @property
    def key(self) -> str:
        return self.condition.key

    @property
    def stats_path(self) -> str:
        """The leaf's name in the chunk statistics (``covariance[]`` for list elements)."""
        return "".join(
            ("[]" if isinstance(s, Selector) else (f".{s}" if i else s))
            for i, s in enumerate(self.path)
        )

    @property
    def read_column(self) -> str:
        """The narrowest dotted column to read: the struct prefix before the first list."""
        names: list[str] = []
        for step in self.path:
            if isinstance(step, Selector):
                break
            names.append(step)
        return ".".join(names)


def parse_ontology_key(key: str) -> tuple[str, tuple[Step, ...]]:
    tag, _, rest = key.partition(".")
    if not tag or not rest:
        raise InvalidArgument(f"{key}: ontology keys have the form '<Tag>.<field>[.<child>...]'")
    path: list[Step] = []
    for segment in rest.split("."):
        found = _SEGMENT.fullmatch(segment)
        if found is None:
            raise InvalidArgument(
                f"{key}: bad path segment {segment!r} (a field name, optionally followed by "
                "[?], [!] or [<index>])"
            )
        path.append(found.group(1))
        for sel in _SELECTOR.findall(found.group(2)):
            path.append(
                Selector("any") if sel == "?" else Selector("all") if sel == "!" else
                Selector("index", int(sel))
            )  # fmt: skip
    return tag, tuple(path)


def parse_ontology(body: Any) -> dict[str, tuple[OntologyEntry, ...]]:
    """An ontology section (also the ontology part of clusterize/intersect), by tag."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidArgument(f"ontology: must be a JSON object, got {body!r}")
    by_tag: dict[str, list[OntologyEntry]] = {}
    for key, value in body.items():
        tag, path = parse_ontology_key(key)
        condition = parse_condition(key, value)
        if condition.op in _EXISTENCE:
            raise InvalidArgument(f"{key}: {condition.op} applies to user metadata only")
        by_tag.setdefault(tag, []).append(OntologyEntry(tag, path, condition))
    return {tag: tuple(entries) for tag, entries in by_tag.items()}


@attrs.frozen
class QueryPlan:
    sequence: SectionPlan
    topic: SectionPlan
    ontology: Mapping[str, tuple[OntologyEntry, ...]]


def parse_query(body: Any) -> QueryPlan:
    """Validate a decoded `query` request body. Unknown top-level sections are rejected."""
    if not isinstance(body, dict):
        raise InvalidArgument(f"query: the request must be a JSON object, got {body!r}")
    unknown = set(body) - {"sequence", "topic", "ontology"}
    if unknown:
        raise InvalidArgument(
            f"{sorted(unknown)[0]}: unknown query section (known: sequence, topic, ontology)"
        )
    return QueryPlan(
        _section("sequence", body.get("sequence")),
        _section("topic", body.get("topic")),
        parse_ontology(body.get("ontology")),
    )


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
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_temporal(t):
        return "temporal"
    return None  # binary, maps, structs: not comparable


def _temporal(key: str, value: Any, t: pa.DataType) -> pa.Scalar:
    """A date/time operand (ISO text, or decimal/integer nanoseconds) as a scalar of ``t``."""
    try:
        if isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit()):
            ns = pa.scalar(int(value), pa.int64())
            if pa.types.is_timestamp(t):
                return ns.cast(pa.timestamp("ns", t.tz)).cast(t, safe=False)
            if pa.types.is_duration(t):
                return ns.cast(pa.duration("ns")).cast(t, safe=False)
            if pa.types.is_time(t):
                return ns.cast(pa.time64("ns")).cast(t, safe=False)
            return ns.cast(pa.timestamp("ns")).cast(t, safe=False)
        if isinstance(value, str):
            if pa.types.is_date(t):
                return pa.scalar(dt.date.fromisoformat(value), t)
            if pa.types.is_time(t):
                return pa.scalar(dt.time.fromisoformat(value), t)
            if pa.types.is_timestamp(t):
                moment = dt.datetime.fromisoformat(value)
                if t.tz is not None and moment.tzinfo is None:
                    moment = moment.replace(tzinfo=dt.timezone.utc)
                return pa.scalar(moment, t)
    except (ValueError, pa.ArrowException) as exc:
        raise InvalidArgument(f"{key}: {value!r} is not a valid {t} value: {exc}") from None
    raise InvalidArgument(f"{key}: a {t} leaf is compared with ISO-8601 text or integer ns")


def operand_scalars(entry: OntologyEntry, leaf: pa.DataType) -> list[pa.Scalar]:
    """The operand values as Arrow scalars that compare with the leaf column; raises
    ``InvalidArgument`` naming the key when the operand type does not fit the leaf."""
    cond = entry.condition
    kind = leaf_kind(leaf)
    if kind is None:
        raise InvalidArgument(f"{cond.key}: a {leaf} leaf cannot be queried")
    values = cond.operand if isinstance(cond.operand, list) else [cond.operand]
    if cond.op == "$match" and kind != "string":
        raise InvalidArgument(f"{cond.key}: $match applies to string leaves, not {leaf}")
    if kind == "bool" and cond.op in _ORDERED:
        raise InvalidArgument(f"{cond.key}: a bool leaf supports $eq, $neq and $in only")
    if kind == "temporal":
        return [_temporal(cond.key, v, leaf) for v in values]
    if cond.kind != kind:
        raise InvalidArgument(f"{cond.key}: a {leaf} leaf cannot be compared with {cond.operand!r}")
    if kind == "number":
        out = []
        for v in values:
            if isinstance(v, int) and pa.types.is_integer(leaf):
                try:
                    out.append(pa.scalar(v, leaf))
                    continue
                except (OverflowError, pa.ArrowException):
                    pass  # outside the column's range: compare as a double instead
            out.append(pa.scalar(float(v), pa.float64()))
        return out
    return [pa.scalar(v, pa.string() if kind == "string" else pa.bool_()) for v in values]


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
