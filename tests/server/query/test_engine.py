"""The engine end to end over real Parquet chunks: §8.7 evaluation and §9.1 clusters,
compared with a brute-force evaluation of random stores and random queries."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaico.protocol import TimeWindow
from mosaico.protocol.query import Condition, OntologyEntry, QueryRequest
from mosaico.server.query import (
    ScanCounters,
    TopicCandidate,
    plan_query,
    run_query,
    topic_clusters,
)
from tests.server.query.query_helpers import (
    SCHEMA,
    entries,
    parquet_chunk,
    row_matches,
    rows,
    walk_clusters,
)

TAGS = ["T", "U"]


def _items(body: dict[str, Any], topics: list[TopicCandidate],
           counters: ScanCounters | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The reply items of a query body, as JSON."""
    plan = plan_query(QueryRequest.from_json(body))
    return [item.to_json() for item in run_query(plan, topics, counters)]


def _topic(sequence: str, path: str, tag: str, chunks: list[list[dict[str, Any]]],
           seq_meta: dict[str, Any] | None = None, meta: dict[str, Any] | None = None,
           schema: pa.Schema = SCHEMA) -> TopicCandidate:  # fmt: skip
    sources = [parquet_chunk(c, schema) for c in chunks if c]
    return TopicCandidate(
        sequence=sequence, sequence_created_at_ns=int(sequence[-1]) * 100,
        sequence_user_metadata=seq_meta or {}, path=path, created_at_ns=1000,
        user_metadata=meta or {}, ontology_tag=tag, serialization_format="default",
        schema=schema, chunks=lambda: iter(sources),
    )  # fmt: skip


def _retag(entry: OntologyEntry, tag: str) -> OntologyEntry:
    key = f"{tag}.{entry.key.partition('.')[2]}"
    return OntologyEntry(
        tag, entry.path, Condition(key, entry.condition.op, entry.condition.operand)
    )


store_topics = st.lists(
    st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.sampled_from(TAGS),
              st.lists(rows, min_size=1, max_size=3)),
    min_size=1, max_size=5,
)  # fmt: skip


def _one_entry_per_path(drawn: list[Any]) -> dict[str, list[OntologyEntry]]:
    """The drawn entries by tag, at most one per field path (as a query document holds)."""
    ontology: dict[str, list[OntologyEntry]] = {}
    for tag, entry in drawn:
        if all(
            e.key.partition(".")[2] != entry.key.partition(".")[2] for e in ontology.get(tag, [])
        ):
            ontology.setdefault(tag, []).append(_retag(entry, tag))
    return ontology


def _brute_force(
    topics: list[Any], data: dict[str, list[dict[str, Any]]],
    ontology: dict[str, list[OntologyEntry]],
) -> dict[str, set[str]]:  # fmt: skip
    """Sequence -> matching topic locators, by evaluating every row (spec 8.7)."""
    expected: dict[str, set[str]] = {}
    for sequence in sorted({t.sequence for t in topics}):
        mine = [t for t in topics if t.sequence == sequence]
        hits: set[str] = set()
        ok = True
        for tag, group in ontology.items():
            tagged = {t.locator for t in mine if t.ontology_tag == tag
                      and any(row_matches(r, group) for r in data[t.locator])}  # fmt: skip
            ok &= bool(tagged)
            hits |= tagged
        if not ontology:
            hits = {t.locator for t in mine}
        if ok and hits:
            expected[sequence] = hits
    return expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(store_topics, st.lists(st.tuples(st.sampled_from(TAGS), entries()), max_size=3))
def test_query_equals_brute_force(layout: list[Any], drawn: list[Any]) -> None:
    topics = []
    data: dict[str, list[dict[str, Any]]] = {}
    for i, (sequence, tag, chunks) in enumerate(layout):
        topic = _topic(sequence, f"t{i}", tag, chunks)
        topics.append(topic)
        data[topic.locator] = [row for chunk in chunks for row in chunk]
    ontology = _one_entry_per_path(drawn)
    body = {"ontology": {e.key: {e.condition.op: e.condition.operand}
                         for group in ontology.values() for e in group}}  # fmt: skip
    counters = ScanCounters()
    got = list(_items(body, topics, counters))

    expected = _brute_force(topics, data, ontology)
    assert [item["sequence"] for item in got] == sorted(expected)
    tags = {t.locator: t.ontology_tag for t in topics}
    for item in got:
        locators = [t["locator"] for t in item["topics"]]
        assert locators == sorted(expected[item["sequence"]])
        assert all(t["ontology_tag"] == tags[t["locator"]] for t in item["topics"])
    assert counters.chunks_read + counters.chunks_pruned == counters.chunks_considered


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(rows, min_size=1, max_size=3),
    st.lists(entries(), max_size=2),
    st.integers(0, 3),
    st.none() | st.tuples(st.integers(-3, 1), st.integers(2, 4)),
)
def test_clusters_equal_brute_force(chunks: list[list[dict[str, Any]]],
                                    group: list[OntologyEntry], dt: int,
                                    window: tuple[int, int] | None) -> None:  # fmt: skip
    sources = [parquet_chunk(c) for c in chunks]
    got = topic_clusters(SCHEMA, group, sources, dt, TimeWindow(*(window or (None, None))))
    matched = [r["timestamp_ns"] for c in chunks for r in c if row_matches(r, group)
               and (window is None or window[0] <= r["timestamp_ns"] < window[1])]  # fmt: skip
    assert list(got) == walk_clusters(matched, dt)


def test_sections_and_tag_combination() -> None:
    row = {"timestamp_ns": 1, "f": 5.0, "s": "front"}
    low = {"timestamp_ns": 2, "f": 0.0, "s": "rear"}
    topics = [
        _topic("s1", "imu/front", "T", [[row]], {"env": {"vis": 10}, "id": None}, {"model": "x"}),
        _topic("s1", "gps", "U", [[low]], {"env": {"vis": 10}, "id": None}),
        _topic("s2", "imu/front", "T", [[row]], {"env": {"vis": 90}}),
        _topic("s2", "gps", "U", [[row]], {"env": {"vis": 90}}),
        _topic("s3", "imu/front", "T", [[low]]),
    ]

    def run(body: dict[str, Any]) -> dict[str, list[str]]:
        return {i["sequence"]: [t["locator"] for t in i["topics"]]
                for i in _items(body, topics)}  # fmt: skip

    everything = {"s1": ["s1/gps", "s1/imu/front"], "s2": ["s2/gps", "s2/imu/front"],
                  "s3": ["s3/imu/front"]}  # fmt: skip
    assert run({}) == everything
    assert run({"sequence": {}, "topic": {}, "ontology": {}}) == everything
    assert run({"sequence": {"user_metadata": {"env.vis": {"$lt": 50}}}}) == {
        "s1": ["s1/gps", "s1/imu/front"]}  # fmt: skip
    assert run({"sequence": {"user_metadata": {"id": {"$ex": None}}}}) == {
        "s1": ["s1/gps", "s1/imu/front"]}  # fmt: skip
    assert run({"sequence": {"name": {"$in": ["s2", "s3"]}, "created_at_ns": {"$geq": 300}}}) == {
        "s3": ["s3/imu/front"]}  # fmt: skip
    assert run({"topic": {"name": {"$eq": "imu/front"}, "user_metadata": {"model": {"$eq": "x"}}}}) == {
        "s1": ["s1/imu/front"]}  # fmt: skip
    assert run({"topic": {"ontology_tag": {"$eq": "U"}}}) == {"s1": ["s1/gps"], "s2": ["s2/gps"]}
    # Content: one tag.
    assert run({"ontology": {"T.f": {"$gt": 1.0}}}) == {"s1": ["s1/imu/front"],
                                                      "s2": ["s2/imu/front"]}  # fmt: skip
    # Entries of one tag hold on the same row.
    assert run({"ontology": {"T.f": {"$gt": 1.0}, "T.s": {"$eq": "rear"}}}) == {}
    # Several tags: sequences where every tag matches, union of the matching topics.
    assert run({"ontology": {"T.f": {"$gt": 1.0}, "U.f": {"$gt": 1.0}}}) == {
        "s2": ["s2/gps", "s2/imu/front"]}  # fmt: skip
    # The ontology restricts within the topic filter's candidates.
    assert run({"topic": {"name": {"$match": "*gps"}}, "ontology": {"T.f": {"$gt": 1.0}}}) == {}
    # A path missing from a topic's schema makes that topic not match, without error.
    other = pa.schema([pa.field("timestamp_ns", pa.int64()), pa.field("g", pa.float64())])
    drifted = _topic("s4", "t", "T", [[{"timestamp_ns": 1, "g": 9.0}]], schema=other)
    items = list(_items({"ontology": {"T.f": {"$gt": 1.0}}}, [drifted]))
    assert items == []


def test_pruning_skips_chunks_and_counts() -> None:
    chunks = [[{"timestamp_ns": t, "f": float(t)} for t in range(k * 10, k * 10 + 10)]
              for k in range(10)]  # fmt: skip
    topic = _topic("s1", "t", "T", chunks)
    counters = ScanCounters()
    items = list(_items({"ontology": {"T.f": {"$geq": 95.0}}}, [topic], counters))
    assert items == [{"sequence": "s1", "topics": [{"locator": "s1/t", "ontology_tag": "T"}]}]
    assert (counters.chunks_pruned, counters.chunks_read) == (9, 1)
    counters = ScanCounters()
    clusters = topic_clusters(SCHEMA, [], [parquet_chunk(c) for c in chunks], 1, TimeWindow(25, 41),
                              counters)  # fmt: skip
    assert list(clusters) == [(25, 40)]
    assert counters.chunks_read == 3  # the window prunes by timestamp statistics too
    # Row groups of 4 rows inside one chunk: only the last one is decoded.
    counters = ScanCounters()
    single = _topic("s1", "t", "T", [[row for chunk in chunks for row in chunk]])
    items = list(_items({"ontology": {"T.f": {"$geq": 98.0}}}, [single], counters))
    assert len(items) == 1
    # 100 rows = 25 row groups; the scan stops at the first batch (3 rows) holding a match.
    assert (counters.chunks_read, counters.parts_pruned, counters.rows_read) == (1, 24, 3)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(st.integers(0, 80), min_size=1, max_size=12), min_size=1, max_size=5),
    st.integers(0, 4),
    st.booleans(),
    st.none() | st.tuples(st.integers(0, 30), st.integers(31, 90)),
)
def test_clusters_of_sorted_chunks_are_released_as_soon_as_final(
    chunks: list[list[int]], dt: int, filtered: bool, window: tuple[int, int] | None
) -> None:
    # Chunks sorted inside, as the server writes them, overlapping in time or not.
    data = [[{"timestamp_ns": t, "f": float(t % 3)} for t in sorted(c)] for c in chunks]
    body = {"ontology": {"T.f": {"$lt": 2.0}}} if filtered else {}
    group = plan_query(QueryRequest.from_json(body)).ontology.get("T", [])
    counters = ScanCounters()
    sources = [parquet_chunk(c) for c in data]
    released = []
    for cluster in topic_clusters(SCHEMA, group, sources, dt, TimeWindow(*(window or (None, None))),
                                  counters):  # fmt: skip
        released.append((cluster, counters.chunks_considered))
    assert [c for c, _ in released] == walk_clusters(_matched(chunks, filtered, window), dt)
    if dt:  # (dt 0: one cluster, known at the end only)
        _assert_released_early(released, chunks, dt)


def _matched(chunks: list[list[int]], filtered: bool, window: tuple[int, int] | None) -> list[int]:
    """The timestamps the query keeps: ``f < 2`` when `filtered`, inside `window` if any."""
    return [t for c in chunks for t in c if (not filtered or t % 3 < 2)
            and (window is None or window[0] <= t < window[1])]  # fmt: skip


def _assert_released_early(
    released: list[tuple[tuple[int, int], int]], chunks: list[list[int]], dt: int
) -> None:
    """Each cluster came out before any chunk starting more than `dt` after its end was
    opened (`released`: each cluster with the count of chunks considered by then)."""
    for (_, end), considered in released:
        assert considered <= sum(min(c) <= end + dt for c in chunks)
