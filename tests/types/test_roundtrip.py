"""Property round trips for every standard type: objects -> RecordBatch -> IPC / Parquet -> objects."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaico.ontology import registry, schema_fingerprint
from mosaico.types.strategies import STRATEGIES

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _ipc(batch: pa.RecordBatch) -> pa.RecordBatch:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return pa.ipc.open_stream(sink.getvalue()).read_next_batch()


def _parquet(batch: pa.RecordBatch) -> pa.RecordBatch:
    sink = io.BytesIO()
    # Non-compliant nesting keeps list children named `item`, as the wire schema requires.
    pq.write_table(pa.Table.from_batches([batch]), sink, use_compliant_nested_type=False)
    table = pq.read_table(io.BytesIO(sink.getvalue()))
    return table.combine_chunks().to_batches()[0]


def _same_schema(actual: pa.Schema, declared: pa.Schema) -> None:
    assert str(actual) == str(declared)
    assert actual.equals(declared, check_metadata=True)
    assert schema_fingerprint(actual) == schema_fingerprint(declared)


def test_every_registered_type_has_a_strategy() -> None:
    standard = {t for t, c in registry.items() if c.__module__.startswith("mosaico.types.")}
    assert standard == set(STRATEGIES)


@pytest.mark.parametrize("tag", sorted(STRATEGIES))
def test_round_trip(tag: str) -> None:
    cls = registry[tag]

    @SETTINGS
    @given(st.lists(STRATEGIES[tag](), min_size=1, max_size=4))
    def check(objs: list) -> None:
        timestamps = list(range(len(objs)))
        batch = cls.to_batch(objs, timestamps)
        _same_schema(batch.schema, cls.ARROW_SCHEMA)
        assert batch.column(0).to_pylist() == timestamps
        for trip in (_ipc, _parquet):
            back = trip(batch)
            _same_schema(back.schema, cls.ARROW_SCHEMA)
            assert cls.from_batch(back) == objs
        assert cls.from_arrow(cls.to_arrow([None, *objs])) == [None, *objs]

    check()
