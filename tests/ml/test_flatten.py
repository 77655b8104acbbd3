"""Flattening: every value kept, the right columns, windows, pandas, bad input."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mosaico.ml import (
    MLInputError,
    TableSource,
    flat_schema,
    flatten_table,
    iter_arrow,
    iter_pandas,
    iter_polars,
    synchronize,
    to_arrow,
    to_pandas,
    to_polars,
    unflatten_table,
)
from mosaico.ontology import registry
from mosaico.types.images import Image
from mosaico.types.sensors import IMU, CameraInfo
from mosaico.types.strategies import STRATEGIES
from tests.ml.ml_helpers import blank_structs, imu_source, scalar_source


@st.composite
def topic_of(draw: st.DrawFn, tag: str) -> tuple[list[object], list[int]]:
    objs = draw(st.lists(STRATEGIES[tag](), min_size=1, max_size=6))
    ts = sorted(draw(st.lists(st.integers(0, 10**12), min_size=len(objs), max_size=len(objs))))
    return objs, ts


@pytest.mark.parametrize("fixed_lists", ["columns", "arrays"])
@pytest.mark.parametrize("tag", sorted(registry))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_every_type(tag: str, fixed_lists: str, data: st.DataObject) -> None:
    objs, ts = data.draw(topic_of(tag))
    cls = registry[tag]
    src = TableSource.from_objects("/t", objs, ts)
    flat = to_arrow({"/t": src}, fixed_lists=fixed_lists)  # type: ignore[arg-type]
    assert not any(pa.types.is_struct(f.type) for f in flat.schema)
    if fixed_lists == "columns":
        assert not any(pa.types.is_fixed_size_list(f.type) for f in flat.schema)
    back = unflatten_table(flat, src.schema, prefix="/t", fixed_lists=fixed_lists)  # type: ignore[arg-type]
    assert back.column("timestamp_ns").to_pylist() == ts
    # Through Parquet too: its writer refuses nulls in required children of null structs.
    buf = io.BytesIO()
    pq.write_table(back, buf)
    back = pq.read_table(io.BytesIO(buf.getvalue()))
    got = cls.from_batch(back.combine_chunks().to_batches()[0])
    assert got == [blank_structs(o) for o in objs]


def test_imu_columns_are_dotted_leaves() -> None:
    flat = to_arrow(imu_source("/imu", [1, 2, 3]))
    names = flat.column_names
    assert names[0] == "timestamp_ns"
    for name in [
        "/imu.acceleration.x",
        "/imu.orientation.w",
        "/imu.header.timestamp.seconds",
        "/imu.header.frame_id",
        "/imu.acceleration.covariance",
    ]:
        assert name in names
    # Variable lists stay list columns, never dropped.
    assert pa.types.is_list(flat.schema.field("/imu.acceleration.covariance").type)
    assert flat.column("/imu.header.frame_id").to_pylist() == ["imu"] * 3


def _camera(i: int) -> CameraInfo:
    return CameraInfo(
        height=4,
        width=6,
        distortion_model="plumb_bob",
        distortion_parameters=[0.1 * i] * 5,
        intrinsic_parameters=[float(i + k) for k in range(9)],
        rectification_parameters=[float(k) for k in range(9)],
        projection_parameters=[float(k) for k in range(12)],
    )


def test_fixed_size_lists_as_columns_or_arrays() -> None:
    src = TableSource.from_objects("/cam", [_camera(0), _camera(1)], [5, 6])
    flat = to_arrow(src)
    cols = [f"/cam.intrinsic_parameters_{k}" for k in range(9)]
    assert [c for c in flat.column_names if c.startswith("/cam.intrinsic_parameters")] == cols
    assert flat.column("/cam.intrinsic_parameters_8").to_pylist() == [8.0, 9.0]
    arrays = to_arrow(src, fixed_lists="arrays")
    t = arrays.schema.field("/cam.intrinsic_parameters").type
    assert pa.types.is_fixed_size_list(t) and t.list_size == 9
    assert flat_schema(src.schema, prefix="/cam").names == flat.schema.names


def test_fixed_size_list_with_null_rows_and_sliced_input() -> None:
    t = pa.list_(pa.float64(), 3)
    table = pa.table(
        {
            "timestamp_ns": pa.array([1, 2, 3, 4], pa.int64()),
            "v": pa.array([[1.0, 2.0, 3.0], None, [4.0, None, 6.0], [7.0, 8.0, 9.0]], t),
        }
    )
    flat = flatten_table(table.slice(1))
    assert flat.column("v_0").to_pylist() == [None, 4.0, 7.0]
    assert flat.column("v_1").to_pylist() == [None, None, 8.0]
    back = unflatten_table(flat, table.schema)
    assert back.column("v").to_pylist() == table.slice(1).column("v").to_pylist()


def test_binary_stays_bytes_or_decodes_on_request() -> None:
    img = Image(
        data=b"\x01\x02\x03\x04", format="raw", width=2, height=2, stride=2, encoding="mono8"
    )
    src = TableSource.from_objects("/cam", [img], [7])
    df = to_pandas(src)
    assert df.loc[0, "/cam.data"] == b"\x01\x02\x03\x04"
    decoded = to_pandas(
        src, decoders={"/cam.data": lambda b: np.frombuffer(b, np.uint8).reshape(2, 2)}
    )
    assert decoded.loc[0, "/cam.data"].tolist() == [[1, 2], [3, 4]]
    with pytest.raises(MLInputError, match="unknown column"):
        to_pandas(src, decoders={"/cam.nope": bytes})


def test_sequence_rows_are_sparse_and_time_ordered() -> None:
    a = scalar_source("/a", [1, 3, 5], [1.0, 3.0, 5.0])
    b = scalar_source("/b", [3, 4], [30.0, 40.0])
    flat = to_arrow({"/a": a, "/b": b})
    assert flat.column("timestamp_ns").to_pylist() == [1, 3, 3, 4, 5]
    # A tie keeps the order of the topics given.
    assert flat.column("/a.data").to_pylist() == [1.0, 3.0, None, None, 5.0]
    assert flat.column("/b.data").to_pylist() == [None, None, 30.0, 40.0, None]
    only_b = to_arrow({"/a": a, "/b": b}, topics=["/b"], start_ns=4)
    assert only_b.column_names == ["timestamp_ns", "/b.data"]
    assert only_b.column("/b.data").to_pylist() == [40.0]


@settings(max_examples=40, deadline=None)
@given(
    ts_a=st.lists(st.integers(0, 500), max_size=40),
    ts_b=st.lists(st.integers(0, 500), max_size=40),
    window=st.integers(1, 200),
    batch_rows=st.integers(1, 9),
    start=st.none() | st.integers(0, 300),
    end=st.none() | st.integers(0, 600),
)
def test_windows_concatenate_to_the_one_shot_table(
    ts_a: list[int],
    ts_b: list[int],
    window: int,
    batch_rows: int,
    start: int | None,
    end: int | None,
) -> None:
    ts_a, ts_b = sorted(ts_a), sorted(ts_b)
    srcs = {
        "/a": scalar_source(
            "/a", ts_a, [float(i) for i in range(len(ts_a))], batch_rows=batch_rows
        ),
        "/b": scalar_source(
            "/b", ts_b, [float(-i) for i in range(len(ts_b))], batch_rows=batch_rows
        ),
    }
    whole = to_arrow(srcs, start_ns=start, end_ns=end)
    parts = list(iter_arrow(srcs, window_ns=window, start_ns=start, end_ns=end))
    assert all(p.num_rows for p in parts)
    joined = pa.concat_tables(parts) if parts else whole.schema.empty_table()
    assert joined.equals(whole)
    lo = -1 if start is None else start
    hi = 10**9 if end is None else end
    expected = sorted([t for t in ts_a + ts_b if lo <= t < hi])
    assert whole.column("timestamp_ns").to_pylist() == expected
    if parts:
        spans = [
            (p.column("timestamp_ns")[0].as_py(), p.column("timestamp_ns")[-1].as_py())
            for p in parts
        ]
        assert all(hi_ - lo_ < window for lo_, hi_ in spans)


def test_pandas_outputs() -> None:
    src = imu_source("/imu", [10, 20, 30])
    df = to_pandas({"/imu": src})
    assert list(df.columns) == to_arrow(src).column_names
    assert df["/imu.acceleration.x"].dtype == np.float64
    assert df["timestamp_ns"].tolist() == [10, 20, 30]
    # Arrow-backed dtypes are lossless: flat -> pandas -> flat -> typed round trip.
    lossless = to_pandas(src, arrow_dtypes=True)
    assert isinstance(lossless["/imu.header.sample_counter"].dtype, pd.ArrowDtype)
    again = pa.Table.from_pandas(lossless, preserve_index=False)
    back = unflatten_table(again, src.schema, prefix="/imu")
    assert IMU.from_batch(back.combine_chunks().to_batches()[0]) == IMU.from_batch(
        src.table.combine_chunks().to_batches()[0]
    )
    chunks = list(iter_pandas(src, window_ns=15))
    assert [c["timestamp_ns"].tolist() for c in chunks] == [[10, 20], [30]]


def test_polars_outputs_hold_the_arrow_and_pandas_values() -> None:
    srcs = {
        "/imu": imu_source("/imu", [10, 20, 30], batch_rows=2),
        "/cam": TableSource.from_objects("/cam", [_camera(0), _camera(1)], [15, 30]),
    }
    for fixed_lists in ("columns", "arrays"):
        table = to_arrow(srcs, fixed_lists=fixed_lists)  # type: ignore[arg-type]
        df = to_polars(srcs, fixed_lists=fixed_lists)  # type: ignore[arg-type]
        assert df.columns == table.column_names
        for name in table.column_names:
            assert df[name].to_list() == table.column(name).to_pylist(), name
    df = to_polars(srcs)
    assert df.schema["/imu.header.sample_counter"] == pl.UInt64
    assert df.schema["/cam.intrinsic_parameters_0"] == pl.Float64
    assert isinstance(
        to_polars(srcs, fixed_lists="arrays").schema["/cam.intrinsic_parameters"], pl.Array
    )
    pandas = to_pandas(srcs)
    floats = [n for n, t in df.schema.items() if t == pl.Float64]
    assert np.array_equal(df.select(floats).to_numpy(), pandas[floats].to_numpy(), equal_nan=True)
    windows = list(iter_polars(srcs, window_ns=10))
    assert [w["timestamp_ns"].to_list() for w in windows] == [[10, 15], [20], [30, 30]]
    assert pl.concat(windows).equals(df)
    empty = to_polars(srcs, start_ns=40)
    assert empty.height == 0 and empty.schema == df.schema


def test_empty_results_are_typed() -> None:
    src = imu_source("/imu", [10, 20, 30])
    expected = flat_schema(src.schema, prefix="/imu")
    for kwargs in ({"start_ns": 40}, {"start_ns": 20, "end_ns": 20}, {"start_ns": 30, "end_ns": 5}):
        empty = to_arrow(src, **kwargs)  # type: ignore[arg-type]
        assert empty.num_rows == 0
        assert empty.schema.names == expected.names
        assert [f.type for f in empty.schema] == [f.type for f in expected]
    df = to_pandas(src, start_ns=40)
    assert len(df) == 0 and df["/imu.acceleration.x"].dtype == np.float64
    assert list(iter_arrow(src, window_ns=5, start_ns=40)) == []


def test_bad_input_is_named() -> None:
    src = scalar_source("/a", [1], [1.0])
    with pytest.raises(MLInputError, match=r"unknown topic '/nope' \(topics: /a\)"):
        to_arrow({"/a": src}, topics=["/nope"])
    with pytest.raises(MLInputError, match="window_ns must be > 0"):
        list(iter_arrow(src, window_ns=0))
    with pytest.raises(MLInputError, match="fixed_lists"):
        flatten_table(src.table, fixed_lists="rows")  # type: ignore[arg-type]
    with pytest.raises(MLInputError, match="no column"):
        unflatten_table(pa.table({"timestamp_ns": [1]}), src.schema)


def test_header_time_must_not_go_backwards() -> None:
    imu = imu_source("/h", [1, 2]).table
    # Header (sensor) times in reverse record order.
    rev = imu.set_column(1, "header", imu.column("header").take([1, 0]))
    srcs = {"/h": TableSource("/h", "IMU", rev)}
    with pytest.raises(MLInputError, match="'/h': header.timestamp is not non-decreasing"):
        synchronize(srcs, ["/h"], rate_hz=1e9, timestamp="header")


@settings(max_examples=25, deadline=None)
@given(
    imu_ts=st.lists(st.integers(0, 300), max_size=25),
    baro=st.lists(st.tuples(st.integers(0, 300), st.none() | st.floats(-5, 5)), max_size=25),
)
def test_merge_equals_a_stable_sort_of_the_rows(
    imu_ts: list[int], baro: list[tuple[int, float | None]]
) -> None:
    baro.sort(key=lambda p: p[0])
    srcs = {
        "/imu": imu_source("/imu", sorted(imu_ts), batch_rows=4),
        "/baro": scalar_source("/baro", [t for t, _ in baro], [v for _, v in baro], batch_rows=3),
    }
    rows = [r for s in srcs.values() for r in to_arrow(s).to_pylist()]
    rows.sort(key=lambda r: r["timestamp_ns"])  # stable: /imu first on ties
    merged = to_arrow(srcs)
    assert merged.to_pylist() == [{c: r.get(c) for c in merged.column_names} for r in rows]


def test_fields_read_only_those_leaves_of_a_topic() -> None:
    sources = {
        "/imu": imu_source("/imu", [10, 20, 30, 40]),
        "/baro": scalar_source("/baro", [15, 35], [1.0, 2.0]),
    }
    full = to_pandas(sources)
    picked = to_pandas(sources, fields={"/imu": ["acceleration.x", "orientation"]})
    imu_cols = [c for c in picked.columns if c.startswith("/imu.")]
    whole_struct = [c for c in full.columns if c.startswith("/imu.orientation.")]
    assert imu_cols == ["/imu.acceleration.x", *whole_struct] and len(whole_struct) > 4
    assert [c for c in picked.columns if c.startswith("/baro.")] == ["/baro.data"]
    pd.testing.assert_frame_equal(picked, full[list(picked.columns)])
    # Timestamps only: the topic's rows are kept, with no payload column.
    stamps = to_arrow(sources, topics=["/imu"], fields={"/imu": []})
    assert stamps.column_names == ["timestamp_ns"] and stamps.num_rows == 4


def test_fields_of_unknown_topics_or_leaves_are_named() -> None:
    sources = {"/imu": imu_source("/imu", [10, 20])}
    with pytest.raises(MLInputError, match=r"topics not read: \['/gps'\]"):
        to_pandas(sources, fields={"/gps": ["x"]})
    with pytest.raises(MLInputError, match="torque"):
        to_pandas(sources, fields={"/imu": ["torque"]})
