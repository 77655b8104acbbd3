"""Synchronisation: each policy by hand, against pandas/numpy references, chunked == one-shot."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaico.ml import (
    AsOf,
    Drop,
    Hold,
    Interpolate,
    MLInputError,
    Stream,
    Synchronizer,
    TableSource,
    iter_synchronized,
    synchronize,
)
from mosaico.ml.align import slerp
from mosaico.types.geometry import Quaternion
from mosaico.types.sensors import CameraInfo
from tests.ml.ml_helpers import RecordingSource, imu_source, lagged_imu, scalar_source

# One stream, samples at 10, 20, 40; ticks every 10 ns from 5: 5, 15, 25, 35, 45.
HAND = {"/a": scalar_source("/a", [10, 20, 40], [1.0, 2.0, 4.0])}
HAND_EXPECTED = {
    Hold(): [None, 1.0, 2.0, 2.0, 4.0],
    AsOf(5): [None, 1.0, 2.0, None, 4.0],
    Drop(): [None, 1.0, 2.0, None, 4.0],
    Interpolate(): [None, 1.5, 2.5, 3.5, None],
}


@pytest.mark.parametrize("policy", list(HAND_EXPECTED))
def test_policies_by_hand(policy: object) -> None:
    out = synchronize(HAND, [Stream("/a", policy)], rate_hz=1e8, start_ns=5, end_ns=55)  # type: ignore[arg-type]
    assert out.column("timestamp_ns").to_pylist() == [5, 15, 25, 35, 45]
    assert out.column("/a.data").to_pylist() == HAND_EXPECTED[policy]  # type: ignore[index]


def test_drop_never_repeats_and_asof_tolerance_is_inclusive() -> None:
    src = {"/a": scalar_source("/a", [10, 11, 12, 30], [1.0, 2.0, 3.0, 4.0])}
    drop = synchronize(src, [Stream("/a", Drop())], rate_hz=1e8, start_ns=10, end_ns=40)
    # The last sample of (prev tick, tick] wins; nothing is shown twice.
    assert drop.column("/a.data").to_pylist() == [1.0, 3.0, 4.0]
    asof = synchronize(src, [Stream("/a", AsOf(8))], rate_hz=1e8, start_ns=10, end_ns=40)
    assert asof.column("/a.data").to_pylist() == [1.0, 3.0, 4.0]
    asof = synchronize(src, [Stream("/a", AsOf(7))], rate_hz=1e8, start_ns=10, end_ns=40)
    assert asof.column("/a.data").to_pylist() == [1.0, None, 4.0]
    held = synchronize(src, [Stream("/a", Drop())], rate_hz=1e8 / 3, start_ns=10, end_ns=71)
    assert held.column("/a.data").to_pylist() == [1.0, 4.0, None]


def test_reference_grid_and_default_extent() -> None:
    srcs = {
        "/a": scalar_source("/a", [10, 20, 40], [1.0, 2.0, 4.0]),
        "/cam": scalar_source("/cam", [12, 33, 50], [0.0, 0.0, 0.0]),
    }
    out = synchronize(srcs, [Stream("/a", Interpolate())], reference="/cam")
    assert out.column("timestamp_ns").to_pylist() == [12, 33, 50]
    got = out.column("/a.data").to_pylist()
    assert got[:2] == pytest.approx([1.2, 3.3]) and got[2] is None
    # A rate grid spans the first to the last sample of the streams by default.
    grid = synchronize(srcs, ["/a", "/cam"], rate_hz=1e8 / 2)
    ticks = grid.column("timestamp_ns").to_pylist()
    assert ticks[0] == 10 and ticks[-1] == 50 and len(ticks) == 3


def test_slerp_by_hand_and_quaternion_topics() -> None:
    half = math.sqrt(0.5)
    quats = [Quaternion(x=0.0, y=0.0, z=0.0, w=1.0), Quaternion(x=0.0, y=0.0, z=half, w=half)]
    src = {"/q": TableSource.from_objects("/q", quats, [0, 100])}
    out = synchronize(src, [Stream("/q", Interpolate())], rate_hz=1e9 / 50)
    # Halfway between 0 and 90 degrees about z is 45 degrees (linear interpolation is not).
    z = out.column("/q.z").to_pylist()
    w = out.column("/q.w").to_pylist()
    assert z == pytest.approx([0.0, math.sin(math.pi / 8), half])
    assert w == pytest.approx([1.0, math.cos(math.pi / 8), half])


def test_imu_orientation_slerps_and_other_fields_follow_the_left_sample() -> None:
    src = {"/imu": imu_source("/imu", [0, 100, 200], seed=3)}
    out = synchronize(src, [Stream("/imu", Interpolate())], rate_hz=1e9 / 25)
    q = np.stack([out.column(f"/imu.orientation.{c}").to_numpy() for c in "xyzw"], axis=1)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0)
    assert out.column("/imu.header.frame_id").to_pylist() == ["imu"] * 9
    assert out.column("/imu.header.sample_counter").to_pylist() == [0] * 4 + [1] * 4 + [2]
    raw = src["/imu"].table.column("acceleration").combine_chunks().field("x").to_numpy()
    expected = np.interp(np.arange(0, 201, 25), [0, 100, 200], raw)
    assert np.allclose(out.column("/imu.acceleration.x").to_numpy(), expected)


def test_slerp_matches_the_rotation_angle() -> None:
    rng = np.random.default_rng(7)
    q0 = rng.normal(size=(200, 4))
    q1 = rng.normal(size=(200, 4))
    q0 /= np.linalg.norm(q0, axis=1, keepdims=True)
    q1 /= np.linalg.norm(q1, axis=1, keepdims=True)
    u = rng.uniform(size=200)
    out = slerp(q0, q1, u)
    angle = lambda a, b: 2 * np.arccos(np.clip(np.abs(np.sum(a * b, axis=1)), 0, 1))  # noqa: E731
    # The result lies on the shortest arc, at fraction u of the angle.
    assert np.allclose(angle(q0, out), u * angle(q0, q1), atol=1e-6)
    assert np.allclose(angle(out, q1), (1 - u) * angle(q0, q1), atol=1e-6)


def test_field_selection_and_header_timestamp() -> None:
    ts = [1_000, 2_000, 3_000]
    imu = imu_source("/imu", ts, seed=1)
    # Record times lag the header (sensor) times by 500 ns.
    late = TableSource(
        "/imu",
        "IMU",
        imu.table.set_column(0, "timestamp_ns", pa.array([t + 500 for t in ts], pa.int64())),
    )
    streams = [Stream("/imu", Hold(), fields=("acceleration", "header.sample_counter"))]
    by_header = synchronize({"/imu": late}, streams, rate_hz=1e6, timestamp="header")
    assert by_header.column_names == [
        "timestamp_ns",
        "/imu.header.sample_counter",
        "/imu.acceleration.header.timestamp.seconds",
        "/imu.acceleration.header.timestamp.nanoseconds",
        "/imu.acceleration.header.frame_id",
        "/imu.acceleration.header.sample_counter",
        "/imu.acceleration.covariance",
        "/imu.acceleration.covariance_type",
        "/imu.acceleration.x",
        "/imu.acceleration.y",
        "/imu.acceleration.z",
    ]
    assert by_header.column("timestamp_ns").to_pylist() == ts
    assert by_header.column("/imu.header.sample_counter").to_pylist() == [0, 1, 2]
    by_record = synchronize({"/imu": late}, streams, rate_hz=1e6)
    assert by_record.column("timestamp_ns").to_pylist() == [1_500, 2_500, 3_500]


@settings(max_examples=40, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 50), min_size=1, max_size=30),
    lag=st.integers(0, 40),
    chunk=st.integers(1, 120),
    rate=st.integers(1, 20),
)
def test_header_time_chunked_equals_one_shot(
    gaps: list[int], lag: int, chunk: int, rate: int
) -> None:
    ts = np.cumsum(gaps).tolist()
    imu = imu_source("/imu", ts, seed=2, batch_rows=4).table
    # Record time = header time + a growing lag: both orders agree, the windows do not.
    record = pa.array([t + lag + i for i, t in enumerate(ts)], pa.int64())
    srcs = {
        "/imu": TableSource("/imu", "IMU", imu.set_column(0, "timestamp_ns", record), batch_rows=4)
    }
    streams = [Stream("/imu", Interpolate())]
    kw = {"rate_hz": 1e9 / rate, "timestamp": "header"}
    one = synchronize(srcs, streams, **kw)  # type: ignore[arg-type]
    parts = list(iter_synchronized(srcs, streams, chunk_ns=chunk, **kw))  # type: ignore[arg-type]
    assert pa.concat_tables(parts).equals(one)
    assert one.column("timestamp_ns")[0].as_py() == ts[0]


def _reference(
    policy: object, s: np.ndarray, v: np.ndarray, ticks: np.ndarray, period: int
) -> list[float | None]:
    """Independent expectation: pandas merge_asof for pick policies, numpy for interpolation."""
    if isinstance(policy, Interpolate):
        out: list[float | None] = []
        for t in ticks:
            if not s.size or t < s[0] or t > s[-1]:
                out.append(None)
            else:
                out.append(float(np.interp(t, s, v)))
        return out
    left = pd.DataFrame({"t": ticks})
    right = pd.DataFrame({"t": s, "v": v, "at": s})
    kw = {"tolerance": policy.tolerance_ns} if isinstance(policy, AsOf) else {}
    m = pd.merge_asof(left, right, on="t", direction="backward", **kw)
    if isinstance(policy, Drop):
        m.loc[m["at"] <= m["t"] - period, "v"] = np.nan
    return [None if pd.isna(x) else float(x) for x in m["v"]]


policies = st.one_of(
    st.just(Hold()), st.integers(0, 40).map(AsOf), st.just(Drop()), st.just(Interpolate())
)


@settings(max_examples=150, deadline=None)
@given(
    policy=policies,
    times=st.lists(st.integers(0, 400), max_size=40),
    period=st.integers(1, 40),
    start=st.integers(-20, 100),
    length=st.integers(0, 500),
    chunk=st.integers(1, 150),
    batch_rows=st.integers(1, 9),
)
def test_policy_against_reference_and_chunked(
    policy: object,
    times: list[int],
    period: int,
    start: int,
    length: int,
    chunk: int,
    batch_rows: int,
) -> None:
    # Interpolation is compared with np.interp, which needs distinct times.
    s = (
        np.unique(times)
        if isinstance(policy, Interpolate)
        else np.sort(np.asarray(times, np.int64))
    )
    v = np.arange(len(s), dtype=np.float64) * 1.5 - 3.0
    srcs = {"/a": scalar_source("/a", s, v, batch_rows=batch_rows)}
    end = start + length
    kw = {"rate_hz": 1e9 / period, "start_ns": start, "end_ns": end}
    one = synchronize(srcs, [Stream("/a", policy)], **kw)  # type: ignore[arg-type]
    ticks = np.arange(start, end, period)
    assert one.column("timestamp_ns").to_pylist() == ticks.tolist()
    inside = (s >= start) & (s < end)
    expected = _reference(policy, s[inside], v[inside], ticks, period)
    got = one.column("/a.data").to_pylist()
    assert [g is None for g in got] == [e is None for e in expected]
    assert [g for g in got if g is not None] == pytest.approx(
        [e for e in expected if e is not None]
    )
    parts = list(iter_synchronized(srcs, [Stream("/a", policy)], chunk_ns=chunk, **kw))  # type: ignore[arg-type]
    chunked = pa.concat_tables(parts) if parts else one.schema.empty_table()
    assert chunked.equals(one)


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.integers(0, 300), max_size=30),
    b=st.lists(st.integers(0, 300), max_size=30),
    ref=st.lists(st.integers(0, 300), max_size=20),
    chunk=st.integers(1, 100),
    rate=st.none() | st.integers(1, 30),
)
def test_many_streams_chunked_equals_one_shot(
    a: list[int], b: list[int], ref: list[int], chunk: int, rate: int | None
) -> None:
    srcs = {
        "/a": scalar_source("/a", sorted(a), [float(i) for i in range(len(a))], batch_rows=4),
        "/b": imu_source("/b", sorted(b), batch_rows=3),
        "/r": scalar_source("/r", sorted(ref), [0.0] * len(ref), batch_rows=5),
    }
    streams = [Stream("/a", Drop()), Stream("/b", Interpolate()), Stream("/r", AsOf(7))]
    grid = {"rate_hz": 1e9 / rate} if rate else {"reference": "/r"}
    one = synchronize(srcs, streams, **grid)  # type: ignore[arg-type]
    parts = list(iter_synchronized(srcs, streams, chunk_ns=chunk, **grid))  # type: ignore[arg-type]
    chunked = pa.concat_tables(parts) if parts else one.schema.empty_table()
    assert chunked.equals(one)
    if rate is None:
        assert one.column("timestamp_ns").to_pylist() == sorted(ref)


@settings(max_examples=60, deadline=None)
@given(
    times=st.lists(st.integers(0, 300), min_size=1, max_size=30),
    period=st.integers(1, 30),
    cut=st.integers(0, 300),
    policy=policies,
)
def test_seeded_range_equals_the_tail_of_the_whole(
    times: list[int], period: int, cut: int, policy: object
) -> None:
    srcs = {
        "/a": scalar_source(
            "/a", sorted(times), [float(i) for i in range(len(times))], batch_rows=3
        )
    }
    sync = Synchronizer(srcs, [Stream("/a", policy)], rate_hz=1e9 / period)  # type: ignore[arg-type]
    whole = pa.concat_tables(list(sync.run()))
    origin = min(times)
    tail = list(sync.run(start_ns=origin + cut, origin_ns=origin, data_ns=(origin, None)))
    expected = whole.filter(pa.compute.greater_equal(whole.column("timestamp_ns"), origin + cut))
    got = pa.concat_tables(tail) if tail else whole.schema.empty_table()
    last = max(times)
    # The tail's ticks run to the end of the data, like the whole's.
    assert got.filter(pa.compute.less_equal(got.column("timestamp_ns"), last)).equals(expected)


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 40), min_size=1, max_size=25),
    ref_gaps=st.lists(st.integers(0, 60), min_size=1, max_size=10),
    lags=st.lists(st.integers(0, 30), min_size=35, max_size=35),
    cut=st.integers(0, 700),
    rate=st.none() | st.integers(1, 30),
    policy=policies,
    # Large times make the seek gallop over several steps before it bisects.
    scale=st.sampled_from([1, 300_000]),
)
def test_seeded_header_range_equals_the_tail_of_the_whole(
    gaps: list[int],
    ref_gaps: list[int],
    lags: list[int],
    cut: int,
    rate: int | None,
    policy: object,
    scale: int,
) -> None:
    # Record time trails header time by a growing lag: a key can come long after its record.
    a = np.cumsum(gaps) * scale
    r = np.cumsum(ref_gaps) * scale
    lag = np.cumsum(lags) * scale
    cut *= scale
    srcs = {
        "/a": lagged_imu("/a", a, lag[: len(a)], batch_rows=3),
        "/r": lagged_imu("/r", r, lag[: len(r)] * 3, seed=1, batch_rows=2),
    }
    grid = {"rate_hz": 1e9 / (rate * scale)} if rate else {"reference": "/r"}
    streams = [Stream("/a", policy, fields=("acceleration.x", "header.sample_counter"))]  # type: ignore[arg-type]
    sync = Synchronizer(srcs, streams, timestamp="header", **grid)  # type: ignore[arg-type]
    whole = pa.concat_tables(list(sync.run()))
    origin = sync.origin(None) if rate else None
    tail = list(sync.run(start_ns=cut, origin_ns=origin, data_ns=(None, None)))
    expected = whole.filter(pa.compute.greater_equal(whole.column("timestamp_ns"), cut))
    got = pa.concat_tables(tail) if tail else whole.schema.empty_table()
    if rate:
        got = got.filter(pa.compute.less_equal(got.column("timestamp_ns"), max(a[-1], r[-1])))
    assert got.equals(expected)


def test_empty_results_are_typed() -> None:
    srcs = {"/imu": imu_source("/imu", [10, 20])}
    sync = Synchronizer(srcs, ["/imu"], rate_hz=1e8)
    empty = synchronize(srcs, ["/imu"], rate_hz=1e8, start_ns=30, end_ns=30)
    assert empty.num_rows == 0 and empty.schema == sync.schema
    # Ticks without data are null, never made up.
    late = synchronize(srcs, ["/imu"], rate_hz=1e8, start_ns=0, end_ns=10)
    assert late.column("timestamp_ns").to_pylist() == [0]
    assert late.column("/imu.acceleration.x").to_pylist() == [None]
    nothing = {"/a": scalar_source("/a", [], [])}
    assert synchronize(nothing, ["/a"], rate_hz=10.0).num_rows == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"streams": ["/nope"], "rate_hz": 1.0}, r"unknown topic '/nope' \(topics: /a, /imu\)"),
        ({"streams": ["/a"], "rate_hz": 0.0}, r"rate_hz must be a number in \(0, 1e9\], got 0.0"),
        ({"streams": ["/a"], "rate_hz": -5}, "rate_hz must be"),
        ({"streams": ["/a"], "rate_hz": float("nan")}, "rate_hz must be"),
        ({"streams": ["/a"]}, "exactly one grid"),
        ({"streams": ["/a"], "rate_hz": 1.0, "reference": "/a"}, "exactly one grid"),
        ({"streams": ["/a"], "reference": "/x"}, "unknown topic '/x'"),
        (
            {"streams": [Stream("/imu", fields=("accel",))], "rate_hz": 1.0},
            "topic '/imu' has no field 'accel'",
        ),
        (
            {"streams": [Stream("/imu", Interpolate(("header.frame_id",)))], "rate_hz": 1.0},
            "cannot interpolate field 'header.frame_id' of type string",
        ),
        ({"streams": ["/a", "/a"], "rate_hz": 1.0}, "given twice"),
        ({"streams": [], "rate_hz": 1.0}, "no stream"),
        ({"streams": ["/a"], "rate_hz": 1.0, "timestamp": "header"}, "has no header.timestamp"),
        ({"streams": ["/a"], "rate_hz": 1.0, "timestamp": "sensor"}, "timestamp must be"),
    ],
)
def test_bad_input_is_named(kwargs: dict[str, object], message: str) -> None:
    srcs = {"/a": scalar_source("/a", [1], [1.0]), "/imu": imu_source("/imu", [1])}
    with pytest.raises(MLInputError, match=message):
        synchronize(srcs, **kwargs)  # type: ignore[arg-type]


def test_bad_policy_arguments() -> None:
    with pytest.raises(MLInputError, match="tolerance_ns must be an integer >= 0, got -1"):
        AsOf(-1)
    with pytest.raises(MLInputError, match="unknown policy"):
        Stream("/a", "hold")  # type: ignore[arg-type]
    srcs = {"/a": scalar_source("/a", [1], [1.0])}
    with pytest.raises(MLInputError, match="chunk_ns must be > 0"):
        list(iter_synchronized(srcs, ["/a"], rate_hz=1.0, chunk_ns=0))
    with pytest.raises(MLInputError, match="start_ns must be an integer number of ns, got 1.5"):
        synchronize(srcs, ["/a"], rate_hz=1.0, start_ns=1.5)  # type: ignore[arg-type]


def test_fixed_size_list_fields_select_and_interpolate_per_element() -> None:
    cams = [_camera(0.0), _camera(2.0)]
    srcs = {"/cam": TableSource.from_objects("/cam", cams, [0, 10])}
    streams = [Stream("/cam", Interpolate(), fields=("intrinsic_parameters",))]
    out = synchronize(srcs, streams, rate_hz=1e9 / 5)
    assert out.column_names == ["timestamp_ns"] + [
        f"/cam.intrinsic_parameters_{k}" for k in range(9)
    ]
    assert out.column("/cam.intrinsic_parameters_4").to_pylist() == [4.0, 5.0, 6.0]
    arrays = synchronize(
        srcs,
        [Stream("/cam", fields=("intrinsic_parameters",))],
        rate_hz=1e9 / 5,
        fixed_lists="arrays",
    )
    assert arrays.column("/cam.intrinsic_parameters").to_pylist()[1] == [float(k) for k in range(9)]


def _camera(offset: float) -> CameraInfo:
    return CameraInfo(
        height=4,
        width=6,
        distortion_model="plumb_bob",
        distortion_parameters=[],
        intrinsic_parameters=[offset + k for k in range(9)],
        rectification_parameters=[0.0] * 9,
        projection_parameters=[0.0] * 12,
    )


@pytest.mark.parametrize(
    "gap_s", [0.5, 3.0, 100.0], ids=["seed-near", "seed-4-lookbacks", "seed-far"]
)
def test_a_run_inside_the_data_is_seeded_from_its_own_stream(gap_s: float) -> None:
    # /slow's last sample before the start lies gap_s back: within the 1 s lookback its
    # seed comes from the data's own read; further back, from a search before it.
    second = 1_000_000_000
    start = 200 * second
    fast = scalar_source("/fast", np.arange(0, 300 * second, second // 10), np.arange(3000.0))
    slow_ts = [start - int(gap_s * second), start + 5 * second]
    slow = scalar_source("/slow", slow_ts, [1.5, 2.5])
    sources = {"/fast": RecordingSource(fast), "/slow": RecordingSource(slow)}
    streams = [Stream("/fast", Hold()), Stream("/slow", Hold())]
    end = start + 10 * second
    run = Synchronizer(sources, streams, rate_hz=10.0).run(
        start_ns=start, end_ns=end, data_ns=(None, None)
    )
    got = pa.concat_tables(list(run))
    whole = synchronize({"/fast": fast, "/slow": slow}, streams, rate_hz=10.0)
    want = whole.filter(pa.compute.and_(
        pa.compute.greater_equal(whole["timestamp_ns"], start),
        pa.compute.less(whole["timestamp_ns"], end),
    ))  # fmt: skip
    assert got.equals(want) and got.num_rows == 100
    assert got["/slow.data"][0].as_py() == 1.5
    assert sources["/fast"].windows == [(start - second, None)]  # one read, seed included
    if gap_s < 1.0:
        assert sources["/slow"].windows == [(start - second, None)]
    else:
        assert sources["/slow"].windows[0] == (start - second, None)
        assert len(sources["/slow"].windows) > 1  # the search before the lookback
