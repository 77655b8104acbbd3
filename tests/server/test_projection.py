"""Column projection through a real server: ``fields`` in GetFlightInfo commands, carried in
tickets, DoGet reading only those Parquet columns (both read paths), hostile values refused."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.fs as pafs
import pytest

from mosaico.protocol.projection import project, project_table
from mosaico.server import EmbeddedServer
from tests.backends import Backend
from tests.server.server_helpers import SCHEMA, Raw, raw_server


def _info(raw: Raw, command: dict[str, Any] | bytes) -> flight.FlightInfo:
    data = command if isinstance(command, bytes) else json.dumps(command).encode()
    return raw.client.get_flight_info(flight.FlightDescriptor.for_command(data))


def _get(raw: Raw, ticket: flight.Ticket | bytes) -> pa.Table:
    reader = raw.client.do_get(
        ticket if isinstance(ticket, flight.Ticket) else flight.Ticket(ticket)
    )
    batches = [chunk.data for chunk in reader]
    assert all(b.num_rows > 0 for b in batches)
    assert all(b.schema.equals(reader.schema, check_metadata=True) for b in batches)
    return pa.Table.from_batches(batches, schema=reader.schema)


def _read(raw: Raw, locator: str, fields: list[str] | None, **window: int) -> pa.Table:
    command: dict[str, Any] = {"resource_locator": locator, **window}
    if fields is not None:
        command["fields"] = fields
    return _get(raw, _info(raw, command).endpoints[0].ticket)


def _check_projected(raw: Raw, locator: str, fields: list[str], **window: int) -> pa.Table:
    """The projected read equals the full read pruned in memory, schema metadata kept."""
    got = _read(raw, locator, fields, **window)
    full = _read(raw, locator, None, **window)
    want = project_table(full, project(SCHEMA, fields, locator).schema)
    assert got.schema.equals(want.schema, check_metadata=True)
    assert got.equals(want)
    return got


def test_leaves_and_whole_fields_keep_nesting_and_stored_order(raw: Raw) -> None:
    raw.upload("seq/a", [[30, 10, 20, 10], [50, 40, 21, 7, 14]])
    leaf = _check_projected(raw, "seq/a", ["header.seq"])
    assert leaf.schema.names == ["timestamp_ns", "header"]
    assert leaf.schema.field("header").type == pa.struct([pa.field("seq", pa.uint32())])
    assert leaf.column("timestamp_ns").to_pylist() == [7, 10, 10, 14, 20, 21, 30, 40, 50]
    assert leaf.column("header").to_pylist()[0] is None  # 7 % 7 == 0: a null header
    # asked in another order, given in stored order; a path under a whole field is redundant
    both = _check_projected(raw, "seq/a", ["positions", "header", "value", "header.seq"])
    assert both.schema.names == ["timestamp_ns", "value", "header", "positions"]
    assert both.schema.field("header").type == SCHEMA.field("header").type
    assert _check_projected(raw, "seq/a", ["covariance", "timestamp_ns"]).num_columns == 2


def test_timestamps_only(raw: Raw) -> None:
    raw.upload("seq/a", [[5, 1, 9, 3, 7]])
    table = _check_projected(raw, "seq/a", [])
    assert table.schema.names == ["timestamp_ns"]
    assert table.schema.field(0).metadata == {b"description": b"t"}
    assert table.column(0).to_pylist() == [1, 3, 5, 7, 9]


def test_windowed_and_projected_over_many_chunks(small_chunks: Raw) -> None:
    batches = [list(range(i * 100, i * 100 + 100)) for i in range(12)]
    small_chunks.upload("seq/a", batches)
    for window in [{}, {"timestamp_ns_start": 555, "timestamp_ns_end": 1034},
                   {"timestamp_ns_start": 1190}, {"timestamp_ns_end": 1}]:  # fmt: skip
        for fields in (["label"], ["header.frame_id", "covariance"], []):
            table = _check_projected(small_chunks, "seq/a", fields, **window)
            lo, hi = window.get("timestamp_ns_start", 0), window.get("timestamp_ns_end", 1200)
            assert table.column("timestamp_ns").to_pylist() == list(range(lo, min(hi, 1200)))


def test_unsorted_overlapping_chunks_take_the_merge_path(small_chunks: Raw) -> None:
    rng = random.Random(11)
    batches = [[rng.randrange(0, 300) for _ in range(50)] for _ in range(20)]
    small_chunks.upload("seq/a", batches)
    info = json.loads(_info(small_chunks, {"resource_locator": "seq/a"}).endpoints[0].app_metadata)
    assert info["data_info"]["total_chunks_count"] > 5
    stamps = sorted(t for b in batches for t in b)
    for window in [{}, {"timestamp_ns_start": 57, "timestamp_ns_end": 233}]:
        for fields in (["value", "header.seq"], ["positions"], []):
            table = _check_projected(small_chunks, "seq/a", fields, **window)
            lo, hi = window.get("timestamp_ns_start", 0), window.get("timestamp_ns_end", 300)
            assert table.column("timestamp_ns").to_pylist() == [t for t in stamps if lo <= t < hi]


def test_tickets_carry_fields_only_when_asked(raw: Raw) -> None:
    raw.upload("seq/a", [[1, 2]])
    raw.upload("seq/b", [[3]])
    plain = _info(raw, {"resource_locator": "seq/a"})
    assert plain.endpoints[0].ticket.ticket == b'{"locator":"seq/a","start_ns":null,"end_ns":null}'
    assert plain.schema.equals(SCHEMA)
    projected = _info(raw, {"resource_locator": "seq/a", "fields": ["value"]})
    assert json.loads(projected.endpoints[0].ticket.ticket)["fields"] == ["value"]
    assert projected.schema.names == ["timestamp_ns", "value"]  # the projected schema
    # a sequence command: one array for every topic, or one per topic (others read whole)
    every = _info(raw, {"resource_locator": "seq", "fields": ["label"]})
    assert [json.loads(e.ticket.ticket)["fields"] for e in every.endpoints] == [["label"]] * 2
    per_topic = _info(raw, {"resource_locator": "seq", "fields": {"/b": []}})
    tickets = [json.loads(e.ticket.ticket) for e in per_topic.endpoints]
    assert [t.get("fields") for t in tickets] == [None, []]
    assert _get(raw, per_topic.endpoints[1].ticket).schema.names == ["timestamp_ns"]


def _refused(raw: Raw, command: dict[str, Any] | bytes, *needles: str) -> None:
    with pytest.raises(pa.ArrowInvalid) as caught:
        _info(raw, command)
    message = str(caught.value)
    assert message.startswith("invalid argument: ")
    for needle in needles:
        assert needle in message, message


def test_unknown_fields_are_invalid_argument_naming_them(raw: Raw) -> None:
    raw.upload("seq/a", [[1, 2]])
    top = "value, label, covariance, header, positions"
    _refused(raw, {"resource_locator": "seq/a", "fields": ["nope"]},
             "'nope'", "'seq/a'", f"fields at top level: {top}")  # fmt: skip
    _refused(raw, {"resource_locator": "seq/a", "fields": ["header.nope"]},
             "'header.nope'", "fields at header: frame_id, seq")  # fmt: skip
    _refused(raw, {"resource_locator": "seq/a", "fields": ["covariance.x"]},
             "'covariance' is a fixed_size_list", "not a struct")  # fmt: skip
    _refused(raw, {"resource_locator": "seq", "fields": ["nope"]}, "'nope'", "'seq/a'")
    _refused(raw, {"resource_locator": "seq", "fields": {"zz": []}}, "'zz'", "no topic")


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ("value", "must be an array"),
        (7, "must be an array"),
        ([1], "fields[0] must be a field path, got int"),
        ([""], "fields[0] must be a field path, got an empty string"),
        (["value", None], "fields[1] must be a field path, got null"),
        ([["value"]], "fields[0] must be a field path, got list"),
        (["x" * 5000], "fields[0] is 5000 characters, longer than 1024"),
        (["value"] * 10_001, "names 10001 paths, more than 10000"),
        ({"a": ["value"]}, "must be an array, got dict"),  # an object only for a sequence
    ],
)
def test_hostile_fields_in_a_topic_command(raw: Raw, fields: Any, needle: str) -> None:
    raw.upload("seq/a", [[1]])
    _refused(raw, {"resource_locator": "seq/a", "fields": fields}, needle)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"a": "value"}, "'fields' must be a JSON array"),
        ({"a": [3]}, "topic 'a': fields[0] must be a field path"),
        ({"../a": []}, "'..'"),
        ({"a": [], "/a": []}, "names topic 'a' twice"),
        ({f"t{i}": [] for i in range(10_001)}, "names 10001 topics, more than 10000"),
        ({"a": ["v"] * 6000, "b": ["v"] * 6000}, "more than 3998"),
    ],
)
def test_hostile_fields_in_a_sequence_command(raw: Raw, fields: Any, needle: str) -> None:
    raw.upload("seq/a", [[1]])
    _refused(raw, {"resource_locator": "seq", "fields": fields}, needle)


def test_hostile_tickets(raw: Raw) -> None:
    raw.upload("seq/a", [[1, 2]])
    base = b'{"locator":"seq/a","start_ns":null,"end_ns":null,'
    for tail, needle in [
        (b'"fields":"value"}', "'fields' must be a JSON array"),
        (b'"fields":[1.5]}', "fields[0] must be a field path, got float"),
        (b'"fields":["nope"]}', "topic 'seq/a' has no field 'nope'"),
        (b'"fields":["label.x"]}', "'label' is a string, not a struct"),
    ]:
        with pytest.raises(pa.ArrowInvalid, match="invalid argument") as caught:
            _get(raw, base + tail)
        assert needle in str(caught.value)
    assert _get(raw, base + b'"fields":["label"]}').schema.names == ["timestamp_ns", "label"]


# -- bytes read from the chunk files ---------------------------------------------------------


class _CountingReader:
    """A readable file that counts the bytes read through it."""

    def __init__(self, inner: pa.NativeFile, counter: _Counter) -> None:
        self._inner = inner
        self._counter = counter
        self.closed = False

    def read(self, nbytes: int = -1) -> bytes:
        data = self._inner.read() if nbytes is None or nbytes < 0 else self._inner.read(nbytes)
        self._counter.add(len(data))
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def size(self) -> int:
        return self._inner.size()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
        self._inner.close()


class _Counter:
    def __init__(self) -> None:
        self.bytes = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.bytes += n

    def take(self) -> int:
        with self._lock:
            n, self.bytes = self.bytes, 0
            return n


class _Counting(pafs.FileSystemHandler):
    """A filesystem over another whose input files count the bytes read from them."""

    def __init__(self, inner: pafs.FileSystem, counter: _Counter) -> None:
        self.inner = inner
        self.counter = counter

    def open_input_file(self, path: str) -> pa.NativeFile:
        return pa.PythonFile(_CountingReader(self.inner.open_input_file(path), self.counter), "r")

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self.open_input_file(path)

    def get_type_name(self) -> str:
        return "counting"

    def equals(self, other: Any) -> bool:
        return isinstance(other, _Counting) and other.inner.equals(self.inner)

    def normalize_path(self, path: str) -> str:
        return self.inner.normalize_path(path)

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self.inner.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self.inner.get_file_info(selector)

    def _refused(self, *args: Any) -> Any:
        raise OSError("read-only in this test")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _refused
    delete_file = move = copy_file = open_output_stream = open_append_stream = _refused


def test_a_projected_read_reads_only_its_columns(backend: Backend, tmp_path: Path) -> None:
    """Counted at the chunk files: a read of small columns next to a large binary one reads
    a small share of the bytes a full read does; reading every column would not."""
    schema = pa.schema([("timestamp_ns", pa.int64()), ("seq", pa.uint32()), ("blob", pa.binary())])
    rows = range(4000)
    rng = random.Random(0)  # incompressible blobs: the chunk's bytes are theirs, by any codec
    batch = pa.record_batch(
        [pa.array(list(rows), pa.int64()), pa.array(list(rows), pa.uint32()),
         pa.array([rng.randbytes(2048) for _ in rows], pa.binary())],
        schema=schema,
    )  # fmt: skip
    embedded: EmbeddedServer = backend.server(tmp_path / "store")
    with raw_server(embedded) as raw:
        session = raw.new_sequence("seq")
        raw.put("seq/a", raw.new_topic(session, "seq/a"), [batch], schema)
        counter = _Counter()
        chunks = embedded.store.chunks
        chunks.fs = pafs.PyFileSystem(_Counting(chunks.fs, counter))
        full = _read(raw, "seq/a", None)
        full_bytes = counter.take()
        assert full_bytes > 8_000_000 and full.num_rows == 4000
        for fields in ([], ["seq"]):
            projected = _read(raw, "seq/a", fields)
            assert projected.equals(full.select(["timestamp_ns", *fields]))
            assert 0 < counter.take() < full_bytes / 20
