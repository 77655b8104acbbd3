"""Downsampling (mosaico.viewer.series): M4 buckets against numpy on the full data, in
memory (TableSource) and through a real server with column projection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mosaico.ml import TableSource
from mosaico.ml.client_source import HandlerSource
from mosaico.types.sensors import IMU
from mosaico.viewer import Series, ViewerError, downsample, numeric_fields
from tests.backends import Backend
from tests.ml.ml_helpers import RecordingSource, imu_source, scalar_source


def _bucket_of(ts: np.ndarray, lo: int, width: int) -> np.ndarray:
    return (ts - lo) // width


@st.composite
def _series(
    draw: st.DrawFn,
) -> tuple[np.ndarray, list[float | None], int, int | None, int | None, int]:
    n = draw(st.integers(1, 300))
    ts = np.sort(np.asarray(draw(st.lists(st.integers(0, 5000), min_size=n, max_size=n))))
    value = st.one_of(
        st.floats(-1e6, 1e6), st.none(), st.just(float("nan")), st.sampled_from([0.0, 1.0])
    )
    values = draw(st.lists(value, min_size=n, max_size=n))
    buckets = draw(st.integers(1, 60))
    start = draw(st.one_of(st.none(), st.integers(-10, 2500)))
    end = draw(st.one_of(st.none(), st.integers(2501, 6000)))
    batch_rows = draw(st.integers(1, 40))
    return ts, values, buckets, start, end, batch_rows


@settings(max_examples=200, deadline=None)
@given(_series())
def test_every_bucket_keeps_first_min_max_last_of_the_full_data(case) -> None:  # type: ignore[no-untyped-def]
    ts, values, buckets, start, end, batch_rows = case
    lo = int(ts[0]) if start is None else start
    hi = int(ts[-1]) + 1 if end is None else end
    assume(lo < hi)  # an empty range is refused (test_bad_input_is_named)
    source = scalar_source("/s", ts, values, batch_rows=batch_rows)
    s = downsample(source, ["data"], start, end, buckets)["data"]
    assert (s.start_ns, s.end_ns) == (lo, hi)
    v = np.array([np.nan if x is None else x for x in values], dtype=np.float64)
    keep = (ts >= lo) & (ts < hi) & ~np.isnan(v)
    t_all, v_all = ts[keep], v[keep]
    assert s.rows == t_all.size
    assert s.timestamps_ns.dtype == np.int64 and s.values.dtype == np.float64
    assert np.all(np.diff(s.timestamps_ns) >= 0)
    assert s.values.size <= 4 * buckets
    assert not np.isnan(s.values).any()
    assert s.bucket_ns * buckets >= hi - lo
    _check_buckets(s, t_all, v_all)


def _check_buckets(s: Series, t_all: np.ndarray, v_all: np.ndarray) -> None:
    """Each bucket of the full data has 1-4 points: its first, min, max and last."""
    full = _bucket_of(t_all, s.start_ns, s.bucket_ns)
    kept = _bucket_of(s.timestamps_ns, s.start_ns, s.bucket_ns)
    assert set(kept.tolist()) == set(full.tolist())
    for b in np.unique(full):
        data_t, data_v = t_all[full == b], v_all[full == b]
        pts_t, pts_v = s.timestamps_ns[kept == b], s.values[kept == b]
        assert 1 <= pts_v.size <= 4
        assert pts_v.min() == data_v.min() and pts_v.max() == data_v.max()
        assert (pts_t[0], pts_v[0]) == (data_t[0], data_v[0])
        assert (pts_t[-1], pts_v[-1]) == (data_t[-1], data_v[-1])


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 9999), st.floats(1.0, 1e9), st.booleans(), st.integers(1, 500))
def test_a_one_sample_spike_survives(at: int, height: float, down: bool, buckets: int) -> None:
    ts = np.arange(10_000) * 1000
    values = np.random.default_rng(at).normal(scale=1e-3, size=ts.size)
    values[at] = -height if down else height
    s = downsample(scalar_source("/s", ts, values, batch_rows=777), ["data"], buckets=buckets)[
        "data"
    ]
    extreme = s.values.min() if down else s.values.max()
    assert extreme == values[at]
    assert s.timestamps_ns[np.flatnonzero(s.values == extreme)[0]] == ts[at]
    assert (s.timestamps_ns[0], s.values[0]) == (ts[0], values[0])
    assert (s.timestamps_ns[-1], s.values[-1]) == (ts[-1], values[-1])
    assert s.values.size <= 4 * buckets


def test_struct_leaves_bools_ints_and_null_parents() -> None:
    ts = np.arange(0, 100, dtype=np.int64)
    pos = pa.StructArray.from_arrays(
        [pa.array(np.arange(100.0)), pa.array(np.arange(100) % 7, pa.int16())],
        names=["x", "code"],
        mask=pa.array(ts % 10 == 0),  # every tenth row's struct is null
    )
    table = pa.table({"timestamp_ns": ts, "pos": pos, "ok": pa.array(ts % 3 == 0)})
    series = downsample(
        TableSource("/t", "Custom", table, batch_rows=9), ["pos.x", "pos.code", "ok"], buckets=5
    )
    x = series["pos.x"]
    assert x.rows == 90 and 0.0 not in x.values  # row 0's struct is null
    assert x.values.min() == 1.0 and x.values.max() == 99.0
    assert set(series["ok"].values) == {0.0, 1.0}
    assert series["pos.code"].values.max() == 6.0


def test_numeric_fields_and_their_units() -> None:
    fields = {f.name: f for f in numeric_fields(IMU.topic_type().schema)}
    assert "header.frame_id" not in fields and "timestamp_ns" not in fields
    assert fields["acceleration.x"].unit == "m/s²"
    assert fields["angular_velocity.z"].unit == "rad/s"
    assert fields["acceleration.covariance_type"].unit is None
    assert fields["acceleration.header.timestamp.seconds"].unit is None
    lists = pa.schema([("timestamp_ns", pa.int64()), ("cov", pa.list_(pa.float32(), 3))])
    assert [(f.name, f.path) for f in numeric_fields(lists)] == [
        ("cov_0", "cov"),
        ("cov_1", "cov"),
        ("cov_2", "cov"),
    ]


def test_fixed_size_list_elements() -> None:
    ts = np.arange(6, dtype=np.int64)
    cov = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(18.0)), 3)
    source = TableSource("/c", "Custom", pa.table({"timestamp_ns": ts, "cov": cov}))
    s = downsample(source, ["cov_2"], buckets=1)["cov_2"]
    # One bucket: first = min (row 0), max = last (row 5), each kept once.
    assert s.values.tolist() == [2.0, 17.0] and s.timestamps_ns.tolist() == [0, 5]


def test_a_range_without_samples_gives_empty_arrays() -> None:
    s = downsample(scalar_source("/s", [0, 10], [1.0, 2.0]), ["data"], 3, 9)["data"]
    assert s.values.size == 0 and s.timestamps_ns.size == 0 and s.rows == 0


@pytest.mark.parametrize(
    ("fields", "kwargs", "message"),
    [
        (["nope"], {}, r"topic '/imu' has no field 'nope' \(numeric fields: header\.timestamp"),
        (["header.frame_id"], {}, r"field 'header.frame_id' is not numeric \(string\)"),
        ([], {}, "name at least one field"),
        (["acceleration.x"], {"start_ns": 50, "end_ns": 50}, r"empty time range: end \(50 ns\)"),
        (["acceleration.x"], {"buckets": 0}, r"buckets must be an integer in 1\.\.100000, got 0"),
    ],
)
def test_bad_input_is_named(fields: list[str], kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ViewerError, match=message):
        downsample(imu_source("/imu", [1, 2, 3]), fields, **kwargs)


def test_an_empty_topic_without_a_range() -> None:
    empty = scalar_source("/e", [], [])
    with pytest.raises(ViewerError, match="topic '/e' has no data"):
        downsample(empty, ["data"])
    assert downsample(empty, ["data"], 0, 10)["data"].rows == 0


def test_through_a_server_reads_only_the_fields_columns(backend: Backend, tmp_path: Path) -> None:
    ts = list(range(0, 3_000_000, 1000))
    local = imu_source("/imu", ts, seed=3, batch_rows=4096)
    with backend.client(tmp_path / "store") as client:
        with client.sequence_create("run", {}) as seq:
            seq.topic_create("/imu", {}, IMU).push_batch(local.table)
        handler = client.topic_handler("run", "/imu")
        assert handler is not None
        remote = RecordingSource(HandlerSource(handler))
        fields = ["acceleration.x", "orientation.w"]
        got = downsample(remote, fields, 500_000, 2_500_000, buckets=300)
        assert remote.asked == [fields]
        assert remote.received and all(
            s.names == ["timestamp_ns", "acceleration", "orientation"]
            and s.field("acceleration").type.names == ["x"]
            and s.field("orientation").type.names == ["w"]
            for s in remote.received
        )
        want = downsample(local, fields, 500_000, 2_500_000, buckets=300)
        for f in fields:
            assert np.array_equal(got[f].timestamps_ns, want[f].timestamps_ns)
            assert np.array_equal(got[f].values, want[f].values)
            assert got[f].rows == 2000 and got[f].values.size <= 1200
        # A client TopicHandler is a topic too.
        direct = downsample(handler, ["acceleration.x"], buckets=50)["acceleration.x"]
        assert direct.rows == 3000 and direct.unit == "m/s²"
