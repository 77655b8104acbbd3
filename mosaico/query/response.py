"""The `query` response (spec §8.8), chaining, and the temporal filters' requests (§9).

No network here: the client sends ``(action name, body)`` pairs built by these functions and
hands the decoded payloads back to the parsers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from mosaico.errors import InputError, MosaicoError
from mosaico.query.builders import QuerySequence, QueryTopic

QUERY_ACTION = "query"
CLUSTERIZE_ACTION = "topic_filter_clusterize"
INTERSECT_ACTION = "topic_filter_intersect"


class ResponseError(MosaicoError, ValueError):
    """A reply that does not have the shape the protocol defines."""


@attrs.frozen
class TimeCluster:
    """One window of a temporal filter: both bounds are row timestamps, inclusive."""

    id: int
    start_ns: int
    end_ns: int


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ResponseError(f"{what} must be an integer, got {value!r}")
    return value


def parse_clusters(payloads: Sequence[Any], action: str = CLUSTERIZE_ACTION) -> list[TimeCluster]:
    """The decoded pages of a temporal-filter reply, one ``{"id", "ts"}`` each."""
    out = []
    for page in payloads:
        if not isinstance(page, dict) or not isinstance(page.get("ts"), dict):
            raise ResponseError(f"{action} page must be {{'id', 'ts': {{...}}}}, got {page!r}")
        ts = page["ts"]
        out.append(
            TimeCluster(
                _int(page.get("id"), f"{action} page id"),
                _int(ts.get("start_ns"), f"{action} start_ns"),
                _int(ts.get("end_ns"), f"{action} end_ns"),
            )
        )
    return out


def clusterize_request(
    locator: str, ontology: Mapping[str, Any], clustering_dt_ns: int = 0,
    timestamp_range: tuple[int, int] | None = None,
) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """``topic_filter_clusterize`` (§9.1): every key present; range half-open [start, end)."""
    if clustering_dt_ns < 0:
        raise InputError(f"clustering_dt_ns must be >= 0, got {clustering_dt_ns}")
    window = None
    if timestamp_range is not None:
        start, end = timestamp_range
        if start >= end:
            raise InputError(f"timestamp_range needs start < end, got {timestamp_range}")
        window = {"start_ns": start, "end_ns": end}
    body = {
        "locator": locator,
        "clustering_dt_ns": clustering_dt_ns,
        "ontology": dict(ontology),
        "timestamp_range": window,
    }
    return CLUSTERIZE_ACTION, body


def intersect_request(
    topics: Sequence[tuple[str, int, Mapping[str, Any]]], intersect_dt_ns: int = 0
) -> tuple[str, dict[str, Any]]:
    """``topic_filter_intersect`` (§9.2) from (locator, clustering_dt_ns, ontology) triples."""
    if not topics:
        raise InputError("intersect needs at least one topic")
    if intersect_dt_ns < 0:
        raise InputError(f"intersect_dt_ns must be >= 0, got {intersect_dt_ns}")
    body = {
        "topics": [
            {"locator": loc, "clustering_dt_ns": dt, "ontology": dict(onto)}
            for loc, dt, onto in topics
        ],
        "intersect_dt_ns": intersect_dt_ns,
    }
    return INTERSECT_ACTION, body


def _entries_for(ontology: Mapping[str, Any], tag: str) -> dict[str, Any]:
    return {key: value for key, value in ontology.items() if key.partition(".")[0] == tag}


@attrs.frozen
class QueryResponseItemTopic:
    """A matching topic; ``ontology`` holds the query's entries for its tag (§9 reuses them)."""

    locator: str
    ontology_tag: str
    ontology: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def sequence(self) -> str:
        return self.locator.strip("/").split("/", 1)[0]

    @property
    def name(self) -> str:
        """Display name ``/path`` (spec §3.3)."""
        return "/" + self.locator.strip("/").split("/", 1)[1]

    def clusterize_request(
        self, clustering_dt_ns: int = 0, timestamp_range: tuple[int, int] | None = None
    ) -> tuple[str, dict[str, Any]]:
        return clusterize_request(self.locator, self.ontology, clustering_dt_ns, timestamp_range)


@attrs.frozen
class QueryResponseItem:
    sequence: str
    topics: tuple[QueryResponseItemTopic, ...]

    def clusterize_all_requests(
        self, clustering_dt_ns: int = 0, timestamp_range: tuple[int, int] | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        return [t.clusterize_request(clustering_dt_ns, timestamp_range) for t in self.topics]

    def intersect_request(
        self, clustering_dt_ns: int = 0, intersect_dt_ns: int = 0
    ) -> tuple[str, dict[str, Any]]:
        """Windows where the conditions of all this item's topics hold together."""
        triples = [(t.locator, clustering_dt_ns, t.ontology) for t in self.topics]
        return intersect_request(triples, intersect_dt_ns)


def _topic(raw: Any, ontology: Mapping[str, Any]) -> QueryResponseItemTopic:
    if not isinstance(raw, dict):
        raise ResponseError(f"query response topic must be an object, got {raw!r}")
    locator, tag = raw.get("locator"), raw.get("ontology_tag")
    if not isinstance(locator, str) or len([s for s in locator.split("/") if s]) < 2:
        raise ResponseError(f"query response topic locator {locator!r} is not a topic locator")
    if not isinstance(tag, str):
        raise ResponseError(f"query response topic {locator!r} has no ontology_tag string")
    return QueryResponseItemTopic(locator, tag, _entries_for(ontology, tag))


@attrs.frozen
class QueryResponse:
    items: tuple[QueryResponseItem, ...]

    @classmethod
    def from_payload(cls, payload: Any, ontology: Mapping[str, Any] | None = None) -> QueryResponse:
        """Parse the ``response`` of a `query` reply; ``ontology`` is the request's ontology
        section (``Query.ontology``), kept on each topic for the temporal filters."""
        entries = ontology or {}
        if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
            raise ResponseError(f"query response must be {{'items': [...]}}, got {payload!r}")
        items = []
        for raw in payload["items"]:
            if not isinstance(raw, dict) or not isinstance(raw.get("sequence"), str):
                raise ResponseError(f"query response item needs a 'sequence' string: {raw!r}")
            if not isinstance(raw.get("topics"), list):
                raise ResponseError(f"query response item {raw['sequence']!r} needs 'topics'")
            topics = tuple(_topic(t, entries) for t in raw["topics"])
            items.append(QueryResponseItem(raw["sequence"], topics))
        return cls(tuple(items))

    def __len__(self) -> int:
        return len(self.items)

    def is_empty(self) -> bool:
        return not self.items

    def to_query_sequence(self) -> QuerySequence:
        """Restrict a later query to these sequences: ``name $in [...]`` (§8.8)."""
        return QuerySequence().with_name_in([item.sequence for item in self.items])

    def to_query_topic(self) -> QueryTopic:
        """Restrict a later query to these topics' names (``/path``), any sequence (§8.8)."""
        names = dict.fromkeys(t.name for item in self.items for t in item.topics)
        return QueryTopic().with_name_in(list(names))
