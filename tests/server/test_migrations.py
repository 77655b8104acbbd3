"""The catalog's schema versions (``server/migrations.py``): new, pre-versioning and newer
catalogs, opened through the real store.

Local backend only: the catalogs here are SQLite files written by hand (one from before
versioning, one from a newer mosaico) inside store folders.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow.flight as flight
import pytest

from mosaico.server import EmbeddedServer
from mosaico.server.catalog import Catalog
from mosaico.server.migrations import MIGRATIONS
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


def _catalog_before_versioning(store: Path) -> None:
    """A store as mosaico wrote it before versioning: version 1's tables, one sequence with
    an uploading topic (its server died), no ``schema_version``."""
    store.mkdir()
    with sqlite3.connect(store / CATALOG_FILE) as db:
        for statement in MIGRATIONS[0].statements:
            db.execute(statement.replace("{blob}", "BLOB"))
        db.execute("INSERT INTO sequences VALUES ('q1', 'old', 1, '{\"kept\": true}')")
        db.execute("INSERT INTO sessions VALUES ('s1', 'q1', 'ident', 2, NULL)")
        db.execute(
            "INSERT INTO topics VALUES ('t1', 'q1', 's1', 'imu', 'imu', 'default', '{}', 3, "
            "'uploading', NULL)"
        )


def test_a_catalog_from_before_versioning_keeps_its_data(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _catalog_before_versioning(store)
    with EmbeddedServer(str(store)) as (host, port):
        raw = Raw(flight.FlightClient(f"grpc://{host}:{port}"))
        assert raw.action("session_create", {"locator": "old"})["locator"].startswith("old:")
        notes = raw.action("topic_notification_list", {"locator": "old/imu"})["notifications"]
        assert [n["notification_type"] for n in notes] == ["error"]  # recovered: no owner
    assert _versions(store / CATALOG_FILE) == [m.version for m in MIGRATIONS]
    with sqlite3.connect(store / CATALOG_FILE) as db:
        assert db.execute("SELECT user_metadata, 1 FROM sequences").fetchall() == [
            ('{"kept": true}', 1)
        ]
        assert db.execute("SELECT state FROM topics").fetchall() == [("failed",)]


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
