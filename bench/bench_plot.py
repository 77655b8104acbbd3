"""Time to a plot of one field of a big IMU topic: `mosaico.viewer.plot` against pandas.

An IMU topic (10 M rows at 1 kHz; ``--quick``: 1 M) is written to a `mosaico serve`
running in another process. Each row then makes a PNG of ``acceleration.x`` over the whole
topic, from a fresh connection:

* ``viewer.plot``: `mosaico.viewer.plot` (the server reads only that column; first/min/max/
  last per pixel of a 1600 px plot, folded batch by batch);
* ``pandas (all)``: the peer a user writes first: the topic into pandas
  (``get_data_streamer().to_pandas()``), every point of the column given to matplotlib;
* ``pandas (column)``: the same with the read projected to the column
  (``get_data_streamer(fields=["acceleration.x"])``), the fairest peer.

Printed: seconds (best of ``--repeat``), each row's ratio to ``viewer.plot``, the Arrow
bytes received against the raw column (8 bytes a row; 16 with its timestamps), and the peak
resident memory of one run in a fresh process (imports included; Linux ``VmHWM``).

Run: ``python bench/bench_plot.py`` (or ``--quick``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
from bench_ml import imu_table
from timing import best_time

from mosaico.client import MosaicoClient, TopicHandler
from mosaico.ml.client_source import HandlerSource
from mosaico.server.launch import serve_process
from mosaico.types.sensors import IMU
from mosaico.viewer import plot

FIELD = "acceleration.x"
WIDTH = 1600
CHUNK = 1_000_000
HZ = 1000.0


def upload(port: int, rows: int) -> None:
    """Write ``rows`` IMU rows at `HZ` as sequence ``run``, topic ``/imu``, a chunk at a time."""
    period = int(1e9 / HZ)
    base = imu_table(min(rows, CHUNK), HZ)
    t0 = base.column("timestamp_ns")[0].as_py()
    client = MosaicoClient.connect("127.0.0.1", port, timeout=60)
    with client, client.sequence_create("run", {}) as seq:
        topic = seq.topic_create("/imu", {}, IMU)
        for first in range(0, rows, CHUNK):
            n = min(CHUNK, rows - first)
            ts = pa.array(t0 + (first + np.arange(n, dtype=np.int64)) * period)
            topic.push_batch(base.slice(0, n).set_column(0, "timestamp_ns", ts))


class Counting(HandlerSource):
    """A `HandlerSource` adding up the Arrow bytes of the batches it receives."""

    def __init__(self, handler: TopicHandler) -> None:
        super().__init__(handler)
        self.received = 0

    def batches(
        self, start_ns: int | None, end_ns: int | None, fields: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """The handler's batches, counted."""
        for batch in super().batches(start_ns, end_ns, fields):
            self.received += batch.nbytes
            yield batch


def viewer_plot(port: int, out: Path) -> int:
    """A PNG through `mosaico.viewer.plot`; returns the bytes received."""
    with MosaicoClient.connect("127.0.0.1", port, timeout=60) as client:
        source = Counting(_handler(client))
        figure = plot(source, [FIELD], buckets=WIDTH)
        figure.set_size_inches(WIDTH / 100, 4)
        figure.savefig(out, dpi=100)
        return source.received


def pandas_plot(port: int, out: Path, fields: list[str] | None) -> None:
    """A PNG of every point, the topic (or only the column, ``fields``) read into pandas."""
    from matplotlib.figure import Figure

    with MosaicoClient.connect("127.0.0.1", port, timeout=60) as client:
        frame = _handler(client).get_data_streamer(fields=fields).to_pandas()
        figure = Figure(figsize=(WIDTH / 100, 4), layout="constrained")
        ax = figure.add_subplot()
        ax.plot((frame["timestamp_ns"] - frame["timestamp_ns"].iloc[0]) / 1e9, frame[FIELD])
        figure.savefig(out, dpi=100)


def received(port: int, fields: list[str] | None) -> int:
    """Arrow bytes of one read of the topic (of ``fields`` when given)."""
    with MosaicoClient.connect("127.0.0.1", port, timeout=60) as client:
        return sum(b.nbytes for b in Counting(_handler(client)).batches(None, None, fields))


def _handler(client: MosaicoClient) -> TopicHandler:
    handler = client.topic_handler("run", "/imu")
    assert handler is not None
    return handler


def _child(name: str, port: int, out: Path, peaks: multiprocessing.Queue[int]) -> None:
    ROWS[name](port, out)
    # VmHWM: this process image's peak (ru_maxrss would carry the forking parent's over).
    status = Path("/proc/self/status").read_text()
    peaks.put(int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM:")).split()[1]))


def peak_rss_mb(name: str, port: int, out: Path) -> float:
    """Peak resident memory (MB) of one run of row ``name`` in a fresh (spawned) process."""
    context = multiprocessing.get_context("spawn")
    peaks: multiprocessing.Queue[int] = context.Queue()
    child = context.Process(target=_child, args=(name, port, out, peaks))
    child.start()
    peak = peaks.get(timeout=600)
    child.join()
    return peak * 1024 / 1e6


ROWS: dict[str, Callable[[int, Path], object]] = {
    "viewer.plot": viewer_plot,
    "pandas (column)": lambda port, out: pandas_plot(port, out, [FIELD]),
    "pandas (all)": lambda port, out: pandas_plot(port, out, None),
}


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 M rows instead of 10 M")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    with tempfile.TemporaryDirectory(prefix="bench-plot-") as scratch:
        root = Path(scratch)
        with serve_process(root / "store") as (_, port):
            upload(port, rows)
            sent = {"viewer.plot": viewer_plot(port, root / "warm.png")}
            seconds = {name: best_time(partial(fn, port, root / "run.png"), args.repeat)
                       for name, fn in ROWS.items()}  # fmt: skip
            sent["pandas (column)"] = received(port, [FIELD])
            sent["pandas (all)"] = received(port, None)
            peaks = {name: peak_rss_mb(name, port, root / "peak.png") for name in ROWS}
    raw = rows * 8
    print(f"{rows:,} IMU rows, plot of {FIELD} at {WIDTH} px; raw column {raw / 1e6:.1f} MB "
          f"({2 * raw / 1e6:.1f} MB with timestamps)")  # fmt: skip
    print(f"{'':<16}{'seconds':>9}{'x viewer':>10}{'MB received':>13}{'x raw column':>14}"
          f"{'peak RSS MB':>13}")  # fmt: skip
    for name, s in seconds.items():
        ratio = s / seconds["viewer.plot"]
        mb = sent[name] / 1e6
        print(f"{name:<16}{s:>9.2f}{ratio:>10.1f}{mb:>13.1f}{sent[name] / raw:>14.2f}"
              f"{peaks[name]:>13.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
