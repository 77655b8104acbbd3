"""The `query` response (spec §8.8), chaining, and the temporal filters' requests (§9).

No network here: the reply documents are the protocol's (``QueryReply``, ``TimeCluster``);
this module wraps them with what a user does next (chain a query, clusterize a topic,
intersect topics) and builds the protocol requests for that.

>>> from mosaico.query import QueryResponse
>>> response = QueryResponse.from_payload(
...     {"items": [{"sequence": "run-001",
...                 "topics": [{"locator": "run-001/imu", "ontology_tag": "IMU"}]}]},
...     {"IMU.acceleration.x": {"$gt": 4.0}},
... )
>>> topic = response.items[0].topics[0]
>>> topic.name, topic.ontology
('/imu', {'IMU.acceleration.x': {'$gt': 4.0}})
>>> response.to_query_sequence().to_json()
{'name': {'$in': ['run-001']}}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from mosaico.errors import MosaicoError
from mosaico.protocol.action_names import ActionName
from mosaico.protocol.commands import TimeWindow
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.names import TopicLocator
from mosaico.protocol.query import OntologySection, QueryItem, QueryReply
from mosaico.protocol.temporal import ClusterizeRequest, IntersectRequest, TimeCluster
from mosaico.query.builders import QueryBuildError, QuerySequence, QueryTopic

Window = TimeWindow | tuple[int, int] | None
"""A temporal filter's range: a ``TimeWindow`` or a ``(start_ns, end_ns)`` pair, half-open."""


class ResponseError(MosaicoError, ValueError):
    """A reply that does not have the shape the protocol defines."""


@contextmanager
def _reply(what: str) -> Iterator[None]:
    try:
        yield
    except InvalidArgument as err:
        raise ResponseError(f"{what}: {err.detail}") from err


def parse_clusters(
    payloads: Sequence[Any], action: str = ActionName.TOPIC_FILTER_CLUSTERIZE.value
) -> list[TimeCluster]:
    """The decoded pages of a temporal-filter reply, one ``{"id", "ts"}`` each.

    Raises:
        ResponseError: a page of another shape.
    """
    with _reply(f"{action} reply"):
        return [TimeCluster.from_json(page, action) for page in payloads]


def _window(timestamp_range: Window) -> TimeWindow:
    if timestamp_range is None:
        return TimeWindow()
    if isinstance(timestamp_range, TimeWindow):
        return timestamp_range
    start, end = timestamp_range
    return TimeWindow.checked(start, end, "timestamp_range")


def clusterize_request(
    locator: str | TopicLocator, ontology: Mapping[str, Any] | OntologySection | None = None,
    clustering_dt_ns: int = 0, timestamp_range: Window = None,
) -> ClusterizeRequest:  # fmt: skip
    """``topic_filter_clusterize`` (§9.1) of one topic; the range is half-open [start, end).

    Args:
        locator: the topic locator ``seq/path``, as the query reply gave it.
        ontology: the conditions on the topic's rows (the protocol section or its JSON);
            None: every row.
        clustering_dt_ns: a gap larger than this (ns) starts a new cluster; 0: one cluster.
        timestamp_range: rows kept, or None for all.

    >>> clusterize_request("run-001/imu", {"IMU.acceleration.x": {"$gt": 4.0}}, 1_000_000,
    ...                    (0, 10)).to_json()["timestamp_range"]
    {'start_ns': 0, 'end_ns': 10}

    Raises:
        QueryBuildError: a malformed locator or ontology entry, a negative gap, or an empty
            range.
    """
    with QueryBuildError.raised_for():
        topic = locator if isinstance(locator, TopicLocator) else TopicLocator.parse(locator)
        entries = _section(ontology)
        return ClusterizeRequest.checked(
            topic, clustering_dt_ns, entries, _window(timestamp_range)
        )


def intersect_request(
    topics: Sequence[ClusterizeRequest], intersect_dt_ns: int = 0
) -> IntersectRequest:
    """``topic_filter_intersect`` (§9.2) of the topics' clusterize requests.

    ``intersect_dt_ns`` is how far apart (ns) two topics' clusters may be and still count
    as overlapping.

    Raises:
        QueryBuildError: no topic, or a negative ``intersect_dt_ns``.
    """
    with QueryBuildError.raised_for():
        return IntersectRequest.checked(tuple(topics), intersect_dt_ns)


def _section(ontology: Mapping[str, Any] | OntologySection | None) -> OntologySection:
    """The query's ontology section, given as the protocol's or as its JSON."""
    if isinstance(ontology, OntologySection):
        return ontology
    with QueryBuildError.raised_for():
        return OntologySection.from_json(dict(ontology or {}))


@attrs.frozen
class QueryResponseItemTopic:
    """A matching topic; ``entries`` hold the query's entries for its tag (§9 reuses them)."""

    topic: TopicLocator
    ontology_tag: str
    entries: OntologySection = OntologySection()

    @property
    def locator(self) -> str:
        """The topic locator ``seq/path``, as the server returned it."""
        return str(self.topic)

    @property
    def sequence(self) -> str:
        """The name of the topic's sequence."""
        return self.topic.sequence

    @property
    def name(self) -> str:
        """Display name ``/path`` (spec §3.3)."""
        return self.topic.name

    @property
    def ontology(self) -> dict[str, Any]:
        """The query's ontology entries for this topic's tag, as JSON."""
        return self.entries.to_json()

    def clusterize_request(
        self, clustering_dt_ns: int = 0, timestamp_range: Window = None
    ) -> ClusterizeRequest:
        """The clusterize request of this topic with the query's entries for its tag.

        ``MosaicoClient.clusterize(topic, ...)`` sends it; the arguments are those of the
        module's ``clusterize_request``.
        """
        return clusterize_request(self.topic, self.entries, clustering_dt_ns, timestamp_range)


@attrs.frozen
class QueryResponseItem:
    """One matching sequence of a `query` reply and its matching topics (§8.8)."""

    sequence: str
    topics: tuple[QueryResponseItemTopic, ...]

    def clusterize_all_requests(
        self, clustering_dt_ns: int = 0, timestamp_range: Window = None
    ) -> list[ClusterizeRequest]:
        """One clusterize request per topic, all with the same gap and range."""
        return [t.clusterize_request(clustering_dt_ns, timestamp_range) for t in self.topics]

    def intersect_request(
        self, clustering_dt_ns: int = 0, intersect_dt_ns: int = 0
    ) -> IntersectRequest:
        """Windows where the conditions of all this item's topics hold together."""
        return intersect_request(self.clusterize_all_requests(clustering_dt_ns), intersect_dt_ns)


def _item(item: QueryItem, entries: OntologySection) -> QueryResponseItem:
    topics = (
        QueryResponseItemTopic(t.topic, t.ontology_tag, entries.for_tag(t.ontology_tag))
        for t in item.topics
    )
    return QueryResponseItem(item.sequence, tuple(topics))


@attrs.frozen
class QueryResponse:
    """What ``MosaicoClient.query`` returns: the matching sequences, and their topics.

    ``len()`` counts the sequences. Chain a later query with ``to_query_sequence`` or
    ``to_query_topic``; get time ranges from a topic with ``MosaicoClient.clusterize``.
    """

    items: tuple[QueryResponseItem, ...]

    @classmethod
    def from_payload(
        cls, payload: Any, ontology: Mapping[str, Any] | OntologySection | None = None
    ) -> QueryResponse:
        """Parse the ``response`` of a `query` reply; ``ontology`` is the request's ontology
        section (``Query.ontology``), kept on each topic for the temporal filters.

        Raises:
            ResponseError: a payload of another shape than §8.8's.
            QueryBuildError: ``ontology`` is JSON that is not a valid ontology section.
        """
        entries = _section(ontology)
        with _reply("query reply"):
            reply = QueryReply.from_json(payload)
        return cls(tuple(_item(item, entries) for item in reply.items))

    def __len__(self) -> int:
        return len(self.items)

    def is_empty(self) -> bool:
        """Whether no sequence matched."""
        return not self.items

    def to_query_sequence(self) -> QuerySequence:
        """Restrict a later query to these sequences: ``name $in [...]`` (§8.8)."""
        return QuerySequence().with_name_in([item.sequence for item in self.items])

    def to_query_topic(self) -> QueryTopic:
        """Restrict a later query to these topics' names (``/path``), any sequence (§8.8)."""
        names = dict.fromkeys(t.name for item in self.items for t in item.topics)
        return QueryTopic().with_name_in(list(names))
