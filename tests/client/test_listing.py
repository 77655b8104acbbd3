"""Every sequence's totals in one ``ListFlights`` (our extension, `mosaico.protocol.listing`):
the same figures as each sequence's handler, on both backends; bad criteria are named."""

from __future__ import annotations

import numpy as np
import pytest

from mosaico.client import MosaicoClient
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.listing import TOTALS_CRITERIA, wants_totals
from mosaico.types.scalars import Floating64
from tests.ml.ml_helpers import scalar_source


def test_totals_are_the_handlers_figures(client: MosaicoClient) -> None:
    for i, rows in enumerate([5, 0, 300, 1]):
        with client.sequence_create(f"s{i}", {}) as seq:
            for topic in ("/a", "/b")[: 1 + i % 2]:
                table = scalar_source(topic, np.arange(rows), np.arange(rows, dtype=float)).table
                t = seq.topic_create(topic, {}, Floating64)
                if rows:
                    t.push_batch(table)
    totals = client.list_sequence_totals()
    assert list(totals) == client.list_sequences()
    for name, (rows, size) in totals.items():
        handler = client.sequence_handler(name)
        assert handler is not None
        assert (rows, size) == (handler.total_row_count, handler.total_size_bytes)
    assert totals["s1"] == (0, 0) and totals["s2"][0] == 300 and totals["s3"][0] == 2


def test_plain_listing_is_unchanged(client: MosaicoClient) -> None:
    with client.sequence_create("x", {}) as seq:
        seq.topic_create("/a", {}, Floating64).push_batch(scalar_source("/a", [1], [1.0]).table)
    (info,) = client._conn.list_flights()
    assert (info.total_records, info.total_bytes) == (-1, -1)


@pytest.mark.parametrize(
    "criteria", [b'{"totals": 1}', b'{"totals": true, "x": 1}', b"[true]", b"{", b"\xff"]
)
def test_bad_criteria_are_named(client: MosaicoClient, criteria: bytes) -> None:
    with pytest.raises(InvalidArgument, match=r"ListFlights criteria .* unsupported"):
        client._conn.list_flights(criteria)
    with pytest.raises(InvalidArgument, match=r"unsupported"):
        wants_totals(criteria)


def test_criteria_parse() -> None:
    assert wants_totals(TOTALS_CRITERIA) and not wants_totals(b'{"totals": false}')
    assert not wants_totals(b"") and not wants_totals(b"/")


def test_topic_handlers_are_each_topics_own(client: MosaicoClient) -> None:
    from mosaico.types.sensors import IMU
    from tests.ml.ml_helpers import imu_source

    with client.sequence_create("many", {}) as seq:
        for i in range(12):
            seq.topic_create(f"/t{i}", {"i": i}, IMU).push_batch(imu_source("/t", range(i + 1)).table)
    handler = client.sequence_handler("many")
    assert handler is not None
    every = handler.topic_handlers()
    assert list(every) == list(handler.topic_metadata)
    for name, bulk in every.items():
        own = handler.get_topic_handler(name)
        assert (bulk.metadata, bulk.schema) == (own.metadata, own.schema)
        assert bulk.get_data_streamer().read_all() == own.get_data_streamer().read_all()
