"""Query builders producing the `query` request document exactly as spec §8.9 specifies.

Builders assemble the protocol's typed document (``mosaico.protocol.QueryRequest``): every
entry is checked by the protocol's operator table as it is added, so a bad query fails with
``QueryBuildError`` before anything is sent. Every builder method returns the builder, so
calls chain. A key can be set once per builder (ranges use ``between``); repeating it raises
``QueryBuildError`` naming the key.

>>> from mosaico import IMU
>>> from mosaico.query import Query, QueryOntologyCatalog, QuerySequence, QueryTopic
>>> query = Query(
...     QuerySequence().with_name_match("run-*"),
...     QueryTopic().with_ontology_tag(IMU),
...     QueryOntologyCatalog(IMU.Q.acceleration.x.gt(4.0)),
... )
>>> query.to_json()["ontology"]
{'IMU.acceleration.x': {'$gt': 4.0}}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

from mosaico.ontology import Expression, QueryBuildError
from mosaico.protocol import query as wire
from mosaico.protocol.operators import BY_METHOD, OPERATORS

__all__ = ["Query", "QueryBuildError", "QueryOntologyCatalog", "QuerySequence", "QueryTopic"]

_UNSET: Any = object()
_B = TypeVar("_B", bound="_CatalogBuilder")
# The keywords of with_user_metadata: every operator of the table, `ex` covering $ex/$nex.
_METADATA_KEYWORDS = [op.method for op in OPERATORS.values() if op.name != "$nex"]


def _condition(key: str, method: str, value: Any) -> wire.Condition:
    """The condition of a builder keyword (``in_=(1, 2)``); tuples are sent as arrays."""
    if method == "ex":
        if not isinstance(value, bool):
            raise QueryBuildError(f"{key}: ex takes True (exists) or False (does not exist)")
        return wire.Condition(key, "$ex" if value else "$nex", None)
    operand = list(value) if isinstance(value, tuple) else value
    with QueryBuildError.raised_for():
        op = BY_METHOD[method].name
        return wire.Condition.checked(key, op, operand, shown=method, strict=True)


def _metadata_condition(key: str, keywords: dict[str, Any]) -> wire.Condition:
    """The one condition of a ``with_user_metadata`` call."""
    given = {name: value for name, value in keywords.items() if value is not _UNSET}
    if len(given) != 1:
        raise QueryBuildError(
            f"{key}: give exactly one operator ({', '.join(_METADATA_KEYWORDS)}), "
            f"got {sorted(given) or 'none'}"
        )
    ((method, value),) = given.items()
    return _condition(key, method, value)


class _CatalogBuilder:
    """Shared by the sequence and topic builders: named keys plus user-metadata paths."""

    section: ClassVar[str]

    def __init__(self) -> None:
        self._entries: dict[str, wire.FieldEntry] = {}
        self._metadata: dict[str, wire.MetadataEntry] = {}

    def _set(self: _B, field: str, method: str, value: Any) -> _B:
        key = f"{self.section}.{field}"
        if field in self._entries:
            raise QueryBuildError(f"{key} is already set in this builder (use between for ranges)")
        condition = _condition(key, method, value)
        with QueryBuildError.raised_for():
            self._entries[field] = wire.FieldEntry.checked(self.section, field, condition)
        return self

    def with_name(self: _B, name: str) -> _B:
        """The name equals ``name`` (``$eq``); a topic name is ``/path`` (§8.3).

        Raises:
            QueryBuildError: the name is already set in this builder, or ``name`` is not a
                string.
        """
        return self._set("name", "eq", name)

    def with_name_match(self: _B, pattern: str) -> _B:
        """Glob over the whole name: ``*``, ``?``, ``[a-z]``, ``[!a]``, ``#`` (one digit).

        >>> QuerySequence().with_name_match("run-#*").to_json()
        {'name': {'$match': 'run-#*'}}

        Raises:
            QueryBuildError: the name is already set, or the pattern is not a string or has
                an inverted range.
        """
        return self._set("name", "match", pattern)

    def with_name_in(self: _B, names: Iterable[str]) -> _B:
        """The name is one of ``names`` (``$in``); what ``QueryResponse.to_query_*`` build.

        Raises:
            QueryBuildError: the name is already set, or ``names`` is empty or not all
                strings.
        """
        return self._set("name", "in_", list(names))

    def with_created_timestamp(
        self: _B, time_start: int | None = None, time_end: int | None = None
    ) -> _B:
        """Creation time bounds in ns, inclusive; ``None`` or ``0`` = not given.

        Both bounds give ``$between``, one gives ``$geq`` or ``$leq``.

        Args:
            time_start: earliest ``created_at_ns`` (wall-clock ns since the epoch).
            time_end: latest ``created_at_ns``.

        Raises:
            QueryBuildError: no bound, a bound that is not an int, ``time_start`` after
                ``time_end``, or the creation time already set in this builder.
        """
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
            return self._set("created_at_ns", "between", [start, end])
        if start is not None:
            return self._set("created_at_ns", "geq", start)
        return self._set("created_at_ns", "leq", end)

    def with_user_metadata(
        self: _B, path: str, *, eq: Any = _UNSET, neq: Any = _UNSET, lt: Any = _UNSET,
        leq: Any = _UNSET, gt: Any = _UNSET, geq: Any = _UNSET, between: Any = _UNSET,
        outside: Any = _UNSET, in_: Any = _UNSET, match: Any = _UNSET, ex: Any = _UNSET,
    ) -> _B:  # fmt: skip
        """One condition on a dotted metadata path (``"vehicle.id"``); exactly one operator.

        Each keyword is one operator of spec §8.5; pairs (``between``, ``outside``) and sets
        (``in_``) take a list or a tuple; ``ex=True`` / ``ex=False`` test whether the path
        exists (``$ex`` / ``$nex``). A path missing from a resource's metadata, or a value
        of another type, does not match (never an error on the server).

        >>> QueryTopic().with_user_metadata("sensor.model", eq="xsens").to_json()
        {'user_metadata': {'sensor.model': {'$eq': 'xsens'}}}
        >>> QuerySequence().with_user_metadata("weather", in_=("sunny", "rain")).to_json()
        {'user_metadata': {'weather': {'$in': ['sunny', 'rain']}}}

        Raises:
            QueryBuildError: ``path`` is empty or already set, not exactly one operator is
                given, or the operand has the wrong shape for it.
        """
        key = f"{self.section}.user_metadata.{path}"
        if not isinstance(path, str) or not path:
            raise QueryBuildError(f"{self.section}.user_metadata: the path must be a string")
        if path in self._metadata:
            raise QueryBuildError(f"{key} is already set in this builder (use between for ranges)")
        condition = _metadata_condition(
            key, dict(eq=eq, neq=neq, lt=lt, leq=leq, gt=gt, geq=geq, between=between,
                      outside=outside, in_=in_, match=match, ex=ex),
        )  # fmt: skip
        self._metadata[path] = wire.MetadataEntry(tuple(path.split(".")), condition)
        return self

    def to_section(self) -> wire.CatalogSection:
        """The protocol section this builder describes."""
        return wire.CatalogSection(tuple(self._entries.values()), tuple(self._metadata.values()))

    def to_json(self) -> dict[str, Any]:
        """The section object; ``user_metadata`` comes after the other keys (§8.9)."""
        return self.to_section().to_json()


class QuerySequence(_CatalogBuilder):
    """Filters on sequences: name, creation time, user metadata.

    >>> QuerySequence().with_name("run-001").with_user_metadata("vehicle.id", eq="a").to_json()
    {'name': {'$eq': 'run-001'}, 'user_metadata': {'vehicle.id': {'$eq': 'a'}}}
    """

    section = "sequence"


class QueryTopic(_CatalogBuilder):
    """Filters on topics: name (``/path``), creation time, ontology tag, user metadata.

    >>> from mosaico import IMU
    >>> QueryTopic().with_ontology_tag(IMU).with_name_match("/imu/*").to_json()
    {'ontology_tag': {'$eq': 'IMU'}, 'name': {'$match': '/imu/*'}}
    """

    section = "topic"

    def with_ontology_tag(self, tag: str | type) -> QueryTopic:
        """Topics of one ontology tag: a tag string, or a generated type (its ``TAG``).

        Raises:
            QueryBuildError: ``tag`` is neither a non-empty string nor a type with a
                ``TAG``, or the tag is already set in this builder.
        """
        value = tag if isinstance(tag, str) else getattr(tag, "TAG", None)
        if not isinstance(value, str) or not value:
            raise QueryBuildError(f"topic.ontology_tag: expected a tag or a type, got {tag!r}")
        return self._set("ontology_tag", "eq", value)


class QueryOntologyCatalog:
    """Content conditions from typed expressions (``IMU.Q.acceleration.x.gt(4.0)``); several
    tags may be combined; one expression per key (use ``between`` for ranges).

    A topic matches when one of its rows meets every expression of its tag; with several
    tags, a sequence must have a matching topic for each (§8.7).

    >>> from mosaico import IMU
    >>> QueryOntologyCatalog(
    ...     IMU.Q.acceleration.x.between(0.0, 2.0), IMU.Q.angular_velocity.z.lt(0.5)
    ... ).to_json()
    {'IMU.acceleration.x': {'$between': [0.0, 2.0]}, 'IMU.angular_velocity.z': {'$lt': 0.5}}

    Raises:
        QueryBuildError: as ``with_expression``, for each expression given.
    """

    section: ClassVar[str] = "ontology"

    def __init__(self, *expressions: Expression) -> None:
        self._entries: dict[str, wire.OntologyEntry] = {}
        for expression in expressions:
            self.with_expression(expression)

    def with_expression(self, expression: Expression) -> QueryOntologyCatalog:
        """Add one typed expression (built by a type's ``Q`` proxy).

        Raises:
            QueryBuildError: ``expression`` is not an ``Expression``, or its key is already
                set in this builder.
        """
        if not isinstance(expression, Expression):
            raise QueryBuildError(
                f"expected a typed expression such as IMU.Q.acceleration.x.gt(1.0), "
                f"got {expression!r}"
            )
        if expression.key in self._entries:
            raise QueryBuildError(
                f"{expression.key} is already set in this builder (use between for ranges)"
            )
        with QueryBuildError.raised_for():
            entry = wire.OntologyEntry.parse(expression.key, {expression.op: expression.operand})
        self._entries[expression.key] = entry
        return self

    def to_section(self) -> wire.OntologySection:
        """The protocol section this builder describes."""
        return wire.OntologySection(tuple(self._entries.values()))

    def entries_for(self, tag: str) -> dict[str, Any]:
        """The entries of one tag, as the temporal filters reuse them (§9)."""
        return self.to_section().for_tag(tag).to_json()

    def to_json(self) -> dict[str, Any]:
        """The ``ontology`` section object ``{"<Tag>.<path>": {op: operand}, ...}``."""
        return self.to_section().to_json()


Builder = QuerySequence | QueryTopic | QueryOntologyCatalog
"""A builder of one section of a `query` request."""
_K = TypeVar("_K", QuerySequence, QueryTopic, QueryOntologyCatalog)


class Query:
    """The request document of §8.1 from at most one builder per section.

    The sections combine with AND. ``MosaicoClient.query`` takes the builders themselves and
    makes the ``Query``; build one directly to see or reuse the request document.

    >>> from mosaico.query import Query, QuerySequence, QueryTopic
    >>> Query(QuerySequence().with_name("run-001"), QueryTopic()).to_json()
    {'sequence': {'name': {'$eq': 'run-001'}}, 'topic': {}}

    Raises:
        QueryBuildError: as ``append``.
    """

    def __init__(self, *builders: Builder | Query) -> None:
        self._builders: dict[str, Builder] = {}
        self.append(*builders)

    def append(self, *builders: Builder | Query) -> Query:
        """Add section builders (or the sections of another ``Query``); returns the query.

        Raises:
            QueryBuildError: something that is not a section builder, or a second builder
                of a section the query has already.
        """
        for given in builders:
            if isinstance(given, Query):  # a whole query: its sections
                self.append(*given._builders.values())
                continue
            builder = given
            if not isinstance(builder, (QuerySequence, QueryTopic, QueryOntologyCatalog)):
                raise QueryBuildError(f"expected a query builder, got {builder!r}")
            if builder.section in self._builders:
                raise QueryBuildError(f"the query already has a {builder.section} builder")
            self._builders[builder.section] = builder
        return self

    def _builder(self, kind: type[_K]) -> _K | None:
        found = self._builders.get(kind.section)
        return found if isinstance(found, kind) else None

    def to_request(self) -> wire.QueryRequest:
        """The protocol's `query` request."""
        sequence, topic = self._builder(QuerySequence), self._builder(QueryTopic)
        ontology = self._builder(QueryOntologyCatalog)
        return wire.QueryRequest(
            None if sequence is None else sequence.to_section(),
            None if topic is None else topic.to_section(),
            None if ontology is None else ontology.to_section(),
        )

    @property
    def ontology(self) -> dict[str, Any]:
        """The ontology section (``{}`` when absent), reused by the temporal filters."""
        builder = self._builders.get("ontology")
        return builder.to_json() if builder is not None else {}

    def to_json(self) -> dict[str, Any]:
        """The request body; a section is present iff a builder of it was given."""
        return self.to_request().to_json()
