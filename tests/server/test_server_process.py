"""``mosaico serve`` as a process: clean shutdown, unusable stores, and kill -9 recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico.server.launch import free_port, serve_command
from mosaico.server.storage import CHUNK_DIR, TMP_DIR
from tests.backends import SCALE_LEASE_S, Backend
from tests.server.server_helpers import SCHEMA, Raw, make_batch


@contextmanager
def _serving(
    backend: Backend, store: Path, *extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], Raw]]:
    port = free_port()
    process = subprocess.Popen(
        backend.serve_command(store, port, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    client = flight.FlightClient(f"grpc://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                list(client.do_action(flight.Action("info", b"{}")))
                break
            except flight.FlightUnavailableError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        yield process, Raw(client)
    finally:
        client.close()
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()


def _interrupted_notes(raw: Raw, locator: str) -> list[dict[str, str]]:
    """The notifications of a topic whose upload a killed server left, once a live server
    has taken it over: at once over a store of one process, after the dead server's lease
    over a shared catalog."""
    deadline = time.monotonic() + 4 * SCALE_LEASE_S + 10
    while True:
        notes: list[dict[str, str]] = raw.action("topic_notification_list", {"locator": locator})[
            "notifications"
        ]
        if notes or time.monotonic() > deadline:
            return notes
        time.sleep(0.1)


def test_sigterm_and_sigint_shut_down_cleanly(backend: Backend, tmp_path: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        with _serving(backend, tmp_path / "store") as (process, raw):
            raw.new_sequence(f"seq-{sig.value}")
            process.send_signal(sig)
            assert process.wait(timeout=30) == 0
            output = process.stdout.read().decode() if process.stdout else ""
            assert "serve.stopped" in output and "serve.signal" in output


@pytest.mark.parametrize("kind", ["file", "under-file"])
def test_unusable_store_is_reported(tmp_path: Path, kind: str) -> None:
    # Local only: a store folder that is a file or under one.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    store = blocker if kind == "file" else blocker / "store"
    result = subprocess.run(
        serve_command(store, free_port()), capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert f"store '{store}'" in result.stderr
    assert ("is not a folder" if kind == "file" else "cannot be created") in result.stderr


def test_kill_during_upload_then_recover(backend: Backend, tmp_path: Path) -> None:
    store = tmp_path / "store"
    finalized_rows = make_batch(list(range(5000, 0, -1)))
    with _serving(backend, store, "--chunk-mib", "1") as (process, raw):
        done = raw.new_sequence("done")
        uuid = raw.new_topic(done, "done/a")
        raw.put("done/a", uuid, [finalized_rows])
        raw.action("session_finalize", {"session_uuid": done["uuid"]})
        _, before = raw.read("done/a")
        finalized_files = backend.files(store)

        pending = raw.new_sequence("pending")
        uuid = raw.new_topic(pending, "pending/a")
        descriptor = flight.FlightDescriptor.for_command(
            json.dumps({"resource_locator": "pending/a", "topic_uuid": uuid})
        )
        writer, _ = raw.client.do_put(descriptor, SCHEMA)
        big = make_batch(list(range(20_000)))
        committed = False
        for _ in range(400):
            writer.write_batch(big)
            info = raw.info("pending/a")
            if json.loads(info.endpoints[0].app_metadata)["data_info"]["total_chunks_count"]:
                committed = True
                break
        assert committed, "no chunk was committed while uploading"
        process.kill()  # SIGKILL in the middle of the stream
        process.wait(timeout=30)
    # What a crash can leave behind: a half-written temp file (only a local store has
    # tmp/, and only a store of one process sweeps it: over a shared catalog live servers
    # write there), a moved but unrecorded chunk (noted as a loose file of the dead server
    # before it was written).
    fs, root = backend.filesystem(store)
    if not backend.shared:
        with fs.open_output_stream(f"{root}/{TMP_DIR}/half-written.parquet") as out:
            out.write(b"PAR1 partial")
    orphan = f"{CHUNK_DIR}/not-in-catalog/x.parquet"
    fs.create_dir(f"{root}/{CHUNK_DIR}/not-in-catalog")
    with fs.open_output_stream(f"{root}/{orphan}") as out:
        out.write(b"orphan")
    catalog = backend.catalog(store)
    with catalog.transaction() as cur:
        cur.execute("INSERT INTO loose_files VALUES (?, 'the-killed-server', 0)", (orphan,))

    with _serving(backend, store) as (_, raw):
        notes = _interrupted_notes(raw, "pending/a")
        schema, after = raw.read("done/a")
        assert schema.equals(SCHEMA, check_metadata=True)
        assert pa.Table.from_batches(after).equals(pa.Table.from_batches(before))
        assert orphan not in backend.files(store)
        assert backend.files(store, TMP_DIR) == {}
        with catalog.transaction() as cur:
            assert cur.execute("SELECT path FROM loose_files").fetchall() == []
        catalog.close()
        meta = json.loads(raw.info("pending").app_metadata)
        [session] = meta["sessions"]
        assert session["locked"] is False and session["topics"] == ["pending/a"]
        assert "interrupted" in notes[0]["msg"]
        _, partial = raw.read("pending/a")
        assert sum(b.num_rows for b in partial) % 20_000 == 0  # whole batches, sorted
        raw.action("session_delete", {"locator": session["locator"]})
        assert backend.files(store) == finalized_files
        with pytest.raises(pa.ArrowKeyError):
            raw.info("pending/a")


def test_store_survives_restart(backend: Backend, tmp_path: Path) -> None:
    store = tmp_path / "store"
    with _serving(backend, store) as (process, raw):
        session = raw.new_sequence("seq", {"k": "v"})
        uuid = raw.new_topic(session, "seq/a", metadata={"m": 1})
        raw.put("seq/a", uuid, [make_batch([3, 1, 2])])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    with _serving(backend, store) as (_, raw):
        endpoint = json.loads(raw.info("seq").endpoints[0].app_metadata)
        assert endpoint["user_metadata"] == {"m": 1} and endpoint["locked"] is False
        assert endpoint["data_info"]["interval"] == {"start_ns": 1, "end_ns": 3}
        raw.action("session_finalize", {"session_uuid": session["uuid"]})
        _, batches = raw.read("seq/a")
        assert pa.Table.from_batches(batches).column("timestamp_ns").to_pylist() == [1, 2, 3]
    if not backend.shared:  # the catalog lives in the store folder
        assert os.path.exists(store / "catalog.sqlite3")


def test_a_server_that_does_not_come_up_says_why(tmp_path: Path) -> None:
    # Local only: the store folder is a file.
    from mosaico.errors import StateError
    from mosaico.server.launch import serve_process

    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(StateError) as failure, serve_process(blocker):
        pass
    assert "exited with" in str(failure.value) and "is not a folder" in str(failure.value)
