"""The embedded server the SDK starts in-process."""

from __future__ import annotations

from pathlib import Path

import pyarrow.flight as flight
import pytest

from mosaico.server import EmbeddedServer, Store, StoreError, StoreNotFoundError
from tests.backends import Backend, scale_only
from tests.server.server_helpers import Raw, make_batch


def test_start_stop_restart_keeps_data(backend: Backend, tmp_path: Path) -> None:
    embedded = backend.server(tmp_path / "store")
    host, port = embedded.start()
    assert host == "127.0.0.1" and port > 0 and embedded.start() == (host, port)
    raw = Raw(flight.FlightClient(f"grpc://{host}:{port}"))
    session = raw.new_sequence("seq")
    raw.put("seq/a", raw.new_topic(session, "seq/a"), [make_batch([2, 1])])
    raw.client.close()
    embedded.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = embedded.address
    embedded.stop()  # stopping twice is harmless
    with backend.server(tmp_path / "store") as (host, port):
        raw = Raw(flight.FlightClient(f"grpc://{host}:{port}"))
        _, batches = raw.read("seq/a")
        assert [b.num_rows for b in batches] == [2]
        raw.client.close()


def test_opening_without_create_writes_nothing(tmp_path: Path) -> None:
    # Local only: what a folder without a store, or with a file that is no SQLite catalog, does.
    (tmp_path / "catalog.sqlite3").write_bytes(b"not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot be opened") as refused:
        Store.open_local(str(tmp_path), create=False)
    assert not isinstance(refused.value, StoreNotFoundError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.sqlite3"]
    embedded = EmbeddedServer(str(tmp_path / "none"), create=False)
    with pytest.raises(StoreNotFoundError, match="does not exist"):
        embedded.start()
    assert not (tmp_path / "none").exists()


@scale_only
def test_opening_without_create_over_an_empty_catalog_writes_nothing(
    backend: Backend, tmp_path: Path
) -> None:
    store = tmp_path / "none"  # a fresh schema of the catalog server and a fresh S3 prefix
    with pytest.raises(StoreNotFoundError, match="database .* holds no mosaico catalog"):
        backend.server(store, create=False).start()
    catalog = backend.catalog(store)
    try:
        with catalog.transaction() as cur:
            assert cur.execute("SELECT to_regclass('schema_version')").fetchone() == (None,)
    finally:
        catalog.close()
    assert backend.files(store, "") == {}
    with backend.server(store) as (host, port):
        raw = Raw(flight.FlightClient(f"grpc://{host}:{port}"))
        raw.new_sequence("seq")
        raw.client.close()
    with backend.server(store, create=False) as (host, port):
        raw = Raw(flight.FlightClient(f"grpc://{host}:{port}"))
        assert [i.descriptor.path[0] for i in raw.client.list_flights()] == [b"seq"]
        raw.client.close()
