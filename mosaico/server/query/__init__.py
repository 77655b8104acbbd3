"""The server's query engine (spec §8, §9): plans against schemas, vectorised predicates,
chunk pruning, time clusters, and the actions over a real store (``service``).

The request documents are the protocol's (``mosaico.protocol.QueryRequest``,
``ClusterizeRequest``, ``IntersectRequest``); this package only evaluates them.
"""

from mosaico.server.query.engine import (
    ChunkSource,
    ScanCounters,
    TopicCandidate,
    run_query,
    topic_clusters,
)
from mosaico.server.query.plan import QueryPlan, check_ontology, plan_query

__all__ = [
    "ChunkSource",
    "QueryPlan",
    "ScanCounters",
    "TopicCandidate",
    "check_ontology",
    "plan_query",
    "run_query",
    "topic_clusters",
]
