"""Upload schemas over a real Flight server: encodings Parquet cannot keep are normalised and
read back with equal values, types the store cannot keep are refused before any row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico.protocol.info import Limits
from mosaico.server import StoreConfig
from mosaico.server.upload_batches import stored_batch
from mosaico.server.upload_schema import _leaf_count
from tests.backends import Backend
from tests.server.server_helpers import Raw, raw_server

STAMPS = [5, 3, 1, 4, 0, 2]  # unsorted: the server sorts every chunk it writes
TS = pa.field("timestamp_ns", pa.int64(), nullable=False)


def _views(values: list[str | None], kind: pa.DataType) -> pa.Array:
    return pa.array(values, pa.string() if kind == pa.string_view() else pa.binary()).cast(kind)


def _list_view(values: pa.Array, offsets: list[int], sizes: list[int], large: bool = False) -> Any:
    factory = pa.LargeListViewArray if large else pa.ListViewArray
    index = pa.int64() if large else pa.int32()
    return factory.from_arrays(pa.array(offsets, index), pa.array(sizes, index), values)


def _dict(values: list[Any], value_type: pa.DataType, index: pa.DataType | None = None) -> Any:
    index = index or pa.int32()
    return pa.array(values, value_type).dictionary_encode().cast(pa.dictionary(index, value_type))


WORDS = ["a", "bb", None, "a", "ccc", "bb"]

# (uploaded column, the type it is stored and served back with)
CASES: dict[str, tuple[pa.Array, pa.DataType]] = {
    "dictionary<string>": (_dict(WORDS, pa.string()), pa.string()),
    "dictionary<int8, float64>": (
        _dict([1.5, 2.5, 1.5, None, 3.0, 1.5], pa.float64(), pa.int8()),
        pa.float64(),
    ),
    "dictionary<large_string> ordered": (
        pa.DictionaryArray.from_arrays(
            pa.array([0, 1, None, 0, 1, 1], pa.int16()),
            pa.array(["x", "y"], pa.large_string()),
            ordered=True,
        ),
        pa.large_string(),
    ),
    "dictionary<string_view>": (
        pa.DictionaryArray.from_arrays(
            pa.array([1, 0, 1, None, 0, 0]), _views(["p", "q"], pa.string_view())
        ),
        pa.string(),
    ),
    "string_view": (_views(WORDS, pa.string_view()), pa.string()),
    "string_view long": (_views([w and w * 40 for w in WORDS], pa.string_view()), pa.string()),
    "binary_view": (
        _views([b"x", b"", None, b"yy" * 20, b"z", b""], pa.binary_view()),
        pa.binary(),
    ),
    "list_view<int64>": (
        _list_view(pa.array([1, 2, 3, 4]), [0, 1, 0, 3, 2, 0], [2, 3, 0, 1, 2, 4]),
        pa.list_(pa.int64()),
    ),
    "large_list_view<string_view>": (
        _list_view(
            _views(["u", "v", None], pa.string_view()),
            [2, 0, 0, 1, 0, 1],
            [1, 3, 0, 2, 1, 1],
            large=True,
        ),
        pa.large_list(pa.string()),
    ),
    "list<string_view>": (
        pa.array([["a"], [], None, ["b", None], ["c"], ["d", "e"]], pa.list_(pa.string_view())),
        pa.list_(pa.string()),
    ),
    "struct<dictionary, string_view>": (
        pa.StructArray.from_arrays(
            [_dict(WORDS, pa.string()), _views(WORDS[::-1], pa.string_view())],
            ["a", "b"],
            mask=pa.array([False, False, True, False, False, False]),
        ),
        pa.struct([("a", pa.string()), ("b", pa.string())]),
    ),
    "map<dictionary, string_view>": (
        pa.MapArray.from_arrays(
            pa.array([0, 1, 1, 2, 4, 4, 5], pa.int32()),
            _dict(["k", "j", "k", "i", "k"], pa.string()),
            _views(["1", "2", None, "4", "5"], pa.string_view()),
        ),
        pa.map_(pa.string(), pa.string()),
    ),
    "fixed_size_list<dictionary, 2>": (
        pa.FixedSizeListArray.from_arrays(_dict(WORDS * 2, pa.string()), 2),
        pa.list_(pa.string(), 2),
    ),
    "run_end_encoded<string>": (
        pa.RunEndEncodedArray.from_arrays(
            pa.array([2, 3, 6], pa.int32()), pa.array(["r", None, "s"])
        ),
        pa.string(),
    ),
    "list<struct<list_view<binary_view>>>": (
        pa.ListArray.from_arrays(
            pa.array([0, 1, 1, 2, 3, 3, 4], pa.int32()),
            pa.StructArray.from_arrays(
                [_list_view(_views([b"m", b"n"], pa.binary_view()), [0, 1, 0, 0], [2, 1, 0, 1])],
                ["x"],
            ),
        ),
        pa.list_(pa.struct([("x", pa.list_(pa.binary()))])),
    ),
}


# Types Parquet keeps as they are: stored and served back unchanged.
_tensors = pa.FixedShapeTensorArray.from_numpy_ndarray(
    np.arange(24, dtype=np.float32).reshape(6, 2, 2)
)
UNCHANGED = [
    pa.array([bytes([i]) * 16 for i in range(6)], pa.uuid()),
    pa.array(['{"a": 1}', "2", None, "[]", "{}", '"s"'], pa.json_()),
    pa.array([1, 0, None, 1, 1, 0], pa.bool8()),
    _tensors,
    pa.ExtensionArray.from_storage(pa.opaque(pa.binary(), "t", "v"), pa.array([b"o"] * 6)),
    pa.array([86_400_000 * i for i in range(6)], pa.date64()),
    pa.array([1, 2**36, None, -5, 0, 7], pa.timestamp("s", "Europe/Rome")),
    pa.array([0, 86_399, None, 5, 6, 7], pa.time32("s")),
    pa.array([1, 2, None, 4, 5, 6], pa.duration("s")),
    pa.array([1, 2, None, 4, 5, 6], pa.decimal32(5, 2)),
    pa.array([0.5, 2, None, 4, 5, 6], pa.float16()),
    pa.array([[1, 2], None, [3, 4], [5, 6], [7, 8], [9, 0]], pa.list_(pa.uint64(), 2)),
]
CASES.update({str(column.type): (column, column.type) for column in UNCHANGED})


def _sorted_values(column: pa.Array) -> list[Any]:
    values = column.to_pylist()
    return [values[i] for i in sorted(range(len(STAMPS)), key=lambda i: STAMPS[i])]


def _schema(column_type: pa.DataType) -> pa.Schema:
    field = pa.field("c", column_type, nullable=True, metadata={"description": "kept"})
    return pa.schema([TS, field])


def _batches(column: pa.Array) -> list[pa.RecordBatch]:
    schema = _schema(column.type)
    batch = pa.RecordBatch.from_arrays([pa.array(STAMPS, pa.int64()), column], schema=schema)
    return [batch.slice(0, 3), batch.slice(3)]


def _new_topic(raw: Raw, name: str) -> tuple[str, str]:
    session = raw.new_sequence(name)
    return f"{name}/t", raw.new_topic(session, f"{name}/t")


def _stored_schema(raw: Raw, locator: str) -> pa.Schema:
    cmd = flight.FlightDescriptor.for_command(json.dumps({"resource_locator": locator}))
    return raw.client.get_schema(cmd).schema


@pytest.mark.parametrize("case", sorted(CASES))
def test_encoded_columns_are_stored_plain_and_read_back_equal(raw: Raw, case: str) -> None:
    column, stored_type = CASES[case]
    locator, uuid = _new_topic(raw, "seq")
    raw.put(locator, uuid, _batches(column), schema=_schema(column.type))
    want = _schema(stored_type)
    assert _stored_schema(raw, locator).equals(want, check_metadata=True)
    schema, batches = raw.read(locator)
    assert schema.equals(want, check_metadata=True)
    got = pa.Table.from_batches(batches, schema)
    assert got.column("timestamp_ns").to_pylist() == sorted(STAMPS)
    assert got.column("c").to_pylist() == _sorted_values(column)


def test_nullability_and_metadata_of_nested_fields_are_kept(raw: Raw) -> None:
    inner = pa.field(
        "w", pa.dictionary(pa.int8(), pa.string()), nullable=False, metadata={"unit": "m"}
    )
    uploaded = pa.schema([TS, pa.field("s", pa.struct([inner]), nullable=False)])
    column = pa.StructArray.from_arrays(
        [_dict(["a", "b", "a", "c", "a", "b"], pa.string(), pa.int8())], fields=[inner]
    )
    locator, uuid = _new_topic(raw, "seq")
    batch = pa.RecordBatch.from_arrays([pa.array(STAMPS, pa.int64()), column], schema=uploaded)
    raw.put(locator, uuid, [batch], schema=uploaded)
    stored = _stored_schema(raw, locator)
    field = stored.field("s").type.field("w")
    assert (field.type, field.nullable, field.metadata) == (pa.string(), False, {b"unit": b"m"})
    assert not stored.field("s").nullable


# -- refusals -------------------------------------------------------------------------------


def _nested_lists(depth: int) -> pa.DataType:
    dtype: pa.DataType = pa.int8()
    for _ in range(depth):
        dtype = pa.list_(dtype)
    return dtype


REFUSED: dict[str, tuple[pa.DataType, str]] = {
    "sparse union": (pa.sparse_union([pa.field("i", pa.int8())]), "'c' has type sparse_union"),
    "dense union in a struct": (
        pa.struct([("u", pa.dense_union([pa.field("i", pa.int8())]))]),
        "'c.u' has type dense",
    ),
    "interval": (pa.month_day_nano_interval(), "'c' has type month_day_nano_interval"),
    "struct without fields in a list": (pa.list_(pa.struct([])), r"'c\[\]' has type struct<>"),
    "fixed-size list of size 0": (pa.list_(pa.int8(), 0), "size 0 cannot be read back"),
    "dictionary of structs": (
        pa.dictionary(pa.int32(), pa.struct([("x", pa.int8())])),
        "encodings of flat values",
    ),
    "run-end encoded lists": (
        pa.run_end_encoded(pa.int32(), pa.list_(pa.int8())),
        "encodings of flat values",
    ),
    "json over string_view": (pa.json_(pa.string_view()), "its storage type must not"),
    "nesting too deep to read back": (
        _nested_lists(60),
        "Parquet refuses it",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unstorable_types_are_refused_before_any_row(raw: Raw, case: str) -> None:
    dtype, message = REFUSED[case]
    locator, uuid = _new_topic(raw, "seq")
    schema = _schema(dtype)
    writer, _ = raw.client.do_put(_put_descriptor(locator, uuid), schema)
    with pytest.raises(
        pa.ArrowInvalid,
        match=f"^invalid argument: upload schema cannot be stored: column .*{message}",
    ):
        writer.close()  # the schema alone is refused
    # Nothing was claimed or marked failed: the topic takes a proper upload.
    assert _stored_schema(raw, locator) == pa.schema([])
    plain = pa.schema([TS])
    raw.put(locator, uuid, [pa.RecordBatch.from_pylist([{"timestamp_ns": 7}], plain)], plain)
    assert pa.Table.from_batches(raw.read(locator)[1]).column(0).to_pylist() == [7]


def _put_descriptor(locator: str, uuid: str) -> flight.FlightDescriptor:
    return flight.FlightDescriptor.for_command(
        json.dumps({"resource_locator": locator, "topic_uuid": uuid})
    )


# -- batches refused mid-stream keep the rows before them ---------------------------------


@pytest.fixture
def small_limit(backend: Backend, tmp_path: Path) -> Iterator[Raw]:
    """A server accepting messages of at most 256 KiB."""
    limits = Limits(grpc_max_decode_message_size=256 * 1024)
    with raw_server(backend.server(tmp_path / "store", StoreConfig(limits=limits))) as raw:
        yield raw


def _shared_views(value: bytes, rows: int) -> pa.Array:
    """``rows`` binary views all pointing at the one ``value`` (a few bytes per row)."""
    views = np.zeros((rows, 4), dtype=np.int32)
    views[:, 0] = len(value)
    views[:, 1] = np.frombuffer(value[:4], dtype=np.int32)[0]  # the inline prefix
    # views[:, 2] = buffer index 0, views[:, 3] = offset 0
    return pa.Array.from_buffers(
        pa.binary_view(), rows, [None, pa.py_buffer(views.tobytes()), pa.py_buffer(value)]
    )


def _upload_then_refused(raw: Raw, good: pa.RecordBatch, bad: pa.RecordBatch, match: str) -> None:
    locator, uuid = _new_topic(raw, "seq")
    with pytest.raises(pa.ArrowInvalid, match=match):
        raw.put(locator, uuid, [good, bad], schema=good.schema)
    schema, batches = raw.read(locator)
    assert pa.Table.from_batches(batches, schema).equals(
        pa.Table.from_batches([_stored(good, schema)])
    )


def _stored(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(batch.to_pylist(), schema=schema)


@pytest.mark.parametrize("encoding", ["dictionary", "views"])
def test_a_batch_that_would_decode_past_the_limit_is_refused(
    small_limit: Raw, encoding: str
) -> None:
    big = b"v" * 100_000
    rows = 1000  # 100 MB once decoded, from a batch of a few KiB
    if encoding == "dictionary":
        column = pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(rows, np.int8)), pa.array([big, b"s"])
        )
        small = pa.DictionaryArray.from_arrays(pa.array([1, 1], pa.int8()), pa.array([big, b"s"]))
    else:
        column, small = _shared_views(big, rows), pa.array([b"s", b"s"], pa.binary_view())
    schema = pa.schema([TS, pa.field("c", column.type)])
    good = pa.RecordBatch.from_arrays([pa.array([1, 2]), small], schema=schema)
    bad = pa.RecordBatch.from_arrays([pa.array(range(rows)), column], schema=schema)
    assert pa.ipc.get_record_batch_size(bad) < 256 * 1024
    _upload_then_refused(
        small_limit,
        good,
        bad,
        "^invalid argument: column 'c': decoding the "
        "uploaded batch would exceed grpc_max_decode_message_size",
    )


VALUE_CASES = {  # Parquet would truncate, wrap or fail to write these (losing the chunk)
    "date64 off a whole day": (
        pa.date64(),
        [86_400_000, 1],
        r"^invalid argument: uploaded batch is not valid Arrow data: "
        r".*date64\[ms\] 1 does not represent a whole number of days",
    ),
    "timestamp[s] beyond milliseconds": (
        pa.timestamp("s", "UTC"),
        [1, 2**62],
        r"^invalid argument: column 'c\[\]': timestamp\[s, "
        r"tz=UTC\] values must lie within ±922337203685477",
    ),
    "time32[s] outside a day": (
        pa.time32("s"),
        [1, -(2**30)],
        r"^invalid argument: uploaded batch is not valid Arrow data: "
        r".*time32\[s\] -1073741824 is not within",
    ),
}


@pytest.mark.parametrize("case", sorted(VALUE_CASES))
def test_values_parquet_would_change_are_refused(raw: Raw, case: str) -> None:
    dtype, values, match = VALUE_CASES[case]
    schema = pa.schema([TS, pa.field("c", pa.list_(dtype))])  # checked where nested too
    good = pa.RecordBatch.from_arrays(
        [pa.array([3]), pa.array([values[:1]], schema[1].type)], schema=schema
    )
    bad = pa.RecordBatch.from_arrays(
        [pa.array([4]), pa.array([values], schema[1].type)], schema=schema
    )
    _upload_then_refused(raw, good, bad, match)


@pytest.mark.parametrize("case", sorted(CASES))
def test_sliced_arrays_convert_to_their_values(case: str) -> None:
    # IPC rebases what it sends; arrays made in the server's process (or a future reader) may
    # still be slices of larger ones: the conversion honours every offset.
    column, stored_type = CASES[case]
    schema = _schema(column.type)
    batch = pa.RecordBatch.from_arrays([pa.array(STAMPS, pa.int64()), column], schema=schema)
    sliced = batch.slice(1, 4)
    stored = stored_batch(sliced, _schema(stored_type), 1 << 20)
    assert stored.schema.equals(_schema(stored_type), check_metadata=True)
    stored.validate(full=True)
    assert stored.column(1).to_pylist() == column.to_pylist()[1:5]


def test_schemas_with_too_many_leaf_columns_are_refused_at_the_start(raw: Raw) -> None:
    wide = pa.struct([pa.field(f"x{i}", pa.list_(pa.float32())) for i in range(100)])
    fields = [pa.field("timestamp_ns", pa.int64())]
    fields += [pa.field(f"c{i}", pa.struct([pa.field("a", wide)])) for i in range(101)]
    assert _leaf_count(pa.schema(fields)) == 10_101
    session = raw.new_sequence("wide")
    uuid = raw.new_topic(session, "wide/t")
    with pytest.raises(pa.ArrowInvalid, match="10101 leaf columns, more than 10000"):
        raw.put("wide/t", uuid, [], schema=pa.schema(fields))
