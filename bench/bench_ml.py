"""ML module throughput, printed as ratios against peers measured in the same run.

* Flatten a sequence (IMU at 1 kHz + a 50 Hz scalar) to one pandas DataFrame: ours from
  memory (and to polars) and through our server, next to the reference SDK's `DataFrameExtractor`
  (`mosaicolabs==0.7.0`) reading the same sequence from the same server, and a plain pandas
  baseline (`json_normalize` of the rows).
* Synchronise both topics on a 100 Hz grid (hold): ours next to the reference
  `SyncTransformer` on the same sparse DataFrame, and a pandas `merge_asof` baseline.
* DataLoader throughput of IMU windows (map-style and streaming, 0 and 2 workers).

Run: ``python bench/bench_ml.py`` (or ``--quick``). The server runs in its own process.
The reference `SyncTransformer` needs scikit-learn; without it that row is skipped.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from timing import best_time

from mosaico.ml import Hold, Stream, TableSource, synchronize, to_pandas, to_polars
from mosaico.server.launch import serve_process
from mosaico.types.scalars import Floating64
from mosaico.types.sensors import IMU

# -- data ------------------------------------------------------------------------------------


def imu_table(rows: int, hz: float, seed: int = 0) -> pa.Table:
    """IMU rows built column-wise (header with time and frame, vectors, unit quaternions)."""
    rng = np.random.default_rng(seed)
    ts = 1_700_000_000_000_000_000 + (np.arange(rows) * (1e9 / hz)).astype(np.int64)
    header_t = IMU.ARROW_TYPE.field("header").type
    time_t = header_t.field("timestamp").type
    header = pa.StructArray.from_arrays(
        [
            pa.StructArray.from_arrays(
                [
                    pa.array((ts // 10**9).astype(np.int32)),
                    pa.array((ts % 10**9).astype(np.uint32)),
                ],
                fields=list(time_t),
            ),
            pa.array(["imu"] * rows, pa.string()),
            pa.array(np.arange(rows, dtype=np.uint64)),
        ],
        fields=list(header_t),
    )

    def struct(name: str, values: np.ndarray) -> pa.StructArray:
        t = IMU.ARROW_TYPE.field(name).type
        lead = t.num_fields - len(values)  # header, covariance, covariance_type: null
        kids = [pa.nulls(rows, t.field(i).type) for i in range(lead)]
        return pa.StructArray.from_arrays(kids + [pa.array(v) for v in values], fields=list(t))

    q = rng.normal(size=(4, rows))
    q /= np.linalg.norm(q, axis=0)
    columns = [
        pa.array(ts),
        header,
        struct("acceleration", rng.normal(size=(3, rows))),
        struct("angular_velocity", rng.normal(size=(3, rows))),
        struct("orientation", q),
    ]
    return pa.Table.from_arrays(columns, schema=IMU.ARROW_SCHEMA)


def scalar_table(rows: int, hz: float, seed: int = 1) -> pa.Table:
    ts = 1_700_000_000_000_000_000 + (np.arange(rows) * (1e9 / hz)).astype(np.int64) + 137
    values = np.random.default_rng(seed).normal(size=rows)
    return pa.Table.from_arrays([pa.array(ts), pa.array(values)], schema=Floating64.ARROW_SCHEMA)


def local_sources(imu_rows: int) -> dict[str, TableSource]:
    return {
        "/imu": TableSource("/imu", "IMU", imu_table(imu_rows, 1000.0)),
        "/baro": TableSource("/baro", "Floating64", scalar_table(imu_rows // 20, 50.0)),
    }


# -- measuring -------------------------------------------------------------------------------


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time of `repeat` runs after one warm-up (least disturbed by the machine)."""
    return best_time(fn, repeat, warmup=True)


@contextmanager
def mosaico_server(store: str) -> Iterator[int]:
    """`mosaico serve` in its own process; yields its port."""
    with serve_process(store, "--log-level", "WARNING") as (_, port):
        yield port


def json_normalize_baseline(table: pa.Table, rows: int) -> float:
    """Seconds per row of pandas' own flattening (rows as dicts -> json_normalize)."""
    sample = table.slice(0, rows)

    def run() -> pd.DataFrame:
        return pd.json_normalize(sample.to_pylist())

    return best_of(run, 1) / rows


def merge_asof_baseline(sources: dict[str, TableSource], rate_hz: float) -> Callable[[], Any]:
    """Hold on a grid with pandas: merge_asof of each topic's flat frame on the ticks."""
    frames = {name: to_pandas(src) for name, src in sources.items()}
    first = min(int(f["timestamp_ns"].iloc[0]) for f in frames.values())
    last = max(int(f["timestamp_ns"].iloc[-1]) for f in frames.values())
    ticks = pd.DataFrame(
        {"timestamp_ns": first + np.arange(0, last - first + 1, int(1e9 / rate_hz), dtype=np.int64)}
    )

    def run() -> pd.DataFrame:
        out = ticks
        for frame in frames.values():
            out = pd.merge_asof(out, frame, on="timestamp_ns", direction="backward")
        return out

    return run


# -- sections --------------------------------------------------------------------------------


def bench_flatten(imu_rows: int, repeat: int, with_server: bool) -> None:
    sources = local_sources(imu_rows)
    total = sum(s.table.num_rows for s in sources.values())
    print(f"flatten to one pandas DataFrame: {total:,} rows ({imu_rows:,} IMU + baro)")
    ours_local = best_of(lambda: to_pandas(sources), repeat)
    rows_ps = {"mosaico.ml, in memory": total / ours_local}
    rows_ps["mosaico.ml to_polars, in memory"] = total / best_of(lambda: to_polars(sources), repeat)
    per_row = json_normalize_baseline(sources["/imu"].table, min(imu_rows, 50_000))
    rows_ps["pandas json_normalize"] = 1 / per_row
    if with_server:
        rows_ps.update(_flatten_through_server(sources, total, repeat))
    for label, value in rows_ps.items():
        print(f"  {label:36} {value / 1e6:8.2f} M rows/s")
    for ours, peer in (
        ("mosaico.ml, in memory", "pandas json_normalize"),
        ("mosaico.ml to_polars, in memory", "mosaico.ml, in memory"),
        ("mosaico.ml via server", "reference DataFrameExtractor"),
    ):
        if peer in rows_ps:
            print(f"  ratio {ours} / {peer}: {rows_ps[ours] / rows_ps[peer]:.1f}x")


def _flatten_through_server(
    sources: dict[str, TableSource], total: int, repeat: int
) -> dict[str, float]:
    from mosaicolabs import MosaicoClient as ReferenceClient
    from mosaicolabs.ml import DataFrameExtractor

    from mosaico.client import MosaicoClient
    from mosaico.ml.client_source import sequence_sources

    out = {}
    with tempfile.TemporaryDirectory() as store, mosaico_server(store) as port:
        with MosaicoClient.connect("127.0.0.1", port) as client:
            with client.sequence_create("bench-ml", {}) as seq:
                seq.topic_create("/imu", {}, IMU).push_batch(sources["/imu"].table)
                seq.topic_create("/baro", {}, Floating64).push_batch(sources["/baro"].table)
            handler = client.sequence_handler("bench-ml")
            assert handler is not None
            remote = sequence_sources(handler)
            out["mosaico.ml via server"] = total / best_of(lambda: to_pandas(remote), repeat)
        with ReferenceClient.connect("127.0.0.1", port) as ref:
            ref_handler = ref.sequence_handler("bench-ml")

            def reference() -> int:
                extractor = DataFrameExtractor(ref_handler)
                return sum(len(df) for df in extractor.to_pandas_chunks(window_sec=3600.0))

            assert reference() == total
            out["reference DataFrameExtractor"] = total / best_of(reference, repeat)
    return out


def bench_sync(imu_rows: int, repeat: int) -> None:
    sources = local_sources(imu_rows)
    total = sum(s.table.num_rows for s in sources.values())
    streams = [Stream("/imu", Hold()), Stream("/baro", Hold())]
    print(f"sync to a 100 Hz grid (hold): {total:,} input rows")
    rows_ps = {
        "mosaico.ml synchronize": total
        / best_of(lambda: synchronize(sources, streams, rate_hz=100.0), repeat)
    }
    rows_ps["pandas merge_asof"] = total / best_of(merge_asof_baseline(sources, 100.0), repeat)
    try:
        from mosaicolabs.ml import SyncHold, SyncTransformer
    except ImportError:
        print("  (reference SyncTransformer needs scikit-learn: skipped)")
    else:
        sparse = to_pandas(sources)

        def reference() -> pd.DataFrame:
            return SyncTransformer(target_fps=100, policy=SyncHold()).fit_transform(sparse)

        rows_ps["reference SyncTransformer"] = total / best_of(reference, max(1, repeat // 2))
    for label, value in rows_ps.items():
        print(f"  {label:36} {value / 1e6:8.2f} M input rows/s")
    ours = rows_ps["mosaico.ml synchronize"]
    for peer in ("pandas merge_asof", "reference SyncTransformer"):
        if peer in rows_ps:
            print(f"  ratio mosaico.ml / {peer}: {ours / rows_ps[peer]:.1f}x")


def _open_local(imu_rows: int) -> dict[str, TableSource]:
    return local_sources(imu_rows)


def bench_dataloader(imu_rows: int, length: int) -> None:
    import torch
    from torch.utils.data import DataLoader

    from mosaico.ml.datasets import StreamDataset, WindowDataset

    torch.set_num_threads(1)
    streams = [Stream("/imu", Hold(), fields=("acceleration", "angular_velocity", "orientation"))]
    columns = [f"/imu.{v}.{c}" for v in ("acceleration", "angular_velocity") for c in "xyz"]
    columns += [f"/imu.orientation.{c}" for c in "xyzw"]
    rate = 1000.0
    print(f"DataLoader: IMU windows of {length} ticks at {rate:.0f} Hz, batch 64")
    mapped = WindowDataset(
        [local_sources(imu_rows)], streams, rate_hz=rate, length=length, stride=length,
        columns=columns,
    )  # fmt: skip
    opener = functools.partial(_open_local, imu_rows)
    streamed = StreamDataset(
        [opener], streams, rate_hz=rate, length=length, stride=length, columns=columns,
        windows_per_unit=64,
    )  # fmt: skip
    for label, ds in (("map-style WindowDataset", mapped), ("StreamDataset", streamed)):
        for workers in (0, 2):
            loader = iter(DataLoader(ds, batch_size=64, num_workers=workers))
            # The clock starts at the first batch: worker start-up is not throughput.
            next(loader)
            started = time.perf_counter()
            windows = sum(len(b["timestamp_ns"]) for b in loader)
            dt = time.perf_counter() - started
            print(
                f"  {label:24} workers={workers}: {windows / dt:9.0f} windows/s "
                f"({windows * length / dt / 1e6:.2f} M rows/s)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    parser.add_argument("--no-server", action="store_true", help="skip the server rows")
    args = parser.parse_args()
    imu_rows, repeat = (200_000, 2) if args.quick else (2_000_000, 3)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    bench_flatten(imu_rows, repeat, with_server=not args.no_server)
    bench_sync(imu_rows, repeat)
    bench_dataloader(imu_rows, 100)


if __name__ == "__main__":
    main()
