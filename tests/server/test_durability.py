"""Durability: an acknowledged upload or finalize is on stable storage before the reply.

A power cut cannot be simulated here, so these tests check the ORDER of the steps that make
a chunk durable, which is what survives one: the file's data is synced before it is renamed
into place, its folder is synced after the rename (and ``chunks/`` when the folder is new),
and the catalog row that references the chunk is committed only after both, with
``synchronous=FULL``; the reply comes after all of them.

Two views of the same order: a recording durability policy plugged into the store's seam
(no extra package), and the real system calls of a ``mosaico serve`` process under strace
(skipped when strace is missing or may not attach).

Local backend only: fsync of files and folders and SQLite's synchronous mode are what a
local disk needs; an object store has neither (``durability.py``: nothing to sync there).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pyarrow.flight as flight
import pyarrow.fs as pafs
import pytest

from mosaico.server.catalog import Catalog
from mosaico.server.durability import LocalSync, NoSync, durability_for
from mosaico.server.flight import MosaicoFlightServer
from mosaico.server.launch import serve_process
from mosaico.server.store import CATALOG_FILE, Store, StoreConfig
from tests.server.server_helpers import Raw, make_batch

SMALL = StoreConfig(chunk_bytes=4096, row_group_bytes=1024)


@attrs.frozen
class SyncEvent:
    """One call of the durability seam, with what was true when it was made."""

    kind: str  # "file" or "dir"
    path: str
    exists: bool  # the path itself
    entries: frozenset[str]  # a folder's entries (empty for a file)
    placed: frozenset[str]  # chunk files under chunks/ (paths relative to the store root)
    committed: frozenset[str]  # chunk paths the catalog had committed (seen from outside)


def _committed_chunks(catalog: Path) -> frozenset[str]:
    """The chunk paths of the catalog's committed transactions, read by a connection of
    our own (what would survive if the server vanished now)."""
    if not catalog.exists():
        return frozenset()
    db = sqlite3.connect(f"{catalog.as_uri()}?mode=ro", uri=True)
    try:
        return frozenset(row[0] for row in db.execute("SELECT path FROM chunks"))
    except sqlite3.OperationalError:  # the tables are not created yet
        return frozenset()
    finally:
        db.close()


class RecordingSync:
    """The local fsync policy, recording each call and the state of files and catalog."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.events: list[SyncEvent] = []
        self._sync = LocalSync()

    def _record(self, kind: str, path: str) -> None:
        entries = frozenset(os.listdir(path)) if kind == "dir" else frozenset()
        placed = frozenset(
            str(p.relative_to(self.root)) for p in (self.root / "chunks").rglob("*.parquet")
        )
        committed = _committed_chunks(self.root / CATALOG_FILE)
        self.events.append(SyncEvent(kind, path, os.path.exists(path), entries, placed, committed))

    def sync_file(self, path: str) -> None:
        self._record("file", path)
        self._sync.sync_file(path)

    def sync_dir(self, path: str) -> None:
        self._record("dir", path)
        self._sync.sync_dir(path)


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[tuple[Raw, RecordingSync, Path]]:
    """A real Flight server on a store whose durability calls are recorded."""
    root = tmp_path / "store"
    root.mkdir()
    recorder = RecordingSync(root)
    store = Store(
        pafs.LocalFileSystem(), str(root), str(root / CATALOG_FILE), SMALL, durability=recorder
    )
    server = MosaicoFlightServer(store, "grpc://127.0.0.1:0")
    client = flight.FlightClient(f"grpc://127.0.0.1:{server.port}")
    try:
        yield Raw(client), recorder, root
    finally:
        client.close()
        server.shutdown()
        store.close()


def _check_chunk_order(events: list[SyncEvent], root: Path, chunk: str) -> None:
    """File synced in tmp/ (not yet moved, not committed) -> renamed -> its folder synced
    (moved, not committed) -> committed; ``events`` are those seen by the reply."""
    name = os.path.basename(chunk)
    file_syncs = [i for i, e in enumerate(events) if e.path == str(root / "tmp" / name)]
    assert len(file_syncs) == 1, f"{chunk}: its file was synced {len(file_syncs)} times"
    at_file = events[file_syncs[0]]
    assert at_file.kind == "file" and at_file.exists, f"{chunk}: synced while not in tmp/"
    assert chunk not in at_file.placed, f"{chunk}: renamed before its data was synced"
    assert chunk not in at_file.committed, f"{chunk}: committed before its data was synced"
    folder = str(root / os.path.dirname(chunk))
    dir_syncs = [
        e for e in events[file_syncs[0] :]
        if e.kind == "dir" and e.path == folder and name in e.entries
    ]  # fmt: skip
    assert dir_syncs, f"{chunk}: its folder was not synced after the rename"
    assert chunk not in dir_syncs[0].committed, f"{chunk}: committed before its folder sync"


def test_chunks_are_synced_renamed_synced_then_committed(
    recorded: tuple[Raw, RecordingSync, Path],
) -> None:
    raw, recorder, root = recorded
    session = raw.new_sequence("run")
    for topic in ("a", "b"):
        uuid = raw.new_topic(session, f"run/{topic}")
        batches = [make_batch(list(range(i, i + 300))) for i in range(0, 1500, 300)]
        raw.put(f"run/{topic}", uuid, batches)
    raw.action("session_finalize", {"session_uuid": session["uuid"]})
    at_reply = list(recorder.events)

    chunks = _committed_chunks(root / CATALOG_FILE)
    assert len(chunks) >= 10  # several chunks per topic
    for chunk in chunks:
        _check_chunk_order(at_reply, root, chunk)
    # Each new topic folder: chunks/ synced holding it, before its first chunk was placed.
    for folder in {os.path.basename(os.path.dirname(c)) for c in chunks}:
        parent_syncs = [
            e for e in at_reply
            if e.kind == "dir" and e.path == str(root / "chunks") and folder in e.entries
        ]  # fmt: skip
        assert parent_syncs, f"chunks/ not synced after creating {folder}"
        assert not any(folder in c for c in parent_syncs[0].placed)
    # Nothing was left to sync after the reply.
    assert recorder.events == at_reply


def test_store_root_synced_when_prepared(recorded: tuple[Raw, RecordingSync, Path]) -> None:
    _, recorder, root = recorded
    prepared = [e for e in recorder.events if e.path == str(root)]
    assert prepared and {"chunks", "tmp", CATALOG_FILE} <= prepared[0].entries


def test_durable_catalog_commits_synchronously(tmp_path: Path) -> None:
    durable = Catalog(str(tmp_path / "a.sqlite3"))
    fast = Catalog(str(tmp_path / "b.sqlite3"), durable=False)
    try:
        assert durable.database.synchronous == "FULL"
        assert fast.database.synchronous == "NORMAL"
    finally:
        durable.close()
        fast.close()


def test_policy_follows_the_filesystem_and_the_switch(tmp_path: Path) -> None:
    local = pafs.LocalFileSystem()
    assert isinstance(durability_for(local, durable=True), LocalSync)
    assert isinstance(durability_for(local, durable=False), NoSync)
    # An object store's PUT is durable by itself: nothing to sync.
    s3 = pafs.S3FileSystem(anonymous=True, region="us-east-1")
    assert isinstance(durability_for(s3, durable=True), NoSync)
    store = Store.open_local(str(tmp_path / "fast"), StoreConfig(durable=False))
    try:
        assert isinstance(store.chunks.durability, NoSync)
        assert store.catalog.database.synchronous == "NORMAL"
    finally:
        store.close()
    store = Store.open_local(str(tmp_path / "safe"))
    try:
        assert isinstance(store.chunks.durability, LocalSync)
        assert store.catalog.database.synchronous == "FULL"
    finally:
        store.close()


# -- the real system calls of `mosaico serve` -------------------------------------------

_SYSCALLS = "fsync,fdatasync,rename,renameat,renameat2"
_LINE = re.compile(r"^\d+\s+(?P<t>\d+\.\d+)\s+(?P<call>\w+)\((?P<args>.*)\)\s+=\s+0$")
_FD_PATH = re.compile(r"^\d+<(?P<path>[^>]*)>")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@attrs.frozen
class Syscall:
    """One successful call from strace's output: its time, name and the paths it names."""

    time: float
    call: str
    paths: tuple[str, ...]


def _parse_trace(text: str) -> list[Syscall]:
    calls = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        args = match["args"]
        fd = _FD_PATH.match(args)
        paths = (fd["path"],) if fd else tuple(_QUOTED.findall(args))
        if paths:  # strace names every path it can resolve
            calls.append(Syscall(float(match["t"]), match["call"], paths))
    return calls


@pytest.fixture
def strace() -> str:
    found = shutil.which("strace")
    if found is None:
        pytest.skip("strace is not installed (apt-get install strace) to watch mosaico serve")
    return found


def _traced_upload(strace: str, store: Path, *serve_options: str) -> tuple[list[Syscall], float]:
    """Serve ``store`` with strace attached, upload three chunks and finalize; returns the
    traced calls and the time the finalize reply arrived."""
    trace = store.parent / "trace.txt"
    with serve_process(store, "--chunk-mib", "1", *serve_options) as (process, port):
        tracer = subprocess.Popen(
            [strace, "-f", "-y", "-ttt", "-e", f"trace={_SYSCALLS}", "-o", str(trace),
             "-p", str(process.pid)],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert tracer.stderr is not None
        attached = tracer.stderr.readline()
        if "attached" not in attached:
            tracer.kill()
            pytest.skip(f"strace may not attach here: {attached.strip()}")
        raw = Raw(flight.FlightClient(f"grpc://127.0.0.1:{port}"))
        session = raw.new_sequence("run")
        uuid = raw.new_topic(session, "run/imu")
        raw.put(
            "run/imu", uuid, [make_batch(list(range(i, i + 20_000))) for i in (0, 20_000, 40_000)]
        )
        raw.action("session_finalize", {"session_uuid": session["uuid"]})
        replied = time.time()
        raw.client.close()
        tracer.send_signal(signal.SIGINT)  # detaches, the server goes on
        tracer.communicate(timeout=30)
    return _parse_trace(trace.read_text()), replied


def _catalog_syncs(calls: list[Syscall], wal: str) -> list[int]:
    """Where the catalog's write-ahead log was synced: one per committed transaction."""
    return [
        i for i, c in enumerate(calls) if c.call in ("fsync", "fdatasync") and c.paths == (wal,)
    ]


def _assert_chunk_committed_before_the_next(
    calls: list[Syscall], commits: list[int], store: Path, at: int, following: int
) -> None:
    """The chunk renamed by ``calls[at]``: its file synced before the rename, its folder
    synced after it, then a catalog commit before the next chunk's file (the next chunk's
    rename is ``calls[following]``) is written."""
    source, target = calls[at].paths
    assert any(c.paths == (source,) for c in calls[:at]), f"{source} renamed unsynced"
    folder = os.path.dirname(target)
    dir_sync = next((i for i, c in enumerate(calls) if i > at and c.paths == (folder,)), None)
    assert dir_sync is not None, f"{folder} not synced after the rename of {target}"
    next_file = next(
        (i for i in range(dir_sync, following) if calls[i].paths[0].startswith(f"{store}/tmp/")),
        following,
    )
    assert any(dir_sync < i < next_file for i in commits), f"{target}: no commit after"


def test_serve_fsyncs_each_chunk_before_its_commit_and_the_reply(
    strace: str, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    calls, replied = _traced_upload(strace, store)
    commits = _catalog_syncs(calls, f"{store}/{CATALOG_FILE}-wal")
    renames = [i for i, c in enumerate(calls) if c.call.startswith("rename")]
    chunk_renames = [i for i in renames if f"{store}/chunks/" in calls[i].paths[-1]]
    assert len(chunk_renames) >= 3
    # Chunks of one upload land one after the other: each one's commit comes before the
    # next one's file is synced.
    for at, following in zip(chunk_renames, [*chunk_renames[1:], len(calls)], strict=True):
        _assert_chunk_committed_before_the_next(calls, commits, store, at, following)
    # The new topic folder: chunks/ synced before the first rename into it.
    assert any(c.paths == (f"{store}/chunks",) for c in calls[: chunk_renames[0]])
    # After the last chunk: its commit, the upload's end, the finalize; then the reply.
    last = [i for i in commits if i > chunk_renames[-1]]
    assert len(last) >= 3
    assert calls[last[2]].time <= replied


def test_serve_no_fsync_syncs_no_chunk(strace: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    calls, _ = _traced_upload(strace, store, "--no-fsync")
    renamed = [c.paths[-1] for c in calls if c.call.startswith("rename")]
    assert any(path.startswith(f"{store}/chunks/") for path in renamed)
    synced = [c.paths[0] for c in calls if c.call in ("fsync", "fdatasync")]
    assert not [p for p in synced if p.startswith((f"{store}/chunks", f"{store}/tmp"))]
