"""The `query` request document (spec §8.1-§8.5, §8.9) and its reply (§8.8), as typed values.

A request has up to three sections: ``sequence`` and ``topic`` (conditions on catalog values
and on user metadata) and ``ontology`` (conditions on the rows of topics, keyed
``<Tag>.<path>``). Every entry is ``"<key>": {"<op>": operand}``, checked against the one
operator table (``operators``) when it is built or parsed, so the client builders and the
server accept exactly the same documents. Rejections are ``InvalidArgument`` whose message
starts with the key as the user wrote it (``sequence.user_metadata.a.b``,
``IMU.acceleration.x``).

>>> from mosaico.protocol import QueryRequest
>>> request = QueryRequest.from_json({"topic": {"ontology_tag": {"$eq": "IMU"}},
...                                   "ontology": {"IMU.acceleration.x": {"$gt": 4.0}}})
>>> request.ontology.entries[0].path
('acceleration', 'x')
>>> request.to_json()["topic"]
{'ontology_tag': {'$eq': 'IMU'}}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import attrs

from mosaico.protocol import operators as ops
from mosaico.protocol.action_names import ActionName
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.names import TopicLocator


@attrs.frozen
class Condition:
    """One ``{"<op>": operand}`` under ``key``.

    Build it with ``checked`` or ``parse``, which check the operand against the operator
    table; the constructor checks nothing.

    Attributes:
        key: the entry's full key as the user wrote it (``sequence.name``,
            ``IMU.acceleration.x``), used to start every error message.
        op: the operator's wire name (``"$eq"``).
        operand: the decoded JSON operand (a list for pairs and sets, None for ``$ex``).
    """

    key: str
    op: str  # the wire name: "$eq"
    operand: Any

    @classmethod
    def checked(
        cls, key: str, op: str, operand: Any, *, shown: str | None = None, strict: bool = False
    ) -> Condition:
        """A condition whose operand has the shape ``op`` takes (see ``check_operand``).

        Args:
            key: the entry's key, for error messages.
            op: the operator's wire name.
            operand: the decoded operand.
            shown: how messages name the operator (``in_`` for the Python builders).
            strict: also reject sets mixing Python types (the typed builders' rule).

        Raises:
            InvalidArgument: an unknown operator or an operand of the wrong shape.
        """
        ops.check_operand(key, ops.lookup(key, op), operand, shown=shown, strict=strict)
        return cls(key, op, operand)

    @classmethod
    def parse(cls, key: str, value: Any) -> Condition:
        """The decoded JSON ``{"<op>": operand}`` of ``key``.

        Raises:
            InvalidArgument: ``value`` is not an object with exactly one key, or the
                operator or operand is invalid.
        """
        if not isinstance(value, dict) or len(value) != 1:
            raise InvalidArgument(
                f'{key}: expected an object with exactly one operator, e.g. {{"$eq": 1}}, '
                f"got {value!r}"
            )
        ((op, operand),) = value.items()
        return cls.checked(key, op, operand)

    @property
    def operator(self) -> ops.Operator:
        """The row of the operator table for ``op``."""
        return ops.OPERATORS[self.op]

    @property
    def kind(self) -> str | None:
        """JSON kind of the operand (of its elements for ranges and sets)."""
        return ops.operand_kind(self.operator, self.operand)

    def not_on_values(self) -> None:
        """Reject ``$ex`` / ``$nex`` outside user metadata.

        Raises:
            InvalidArgument: the operator is ``$ex`` or ``$nex``.
        """
        if self.operator.metadata_only:
            raise InvalidArgument(f"{self.key}: {self.op} applies to user metadata only")

    def to_json(self) -> dict[str, Any]:
        """``{"<op>": operand}``."""
        return {self.op: self.operand}


# --- sequence and topic sections -------------------------------------------------------------

# Catalog values of each section and the JSON kind of their values (§8.2); `user_metadata`
# is the other key a section takes.
SECTION_FIELDS: dict[str, dict[str, str]] = {
    "sequence": {"name": ops.STRING, "created_at_ns": ops.NUMBER},
    "topic": {
        "name": ops.STRING,
        "created_at_ns": ops.NUMBER,
        "ontology_tag": ops.STRING,
        "serialization_format": ops.STRING,
    },
}


@attrs.frozen
class FieldEntry:
    """A condition on one catalog value (name, created_at_ns, ontology_tag, ...)."""

    field: str
    condition: Condition

    @classmethod
    def checked(cls, section: str, field: str, condition: Condition) -> FieldEntry:
        """Reject unknown fields and operands of the wrong kind for the field.

        Args:
            section: ``"sequence"`` or ``"topic"``.
            field: the catalog value's key inside the section (``"name"``).
            condition: its condition, already checked for shape.

        Raises:
            InvalidArgument: an unknown field, ``$ex`` / ``$nex``, or an operand whose JSON
                kind differs from the field's (a number compared with a name).
        """
        kind = field_kind(section, field, condition.key)
        condition.not_on_values()
        if condition.kind != kind:
            raise ops.cannot_compare(condition.key, f"{kind} value", condition.operand)
        return cls(field, condition)


def field_kind(section: str, field: str, key: str) -> str:
    """The JSON kind of a catalog value of ``section``; unknown fields are rejected.

    Raises:
        InvalidArgument: ``field`` is not a catalog value of ``section``; the message starts
            with ``key`` and lists the known ones.
    """
    columns = SECTION_FIELDS[section]
    if field not in columns:
        known = ", ".join([*columns, "user_metadata"])
        raise InvalidArgument(f"{key}: unknown key (known: {known})")
    return columns[field]


@attrs.frozen
class MetadataEntry:
    """A condition on a dotted user-metadata path (spec §8.4), split into its keys.

    Any operator applies, ``$ex`` / ``$nex`` included; the operand is never checked against
    the metadata's values (a type mismatch is a non-match, not an error).
    """

    path: tuple[str, ...]
    condition: Condition

    @property
    def dotted(self) -> str:
        """The path as written in the document: ``"vehicle.id"``."""
        return ".".join(self.path)


@attrs.frozen
class CatalogSection:
    """The ``sequence`` or ``topic`` section: catalog values, then user metadata."""

    fields: tuple[FieldEntry, ...] = ()
    metadata: tuple[MetadataEntry, ...] = ()

    @classmethod
    def from_json(cls, section: str, body: Any) -> CatalogSection:
        """Validate the decoded ``section`` object (``"sequence"`` or ``"topic"``).

        Raises:
            InvalidArgument: ``body`` is not an object, a key is unknown, or a condition is
                invalid for its key; the message starts with the key (``topic.name``).
        """
        if not isinstance(body, dict):
            raise InvalidArgument(f"{section}: must be a JSON object, got {body!r}")
        fields: list[FieldEntry] = []
        metadata: list[MetadataEntry] = []
        for name, value in body.items():
            key = f"{section}.{name}"
            if name == "user_metadata":
                metadata.extend(_metadata_entries(key, value))
            else:
                field_kind(section, name, key)  # an unknown key first, whatever its condition
                fields.append(FieldEntry.checked(section, name, Condition.parse(key, value)))
        return cls(tuple(fields), tuple(metadata))

    def to_json(self) -> dict[str, Any]:
        """The section object; ``user_metadata`` comes after the other keys (§8.9)."""
        out: dict[str, Any] = {f.field: f.condition.to_json() for f in self.fields}
        if self.metadata:
            out["user_metadata"] = {m.dotted: m.condition.to_json() for m in self.metadata}
        return out


def _metadata_entries(key: str, value: Any) -> Iterator[MetadataEntry]:
    if not isinstance(value, dict):
        raise InvalidArgument(f"{key}: must be an object of dotted paths, got {value!r}")
    for path, cond in value.items():
        yield MetadataEntry(tuple(path.split(".")), Condition.parse(f"{key}.{path}", cond))


# --- ontology section ------------------------------------------------------------------------


@attrs.frozen
class Selector:
    """A list selector: ``[?]`` (any), ``[!]`` (all) or ``[i]`` (index).

    ``str()`` gives the selector as written in a key.
    """

    kind: str  # "any", "all", "index"
    index: int = 0

    def __str__(self) -> str:
        return {"any": "[?]", "all": "[!]"}.get(self.kind, f"[{self.index}]")


Step = str | Selector
"""One step of an ontology path: a field name or a list selector."""
_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[(?:\?|!|[0-9]+)\])*)")
_SELECTOR = re.compile(r"\[(\?|!|[0-9]+)\]")
_MAX_INDEX_DIGITS = 18  # any index of an int64 offset fits


def _selector(key: str, text: str) -> Selector:
    if text == "?":
        return Selector("any")
    if text == "!":
        return Selector("all")
    if len(text) > _MAX_INDEX_DIGITS:
        raise InvalidArgument(f"{key}: list index of {len(text)} digits is out of range")
    return Selector("index", int(text))


def parse_ontology_key(key: str) -> tuple[str, tuple[Step, ...]]:
    """``"IMU.acceleration.covariance[2]"`` -> ``("IMU", ("acceleration", "covariance",
    Selector("index", 2)))``: the tag, then field names and list selectors."""
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
        path.extend(_selector(key, sel) for sel in _SELECTOR.findall(found.group(2)))
    return tag, tuple(path)


@attrs.frozen
class OntologyEntry:
    """``"<Tag>.<path>": {op: operand}``; ``path`` alternates field names and selectors."""

    tag: str
    path: tuple[Step, ...]
    condition: Condition

    @classmethod
    def parse(cls, key: str, value: Any) -> OntologyEntry:
        """The entry of a decoded ``"<Tag>.<path>": {op: operand}``.

        Only the key's syntax and the operand's shape are checked here; whether the path
        exists, and fits the operand, depends on each topic's schema (the server's plan).

        Raises:
            InvalidArgument: a malformed key, an invalid condition, or ``$ex`` / ``$nex``.
        """
        tag, path = parse_ontology_key(key)
        condition = Condition.parse(key, value)
        condition.not_on_values()
        return cls(tag, path, condition)

    @property
    def key(self) -> str:
        """The full key as written: ``"IMU.acceleration.covariance[2]"``."""
        return self.condition.key


@attrs.frozen
class OntologySection:
    """The ``ontology`` section (also the ontology of the temporal filters, §9)."""

    entries: tuple[OntologyEntry, ...] = ()

    @classmethod
    def from_json(cls, body: Any) -> OntologySection:
        """Validate the decoded ``ontology`` object; entries keep the document's order.

        Raises:
            InvalidArgument: ``body`` is not an object, or an entry is invalid.
        """
        if not isinstance(body, dict):
            raise InvalidArgument(f"ontology: must be a JSON object, got {body!r}")
        return cls(tuple(OntologyEntry.parse(key, value) for key, value in body.items()))

    def for_tag(self, tag: str) -> OntologySection:
        """The entries of one tag, as the temporal filters reuse them (§9)."""
        return OntologySection(tuple(e for e in self.entries if e.tag == tag))

    def by_tag(self) -> dict[str, tuple[OntologyEntry, ...]]:
        """The entries grouped by tag, tags in order of first appearance (§8.7, step 4)."""
        grouped: dict[str, list[OntologyEntry]] = {}
        for entry in self.entries:
            grouped.setdefault(entry.tag, []).append(entry)
        return {tag: tuple(entries) for tag, entries in grouped.items()}

    def to_json(self) -> dict[str, Any]:
        """The ``ontology`` object ``{"<Tag>.<path>": {op: operand}, ...}``."""
        return {e.key: e.condition.to_json() for e in self.entries}


# --- the request -----------------------------------------------------------------------------

SECTIONS = ("sequence", "topic", "ontology")
"""The top-level sections of a `query` request, in the order ``to_json`` writes them."""


@attrs.frozen
class QueryRequest:
    """The `query` action's body (§8.1); an absent section is None, an empty one is empty."""

    action: ClassVar[ActionName] = ActionName.QUERY
    sequence: CatalogSection | None = None
    topic: CatalogSection | None = None
    ontology: OntologySection | None = None

    @classmethod
    def from_json(cls, obj: Any) -> QueryRequest:
        """Validate a decoded body. Unknown top-level sections are rejected.

        Raises:
            InvalidArgument: ``obj`` is not an object, a section is unknown, or an entry is
                invalid; the message starts with the offending key.
        """
        if not isinstance(obj, dict):
            raise InvalidArgument(f"query: the request must be a JSON object, got {obj!r}")
        unknown = set(obj) - set(SECTIONS)
        if unknown:
            raise InvalidArgument(
                f"{sorted(unknown)[0]}: unknown query section (known: {', '.join(SECTIONS)})"
            )
        sequence, topic, ontology = (obj.get(name) for name in SECTIONS)
        return cls(
            None if sequence is None else CatalogSection.from_json("sequence", sequence),
            None if topic is None else CatalogSection.from_json("topic", topic),
            None if ontology is None else OntologySection.from_json(ontology),
        )

    def to_json(self) -> dict[str, Any]:
        """The body: the sections that are not None, an empty one as ``{}`` (§8.1)."""
        sections = zip(SECTIONS, (self.sequence, self.topic, self.ontology))
        return {name: section.to_json() for name, section in sections if section is not None}


# --- the reply -------------------------------------------------------------------------------


@attrs.frozen
class QueryItemTopic:
    """A matching topic of a reply item: its locator and its ontology tag."""

    topic: TopicLocator
    ontology_tag: str


@attrs.frozen
class QueryItem:
    """One sequence of the reply and its matching topics."""

    sequence: str
    topics: tuple[QueryItemTopic, ...]

    @classmethod
    def from_json(cls, raw: Any) -> QueryItem:
        """Read one ``items[]`` entry; extra keys are ignored.

        Raises:
            InvalidArgument: no ``sequence`` string, no ``topics`` array, or a topic without
                a valid ``locator`` or an ``ontology_tag`` string.
        """
        if not isinstance(raw, dict) or not isinstance(raw.get("sequence"), str):
            raise InvalidArgument(f"query response item needs a 'sequence' string: {raw!r}")
        if not isinstance(raw.get("topics"), list):
            raise InvalidArgument(f"query response item {raw['sequence']!r} needs 'topics'")
        return cls(raw["sequence"], tuple(_item_topic(t) for t in raw["topics"]))

    def to_json(self) -> dict[str, Any]:
        """``{"sequence", "topics": [{"locator", "ontology_tag"}, ...]}``."""
        return {
            "sequence": self.sequence,
            "topics": [{"locator": str(t.topic), "ontology_tag": t.ontology_tag}
                       for t in self.topics],
        }  # fmt: skip


def _item_topic(raw: Any) -> QueryItemTopic:
    if not isinstance(raw, dict):
        raise InvalidArgument(f"query response topic must be an object, got {raw!r}")
    topic, tag = TopicLocator.parse(raw.get("locator")), raw.get("ontology_tag")
    if not isinstance(tag, str):
        raise InvalidArgument(f"query response topic {str(topic)!r} has no ontology_tag string")
    return QueryItemTopic(topic, tag)


@attrs.frozen
class QueryReply:
    """The `query` payload ``{"items": [...]}`` (§8.8); extra keys are ignored."""

    items: tuple[QueryItem, ...]

    @classmethod
    def from_json(cls, payload: Any) -> QueryReply:
        """Read the ``response`` of a `query` reply.

        Raises:
            InvalidArgument: no ``items`` array, or a malformed item.
        """
        if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
            raise InvalidArgument(f"query response must be {{'items': [...]}}, got {payload!r}")
        return cls(tuple(QueryItem.from_json(raw) for raw in payload["items"]))

    @classmethod
    def of(cls, items: Iterable[QueryItem]) -> QueryReply:
        """The reply of any iterable of items (the server's evaluation yields them)."""
        return cls(tuple(items))

    def to_json(self) -> dict[str, Any]:
        """The payload ``{"items": [...]}``."""
        return {"items": [item.to_json() for item in self.items]}
