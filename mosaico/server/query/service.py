"""The query actions over a real ``Store``: catalog rows and Parquet chunks fed to the engine.

The Flight front end parses the actions into typed requests (``mosaico.protocol``) and calls
``query`` (one reply document) or ``pages`` (one reply envelope per cluster) inside its error
translation, which turns the ``ProtocolError``s raised here into Flight statuses. ``pages``
checks the request at once (unknown topic, unknown field: raised before any page) and
returns an iterator that scans and makes the pages only as the reply is consumed, so a reply
of a million clusters is never held in memory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import pyarrow as pa

from mosaico.ontology import registry
from mosaico.protocol.actions import PagedRequest
from mosaico.protocol.errors import NotFound
from mosaico.protocol.query import QueryReply, QueryRequest
from mosaico.protocol.temporal import ClusterizeRequest, IntersectRequest
from mosaico.server.catalog import ChunkRow
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
from mosaico.server.query.temporal import Interval, intersect
from mosaico.server.store import Store

BATCH_ROWS = 64 * 1024  # rows per scanned batch: the unit of memory of a scan


class QueryService:
    """Evaluates the three query actions against one store."""

    def __init__(self, store: Store, batch_rows: int = BATCH_ROWS) -> None:
        self.store = store
        self.batch_rows = batch_rows
        self.counters = ScanCounters()  # cumulative, for the benchmark and logs

    # -- inputs of the engine ------------------------------------------------------------

    def _read(
        self, chunk: ChunkRow, columns: Sequence[str], keep: KeepTest
    ) -> Iterator[pa.RecordBatch]:
        parquet = self.store.chunks.open_chunk(chunk.path)
        try:
            yield from read_pruned(parquet, columns, keep, self.batch_rows)
        finally:
            parquet.close()

    def _chunks(self, topic_id: str) -> Iterator[ChunkSource]:
        catalog = self.store.catalog
        by_chunk = catalog.chunk_stats(topic_id)
        for chunk in catalog.chunks_of(topic_id):
            stats = {s.column_path: s for s in by_chunk.get(chunk.id, [])}
            yield ChunkSource(stats, functools.partial(self._read, chunk))

    def candidates(self) -> list[TopicCandidate]:
        """Every topic of every sequence, with its catalog values (no chunk is touched; the
        user metadata is parsed only if a condition looks into it)."""
        catalog = self.store.catalog
        out = []
        for seq in catalog.list_sequences():
            sequence_metadata = LazyDocument(_loader(catalog.sequence_metadata, seq.id))
            for topic in catalog.topics_of(seq.id):
                out.append(
                    TopicCandidate(
                        sequence=seq.name,
                        sequence_created_at_ns=seq.created_at_ns,
                        sequence_user_metadata=sequence_metadata,
                        path=topic.path,
                        created_at_ns=topic.created_at_ns,
                        user_metadata=LazyDocument(_loader(catalog.topic_metadata, topic.id)),
                        ontology_tag=topic.ontology_tag,
                        serialization_format=topic.serialization_format,
                        schema=topic.schema(),
                        chunks=functools.partial(self._chunks, topic.id),
                    )
                )
        return out

    @staticmethod
    def known_schemas(stored: Iterable[tuple[str, pa.Schema]]) -> dict[str, list[pa.Schema]]:
        """Per tag: the registered type's schema, then the given (tag, schema) of stored
        topics (topics never uploaded have an empty schema and are left out)."""
        known: dict[str, list[pa.Schema]] = {}
        for tag, cls in registry.items():
            known.setdefault(tag, []).append(cls.ARROW_SCHEMA)  # type: ignore[attr-defined]
        for tag, schema in stored:
            if len(schema):
                known.setdefault(tag, []).append(schema)
        return known

    # -- actions -------------------------------------------------------------------------

    def query(self, request: QueryRequest | Mapping[str, Any]) -> dict[str, Any]:
        """The `query` payload ``{"items": [...]}`` (spec §8)."""
        plan = plan_query(_typed(QueryRequest, request))
        topics = self.candidates()
        check_ontology(
            plan.ontology, self.known_schemas((t.ontology_tag, t.schema) for t in topics)
        )
        return QueryReply.of(run_query(plan, topics, self.counters)).to_json()

    def _cluster_scan(self, request: ClusterizeRequest) -> Callable[[], Iterator[Interval]]:
        """Check a clusterize request now, return the scan that finds its clusters later.

        Raises:
            NotFound: no such topic.
            InvalidArgument: an entry of another tag, or a field known nowhere.
        """
        topic = self.store.catalog.get_topic(request.topic.sequence, request.topic.path)
        schema = topic.schema()  # get_topic raised NotFound for an unknown topic
        entries = request.entries_for(topic.ontology_tag)
        # Same checks as `query`: a path known nowhere is an error, one missing only from
        # this topic's (drifted) schema just matches nothing.
        check_ontology(
            {topic.ontology_tag: entries} if entries else {},
            self.known_schemas([(topic.ontology_tag, schema)]),
        )
        return functools.partial(
            topic_clusters, schema, entries, self._chunks(topic.id), request.clustering_dt_ns,
            request.window, self.counters,
        )  # fmt: skip

    def clusterize(
        self, request: ClusterizeRequest | Mapping[str, Any]
    ) -> Iterator[dict[str, Any]]:
        """The paged payloads of `topic_filter_clusterize` (spec §9.1), made lazily (see
        the module docstring); the request is checked at once."""
        return _pages(self._cluster_scan(_typed(ClusterizeRequest, request)))

    def intersect(self, request: IntersectRequest | Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The paged payloads of `topic_filter_intersect` (spec §9.2), made lazily (see the
        module docstring); every topic of the request is checked at once."""
        typed = _typed(IntersectRequest, request)
        scans = [self._cluster_scan(topic) for topic in typed.topics]
        return _pages(lambda: intersect([scan() for scan in scans], typed.intersect_dt_ns))

    def pages(self, request: PagedRequest) -> Iterator[dict[str, Any]]:
        """The payloads of a paged action, one per reply envelope, made as they are
        consumed; errors the request itself causes are raised by this call."""
        if isinstance(request, ClusterizeRequest):
            return self.clusterize(request)
        return self.intersect(request)


def _loader(
    read: Callable[[str], dict[str, Any]], row_id: str
) -> Callable[[], dict[str, Any]]:
    """Reads a row's metadata when a condition first needs it; a row deleted since the
    query listed it reads as empty metadata (the query does not fail for it)."""

    def load() -> dict[str, Any]:
        try:
            return read(row_id)
        except NotFound:
            return {}

    return load


def _pages(intervals: Callable[[], Iterable[Interval]]) -> Iterator[dict[str, Any]]:
    """The pages of the intervals, computed only when the first page is asked for."""
    yield from cluster_payloads(intervals())


_R = TypeVar("_R", QueryRequest, ClusterizeRequest, IntersectRequest)


def _typed(kind: type[_R], request: _R | Mapping[str, Any]) -> _R:
    """A typed request, or one decoded JSON body (tests and benchmarks hold documents)."""
    if isinstance(request, kind):
        return request
    assert isinstance(request, Mapping)
    return kind.from_json(dict(request))
