"""Sequence and topic filters (spec §8.2-§8.4), evaluated in Python over catalog rows.

The catalog holds one row per sequence and per topic, a tiny amount next to the chunk data,
and SQLite's JSON functions cannot express §8.4's rules (walking into every array element on
the way, type mismatch = false, "exists even if null") without a recursive CTE per path, so
these filters run here and only the surviving topics reach the chunk scan. The catalog
narrows the rows first where SQL can (``pushdown``); these filters still decide. A row's
user metadata is parsed only when a metadata condition looks into it (``LazyDocument``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mosaico.protocol.glob import python_glob
from mosaico.protocol.operators import BOOL, STRING, json_kind
from mosaico.protocol.query import CatalogSection, Condition, MetadataEntry

_MISSING = object()


class LazyDocument(Mapping[str, Any]):
    """A user-metadata document loaded on first use and then kept, for the life of one
    query: a document may be tens of megabytes, and most queries never look inside."""

    __slots__ = ("_document", "_load")

    def __init__(self, load: Callable[[], dict[str, Any]]) -> None:
        self._load = load
        self._document: dict[str, Any] | None = None

    def _parsed(self) -> dict[str, Any]:
        if self._document is None:
            self._document = self._load()
        return self._document

    def __getitem__(self, key: str) -> Any:
        return self._parsed()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsed())

    def __len__(self) -> int:
        return len(self._parsed())


def _in_range(value: Any, cond: Condition, kind: str) -> bool:
    low, high = cond.operand
    if json_kind(low) != kind or kind == BOOL:
        return False
    inside = bool(low <= value <= high)
    return inside if cond.op == "$between" else not inside


def holds(value: Any, cond: Condition) -> bool:
    """A comparison operator on one JSON scalar; nulls and type mismatches are false."""
    op, operand = cond.op, cond.operand
    kind = json_kind(value)
    if kind is None:
        return False
    if op == "$in":
        return any(json_kind(v) == kind and value == v for v in operand)
    if op == "$match":
        return kind == STRING and python_glob(operand).fullmatch(value)
    if op in ("$between", "$outside"):
        return _in_range(value, cond, kind)
    compare = cond.operator.compare
    if compare is None or json_kind(operand) != kind:
        return False
    if kind == BOOL and op not in ("$eq", "$neq"):
        return False  # booleans are not ordered
    return bool(compare(value, operand))


def _walk(value: Any, key: str, out: list[Any]) -> None:
    if isinstance(value, Mapping):  # a JSON object, or the LazyDocument of a whole one
        found = value.get(key, _MISSING)
        if found is not _MISSING:
            out.append(found)
    elif isinstance(value, list):
        for element in value:  # arrays on the way: try every element
            _walk(element, key, out)


def _leaves(values: list[Any], out: list[Any]) -> None:
    for value in values:
        if isinstance(value, list):
            _leaves(value, out)
        else:
            out.append(value)


def metadata_holds(document: Mapping[str, Any], flt: MetadataEntry) -> bool:
    """Whether one user-metadata entry (spec §8.4) holds on ``document``.

    The path is walked into every array element on the way. ``$ex`` / ``$nex`` test whether
    the path reaches anything (a null counts); any other operator holds when some scalar it
    reaches (arrays flattened) satisfies the condition, as ``holds`` decides.
    """
    reached: list[Any] = [document]
    for key in flt.path:
        found: list[Any] = []
        for value in reached:
            _walk(value, key, found)
        reached = found
    op = flt.condition.op
    if op == "$ex":
        return bool(reached)
    if op == "$nex":
        return not reached
    scalars: list[Any] = []
    _leaves(reached, scalars)
    return any(holds(v, flt.condition) for v in scalars)


def _topic_name_holds(path: str, cond: Condition) -> bool:
    """Topic names compare in their `/path` form, leniently (spec §8.3)."""
    name = f"/{path}"
    if cond.op == "$match":
        return holds(name, cond) or holds(path, cond)
    if cond.op in ("$eq", "$neq"):
        operand = cond.operand if cond.operand.startswith("/") else f"/{cond.operand}"
        return holds(name, Condition(cond.key, cond.op, operand))
    if cond.op == "$in":
        names = [v if v.startswith("/") else f"/{v}" for v in cond.operand]
        return holds(name, Condition(cond.key, "$in", names))
    return holds(name, cond)


def section_holds(
    section: CatalogSection, columns: Mapping[str, Any], metadata: Mapping[str, Any],
    topic_path: str | None = None,
) -> bool:  # fmt: skip
    """Every entry of a section on one catalog row; ``topic_path`` set for the topic section."""
    for flt in section.fields:
        if flt.field == "name" and topic_path is not None:
            if not _topic_name_holds(topic_path, flt.condition):
                return False
        elif not holds(columns[flt.field], flt.condition):
            return False
    return all(metadata_holds(metadata, m) for m in section.metadata)
