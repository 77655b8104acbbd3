"""The query actions over a real ``Store``: catalog rows and Parquet chunks fed to the engine.

Wiring into the Flight front end is one branch at the top of ``do_action`` (inside its error
translation, which turns the ``ProtocolError``s raised here into Flight statuses)::

    if action.type in QUERY_ACTIONS:
        return handle_query_action(self.store, action.type, action.body.to_pybytes(),
                                   self._max_body)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from mosaico.ontology import registry
from mosaico.protocol import jsonbody as jb
from mosaico.protocol.envelope import encode_envelope
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.names import TopicLocator
from mosaico.server.catalog import ChunkRow, TopicRow
from mosaico.server.query.engine import (
    ChunkSource,
    ClusterizeRequest,
    ScanCounters,
    TopicCandidate,
    cluster_payloads,
    parse_clusterize,
    parse_intersect,
    run_query,
    topic_clusters,
)
from mosaico.server.query.plan import check_ontology, parse_query
from mosaico.server.query.pruning import KeepTest
from mosaico.server.query.rowgroups import read_pruned
from mosaico.server.query.temporal import Interval, intersect
from mosaico.server.store import Store

QUERY = "query"
CLUSTERIZE = "topic_filter_clusterize"
INTERSECT = "topic_filter_intersect"
QUERY_ACTIONS = frozenset({QUERY, CLUSTERIZE, INTERSECT})

BATCH_ROWS = 64 * 1024  # rows per scanned batch: the unit of memory of a scan


def _schema(topic: TopicRow) -> pa.Schema:
    if topic.arrow_schema is None:
        return pa.schema([])  # created, never uploaded: nothing to match
    return pa.ipc.read_schema(pa.py_buffer(topic.arrow_schema))


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
        """Every topic of every sequence, with its catalog values (no chunk is touched)."""
        catalog = self.store.catalog
        out = []
        for seq in catalog.list_sequences():
            for topic in catalog.topics_of(seq.id):
                out.append(
                    TopicCandidate(
                        sequence=seq.name,
                        sequence_created_at_ns=seq.created_at_ns,
                        sequence_user_metadata=seq.user_metadata,
                        path=topic.path,
                        created_at_ns=topic.created_at_ns,
                        user_metadata=topic.user_metadata,
                        ontology_tag=topic.ontology_tag,
                        serialization_format=topic.serialization_format,
                        schema=_schema(topic),
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

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        """The `query` payload ``{"items": [...]}`` (spec §8)."""
        plan = parse_query(body)
        topics = self.candidates()
        check_ontology(
            plan.ontology, self.known_schemas((t.ontology_tag, t.schema) for t in topics)
        )
        return {"items": list(run_query(plan, topics, self.counters))}

    def _clusters(self, request: ClusterizeRequest) -> list[Interval]:
        locator = TopicLocator.parse(request.locator)
        topic = self.store.catalog.get_topic(locator.sequence, locator.path)  # NotFound
        schema = _schema(topic)
        entries = request.entries_for(topic.ontology_tag)
        # Same checks as `query`: a path known nowhere is an error, one missing only from
        # this topic's (drifted) schema just matches nothing.
        check_ontology(
            {topic.ontology_tag: entries} if entries else {},
            self.known_schemas([(topic.ontology_tag, schema)]),
        )
        return topic_clusters(
            schema, entries, self._chunks(topic.id), request.clustering_dt_ns, request.window,
            self.counters,
        )  # fmt: skip

    def clusterize(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The paged payloads of `topic_filter_clusterize` (spec §9.1)."""
        return cluster_payloads(self._clusters(parse_clusterize(body)))

    def intersect(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The paged payloads of `topic_filter_intersect` (spec §9.2)."""
        request = parse_intersect(body)
        clusters = [self._clusters(topic) for topic in request.topics]
        return cluster_payloads(intersect(clusters, request.intersect_dt_ns))


def handle_query_action(
    store: Store, name: str, body: bytes, max_bytes: int | None = None
) -> list[bytes]:
    """Result bodies of one query action: one envelope for `query`, one per window for the
    temporal filters. Raises ``ProtocolError`` (InvalidArgument, NotFound)."""
    if name not in QUERY_ACTIONS:
        raise InvalidArgument(f"{name!r} is not a query action")
    obj = jb.load_object(body, f"{name} request body", max_bytes)
    service = QueryService(store)
    if name == QUERY:
        return [encode_envelope(name, service.query(obj))]
    pages = service.clusterize(obj) if name == CLUSTERIZE else service.intersect(obj)
    return [encode_envelope(name, page) + b"\n" for page in pages]
