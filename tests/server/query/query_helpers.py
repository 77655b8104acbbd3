"""Shared by the query tests: a rich topic schema, hypothesis strategies for its rows and for
ontology entries over every leaf, a brute-force pure-Python oracle, and real Parquet chunks."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

from mosaico.protocol.query import Condition, OntologyEntry, Selector, parse_ontology_key
from mosaico.server.query.engine import ChunkSource
from mosaico.server.query.filters import holds
from mosaico.server.query.pruning import KeepTest
from mosaico.server.query.rowgroups import read_pruned
from mosaico.server.stats import chunk_stats

SCHEMA = pa.schema(
    [
        pa.field("timestamp_ns", pa.int64(), nullable=False),
        pa.field("f", pa.float64()),
        pa.field("i", pa.int32()),
        pa.field("u", pa.uint8()),
        pa.field("s", pa.string()),
        pa.field("b", pa.bool_()),
        pa.field("st", pa.struct([
            pa.field("x", pa.float64()),
            pa.field("name", pa.string()),
            pa.field("inner", pa.struct([pa.field("v", pa.int64())])),
        ])),
        pa.field("lf", pa.list_(pa.float64())),
        pa.field("fl", pa.list_(pa.int16(), 3)),
        pa.field("ls", pa.list_(pa.struct([pa.field("name", pa.string()),
                                           pa.field("v", pa.float64())]))),
        pa.field("sl", pa.struct([pa.field("vals", pa.list_(pa.float32()))])),
    ]
)  # fmt: skip

NUMBERS = [-2, -1, 0, 0.5, 1, 2, 3]
STRINGS = ["", "a", "ab", "b", "ba", "a1"]
PATTERNS = ["a*", "?", "*b", "[ab]*", "a#", "[!a]*", "b"]

# Query paths and the kind of their leaf.
NUMERIC_PATHS = ["timestamp_ns", "f", "i", "u", "st.x", "st.inner.v", "lf[?]", "lf[!]", "lf[0]",
                 "lf[2]", "fl[?]", "fl[!]", "fl[1]", "fl[5]", "ls[?].v", "ls[!].v", "ls[1].v",
                 "sl.vals[?]", "sl.vals[!]", "sl.vals[0]"]  # fmt: skip
STRING_PATHS = ["s", "st.name", "ls[?].name", "ls[!].name", "ls[0].name"]
BOOL_PATHS = ["b"]


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


num = st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0])
small_int = st.integers(-2, 3)
text = st.sampled_from(STRINGS)
rows = st.lists(
    st.fixed_dictionaries(
        {
            "timestamp_ns": small_int,
            "f": _maybe(num),
            "i": _maybe(small_int),
            "u": _maybe(st.integers(0, 3)),
            "s": _maybe(text),
            "b": _maybe(st.booleans()),
            "st": _maybe(st.fixed_dictionaries({
                "x": _maybe(num), "name": _maybe(text),
                "inner": _maybe(st.fixed_dictionaries({"v": _maybe(small_int)})),
            })),
            "lf": _maybe(st.lists(_maybe(num), max_size=3)),
            "fl": _maybe(st.lists(_maybe(small_int), min_size=3, max_size=3)),
            "ls": _maybe(st.lists(_maybe(st.fixed_dictionaries(
                {"name": _maybe(text), "v": _maybe(num)})), max_size=3)),
            "sl": _maybe(st.fixed_dictionaries({"vals": _maybe(st.lists(_maybe(num), max_size=3))})),
        }
    ),
    min_size=1,
    max_size=12,
)  # fmt: skip


@st.composite
def entries(draw: st.DrawFn) -> OntologyEntry:
    kind = draw(st.sampled_from(["number", "string", "bool"]))
    path = draw(st.sampled_from({"number": NUMERIC_PATHS, "string": STRING_PATHS,
                                 "bool": BOOL_PATHS}[kind]))  # fmt: skip
    domains: dict[str, list[Any]] = {"number": NUMBERS, "string": STRINGS, "bool": [True, False]}
    values = domains[kind]
    ops = {"number": ["$eq", "$neq", "$lt", "$leq", "$gt", "$geq", "$between", "$outside", "$in"],
           "string": ["$eq", "$neq", "$lt", "$leq", "$gt", "$geq", "$between", "$outside", "$in",
                      "$match"],
           "bool": ["$eq", "$neq", "$in"]}[kind]  # fmt: skip
    op = draw(st.sampled_from(ops))
    operand: Any
    if op in ("$between", "$outside"):
        operand = sorted(draw(st.lists(st.sampled_from(values), min_size=2, max_size=2)))
    elif op == "$in":
        operand = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))
    elif op == "$match":
        operand = draw(st.sampled_from(PATTERNS))
    else:
        operand = draw(st.sampled_from(values))
    key = f"T.{path}"
    tag, steps = parse_ontology_key(key)
    return OntologyEntry(tag, steps, Condition(key, op, operand))


def _oracle(value: Any, steps: tuple[Any, ...], cond: Condition) -> bool:
    if value is None:
        return False
    if not steps:
        return holds(value, cond)
    step, rest = steps[0], steps[1:]
    if isinstance(step, str):
        return _oracle(value[step], rest, cond)
    assert isinstance(step, Selector)
    if step.kind == "any":
        return any(_oracle(v, rest, cond) for v in value)
    if step.kind == "all":
        return bool(value) and all(_oracle(v, rest, cond) for v in value)
    return step.index < len(value) and _oracle(value[step.index], rest, cond)


def row_matches(row: dict[str, Any], group: Sequence[OntologyEntry]) -> bool:
    return all(_oracle(row, e.path, e.condition) for e in group)


def parquet_chunk(data: list[dict[str, Any]], schema: pa.Schema = SCHEMA,
                  batch_rows: int = 3) -> ChunkSource:  # fmt: skip
    """A real Parquet file in memory, with the server's statistics of it."""
    sink = io.BytesIO()
    collected: list[pq.FileMetaData] = []
    table = pa.Table.from_pylist(data, schema=schema)
    pq.write_table(table, sink, row_group_size=4, metadata_collector=collected)
    stats = {s.column_path: s for s in chunk_stats(collected[0], schema)}
    payload = sink.getvalue()

    def read(columns: Sequence[str], keep: KeepTest) -> Iterator[pa.RecordBatch]:
        parquet = pq.ParquetFile(pa.BufferReader(payload))
        yield from read_pruned(parquet, columns, keep, batch_rows)

    return ChunkSource(stats, read)


def walk_clusters(ts: list[int], dt: int) -> list[tuple[int, int]]:
    """Clusters of timestamps by the gap rule of spec §9.1 step 3, literally (the oracle)."""
    ts = sorted(ts)
    if not ts:
        return []
    if dt == 0:
        return [(ts[0], ts[-1])]
    out, first = [], ts[0]
    for prev, cur in zip(ts, ts[1:]):
        if cur - prev > dt:
            out.append((first, prev))
            first = cur
    return [*out, (first, ts[-1])]
