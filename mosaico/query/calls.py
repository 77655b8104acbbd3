"""Query calls over any transport: the client supplies how one action is sent.

``send`` runs a single-document action and returns its payload (None for "no payload",
spec §5.2); ``send_paged`` runs a paged action and returns the payload of every result. With
the Flight connection these are a ``do_action`` followed by ``decode_envelope`` or
``decode_paged`` of ``mosaico.protocol.envelope``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mosaico.query.builders import Builder, Query
from mosaico.query.response import (
    QUERY_ACTION,
    QueryResponse,
    QueryResponseItemTopic,
    TimeCluster,
    intersect_request,
    parse_clusters,
)

SendAction = Callable[[str, dict[str, Any]], Any]
SendPaged = Callable[[str, dict[str, Any]], Sequence[Any]]


def query(send: SendAction, *builders: Builder) -> QueryResponse | None:
    """Run a query; None when the server replies without payload (as the reference does)."""
    request = Query(*builders)
    payload = send(QUERY_ACTION, request.to_json())
    return None if payload is None else QueryResponse.from_payload(payload, request.ontology)


def clusterize(
    send_paged: SendPaged, topic: QueryResponseItemTopic, clustering_dt_ns: int = 0,
    timestamp_range: tuple[int, int] | None = None,
) -> list[TimeCluster]:  # fmt: skip
    """Time ranges where the query's conditions on this topic hold (spec §9.1)."""
    name, body = topic.clusterize_request(clustering_dt_ns, timestamp_range)
    return parse_clusters(send_paged(name, body), name)


def intersect(
    send_paged: SendPaged, topics: Sequence[QueryResponseItemTopic], clustering_dt_ns: int = 0,
    intersect_dt_ns: int = 0,
) -> list[TimeCluster]:  # fmt: skip
    """Time ranges where the conditions of all ``topics`` hold together (spec §9.2)."""
    triples = [(t.locator, clustering_dt_ns, t.ontology) for t in topics]
    name, body = intersect_request(triples, intersect_dt_ns)
    return parse_clusters(send_paged(name, body), name)
