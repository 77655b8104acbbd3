"""Query calls over any transport: the client supplies how one request is sent.

``send`` runs a single-document request and returns its payload (None for "no payload",
spec §5.2); ``send_paged`` runs a paged request and returns the payload of every result.
With the Flight connection these are ``Connection.action`` and ``Connection.paged_action``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mosaico.protocol.actions import PagedRequest
from mosaico.protocol.query import QueryRequest
from mosaico.query.builders import Builder, Query
from mosaico.query.response import (
    QueryResponse,
    QueryResponseItemTopic,
    TimeCluster,
    Window,
    intersect_request,
    parse_clusters,
)

SendAction = Callable[[QueryRequest], Any]
"""Sends one `query` request and returns the decoded payload (None for "no payload")."""
SendPaged = Callable[[PagedRequest], Sequence[Any]]
"""Sends one temporal-filter request and returns the decoded payload of every page."""


def query(send: SendAction, *builders: Builder | Query) -> QueryResponse | None:
    """Run a query; None when the server replies without payload (as the reference does).

    Raises:
        QueryBuildError: the builders do not make a valid query (before anything is sent).
        ResponseError: the reply does not have the shape of §8.8.
    """
    request = Query(*builders).to_request()
    payload = send(request)
    return None if payload is None else QueryResponse.from_payload(payload, request.ontology)


def clusterize(
    send_paged: SendPaged, topic: QueryResponseItemTopic, clustering_dt_ns: int = 0,
    timestamp_range: Window = None,
) -> list[TimeCluster]:  # fmt: skip
    """Time ranges where the query's conditions on this topic hold (spec §9.1).

    Raises:
        QueryBuildError: a negative gap or an empty range.
        ResponseError: a reply page of another shape.
    """
    request = topic.clusterize_request(clustering_dt_ns, timestamp_range)
    return parse_clusters(send_paged(request), request.action.value)


def intersect(
    send_paged: SendPaged, topics: Sequence[QueryResponseItemTopic], clustering_dt_ns: int = 0,
    intersect_dt_ns: int = 0,
) -> list[TimeCluster]:  # fmt: skip
    """Time ranges where the conditions of all ``topics`` hold together (spec §9.2).

    Raises:
        QueryBuildError: no topic, or a negative gap or tolerance.
        ResponseError: a reply page of another shape.
    """
    parts = [t.clusterize_request(clustering_dt_ns) for t in topics]
    request = intersect_request(parts, intersect_dt_ns)
    return parse_clusters(send_paged(request), request.action.value)
