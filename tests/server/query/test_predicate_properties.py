"""Vectorised ontology predicates and chunk pruning against a brute-force pure-Python oracle.

Hypothesis draws rows (nulls everywhere, nested structs, variable and fixed-size lists,
lists of structs) and entries over every leaf with every operator; the engine's row mask
must equal the oracle's, and pruning by real Parquet statistics must never skip a chunk
that holds a match.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.query import Condition, OntologyEntry, parse_ontology_key
from mosaico.server.query.predicate import compile_predicate
from mosaico.server.query.pruning import chunk_may_match
from tests.server.query.query_helpers import SCHEMA, entries, parquet_chunk, row_matches, rows


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows, st.lists(entries(), min_size=1, max_size=3), st.integers(0, 2))
def test_predicate_equals_oracle(data: list[dict[str, Any]], group: list[OntologyEntry],
                                 offset: int) -> None:  # fmt: skip
    batch = pa.RecordBatch.from_pylist(data, schema=SCHEMA).slice(min(offset, len(data) - 1))
    predicate = compile_predicate(SCHEMA, group)
    assert predicate is not None
    expected = [row_matches(row, group) for row in batch.to_pylist()]
    assert predicate(batch).tolist() == expected


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows, st.lists(entries(), min_size=1, max_size=3))
def test_pruning_never_skips_a_match(data: list[dict[str, Any]],
                                     group: list[OntologyEntry]) -> None:  # fmt: skip
    matching = [row for row in data if row_matches(row, group)]
    chunk = parquet_chunk(data)
    if matching:
        assert chunk_may_match(chunk.stats, group)
    # Inside the chunk, row groups (of 4 rows) are pruned the same way: none holding a
    # matching row may be skipped.
    kept = [row for b in chunk.read([f.name for f in SCHEMA], lambda st: chunk_may_match(st, group))
            for row in b.to_pylist()]  # fmt: skip
    assert [r for r in kept if row_matches(r, group)] == matching


def test_pruning_does_prune() -> None:
    data = [{"timestamp_ns": t, "f": float(t), "s": "abc", "lf": [1.0, 2.0]} for t in range(10)]
    stats = parquet_chunk(data).stats

    def may(key: str, op: str, operand: Any) -> bool:
        tag, steps = parse_ontology_key(key)
        return chunk_may_match(stats, [OntologyEntry(tag, steps, Condition(key, op, operand))])

    assert not may("T.f", "$gt", 9.0) and may("T.f", "$gt", 8.5)
    assert not may("T.timestamp_ns", "$lt", 0) and may("T.timestamp_ns", "$eq", 3)
    assert not may("T.f", "$between", [10, 20]) and not may("T.f", "$outside", [0, 9])
    assert not may("T.f", "$in", [-1, 11]) and may("T.f", "$in", [-1, 4])
    assert (
        not may("T.s", "$match", "b*")
        and may("T.s", "$match", "ab*")
        and may("T.s", "$match", "*z")
    )
    assert not may("T.s", "$neq", "abc") and may("T.f", "$neq", 1.0)
    assert not may("T.lf[?]", "$gt", 2.0) and may("T.lf[0]", "$leq", 1.0)
    assert not may("T.st.x", "$eq", 1.0)  # the struct is null in every row
    assert not may("T.fl[?]", "$eq", 1)  # every list is null


def test_date_and_time_leaves() -> None:
    utc = dt.timezone.utc
    schema = pa.schema(
        [
            pa.field("timestamp_ns", pa.int64()),
            pa.field("at", pa.timestamp("us", tz="UTC")),
            pa.field("day", pa.date32()),
            pa.field("clock", pa.time64("us")),
        ]
    )
    batch = pa.RecordBatch.from_pylist(
        [
            {"timestamp_ns": 0, "at": dt.datetime(2023, 12, 31, tzinfo=utc),
             "day": dt.date(2024, 1, 5), "clock": dt.time(9, 30)},
            {"timestamp_ns": 1, "at": dt.datetime(2024, 3, 1, tzinfo=utc),
             "day": dt.date(2024, 3, 5), "clock": dt.time(13, 0)},
            {"timestamp_ns": 2, "at": None, "day": None, "clock": None},
        ],
        schema=schema,
    )  # fmt: skip

    def mask(key: str, op: str, operand: Any) -> list[bool]:
        tag, steps = parse_ontology_key(key)
        predicate = compile_predicate(
            schema, [OntologyEntry(tag, steps, Condition(key, op, operand))]
        )
        assert predicate is not None
        return predicate(batch).tolist()

    assert mask("T.at", "$gt", "2024-01-01T00:00:00") == [False, True, False]
    assert mask("T.at", "$geq", "1704067200000000000") == [False, True, False]  # ns as text
    assert mask("T.at", "$lt", 1704067200000000000) == [True, False, False]
    assert mask("T.day", "$between", ["2024-01-01", "2024-02-01"]) == [True, False, False]
    assert mask("T.clock", "$lt", "12:00:00") == [True, False, False]
    assert mask("T.day", "$in", ["2024-03-05"]) == [False, True, False]
    with pytest.raises(InvalidArgument, match="T.day: 'soon' is not a valid date32"):
        mask("T.day", "$gt", "soon")
    with pytest.raises(InvalidArgument, match="T.at: \\$match applies to string leaves"):
        mask("T.at", "$match", "2024*")
