"""Training-loader throughput from a remote server, next to in-memory and LeRobot peers.

The same windows (IMU at 400 Hz and a 50 Hz barometer held on a 50 Hz grid, `LENGTH` ticks,
stride `STRIDE`) are loaded by a torch `DataLoader` (batch 64) with 0 and 2 workers from:

* `StreamDataset` over `SequenceOpener`s: each worker connects to a `mosaico serve` running
  in another process and streams its share of the windows (what a training job does); also
  with `batch_size` given (workers take turns by batches, so a run can resume with workers)
  and with its units shuffled;
* `WindowDataset` over the same server (synchronised once, up front, then sliced);
* the in-memory peer: the same synchronised frames held as pandas DataFrames, windows
  sliced from their numpy values (the ceiling: no reading, no alignment);
* `LeRobotDataset` reading the LeRobot v3 export of the same sequences (run in the LeRobot
  environment, `tests/lerobot/environment.py`), windows through `delta_timestamps`.

Printed: windows/s and MB/s of tensors delivered (the clock starts at the first batch, so
worker start-up is not counted), and each row's ratio to the in-memory peer.

Run: ``python bench/bench_ml_remote.py`` (or ``--quick``; ``--no-lerobot`` skips that row).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from bench_ml import imu_table, scalar_table

from mosaico.client import MosaicoClient
from mosaico.ml import Hold, Stream, TableSource, synchronize
from mosaico.server.launch import serve_process
from mosaico.types.scalars import Floating64
from mosaico.types.sensors import IMU

RATE_HZ = 50.0
LENGTH = 32
STRIDE = 8
BATCH = 64
STREAMS = [
    Stream("/imu", Hold(), fields=("acceleration", "angular_velocity")),
    Stream("/baro", Hold()),
]
TAGS = {"/imu": IMU.TAG, "/baro": Floating64.TAG}
ROOT = Path(__file__).resolve().parents[1]


def sequence_tables(seconds: float, seed: int) -> dict[str, pa.Table]:
    """One recording: IMU at 400 Hz and a barometer at 50 Hz over `seconds`."""
    return {
        "/imu": imu_table(int(seconds * 400), 400.0, seed=seed),
        "/baro": scalar_table(int(seconds * 50), 50.0, seed=seed + 1),
    }


def upload(port: int, recordings: Mapping[str, dict[str, pa.Table]]) -> None:
    """Write every recording as a sequence of the server on `port`."""
    with MosaicoClient.connect("127.0.0.1", port) as client:
        for name, tables in recordings.items():
            with client.sequence_create(name, {}) as seq:
                seq.topic_create("/imu", {}, IMU).push_batch(tables["/imu"])
                seq.topic_create("/baro", {}, Floating64).push_batch(tables["/baro"])


# -- the in-memory peer ----------------------------------------------------------------------


def numeric_frame(table: pa.Table) -> pd.DataFrame:
    """The columns the datasets turn into tensors (every numeric one), as a DataFrame."""
    from mosaico.ml.tensors import pick_columns

    return table.select(["timestamp_ns", *pick_columns(table.schema, None)]).to_pandas()


class PandasWindows:
    """The datasets' windows (one tensor per column) sliced from synchronised pandas frames
    held in memory (map-style)."""

    def __init__(self, frames: Iterable[pd.DataFrame]) -> None:
        self._columns = [{c: f[c].to_numpy() for c in f.columns} for f in frames]
        counts = [max(0, (len(c["timestamp_ns"]) - LENGTH) // STRIDE + 1) for c in self._columns]
        self._starts = np.concatenate([[0], np.cumsum(counts)])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        seq = int(np.searchsorted(self._starts, index, "right")) - 1
        lo = (index - int(self._starts[seq])) * STRIDE
        item = {"sequence": torch.tensor(seq)}
        for name, values in self._columns[seq].items():
            item[name] = torch.from_numpy(values[lo : lo + LENGTH].copy())
        return item


# -- measuring -------------------------------------------------------------------------------


def tensor_bytes(batch: Mapping[str, Any]) -> int:
    """Bytes of the tensors of one batch."""
    return sum(t.element_size() * t.nelement() for t in batch.values())


def loader_rate(dataset: Any, workers: int) -> tuple[float, float, int]:
    """(windows/s, MB/s, windows) of one epoch, from the first batch on."""
    from torch.utils.data import DataLoader

    context = "spawn" if workers else None
    loader = iter(
        DataLoader(dataset, batch_size=BATCH, num_workers=workers, multiprocessing_context=context)
    )
    first = next(loader)
    windows, nbytes = len(first["timestamp_ns"]), tensor_bytes(first)
    started = time.perf_counter()
    for batch in loader:
        windows += len(batch["timestamp_ns"])
        nbytes += tensor_bytes(batch)
    dt = time.perf_counter() - started
    # The first batch is counted in the totals, not in the rate.
    rate_windows = (windows - len(first["timestamp_ns"])) / dt
    return rate_windows, (nbytes - tensor_bytes(first)) / dt / 1e6, windows


def lerobot_rates(out: Path, workers: Iterable[int]) -> dict[int, tuple[float, float, int]]:
    """The LeRobot row, measured by `lerobot_loader.py` in the LeRobot environment."""
    from tests.lerobot.environment import ensure

    python = ensure()
    script = Path(__file__).with_name("lerobot_loader.py")
    rates = {}
    for w in workers:
        done = subprocess.run(
            [str(python), str(script), str(out), str(LENGTH), str(STRIDE), str(BATCH), str(w)],
            check=True, capture_output=True, text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )  # fmt: skip
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rates[w] = (row["windows_per_s"], row["mb_per_s"], row["windows"])
    return rates


def report(rows: dict[str, dict[int, tuple[float, float, int]]]) -> None:
    """Print every row and its ratio to the in-memory peer (same worker count)."""
    peer = rows["in-memory pandas peer"]
    for label, by_workers in rows.items():
        for w, (wps, mbps, n) in by_workers.items():
            ratio = wps / peer[w][0]
            print(
                f"  {label:38} workers={w}: {wps:9.0f} windows/s {mbps:7.1f} MB/s "
                f"({n:,} windows, {ratio:.2f}x peer)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--no-lerobot", action="store_true", help="skip the LeRobot row")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    from mosaico.ml.client_source import SequenceOpener
    from mosaico.ml.datasets import StreamDataset, WindowDataset

    torch.set_num_threads(1)
    sequences, seconds = (2, 120.0) if args.quick else (4, 600.0)
    recordings = {f"run-{i}": sequence_tables(seconds, seed=10 * i) for i in range(sequences)}
    memory = [
        {n: TableSource(n, TAGS[n], t) for n, t in tables.items()} for tables in recordings.values()
    ]
    frames = [numeric_frame(synchronize(s, STREAMS, rate_hz=RATE_HZ)) for s in memory]
    grid = {"rate_hz": RATE_HZ, "length": LENGTH, "stride": STRIDE}
    print(
        f"DataLoader over {sequences} sequences of {seconds:.0f} s (IMU 400 Hz + baro 50 Hz), "
        f"{RATE_HZ:.0f} Hz grid, windows of {LENGTH} ticks, stride {STRIDE}, batch {BATCH}"
    )
    rows: dict[str, dict[int, tuple[float, float, int]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        with serve_process(Path(scratch) / "store", "--log-level", "WARNING") as (_, port):
            upload(port, recordings)
            openers = [SequenceOpener("127.0.0.1", port, name) for name in recordings]
            streamed = StreamDataset(openers, STREAMS, **grid)  # type: ignore[arg-type]
            rows["StreamDataset from mosaico serve"] = {w: loader_rate(streamed, w) for w in (0, 2)}
            resumable = StreamDataset(openers, STREAMS, batch_size=BATCH, **grid)  # type: ignore[arg-type]
            rows["  the same, batch_size=64 (resumable)"] = {
                w: loader_rate(resumable, w) for w in (0, 2)
            }
            shuffled = StreamDataset(openers, STREAMS, shuffle=True, **grid)  # type: ignore[arg-type]
            rows["  the same, shuffled units"] = {w: loader_rate(shuffled, w) for w in (0, 2)}
            mapped = WindowDataset([o() for o in openers], STREAMS, **grid)  # type: ignore[arg-type]
            rows["WindowDataset from mosaico serve"] = {w: loader_rate(mapped, w) for w in (0, 2)}
            if not args.no_lerobot:
                out = Path(scratch) / "lerobot"
                export_copy(port, list(recordings), out)
                rows["LeRobotDataset of the export"] = lerobot_rates(out, (0, 2))
        rows["in-memory pandas peer"] = {w: loader_rate(PandasWindows(frames), w) for w in (0, 2)}
    report(rows)


def export_copy(port: int, names: list[str], out: Path) -> None:
    """The LeRobot v3 export of the sequences: the IMU as `observation.state`, the
    barometer as `observation.environment_state`, at the grid's rate."""
    from mosaico.ml.lerobot import export_lerobot

    with MosaicoClient.connect("127.0.0.1", port) as client:
        handlers = [client.sequence_handler(n) for n in names]
        export_lerobot(
            handlers, out, fps=int(RATE_HZ),
            streams=["/imu=state:acceleration,angular_velocity", "/baro=environment_state"],
        )  # fmt: skip


if __name__ == "__main__":
    main()
