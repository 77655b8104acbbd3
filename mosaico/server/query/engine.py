"""Query evaluation over abstract inputs (spec §8.7, §9): catalog rows and lazy chunks.

The engine knows nothing of SQLite or Parquet: a topic arrives as its catalog values plus a
callable yielding its chunks, each chunk as its leaf statistics plus a reader of record
batches restricted to the columns the query needs. Chunks are pruned by statistics first
(and, by the reader, the row groups inside them), then scanned batch by batch with
vectorised predicates; a topic stops being scanned at its first matching row. Memory is
bounded by one batch (plus, for §9, the clusters found: 16 bytes each, their reply pages
made one at a time).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pyarrow as pa

from mosaico.protocol.commands import TimeWindow
from mosaico.protocol.names import TopicLocator
from mosaico.protocol.query import OntologyEntry, QueryItem, QueryItemTopic
from mosaico.protocol.temporal import TimeCluster
from mosaico.protocol.topic_type import TIMESTAMP
from mosaico.server.query.filters import section_holds
from mosaico.server.query.plan import QueryPlan
from mosaico.server.query.predicate import RowPredicate, compile_predicate
from mosaico.server.query.pruning import (
    KeepTest,
    LeafStats,
    chunk_may_match,
    window_may_overlap,
)
from mosaico.server.query.temporal import Clusters, Interval, batch_clusters, merge_arrays

# Per-batch clusters are folded together once this many are pending, bounding memory.
_FOLD_EVERY = 256
_UNBOUNDED = TimeWindow()


@attrs.frozen
class ChunkSource:
    """One chunk: leaf statistics by leaf path (``acceleration.x``, ``positions[]``) and a
    reader yielding its record batches restricted to the given dotted columns. The reader
    may skip the parts of the chunk (row groups) whose statistics fail the keep test."""

    stats: Mapping[str, LeafStats]
    read: Callable[[Sequence[str], KeepTest], Iterator[pa.RecordBatch]]


@attrs.frozen
class TopicCandidate:
    """A topic with the catalog values the filters need and its chunks (lazy)."""

    sequence: str
    sequence_created_at_ns: int
    sequence_user_metadata: Mapping[str, Any]
    path: str  # topic path without the leading '/'
    created_at_ns: int
    user_metadata: Mapping[str, Any]
    ontology_tag: str
    serialization_format: str
    schema: pa.Schema
    chunks: Callable[[], Iterable[ChunkSource]]

    @property
    def topic(self) -> TopicLocator:
        """The topic's locator as the protocol value a query reply names."""
        return TopicLocator(self.sequence, self.path)

    @property
    def locator(self) -> str:
        """``<sequence>/<path>``: the key that sorts and de-duplicates the matched topics."""
        return f"{self.sequence}/{self.path}"


@attrs.define
class ScanCounters:
    """What a query touched: for the benchmark and for logs."""

    chunks_considered: int = 0
    chunks_pruned: int = 0
    chunks_read: int = 0
    parts_pruned: int = 0  # row groups skipped inside the chunks read
    batches_read: int = 0
    rows_read: int = 0
    bytes_read: int = 0  # Arrow bytes of the batches read

    def count_pruned(self, chunks: int) -> None:
        """Count chunks the catalog ruled out by their statistics before the engine saw them
        (``pushdown``): considered and pruned, as the engine would have counted them."""
        self.chunks_considered += chunks
        self.chunks_pruned += chunks

    def count_batch(self, batch: pa.RecordBatch) -> None:
        """Count one scanned batch: its rows and its Arrow bytes."""
        self.batches_read += 1
        self.rows_read += batch.num_rows
        self.bytes_read += batch.nbytes


def _scan(
    chunks: Iterable[ChunkSource], predicate: RowPredicate, entries: Sequence[OntologyEntry],
    columns: Sequence[str], counters: ScanCounters, window: TimeWindow = _UNBOUNDED,
) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:  # fmt: skip
    """(batch, row mask) of every chunk that statistics cannot rule out."""

    def may_match(stats: Mapping[str, LeafStats]) -> bool:
        return window_may_overlap(stats, window, TIMESTAMP) and chunk_may_match(stats, entries)

    def keep_part(stats: Mapping[str, LeafStats]) -> bool:
        keep = may_match(stats)
        counters.parts_pruned += not keep
        return keep

    for chunk in chunks:
        counters.chunks_considered += 1
        if not may_match(chunk.stats):
            counters.chunks_pruned += 1
            continue
        counters.chunks_read += 1
        for batch in chunk.read(columns, keep_part):
            counters.count_batch(batch)
            yield batch, predicate(batch)


Compiled = dict[tuple[str, int], "RowPredicate | None"]
"""Predicates compiled during one query, by tag and schema object: topics sharing one
``pa.Schema`` object (the service hands out one per distinct schema) compile once."""


def topic_matches(
    topic: TopicCandidate, entries: Sequence[OntologyEntry], counters: ScanCounters,
    compiled: Compiled | None = None,
) -> bool:  # fmt: skip
    """Whether at least one row of the topic satisfies all ``entries`` together."""
    key = (topic.ontology_tag, id(topic.schema))
    if compiled is not None and key in compiled:
        predicate = compiled[key]
    else:
        predicate = compile_predicate(topic.schema, entries)
        if compiled is not None:
            compiled[key] = predicate
    if predicate is None:
        return False
    columns = predicate.columns or (TIMESTAMP,)
    return any(mask.any() for _, mask in _scan(topic.chunks(), predicate, entries, columns,
                                                counters))  # fmt: skip


def _matching_topics(
    ontology: Mapping[str, Sequence[OntologyEntry]], topics: list[TopicCandidate],
    counters: ScanCounters, compiled: Compiled,
) -> list[TopicCandidate]:  # fmt: skip
    """Step 4 of §8.7 for one sequence: every tag must match; union of matching topics."""
    by_tag = {tag: [t for t in topics if t.ontology_tag == tag] for tag in ontology}
    if any(not of_tag for of_tag in by_tag.values()):
        return []  # a tag without candidates here: no need to read anything
    matched: list[TopicCandidate] = []
    for tag in sorted(by_tag, key=lambda g: len(by_tag[g])):
        hits = [t for t in by_tag[tag] if topic_matches(t, ontology[tag], counters, compiled)]
        if not hits:
            return []
        matched.extend(hits)
    return matched


def select_topics(
    plan: QueryPlan, topics: Iterable[TopicCandidate]
) -> dict[str, list[TopicCandidate]]:
    """Steps 1-3 of §8.7: the topics passing the sequence and topic sections, by sequence
    name (no chunk is touched)."""
    sequence_ok: dict[str, bool] = {}
    by_sequence: dict[str, list[TopicCandidate]] = {}
    for topic in topics:
        ok = sequence_ok.get(topic.sequence)
        if ok is None:
            columns = {"name": topic.sequence, "created_at_ns": topic.sequence_created_at_ns}
            ok = section_holds(plan.sequence, columns, topic.sequence_user_metadata)
            sequence_ok[topic.sequence] = ok
        if not ok:
            continue
        columns = {
            "created_at_ns": topic.created_at_ns,
            "ontology_tag": topic.ontology_tag,
            "serialization_format": topic.serialization_format,
        }
        if section_holds(plan.topic, columns, topic.user_metadata, topic_path=topic.path):
            by_sequence.setdefault(topic.sequence, []).append(topic)
    return by_sequence


def scan_order(selected: Mapping[str, list[TopicCandidate]]) -> Iterator[TopicCandidate]:
    """The selected topics in the order ``query_items`` may scan them (by sequence name)."""
    for sequence in sorted(selected):
        yield from selected[sequence]


def query_items(
    plan: QueryPlan, by_sequence: Mapping[str, list[TopicCandidate]],
    counters: ScanCounters | None = None,
) -> Iterator[QueryItem]:  # fmt: skip
    """Step 4 of §8.7 over the topics ``select_topics`` kept: the response items of §8.8,
    one per sequence, sorted by sequence name."""
    counters = counters if counters is not None else ScanCounters()
    compiled: Compiled = {}
    for sequence in sorted(by_sequence):
        found = by_sequence[sequence]
        if plan.ontology:
            found = _matching_topics(plan.ontology, found, counters, compiled)
        if found:
            unique = {t.locator: t for t in found}
            matches = (QueryItemTopic(unique[loc].topic, unique[loc].ontology_tag)
                       for loc in sorted(unique))  # fmt: skip
            yield QueryItem(sequence, tuple(matches))


def run_query(
    plan: QueryPlan, topics: Iterable[TopicCandidate], counters: ScanCounters | None = None
) -> Iterator[QueryItem]:
    """The response items of §8.8, one per sequence, sorted by sequence name."""
    return query_items(plan, select_topics(plan, topics), counters)


def _first_timestamp(chunk: ChunkSource) -> float:
    """A lower bound of the chunk's timestamps (-inf when its statistics lack one)."""
    leaf = chunk.stats.get(TIMESTAMP)
    return -math.inf if leaf is None or leaf.min_value is None else leaf.min_value


class _Fold:
    """Clusters found and not yet final: per-batch pieces, folded every ``_FOLD_EVERY``."""

    def __init__(self, dt: int) -> None:
        self.dt = dt
        self.pieces: list[tuple[np.ndarray, np.ndarray]] = []
        self.first_end = math.inf  # the earliest end among the pieces

    def add(self, starts: np.ndarray, ends: np.ndarray) -> None:
        if len(starts):
            self.pieces.append((starts, ends))
            self.first_end = min(self.first_end, int(ends[0]))
        if len(self.pieces) >= _FOLD_EVERY:
            self.pieces = [merge_arrays(self.pieces, self.dt)]

    def release(self, bound: float) -> Clusters:
        """Remove and return the clusters that no row at or after ``bound`` can extend
        (all of them for ``bound`` +inf), in time order."""
        if bound != math.inf and (self.dt == 0 or bound - self.first_end <= self.dt):
            return _NO_CLUSTERS  # the cheap test: not even the earliest end is final
        starts, ends = merge_arrays(self.pieces, self.dt)
        cut = len(ends) if bound == math.inf else int(np.searchsorted(ends, bound - self.dt))
        rest = (starts[cut:], ends[cut:])
        self.pieces = [rest] if len(rest[0]) else []
        self.first_end = int(rest[1][0]) if len(rest[0]) else math.inf
        return Clusters(starts[:cut], ends[:cut])


_NO_CLUSTERS = Clusters(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))


def _fold_chunk(
    fold: _Fold, batches: Iterable[tuple[pa.RecordBatch, np.ndarray]], window: TimeWindow
) -> None:
    """Fold the clusters of one chunk's matching rows in ``window``, batch by batch (rows in
    any order: the server writes chunks sorted, but nothing here relies on it)."""
    for batch, mask in batches:
        ts = batch.column(TIMESTAMP).to_numpy()
        if window.start_ns is not None:
            mask &= ts >= window.start_ns
        if window.end_ns is not None:
            mask &= ts < window.end_ns
        if mask.any():
            kept = ts[mask]
            if not bool((kept[1:] >= kept[:-1]).all()):
                kept = np.sort(kept)
            fold.add(*batch_clusters(kept, fold.dt))


def topic_clusters(
    schema: pa.Schema, entries: Sequence[OntologyEntry], chunks: Iterable[ChunkSource],
    clustering_dt_ns: int, window: TimeWindow = _UNBOUNDED,
    counters: ScanCounters | None = None,
) -> Iterator[Interval]:  # fmt: skip
    """§9.1: clusters of the rows in ``window`` (half-open) satisfying all ``entries``, in
    time order, each yielded as soon as no row still unread can change it.

    Chunks are read in the order of their first timestamp. After each chunk, the clusters
    ending more than ``clustering_dt_ns`` before the next chunk's first timestamp are final
    (no unread row can reach them) and are yielded. A topic uploaded in time order therefore
    holds the clusters of one chunk at a time (as numpy arrays, whatever their number);
    chunks overlapping in time keep their clusters until the overlap is read. (Releasing
    inside a chunk would need its rows sorted, which a batch cannot prove for the rest.)
    """
    counters = counters if counters is not None else ScanCounters()
    predicate = compile_predicate(schema, entries)
    if predicate is None:
        return
    columns = tuple(dict.fromkeys((*predicate.columns, TIMESTAMP)))
    ordered = sorted(chunks, key=_first_timestamp)
    fold = _Fold(clustering_dt_ns)
    for i, chunk in enumerate(ordered):
        later = _first_timestamp(ordered[i + 1]) if i + 1 < len(ordered) else math.inf
        _fold_chunk(fold, _scan([chunk], predicate, entries, columns, counters, window), window)
        yield from fold.release(later)
    yield from fold.release(math.inf)


def cluster_payloads(intervals: Iterable[Interval]) -> Iterator[dict[str, Any]]:
    """The paged response items of §9, ``{"id", "ts": {"start_ns", "end_ns"}}``, made one
    at a time as the reply is sent."""
    return (TimeCluster(i, start, end).to_json() for i, (start, end) in enumerate(intervals))
