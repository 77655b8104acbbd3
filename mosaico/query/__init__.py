"""Client-side queries: builders of the `query` request (spec §8.9), the response with
chaining (§8.8), and the temporal filters' requests and replies (§9). No network code: the
client sends the ``(action, body)`` pairs built here and parses the payloads it gets back."""

from mosaico.query import calls
from mosaico.query.builders import (
    Query,
    QueryBuildError,
    QueryOntologyCatalog,
    QuerySequence,
    QueryTopic,
)
from mosaico.query.response import (
    CLUSTERIZE_ACTION,
    INTERSECT_ACTION,
    QUERY_ACTION,
    QueryResponse,
    QueryResponseItem,
    QueryResponseItemTopic,
    ResponseError,
    TimeCluster,
    clusterize_request,
    intersect_request,
    parse_clusters,
)

__all__ = [
    "CLUSTERIZE_ACTION",
    "INTERSECT_ACTION",
    "QUERY_ACTION",
    "Query",
    "QueryBuildError",
    "QueryOntologyCatalog",
    "QueryResponse",
    "QueryResponseItem",
    "QueryResponseItemTopic",
    "QuerySequence",
    "QueryTopic",
    "ResponseError",
    "TimeCluster",
    "calls",
    "clusterize_request",
    "intersect_request",
    "parse_clusters",
]
