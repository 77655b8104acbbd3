"""A full disk, on a real 4 MiB tmpfs: uploads and catalog writes fail with UNAVAILABLE and a
message naming the cause, every row committed before stays readable, nothing is left in
``tmp/``, and once space is freed the server works again.

Mounting needs root (or CAP_SYS_ADMIN); where it is not permitted the tests are skipped.

Local backend only: the full disk is a tmpfs under the store folder and its SQLite
catalog.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico.protocol.errors import Unavailable, from_flight_error
from mosaico.server import EmbeddedServer, StoreConfig
from mosaico.server.catalog import FAILED
from mosaico.server.launch import free_port, serve_command, serve_process
from tests.server.server_helpers import Raw

DISK = "4m"
KiB = 1024
SCHEMA = pa.schema(
    [pa.field("timestamp_ns", pa.int64(), nullable=False), pa.field("v", pa.float64())]
)
BATCH_ROWS = 4096  # 64 KiB a batch
UPLOAD_BATCHES = 128  # 8 MiB: twice the disk
FULL_UPLOAD = re.compile(
    r"^the store is out of disk space \(No space left on device\) while writing topic "
    r"'full/imu'; the (\d+) rows committed before are kept$"
)
FULL_CATALOG = "the store is out of disk space (database or disk is full) while writing the catalog"
FULL_CATALOG_ERROR = f"unavailable: {FULL_CATALOG}"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A fresh tmpfs of 4 MiB, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: cannot make a small disk to fill")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"mounting a small tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _batch(index: int) -> pa.RecordBatch:
    """Incompressible rows, timestamps following on from the batch before."""
    start = index * BATCH_ROWS
    values = np.random.default_rng(index).random(BATCH_ROWS)
    timestamps = np.arange(start, start + BATCH_ROWS, dtype=np.int64)
    return pa.record_batch([pa.array(timestamps), pa.array(values)], schema=SCHEMA)


def _upload(raw: Raw, locator: str, uuid: str, batches: int) -> None:
    descriptor = flight.FlightDescriptor.for_command(
        json.dumps({"resource_locator": locator, "topic_uuid": uuid})
    )
    writer, _ = raw.client.do_put(descriptor, SCHEMA)
    try:
        for index in range(batches):
            writer.write_batch(_batch(index))
    finally:
        writer.close()  # the server's status arrives here if it has not before


def _fill_the_disk(raw: Raw) -> int:
    """Upload twice the disk's size into ``full/imu``; returns the rows the error kept."""
    session = raw.new_sequence("full")
    uuid = raw.new_topic(session, "full/imu")
    with pytest.raises(flight.FlightUnavailableError) as caught:
        _upload(raw, "full/imu", uuid, UPLOAD_BATCHES)
    error = from_flight_error(caught.value)
    assert isinstance(error, Unavailable)
    match = FULL_UPLOAD.match(error.detail)
    assert match, error.detail
    return int(match[1])


def _read_rows(raw: Raw, locator: str) -> pa.Table:
    schema, batches = raw.read(locator)
    return pa.Table.from_batches(batches, schema)


def _assert_kept(raw: Raw, kept: int) -> None:
    """The rows committed before the disk filled read back, exactly the first ``kept``."""
    assert kept > 0
    table = _read_rows(raw, "full/imu")
    assert table.num_rows == kept
    expected = pa.Table.from_batches([_batch(i) for i in range(-(-kept // BATCH_ROWS))])
    assert table.equals(expected.slice(0, kept))


def _assert_works(raw: Raw) -> None:
    """A new sequence can be written, finalized and read back."""
    session = raw.new_sequence("after", {"note": "x" * 10_000})
    uuid = raw.new_topic(session, "after/imu")
    _upload(raw, "after/imu", uuid, 4)
    raw.action("session_finalize", {"session_uuid": session["uuid"]})
    assert _read_rows(raw, "after/imu").num_rows == 4 * BATCH_ROWS


@pytest.fixture
def on_small_disk(small_disk: Path) -> Iterator[tuple[EmbeddedServer, Raw, Path]]:
    """A real Flight server in-process whose store is on the small disk."""
    store = small_disk / "store"
    config = StoreConfig(chunk_bytes=256 * KiB, row_group_bytes=128 * KiB)
    embedded = EmbeddedServer(str(store), config=config)
    host, port = embedded.start()
    client = flight.FlightClient(f"grpc://{host}:{port}")
    try:
        yield embedded, Raw(client), store
    finally:
        client.close()
        embedded.stop()


def test_full_disk_mid_upload_is_unavailable_and_keeps_committed_rows(
    on_small_disk: tuple[EmbeddedServer, Raw, Path],
) -> None:
    embedded, raw, store = on_small_disk
    kept = _fill_the_disk(raw)
    _assert_kept(raw, kept)
    assert embedded.store.catalog.get_topic("full", "imu").state == FAILED
    assert os.listdir(store / "tmp") == []  # the partial chunk file was removed
    raw.action("sequence_delete", {"locator": "full"})  # frees the space
    _assert_works(raw)


def _fill_with_a_file(disk: Path) -> Path:
    """Take every free byte of ``disk`` with a file of its own."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 64 * KiB)
    except OSError as exc:
        assert exc.errno == 28  # ENOSPC
    try:
        while True:
            os.write(fd, b"\0")
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_full_disk_under_the_catalog_is_unavailable(
    small_disk: Path, on_small_disk: tuple[EmbeddedServer, Raw, Path]
) -> None:
    _, raw, _ = on_small_disk
    session = raw.new_sequence("kept")
    uuid = raw.new_topic(session, "kept/imu")
    _upload(raw, "kept/imu", uuid, 2)
    filler = _fill_with_a_file(small_disk)
    for action, body in [
        ("sequence_create", {"locator": "big", "user_metadata": {"note": "x" * 50_000}}),
        ("session_finalize", {"session_uuid": session["uuid"]}),
    ]:
        with pytest.raises(flight.FlightUnavailableError) as caught:
            raw.action(action, body)
        assert from_flight_error(caught.value).detail == FULL_CATALOG, action
    assert _read_rows(raw, "kept/imu").num_rows == 2 * BATCH_ROWS
    filler.unlink()
    raw.action("session_finalize", {"session_uuid": session["uuid"]})
    _assert_works(raw)


def test_full_disk_through_mosaico_serve(small_disk: Path) -> None:
    store = small_disk / "store"
    with serve_process(store, "--chunk-mib", "1") as (_, port):
        raw = Raw(flight.FlightClient(f"grpc://127.0.0.1:{port}"))
        kept = _fill_the_disk(raw)
        _assert_kept(raw, kept)
        assert os.listdir(store / "tmp") == []
        raw.action("sequence_delete", {"locator": "full"})
        _assert_works(raw)
        raw.client.close()


def _serve_refused(store: Path) -> str:
    """Run `mosaico serve` on ``store``, which must refuse to start; returns what it said."""
    done = subprocess.run(
        serve_command(store, free_port()), capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr


def test_restart_on_a_full_disk_says_why_it_cannot_recover(small_disk: Path) -> None:
    store = small_disk / "store"
    with serve_process(store) as (process, port):
        raw = Raw(flight.FlightClient(f"grpc://127.0.0.1:{port}"))
        session = raw.new_sequence("cut")
        uuid = raw.new_topic(session, "cut/imu")
        descriptor = flight.FlightDescriptor.for_command(
            json.dumps({"resource_locator": "cut/imu", "topic_uuid": uuid})
        )
        writer, _ = raw.client.do_put(descriptor, SCHEMA)
        writer.write_batch(_batch(0))
        schema_cmd = flight.FlightDescriptor.for_command(
            json.dumps({"resource_locator": "cut/imu"})
        )
        while not raw.client.get_schema(schema_cmd).schema.names:  # claimed: uploading
            time.sleep(0.01)
        process.kill()  # the upload is left interrupted
        process.wait()
        raw.client.close()
    filler = _fill_with_a_file(small_disk)
    refused = _serve_refused(store)
    assert f"Error: store {str(store)!r} is not usable: No space left on device" in refused
    # Room for the start-up probe but not for the recovery's catalog writes.
    os.truncate(filler, filler.stat().st_size - 4 * KiB)
    refused = _serve_refused(store)
    assert f"store {str(store)!r} cannot recover from its last run: {FULL_CATALOG_ERROR}" in refused
    filler.unlink()
    with serve_process(store) as (_, port):
        raw = Raw(flight.FlightClient(f"grpc://127.0.0.1:{port}"))
        notes = raw.action("topic_notification_list", {"locator": "cut/imu"})
        assert "upload interrupted by a server restart" in json.dumps(notes)
        raw.client.close()
