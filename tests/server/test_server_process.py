"""``mosaico serve`` as a process: clean shutdown, unusable stores, and kill -9 recovery."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico.server.launch import free_port, serve_command
from mosaico.server.store import CATALOG_FILE
from tests.server.server_helpers import SCHEMA, Raw, make_batch


@contextmanager
def _serving(store: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], Raw]]:
    port = free_port()
    process = subprocess.Popen(
        serve_command(store, port, *extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
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


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_sigterm_and_sigint_shut_down_cleanly(tmp_path: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        with _serving(tmp_path / "store") as (process, raw):
            raw.new_sequence(f"seq-{sig.value}")
            process.send_signal(sig)
            assert process.wait(timeout=30) == 0
            output = process.stdout.read().decode() if process.stdout else ""
            assert "serve.stopped" in output and "serve.signal" in output


@pytest.mark.parametrize("kind", ["file", "under-file"])
def test_unusable_store_is_reported(tmp_path: Path, kind: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    store = blocker if kind == "file" else blocker / "store"
    result = subprocess.run(
        serve_command(store, free_port()), capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert f"store '{store}'" in result.stderr
    assert ("is not a folder" if kind == "file" else "cannot be created") in result.stderr


def test_kill_during_upload_then_recover(tmp_path: Path) -> None:
    store = tmp_path / "store"
    finalized_rows = make_batch(list(range(5000, 0, -1)))
    with _serving(store, "--chunk-mib", "1") as (process, raw):
        done = raw.new_sequence("done")
        uuid = raw.new_topic(done, "done/a")
        raw.put("done/a", uuid, [finalized_rows])
        raw.action("session_finalize", {"session_uuid": done["uuid"]})
        _, before = raw.read("done/a")
        finalized_files = _files(store / "chunks")

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
    # What a crash can leave behind: a half-written temp file, a moved but unrecorded
    # chunk (noted as a loose file of the dead server before it was written).
    (store / "tmp" / "half-written.parquet").write_bytes(b"PAR1 partial")
    orphan = store / "chunks" / "not-in-catalog" / "x.parquet"
    orphan.parent.mkdir()
    orphan.write_bytes(b"orphan")
    with sqlite3.connect(store / CATALOG_FILE) as db:
        db.execute(
            "INSERT INTO loose_files VALUES (?, 'the-killed-server', 0)",
            (str(orphan.relative_to(store)),),
        )

    with _serving(store) as (_, raw):
        schema, after = raw.read("done/a")
        assert schema.equals(SCHEMA, check_metadata=True)
        assert pa.Table.from_batches(after).equals(pa.Table.from_batches(before))
        assert not orphan.exists()
        assert list((store / "tmp").iterdir()) == []
        with sqlite3.connect(store / CATALOG_FILE) as db:
            assert db.execute("SELECT path FROM loose_files").fetchall() == []
        meta = json.loads(raw.info("pending").app_metadata)
        [session] = meta["sessions"]
        assert session["locked"] is False and session["topics"] == ["pending/a"]
        notes = raw.action("topic_notification_list", {"locator": "pending/a"})["notifications"]
        assert "interrupted" in notes[0]["msg"]
        _, partial = raw.read("pending/a")
        assert sum(b.num_rows for b in partial) % 20_000 == 0  # whole batches, sorted
        raw.action("session_delete", {"locator": session["locator"]})
        assert _files(store / "chunks") == finalized_files
        with pytest.raises(pa.ArrowKeyError):
            raw.info("pending/a")


def test_store_survives_restart(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with _serving(store) as (process, raw):
        session = raw.new_sequence("seq", {"k": "v"})
        uuid = raw.new_topic(session, "seq/a", metadata={"m": 1})
        raw.put("seq/a", uuid, [make_batch([3, 1, 2])])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    with _serving(store) as (_, raw):
        endpoint = json.loads(raw.info("seq").endpoints[0].app_metadata)
        assert endpoint["user_metadata"] == {"m": 1} and endpoint["locked"] is False
        assert endpoint["data_info"]["interval"] == {"start_ns": 1, "end_ns": 3}
        raw.action("session_finalize", {"session_uuid": session["uuid"]})
        _, batches = raw.read("seq/a")
        assert pa.Table.from_batches(batches).column("timestamp_ns").to_pylist() == [1, 2, 3]
    assert os.path.exists(store / "catalog.sqlite3")


def test_a_server_that_does_not_come_up_says_why(tmp_path: Path) -> None:
    from mosaico.errors import StateError
    from mosaico.server.launch import serve_process

    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(StateError) as failure, serve_process(blocker):
        pass
    assert "exited with" in str(failure.value) and "is not a folder" in str(failure.value)
