"""Data plane over a real Flight server: DoPut checks, sorted/windowed DoGet, statistics."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico.protocol.info import Limits
from mosaico.server import EmbeddedServer, StoreConfig
from mosaico.server.storage import CHUNK_DIR, TMP_DIR
from tests.backends import Backend, stored_files
from tests.server.server_helpers import SCHEMA, Raw, make_batch, raw_server


def _expected(timestamps: list[int], start: int | None = None, end: int | None = None) -> pa.Table:
    """Rows as uploaded, filtered to the window, stably sorted by timestamp."""
    order = sorted(range(len(timestamps)), key=lambda i: timestamps[i])
    table = pa.Table.from_batches([make_batch(timestamps)]).take(order)
    ts = table.column("timestamp_ns").to_pylist()
    keep = [
        i for i, t in enumerate(ts) if (start is None or t >= start) and (end is None or t < end)
    ]
    return table.take(keep)


def _check_read(raw: Raw, locator: str, timestamps: list[int], **window: int) -> None:
    schema, batches = raw.read(locator, **window)
    assert schema.equals(SCHEMA, check_metadata=True)
    assert all(b.num_rows > 0 for b in batches)
    assert all(b.schema.equals(SCHEMA, check_metadata=True) for b in batches)
    got = pa.Table.from_batches(batches, schema=SCHEMA)
    want = _expected(timestamps, window.get("timestamp_ns_start"), window.get("timestamp_ns_end"))
    assert got.equals(want)


def test_roundtrip_sorted_and_typed(raw: Raw) -> None:
    stamps = [30, 10, 20, 10, 50, 40, 20]
    raw.upload("seq/a", [stamps[:3], stamps[3:]])
    _check_read(raw, "seq/a", stamps)
    _check_read(raw, "seq/a", stamps, timestamp_ns_start=20, timestamp_ns_end=50)
    _check_read(raw, "seq/a", stamps, timestamp_ns_start=21)
    _check_read(raw, "seq/a", stamps, timestamp_ns_end=11)


def test_many_overlapping_chunks_merge_stably(small_chunks: Raw) -> None:
    rng = random.Random(7)
    batches = [[rng.randrange(0, 400) for _ in range(60)] for _ in range(25)]
    stamps = [t for b in batches for t in b]
    small_chunks.upload("seq/a", batches)
    info = small_chunks.info("seq/a")
    data_info = json.loads(info.endpoints[0].app_metadata)["data_info"]
    assert data_info["total_chunks_count"] > 5
    assert data_info["total_row_count"] == len(stamps)
    assert data_info["interval"] == {"start_ns": min(stamps), "end_ns": max(stamps)}
    _check_read(small_chunks, "seq/a", stamps)
    for start, end in [(0, 1), (100, 101), (57, 333), (399, 10_000), (-5, 3)]:
        _check_read(small_chunks, "seq/a", stamps, timestamp_ns_start=start, timestamp_ns_end=end)


def test_increasing_upload_over_many_chunks(small_chunks: Raw) -> None:
    batches = [list(range(i * 100, i * 100 + 100)) for i in range(20)]
    stamps = [t for b in batches for t in b]
    small_chunks.upload("seq/a", batches)
    _check_read(small_chunks, "seq/a", stamps)
    _check_read(small_chunks, "seq/a", stamps, timestamp_ns_start=555, timestamp_ns_end=1234)


def test_window_metadata(raw: Raw) -> None:
    stamps = [5, 1, 9, 3, 7]
    raw.upload("seq/a", [stamps])
    raw.upload("seq/empty", [])
    info = raw.info("seq", timestamp_ns_start=2, timestamp_ns_end=8)
    meta = {json.loads(e.app_metadata)["resource_locator"]: json.loads(e.app_metadata)
            for e in info.endpoints}  # fmt: skip
    assert meta["seq/a"]["time_window_info"] == {
        "row_count": 3,
        "interval": {"start_ns": 3, "end_ns": 7},
    }
    assert meta["seq/a"]["data_info"]["total_row_count"] == 5  # windows never change data_info
    assert meta["seq/empty"]["time_window_info"] == {"row_count": 0, "interval": None}
    assert meta["seq/empty"]["data_info"] == {
        "total_bytes": 0, "total_chunks_count": 0, "total_row_count": 0, "interval": None,
    }  # fmt: skip
    plain = json.loads(raw.info("seq/a").endpoints[0].app_metadata)
    assert plain["time_window_info"] is None
    assert plain["ontology_tag"] == "Thing" and plain["serialization_format"] == "default"
    with pytest.raises(pa.ArrowInvalid, match="empty time window"):
        raw.info("seq/a", timestamp_ns_start=8, timestamp_ns_end=8)
    with pytest.raises(pa.ArrowInvalid, match="must be an integer"):
        raw.client.get_flight_info(
            flight.FlightDescriptor.for_command(
                json.dumps({"resource_locator": "seq", "timestamp_ns_start": "x"})
            )
        )
    with pytest.raises(pa.ArrowInvalid, match="session locator"):
        raw.info("seq:01ABC")


def test_empty_topic_and_empty_window_stream_no_batches(raw: Raw) -> None:
    raw.upload("seq/empty", [])
    schema, batches = raw.read("seq/empty")
    assert schema.equals(SCHEMA) and batches == []
    raw.upload("seq/a", [[1, 2, 3]])
    schema, batches = raw.read("seq/a", timestamp_ns_start=10)
    assert schema.equals(SCHEMA) and batches == []


def test_batches_are_sized_from_the_target(backend: Backend, tmp_path: Path) -> None:
    limits = Limits(grpc_target_encode_message_size=4000, grpc_max_encode_message_size=8000)
    with raw_server(backend.server(tmp_path, StoreConfig(limits=limits))) as raw:
        stamps = list(range(1000))
        raw.upload("seq/a", [stamps])
        _, batches = raw.read("seq/a")
        assert len(batches) > 10
        assert all(pa.ipc.get_record_batch_size(b) <= 8000 + 2000 for b in batches)
        assert sum(b.num_rows for b in batches) == 1000


def test_doput_checks(raw: Raw) -> None:
    session = raw.new_sequence("seq")
    uuid = raw.new_topic(session, "seq/a")
    with pytest.raises(pa.ArrowKeyError, match="^not found: topic 'seq/zz'"):
        raw.put("seq/zz", uuid, [])
    with pytest.raises(pa.ArrowInvalid, match="topic_uuid does not match"):
        raw.put("seq/a", "00000000-0000-4000-8000-000000000000", [])
    with pytest.raises(pa.ArrowInvalid, match="not a valid UUID"):
        raw.put("seq/a", "garbage", [])
    foreign = raw.new_topic(raw.action("session_create", {"locator": "seq"}), "seq/foreign")
    with pytest.raises(pa.ArrowInvalid, match="topic_uuid does not match topic 'seq/a'"):
        raw.put("seq/a", foreign, [])  # the upload key of a topic of another session
    no_ts = pa.schema([("value", pa.float64())])
    with pytest.raises(pa.ArrowInvalid, match="exactly one field 'timestamp_ns' of type int64"):
        raw.put("seq/a", uuid, [], schema=no_ts)
    wrong = pa.schema([("timestamp_ns", pa.int32())])
    with pytest.raises(pa.ArrowInvalid, match=r"got \['int32'\]"):
        raw.put("seq/a", uuid, [], schema=wrong)
    for bad in (b"{", json.dumps({"resource_locator": "seq/a"}).encode()):
        writer, _ = raw.client.do_put(flight.FlightDescriptor.for_command(bad), SCHEMA)
        with pytest.raises(pa.ArrowInvalid):
            writer.close()
    writer, _ = raw.client.do_put(flight.FlightDescriptor.for_path("seq", "a"), SCHEMA)
    with pytest.raises(pa.ArrowInvalid, match="path descriptor"):
        writer.close()
    # None of the failures above claimed the topic: a proper upload still works, once.
    raw.put("seq/a", uuid, [make_batch([1])])
    with pytest.raises(pa.ArrowInvalid, match="^failed precondition: .* already received"):
        raw.put("seq/a", uuid, [make_batch([2])])
    _check_read(raw, "seq/a", [1])
    other = raw.new_topic(session, "seq/b")
    raw.action("session_finalize", {"session_uuid": session["uuid"]})
    with pytest.raises(pa.ArrowInvalid, match="^failed precondition: .* finalized"):
        raw.put("seq/b", other, [make_batch([1])])


def test_null_timestamps_rejected_and_earlier_rows_kept(raw: Raw) -> None:
    session = raw.new_sequence("seq")
    uuid = raw.new_topic(session, "seq/a")
    loose = SCHEMA.set(0, pa.field("timestamp_ns", pa.int64()))
    good = make_batch([1, 2], loose)
    bad = make_batch([3], loose).set_column(0, "timestamp_ns", pa.array([None], pa.int64()))
    with pytest.raises(pa.ArrowInvalid, match="timestamp_ns contains nulls"):
        raw.put("seq/a", uuid, [good, bad], schema=loose)
    # The session can still be finalized after a failed upload (Report policy, spec §13.3).
    raw.action("session_finalize", {"session_uuid": session["uuid"]})
    _, batches = raw.read("seq/a")
    assert pa.Table.from_batches(batches).column("timestamp_ns").to_pylist() == [1, 2]


def test_finalize_refused_while_uploading(raw: Raw) -> None:
    session = raw.new_sequence("seq")
    uuid = raw.new_topic(session, "seq/a")
    descriptor = flight.FlightDescriptor.for_command(
        json.dumps({"resource_locator": "seq/a", "topic_uuid": uuid})
    )
    writer, _ = raw.client.do_put(descriptor, SCHEMA)
    writer.write_batch(make_batch([1]))
    # The server stores the schema when it claims the topic for the stream: wait for that.
    schema_cmd = flight.FlightDescriptor.for_command(json.dumps({"resource_locator": "seq/a"}))
    deadline = time.monotonic() + 10
    while not raw.client.get_schema(schema_cmd).schema.names:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(pa.ArrowInvalid, match="still has uploads in progress: 'seq/a'"):
        raw.action("session_finalize", {"session_uuid": session["uuid"]})
    writer.close()
    raw.action("session_finalize", {"session_uuid": session["uuid"]})


def test_oversized_batch_rejected(backend: Backend, tmp_path: Path) -> None:
    limits = Limits(grpc_max_decode_message_size=10_000)
    with raw_server(backend.server(tmp_path, StoreConfig(limits=limits))) as raw:
        session = raw.new_sequence("seq")
        uuid = raw.new_topic(session, "seq/a")
        with pytest.raises(pa.ArrowInvalid, match="exceeds grpc_max_decode_message_size"):
            raw.put("seq/a", uuid, [make_batch([1]), make_batch(list(range(2000)))])
        _, batches = raw.read("seq/a")
        assert sum(b.num_rows for b in batches) == 1  # the accepted batch is kept


def test_bad_tickets(raw: Raw) -> None:
    with pytest.raises(pa.ArrowInvalid, match="ticket is not valid JSON"):
        raw.client.do_get(flight.Ticket(b"nope")).read_all()
    with pytest.raises(pa.ArrowKeyError, match="not found"):
        raw.client.do_get(flight.Ticket(b'{"locator": "seq/ghost"}')).read_all()


def test_many_concurrent_uploads_on_one_connection(raw: Raw) -> None:
    session = raw.new_sequence("seq")
    writers = []
    for i in range(120):
        uuid = raw.new_topic(session, f"seq/t{i}")
        descriptor = flight.FlightDescriptor.for_command(
            json.dumps({"resource_locator": f"seq/t{i}", "topic_uuid": uuid})
        )
        writer, _ = raw.client.do_put(descriptor, SCHEMA)
        writers.append(writer)
    for round_ in range(3):
        for i, writer in enumerate(writers):
            writer.write_batch(make_batch([round_ * 1000 + i]))
        raw.action("info")  # control calls stay responsive with all streams open
    for writer in writers:
        writer.close()
    raw.action("session_finalize", {"session_uuid": session["uuid"]})
    info = raw.info("seq")
    rows = [json.loads(e.app_metadata)["data_info"]["total_row_count"] for e in info.endpoints]
    assert rows == [3] * 120


def test_concurrent_readers_while_writing(raw: Raw) -> None:
    raw.upload("seq/a", [list(range(5000))])
    errors: list[BaseException] = []

    def read() -> None:
        try:
            _, batches = raw.read("seq/a")
            assert sum(b.num_rows for b in batches) == 5000
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    raw.upload("seq/b", [list(range(100))])
    for t in threads:
        t.join()
    assert errors == []


def test_delete_during_upload_leaves_no_files(server: tuple[EmbeddedServer, Raw]) -> None:
    embedded, raw = server
    session = raw.new_sequence("seq")
    uuid = raw.new_topic(session, "seq/a")
    descriptor = flight.FlightDescriptor.for_command(
        json.dumps({"resource_locator": "seq/a", "topic_uuid": uuid})
    )
    writer, _ = raw.client.do_put(descriptor, SCHEMA)
    writer.write_batch(make_batch(list(range(100))))
    raw.action("sequence_delete", {"locator": "seq"})
    with pytest.raises(pa.ArrowException):
        for _ in range(50):
            writer.write_batch(make_batch([1]))
        writer.close()
    chunks = embedded.store.chunks
    assert stored_files(chunks.fs, chunks.root, CHUNK_DIR) == {}
    assert stored_files(chunks.fs, chunks.root, TMP_DIR) == {}


def test_window_prunes_chunks_before_reading(backend: Backend, tmp_path: Path) -> None:
    config = StoreConfig(chunk_bytes=4096, row_group_bytes=1024)
    embedded = backend.server(tmp_path, config)
    host, port = embedded.start()
    try:
        raw = Raw(flight.FlightClient(f"grpc://{host}:{port}"))
        session = raw.new_sequence("seq")
        uuid = raw.new_topic(session, "seq/a")
        stamps = list(range(1000))
        raw.put("seq/a", uuid, [make_batch(stamps[i : i + 100]) for i in range(0, 1000, 100)])
        chunks = embedded.store.catalog.chunks_of(uuid)
        assert len(chunks) > 3
        # Remove every chunk file lying before the window: a windowed read must not open
        # them, while a full read must fail without them.
        start = chunks[len(chunks) // 2].min_ts
        files = embedded.store.chunks
        for chunk in chunks:
            if chunk.max_ts < start:
                files.fs.delete_file(f"{files.root}/{chunk.path}")
        _check_read(raw, "seq/a", stamps, timestamp_ns_start=start)
        _check_read(raw, "seq/a", stamps, timestamp_ns_start=start, timestamp_ns_end=start + 7)
        with pytest.raises(flight.FlightInternalError, match="storage failure"):
            raw.read("seq/a")
        raw.client.close()
    finally:
        embedded.stop()
