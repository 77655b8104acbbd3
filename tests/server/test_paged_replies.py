"""Paged replies (``topic_filter_clusterize``, ``topic_filter_intersect``) over a real Flight
server: streamed page by page, byte for byte the envelopes of every cluster in order, the
request's own errors raised before the first page, storage faults met while streaming
turned into their status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico.protocol.actions import parse_request
from mosaico.protocol.envelope import encode_envelope
from mosaico.protocol.errors import InvalidArgument, NotFound
from mosaico.server import StoreConfig
from mosaico.server.query.service import QueryService
from tests.backends import Backend
from tests.server.server_helpers import Raw

SCHEMA = pa.schema([pa.field("timestamp_ns", pa.int64(), nullable=False), ("v", pa.float64())])
DT = 10


def _stamps() -> np.ndarray:
    """20 000 rows: mostly one-row clusters (gaps of 100), some of several rows (gaps <= DT),
    shuffled across batches so that chunks overlap in time."""
    rng = np.random.default_rng(3)
    gaps = np.where(rng.random(20_000) < 0.1, rng.integers(0, DT + 1, 20_000), 100)
    stamps = np.cumsum(gaps)
    rng.shuffle(stamps)
    return stamps


def _walk(stamps: Any, dt: int) -> list[tuple[int, int]]:
    """Clusters by a walk over the sorted timestamps: the oracle."""
    out: list[tuple[int, int]] = []
    for t in sorted(int(t) for t in stamps):
        if out and t - out[-1][1] <= dt:
            out[-1] = (out[-1][0], t)
        else:
            out.append((t, t))
    return out


def _pages(name: str, clusters: list[tuple[int, int]]) -> list[bytes]:
    """The reply of spec §5.2 / §9: one newline-terminated envelope per cluster, in order."""
    return [
        encode_envelope(name, {"id": i, "ts": {"start_ns": s, "end_ns": e}}) + b"\n"
        for i, (s, e) in enumerate(clusters)
    ]


@pytest.fixture
def loaded(backend: Backend, tmp_path: Path) -> Any:
    """A server whose topic ``seq/t`` holds ``_stamps()`` in many chunks; yields (raw,
    embedded server, stamps)."""
    embedded = backend.server(tmp_path / "store", StoreConfig(chunk_bytes=64 * 1024))
    host, port = embedded.start()
    raw = Raw(flight.FlightClient(f"grpc://{host}:{port}"))
    stamps = _stamps()
    session = raw.new_sequence("seq")
    uuid = raw.new_topic(session, "seq/t")
    batches = [
        pa.record_batch([pa.array(part), pa.array(part % 7 * 1.0)], schema=SCHEMA)
        for part in np.array_split(stamps, 40)
    ]
    raw.put("seq/t", uuid, batches, schema=SCHEMA)
    try:
        yield raw, embedded, stamps
    finally:
        raw.client.close()
        embedded.stop()


def _bodies(raw: Raw, name: str, body: dict[str, Any]) -> list[bytes]:
    action = flight.Action(name, json.dumps(body).encode())
    return [r.body.to_pybytes() for r in raw.client.do_action(action)]


def test_clusterize_reply_is_every_cluster_in_order(loaded: Any) -> None:
    raw, _, stamps = loaded
    want = _walk(stamps.tolist(), DT)
    assert len(want) > 15_000  # many clusters, spread over many chunks
    name = "topic_filter_clusterize"
    assert _bodies(raw, name, {"locator": "seq/t", "clustering_dt_ns": DT}) == _pages(name, want)
    # A window and a condition select rows before clustering.
    start, end = int(stamps.min()) + 5000, int(stamps.min()) + 500_000
    body = {"locator": "seq/t", "clustering_dt_ns": DT, "ontology": {"Thing.v": {"$lt": 3.0}},
            "timestamp_range": {"start_ns": start, "end_ns": end}}  # fmt: skip
    kept = [t for t in stamps.tolist() if start <= t < end and t % 7 < 3]
    assert _bodies(raw, name, body) == _pages(name, _walk(kept, DT))


def test_intersect_reply_is_every_window_in_order(loaded: Any) -> None:
    raw, _, stamps = loaded
    name = "topic_filter_intersect"
    both = {"locator": "seq/t", "clustering_dt_ns": DT}
    odd = {**both, "ontology": {"Thing.v": {"$geq": 1.0}}}
    body = {"topics": [both, odd], "intersect_dt_ns": 0}
    # Every cluster of the odd rows lies within one cluster of all rows: the windows are the
    # clusters of the odd rows.
    want = _walk([t for t in stamps.tolist() if t % 7 >= 1], DT)
    assert _bodies(raw, name, body) == _pages(name, want)


def test_the_request_is_checked_before_the_first_page(loaded: Any) -> None:
    raw, embedded, _ = loaded
    with pytest.raises(pa.ArrowKeyError, match="^not found: topic 'seq/ghost'"):
        _bodies(raw, "topic_filter_clusterize", {"locator": "seq/ghost"})
    bad_field = {"locator": "seq/t", "ontology": {"Thing.nope": {"$eq": 1.0}}}
    with pytest.raises(pa.ArrowInvalid, match="^invalid argument: .*nope"):
        _bodies(raw, "topic_filter_clusterize", bad_field)
    good = {"locator": "seq/t", "clustering_dt_ns": DT}
    with pytest.raises(pa.ArrowKeyError, match="^not found: topic 'seq/ghost'"):
        _bodies(raw, "topic_filter_intersect", {"topics": [good, {"locator": "seq/ghost"}]})
    # Raised by the call itself, not when the pages are consumed: nothing has been scanned.
    service = QueryService(embedded.store)

    def request(body: dict[str, Any]) -> Any:
        return parse_request("topic_filter_clusterize", json.dumps(body).encode(), 1 << 20)

    with pytest.raises(NotFound):
        service.pages(request({"locator": "seq/ghost"}))
    with pytest.raises(InvalidArgument):
        service.pages(request(bad_field))
    pages = iter(service.pages(request(good)))
    assert service.counters.chunks_considered == 0  # lazy: no chunk touched yet
    stamps = _stamps()
    first = {"id": 0, "ts": {"start_ns": int(stamps.min()), "end_ns": _walk(stamps, DT)[0][1]}}
    assert next(pages) == first
    # Streamed: the first page is made once no unread row can change it, long before the
    # last chunk is read.
    topic = embedded.store.catalog.get_topic("seq", "t")
    chunks = len(embedded.store.catalog.chunks_of(topic.id))
    assert 1 <= service.counters.chunks_considered < chunks / 2


def test_a_storage_fault_while_streaming_gets_its_status(loaded: Any) -> None:
    raw, embedded, _ = loaded
    store = embedded.store
    topic = store.catalog.get_topic("seq", "t")
    chunk = store.catalog.chunks_of(topic.id)[-1]
    # The catalog still points at it.
    store.chunks.fs.delete_file(f"{store.chunks.root}/{chunk.path}")
    for name, body in (
        ("topic_filter_clusterize", {"locator": "seq/t", "clustering_dt_ns": DT}),
        ("topic_filter_intersect", {"topics": [{"locator": "seq/t"}], "intersect_dt_ns": 0}),
    ):
        with pytest.raises(flight.FlightInternalError, match="^internal: storage failure"):
            _bodies(raw, name, body)
