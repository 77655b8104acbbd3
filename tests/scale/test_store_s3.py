"""Stores whose chunk files live on S3 (the session's Ceph RGW): data written through one
server is read through another, deleted, and survives reopening, with a PostgreSQL catalog
shared by the servers or an SQLite catalog of one."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from mosaico.protocol import actions as act
from mosaico.protocol.commands import ResourceCommand, Ticket, TimeWindow, UploadCommand
from mosaico.protocol.names import TopicLocator
from mosaico.server.query.service import QueryService
from mosaico.server.store import Store, StoreConfig
from tests.server.server_helpers import SCHEMA, make_batch

# Small chunks, so that one upload writes several objects.
CONFIG = StoreConfig(chunk_bytes=16 * 1024, row_group_bytes=4 * 1024)


def _upload(store: Store, sequence: str, rows: int) -> TopicLocator:
    """A finalized session of ``sequence`` with one topic ``imu`` of ``rows`` rows."""
    store.create_sequence(act.SequenceCreate(sequence))
    session = store.create_session(act.SessionCreate(sequence)).uuid
    locator = TopicLocator(sequence, "imu")
    created = store.create_topic(act.TopicCreate(session, locator, "default", "tag"))
    upload = store.begin_upload(UploadCommand(locator, created.uuid), SCHEMA)
    for start in range(0, rows, 1000):
        upload.add(make_batch(list(range(start, min(rows, start + 1000)))))
    store.end_upload(upload, ok=True)
    store.finalize_session(act.SessionFinalize(session))
    return locator


def _timestamps(store: Store, locator: TopicLocator, window: TimeWindow | None = None) -> list[int]:
    _, batches = store.read(Ticket(locator, window or TimeWindow()))
    return pa.Table.from_batches(batches).column("timestamp_ns").to_pylist()


def _objects(store: Store) -> list[pafs.FileInfo]:
    """The chunk objects of the store, listed here by the test (the store never lists)."""
    selector = pafs.FileSelector(
        f"{store.chunks.root}/chunks", allow_not_found=True, recursive=True
    )
    return [i for i in store.chunks.fs.get_file_info(selector) if i.size]


def test_two_servers_share_a_postgres_catalog_over_s3(s3_store: str, catalog_url: str) -> None:
    first = Store.open(s3_store, catalog_url, CONFIG)
    second = Store.open(s3_store, catalog_url, CONFIG)
    try:
        assert first.chunks.object_store
        locator = _upload(first, "run", rows=5000)
        assert _timestamps(second, locator) == list(range(5000))
        # Reads in part: a window's rows and counts (the timestamps of the chunks it cuts),
        # and a query's scan of one column.
        window = TimeWindow(1234, 3456)
        assert _timestamps(second, locator, window) == list(range(1234, 3456))
        [view] = second.describe_sequence(ResourceCommand("run", None, window)).topics
        assert view.metadata.window is not None and view.metadata.window.row_count == 3456 - 1234
        reply = QueryService(second).query({"ontology": {"tag.value": {"$gt": 2400.0}}})
        assert [item["sequence"] for item in reply["items"]] == ["run"]
        chunks = first.catalog.chunks_of(first.catalog.get_topic("run", "imu").id)
        assert len(chunks) > 1
        assert sorted(i.path for i in _objects(first)) == sorted(
            f"{first.chunks.root}/{c.path}" for c in chunks
        )
        second.delete_sequence("run")
        assert _objects(first) == []
    finally:
        first.close()
        second.close()


def test_an_s3_store_with_an_sqlite_catalog_reopens(s3_store: str, tmp_path: Path) -> None:
    catalog = str(tmp_path / "catalog.sqlite3")
    store = Store.open(s3_store, catalog, CONFIG)
    try:
        locator = _upload(store, "run", rows=3000)
    finally:
        store.close()
    reopened = Store.open(s3_store, catalog, CONFIG, create=False)
    try:
        assert _timestamps(reopened, locator) == list(range(3000))
    finally:
        reopened.close()
