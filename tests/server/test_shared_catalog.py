"""Several servers over one PostgreSQL catalog and one chunk storage: races between them
leave exactly one winner and a consistent catalog, and a server that goes silent is taken
over by the others.

Each "server" is a ``Store`` of its own (its own connection pool and server id): nothing
is shared between them in-process, so whatever keeps them consistent is the database's
constraints and row locks. Only the scale backend has such a catalog: a fresh database of
the real PostgreSQL server the scale tier starts, over fresh chunk storage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mosaico.protocol import actions as act
from mosaico.protocol.commands import ResourceCommand, Ticket, UploadCommand
from mosaico.protocol.errors import AlreadyExists, FailedPrecondition, NotFound, ProtocolError
from mosaico.protocol.names import TopicLocator
from mosaico.server.store import Store, StoreConfig
from tests.backends import Backend, scale_only
from tests.server.server_helpers import SCHEMA, make_batch

pytestmark = scale_only
ROUNDS = 12


def _open(backend: Backend, path: Path) -> Store:
    """One more server over the store at ``path``, with a short lease of its own."""
    where = backend.location(path)
    return Store.open(where.store, where.catalog, StoreConfig(server_lease_s=1.0))


@pytest.fixture
def servers(backend: Backend, tmp_path: Path) -> Iterator[list[Store]]:
    """Three servers over one catalog and one chunk storage, with a short lease."""
    opened = [_open(backend, tmp_path / "chunks") for _ in range(3)]
    try:
        yield opened
    finally:
        for store in opened:
            store.close()


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment; each result is its value or the error it raised."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = calls[index]()
        except ProtocolError as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _errors(results: list[Any], kind: type[Exception]) -> int:
    assert all(r is None or not isinstance(r, Exception) or isinstance(r, kind) for r in results)
    return sum(isinstance(r, kind) for r in results)


def _topic(store: Store, sequence: str, path: str) -> UploadCommand:
    session = store.create_session(act.SessionCreate(sequence)).uuid
    locator = TopicLocator(sequence, path)
    created = store.create_topic(act.TopicCreate(session, locator, "default", "tag"))
    return UploadCommand(locator, created.uuid)


def test_racing_creates_of_a_sequence_leave_one(servers: list[Store]) -> None:
    for round_ in range(ROUNDS):
        name = f"seq-{round_}"
        results = _race(*[partial(s.create_sequence, act.SequenceCreate(name)) for s in servers])
        assert _errors(results, AlreadyExists) == len(servers) - 1
    assert servers[0].sequence_names() == [f"seq-{i}" for i in range(ROUNDS)]


def test_racing_creates_of_a_topic_in_two_sessions_leave_one(servers: list[Store]) -> None:
    servers[0].create_sequence(act.SequenceCreate("seq"))
    for round_ in range(ROUNDS):
        sessions = [s.create_session(act.SessionCreate("seq")).uuid for s in servers]
        locator = TopicLocator("seq", f"t{round_}")
        results = _race(*[
            partial(s.create_topic, act.TopicCreate(u, locator, "default", "tag"))
            for s, u in zip(servers, sessions, strict=True)
        ])  # fmt: skip
        assert _errors(results, AlreadyExists) == len(servers) - 1
    view = servers[1].describe_sequence(ResourceCommand("seq", None))
    assert sorted(t.metadata.topic.path for t in view.topics) == sorted(
        f"t{i}" for i in range(ROUNDS)
    )


def test_racing_uploads_of_a_topic_leave_one(servers: list[Store]) -> None:
    servers[0].create_sequence(act.SequenceCreate("seq"))
    for round_ in range(ROUNDS):
        cmd = _topic(servers[0], "seq", f"t{round_}")
        results = _race(*[partial(s.begin_upload, cmd, SCHEMA) for s in servers])
        assert _errors(results, FailedPrecondition) == len(servers) - 1
        [won] = [(s, r) for s, r in zip(servers, results, strict=True) if r is not None
                 and not isinstance(r, Exception)]  # fmt: skip
        won[1].add(make_batch([1, 2, 3]))
        won[0].end_upload(won[1], ok=True)


def test_finalize_racing_an_upload_never_both_win(servers: list[Store]) -> None:
    servers[0].create_sequence(act.SequenceCreate("seq"))
    outcomes = set()
    for round_ in range(ROUNDS):
        cmd = _topic(servers[0], "seq", f"t{round_}")
        session = servers[0].catalog.get_topic("seq", f"t{round_}").session_id
        upload, final = _race(
            partial(servers[1].begin_upload, cmd, SCHEMA),
            partial(servers[2].finalize_session, act.SessionFinalize(session)),
        )
        assert isinstance(upload, FailedPrecondition) != isinstance(final, FailedPrecondition)
        if isinstance(final, FailedPrecondition):
            assert "still has uploads in progress" in str(final)
            servers[1].end_upload(upload, ok=True)
            servers[2].finalize_session(act.SessionFinalize(session))  # now it may
            outcomes.add("upload first")
        else:
            assert "finalized session" in str(upload)
            outcomes.add("finalize first")
        assert servers[0].catalog.get_session(session).locked
    assert outcomes  # at least one ordering was seen; each round checked both can't win


def test_deleting_a_sequence_racing_new_sessions_leaves_no_orphans(
    servers: list[Store],
) -> None:
    for round_ in range(ROUNDS):
        name = f"seq-{round_}"
        servers[0].create_sequence(act.SequenceCreate(name))
        results = _race(
            partial(servers[0].delete_sequence, name),
            *[partial(s.create_session, act.SessionCreate(name)) for s in servers[1:]],
        )
        assert _errors(results[1:], NotFound) <= len(servers) - 1
        with pytest.raises(NotFound):
            servers[2].catalog.get_sequence(name)
    orphans = servers[0].catalog._select(  # noqa: SLF001 - checking the tables themselves
        "SELECT COUNT(*) FROM sessions s LEFT JOIN sequences q ON q.id = s.sequence_id "
        "WHERE q.id IS NULL"
    )
    assert orphans == [(0,)]


def test_a_session_moves_between_servers(servers: list[Store]) -> None:
    first, second, third = servers
    first.create_sequence(act.SequenceCreate("seq", {"by": "first"}))
    session = first.create_session(act.SessionCreate("seq")).uuid
    locator = TopicLocator("seq", "imu")
    created = second.create_topic(act.TopicCreate(session, locator, "default", "tag"))
    upload = second.begin_upload(UploadCommand(locator, created.uuid), SCHEMA)
    upload.add(make_batch(list(range(100))))
    second.end_upload(upload, ok=True)
    third.finalize_session(act.SessionFinalize(session))
    _, batches = first.read(Ticket(locator))
    assert pa.Table.from_batches(batches).column("timestamp_ns").to_pylist() == list(range(100))


def test_a_silent_server_is_taken_over(backend: Backend, tmp_path: Path) -> None:
    """A server stops renewing its heartbeat mid-upload (as if killed): once its lease has
    passed, a live server fails its upload with a notification and deletes the chunk file
    it had noted but not recorded; the session stays deletable."""
    live = _open(backend, tmp_path / "chunks")
    dying = _open(backend, tmp_path / "chunks")
    try:
        live.create_sequence(act.SequenceCreate("seq"))
        cmd = _topic(live, "seq", "imu")
        upload = dying.begin_upload(cmd, SCHEMA)
        loose = "chunks/never-recorded.parquet"
        with dying.chunks.fs.open_output_stream(f"{dying.chunks.root}/{loose}") as out:
            out.write(b"half a chunk")
        dying.catalog.note_loose(loose, dying.server_id)
        dying.closing.set()  # its heartbeat stops; nothing else of it runs
        deadline = time.monotonic() + 15
        # The upload is failed in recovery's transaction, the file deleted right after it.
        while loose in backend.files(tmp_path / "chunks"):
            assert time.monotonic() < deadline, "the dead server's upload was never taken over"
            time.sleep(0.1)
        assert live.catalog.get_topic("seq", "imu").state == "failed"
        notes = live.list_notifications("seq", "imu")
        assert [n.notification_type for n in notes] == ["error"]
        with pytest.raises(NotFound, match="deleted, or its upload ended"):
            upload.add(make_batch(list(range(10))))
            upload.flush(wait=True)
        session = live.catalog.get_topic("seq", "imu").session_id
        live.delete_session(act.SessionDelete(session_uuid=session))
    finally:
        live.close()


def test_a_fast_server_shares_the_catalog_of_durable_ones(backend: Backend, tmp_path: Path) -> None:
    """A server without fsync (``--no-fsync``: commits do not wait for the WAL flush) uses
    the very catalog the URI names, options included (the tests' URIs name a schema)."""
    where = backend.location(tmp_path / "chunks")
    fast = Store.open(where.store, where.catalog, StoreConfig(durable=False))
    safe = _open(backend, tmp_path / "chunks")
    try:
        assert fast.catalog.database.synchronous == "off"
        assert safe.catalog.database.synchronous == "on"
        fast.create_sequence(act.SequenceCreate("written-fast"))
        assert safe.sequence_names() == ["written-fast"]
    finally:
        fast.close()
        safe.close()

