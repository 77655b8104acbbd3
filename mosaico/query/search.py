"""Queries written as text, run: the sequences and topics matching conditions, with the time
ranges where they hold. What ``mosaico query`` and the viewer's query page share.

Conditions are those of `mosaico.query.text`: content conditions on topic rows
(``IMU.acceleration.x > 4``), sequence and topic user-metadata conditions
(``vehicle.id = alpha``), name globs and an ontology tag. Every mistake raises
`SearchInputError` naming the part (``where``, ``meta``, ...) and the text.

>>> search = Search(where=["IMU.acceleration.x > 4"], meta=["vehicle.id = alpha"])
>>> matches = run_search(client, search, ranges_ns=100_000_000)
>>> matches[0]["sequence"], matches[0]["topics"][0]["ranges"][0]
('drive-3', {'start_ns': 1700000001000000000, 'end_ns': 1700000001250000000})
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from mosaico.ontology import QueryBuildError
from mosaico.query.builders import QueryOntologyCatalog, QuerySequence, QueryTopic
from mosaico.query.text import content_expression, metadata_condition

if TYPE_CHECKING:
    from mosaico.client import MosaicoClient

__all__ = ["Search", "SearchInputError", "builders", "run_search"]

_B = TypeVar("_B", QuerySequence, QueryTopic)


class SearchInputError(QueryBuildError):
    """A condition or glob of a `Search` that does not build; ``part`` names its field
    (``where``, ``meta``, ``topic_meta``, ``name``, ``topic``, ``tag``)."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part


@attrs.frozen
class Search:
    """A query as text: every condition must hold (AND).

    Attributes:
        where: content conditions, ``TAG.FIELD OP VALUE``.
        meta: sequence user-metadata conditions, ``PATH OP VALUE``.
        topic_meta: topic user-metadata conditions.
        name: a sequence name glob.
        topic: a topic name glob (a missing leading ``/`` is added).
        tag: only topics of this ontology tag.
    """

    where: Sequence[str] = ()
    meta: Sequence[str] = ()
    topic_meta: Sequence[str] = ()
    name: str | None = None
    topic: str | None = None
    tag: str | None = None


def _checked(part: str, text: str, build: Callable[[str], Any]) -> Any:
    """``build(text)``, a bad condition reported against its part."""
    try:
        return build(text)
    except QueryBuildError as err:
        message = str(err) if text.strip() in str(err) else f"{text.strip()!r}: {err}"
        raise SearchInputError(part, message) from None


def _with_metadata(builder: _B, text: str) -> _B:
    path, keyword = metadata_condition(text)
    return builder.with_user_metadata(path, **keyword)


def _catalog(
    builder: _B, part: str, name_part: str, name: str | None, metas: Sequence[str]
) -> _B | None:
    """A sequence or topic builder with a name glob and metadata conditions; None if empty."""
    used = False
    if name is not None:
        _checked(name_part, name, builder.with_name_match)
        used = True
    for text in metas:
        _checked(part, text, functools.partial(_with_metadata, builder))
        used = True
    return builder if used else None


def builders(search: Search) -> list[QuerySequence | QueryTopic | QueryOntologyCatalog]:
    """The query's builders (sections left out when unused).

    Raises:
        SearchInputError: a condition, glob or tag that does not build.
    """
    sequence = _catalog(QuerySequence(), "meta", "name", search.name, search.meta)
    topic = search.topic
    if topic is not None and not topic.startswith("/"):
        topic = f"/{topic}"
    topics = _catalog(QueryTopic(), "topic_meta", "topic", topic, search.topic_meta)
    if search.tag is not None:
        topics = topics or QueryTopic()
        _checked("tag", search.tag, topics.with_ontology_tag)
    content = QueryOntologyCatalog()
    for text in search.where:
        _checked("where", text, lambda t: content.with_expression(content_expression(t)))
    found = [sequence, topics, content if search.where else None]
    return [b for b in found if b is not None]


def run_search(
    client: MosaicoClient, search: Search, ranges_ns: int | None = None
) -> list[dict[str, Any]]:
    """The matches as JSON-able rows: one per sequence (``sequence``, ``topics``), each topic
    with ``topic``, ``locator``, ``ontology_tag`` and, with ``ranges_ns``, the ``ranges``
    (``start_ns``, ``end_ns``, inclusive) where its conditions hold, split at gaps longer
    than ``ranges_ns``.

    Raises:
        SearchInputError: as `builders`.
    """
    response = client.query(*builders(search))
    out = []
    for item in response.items if response is not None else ():
        topics = []
        for t in item.topics:
            row: dict[str, Any] = {"topic": t.name, "locator": t.locator,
                                   "ontology_tag": t.ontology_tag}  # fmt: skip
            if ranges_ns is not None:
                row["ranges"] = [
                    {"start_ns": c.start_ns, "end_ns": c.end_ns}
                    for c in client.clusterize(t, clustering_dt_ns=ranges_ns)
                ]
            topics.append(row)
        out.append({"sequence": item.sequence, "topics": topics})
    return out
