"""User metadata is read only by the calls that return it or filter on it: listing, reading
and querying without metadata conditions neither fetch nor parse a 20 MB document.

Measured through the real path: the Python memory the server allocates during the call
(tracemalloc traces the Flight handler threads too); fetching or parsing the document
allocates at least its 20 MB.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico.protocol.info import Limits
from mosaico.server import StoreConfig
from tests.backends import Backend
from tests.server.server_helpers import Raw, make_batch, raw_server

MB = 1_000_000
BIG = {"blob": "x" * (20 * MB), "index": 1}


@pytest.fixture
def raw(backend: Backend, tmp_path: Path) -> Iterator[Raw]:
    """A server whose metadata limit (1 MiB by default) admits the 20 MB documents."""
    config = StoreConfig(limits=Limits(max_metadata_bytes=64 * MB))
    with raw_server(backend.server(tmp_path / "store", config)) as served:
        yield served


@pytest.fixture
def big(raw: Raw) -> Iterator[Raw]:
    """``heavy`` (20 MB of sequence metadata, and a topic with 20 MB of its own) among small
    sequences; each has a topic ``t`` with rows."""
    for name, metadata in (("light-0", {"index": 0}), ("heavy", BIG), ("light-2", {"index": 2})):
        session = raw.new_sequence(name, metadata)
        topic_metadata = BIG if name == "heavy" else {"index": 5}
        uuid = raw.new_topic(session, f"{name}/t", metadata=topic_metadata)
        raw.put(f"{name}/t", uuid, [make_batch([1, 2, 3])])
    tracemalloc.start()
    try:
        yield raw
    finally:
        tracemalloc.stop()


def _peak(call: Callable[[], Any]) -> tuple[Any, int]:
    """(result, peak bytes of Python memory allocated while ``call`` ran)."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    result = call()
    return result, tracemalloc.get_traced_memory()[1] - before


def _query(raw: Raw, body: dict[str, Any]) -> list[str]:
    return [item["sequence"] for item in raw.action("query", body)["items"]]


def test_list_flights_reads_no_metadata(big: Raw) -> None:
    names, peak = _peak(lambda: [i.descriptor.path[0].decode() for i in big.client.list_flights()])
    assert names == ["light-0", "heavy", "light-2"]
    assert peak < 5 * MB


def test_reads_read_no_metadata(big: Raw) -> None:
    cmd = flight.FlightDescriptor.for_command(json.dumps({"resource_locator": "heavy/t"}))
    schema, peak = _peak(lambda: big.client.get_schema(cmd).schema)
    assert schema.names[0] == "timestamp_ns"
    assert peak < 5 * MB
    info = big.info("heavy/t")  # GetFlightInfo returns the metadata: it is read, once
    table, peak = _peak(lambda: big.client.do_get(info.endpoints[0].ticket).read_all())
    assert table.column("timestamp_ns").to_pylist() == [1, 2, 3]
    assert peak < 5 * MB


def test_queries_read_metadata_only_for_metadata_conditions(big: Raw) -> None:
    everything, peak = _peak(lambda: _query(big, {"topic": {"ontology_tag": {"$eq": "Thing"}}}))
    assert everything == ["heavy", "light-0", "light-2"]
    assert peak < 5 * MB
    by_name, peak = _peak(lambda: _query(big, {"sequence": {"name": {"$match": "light-*"}}}))
    assert by_name == ["light-0", "light-2"]
    assert peak < 5 * MB
    # The measure sees a read: a condition on the metadata reads every sequence's document.
    by_index, peak = _peak(
        lambda: _query(big, {"sequence": {"user_metadata": {"index": {"$geq": 1}}}})
    )
    assert by_index == ["heavy", "light-2"]
    assert peak > 20 * MB
    # A topic condition reads topic metadata only for the sequences the other filters keep.
    body = {"sequence": {"name": {"$match": "light-*"}},
            "topic": {"user_metadata": {"index": {"$eq": 5}}}}  # fmt: skip
    kept, peak = _peak(lambda: _query(big, body))
    assert kept == ["light-0", "light-2"]
    assert peak < 5 * MB


def test_described_sequences_still_carry_their_metadata(big: Raw) -> None:
    info = big.info("heavy")
    document = json.loads(info.app_metadata)
    assert document["user_metadata"] == BIG
    endpoint = json.loads(info.endpoints[0].app_metadata)
    assert endpoint["user_metadata"] == BIG
    assert isinstance(info.schema, pa.Schema)
