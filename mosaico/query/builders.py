"""Query builders producing the `query` request document exactly as spec §8.9 specifies.

Every builder method returns the builder, so calls chain. A key can be set once per builder
(ranges use ``between``); repeating it raises ``QueryBuildError`` naming the key. Builders
validate operands as they are built, so a bad query fails before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

from mosaico.ontology import Expression, QueryBuildError

__all__ = ["Query", "QueryBuildError", "QueryOntologyCatalog", "QuerySequence", "QueryTopic"]

_UNSET: Any = object()
_B = TypeVar("_B", bound="_CatalogBuilder")


def _scalar(key: str, value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)):
        return value
    raise QueryBuildError(f"{key}: {value!r} is not a number, string or boolean")


def _pair(key: str, op: str, value: Any) -> list[Any]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise QueryBuildError(f"{key}: {op} takes a (low, high) pair, got {value!r}")
    low, high = (_scalar(key, v) for v in value)
    if isinstance(low, bool) or isinstance(high, bool):
        raise QueryBuildError(f"{key}: {op} bounds cannot be booleans")
    if isinstance(low, str) != isinstance(high, str):
        raise QueryBuildError(f"{key}: {op} bounds must be two numbers or two strings")
    if low > high:
        raise QueryBuildError(f"{key}: {op} needs low <= high, got [{low!r}, {high!r}]")
    return [low, high]


def _metadata_condition(key: str, operators: dict[str, Any]) -> dict[str, Any]:
    """The one ``{"$op": operand}`` of a ``with_user_metadata`` call."""
    given = {name: value for name, value in operators.items() if value is not _UNSET}
    if len(given) != 1:
        raise QueryBuildError(
            f"{key}: give exactly one operator (eq, neq, lt, leq, gt, geq, between, outside, "
            f"in_, match, ex), got {sorted(given) or 'none'}"
        )
    ((name, value),) = given.items()
    if name == "ex":
        if not isinstance(value, bool):
            raise QueryBuildError(f"{key}: ex takes True (exists) or False (does not exist)")
        return {"$ex" if value else "$nex": None}
    if name in ("between", "outside"):
        return {f"${name}": _pair(key, name, value)}
    if name == "in_":
        if not isinstance(value, (list, tuple)):
            raise QueryBuildError(f"{key}: in_ takes a list of values, got {value!r}")
        values = [_scalar(key, v) for v in value]
        if not values:
            raise QueryBuildError(f"{key}: in_ needs at least one value")
        if len({type(v) for v in values}) > 1:
            raise QueryBuildError(f"{key}: in_ values must all have one type, got {values!r}")
        return {"$in": values}
    if name == "match" and not isinstance(value, str):
        raise QueryBuildError(f"{key}: match takes a glob pattern string, got {value!r}")
    return {f"${name}": _scalar(key, value)}


class _CatalogBuilder:
    """Shared by the sequence and topic builders: named keys plus user-metadata paths."""

    section: ClassVar[str]

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] = {}
        self._metadata: dict[str, dict[str, Any]] = {}

    def _set(self: _B, key: str, condition: dict[str, Any]) -> _B:
        if key in self._entries:
            raise QueryBuildError(
                f"{self.section}.{key} is already set in this builder (use between for ranges)"
            )
        self._entries[key] = condition
        return self

    def with_name(self: _B, name: str) -> _B:
        return self._set("name", {"$eq": _scalar(f"{self.section}.name", name)})

    def with_name_match(self: _B, pattern: str) -> _B:
        """Glob over the whole name: ``*``, ``?``, ``[a-z]``, ``[!a]``, ``#`` (one digit)."""
        return self._set("name", {"$match": _scalar(f"{self.section}.name", pattern)})

    def with_name_in(self: _B, names: Iterable[str]) -> _B:
        values = list(names)
        if not values or not all(isinstance(v, str) for v in values):
            raise QueryBuildError(f"{self.section}.name: in needs one or more strings")
        return self._set("name", {"$in": values})

    def with_created_timestamp(
        self: _B, time_start: int | None = None, time_end: int | None = None
    ) -> _B:
        """Creation time bounds in ns, inclusive; ``None`` or ``0`` = not given."""
        key = f"{self.section}.created_at_ns"
        for bound in (time_start, time_end):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise QueryBuildError(f"{key}: bounds are integer nanoseconds, got {bound!r}")
        start, end = time_start or None, time_end or None
        if start is None and end is None:
            raise QueryBuildError(f"{key}: give time_start, time_end or both")
        if start is not None and end is not None:
            if start > end:
                raise QueryBuildError(f"{key}: time_start {start} is after time_end {end}")
            return self._set("created_at_ns", {"$between": [start, end]})
        if start is not None:
            return self._set("created_at_ns", {"$geq": start})
        return self._set("created_at_ns", {"$leq": end})

    def with_user_metadata(
        self: _B, path: str, *, eq: Any = _UNSET, neq: Any = _UNSET, lt: Any = _UNSET,
        leq: Any = _UNSET, gt: Any = _UNSET, geq: Any = _UNSET, between: Any = _UNSET,
        outside: Any = _UNSET, in_: Any = _UNSET, match: Any = _UNSET, ex: Any = _UNSET,
    ) -> _B:  # fmt: skip
        """One condition on a dotted metadata path (``"vehicle.id"``); exactly one operator."""
        key = f"{self.section}.user_metadata.{path}"
        if not isinstance(path, str) or not path:
            raise QueryBuildError(f"{self.section}.user_metadata: the path must be a string")
        if path in self._metadata:
            raise QueryBuildError(f"{key} is already set in this builder (use between for ranges)")
        self._metadata[path] = _metadata_condition(
            key, dict(eq=eq, neq=neq, lt=lt, leq=leq, gt=gt, geq=geq, between=between,
                      outside=outside, in_=in_, match=match, ex=ex),
        )  # fmt: skip
        return self

    def to_json(self) -> dict[str, Any]:
        """The section object; ``user_metadata`` comes after the other keys (§8.9)."""
        out: dict[str, Any] = {key: dict(cond) for key, cond in self._entries.items()}
        if self._metadata:
            out["user_metadata"] = {path: dict(c) for path, c in self._metadata.items()}
        return out


class QuerySequence(_CatalogBuilder):
    """Filters on sequences: name, creation time, user metadata."""

    section = "sequence"


class QueryTopic(_CatalogBuilder):
    """Filters on topics: name (``/path``), creation time, ontology tag, user metadata."""

    section = "topic"

    def with_ontology_tag(self, tag: str | type) -> QueryTopic:
        """A tag string, or a generated type (its ``TAG``)."""
        value = tag if isinstance(tag, str) else getattr(tag, "TAG", None)
        if not isinstance(value, str) or not value:
            raise QueryBuildError(f"topic.ontology_tag: expected a tag or a type, got {tag!r}")
        return self._set("ontology_tag", {"$eq": value})


class QueryOntologyCatalog:
    """Content conditions from typed expressions (``IMU.Q.acceleration.x.gt(4.0)``); several
    tags may be combined; one expression per key (use ``between`` for ranges)."""

    section: ClassVar[str] = "ontology"

    def __init__(self, *expressions: Expression) -> None:
        self._entries: dict[str, dict[str, Any]] = {}
        for expression in expressions:
            self.with_expression(expression)

    def with_expression(self, expression: Expression) -> QueryOntologyCatalog:
        if not isinstance(expression, Expression):
            raise QueryBuildError(
                f"expected a typed expression such as IMU.Q.acceleration.x.gt(1.0), "
                f"got {expression!r}"
            )
        if expression.key in self._entries:
            raise QueryBuildError(
                f"{expression.key} is already set in this builder (use between for ranges)"
            )
        self._entries[expression.key] = {expression.op: expression.operand}
        return self

    def entries_for(self, tag: str) -> dict[str, Any]:
        """The entries of one tag, as the temporal filters reuse them (§9)."""
        return {k: dict(v) for k, v in self._entries.items() if k.partition(".")[0] == tag}

    def to_json(self) -> dict[str, Any]:
        return {key: dict(cond) for key, cond in self._entries.items()}


Builder = QuerySequence | QueryTopic | QueryOntologyCatalog


class Query:
    """The request document of §8.1 from at most one builder per section."""

    def __init__(self, *builders: Builder) -> None:
        self._builders: dict[str, Builder] = {}
        self.append(*builders)

    def append(self, *builders: Builder) -> Query:
        for builder in builders:
            if not isinstance(builder, (QuerySequence, QueryTopic, QueryOntologyCatalog)):
                raise QueryBuildError(f"expected a query builder, got {builder!r}")
            if builder.section in self._builders:
                raise QueryBuildError(f"the query already has a {builder.section} builder")
            self._builders[builder.section] = builder
        return self

    @property
    def ontology(self) -> dict[str, Any]:
        """The ontology section (``{}`` when absent), reused by the temporal filters."""
        builder = self._builders.get("ontology")
        return builder.to_json() if builder is not None else {}

    def to_json(self) -> dict[str, Any]:
        return {section: builder.to_json() for section, builder in self._builders.items()}
