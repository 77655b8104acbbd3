"""Hostile uploads: wrong descriptors and keys, schemas a server cannot serve back, bad rows
mid-stream, clients that vanish. A DoPut is refused with its precise status before any row
is accepted, or it is stored and served back as uploaded; rows once accepted are never lost
(issue 11, item 9; spec §6).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico.protocol.info import Limits
from mosaico.server import StoreConfig
from mosaico.server.upload_schema import stored_schema
from tests.hostile.hostile_helpers import (
    Outcome,
    Served,
    embedded,
    expect,
    outcome,
    read_table,
)
from tests.server.server_helpers import SCHEMA, make_batch

# Tiny chunks: an upload of a few hundred rows rolls several chunk files while it streams,
# which is where a column the server cannot sort or write fails "mid-upload".
SMALL = StoreConfig(chunk_bytes=2048, row_group_bytes=1024)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with embedded(tmp_path / "store", config=SMALL) as running:
        yield running


def _topic(served: Served, name: str = "seq") -> tuple[dict[str, str], str]:
    session = served.raw.new_sequence(name)
    return session, served.raw.new_topic(session, f"{name}/t")


def _upload(
    served: Served, locator: str, topic_uuid: str, schema: pa.Schema,
    batches: list[pa.RecordBatch], command: bytes | None = None,
) -> Outcome:  # fmt: skip
    text = (
        command
        if command is not None
        else json.dumps({"resource_locator": locator, "topic_uuid": topic_uuid}).encode()
    )

    def run() -> None:
        writer, _ = served.raw.client.do_put(flight.FlightDescriptor.for_command(text), schema)
        for batch in batches:
            writer.write_batch(batch)
        writer.close()

    return outcome(run)


def _rows(served: Served, locator: str) -> int:
    [endpoint] = served.raw.info(locator).endpoints
    return int(json.loads(endpoint.app_metadata)["data_info"]["total_row_count"])


# -- the DoPut descriptor (spec §6.1) ------------------------------------------------------------


def _descriptor_case(case: str, served: Served) -> tuple[Outcome, str, str]:
    """Attempt the hostile DoPut of ``case``; returns what it gave and the real topic."""
    session, topic_uuid = _topic(served)
    batch = [make_batch([2, 1])]
    if case == "unknown topic":
        return _upload(served, "seq/nope", topic_uuid, SCHEMA, batch), "seq/t", topic_uuid
    if case == "unknown sequence":
        return _upload(served, "nope/t", topic_uuid, SCHEMA, batch), "seq/t", topic_uuid
    if case == "another topic's uuid":
        other = served.raw.new_topic(session, "seq/other")
        return _upload(served, "seq/t", other, SCHEMA, batch), "seq/t", topic_uuid
    if case == "a random uuid":
        return _upload(served, "seq/t", str(uuid.uuid4()), SCHEMA, batch), "seq/t", topic_uuid
    if case == "not a uuid":
        return _upload(served, "seq/t", "../../etc", SCHEMA, batch), "seq/t", topic_uuid
    commands = {
        "no uuid": b'{"resource_locator": "seq/t"}',
        "no locator": json.dumps({"topic_uuid": topic_uuid}).encode(),
        "not json": b"{resource_locator: seq/t}",
        "a json array": b'["seq/t"]',
        "empty": b"",
    }
    cmd = commands[case]
    return _upload(served, "", "", SCHEMA, batch, command=cmd), "seq/t", topic_uuid


_DESCRIPTOR_CASES = {
    "unknown topic": (("NOT_FOUND",), "seq/nope"),
    "unknown sequence": (("NOT_FOUND",), "nope"),
    "another topic's uuid": (("INVALID_ARGUMENT", "PERMISSION_DENIED"), "topic_uuid"),
    "a random uuid": (("INVALID_ARGUMENT", "PERMISSION_DENIED"), "topic_uuid"),
    "not a uuid": (("INVALID_ARGUMENT",), "topic_uuid"),
    "no uuid": (("INVALID_ARGUMENT",), "topic_uuid"),
    "no locator": (("INVALID_ARGUMENT",), "resource_locator"),
    "not json": (("INVALID_ARGUMENT",), "upload descriptor"),
    "a json array": (("INVALID_ARGUMENT",), "upload descriptor"),
    "empty": (("INVALID_ARGUMENT",), "upload descriptor"),
}


@pytest.mark.parametrize("case", list(_DESCRIPTOR_CASES))
def test_a_hostile_upload_descriptor_is_refused_and_harms_nothing(
    served: Served, case: str
) -> None:
    result, locator, topic_uuid = _descriptor_case(case, served)
    kinds, name = _DESCRIPTOR_CASES[case]
    expect(result, kinds, name, store=served.store)
    # The real topic is untouched: its rightful upload still goes through.
    expect(_upload(served, locator, topic_uuid, SCHEMA, [make_batch([5, 4])]), "OK")
    assert read_table(served.raw, locator).column("timestamp_ns").to_pylist() == [4, 5]


def test_a_second_upload_of_a_topic_is_refused(served: Served) -> None:
    _, topic_uuid = _topic(served)
    expect(_upload(served, "seq/t", topic_uuid, SCHEMA, [make_batch([1])]), "OK")
    again = _upload(served, "seq/t", topic_uuid, SCHEMA, [make_batch([7])])
    expect(again, "FAILED_PRECONDITION", "seq/t", store=served.store)
    assert read_table(served.raw, "seq/t").column("timestamp_ns").to_pylist() == [1]


def test_an_upload_into_a_finalized_session_is_refused(served: Served) -> None:
    session, topic_uuid = _topic(served)
    served.raw.action("session_finalize", {"session_uuid": session["uuid"]})
    result = _upload(served, "seq/t", topic_uuid, SCHEMA, [make_batch([1])])
    expect(result, "FAILED_PRECONDITION", "seq/t", store=served.store)
    assert _rows(served, "seq/t") == 0


def test_an_upload_of_a_deleted_topic_is_refused(served: Served) -> None:
    _, topic_uuid = _topic(served)
    served.raw.action("topic_delete", {"locator": "seq/t"})
    result = _upload(served, "seq/t", topic_uuid, SCHEMA, [make_batch([1])])
    expect(result, "NOT_FOUND", "seq/t", store=served.store)


# -- schemas the protocol refuses (spec §6.1 check 4) -------------------------------------------


def _without_timestamp(ts_type: pa.DataType | None, twice: bool = False) -> pa.Schema:
    fields = [pa.field("value", pa.float64())]
    if ts_type is not None:
        fields.insert(0, pa.field("timestamp_ns", ts_type))
    if twice:
        fields.append(pa.field("timestamp_ns", pa.int64()))
    return pa.schema(fields)


@pytest.mark.parametrize(
    "schema",
    [
        _without_timestamp(None),
        _without_timestamp(pa.int32()),
        _without_timestamp(pa.string()),
        _without_timestamp(pa.timestamp("ns")),
        _without_timestamp(pa.uint64()),
        _without_timestamp(pa.int64(), twice=True),
        pa.schema([pa.field("nested", pa.struct([pa.field("timestamp_ns", pa.int64())]))]),
    ],
    ids=["none", "int32", "string", "timestamp", "uint64", "twice", "nested"],
)
def test_a_schema_without_one_int64_timestamp_is_refused(served: Served, schema: pa.Schema) -> None:
    _, topic_uuid = _topic(served)
    batch = pa.RecordBatch.from_pylist([], schema=schema)
    result = _upload(served, "seq/t", topic_uuid, schema, [batch])
    expect(result, "INVALID_ARGUMENT", "timestamp_ns", store=served.store)
    # Refused before the topic was claimed: the right upload still goes through.
    expect(_upload(served, "seq/t", topic_uuid, SCHEMA, [make_batch([1])]), "OK")


def test_null_timestamps_mid_stream_keep_the_rows_accepted_before(served: Served) -> None:
    session, topic_uuid = _topic(served)
    nullable = SCHEMA.set(0, pa.field("timestamp_ns", pa.int64()))
    first = pa.RecordBatch.from_arrays(make_batch(list(range(300, 0, -1))).columns, schema=nullable)
    tail = make_batch([5, 6]).columns[1:]
    bad = pa.RecordBatch.from_arrays([pa.array([None, 5], pa.int64()), *tail], schema=nullable)
    result = _upload(served, "seq/t", topic_uuid, nullable, [first, bad])
    expect(result, "INVALID_ARGUMENT", "timestamp_ns", store=served.store)
    got = read_table(served.raw, "seq/t").column("timestamp_ns").to_pylist()
    assert got == list(range(1, 301))
    # The session can still be finalized (the client's Report policy, spec §13.3).
    served.raw.action("session_finalize", {"session_uuid": session["uuid"]})
    assert _rows(served, "seq/t") == 300


def test_a_batch_over_the_decode_limit_is_refused_keeping_earlier_rows(tmp_path: Path) -> None:
    limits = Limits(grpc_max_decode_message_size=64 * 1024)
    with embedded(tmp_path / "store", config=StoreConfig(limits=limits)) as served:
        _, topic_uuid = _topic(served)
        small, big = make_batch(list(range(50))), make_batch(list(range(50, 5050)))
        result = _upload(served, "seq/t", topic_uuid, SCHEMA, [small, big])
        expect(result, "INVALID_ARGUMENT", "grpc_max_decode_message_size", store=served.store)
        assert read_table(served.raw, "seq/t").num_rows == 50


# -- columns a server may not be able to serve back (issue item 9) ----------------------------

N = 240  # rows per upload, in three unsorted batches


def _dictionary(index: pa.DataType, values: pa.DataType) -> Callable[[list[int]], pa.Array]:
    words = pa.array(
        [10, 20, 30, 40] if pa.types.is_integer(values) else ["p", "q", "r", "s"], values
    )
    return lambda ts: pa.DictionaryArray.from_arrays(
        pa.array([None if t % 7 == 0 else t % 4 for t in ts], index), words
    )


def _plain(kind: pa.DataType, value: Callable[[int], Any]) -> Callable[[list[int]], pa.Array]:
    return lambda ts: pa.array([None if t % 11 == 0 else value(t) for t in ts], kind)


def _struct_of_dictionary(ts: list[int]) -> pa.Array:
    inner = _dictionary(pa.int32(), pa.string())(ts)
    return pa.StructArray.from_arrays([inner, pa.array(ts, pa.int64())], names=["d", "n"])


def _list_of_dictionary(ts: list[int]) -> pa.Array:
    values = _dictionary(pa.int16(), pa.string())([t for t in ts for _ in range(2)])
    offsets = pa.array(list(range(0, 2 * len(ts) + 1, 2)), pa.int32())
    return pa.ListArray.from_arrays(offsets, values)


def _union(mode: str) -> Callable[[list[int]], pa.Array]:
    def build(ts: list[int]) -> pa.Array:
        codes = pa.array([t % 2 for t in ts], pa.int8())
        ints, texts = pa.array(ts, pa.int64()), pa.array([f"u{t}" for t in ts])
        if mode == "sparse":
            return pa.UnionArray.from_sparse(codes, [ints, texts], ["i", "s"])
        offsets = pa.array(list(range(len(ts))), pa.int32())
        return pa.UnionArray.from_dense(codes, offsets, [ints, texts], ["i", "s"])

    return build


def _run_end_encoded(ts: list[int]) -> pa.Array:
    values = pa.array([float(t // 3) for t in ts])
    return pa.RunEndEncodedArray.from_arrays(pa.array(range(1, len(ts) + 1), pa.int32()), values)


COLUMNS: dict[str, Callable[[list[int]], pa.Array]] = {
    "dictionary int32 string": _dictionary(pa.int32(), pa.string()),
    "dictionary int8 string": _dictionary(pa.int8(), pa.string()),
    "dictionary uint16 large_string": _dictionary(pa.uint16(), pa.large_string()),
    "dictionary int32 int64": _dictionary(pa.int32(), pa.int64()),
    "struct of dictionary": _struct_of_dictionary,
    "list of dictionary": _list_of_dictionary,
    "string_view": _plain(pa.string_view(), lambda t: f"v{t}" * (t % 5)),
    "binary_view": _plain(pa.binary_view(), lambda t: bytes([t % 256]) * (t % 20)),
    "list_view": _plain(pa.list_view(pa.int32()), lambda t: list(range(t % 4))),
    "large_list_view": _plain(pa.large_list_view(pa.int8()), lambda t: [t % 100] * (t % 3)),
    "float16": lambda ts: pa.array([None if t % 5 == 0 else t / 8 for t in ts], pa.float16()),
    "decimal128": _plain(pa.decimal128(38, 10), lambda t: Decimal(t) / 8),
    "decimal256": _plain(pa.decimal256(76, 20), lambda t: Decimal(t) ** 9),
    "duration": _plain(pa.duration("ns"), lambda t: t * 1000),
    "month_day_nano": _plain(
        pa.month_day_nano_interval(), lambda t: pa.MonthDayNano([t % 12, t % 28, t])
    ),
    "time64": _plain(pa.time64("ns"), lambda t: t * 10**6),
    "timestamp tz": _plain(pa.timestamp("ns", tz="Europe/Rome"), lambda t: t * 10**9),
    "map": _plain(pa.map_(pa.string(), pa.int32()), lambda t: [(f"k{t % 3}", t)]),
    "sparse union": _union("sparse"),
    "dense union": _union("dense"),
    "null": lambda ts: pa.nulls(len(ts)),
    "fixed_size_binary": _plain(pa.binary(4), lambda t: t.to_bytes(4, "little")),
    "large_binary": _plain(pa.large_binary(), lambda t: b"\x00" * (t % 9)),
    "uint64 max": _plain(pa.uint64(), lambda t: 2**64 - 1 - t),
    "run_end_encoded": _run_end_encoded,
    "uuid extension": lambda ts: pa.ExtensionArray.from_storage(
        pa.uuid(), pa.array([uuid.UUID(int=t).bytes for t in ts], pa.binary(16))
    ),
}


def _table(timestamps: list[int], column: Callable[[list[int]], pa.Array]) -> pa.Table:
    return pa.table({"timestamp_ns": pa.array(timestamps, pa.int64()), "x": column(timestamps)})


def _stored_or_refused_at_start(served: Served, batches: list[pa.RecordBatch],
                                expected: pa.Table) -> None:  # fmt: skip
    """The upload either succeeds and every row reads back as sent (the stored schema is the
    upload's with dictionary, run-end and view encodings as their plain types, the README's
    rule, whose exact types tests/server/test_upload_schema.py checks), or it is refused
    with INVALID_ARGUMENT before any row was accepted."""
    _, topic_uuid = _topic(served)
    schema = batches[0].schema
    result = _upload(served, "seq/t", topic_uuid, schema, batches)
    if result.kind != "OK":
        expect(result, "INVALID_ARGUMENT", store=served.store)
        rows = _rows(served, "seq/t")
        assert rows == 0, f"{rows} rows were accepted, then the upload failed: {result}"
        return
    read = outcome(lambda: read_table(served.raw, "seq/t"))
    assert read.kind == "OK", f"the upload was accepted but cannot be served back: {read}"
    got = read.value
    plain, _ = stored_schema(schema, "default", "none")
    assert got.schema.equals(plain), f"served {got.schema}, uploaded {schema}"
    assert got.num_rows == expected.num_rows
    for name in expected.column_names:
        assert got.column(name).to_pylist() == expected.column(name).to_pylist(), name


@pytest.mark.parametrize("kind", list(COLUMNS))
def test_a_column_is_stored_and_served_back_or_refused_at_the_start(
    served: Served, kind: str
) -> None:
    column = COLUMNS[kind]
    timestamps = list(range(N, 0, -1))  # unsorted: the server must sort them
    thirds = [timestamps[i : i + N // 3] for i in range(0, N, N // 3)]
    batches = [b for part in thirds for b in _table(part, column).to_batches()]
    _stored_or_refused_at_start(served, batches, _table(sorted(timestamps), column))


# -- field names, metadata and widths ------------------------------------------------------------


def _named(names: list[str]) -> pa.Table:
    arrays = [pa.array(range(10, 0, -1), pa.int64())]
    arrays += [pa.array([float(i)] * 10) for i in range(len(names))]
    return pa.Table.from_arrays(arrays, names=["timestamp_ns", *names])


@pytest.mark.parametrize(
    "names",
    [
        [""],
        ["value", "value"],
        ["../../x"],
        ["a" * 10_000],
        ["\u6e29\u5ea6"],
        ["a.b"],
        ["x\x00y"],
        [f"c{i}" for i in range(2000)],
    ],
    ids=["empty", "duplicate", "traversal", "10k", "non-ascii", "dotted", "nul", "2000 columns"],
)
def test_hostile_field_names_are_stored_or_refused_at_the_start(
    served: Served, names: list[str]
) -> None:
    table = _named(names)
    before = {p.name for p in served.store.rglob("*")}
    _stored_or_refused_at_start(served, table.to_batches(), table.sort_by("timestamp_ns"))
    created = {p.name for p in served.store.rglob("*")} - before
    assert not [n for n in created if n in names or ".." in n], created


def test_a_megabyte_of_field_metadata_is_stored_or_refused_at_the_start(served: Served) -> None:
    table = _named(["value"])
    schema = table.schema.set(1, table.schema.field(1).with_metadata({"big": "m" * 2**20}))
    table = table.cast(schema)
    _stored_or_refused_at_start(served, table.to_batches(), table.sort_by("timestamp_ns"))


# -- odd but valid streams ------------------------------------------------------------------------


def test_empty_and_zero_row_batches_give_no_zero_row_batch_back(served: Served) -> None:
    _, topic_uuid = _topic(served)
    empty = make_batch([])
    batches = [empty, make_batch([3, 1]), empty, empty, make_batch([2]), empty]
    expect(_upload(served, "seq/t", topic_uuid, SCHEMA, batches), "OK")
    _, got = served.raw.read("seq/t")
    assert [b.num_rows for b in got if b.num_rows == 0] == []
    assert [t for b in got for t in b.column(0).to_pylist()] == [1, 2, 3]


def test_a_stream_without_batches_is_an_empty_topic(served: Served) -> None:
    session, topic_uuid = _topic(served)
    expect(_upload(served, "seq/t", topic_uuid, SCHEMA, []), "OK")
    schema, got = served.raw.read("seq/t")
    assert schema.equals(SCHEMA) and got == []
    served.raw.action("session_finalize", {"session_uuid": session["uuid"]})


def test_extreme_timestamps_sort_and_window(served: Served) -> None:
    _, topic_uuid = _topic(served)
    lo, hi = -(2**63), 2**63 - 1
    stamps = [hi, 0, lo, hi, -1, lo, 1]
    expect(_upload(served, "seq/t", topic_uuid, SCHEMA, [make_batch(stamps)]), "OK")
    assert read_table(served.raw, "seq/t").column(0).to_pylist() == sorted(stamps)
    _, windowed = served.raw.read("seq/t", timestamp_ns_start=lo, timestamp_ns_end=hi)
    assert [t for b in windowed for t in b.column(0).to_pylist()] == [lo, lo, -1, 0, 1]


_VANISHING_UPLOADER = """
import json, sys, time
import pyarrow.flight as flight
from tests.server.server_helpers import SCHEMA, make_batch
address, command = sys.argv[1], sys.argv[2]
client = flight.FlightClient(f"grpc://{address}")
writer, _ = client.do_put(flight.FlightDescriptor.for_command(command), SCHEMA)
for start in range(0, 10_000_000, 500):
    writer.write_batch(make_batch(list(range(start + 500, start, -1))))
    time.sleep(0.01)
"""


def test_a_client_killed_mid_upload_loses_no_accepted_rows(served: Served) -> None:
    session, topic_uuid = _topic(served)
    command = json.dumps({"resource_locator": "seq/t", "topic_uuid": topic_uuid})
    root = Path(__file__).resolve().parents[2]
    uploader = subprocess.Popen(
        [sys.executable, "-c", _VANISHING_UPLOADER, served.address, command], cwd=root
    )
    try:
        deadline = time.monotonic() + 30
        while not (committed := _rows(served, "seq/t")):
            assert uploader.poll() is None and time.monotonic() < deadline, "nothing committed"
            time.sleep(0.02)
    finally:
        uploader.kill()  # SIGKILL: the peer is gone mid-stream
        uploader.wait(30)
    finalize = {"session_uuid": session["uuid"]}
    deadline = time.monotonic() + 20
    while True:  # the server notices the vanished peer, then the session can be finalized
        result = outcome(lambda: served.wire.action("session_finalize", finalize))
        if result.kind == "OK" or time.monotonic() > deadline:
            break
        expect(result, "FAILED_PRECONDITION", store=served.store)
        time.sleep(0.05)
    expect(result, "OK")
    rows = read_table(served.raw, "seq/t").column(0).to_pylist()
    assert rows == sorted(rows) and len(rows) % 500 == 0 and len(rows) >= committed, len(rows)
