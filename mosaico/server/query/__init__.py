"""The server's query engine (spec §8, §9): plans, vectorised predicates, chunk pruning,
time clusters, and the actions over a real store (``service``)."""

from mosaico.server.query.engine import (
    ChunkSource,
    ClusterizeRequest,
    IntersectRequest,
    ScanCounters,
    TopicCandidate,
    cluster_payloads,
    parse_clusterize,
    parse_intersect,
    run_query,
    topic_clusters,
    topic_matches,
)
from mosaico.server.query.plan import QueryPlan, check_ontology, parse_query

__all__ = [
    "ChunkSource",
    "ClusterizeRequest",
    "IntersectRequest",
    "QueryPlan",
    "ScanCounters",
    "TopicCandidate",
    "check_ontology",
    "cluster_payloads",
    "parse_clusterize",
    "parse_intersect",
    "parse_query",
    "run_query",
    "topic_clusters",
    "topic_matches",
]
