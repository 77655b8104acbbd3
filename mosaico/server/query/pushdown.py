"""What of a query the catalog answers in SQL: conditions pushed down to its indexes.

The Python filters (``filters``) and pruning (``pruning``) stay the source of truth: every
condition here only narrows what the catalog returns, never drops a row they would keep,
and is exact where SQL can decide alone. Two kinds:

- ``candidate_filter``: a condition on a topic ``t`` and its sequence ``q`` that every topic
  passing the sequence and topic sections (and, with an ontology section, of one of its
  tags) satisfies. Exact for ``created_at_ns`` (compared as integers, whatever the operand),
  for text equality, ``$neq`` and ``$in``; ``$match`` becomes a ``LIKE`` that every name the
  glob matches satisfies; a user-metadata condition (but ``$nex``) needs its key's JSON text
  in the document. Text order (``$lt``, ``$between``, ...) is left to Python: PostgreSQL
  orders text by the database's collation, Python by code point.
- ``chunk_exclusions``: per leaf, a condition on one statistics row ``x`` under which
  ``pruning`` rules the chunk out: bounds that are NULL (the leaf holds nulls only), numeric
  bounds no value satisfying the entry fits in, a time window they miss. Exact for numbers;
  text bounds are left to Python (collation again).

The SQL is the portable subset both catalogs run: no collation, no JSON functions, no
text order. Values SQL cannot bind (text holding NUL, which PostgreSQL refuses) are not
pushed, and lists are capped so a statement stays small; what is left out, Python checks.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mosaico.protocol.commands import TimeWindow
from mosaico.protocol.glob import LIKE_ESCAPE, like_literal, like_pattern
from mosaico.protocol.operators import BOOL, NUMBER
from mosaico.protocol.query import (
    CatalogSection,
    Condition,
    FieldEntry,
    MetadataEntry,
    OntologyEntry,
)
from mosaico.protocol.topic_type import TIMESTAMP
from mosaico.server.catalog import Sql
from mosaico.server.query.plan import QueryPlan, stats_path

TRUE = Sql("1 = 1")
FALSE = Sql("1 = 0")
MAX_VALUES = 128
"""Longest ``$in`` list (and most ontology tags) pushed down; longer ones are left to Python."""
MAX_PRUNE_VALUES = 16
"""Longest ``$in`` list whose bounds test is pushed down to the chunk statistics."""
MAX_METADATA = 8
"""Most user-metadata conditions of a section narrowed in SQL."""
MAX_EXCLUSIONS = 8
"""Most chunk exclusions of one scan (the window's first, then the entries' in order)."""
_BIGINT = (-(2**63), 2**63 - 1)
_EXACT_DOUBLE = 2**53  # every integer up to this is a double exactly
_ORDER = {"$lt": "<", "$leq": "<=", "$gt": ">", "$geq": ">="}
_LIKE = f"LIKE ? ESCAPE '{LIKE_ESCAPE}'"
# Keys whose JSON text is the same under any encoder settings: printable ASCII but '"', '\'.
_PLAIN_KEY = re.compile(r"[ !#-\[\]-~]*")

Compare = Callable[[str, Any], Sql]
"""``compare(op, value)``: the condition ``<column> op value`` on one column."""


# --- conditions -------------------------------------------------------------------------------


def _join(parts: list[Sql], glue: str, empty: Sql) -> Sql:
    if not parts:
        return empty
    if len(parts) == 1:
        return parts[0]
    return Sql(glue.join(f"({p.text})" for p in parts), tuple(a for p in parts for a in p.args))


def all_of(parts: Iterable[Sql]) -> Sql:
    """The conjunction, constants folded (``FALSE`` if any part is)."""
    kept: list[Sql] = []
    for part in parts:
        if part == FALSE:
            return FALSE
        if part != TRUE:
            kept.append(part)
    return _join(kept, " AND ", TRUE)


def any_of(parts: Iterable[Sql]) -> Sql:
    """The disjunction, constants folded (``TRUE`` if any part is)."""
    kept: list[Sql] = []
    for part in parts:
        if part == TRUE:
            return TRUE
        if part != FALSE:
            kept.append(part)
    return _join(kept, " OR ", FALSE)


def _bindable(text: str) -> bool:
    """Whether both catalogs take ``text`` as a parameter (PostgreSQL refuses NUL; no driver
    encodes a lone surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- numbers ----------------------------------------------------------------------------------


def _as_bigint(value: Any) -> int | None:
    """The BIGINT equal to a JSON number, or None when no BIGINT is."""
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    exact = int(value)
    return exact if _BIGINT[0] <= exact <= _BIGINT[1] else None


def _int_compare(column: str, op: str, value: Any) -> Sql:
    """``column op value`` on a BIGINT column, exact for any JSON number (or boolean, as 0
    or 1): a fractional operand becomes the integer bound that selects the same integers,
    one beyond BIGINT the constant the comparison is for every BIGINT."""
    if op in ("=", "<>"):
        exact = _as_bigint(value)
        if exact is None:
            return FALSE if op == "=" else TRUE
        return Sql(f"{column} {op} ?", (exact,))
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return FALSE
        value = math.copysign(2.0**64, value)
    bound = math.ceil(value) if op in ("<", ">=") else math.floor(value)
    if not _BIGINT[0] <= bound <= _BIGINT[1]:
        below = op in ("<", "<=")  # true for every BIGINT when the bound is above them all
        return TRUE if below == (bound > 0) else FALSE
    return Sql(f"{column} {op} ?", (bound,))


def _real_compare(column: str, op: str, value: Any) -> Sql:
    """``column op value`` on a DOUBLE PRECISION column when the operand is a double
    exactly, else ``FALSE``: for exclusions only, where ``FALSE`` rules nothing out."""
    if not isinstance(value, float):
        if abs(value) > _EXACT_DOUBLE:
            return FALSE
        value = float(value)
    if math.isnan(value):
        return FALSE
    return Sql(f"{column} {op} ?", (value,))


def _number_filter(column: str, cond: Condition) -> Sql:
    """The rows of a BIGINT catalog value satisfying ``cond`` (``filters.holds``), exactly."""
    op, value = cond.op, cond.operand
    compare = functools.partial(_int_compare, column)
    if op in _ORDER:
        return compare(_ORDER[op], value)
    if op in ("$eq", "$neq"):
        return compare("=" if op == "$eq" else "<>", value)
    if op == "$between":
        return all_of([compare(">=", value[0]), compare("<=", value[1])])
    if op == "$outside":
        return any_of([compare("<", value[0]), compare(">", value[1])])
    if op == "$in" and len(value) <= MAX_VALUES:
        exact = [v for v in dict.fromkeys(map(_as_bigint, value)) if v is not None]
        return Sql(f"{column} IN ({','.join('?' * len(exact))})", tuple(exact)) if exact else FALSE
    return TRUE


# --- text -------------------------------------------------------------------------------------


def _one_of(column: str, values: Sequence[str]) -> Sql:
    """``column`` equal to one of ``values``; ``TRUE`` when they cannot all be pushed."""
    unique = list(dict.fromkeys(values))
    if len(unique) > MAX_VALUES or not all(map(_bindable, unique)):
        return TRUE
    if len(unique) == 1:
        return Sql(f"{column} = ?", (unique[0],))
    return Sql(f"{column} IN ({','.join('?' * len(unique))})", tuple(unique))


def _like(column: str, pattern: str) -> Sql:
    """``column LIKE`` a pattern every text the glob matches also matches."""
    like = like_pattern(pattern)
    if not _bindable(like) or not like.strip("%"):
        return TRUE
    return Sql(f"{column} {_LIKE}", (like,))


def _text_filter(column: str, cond: Condition) -> Sql:
    """A condition every row of a text catalog value satisfying ``cond`` satisfies."""
    op, value = cond.op, cond.operand
    if op in ("$eq", "$in"):
        return _one_of(column, [value] if op == "$eq" else value)
    if op == "$neq" and _bindable(value):
        return Sql(f"{column} <> ?", (value,))
    if op == "$match":
        return _like(column, value)
    return TRUE  # text order: the collation's in PostgreSQL, code points in Python


def _bare(name: str) -> str:
    """A topic name operand as the stored path (``/imu`` and ``imu`` are both ``imu``)."""
    return name[1:] if name.startswith("/") else name


def _topic_name_filter(cond: Condition) -> Sql:
    """The topic-name rules of ``filters`` (``/path`` form, leading ``/`` optional)."""
    if cond.op == "$match":
        return any_of([_like("t.path", cond.operand), _like("('/' || t.path)", cond.operand)])
    if cond.op in ("$eq", "$neq"):
        return _text_filter("t.path", Condition(cond.key, cond.op, _bare(cond.operand)))
    if cond.op == "$in":
        return _one_of("t.path", [_bare(v) for v in cond.operand])
    return TRUE


def _metadata_filter(column: str, entry: MetadataEntry) -> Sql:
    """A document reached by ``entry``'s path holds its last key: the key's JSON text is in
    the stored document (``json.dumps``), for every operator but ``$nex``."""
    key = entry.path[-1]
    if entry.condition.op == "$nex" or not _PLAIN_KEY.fullmatch(key):
        return TRUE
    return Sql(f"{column} {_LIKE}", (f"%{like_literal(json.dumps(key))}%",))


_COLUMNS = {
    ("sequence", "name"): "q.name",
    ("sequence", "created_at_ns"): "q.created_at_ns",
    ("topic", "created_at_ns"): "t.created_at_ns",
    ("topic", "serialization_format"): "t.serialization_format",
}
# Tags are shared by many topics and names are all but unique, yet without statistics
# SQLite takes an index on a tag for a better one than a range of names: when the sequence
# has an indexed condition, the tag's is written so that no index serves it.
_TAG, _TAG_UNINDEXED = "t.ontology_tag", "(t.ontology_tag || '')"


def _field_filter(section: str, field: str, cond: Condition, tag: str) -> Sql:
    if (section, field) == ("topic", "name"):
        return _topic_name_filter(cond)
    if (section, field) == ("topic", "ontology_tag"):
        return _text_filter(tag, cond)
    column = _COLUMNS[(section, field)]
    return (_number_filter if field == "created_at_ns" else _text_filter)(column, cond)


def _indexed(entry: FieldEntry, pushed: Sql) -> bool:
    """Whether an index on the field's column can serve its pushed condition."""
    cond = entry.condition
    if pushed == TRUE or cond.op in ("$neq", "$outside"):
        return False
    return cond.op != "$match" or not like_pattern(cond.operand).startswith(("%", "_"))


def _section(name: str, alias: str, section: CatalogSection, tag: str = _TAG) -> list[Sql]:
    found = [_field_filter(name, f.field, f.condition, tag) for f in section.fields]
    metadata = section.metadata[:MAX_METADATA]
    return found + [_metadata_filter(f"{alias}.user_metadata", entry) for entry in metadata]


def tag_list(tags: Iterable[str]) -> list[str] | None:
    """Ontology tags as the catalog's ``IN`` list; None when they cannot all be pushed."""
    unique = list(dict.fromkeys(tags))
    return unique if len(unique) <= MAX_VALUES and all(map(_bindable, unique)) else None


def candidate_filter(plan: QueryPlan) -> Sql:
    """A condition on ``t`` (a topic) and ``q`` (its sequence) that every topic passing the
    plan's sequence and topic sections, and of a tag of its ontology section if it has one,
    satisfies (``FALSE``: no topic can)."""
    sequence = _section("sequence", "q", plan.sequence)
    indexed = any(map(_indexed, plan.sequence.fields, sequence))
    tag = _TAG_UNINDEXED if indexed else _TAG
    parts = [*sequence, *_section("topic", "t", plan.topic, tag)]
    if plan.ontology:
        tags = tag_list(plan.ontology)
        parts.append(TRUE if tags is None else _one_of(tag, tags))
    return all_of(parts)


# --- chunk statistics -------------------------------------------------------------------------

_NULL_BOUNDS = Sql(
    "(x.kind IN ('int', 'bool') AND (x.min_int IS NULL OR x.max_int IS NULL))"
    " OR (x.kind = 'real' AND (x.min_real IS NULL OR x.max_real IS NULL))"
    " OR (x.kind NOT IN ('int', 'bool', 'real') AND (x.min_text IS NULL OR x.max_text IS NULL))"
)
_INT_ROW = Sql("x.kind IN ('int', 'bool')")
_REAL_ROW = Sql("x.kind = 'real'")


def _outside(low: Compare, high: Compare, value: Any) -> Sql:
    return any_of([low(">", value), high("<", value)])


def _excludes(cond: Condition, low: Compare, high: Compare, real: bool) -> Sql:
    """Bounds ``low``..``high`` that no value satisfying ``cond`` lies in: the negation of
    ``pruning.range_may_satisfy``, operator by operator."""
    op, value = cond.op, cond.operand
    if op in ("$lt", "$leq"):
        return low(">=" if op == "$lt" else ">", value)
    if op in ("$gt", "$geq"):
        return high("<=" if op == "$gt" else "<", value)
    if op == "$eq":
        return _outside(low, high, value)
    if op == "$neq":  # NaN is outside a real leaf's bounds and differs from everything
        return FALSE if real else all_of([low("=", value), high("=", value)])
    if op == "$between":
        return any_of([high("<", value[0]), low(">", value[1])])
    if op == "$outside":
        return all_of([low(">=", value[0]), high("<=", value[1])])
    if op == "$in" and len(value) <= MAX_PRUNE_VALUES:
        return all_of(_outside(low, high, v) for v in value)
    return FALSE


def _bounds_exclude(cond: Condition) -> Sql:
    """Numeric bounds of ``x`` that rule out ``cond`` (text bounds are left to Python)."""
    if cond.kind not in (NUMBER, BOOL):
        return FALSE
    int_bounds = _excludes(cond, functools.partial(_int_compare, "x.min_int"),
                           functools.partial(_int_compare, "x.max_int"), real=False)
    real_bounds = _excludes(cond, functools.partial(_real_compare, "x.min_real"),
                            functools.partial(_real_compare, "x.max_real"), real=True)
    return any_of([all_of([_INT_ROW, int_bounds]), all_of([_REAL_ROW, real_bounds])])  # fmt: skip


def entry_exclusion(entry: OntologyEntry) -> Sql:
    """When the statistics row ``x`` of the entry's leaf proves no row of the chunk satisfies
    it (``pruning.entry_may_match`` is False): nulls only, or bounds the entry misses."""
    return any_of([_NULL_BOUNDS, _bounds_exclude(entry.condition)])


def window_exclusion(window: TimeWindow) -> Sql:
    """When the ``timestamp_ns`` statistics row ``x`` proves the chunk misses the half-open
    window (``pruning.window_may_overlap`` is False)."""
    parts = []
    if window.start_ns is not None:
        parts.append(_bounds_exclude(Condition(TIMESTAMP, "$geq", window.start_ns)))
    if window.end_ns is not None:
        parts.append(_bounds_exclude(Condition(TIMESTAMP, "$lt", window.end_ns)))
    return any_of(parts)


def chunk_exclusions(
    entries: Sequence[OntologyEntry], window: TimeWindow
) -> list[tuple[str, Sql]]:
    """(leaf path, condition on its statistics row ``x``) pairs, each ruling out the chunks
    whose row satisfies it: the window's, then the entries' (at most ``MAX_EXCLUSIONS``)."""
    found = [(TIMESTAMP, window_exclusion(window))]
    found += [(stats_path(entry), entry_exclusion(entry)) for entry in entries]
    return [(path, cond) for path, cond in found if cond != FALSE][:MAX_EXCLUSIONS]


def stats_paths(entries: Sequence[OntologyEntry]) -> list[str]:
    """The leaves whose statistics the engine's pruning reads: ``timestamp_ns`` (windows,
    cluster order) and the entries' leaves."""
    return list(dict.fromkeys([TIMESTAMP, *(stats_path(entry) for entry in entries)]))
