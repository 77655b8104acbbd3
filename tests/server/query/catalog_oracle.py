"""The query path before pushdown, from the catalog's plain reads: every sequence listed,
then the topics of each, then each topic's chunks with all their statistics; the engine's
Python filters and pruning decide everything. The pushdown must give exactly its answers
(``test_pushdown``); ``bench/bench_catalog.py`` measures the two against each other."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from mosaico.protocol.query import QueryReply, QueryRequest
from mosaico.protocol.temporal import ClusterizeRequest
from mosaico.server.catalog import ChunkRow, ColumnStats
from mosaico.server.query.engine import (
    ChunkSource,
    ScanCounters,
    TopicCandidate,
    cluster_payloads,
    run_query,
    topic_clusters,
)
from mosaico.server.query.filters import LazyDocument
from mosaico.server.query.plan import check_ontology, plan_query
from mosaico.server.query.pruning import KeepTest
from mosaico.server.query.rowgroups import read_pruned
from mosaico.server.query.service import QueryService
from mosaico.server.store import Store


def _read(store: Store, chunk: ChunkRow, columns: Sequence[str],
          keep: KeepTest) -> Iterator[pa.RecordBatch]:  # fmt: skip
    parquet = store.chunks.open_chunk(chunk.path)
    try:
        yield from read_pruned(parquet, columns, keep, 64 * 1024)
    finally:
        parquet.close()


def python_chunk_rows(store: Store, topic_id: str) -> list[tuple[ChunkRow, dict[str, ColumnStats]]]:
    """Every chunk of a topic with every statistic it has (two catalog queries)."""
    by_chunk = store.catalog.chunk_stats(topic_id)
    return [(chunk, {s.column_path: s for s in by_chunk.get(chunk.id, [])})
            for chunk in store.catalog.chunks_of(topic_id)]  # fmt: skip


def python_chunks(store: Store, topic_id: str) -> Iterator[ChunkSource]:
    """``python_chunk_rows`` as the engine's chunk sources."""
    for chunk, stats in python_chunk_rows(store, topic_id):
        yield ChunkSource(stats, functools.partial(_read, store, chunk))


def python_candidates(store: Store) -> list[TopicCandidate]:
    """Every topic of every sequence (one catalog query per sequence, and one per row
    whose metadata a condition looks into)."""
    catalog = store.catalog
    out = []
    for seq in catalog.list_sequences():
        metadata = LazyDocument(functools.partial(catalog.sequence_metadata, seq.id))
        for topic in catalog.topics_of(seq.id):
            out.append(TopicCandidate(
                sequence=seq.name, sequence_created_at_ns=seq.created_at_ns,
                sequence_user_metadata=metadata, path=topic.path,
                created_at_ns=topic.created_at_ns,
                user_metadata=LazyDocument(functools.partial(catalog.topic_metadata, topic.id)),
                ontology_tag=topic.ontology_tag, serialization_format=topic.serialization_format,
                schema=topic.schema(), chunks=functools.partial(python_chunks, store, topic.id),
            ))  # fmt: skip
    return out


def python_query(store: Store, body: Mapping[str, Any],
                 counters: ScanCounters | None = None) -> dict[str, Any]:  # fmt: skip
    """The `query` payload as the Python path makes it."""
    plan = plan_query(QueryRequest.from_json(dict(body)))
    topics = python_candidates(store)
    check_ontology(
        plan.ontology, QueryService.known_schemas((t.ontology_tag, t.schema) for t in topics)
    )
    return QueryReply.of(run_query(plan, topics, counters)).to_json()


def python_clusters(store: Store, body: Mapping[str, Any],
                    counters: ScanCounters | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The pages of `topic_filter_clusterize` as the Python path makes them."""
    request = ClusterizeRequest.from_json(dict(body))
    topic = store.catalog.get_topic(request.topic.sequence, request.topic.path)
    entries = request.entries_for(topic.ontology_tag)
    scan = topic_clusters(topic.schema(), entries, python_chunks(store, topic.id),
                          request.clustering_dt_ns, request.window, counters)  # fmt: skip
    return list(cluster_payloads(scan))
