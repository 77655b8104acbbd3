"""Servers sharing one folder (as on NFS) and one PostgreSQL catalog: what a dead server
leaves in the folder's ``tmp/`` is found without listing it."""

from __future__ import annotations

import time
from pathlib import Path

from mosaico.server.store import Store, StoreConfig


def test_a_dead_servers_temporary_file_is_deleted_in_a_shared_folder(
    tmp_path: Path, catalog_url: str
) -> None:
    """Servers sharing a folder (NFS) and a PostgreSQL catalog: a server killed while
    writing a chunk leaves it in ``tmp/`` (not yet moved into place); the server taking
    over deletes it, knowing it from the loose file noted before the write."""
    config = StoreConfig(server_lease_s=1.0)
    folder = tmp_path / "shared"
    live = Store.open(str(folder), catalog_url, config)
    dying = Store.open(str(folder), catalog_url, config)
    try:
        loose = "chunks/topic/chunk-id.parquet"
        dying.catalog.note_loose(loose, dying.server_id)
        (folder / "tmp" / "chunk-id.parquet").write_bytes(b"half written")
        (folder / "tmp" / "a-live-servers-file.parquet").write_bytes(b"being written")
        dying.closing.set()
        deadline = time.monotonic() + 15
        while (folder / "tmp" / "chunk-id.parquet").exists():
            assert time.monotonic() < deadline, "the dead server's temporary file was kept"
            time.sleep(0.1)
        assert (folder / "tmp" / "a-live-servers-file.parquet").exists()  # not listed, not swept
    finally:
        live.close()
