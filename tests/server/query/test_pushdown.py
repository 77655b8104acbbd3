"""The query pushdown (``server/query/pushdown.py``): the catalog answers in SQL what it can,
and every answer equals the Python path's (``catalog_oracle``), on SQLite and on PostgreSQL
with a collation that orders text unlike Python (``catalogs``)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaico.protocol import actions as act
from mosaico.protocol.commands import TimeWindow, UploadCommand
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.glob import LIKE_ESCAPE, GlobError, like_pattern, python_glob
from mosaico.protocol.names import TopicLocator
from mosaico.protocol.operators import BOOL, NUMBER
from mosaico.protocol.query import OntologyEntry, QueryRequest
from mosaico.protocol.topic_type import TIMESTAMP
from mosaico.server.catalog import CREATED, ChunkRow, ColumnStats, TopicRow
from mosaico.server.query.engine import ScanCounters, TopicCandidate, scan_order, select_topics
from mosaico.server.query.filters import holds
from mosaico.server.query.plan import QueryPlan, plan_query
from mosaico.server.query.pruning import chunk_may_match, window_may_overlap
from mosaico.server.query.pushdown import (
    MAX_PRUNE_VALUES,
    candidate_filter,
    chunk_exclusions,
    stats_paths,
)
from mosaico.server.query.service import QueryService
from mosaico.server.store import Store, StoreConfig
from tests.scale.services import PostgresService
from tests.server.query.catalog_oracle import (
    python_candidates,
    python_chunk_rows,
    python_clusters,
    python_query,
)
from tests.server.query.catalogs import BACKENDS, catalog_location, icu_database

SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                      HealthCheck.too_slow])  # fmt: skip
SCHEMA = pa.schema([
    pa.field(TIMESTAMP, pa.int64(), nullable=False), ("a", pa.int64()), ("b", pa.float64()),
    ("c", pa.string()), ("d", pa.bool_()), ("l", pa.list_(pa.float64())),
])  # fmt: skip
LEAVES = {"a": "int", "b": "real", "c": "text", "d": "bool", "l[]": "real"}
BIG = 2**63
BOUNDS: dict[str, list[Any]] = {
    "int": [-BIG, -5, -1, 0, 1, 2, 5, 2**53 + 1, BIG - 1],
    "real": [-math.inf, -1e300, -2.5, -1.0, 0.0, 0.5, 1.0, 2.5, 2.0**53, 1e300, math.inf],
    "text": ["", "A", "a", "a-b", "ab", "B", "b", "é"],
    "bool": [0, 1],
}
NUMBERS: list[Any] = [-BIG - 1, -BIG, -1e19, -2.5, -1, 0, 0.5, 1, 2, 2.5, 5, 2**53, 2**53 + 1,
                      BIG - 1, BIG, 1e19, 1e300]  # fmt: skip
TEXTS = [*BOUNDS["text"], "a_b", "cam/front", "/cam/front", "imu", "/Imu", "T", "t", "image",
         "t/0", "/u/1"]
PATTERNS = ["*", "a*", "A*", "*b", "a?", "[aA]*", "[!a]*", "#*", "a-*", "a_*", "*-*", "%*", "!*",
            "cam/*", "/cam*", "/*", "?", "*/front", "i*", "run-*", "*/0", "[rR]un*"]  # fmt: skip
STRING_OPS = ["$eq", "$neq", "$lt", "$leq", "$gt", "$geq", "$between", "$outside", "$in", "$match"]
NUMBER_OPS = STRING_OPS[:-1]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store on each backend."""
    with catalog_location(request.param, tmp_path, request) as location:
        opened = Store.open(str(tmp_path / "chunks"), location, StoreConfig(durable=False))
        try:
            yield opened
        finally:
            opened.close()


# --- random catalogs and queries -------------------------------------------------------------

names = st.text("aAbB0-_", min_size=1, max_size=4).filter(lambda n: n[0].isalnum())
scalars = st.none() | st.booleans() | st.sampled_from([0, 1, 2.5, "alpha", "Beta", "a-b"])
documents = st.dictionaries(
    st.sampled_from(["k", "K", "v", "x_y", "n"]),
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=2)
                 | st.dictionaries(st.sampled_from(["v", "k"]), inner, max_size=2), max_leaves=4),
    max_size=3,
)  # fmt: skip


@st.composite
def chunk_stats(draw: st.DrawFn) -> tuple[int, int, list[ColumnStats]]:
    """(min_ts, max_ts, statistics): each leaf absent, nulls only, or bounded."""
    low, high = sorted(draw(st.lists(st.integers(0, 10), min_size=2, max_size=2)))
    found = [ColumnStats(TIMESTAMP, "int", 0, low * 10, high * 10)]
    for path, kind in LEAVES.items():
        shape = draw(st.sampled_from(["absent", "nulls", "bounds", "bounds"]))
        if shape == "nulls":
            found.append(ColumnStats(path, kind, 3, None, None))
        elif shape == "bounds":
            lo, hi = sorted(draw(st.lists(st.sampled_from(BOUNDS[kind]), min_size=2, max_size=2)))
            found.append(ColumnStats(path, kind, 0, lo, hi))
    return low * 10, high * 10, found


topics = st.tuples(
    st.sampled_from(["imu", "Imu", "cam/front", "cam-x", "a_b"]), st.sampled_from(["T", "U", "t"]),
    st.sampled_from(["default", "ragged", "image"]), documents, st.lists(chunk_stats(), max_size=3),
)  # fmt: skip
catalogs = st.lists(
    st.tuples(names, documents, st.lists(topics, max_size=3, unique_by=lambda t: t[0])),
    min_size=1, max_size=5, unique_by=lambda s: s[0],
)  # fmt: skip


def _condition(draw: st.DrawFn, ops: list[str], values: list[Any],
               patterns: list[str] = PATTERNS) -> dict[str, Any]:  # fmt: skip
    op = draw(st.sampled_from(ops))
    if op in ("$between", "$outside"):
        return {op: sorted(draw(st.lists(st.sampled_from(values), min_size=2, max_size=2)))}
    if op == "$in":
        return {op: draw(st.lists(st.sampled_from(values), min_size=1, max_size=4))}
    if op == "$match":
        return {op: draw(st.sampled_from(patterns))}
    return {op: draw(st.sampled_from(values))}


@st.composite
def number_condition(draw: st.DrawFn, numbers: list[Any] = NUMBERS) -> dict[str, Any]:
    return _condition(draw, NUMBER_OPS, numbers)


@st.composite
def any_condition(draw: st.DrawFn, numbers: list[Any] = NUMBERS) -> dict[str, Any]:
    """A condition on a number, a string or a boolean (any operator that takes it)."""
    kind = draw(st.sampled_from(["number", "string", "bool"]))
    if kind == "number":
        return draw(number_condition(numbers))
    if kind == "string":
        return _condition(draw, STRING_OPS, TEXTS)
    return _condition(draw, ["$eq", "$neq", "$in", "$lt"], [True, False])


@st.composite
def sections(draw: st.DrawFn, section: str, created: list[int],
             known: list[str]) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {}
    times = [c + d for c in created for d in (-1, 0, 0.5, 1)] + NUMBERS
    fields = {"name": (STRING_OPS, known + TEXTS), "created_at_ns": (NUMBER_OPS, times)}
    if section == "topic":
        fields["ontology_tag"] = (STRING_OPS, ["T", "U", "t", "X", "a"])
        fields["serialization_format"] = (STRING_OPS, ["default", "ragged", "image", "Image"])
    for field, (ops, values) in fields.items():
        if draw(st.booleans()):
            body[field] = _condition(draw, ops, values)
    paths = draw(st.lists(st.sampled_from(["k", "K", "v", "k.v", "x_y", "n", "zz"]), max_size=2,
                          unique=True))  # fmt: skip
    if paths:
        ex = st.sampled_from([{"$ex": None}, {"$nex": None}])
        body["user_metadata"] = {p: draw(any_condition() | ex) for p in paths}
    return body


@st.composite
def ontologies(draw: st.DrawFn, numbers: list[Any] = NUMBERS,
               paths: tuple[str, ...] = ("a", "b", "c", "d", "l[?]", "l[!]", "l[0]", "zz"),
               tags: tuple[str, ...] = ("T", "U")) -> dict[str, Any]:  # fmt: skip
    keys = draw(st.lists(st.sampled_from([f"{t}.{p}" for t in tags for p in paths]), max_size=3,
                         unique=True))  # fmt: skip
    return {key: draw(any_condition(numbers)) for key in keys}


@st.composite
def requests(draw: st.DrawFn, created: list[int], known: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        body["sequence"] = draw(sections("sequence", created, known))
    if draw(st.booleans()):
        body["topic"] = draw(sections("topic", created, known))
    if draw(st.booleans()):
        body["ontology"] = draw(ontologies())
    return body


@st.composite
def windows(draw: st.DrawFn) -> TimeWindow:
    start = draw(st.none() | st.integers(0, 10).map(lambda v: v * 10))
    end = draw(st.none() | st.integers(0, 11).map(lambda v: v * 10 - 5))
    if start is not None and end is not None and start >= end:
        return TimeWindow(start, None)
    return TimeWindow(start, end)


# --- building catalogs -----------------------------------------------------------------------


def _clear(store: Store) -> None:
    with store.catalog.database.transaction() as cur:
        cur.execute("DELETE FROM sequences")


def _claim(topic: TopicRow) -> None:
    assert topic.state == CREATED


def _fill(store: Store, content: list[Any]) -> list[int]:
    """The catalog rows of ``content`` (chunks without files); returns the creation times."""
    catalog, created = store.catalog, []
    for name, metadata, seq_topics in content:
        created.append(catalog.create_sequence(name, metadata).created_at_ns)
        session = catalog.create_session(name, uuid.uuid4().hex)
        for path, tag, fmt, topic_metadata, chunks in seq_topics:
            topic = catalog.create_topic(session.id, name, path, tag, fmt, topic_metadata)
            created.append(topic.created_at_ns)
            catalog.begin_upload(name, path, SCHEMA.serialize().to_pybytes(), _claim,
                                 store.server_id)  # fmt: skip
            for ordinal, (low, high, stats) in enumerate(chunks):
                chunk_id = str(uuid.uuid4())
                row = ChunkRow(chunk_id, topic.id, ordinal, f"x/{chunk_id}", 1, 1, 1, low, high)
                assert catalog.add_chunk(row, stats)
            catalog.end_upload(topic.id, ok=True)
    return created


def _locators(plan: QueryPlan, selected: dict[str, list[TopicCandidate]]) -> list[str]:
    """The selected topics a reply may name: with an ontology section, those of its tags."""
    return [topic.locator for topic in scan_order(selected)
            if not plan.ontology or topic.ontology_tag in plan.ontology]  # fmt: skip


def _sql_decides(entries: tuple[OntologyEntry, ...]) -> bool:
    """Whether the catalog's exclusions alone are exactly the engine's pruning: numeric or
    boolean operands (doubles exactly), lists short enough to be pushed."""
    for entry in entries:
        cond = entry.condition
        values = cond.operand if isinstance(cond.operand, list) else [cond.operand]
        if cond.kind not in (NUMBER, BOOL) or (cond.op == "$in" and len(values) > MAX_PRUNE_VALUES):
            return False
        if any(isinstance(v, int) and abs(v) > 2**53 for v in values):
            return False
    return True


def _assert_same_chunks(store: Store, topic_id: str, entries: tuple[OntologyEntry, ...],
                        window: TimeWindow) -> None:  # fmt: skip
    def keep(stats: dict[str, ColumnStats]) -> bool:
        return window_may_overlap(stats, window, TIMESTAMP) and chunk_may_match(stats, entries)

    every = python_chunk_rows(store, topic_id)
    want = [chunk.id for chunk, stats in every if keep(stats)]
    found = store.catalog.chunk_candidates(
        [topic_id], stats_paths(entries), chunk_exclusions(entries, window)
    )[topic_id]
    assert found.total == len(every)
    assert [c.row.id for c in found.chunks if keep(c.stats)] == want
    assert [every[c.position][0] for c in found.chunks] == [c.row for c in found.chunks]
    # Only the statistics the pruning reads come back.
    assert all(set(c.stats) <= set(stats_paths(entries)) for c in found.chunks)
    if _sql_decides(entries):
        assert [c.row.id for c in found.chunks] == want


# --- the properties --------------------------------------------------------------------------


@settings(SLOW, max_examples=300)
@given(data=st.data())
def test_the_catalog_narrows_exactly_as_the_python_path_decides(store: Store,
                                                                data: st.DataObject) -> None:  # fmt: skip
    """Random catalogs and requests: the candidates the catalog returns pass the Python
    filters exactly where every topic does, and the chunks it returns leave the pruning
    the same (equal to it, with numeric conditions)."""
    _clear(store)
    content = data.draw(catalogs)
    created = _fill(store, content)
    body = data.draw(requests(created, [name for name, _, _ in content]))
    plan = plan_query(QueryRequest.from_json(body))
    expected = select_topics(plan, python_candidates(store))
    got = select_topics(plan, QueryService(store).candidates(plan))
    assert _locators(plan, got) == _locators(plan, expected)
    window = data.draw(windows())
    for topic in scan_order(got):
        topic_id = store.catalog.get_topic(topic.sequence, topic.path).id
        _assert_same_chunks(store, topic_id, plan.ontology.get(topic.ontology_tag, ()), window)


@settings(SLOW, max_examples=300)
@given(data=st.data())
def test_numeric_conditions_are_pruned_in_sql_alone(store: Store, data: st.DataObject) -> None:
    """Bounds that meet the operands, NULL bounds, missing statistics, a window: with
    numeric (or boolean) conditions the chunks the catalog returns are exactly those the
    engine's pruning keeps, before the engine looks at them."""
    _clear(store)
    chunks = data.draw(st.lists(chunk_stats(), min_size=1, max_size=6))
    _fill(store, [("s", {}, [("imu", "T", "default", {}, chunks)])])
    # Operands that meet the chunks' bounds (where off-by-one mistakes show), and others.
    met = [v for _, _, stats in chunks for c in stats if c.kind != "text"
           for v in (c.min_value, c.max_value) if v is not None]  # fmt: skip
    numbers = [*dict.fromkeys(met), -BIG - 1, -1.5, 0.5, 2**53 + 1, 1e19, BIG]
    keys = data.draw(st.lists(st.sampled_from(["T.a", "T.b", "T.d", "T.l[?]", "T.l[!]", "T.zz",
                                               "T.timestamp_ns"]), min_size=1, max_size=3))  # fmt: skip
    conditions = st.one_of(number_condition(numbers),
                           st.builds(lambda op, v: {op: v}, st.sampled_from(["$eq", "$neq", "$in"]),
                                     st.booleans()).map(lambda c: {k: [v] if k == "$in" else v
                                                                   for k, v in c.items()}))  # fmt: skip
    plan = plan_query(QueryRequest.from_json({"ontology": {k: data.draw(conditions) for k in keys}}))
    _assert_same_chunks(store, store.catalog.get_topic("s", "imu").id, plan.ontology["T"],
                        data.draw(windows()))  # fmt: skip


@settings(SLOW, max_examples=300)
@given(data=st.data())
def test_text_conditions_do_not_lean_on_the_collation(store: Store, data: st.DataObject) -> None:
    """Names, tags and formats whose order differs between code points (Python) and the
    PostgreSQL database's collation (``B`` < ``a``, ``a-b`` < ``ab``): every text
    operator narrows exactly as the Python filters decide."""
    _clear(store)
    known = data.draw(st.lists(names, min_size=1, max_size=8, unique=True))
    tags = data.draw(st.lists(st.sampled_from(["T", "a", "B", "a-b", "ab", "_x"]), min_size=len(known),
                              max_size=len(known)))  # fmt: skip
    paths = data.draw(st.lists(st.sampled_from(["imu", "Imu", "cam/front", "a-b"]), min_size=len(known),
                               max_size=len(known)))  # fmt: skip
    _fill(store, [(name, {}, [(path, tag, "default", {}, [])])
                  for name, tag, path in zip(known, tags, paths)])  # fmt: skip
    values = [*known, *tags, *paths, *(f"/{p}" for p in paths), "a", "B", "a-", "ab", "A_", "0",
              "", "/", "//imu"]  # fmt: skip
    section, field = data.draw(st.sampled_from([("sequence", "name"), ("topic", "ontology_tag"),
                                                ("topic", "name")]))  # fmt: skip
    patterns = ["/*", "/i*", "i*", "*u", "/cam/*", "c*", "[iI]*", "/[!c]*", "a*", "B*", "?"]
    body = {section: {field: _condition(data.draw, STRING_OPS, values, patterns)}}
    plan = plan_query(QueryRequest.from_json(body))
    expected = select_topics(plan, python_candidates(store))
    assert _locators(plan, select_topics(plan, QueryService(store).candidates(plan))) == _locators(
        plan, expected
    )


@pytest.mark.parametrize("condition", [
    {"$lt": 2**53 + 1}, {"$leq": 2**53 - 1}, {"$gt": 2**53 - 1}, {"$geq": 2**53 + 1},
    {"$eq": 2**53 + 1}, {"$between": [2**53 + 1, 2**54]}, {"$outside": [-1, 2**53 + 1]},
    {"$in": [2**53 + 1, 3]}, {"$lt": -(2**53) - 1}, {"$gt": BIG},
])  # fmt: skip
def test_integers_no_double_equals_are_left_to_python(store: Store,
                                                      condition: dict[str, Any]) -> None:  # fmt: skip
    """Against a real leaf bounded at 2**53, an integer operand a double cannot hold is
    compared by Python, exactly, never rounded to the double next to it in SQL."""
    bounds = [ColumnStats(TIMESTAMP, "int", 0, 0, 10), ColumnStats("b", "real", 0, 2.0**53, 2.0**53)]
    _fill(store, [("s", {}, [("imu", "T", "default", {}, [(0, 10, bounds)])])])
    plan = plan_query(QueryRequest.from_json({"ontology": {"T.b": condition}}))
    _assert_same_chunks(store, store.catalog.get_topic("s", "imu").id, plan.ontology["T"],
                        TimeWindow())  # fmt: skip


def test_the_schemas_of_a_tag_are_found_by_digest_and_without(store: Store) -> None:
    """Each distinct schema of a tag once, in the order of the first topic claimed with it,
    whether its topics carry a schema digest or were claimed before digests were kept."""
    drifted = SCHEMA.append(pa.field("extra", pa.string()))
    catalog = store.catalog
    for index, schema in enumerate([SCHEMA, drifted, SCHEMA, drifted, SCHEMA]):
        name = f"s{index}"
        catalog.create_sequence(name, {})
        session = catalog.create_session(name, uuid.uuid4().hex)
        catalog.create_topic(session.id, name, "imu", "T", "default", {})
        catalog.begin_upload(name, "imu", schema.serialize().to_pybytes(), _claim, "me")
    catalog.create_sequence("u", {})
    session = catalog.create_session("u", uuid.uuid4().hex)
    catalog.create_topic(session.id, "u", "imu", "U", "default", {})  # never claimed
    expected = [("T", SCHEMA), ("T", drifted)]
    assert [(t, pa.ipc.read_schema(pa.py_buffer(b))) for t, b in catalog.tag_schemas(["T", "U"])
            ] == expected  # fmt: skip
    with catalog.database.transaction() as cur:  # as schema version 2 left them
        cur.execute("UPDATE topics SET schema_digest = NULL WHERE sequence_id IN "
                    "(SELECT id FROM sequences WHERE name IN ('s0', 's3'))")  # fmt: skip
    assert [(t, pa.ipc.read_schema(pa.py_buffer(b))) for t, b in catalog.tag_schemas(None)
            ] == expected  # fmt: skip
    assert catalog.tag_schemas(["U"]) == []


def test_an_empty_query_leaves_every_topic_to_python(store: Store) -> None:
    """No condition: the filter is the constant true, every topic comes back."""
    _fill(store, [("a", {}, [("imu", "T", "default", {}, [])]), ("b", {}, [])])
    plan = plan_query(QueryRequest.from_json({}))
    assert candidate_filter(plan).text == "1 = 1"
    assert [t.locator for t in QueryService(store).candidates(plan)] == ["a/imu"]


# --- end to end over real chunks -------------------------------------------------------------

VALUES = [-2, -1, 0, 0.5, 1, 2, 3]
E2E_NUMBERS = [-BIG - 1, -1.5, -1, 0, 0.5, 1, 2, 2.5, 3, 1e19]


def _rows(seed: int, count: int) -> pa.RecordBatch:
    """Rows of two neighbouring values per leaf (which two: by ``seed``), so that chunks of
    different seeds have different bounds; some nulls, and all-null leaves for some seeds."""

    def pick(values: list[Any], i: int) -> Any:
        if (i * 7 + seed) % 9 == 0 or seed % 5 == 4:
            return None
        return values[(seed + i % 2) % len(values)]

    start = seed * 1000
    return pa.record_batch([
        pa.array([start + i * 10 for i in range(count)], pa.int64()),
        pa.array([pick([-2, -1, 0, 1, 2, 3], i) for i in range(count)], pa.int64()),
        pa.array([pick(VALUES, i + 1) for i in range(count)], pa.float64()),
        pa.array([pick(["", "a", "ab", "b", "B"], i) for i in range(count)], pa.string()),
        pa.array([pick([True, False], i) for i in range(count)], pa.bool_()),
        pa.array([[float(v) for v in VALUES[seed % 4: seed % 4 + i % 3]] for i in range(count)],
                 pa.list_(pa.float64())),
    ], schema=SCHEMA)  # fmt: skip


def _upload(store: Store, name: str, metadata: dict[str, Any], tags: list[str], seed: int) -> None:
    store.create_sequence(act.SequenceCreate(name, metadata))
    session = store.create_session(act.SessionCreate(name)).uuid
    for index, tag in enumerate(tags):
        locator = TopicLocator(name, f"{tag.lower()}/{index}")
        created = store.create_topic(act.TopicCreate(session, locator, "default", tag, {"i": index}))
        upload = store.begin_upload(UploadCommand(locator, created.uuid), SCHEMA)
        for part in range(4):  # several chunks, of differing ranges
            upload.add(_rows(seed + part * 3 + index, 40))
        store.end_upload(upload, ok=True)
    store.finalize_session(act.SessionFinalize(session))


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Store, list[int], list[str]]]:  # fmt: skip
    """A store of real chunks (tiny ones: several per topic) on each backend."""
    folder = tmp_path_factory.mktemp("loaded")
    config = StoreConfig(durable=False, chunk_bytes=1024, row_group_bytes=512)
    with catalog_location(request.param, folder, request) as location:
        store = Store.open(str(folder / "chunks"), location, config)
        try:
            names = ["run-A", "run-b", "calib", "run_1", "Run-2", "z"]
            for seed, name in enumerate(names):
                tags = [["T", "U"], ["T"], ["U", "U"], ["T", "T", "U"], ["U"], ["T"]][seed]
                _upload(store, name, {"k": seed, "x_y": ["a", "B"][seed % 2]}, tags, seed)
            created = [s.created_at_ns for s in store.catalog.list_sequences()]
            yield store, created, names
        finally:
            store.close()


def _outcome(call: Any) -> tuple[Any, Any]:
    counters = ScanCounters()
    try:
        return call(counters), attrs.asdict(counters)
    except InvalidArgument as exc:
        return str(exc), None


def _pushed(store: Store, body: dict[str, Any]) -> Any:
    def call(counters: ScanCounters) -> Any:
        service = QueryService(store)
        service.counters = counters
        return service.query(body)

    return call


@settings(SLOW, max_examples=150)
@given(data=st.data())
def test_query_replies_and_counters_equal_the_python_path(
    loaded: tuple[Store, list[int], list[str]], data: st.DataObject
) -> None:
    """Whole `query` actions over real chunks: the same reply (or the same refusal) and the
    same chunks considered, pruned and read as the Python path."""
    store, created, known = loaded
    body = data.draw(requests(created, known))
    if data.draw(st.booleans()):
        body["ontology"] = data.draw(ontologies(E2E_NUMBERS, ("a", "b", "c", "d", "l[?]", "l[!]")))
    assert _outcome(_pushed(store, body)) == _outcome(lambda c: python_query(store, body, c))


@settings(SLOW, max_examples=80)
@given(data=st.data())
def test_clusters_and_counters_equal_the_python_path(
    loaded: tuple[Store, list[int], list[str]], data: st.DataObject
) -> None:
    store, _, _ = loaded
    ontology = data.draw(ontologies(E2E_NUMBERS, ("a", "b", "l[?]", "d"), ("T",)))
    window = data.draw(st.lists(st.integers(0, 9000), min_size=2, max_size=2, unique=True))
    body = {"locator": "run-A/t/0", "clustering_dt_ns": data.draw(st.sampled_from([0, 10, 500])),
            "ontology": ontology,
            "timestamp_range": {"start_ns": min(window), "end_ns": max(window)}}  # fmt: skip

    def pushed(counters: ScanCounters) -> list[dict[str, Any]]:
        service = QueryService(store)
        service.counters = counters
        return list(service.clusterize(body))

    assert _outcome(pushed) == _outcome(lambda c: python_clusters(store, body, c))


def test_a_selective_query_reads_one_chunk_and_the_catalog_returns_only_it(
    loaded: tuple[Store, list[int], list[str]],
) -> None:
    store, _, _ = loaded
    topic = store.catalog.get_topic("run-A", "t/0")
    every = store.catalog.chunks_of(topic.id)
    stamps = [c.min_ts for c in every]
    body = {"sequence": {"name": {"$eq": "run-A"}},
            "ontology": {"T.timestamp_ns": {"$between": [stamps[2], stamps[2] + 5]}}}  # fmt: skip
    service = QueryService(store)
    assert service.query(body)["items"] == [{"sequence": "run-A", "topics": [
        {"locator": "run-A/t/0", "ontology_tag": "T"}]}]  # fmt: skip
    # Chunks 0 and 1 ruled out, chunk 2 read and matched; the scan stops before chunk 3.
    assert (service.counters.chunks_read, service.counters.chunks_pruned) == (1, 2)
    python = ScanCounters()
    python_query(store, body, python)
    assert service.counters == python
    plan = plan_query(QueryRequest.from_json(body))
    found = service.chunk_candidates([topic.id], plan.ontology["T"])[topic.id]
    assert [c.position for c in found.chunks] == [2]  # the others ruled out in SQL, unread
    assert found.total == len(every)


# --- the pushdown's pieces on both backends --------------------------------------------------


@settings(SLOW, max_examples=200)
@given(pattern=st.text("aA%_!*?#[]-b/é", max_size=6), text=st.text("aA%_!-b/é", max_size=5))
def test_like_patterns_match_every_text_their_glob_matches(store: Store, pattern: str,
                                                           text: str) -> None:  # fmt: skip
    try:
        glob = python_glob(pattern)
    except GlobError:
        return
    with store.catalog.database.transaction() as cur:
        like = cur.execute(
            f"SELECT CASE WHEN CAST(? AS TEXT) LIKE CAST(? AS TEXT) ESCAPE '{LIKE_ESCAPE}' "
            "THEN 1 ELSE 0 END", (text, like_pattern(pattern)),
        ).fetchone()[0]  # fmt: skip
    assert like == 1 or not glob.fullmatch(text)


EXTREMES = [-BIG, -BIG + 1, -(2**53) - 1, -1, 0, 1, 2**53 + 1, BIG - 2, BIG - 1]


@settings(SLOW, max_examples=150)
@given(condition=number_condition(NUMBERS + [v + d for v in EXTREMES for d in (-0.5, 0.5)]))
def test_created_time_conditions_are_exact_for_every_bigint(store: Store,
                                                            condition: dict[str, Any]) -> None:  # fmt: skip
    """``created_at_ns`` conditions are decided in SQL for any number, even one no BIGINT
    or no double equals, as Python compares them (exactly)."""
    plan = plan_query(QueryRequest.from_json({"sequence": {"created_at_ns": condition}}))
    where = candidate_filter(plan)
    rows = " UNION ALL ".join("SELECT CAST(? AS BIGINT) AS created_at_ns" for _ in EXTREMES)
    with store.catalog.database.transaction() as cur:
        found = cur.execute(f"SELECT q.created_at_ns FROM ({rows}) q WHERE {where.text}",
                            (*EXTREMES, *where.args)).fetchall()  # fmt: skip
    entry = plan.sequence.fields[0]
    assert sorted(r[0] for r in found) == [v for v in EXTREMES if holds(v, entry.condition)]


# --- the pushdown at scale: what the catalog is asked ----------------------------------------

MANY = 1000


@pytest.fixture
def many(tmp_path: Path) -> Iterator[Store]:
    """An SQLite store of ``MANY`` sequences; the last three created, ``calib-0..2``, are the
    only ones with a ``Rare`` topic (with real chunks)."""
    config = StoreConfig(durable=False, chunk_bytes=1024)
    store = Store.open_local(str(tmp_path / "store"), config)
    catalog = store.catalog
    try:
        for i in range(MANY - 3):
            name = f"drive-{i:04d}"
            catalog.create_sequence(name, {"i": i})
            session = catalog.create_session(name, uuid.uuid4().hex)
            catalog.create_topic(session.id, name, "imu", "T", "default", {})
        for i in range(3):
            _upload(store, f"calib-{i}", {"i": i, "rare": True}, ["Rare"], i)
    finally:
        store.close()  # gathers the planner's statistics, as a server that stops does
    store = Store.open_local(str(tmp_path / "store"), config)
    try:
        yield store
    finally:
        store.close()


def _traced(store: Store, call: Any) -> tuple[Any, list[str]]:
    """(what ``call`` returns, the SQL statements the catalog ran meanwhile), through SQLite's
    own trace hook on the catalog's connection."""
    statements: list[str] = []
    connection = store.catalog.database._db  # type: ignore[attr-defined]
    connection.set_trace_callback(statements.append)
    try:
        return call(), [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    finally:
        connection.set_trace_callback(None)


SELECTIVE = [  # each matches the three calib sequences only, and an index finds them
    ({"sequence": {"name": {"$match": "calib-*"}}}, "sequences_by_name_like"),
    ({"sequence": {"name": {"$match": "calib-*"}}, "ontology": {"Rare.a": {"$geq": -2}}},
     "USING INDEX"),
    ({"sequence": {"name": {"$in": ["calib-0", "calib-1", "calib-2", "nothing"]}}},
     "sqlite_autoindex_sequences_2"),
    ({"topic": {"ontology_tag": {"$eq": "Rare"}}}, "topics_by_tag"),
    ({"sequence": {"user_metadata": {"rare": {"$eq": True}}}, "ontology": {"Rare.b": {"$lt": 9}}},
     "topics_by_tag"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "index"), SELECTIVE)
def test_a_selective_query_asks_the_catalog_a_few_indexed_queries(
    many: Store, body: dict[str, Any], index: str
) -> None:
    service = QueryService(many)
    reply, statements = _traced(many, lambda: service.query(body))
    expected, python_statements = _traced(many, lambda: python_query(many, body))
    assert reply == expected
    assert [item["sequence"] for item in reply["items"]] == ["calib-0", "calib-1", "calib-2"]
    # The tag's schemas (their digests, the one distinct schema, those from before digests),
    # the candidates, their metadata when a condition looks into it, one batch of chunks
    # (rows and counts): none per sequence.
    assert len(statements) <= 7, statements
    assert len(python_statements) > MANY  # the Python path lists every sequence's topics
    plan = plan_query(QueryRequest.from_json(body))
    assert len(service.candidates(plan)) == 3  # the rows the catalog returned
    candidates = next(s for s in statements if "ORDER BY q.created_at_ns" in s)
    with many.catalog.database.transaction() as cur:
        steps = " ".join(str(r[-1]) for r in cur.execute(f"EXPLAIN QUERY PLAN {candidates}").fetchall())
    assert index in steps and "SCAN" not in steps, steps


def test_a_created_time_range_is_answered_by_its_index(many: Store) -> None:
    created = [s.created_at_ns for s in many.catalog.list_sequences()]
    body = {"sequence": {"created_at_ns": {"$geq": created[-3]}}}
    reply, statements = _traced(many, lambda: QueryService(many).query(body))
    assert [item["sequence"] for item in reply["items"]] == ["calib-0", "calib-1", "calib-2"]
    assert len(statements) == 1, statements
    with many.catalog.database.transaction() as cur:
        steps = " ".join(str(r[-1]) for r in cur.execute(f"EXPLAIN QUERY PLAN {statements[0]}").fetchall())
    assert "sequences_by_created" in steps, steps


def test_postgres_finds_name_patterns_through_the_like_index(
    tmp_path: Path, postgres: PostgresService
) -> None:
    """Under a linguistic collation (where text ranges are not byte ranges) the pattern's
    ``LIKE`` still goes through an index: the migration's ``text_pattern_ops`` one."""
    with icu_database(postgres) as uri:
        store = Store.open(str(tmp_path / "chunks"), uri, StoreConfig(durable=False))
        try:
            for i in range(50):
                store.catalog.create_sequence(f"drive-{i:03d}", {})
            plan = plan_query(QueryRequest.from_json({"sequence": {"name": {"$match": "drive-01*"}}}))
            where = candidate_filter(plan)
            with store.catalog.database.transaction() as cur:
                cur.execute("SET LOCAL enable_seqscan = off")
                steps = " ".join(r[0] for r in cur.execute(
                    f"EXPLAIN SELECT q.id FROM sequences q WHERE {where.text}", where.args).fetchall())  # fmt: skip
            assert "sequences_by_name_like" in steps, steps
            assert [t.sequence for t in QueryService(store).candidates(plan)] == []  # no topics
        finally:
            store.close()
