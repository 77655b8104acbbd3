"""PyTorch datasets: exactly the synchronised rows, across workers, over many sequences."""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pytest
import torch
from torch.utils.data import DataLoader

from mosaico.ml import Drop, Hold, Interpolate, MLInputError, Stream, TableSource, synchronize
from mosaico.ml.datasets import StreamDataset, WindowDataset, _coalesced
from mosaico.ml.tensors import PrecisionWarning, to_arrays
from tests.ml.ml_helpers import RecordingSource, imu_source, lagged_imu, scalar_source

STREAMS = [Stream("/imu", Interpolate()), Stream("/baro", Hold())]
RATE = 1e9 / 1_000  # a tick every microsecond


def open_sequence(seed: int) -> dict[str, TableSource]:
    """One sequence's sources, built afresh on every call (as a worker's connection is)."""
    rng = np.random.default_rng(seed)
    imu_ts = np.sort(rng.choice(200_000, 400, replace=False)) + seed * 10_000
    baro_ts = np.sort(rng.choice(200_000, 60, replace=False)) + seed * 10_000
    return {
        "/imu": imu_source("/imu", imu_ts.tolist(), seed=seed, batch_rows=50),
        "/baro": scalar_source(
            "/baro", baro_ts.tolist(), rng.normal(size=60).tolist(), batch_rows=16
        ),
    }


OPENERS = [functools.partial(open_sequence, s) for s in (1, 2, 3)]


def _key(item: dict[str, torch.Tensor]) -> tuple[int, int]:
    return int(item["sequence"]), int(item["timestamp_ns"][0])


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(torch.nan_to_num(a[k], nan=-7.0), torch.nan_to_num(b[k], nan=-7.0)) for k in a
    )


def test_windows_are_exactly_the_synchronised_rows() -> None:
    sequences = [o() for o in OPENERS]
    ds = WindowDataset(sequences, STREAMS, rate_hz=RATE, length=8, stride=5, dtype=torch.float32)
    starts = [0]
    for seq, sources in enumerate(sequences):
        table = synchronize(sources, STREAMS, rate_hz=RATE, fixed_lists="arrays")
        arrays = to_arrays(table, ds.columns, np.dtype(np.float32))
        n_windows = (table.num_rows - 8) // 5 + 1
        starts.append(starts[-1] + n_windows)
        for w in (0, n_windows // 2, n_windows - 1):
            item = ds[starts[seq] + w]
            assert int(item["sequence"]) == seq
            for name, arr in arrays.items():
                assert np.array_equal(item[name].numpy(), arr[w * 5 : w * 5 + 8], equal_nan=True)
    assert len(ds) == starts[-1]
    item = ds[0]
    assert item["timestamp_ns"].dtype == torch.int64 and item["timestamp_ns"].shape == (8,)
    assert item["/imu.acceleration.x"].dtype == torch.float32
    assert item["/imu.acceleration.covariance_type"].shape == (8,)
    # Strings, binary and variable lists have no tensor form and are left out.
    assert "/imu.header.frame_id" not in item and "/imu.acceleration.covariance" not in item
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_stream_dataset_with_workers_covers_every_window_once() -> None:
    mapped = WindowDataset([o() for o in OPENERS], STREAMS, rate_hz=RATE, length=8, stride=5)
    expected = {_key(mapped[i]): mapped[i] for i in range(len(mapped))}
    assert len(expected) == len(mapped)
    streamed = StreamDataset(
        OPENERS, STREAMS, rate_hz=RATE, length=8, stride=5, windows_per_unit=13
    )
    got = []
    for batch in DataLoader(streamed, batch_size=16, num_workers=2):
        got += [{k: v[i] for k, v in batch.items()} for i in range(len(batch["sequence"]))]
    keys = [_key(g) for g in got]
    assert len(keys) == len(set(keys)) == len(expected)
    assert all(_same(g, expected[_key(g)]) for g in got)


def open_lagged(seed: int) -> dict[str, TableSource]:
    """Header-stamped topics recorded with a growing lag; the camera repeats timestamps."""
    rng = np.random.default_rng(seed)
    imu_ts = np.sort(rng.choice(200_000, 400, replace=False))
    cam_ts = np.sort(np.repeat(rng.choice(200_000, 40, replace=False), rng.integers(1, 3, 40)))
    return {
        "/imu": lagged_imu(
            "/imu", imu_ts, np.sort(rng.integers(0, 9_000, 400)), seed, batch_rows=50
        ),
        "/cam": lagged_imu(
            "/cam", cam_ts, np.sort(rng.integers(0, 30_000, len(cam_ts))), batch_rows=8
        ),
    }


LAGGED = [functools.partial(open_lagged, s) for s in (4, 5)]
LAGGED_STREAMS = [Stream("/imu", Interpolate()), Stream("/cam", Drop(), fields=("acceleration",))]


@pytest.mark.parametrize(
    "grid",
    [
        {"reference": "/cam"},
        {"rate_hz": RATE, "timestamp": "header"},
        {"reference": "/cam", "timestamp": "header"},
    ],
    ids=["reference", "header-rate", "header-reference"],
)
def test_stream_dataset_on_every_grid_equals_the_map_style_windows(grid: dict) -> None:
    mapped = WindowDataset([o() for o in LAGGED], LAGGED_STREAMS, length=6, stride=4, **grid)
    expected = [mapped[i] for i in range(len(mapped))]
    assert len(expected) > 20
    streamed = StreamDataset(LAGGED, LAGGED_STREAMS, length=6, stride=4, windows_per_unit=3, **grid)
    got = []
    for batch in DataLoader(streamed, batch_size=None, num_workers=2):
        got.append(batch)
    # Workers interleave units: order by (sequence, first tick) is the map-style order, and
    # a repeated reference timestamp never starts two windows here (stride 4 > repeats).
    got.sort(key=_key)
    assert [_key(g) for g in got] == [_key(e) for e in expected]
    assert all(_same(g, e) for g, e in zip(got, expected))


def test_map_style_dataset_with_workers_and_shuffle() -> None:
    mapped = WindowDataset([o() for o in OPENERS[:2]], STREAMS, rate_hz=RATE, length=4)
    seen = []
    loader = DataLoader(mapped, batch_size=32, shuffle=True, num_workers=2)
    for batch in loader:
        seen += list(zip(batch["sequence"].tolist(), batch["timestamp_ns"][:, 0].tolist()))
    assert sorted(seen) == sorted(_key(mapped[i]) for i in range(len(mapped)))


def test_short_and_empty_sequences_give_no_windows() -> None:
    short = {"/imu": imu_source("/imu", [0, 1000]), "/baro": scalar_source("/baro", [500], [1.0])}
    empty = {"/imu": imu_source("/imu", []), "/baro": scalar_source("/baro", [], [])}
    ds = WindowDataset([short, empty], STREAMS, rate_hz=RATE, length=3)
    assert len(ds) == 0
    assert (
        list(StreamDataset([lambda: short, lambda: empty], STREAMS, rate_hz=RATE, length=3)) == []
    )
    two = WindowDataset([short], STREAMS, rate_hz=RATE, length=2)
    assert len(two) == 1 and two[0]["timestamp_ns"].tolist() == [0, 1000]


def test_bad_input() -> None:
    seq = open_sequence(1)
    with pytest.raises(MLInputError, match="length must be an integer > 0"):
        WindowDataset([seq], STREAMS, rate_hz=RATE, length=0)
    with pytest.raises(MLInputError, match="stride must be an integer > 0"):
        StreamDataset(OPENERS, STREAMS, rate_hz=RATE, length=2, stride=0)
    with pytest.raises(MLInputError, match="windows_per_unit"):
        StreamDataset(OPENERS, STREAMS, rate_hz=RATE, length=2, windows_per_unit=0)
    with pytest.raises(MLInputError, match="not numeric"):
        WindowDataset([seq], STREAMS, rate_hz=RATE, length=2, columns=["/imu.header.frame_id"])
    with pytest.raises(MLInputError, match="unknown column"):
        WindowDataset([seq], STREAMS, rate_hz=RATE, length=2, columns=["/imu.nope"])
    with pytest.raises(MLInputError, match="rate_hz must be"):
        WindowDataset([seq], STREAMS, rate_hz=0, length=2)


def _fixes() -> dict[str, TableSource]:
    """A GNSS-like topic: float64 latitude (9+ decimals), float32 range, small integers."""
    n = 40
    ts = np.arange(n, dtype=np.int64) * 1_000
    table = pa.table(
        {
            "timestamp_ns": ts,
            "latitude": 45.123456789 + np.arange(n) * 1.3e-9,
            "range": pa.array(np.linspace(0.5, 2.0, n), pa.float32()),
            "satellites": pa.array(np.arange(n) % 12, pa.int16()),
        }
    )
    return {"/fix": TableSource("/fix", "Fix", table)}


def test_default_dtype_keeps_each_columns_precision() -> None:
    sources = _fixes()
    want = sources["/fix"].table.column("latitude").to_numpy()  # type: ignore[attr-defined]
    for ds in (
        WindowDataset([sources], ["/fix"], rate_hz=1e6, length=40),
        StreamDataset([lambda: sources], ["/fix"], rate_hz=1e6, length=40),
    ):
        item = next(iter(ds))
        # float64 stays float64: latitude survives to 1e-9 degrees (float32 is ~4e-6 here).
        assert item["/fix.latitude"].dtype == torch.float64
        assert np.max(np.abs(item["/fix.latitude"].numpy() - want)) < 1e-9
        assert item["/fix.range"].dtype == torch.float32
        # Integers become the float that holds them exactly (NaN marks a missing sample).
        assert item["/fix.satellites"].dtype == torch.float32
        assert item["/fix.satellites"].tolist() == [float(i % 12) for i in range(40)]


def test_an_explicit_dtype_casts_every_column() -> None:
    ds = WindowDataset([_fixes()], ["/fix"], rate_hz=1e6, length=40, dtype=torch.float32)
    item = ds[0]
    assert {item[c].dtype for c in ds.columns} == {torch.float32}


def test_int64_beyond_float64_precision_warns() -> None:
    ts = np.arange(4, dtype=np.int64)
    stamps = pa.array(1_700_000_000_123_456_789 + ts, pa.int64())  # ns since the epoch
    source = TableSource("/t", "T", pa.table({"timestamp_ns": ts, "stamp_ns": stamps}))
    with pytest.warns(PrecisionWarning, match="'/t.stamp_ns': integers beyond 2\\*\\*53"):
        WindowDataset([{"/t": source}], ["/t"], rate_hz=1e9, length=4)


def test_units_that_follow_each_other_are_read_together() -> None:
    # ~40 windows in 4-window units, far fewer ticks than READ_TICKS: one read per topic.
    sources = {n: RecordingSource(s) for n, s in open_sequence(1).items()}
    streamed = StreamDataset([lambda: sources], STREAMS, rate_hz=RATE, length=8, stride=5,
                             windows_per_unit=4, dtype=torch.float32)  # fmt: skip
    mapped = WindowDataset([open_sequence(1)], STREAMS, rate_hz=RATE, length=8, stride=5,
                           dtype=torch.float32)  # fmt: skip
    got = list(streamed)
    assert len(mapped) > 8 * 4
    assert len(got) == len(mapped) and all(_same(a, mapped[i]) for i, a in enumerate(got))
    reads = [n for n, s in sources.items() for _ in s.windows]
    assert sorted(reads) == ["/baro", "/imu"]  # the bounds need no read; seeds none at start


def test_coalesced_pieces_keep_their_order_and_their_limit() -> None:
    pieces = [(0, 0, 4), (0, 4, 8), (0, 8, 12), (1, 0, 4), (1, 8, 12), (1, 12, 13)]
    assert list(_coalesced(pieces, 8)) == [(0, 0, 8), (0, 8, 12), (1, 0, 4), (1, 8, 13)]
    assert list(_coalesced(pieces, 4)) == pieces
    assert list(_coalesced([], 4)) == []
