"""Server throughput, printed as ratios against peers measured in the same run.

* Large columnar upload / download with a raw pyarrow Flight client: our server (`mosaico
  serve`, writing Parquet chunks + catalog) next to a bare Flight server on the same machine
  that discards uploads and serves downloads from memory.
* The reference client ``mosaicolabs`` ingesting and reading typed IMU messages against our
  server, with the share of that time the server process spent on CPU.

Run: ``python bench/bench_server.py`` (or ``--quick``). Servers run in their own processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
from timing import best_time

from mosaico.server.launch import free_port, serve_command, wait_listening

MiB = 1024 * 1024


# -- the raw Flight peer -----------------------------------------------------------------


class RawPeer(flight.FlightServerBase):
    """Bare Flight: DoPut reads and drops every batch, DoGet serves an in-memory table."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.table: pa.Table | None = None

    def do_put(self, context: Any, descriptor: Any, reader: Any, writer: Any) -> None:
        batches = []
        for chunk in reader:
            batches.append(chunk.data)
        self.table = pa.Table.from_batches(batches, reader.schema)

    def do_get(self, context: Any, ticket: Any) -> flight.RecordBatchStream:
        assert self.table is not None
        return flight.RecordBatchStream(self.table)


def serve_raw_peer(port: int) -> None:
    RawPeer(f"grpc://127.0.0.1:{port}").serve()


# -- processes ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def process(args: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A server process (ours or the raw peer), once it listens on `port`."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def mosaico_serve(store: str, port: int, *extra: str) -> list[str]:
    return serve_command(store, port, "--log-level", "WARNING", *extra)


# -- workloads ---------------------------------------------------------------------------


def columnar_table(rows: int) -> pa.Table:
    rng = np.random.default_rng(0)
    vec = pa.struct([("x", pa.float64()), ("y", pa.float64()), ("z", pa.float64())])
    columns = {
        "timestamp_ns": pa.array(np.arange(rows, dtype=np.int64) * 1000),
        "acceleration": pa.StructArray.from_arrays(
            [pa.array(rng.standard_normal(rows)) for _ in range(3)], fields=list(vec)
        ),
        "angular_velocity": pa.StructArray.from_arrays(
            [pa.array(rng.standard_normal(rows)) for _ in range(3)], fields=list(vec)
        ),
        "temperature": pa.array(rng.standard_normal(rows).astype(np.float32)),
        "counter": pa.array(np.arange(rows, dtype=np.uint32)),
    }
    schema = pa.schema(
        [pa.field("timestamp_ns", pa.int64(), nullable=False)]
        + [pa.field(n, a.type) for n, a in columns.items() if n != "timestamp_ns"]
    )
    return pa.Table.from_pydict(columns, schema=schema)


def batches_of(table: pa.Table, batch_bytes: int) -> list[pa.RecordBatch]:
    rows = max(1, batch_bytes * table.num_rows // max(1, table.nbytes))
    return table.combine_chunks().to_batches(max_chunksize=rows)


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time of ``repeat`` runs (least disturbed by the machine)."""
    return best_time(fn, repeat)


def action(client: flight.FlightClient, name: str, body: dict[str, Any]) -> Any:
    results = list(client.do_action(flight.Action(name, json.dumps(body).encode())))
    return json.loads(b"".join(r.body.to_pybytes() for r in results))["response"]


def bench_columnar(rows: int, repeat: int) -> dict[str, float]:
    """Both servers run at once and the runs alternate, so machine noise hits both alike."""
    table = columnar_table(rows)
    batches = batches_of(table, 8 * MiB)
    raw_port, port = free_port(), free_port()
    with (
        tempfile.TemporaryDirectory() as store,
        process([sys.executable, __file__, "--serve-raw-peer", str(raw_port)], raw_port),
        process(mosaico_serve(store, port), port),
    ):
        raw = flight.FlightClient(f"grpc://127.0.0.1:{raw_port}")
        ours = flight.FlightClient(f"grpc://127.0.0.1:{port}")
        action(ours, "sequence_create", {"locator": "bench", "user_metadata": {}})
        session = action(ours, "session_create", {"locator": "bench"})
        counter = iter(range(1_000_000))

        def put(client: flight.FlightClient, descriptor: flight.FlightDescriptor) -> None:
            writer, _ = client.do_put(descriptor, table.schema)
            for batch in batches:
                writer.write_batch(batch)
            writer.close()

        def ours_put() -> None:
            locator = f"bench/t{next(counter)}"
            uuid = action(ours, "topic_create", {
                "session_uuid": session["uuid"], "locator": locator,
                "serialization_format": "default", "ontology_tag": "Bench", "user_metadata": {},
            })["uuid"]  # fmt: skip
            cmd = json.dumps({"resource_locator": locator, "topic_uuid": uuid})
            put(ours, flight.FlightDescriptor.for_command(cmd))

        def ours_get() -> None:
            locator = json.dumps({"resource_locator": "bench/t0"})
            info = ours.get_flight_info(flight.FlightDescriptor.for_command(locator))
            assert ours.do_get(info.endpoints[0].ticket).read_all().num_rows == rows

        runs: dict[str, Callable[[], Any]] = {
            "raw_put_s": lambda: put(raw, flight.FlightDescriptor.for_command(b"raw")),
            "ours_put_s": ours_put,
            "raw_get_s": lambda: raw.do_get(flight.Ticket(b"x")).read_all(),
            "ours_get_s": ours_get,
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeat):
            for name, run in runs.items():
                times[name].append(timed(run, 1))
        raw.close()
        ours.close()
    out = {f"{name}_best": min(values) for name, values in times.items()}
    out |= {f"{name}_median": float(np.median(values)) for name, values in times.items()}
    out["bytes"] = table.nbytes
    return out


def bench_reference_client(messages: int) -> dict[str, float]:
    from mosaicolabs import IMU, Message, MosaicoClient, Vector3d

    payload = [
        Message(
            timestamp_ns=1_700_000_000_000_000_000 + i * 1000,
            data=IMU(
                acceleration=Vector3d(x=i * 0.1, y=0.0, z=9.81),
                angular_velocity=Vector3d(x=0.0, y=0.1, z=0.2),
            ),
        )
        for i in range(messages)
    ]
    out: dict[str, float] = {"messages": messages}
    with tempfile.TemporaryDirectory() as store:
        port = free_port()
        with (
            process(mosaico_serve(store, port), port) as proc,
            MosaicoClient.connect("127.0.0.1", port) as client,
        ):
            cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
            with client.sequence_create("ref-bench", {}) as writer:
                topic = writer.topic_create("imu", {}, IMU)
                for message in payload:
                    topic.push(message)
            out["ingest_s"] = time.perf_counter() - t0
            out["ingest_server_cpu_s"] = cpu_seconds(proc.pid) - cpu0
            handler = client.topic_handler("ref-bench", "imu")
            out["bytes"] = handler.total_size_bytes
            cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
            count = sum(1 for _ in handler.get_data_streamer())
            out["read_s"] = time.perf_counter() - t0
            out["read_server_cpu_s"] = cpu_seconds(proc.pid) - cpu0
            assert count == messages
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    parser.add_argument("--serve-raw-peer", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_raw_peer:
        serve_raw_peer(args.serve_raw_peer)
        return
    rows, repeat, messages = (1_000_000, 3, 5_000) if args.quick else (5_000_000, 5, 50_000)

    col = bench_columnar(rows, repeat)
    mb = col["bytes"] / MiB
    print(f"columnar upload/download: {rows:,} rows, {mb:.0f} MiB, {repeat} alternating runs")
    print(f"  {'MiB/s':28} {'best':>8} {'median':>8}")
    for label, key in [
        ("raw Flight do_put (memory)", "raw_put_s"),
        ("mosaico DoPut (Parquet)", "ours_put_s"),
        ("raw Flight do_get (memory)", "raw_get_s"),
        ("mosaico DoGet (sorted)", "ours_get_s"),
    ]:
        best, median = mb / col[f"{key}_best"], mb / col[f"{key}_median"]
        print(f"  {label:28} {best:8.0f} {median:8.0f}")
    for label, ours, peer in [
        ("put", "ours_put_s", "raw_put_s"),
        ("get", "ours_get_s", "raw_get_s"),
    ]:
        best = col[f"{peer}_best"] / col[f"{ours}_best"]
        median = col[f"{peer}_median"] / col[f"{ours}_median"]
        print(f"  {'ratio mosaico/raw ' + label:28} {best:8.2f} {median:8.2f}")

    ref = bench_reference_client(messages)
    n = ref["messages"]
    print(f"reference client mosaicolabs 0.7.0 against mosaico serve: {n:,} IMU messages")
    print(f"  ingest  {n / ref['ingest_s']:10.0f} msg/s, server CPU share "
          f"{ref['ingest_server_cpu_s'] / ref['ingest_s']:6.1%}")  # fmt: skip
    print(f"  read    {n / ref['read_s']:10.0f} msg/s, server CPU share "
          f"{ref['read_server_cpu_s'] / ref['read_s']:6.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
