"""The viewer's HTTP API (mosaico.viewer.app): served by real uvicorn on loopback over a
real store, requested with urllib; series decoded with pyarrow and compared to
`downsample` called directly."""

from __future__ import annotations

import json
import logging
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mosaico.client import MosaicoClient
from mosaico.errors import MissingExtraError
from mosaico.types.scalars import Floating64
from mosaico.types.sensors import IMU
from mosaico.viewer import downsample
from mosaico.viewer.app import (
    ARROW_STREAM,
    INTERNAL,
    SERIES_METADATA,
    UNAVAILABLE,
    create_app,
    error_reply,
)
from tests.backends import Backend
from tests.ml.ml_helpers import imu_source, scalar_source
from tests.viewer.serving import free_port, get, get_json, served

IMU_TS = list(range(1_000, 3_001_000, 1000))  # 3000 rows, 1 µs apart


@pytest.fixture(scope="module")
def store(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[MosaicoClient, str]]:
    """30 small sequences ``seq-NN`` created in shuffled order (``seq-NN`` has NN+1 rows
    in metadata ``{"i": NN}``), and ``run`` with a 3000-row ``/imu``; with the API served."""
    path = tmp_path_factory.mktemp("app") / "store"
    with backend.client(path, port=free_port()) as client:
        order = list(range(30))
        random.Random(4).shuffle(order)
        for i in order:
            with client.sequence_create(f"seq-{i:02d}", {"i": i}) as seq:
                n = i + 1
                table = scalar_source("/s", np.arange(n) * 10, np.arange(n, dtype=float)).table
                seq.topic_create("/s", {}, Floating64).push_batch(table)
        with client.sequence_create("run", {"robot": "r2"}) as seq:
            seq.topic_create("/imu", {"rate": 1000}, IMU).push_batch(
                imu_source("/imu", IMU_TS).table
            )
        with served(client) as url:
            yield client, url


def test_paging_glob_and_sort(store: tuple[MosaicoClient, str]) -> None:
    client, url = store
    created = [n for n in client.list_sequences() if n.startswith("seq-")]
    by_size = sorted(created, key=lambda n: (client.sequence_handler(n).total_size_bytes, n))  # type: ignore[union-attr]
    every = get_json(f"{url}/api/sequences?glob=seq-*&limit=1000")
    assert every["total"] == 30 and [i["name"] for i in every["items"]] == created
    assert created != sorted(created)  # the order of creation is not the names'
    for sort, order, want in [
        ("name", "asc", sorted(created)),
        ("name", "desc", sorted(created, reverse=True)),
        ("size", "asc", by_size),
        ("size", "desc", by_size[::-1]),
        ("created", "desc", created[::-1]),
    ]:
        page = get_json(f"{url}/api/sequences?glob=seq-*&sort={sort}&order={order}&offset=10&limit=7")
        assert page["total"] == 30
        assert [i["name"] for i in page["items"]] == want[10:17], (sort, order)
    assert get_json(f"{url}/api/sequences?glob=seq-2?&sort=name")["total"] == 10
    assert get_json(f"{url}/api/sequences?offset=100")["items"] == []
    assert get_json(f"{url}/api/sequences")["total"] == 31


def test_a_sequence_summary_is_its_handler(store: tuple[MosaicoClient, str]) -> None:
    client, url = store
    (item,) = get_json(f"{url}/api/sequences?glob=seq-07")["items"]
    seq = client.sequence_handler("seq-07")
    assert seq is not None
    assert item == {
        "name": "seq-07",
        "metadata": {"i": 7},
        "size_bytes": seq.total_size_bytes,
        "rows": 8,
        "start_ns": 0,
        "end_ns": 70,
        "topics": 1,
        "created_ns": seq.created_timestamp,
        "notifications": [],
    }
    assert item["size_bytes"] > 0


def test_a_sequence_with_its_sessions_and_topics(store: tuple[MosaicoClient, str]) -> None:
    _, url = store
    run = get_json(f"{url}/api/sequences/run")
    # The summary's fields, ``topics`` the list of topics rather than their count.
    assert (run["name"], run["metadata"], run["rows"]) == ("run", {"robot": "r2"}, 3000)
    (session,) = run["sessions"]
    assert session["locked"] and session["topics"] == ["/imu"] and session["completed_ns"]
    (imu,) = run["topics"]
    assert (imu["name"], imu["tag"], imu["rows"], imu["metadata"]) == (
        "/imu",
        "IMU",
        3000,
        {"rate": 1000},
    )
    assert (imu["start_ns"], imu["end_ns"]) == (IMU_TS[0], IMU_TS[-1])
    assert imu["kind"] is None and imu["states"][0] == "header.frame_id"
    assert all(s.endswith("header.frame_id") for s in imu["states"])  # the only text leaves
    assert imu["rate_hz"] == pytest.approx(2999 * 1e9 / (IMU_TS[-1] - IMU_TS[0]))
    fields = {f["name"]: f for f in imu["fields"]}
    assert fields["acceleration.x"] == {"name": "acceleration.x", "unit": "m/s²", "type": "double"}
    assert "header.frame_id" not in fields and "timestamp_ns" not in fields


def _series(url: str, query: str) -> tuple[pa.Schema, list[pa.RecordBatch]]:
    """The schema and the record batches (empty ones too) of a series reply."""
    status, kind, body = get(f"{url}/api/series?{query}")
    assert (status, kind) == (200, ARROW_STREAM), body
    reader = pa.ipc.open_stream(body)
    return reader.schema, list(reader)


def test_series_are_the_downsampled_points(store: tuple[MosaicoClient, str]) -> None:
    client, url = store
    fields = ["acceleration.x", "orientation.w", "header.sample_counter"]
    query = "sequence=run&topic=/imu&" + "&".join(f"field={f}" for f in fields)
    schema, batches = _series(url, f"{query}&start=500000&end=2500000&buckets=300")
    handler = client.topic_handler("run", "/imu")
    assert handler is not None
    want = downsample(handler, fields, 500_000, 2_500_000, 300)
    assert len(batches) == 3 and schema.field("field").type == pa.dictionary(
        pa.int32(), pa.string()
    )
    meta = json.loads(schema.metadata[SERIES_METADATA])
    assert (meta["start_ns"], meta["end_ns"], meta["bucket_ns"]) == (
        500_000,
        2_500_000,
        want["acceleration.x"].bucket_ns,
    )
    for name, batch, info in zip(fields, batches, meta["fields"], strict=True):
        s = want[name]
        assert set(batch.column("field").to_pylist()) == {name}
        assert np.array_equal(batch.column("timestamp_ns").to_numpy(), s.timestamps_ns)
        assert np.array_equal(batch.column("value").to_numpy(), s.values)
        assert info == {"name": name, "unit": s.unit, "rows": 2000, "points": s.values.size}
        assert 300 <= s.values.size <= 4 * 300
    # Default range and buckets: the whole topic; a range without samples: empty batches.
    whole, _ = _series(url, "sequence=run&topic=imu&field=acceleration.x")
    assert json.loads(whole.metadata[SERIES_METADATA])["fields"][0]["rows"] == 3000
    _, empty = _series(url, f"{query}&start=5000000&end=6000000")
    assert [b.num_rows for b in empty] == [0, 0, 0]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/sequences?limit=0", 400, "limit must be in 1..1000, got 0"),
        ("/api/sequences?limit=1001", 400, "limit must be in 1..1000, got 1001"),
        ("/api/sequences?offset=-1", 400, "offset must be in >= 0, got -1"),
        ("/api/sequences?offset=ten", 400, "offset must be an integer, got 'ten'"),
        ("/api/sequences?sort=rate", 400, "sort must be one of created, name, size, got 'rate'"),
        ("/api/sequences?order=up", 400, "order must be one of asc, desc, got 'up'"),
        ("/api/sequences/nope", 404, "no sequence 'nope'"),
        ("/api/sequences/a%20b", 400, "sequence name 'a b' contains ' '; allowed characters are"),
        ("/api/sequences/run/imu", 400, "sequence name 'run/imu' must not contain '/'"),
        ("/api/series?sequence=nope&topic=/imu&field=x", 404, "no sequence 'nope'"),
        ("/api/series?sequence=run&topic=/gps&field=x", 404, "sequence 'run' has no topic '/gps'"),
        ("/api/series?topic=/imu&field=x", 400, "the sequence parameter is required"),
        ("/api/series?sequence=run&topic=/imu", 400, "name at least one field"),
        ("/api/series?sequence=run&topic=/imu&field=nope", 400, "topic '/imu' has no field 'nope' (numeric fields: "),
        ("/api/series?sequence=run&topic=/imu&field=header.frame_id", 400, "field 'header.frame_id' is not numeric (string)"),
        ("/api/series?sequence=run&topic=/imu&field=acceleration.x&start=1.5", 400, "start must be an integer, got '1.5'"),
        ("/api/series?sequence=run&topic=/imu&field=acceleration.x&end=x", 400, "end must be an integer, got 'x'"),
        ("/api/series?sequence=run&topic=/imu&field=acceleration.x&buckets=10001", 400, "buckets must be in 1..10000, got 10001"),
        ("/api/series?sequence=run&topic=/imu&field=acceleration.x&start=9&end=9", 400, "empty time range: end (9 ns) must be after start (9 ns)"),
        ("/api/nothing", 404, "Not Found: /api/nothing"),
    ],
)  # fmt: skip
def test_bad_requests_are_named(
    store: tuple[MosaicoClient, str], path: str, status: int, message: str
) -> None:
    _, url = store
    got, kind, body = get(url + path)
    assert (got, kind) == (status, "application/json")
    error = json.loads(body)["error"]
    assert message in error and "Traceback" not in error


def test_a_platform_that_goes_away_is_503(backend: Backend, tmp_path: Path) -> None:
    server = backend.server(tmp_path / "store", port=free_port())
    host, port = server.start()
    try:
        with MosaicoClient.connect(host, port, timeout=1.0) as client:
            with client.sequence_create("a", {}) as seq:
                seq.topic_create("/s", {}, Floating64).push_batch(
                    scalar_source("/s", [1, 2], [1.0, 2.0]).table
                )
            with served(client) as url:
                assert get_json(f"{url}/api/sequences")["total"] == 1
                server.stop()
                for path in [
                    "/api/sequences",
                    "/api/sequences/a",
                    "/api/series?sequence=a&topic=/s&field=data",
                ]:
                    status, kind, body = get(url + path)
                    assert (status, kind, json.loads(body)) == (
                        503,
                        "application/json",
                        {"error": UNAVAILABLE},
                    )
    finally:
        server.stop()


def test_an_unexpected_error_is_logged_not_shown(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "mosaico.viewer"):
        assert error_reply(RuntimeError("boom in /srv/secret/file.py")) == (500, INTERNAL)
    assert "boom in /srv/secret/file.py" in caplog.text
    assert "/srv" not in INTERNAL


def test_without_the_ui_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "starlette", None)
    with pytest.raises(MissingExtraError, match=r"the 'ui' extra installs"):
        create_app(None)  # type: ignore[arg-type]
