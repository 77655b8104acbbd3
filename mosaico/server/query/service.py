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
from mosaico.protocol.commands import TimeWindow
from mosaico.protocol.errors import NotFound
from mosaico.protocol.query import OntologyEntry, QueryReply, QueryRequest
from mosaico.protocol.temporal import ClusterizeRequest, IntersectRequest
from mosaico.server.catalog import ChunkCandidates, ChunkRow
from mosaico.server.query.engine import (
    ChunkSource,
    ScanCounters,
    TopicCandidate,
    cluster_payloads,
    query_items,
    scan_order,
    select_topics,
    topic_clusters,
)
from mosaico.server.query.filters import LazyDocument
from mosaico.server.query.plan import QueryPlan, check_ontology, plan_query
from mosaico.server.query.pruning import KeepTest
from mosaico.server.query.pushdown import (
    FALSE,
    candidate_filter,
    chunk_exclusions,
    stats_paths,
    tag_list,
)
from mosaico.server.query.rowgroups import read_pruned
from mosaico.server.query.temporal import Interval, intersect
from mosaico.server.store import Store

BATCH_ROWS = 64 * 1024  # rows per scanned batch: the unit of memory of a scan
BATCH_TOPICS = 256  # topics whose chunks one catalog query reads
_UNBOUNDED = TimeWindow()


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

    def chunk_candidates(
        self, topic_ids: list[str], entries: Sequence[OntologyEntry],
        window: TimeWindow = _UNBOUNDED,
    ) -> dict[str, ChunkCandidates]:  # fmt: skip
        """Topic UUID -> its chunks the statistics leave in for a scan by ``entries`` (one
        tag's) in ``window``, in one catalog query: the catalog rules out what SQL can
        decide (``pushdown``), the engine prunes the rest from the statistics of the leaves
        the entries use. ``sources`` turns them into the engine's chunks."""
        return self.store.catalog.chunk_candidates(
            topic_ids, stats_paths(entries), chunk_exclusions(entries, window)
        )

    def sources(self, found: ChunkCandidates) -> Iterator[ChunkSource]:
        """The engine's chunks of one topic's candidates, in upload order. The chunks the
        catalog ruled out are counted (``ScanCounters.count_pruned``) where the engine would
        have met them, so the counters are those of a scan that pruned them itself, even
        one that stops at its first match."""
        seen = 0
        for chunk in found.chunks:
            self.counters.count_pruned(chunk.position - seen)
            seen = chunk.position + 1
            yield ChunkSource(chunk.stats, functools.partial(self._read, chunk.row))
        self.counters.count_pruned(max(0, found.total - seen))

    def candidates(self, plan: QueryPlan, batches: ChunkBatches | None = None) -> list[TopicCandidate]:
        """The topics the catalog cannot rule out for ``plan`` (``pushdown.candidate_filter``:
        one query), with their catalog values; the engine's filters decide among them. No
        chunk is touched (``batches`` reads them when scanned). User metadata is read for
        all candidates at once when a section's conditions look into it (the candidates
        passed its other conditions in SQL already), else only if something looks."""
        where = candidate_filter(plan)
        if where == FALSE:
            return []
        catalog = self.store.catalog
        batches = batches if batches is not None else ChunkBatches(self, plan.ontology)
        rows = catalog.query_topics(where)
        sequence_documents = _documents(
            catalog.sequences_metadata, catalog.sequence_metadata, plan.sequence.metadata,
            list(dict.fromkeys(seq.id for seq, _ in rows)),
        )  # fmt: skip
        topic_documents = _documents(
            catalog.topics_metadata, catalog.topic_metadata, plan.topic.metadata,
            [topic.id for _, topic in rows],
        )  # fmt: skip
        schemas: dict[bytes | None, pa.Schema] = {}  # one object per distinct schema
        out = []
        for seq, topic in rows:
            schema = schemas.get(topic.arrow_schema)
            if schema is None:
                schema = schemas[topic.arrow_schema] = topic.schema()
            candidate = TopicCandidate(
                sequence=seq.name,
                sequence_created_at_ns=seq.created_at_ns,
                sequence_user_metadata=sequence_documents[seq.id],
                path=topic.path,
                created_at_ns=topic.created_at_ns,
                user_metadata=topic_documents[topic.id],
                ontology_tag=topic.ontology_tag,
                serialization_format=topic.serialization_format,
                schema=schema,
                chunks=functools.partial(batches.chunks, topic.id),
            )
            batches.know(candidate, topic.id)
            out.append(candidate)
        return out

    def tag_schemas(self, tags: Iterable[str]) -> dict[str, list[pa.Schema]]:
        """``known_schemas`` of the given tags: their registered types' and those of every
        stored topic of those tags (``check_ontology`` needs nothing else)."""
        wanted = set(tags)
        stored = self.store.catalog.tag_schemas(tag_list(wanted))
        return self.known_schemas(
            (tag, pa.ipc.read_schema(pa.py_buffer(blob))) for tag, blob in stored if tag in wanted
        )

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
        check_ontology(plan.ontology, self.tag_schemas(plan.ontology))
        batches = ChunkBatches(self, plan.ontology)
        selected = select_topics(plan, self.candidates(plan, batches))
        batches.expect(scan_order(selected))
        return QueryReply.of(query_items(plan, selected, self.counters)).to_json()

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
            topic_clusters, schema, entries, self._scan_chunks(topic.id, entries, request.window),
            request.clustering_dt_ns, request.window, self.counters,
        )  # fmt: skip

    def _scan_chunks(
        self, topic_id: str, entries: Sequence[OntologyEntry], window: TimeWindow
    ) -> Iterator[ChunkSource]:
        """The chunks of one topic for a scan, read from the catalog when first asked for."""
        yield from self.sources(self.chunk_candidates([topic_id], entries, window)[topic_id])

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


class ChunkBatches:
    """The chunks of the topics one query scans, read from the catalog a batch of topics
    at a time (``BATCH_TOPICS``, one query each) and handed out as the engine scans them.

    ``expect`` gives the topics in the order the engine will scan them; asking for one
    reads it and the next expected topics of its tag not read yet, so a query over many
    topics costs one catalog query per batch rather than per topic, and at most one batch
    per tag is held. A topic never expected, or asked for again, is read alone.
    """

    def __init__(self, service: QueryService, ontology: Mapping[str, Sequence[OntologyEntry]]):
        self._service = service
        self._ontology = ontology
        self._ids: dict[str, str] = {}  # topic locator -> topic id
        self._tags: dict[str, str] = {}  # topic id -> tag
        self._queues: dict[str, list[str]] = {}  # tag -> expected topic ids, in scan order
        self._places: dict[str, int] = {}  # topic id -> its place in its tag's queue
        self._read: dict[str, ChunkCandidates] = {}

    def know(self, topic: TopicCandidate, topic_id: str) -> None:
        """Record a candidate's topic id (``expect`` names candidates)."""
        self._ids[topic.locator] = topic_id
        self._tags[topic_id] = topic.ontology_tag

    def expect(self, topics: Iterable[TopicCandidate]) -> None:
        """The candidates the engine may scan, in the order it will."""
        for topic in topics:
            topic_id = self._ids[topic.locator]
            queue = self._queues.setdefault(topic.ontology_tag, [])
            self._places[topic_id] = len(queue)
            queue.append(topic_id)

    def chunks(self, topic_id: str) -> Iterator[ChunkSource]:
        """The chunks of one topic the statistics leave in (read with its batch)."""
        if topic_id not in self._read:
            self._fetch(topic_id)
        yield from self._service.sources(self._read.pop(topic_id))

    def _fetch(self, topic_id: str) -> None:
        tag = self._tags[topic_id]
        batch = [topic_id]
        place = self._places.pop(topic_id, None)
        if place is not None:
            queue = self._queues[tag]
            for later in queue[place + 1 : place + BATCH_TOPICS]:
                if self._places.pop(later, None) is not None:
                    batch.append(later)
        # Earlier batches of the tag hold only topics the scan has gone past: let them go.
        self._read = {k: v for k, v in self._read.items() if self._tags[k] != tag}
        self._read.update(self._service.chunk_candidates(batch, self._ontology.get(tag, ())))


def _documents(
    read_all: Callable[[list[str]], dict[str, dict[str, Any]]],
    read_one: Callable[[str], dict[str, Any]], conditions: Sequence[Any], ids: list[str],
) -> dict[str, Mapping[str, Any]]:  # fmt: skip
    """Row UUID -> its user metadata: all read in one go when ``conditions`` will look into
    each (a row deleted meanwhile reads as empty), else each read on first use."""
    if conditions:
        found = read_all(ids)
        return {row_id: found.get(row_id, {}) for row_id in ids}
    return {row_id: LazyDocument(_loader(read_one, row_id)) for row_id in ids}


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
