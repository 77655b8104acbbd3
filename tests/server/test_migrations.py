"""The catalog's schema versions (``server/migrations.py``): new, pre-versioning and newer
catalogs, opened through the real store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow.flight as flight
import pytest

from mosaico.server import EmbeddedServer
from mosaico.server.catalog import Catalog
from mosaico.server.migrations import _V1, MIGRATIONS
from mosaico.server.store import CATALOG_FILE, StoreError
from tests.server.server_helpers import Raw


def _versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT version FROM schema_version ORDER BY 1")]


def test_a_new_catalog_records_every_migration(tmp_path: Path) -> None:
    catalog = Catalog(str(tmp_path / "catalog.db"))
    assert catalog.schema_version == MIGRATIONS[-1].version
    catalog.close()
    assert _versions(tmp_path / "catalog.db") == [m.version for m in MIGRATIONS]
    reopened = Catalog(str(tmp_path / "catalog.db"), create=False)  # applies nothing twice
    reopened.close()
    assert _versions(tmp_path / "catalog.db") == [m.version for m in MIGRATIONS]


def test_a_catalog_from_before_versioning_keeps_its_data(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with EmbeddedServer(str(store)) as (host, port):
        raw = Raw(flight.FlightClient(f"grpc://{host}:{port}"))
        raw.new_sequence("old", {"kept": True})
    with sqlite3.connect(store / CATALOG_FILE) as db:  # as a catalog written before this
        db.execute("DROP TABLE schema_version")
    with EmbeddedServer(str(store)) as (host, port):
        raw = Raw(flight.FlightClient(f"grpc://{host}:{port}"))
        assert raw.action("session_create", {"locator": "old"})["locator"].startswith("old:")
    assert _versions(store / CATALOG_FILE) == [m.version for m in MIGRATIONS]
    fresh = sqlite3.connect(":memory:")  # version 1 creates nothing the old store lacked
    fresh.executescript(_V1)
    old = sqlite3.connect(store / CATALOG_FILE)
    names = "SELECT name FROM sqlite_master"
    assert {r[0] for r in fresh.execute(names)} <= {r[0] for r in old.execute(names)}
    fresh.close()
    old.close()


def test_a_catalog_from_a_newer_mosaico_is_refused_untouched(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with EmbeddedServer(str(store)):
        pass  # a current store
    newer = MIGRATIONS[-1].version + 1
    with sqlite3.connect(store / CATALOG_FILE) as db:
        db.execute(
            "INSERT INTO schema_version (version, summary, applied_at_ns) VALUES (?, 'x', 0)",
            (newer,),
        )
    with pytest.raises(StoreError, match=f"schema version {newer}, newer than this mosaico"):
        EmbeddedServer(str(store)).start()
    assert _versions(store / CATALOG_FILE)[-1] == newer
