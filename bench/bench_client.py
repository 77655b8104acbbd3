"""Our client against the reference client ``mosaicolabs==0.7.0``, same server, same run.

Both clients talk to one ``mosaico serve`` process (a child of this script) and run the same
workloads; every line prints both figures and their ratio (ours / reference):

* IMU ingest from typed objects (validation on), end to end: push ... finalize;
* IMU ingest with ``push_batch`` (numpy columns; the reference has no columnar push, so the
  ratio is against its typed ingest);
* 640x480 RGB image ingest (MB/s);
* unified read of 3 topics (IMU 1 kHz, GPS 10 Hz, camera 30 Hz), as typed messages and as
  Arrow batches (the reference's columnar path is its ``DataFrameExtractor``; the raw Flight
  peer reads the same topics; both columnar figures are the best of 3 runs, and the data
  volume is printed next to the row rate);
* single-topic read to a pandas DataFrame;
* peak memory (RSS growth) of a 2 GB image upload, each client in a fresh process.

    python bench/bench_client.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mosaico.server.launch import serve_process

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
W, H = 640, 480


# -- server ------------------------------------------------------------------------------


@contextlib.contextmanager
def serve(store: Path) -> Iterator[int]:
    with serve_process(store, "--log-level", "WARNING") as (_, port):
        yield port


# -- data ------------------------------------------------------------------------------------


def imus(lib: Any, n: int) -> list[Any]:
    """``n`` IMU objects built with the classes of ``lib`` (mosaico.types or mosaicolabs)."""
    return [
        lib.IMU(
            header=lib.Header(
                timestamp=lib.Time(seconds=i // 1000, nanoseconds=i % 1000), frame_id="imu"
            ),
            acceleration=lib.Vector3d(x=0.1 * i, y=1.0, z=9.81),
            angular_velocity=lib.Vector3d(x=0.0, y=0.01, z=0.02),
        )
        for i in range(n)
    ]


def ours_imu(n: int) -> list[Any]:
    import mosaico.types

    return imus(mosaico.types, n)


def ref_imu(n: int) -> list[Any]:
    import mosaicolabs

    return imus(mosaicolabs, n)


def ours_image(payload: bytes, w: int = W, h: int = H) -> Any:
    from mosaico.types import Image

    return Image(data=payload, format="raw", width=w, height=h, stride=w * 3, encoding="rgb8")


def ref_image(payload: bytes, w: int = W, h: int = H) -> Any:
    from mosaicolabs import Image, ImageFormat

    return Image(data=payload, format=ImageFormat.RAW, width=w, height=h, stride=w * 3,
                 encoding="rgb8")  # fmt: skip


def _frame(i: int, w: int = W, h: int = H) -> bytes:
    return (np.arange(w * h * 3, dtype=np.uint32) * (i + 1)).astype(np.uint8).tobytes()


# -- timing ---------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def best_of(fn: Callable[[], Any], runs: int = 3) -> float:
    """Shortest of a few runs: for the fast reads, where one run is a fraction of a second
    and scheduling noise (client and server share the machine) would dominate."""
    return min(timed(fn) for _ in range(runs))


_names = iter(range(10**9))


def name(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


# -- workloads: ours ----------------------------------------------------------------------


def ours_write(client: Any, topic_type: Any, messages: list[tuple[int, Any]]) -> None:
    from mosaico.client import Message

    with client.sequence_create(name("ours"), {}) as seq:
        topic = seq.topic_create("t", {}, topic_type)
        push = topic.push
        for ts, obj in messages:
            push(Message(ts, obj))


def ours_push_batch(client: Any, n: int, chunk: int = 1_000_000) -> None:
    from mosaico.types import IMU

    rng = np.random.default_rng(0)
    cols = {k: rng.standard_normal(chunk) for k in ("ax", "ay", "az", "wx", "wy", "wz")}
    stamps = T0 + np.arange(chunk, dtype=np.int64) * MS
    with client.sequence_create(name("ours-cols"), {}) as seq:
        topic = seq.topic_create("imu", {}, IMU)
        for start in range(0, n, chunk):
            topic.push_batch(
                {"acceleration": {"x": cols["ax"], "y": cols["ay"], "z": cols["az"]},
                 "angular_velocity": {"x": cols["wx"], "y": cols["wy"], "z": cols["wz"]}},
                timestamps_ns=stamps + start * MS,
            )  # fmt: skip


def ref_write(client: Any, topic_type: Any, messages: list[tuple[int, Any]]) -> None:
    from mosaicolabs import Message

    with client.sequence_create(name("ref"), {}) as seq:
        topic = seq.topic_create("t", {}, topic_type)
        for ts, obj in messages:
            topic.push(Message(timestamp_ns=ts, data=obj))


def write_read_dataset(client: Any, seconds: int, cam_w: int, cam_h: int) -> tuple[str, int]:
    """IMU 1 kHz, GPS 10 Hz, camera 30 Hz for ``seconds``, written with our push_batch."""
    import pyarrow as pa

    from mosaico.types import GPS, IMU, Image

    seq_name = name("read")
    n_imu, n_gps, n_cam = seconds * 1000, seconds * 10, seconds * 30
    rng = np.random.default_rng(1)
    with client.sequence_create(seq_name, {}) as seq:
        imu = seq.topic_create("imu", {}, IMU)
        x = rng.standard_normal(n_imu)
        imu.push_batch(
            {"acceleration": {"x": x, "y": x, "z": x}, "angular_velocity": {"x": x, "y": x, "z": x},
             "header": {"timestamp": {"seconds": np.arange(n_imu, dtype=np.int32),
                                      "nanoseconds": np.zeros(n_imu, dtype=np.uint32)},
                        "frame_id": pa.array(["imu"] * n_imu)}},
            timestamps_ns=T0 + np.arange(n_imu, dtype=np.int64) * MS,
        )  # fmt: skip
        gps = seq.topic_create("gps", {}, GPS)
        p = rng.standard_normal(n_gps)
        gps.push_batch(
            {"position": {"x": p, "y": p, "z": p},
             "status": {"status": np.zeros(n_gps, dtype=np.int8),
                        "service": np.ones(n_gps, dtype=np.uint16)}},
            timestamps_ns=T0 + np.arange(n_gps, dtype=np.int64) * 100 * MS,
        )  # fmt: skip
        cam = seq.topic_create("camera", {}, Image)
        frame = _frame(0, cam_w, cam_h)
        for lo in range(0, n_cam, 300):
            k = min(300, n_cam - lo)
            cam.push_batch(
                {"data": [frame] * k, "format": ["raw"] * k, "width": [cam_w] * k,
                 "height": [cam_h] * k, "stride": [cam_w * 3] * k, "encoding": ["rgb8"] * k},
                timestamps_ns=T0 + (lo + np.arange(k, dtype=np.int64)) * 33_333_333,
            )  # fmt: skip
    return seq_name, n_imu + n_gps + n_cam


def raw_flight_read(port: int, sequence: str) -> tuple[int, int]:
    """The peer for columnar reads: plain pyarrow Flight, every topic read to the end.
    Returns (rows, Arrow bytes) received."""
    import pyarrow.flight as flight

    client = flight.FlightClient(f"grpc://127.0.0.1:{port}")
    command = json.dumps({"resource_locator": sequence}).encode()
    info = client.get_flight_info(flight.FlightDescriptor.for_command(command))
    readers = [client.do_get(e.ticket) for e in info.endpoints]
    tables = [r.read_all() for r in readers]
    client.close()
    return sum(t.num_rows for t in tables), sum(t.nbytes for t in tables)


# -- memory child ----------------------------------------------------------------------------


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class _RawFlightWriter:
    """The transport peer for the memory figure: plain pyarrow Flight DoPut of the same
    frames in 8-frame batches, behind the writer interface the workload uses."""

    def __init__(self, port: int) -> None:
        import pyarrow.flight as flight

        self.flight = flight
        self.client = flight.FlightClient(f"grpc://127.0.0.1:{port}")

    def _act(self, name: str, body: dict[str, Any]) -> Any:
        results = self.client.do_action(self.flight.Action(name, json.dumps(body).encode()))
        return json.loads(b"".join(r.body.to_pybytes() for r in results))["response"]

    @contextlib.contextmanager
    def sequence_create(self, seq: str, metadata: dict[str, Any]) -> Iterator[Any]:
        self._act("sequence_create", {"locator": seq, "user_metadata": metadata})
        self.session = self._act("session_create", {"locator": seq})["uuid"]
        self.sequence = seq
        yield self
        self._writer.write_batch(self._flush())
        self._writer.done_writing()
        self._writer.close()
        self._act("session_finalize", {"session_uuid": self.session})

    def topic_create(self, path: str, metadata: dict[str, Any], cls: Any) -> Any:
        from mosaico.types import Image

        locator = f"{self.sequence}/{path}"
        uuid = self._act("topic_create", {
            "session_uuid": self.session, "locator": locator, "serialization_format": "image",
            "ontology_tag": "Image", "user_metadata": metadata})["uuid"]  # fmt: skip
        command = json.dumps({"resource_locator": locator, "topic_uuid": uuid}).encode()
        descriptor = self.flight.FlightDescriptor.for_command(command)
        self._writer, _ = self.client.do_put(descriptor, Image.ARROW_SCHEMA)
        self._rows: list[tuple[int, Any]] = []
        return self

    def _flush(self) -> Any:
        from mosaico.types import Image

        batch = Image.to_batch([o for _, o in self._rows], [t for t, _ in self._rows])
        self._rows = []
        return batch

    def push(self, row: tuple[int, Any]) -> None:
        self._rows.append(row)
        if len(self._rows) == 8:
            self._writer.write_batch(self._flush())

    def close(self) -> None:
        self.client.close()


def memory_child(which: str, port: int, total_bytes: int) -> None:
    """Upload ``total_bytes`` of 640x480 frames; print the peak RSS growth (MiB) as JSON."""
    frames = max(1, total_bytes // (W * H * 3))
    payloads = [_frame(i) for i in range(4)]  # rotated: the data are not all one object
    if which == "ours":
        from mosaico.client import Message, MosaicoClient
        from mosaico.types import Image

        client: Any = MosaicoClient.connect("127.0.0.1", port)
        make, msg, cls = ours_image, (lambda ts, o: Message(ts, o)), Image
    elif which == "ref":
        import mosaicolabs

        client = mosaicolabs.MosaicoClient.connect("127.0.0.1", port)
        make, cls = ref_image, mosaicolabs.Image
        msg = lambda ts, o: mosaicolabs.Message(timestamp_ns=ts, data=o)  # noqa: E731
    else:
        client = _RawFlightWriter(port)
        make, msg, cls = ours_image, (lambda ts, o: (ts, o)), None
    import threading

    import pyarrow as pa

    arrow_peak = 0
    done = threading.Event()

    def sample() -> None:  # Arrow memory in use: the batches the client holds
        nonlocal arrow_peak
        while not done.wait(0.005):
            arrow_peak = max(arrow_peak, pa.total_allocated_bytes())

    gc.collect()
    base = _rss_kib()
    threading.Thread(target=sample, daemon=True).start()
    started = time.perf_counter()
    with client.sequence_create(f"mem-{which}-{os.getpid()}", {}) as seq:
        topic = seq.topic_create("cam", {}, cls)
        for i in range(frames):
            topic.push(msg(T0 + i * 33 * MS, make(payloads[i % 4])))
    elapsed = time.perf_counter() - started
    done.set()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    client.close()
    result = {
        "peak_growth_mib": (peak - base) / 1024,
        "arrow_peak_mib": arrow_peak / 2**20,
        "mb_s": frames * W * H * 3 / elapsed / 1e6,
    }
    print(json.dumps(result))


def run_memory(which: str, port: int, total_bytes: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", which, "--port", str(port),
         "--bytes", str(total_bytes)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- main ------------------------------------------------------------------------------------


def report(
    label: str, ours: float, ref: float, unit: str, target: str = "", peer: str = "ref"
) -> None:
    ratio = ours / ref if ref else float("inf")
    print(f"{label:<44} ours {ours:>12,.0f} {unit:<8} {peer} {ref:>10,.0f} {unit:<8} "
          f"x{ratio:>8.1f}  {target}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--memory-child", choices=["ours", "ref", "raw"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bytes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.port, args.bytes)
        return

    import mosaicolabs

    from mosaico.client import MosaicoClient
    from mosaico.types import IMU, Image

    q = args.quick
    n_obj, n_ref_obj = (50_000, 3_000) if q else (300_000, 20_000)
    n_cols = 1_000_000 if q else 10_000_000
    n_img, n_ref_img = (60, 20) if q else (400, 100)
    read_s, ref_read_s = (60, 10) if q else (600, 60)
    mem_bytes = (256 if q else 2048) * 1024 * 1024

    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp, serve(Path(tmp)) as port:
        ours = MosaicoClient.connect("127.0.0.1", port)
        ref = mosaicolabs.MosaicoClient.connect("127.0.0.1", port)
        print(f"server: mosaico serve on port {port}; {os.cpu_count()} CPUs; quick={q}\n")

        # 1. typed IMU objects (built and validated before timing, on both sides)
        ours_msgs = list(zip(range(T0, T0 + n_obj), ours_imu(n_obj)))
        ref_msgs = list(zip(range(T0, T0 + n_ref_obj), ref_imu(n_ref_obj)))
        t_ours = timed(lambda: ours_write(ours, IMU, ours_msgs))
        t_ref = timed(lambda: ref_write(ref, mosaicolabs.IMU, ref_msgs))
        ref_obj_rate = n_ref_obj / t_ref
        report("IMU ingest, typed objects (msg/s)", n_obj / t_ours, ref_obj_rate, "msg/s",
               "target >= 300k")  # fmt: skip
        ours_msgs.clear(), ref_msgs.clear()

        # 2. push_batch
        t_cols = timed(lambda: ours_push_batch(ours, n_cols))
        report("IMU ingest, push_batch vs ref typed (msg/s)", n_cols / t_cols, ref_obj_rate,
               "msg/s", "target >= 2M")  # fmt: skip

        # 3. images
        frames = [_frame(i) for i in range(4)]
        ours_imgs = [(T0 + i, ours_image(frames[i % 4])) for i in range(n_img)]
        ref_imgs = [(T0 + i, ref_image(frames[i % 4])) for i in range(n_ref_img)]
        t_ours = timed(lambda: ours_write(ours, Image, ours_imgs))
        t_ref = timed(lambda: ref_write(ref, mosaicolabs.Image, ref_imgs))
        size = W * H * 3 / 1e6
        report("640x480 RGB image ingest (MB/s)", n_img * size / t_ours, n_ref_img * size / t_ref,
               "MB/s", "target >= 500")  # fmt: skip
        ours_imgs.clear(), ref_imgs.clear()

        # 4. unified read, 3 topics; small camera frames so that rows dominate, not bytes
        seq, rows = write_read_dataset(ours, read_s, 64, 48)
        ref_seq, ref_rows = write_read_dataset(ours, ref_read_s, 64, 48)
        handler = ours.sequence_handler(seq)
        t_typed = timed(lambda: sum(1 for _ in handler.get_data_streamer()))
        ref_handler = ref.sequence_handler(ref_seq)
        t_ref_typed = timed(lambda: sum(1 for _ in ref_handler.get_data_streamer()))
        report("unified read, 3 topics, typed (msg/s)", rows / t_typed, ref_rows / t_ref_typed,
               "msg/s", "target >= 10x")  # fmt: skip
        t_cols = best_of(lambda: sum(b.num_rows for b in handler.get_data_streamer().batches()))
        from mosaicolabs.ml import DataFrameExtractor

        t_ref_df = timed(
            lambda: sum(len(df) for df in DataFrameExtractor(ref_handler).to_pandas_chunks())
        )
        report("unified read, 3 topics, columnar (rows/s)", rows / t_cols, ref_rows / t_ref_df,
               "rows/s", "target >= 10M")  # fmt: skip
        t_raw = best_of(lambda: raw_flight_read(port, seq))
        report("  same, vs raw Flight DoGet of the 3 topics", rows / t_cols, rows / t_raw,
               "rows/s", "(transport bound)", peer="raw")  # fmt: skip
        # rows/s depends on the bytes per row: print the volume the rows carry
        _, volume = raw_flight_read(port, seq)
        report(f"  same in MB/s ({rows:,} rows, {volume / 1e6:,.0f} MB)", volume / t_cols / 1e6,
               volume / t_raw / 1e6, "MB/s", "", peer="raw")  # fmt: skip

        # 5. single topic to a DataFrame
        imu_rows = read_s * 1000
        topic = ours.topic_handler(seq, "imu")
        t_df = timed(lambda: topic.get_data_streamer().to_pandas())
        t_ref_df = timed(
            lambda: [len(df) for df in DataFrameExtractor(ref_handler).to_pandas_chunks(
                topics=["/imu"])]
        )  # fmt: skip
        report("single topic (IMU) to DataFrame (rows/s)", imu_rows / t_df,
               ref_read_s * 1000 / t_ref_df, "rows/s")  # fmt: skip
        ours.close()
        ref.close()

        # 6. memory of a big upload, each client in a fresh process
        mine = run_memory("ours", port, mem_bytes)
        theirs = run_memory("ref", port, mem_bytes)
        raw = run_memory("raw", port, mem_bytes)
        label = f"{mem_bytes >> 20} MiB image upload"
        report(f"peak RSS growth, {label} (MiB)", mine["peak_growth_mib"],
               theirs["peak_growth_mib"], "MiB", "lower is better")  # fmt: skip
        report(f"peak Arrow memory in use, {label} (MiB)", mine["arrow_peak_mib"],
               theirs["arrow_peak_mib"], "MiB", "bounded by the queue")  # fmt: skip
        report("  throughput of that upload (MB/s)", mine["mb_s"], theirs["mb_s"], "MB/s")
        report("  RSS growth, ours vs raw Flight DoPut (MiB)", mine["peak_growth_mib"],
               raw["peak_growth_mib"], "MiB", "(gRPC transport buffering)", peer="raw")  # fmt: skip


if __name__ == "__main__":
    main()
