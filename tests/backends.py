"""The platforms the server-facing suites run on, behind one small seam.

Two kinds:

- ``local``: a store folder holding its SQLite catalog, the embedded default
  (``MosaicoClient.local``, ``mosaico serve --store DIR``);
- ``scale``: the scale-out stack: a PostgreSQL catalog and S3 chunk storage on a real Ceph
  RGW (``tests/scale/services.py`` starts both once per session).

Tests take the ``backend`` fixture (``tests/conftest.py``), parametrised over both kinds
(``[local]``, ``[scale]``; the ``scale`` one is marked ``scale``, so ``-m "not scale"`` is
the quick tier), and reach their servers through it rather than naming a folder. A test
still names each store by a path (``tmp_path / "store"``): on ``local`` the path is the
store folder; on ``scale`` the first use of a path makes a fresh catalog (a schema of the
session's PostgreSQL) and a fresh S3 prefix (of its one bucket), which every later use of
that path in the session reaches again, so a restarted server finds what the one before
it wrote.

Over a shared catalog a restarted server takes over a dead one's uploads only once the
dead server's lease has run out (``Store._recover``): every ``scale`` server of the tests
runs with the short lease ``SCALE_LEASE_S``, so kill -9 recovery is seen within seconds.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pyarrow.fs as pafs
import pytest

from mosaico.client import MosaicoClient
from mosaico.client.connection import Connection
from mosaico.server import EmbeddedServer, Store, StoreConfig
from mosaico.server.catalog_db import Database, open_database
from mosaico.server.launch import serve_command, serve_process
from mosaico.server.storage import CHUNK_DIR, TMP_DIR
from mosaico.server.store import CATALOG_FILE
from tests.scale.services import PostgresService, RgwService

LOCAL, SCALE = "local", "scale"
# For tests of what only a shared catalog does (several servers, leases): scale alone.
scale_only = pytest.mark.parametrize(
    "backend", [pytest.param(SCALE, id=SCALE, marks=pytest.mark.scale)], indirect=True
)
# The lease of every server the scale tests start: a killed server's uploads are taken
# over this long after its last heartbeat. Long enough that a live server on a loaded
# machine never misses it (heartbeats come every quarter of it).
SCALE_LEASE_S = 2.0


@attrs.frozen
class StoreLocation:
    """Where a test's store lives: the chunk storage (a folder or ``s3://BUCKET/PREFIX``)
    and the catalog (None: the SQLite file inside the folder)."""

    store: str
    catalog: str | None


class Backend:
    """One platform kind: servers, clients and ``mosaico serve`` processes over the stores
    tests name by path, and backend-neutral access to what a store holds."""

    def __init__(self, scale: tuple[PostgresService, RgwService] | None = None) -> None:
        """The local backend, or with ``scale`` (the session's services) the scale one."""
        self.kind = LOCAL if scale is None else SCALE
        self._scale = scale
        self._locations: dict[str, StoreLocation] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Backend({self.kind})"

    @property
    def shared(self) -> bool:
        """Whether the catalog is one several servers may share (PostgreSQL): recovery then
        waits for a dead server's lease, and temporary files are never swept."""
        return self._scale is not None

    @property
    def env(self) -> dict[str, str]:
        """Environment variables the backend's servers need (the gateway's AWS variables
        on scale), set in this process and its children while the backend is in use."""
        return self._scale[1].env if self._scale else {}

    def location(self, path: str | os.PathLike[str]) -> StoreLocation:
        """The store a path names: the folder itself, or on ``scale`` a catalog and chunk
        location made on its first use and the same ones afterwards."""
        key = os.path.abspath(path)
        if self._scale is None:
            return StoreLocation(key, None)
        postgres, rgw = self._scale
        with self._lock:
            if key not in self._locations:
                self._locations[key] = StoreLocation(rgw.store_url(), postgres.catalog_url())
            return self._locations[key]

    def config(self, config: StoreConfig | None = None) -> StoreConfig | None:
        """``config`` as this backend's servers run it (on ``scale``: the short lease)."""
        if self._scale is None:
            return config
        return attrs.evolve(config or StoreConfig(), server_lease_s=SCALE_LEASE_S)

    # -- servers and clients ---------------------------------------------------------------

    def server(
        self, path: str | os.PathLike[str], config: StoreConfig | None = None, **kwargs: Any
    ) -> EmbeddedServer:
        """An embedded server (not started) over the store at ``path``; ``kwargs`` as
        `EmbeddedServer` takes them."""
        where = self.location(path)
        return EmbeddedServer(
            where.store, config=self.config(config), catalog=where.catalog, **kwargs
        )

    def open_store(
        self, path: str | os.PathLike[str], config: StoreConfig | None = None, *,
        create: bool = True,
    ) -> Store:  # fmt: skip
        """The `Store` at ``path``, opened in this process (closed by the caller)."""
        where = self.location(path)
        return Store.open(where.store, where.catalog, self.config(config), create=create)

    def client(
        self, path: str | os.PathLike[str], timeout: float = 5.0, *, port: int = 0,
        create: bool = True,
    ) -> MosaicoClient:  # fmt: skip
        """A client with its own server over the store at ``path``, stopped by ``close``:
        ``MosaicoClient.local`` on ``local``, a client connected to an embedded server
        over the scale stack on ``scale``."""
        if self._scale is None:
            return MosaicoClient.local(path, timeout, port=port, create=create)
        server = self.server(path, port=port, create=create)
        host, bound = server.start()
        try:
            return MosaicoClient(Connection(f"grpc+tcp://{host}:{bound}", timeout=timeout), server)
        except BaseException:
            server.stop()
            raise

    @contextmanager
    def serving(self, path: str | os.PathLike[str], **kwargs: Any) -> Iterator[tuple[str, int]]:
        """An embedded server over ``path`` until the block ends; yields (host, port)."""
        server = self.server(path, **kwargs)
        try:
            yield server.start()
        finally:
            server.stop()

    @contextmanager
    def cli_target(self, path: str | os.PathLike[str]) -> Iterator[list[str]]:
        """The options that point a ``mosaico`` command at the store at ``path`` until the
        block ends: ``--store DIR`` on ``local``; on ``scale`` (which the CLI reaches only
        through a server) ``--host``/``--port`` of an embedded server started for it."""
        if self._scale is None:
            yield ["--store", os.fspath(path)]
            return
        with self.serving(path) as (host, port):
            yield ["--host", host, "--port", str(port)]

    # -- mosaico serve ---------------------------------------------------------------------

    def serve_args(self, path: str | os.PathLike[str]) -> tuple[str, list[str]]:
        """``--store``'s value and the further options of a ``mosaico serve`` over ``path``."""
        where = self.location(path)
        if where.catalog is None:
            return where.store, []
        return where.store, ["--catalog", where.catalog, "--server-lease", str(SCALE_LEASE_S)]

    def serve_command(self, path: str | os.PathLike[str], port: int, *extra: str) -> list[str]:
        """The command line of a ``mosaico serve`` over ``path`` on ``port``."""
        store, options = self.serve_args(path)
        return serve_command(store, port, *options, *extra)

    @contextmanager
    def serve(
        self, path: str | os.PathLike[str], *extra: str, port: int | None = None,
        log: Path | None = None,
    ) -> Iterator[tuple[subprocess.Popen[bytes], int]]:  # fmt: skip
        """`serve_process` over the store at ``path``; yields (process, port)."""
        store, options = self.serve_args(path)
        with serve_process(store, *options, *extra, port=port, log=log) as served:
            yield served

    # -- what a store holds ----------------------------------------------------------------

    def filesystem(self, path: str | os.PathLike[str]) -> tuple[pafs.FileSystem, str]:
        """The chunk storage of ``path``'s store and its root inside it (on scale through
        an S3 client of the tests' own, not the servers' configuration)."""
        store = self.location(path).store
        if self._scale is None:
            return pafs.LocalFileSystem(), store
        return self._scale[1].filesystem(), store.removeprefix("s3://")

    def files(self, path: str | os.PathLike[str], under: str = CHUNK_DIR) -> dict[str, str]:
        """Every file under ``under`` ("": anywhere) of the store at ``path``: its path
        relative to the store root -> the SHA-256 of its bytes."""
        fs, root = self.filesystem(path)
        return stored_files(fs, root, under)

    def catalog(self, path: str | os.PathLike[str]) -> Database:
        """The catalog database of the store at ``path``, for statements of the tests'
        own (``?`` placeholders; closed by the caller)."""
        where = self.location(path)
        return open_database(where.catalog or os.path.join(where.store, CATALOG_FILE))

    def _paths(self, path: str | os.PathLike[str], table: str) -> set[str]:
        db = self.catalog(path)
        try:
            with db.transaction() as cur:
                return {row[0] for row in cur.execute(f"SELECT path FROM {table}").fetchall()}
        finally:
            db.close()

    def orphans(self, path: str | os.PathLike[str]) -> list[str]:
        """Chunk files the catalog does not know as chunks and files left in ``tmp/``; only
        while no server has the store open."""
        chunk_files = set(self.files(path, CHUNK_DIR))
        return sorted(chunk_files - self._paths(path, "chunks")) + sorted(self.files(path, TMP_DIR))

    def loose(self, path: str | os.PathLike[str]) -> set[str]:
        """The files the catalog notes as loose: written or being written by a server and
        not (or no longer) a chunk; recovery deletes those of dead servers."""
        return self._paths(path, "loose_files")


def stored_files(fs: pafs.FileSystem, root: str, under: str) -> dict[str, str]:
    """Every file under ``root/under`` of ``fs``: path relative to ``root`` -> SHA-256."""
    folder = f"{root}/{under}" if under else root
    selector = pafs.FileSelector(folder, allow_not_found=True, recursive=True)
    found: dict[str, str] = {}
    for info in fs.get_file_info(selector):
        if info.type == pafs.FileType.File:
            digest = _digest(fs, info.path)
            if digest is not None:
                found[info.path.removeprefix(f"{root}/")] = digest
    return dict(sorted(found.items()))


def _digest(fs: pafs.FileSystem, path: str) -> str | None:
    """The file's SHA-256; None when it was deleted since it was listed (a server at work:
    recovery deleting a loose file; an object store then fails the read in its own way)."""
    try:
        with fs.open_input_stream(path) as stream:
            return hashlib.sha256(stream.read()).hexdigest()
    except OSError:
        if fs.get_file_info(path).type == pafs.FileType.NotFound:
            return None
        raise
