"""Column projection: a synchronisation reads only the columns it uses.

A sequence with a camera topic (``Image``, 640x480 rgb8 at 30 Hz) and an IMU at 400 Hz,
served by ``mosaico serve`` in its own process. One IMU field (``acceleration.x``) is
synchronised on the camera's frames (a reference grid), twice:

* projected (today's default): the IMU reads ``acceleration.x`` only, the camera its
  timestamps only (``fields=[]``);
* full reads (the behaviour before projection): every topic read whole, as a `TopicSource`
  whose ``batches`` takes no ``fields`` is; the result is the same table.

Printed for each: the bytes the server read from its chunk files (``rchar`` of the server
process, ``/proc/<pid>/io``), the Arrow bytes the client received, and the seconds; then the
ratios. Run: ``python bench/bench_projection.py`` (or ``--quick``).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
from bench_ml import imu_table
from timing import best_time

from mosaico.client import MosaicoClient
from mosaico.ml import Hold, Stream, synchronize
from mosaico.ml.client_source import HandlerSource, sequence_sources
from mosaico.ml.source import TopicSource
from mosaico.server.launch import serve_process
from mosaico.types import IMU, Image

T0 = 1_700_000_000_000_000_000
WIDTH, HEIGHT = 640, 480


def _stamps(seconds: float, hz: float, offset_ns: int = 0) -> np.ndarray:
    return T0 + offset_ns + (np.arange(int(seconds * hz)) * (1e9 / hz)).astype(np.int64)


def camera_table(seconds: float, hz: float = 30.0) -> pa.Table:
    """rgb8 frames of 640x480 (random bytes: they do not compress), no header."""
    ts = _stamps(seconds, hz)
    rows = len(ts)
    frame = np.random.default_rng(0).integers(0, 256, WIDTH * HEIGHT * 3, np.uint8).tobytes()
    schema = Image.ARROW_SCHEMA
    columns = [
        pa.array(ts),
        pa.nulls(rows, schema.field("header").type),
        pa.array([frame] * rows, pa.binary()),
        pa.array(["raw"] * rows),
        pa.array([WIDTH] * rows, pa.int32()),
        pa.array([HEIGHT] * rows, pa.int32()),
        pa.array([WIDTH * 3] * rows, pa.int32()),
        pa.array(["rgb8"] * rows),
        pa.nulls(rows, pa.bool_()),
    ]
    return pa.Table.from_arrays(columns, schema=schema)


class Counted:
    """A `TopicSource` over a handler source that adds up the Arrow bytes it receives."""

    def __init__(self, source: HandlerSource, received: list[int]) -> None:
        self._source = source
        self._received = received
        self.name, self.tag, self.schema = source.name, source.tag, source.schema

    def bounds(self) -> tuple[int, int] | None:
        """The topic's bounds (no data read)."""
        return self._source.bounds()

    def batches(
        self, start_ns: int | None, end_ns: int | None, fields: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """The topic's batches, ``fields`` only when given, counted."""
        for batch in self._source.batches(start_ns, end_ns, fields):
            self._received[0] += batch.nbytes
            yield batch


class CountedWhole(Counted):
    """As `Counted`, but every read is whole: a source whose ``batches`` takes no
    ``fields`` (what every read was before projection)."""

    def batches(  # type: ignore[override]
        self, start_ns: int | None, end_ns: int | None
    ) -> Iterator[pa.RecordBatch]:
        """The topic's batches, every field, counted."""
        return super().batches(start_ns, end_ns)


def server_read_bytes(pid: int) -> int:
    """Bytes the process has read (``rchar``: every read call, page cache included)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/<pid>/io")


def record(store: str, seconds: float) -> tuple[int, int]:
    """Write the sequence; returns (camera rows, IMU rows)."""
    camera, imu = camera_table(seconds), imu_table(int(seconds * 400), 400.0)
    with MosaicoClient.local(store) as client, client.sequence_create("drive", {}) as seq:
        seq.topic_create("/camera", {}, Image).push_batch(camera)
        seq.topic_create("/imu", {}, IMU).push_batch(imu)
    return camera.num_rows, imu.num_rows


def measure(
    client: MosaicoClient, pid: int, kind: type[Counted], repeat: int
) -> tuple[dict[str, float], pa.Table]:
    """Bytes read by the server, bytes received, seconds (best of ``repeat``) of one sync,
    and its table."""
    handler = client.sequence_handler("drive")
    assert handler is not None
    received = [0]
    plain = sequence_sources(handler)
    sources: dict[str, TopicSource] = {
        name: kind(source, received)  # type: ignore[arg-type]
        for name, source in plain.items()
    }
    streams = [Stream("/imu", Hold(), fields=["acceleration.x"])]

    def run() -> pa.Table:
        return synchronize(sources, streams, reference="/camera")

    before = server_read_bytes(pid)
    table = run()
    read = server_read_bytes(pid) - before
    got = received[0]
    seconds = best_time(run, repeat)
    return {"read": read, "received": got, "seconds": seconds}, table


def main() -> None:
    """Record, serve, synchronise both ways and print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s of data, one timed run")
    parser.add_argument("--seconds", type=float, default=None, help="seconds of data")
    args = parser.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    repeat = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="bench-projection-") as scratch:
        store = str(Path(scratch) / "store")
        frames, imu_rows = record(store, seconds)
        print(f"sequence: {seconds:g} s, camera {frames} frames of {WIDTH}x{HEIGHT} rgb8 "
              f"(30 Hz), IMU {imu_rows} rows (400 Hz)")  # fmt: skip
        print("sync /imu acceleration.x (hold) on the camera frames, via mosaico serve")
        with (
            serve_process(store, "--log-level", "WARNING") as (process, port),
            MosaicoClient.connect("127.0.0.1", port) as client,
        ):
            full, whole_table = measure(client, process.pid, CountedWhole, repeat)
            projected, table = measure(client, process.pid, Counted, repeat)
        assert table.equals(whole_table), "projection changed the result"
        assert table.num_rows == frames
        for label, figures in (("full reads", full), ("projected", projected)):
            print(f"  {label:11} server read {figures['read'] / 1e6:10.2f} MB   "
                  f"client received {figures['received'] / 1e6:10.2f} MB   "
                  f"{figures['seconds']:7.3f} s")  # fmt: skip
        for what in ("read", "received"):
            saved = 1 - projected[what] / max(1.0, full[what])
            print(f"  bytes {what:8}: {saved:6.1%} fewer with projection "
                  f"(ratio full / projected {full[what] / max(1.0, projected[what]):,.0f}x)")  # fmt: skip
        print(f"  time: ratio full / projected {full['seconds'] / projected['seconds']:.1f}x")


if __name__ == "__main__":
    main()
