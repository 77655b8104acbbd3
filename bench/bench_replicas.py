"""Aggregate read throughput of 1, 2 and 3 replicas behind HAProxy, 12 concurrent readers.

The stack is the one users deploy (``deploy/``): chunk files in a Ceph RGW bucket, the
catalog in PostgreSQL, N ``mosaico serve`` replicas behind HAProxy (``deploy/replicas.sh``).
12 sequences of one topic each are written once; then, for each N, 12 reader processes
start together, each reads one whole topic through HAProxy (GetFlightInfo + DoGet), and
the aggregate MB/s is the Arrow bytes of all 12 over the wall time of the slowest.

The peer of the same run: 12 processes reading the same chunk files straight from the
bucket with ``pyarrow.fs`` + ``pyarrow.parquet`` (no Flight, no server): the ceiling the
storage and the Parquet decoding set on this machine. Also printed: the machine's CPU use
during each round (all cores), since replicas, readers, HAProxy and the RGW share it.

Run: ``python bench/bench_replicas.py`` (12 x 1 M rows, ~860 MB), ``--quick`` (12 x 250 k).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq
from bench_server import action
from scale_stack import services

from mosaico.server import EmbeddedServer
from mosaico.server.catalog import Catalog
from mosaico.server.object_store import open_filesystem

ROOT = Path(__file__).resolve().parents[1]
READERS = 12
COLUMNS = 8
SCHEMA = pa.schema(
    [pa.field("timestamp_ns", pa.int64(), nullable=False)]
    + [pa.field(f"v{i}", pa.float64()) for i in range(COLUMNS)]
)
MB = 1e6


def build(store: str, catalog: str, rows: int) -> None:
    """12 finalized sequences ``run-i``, one topic ``t`` of ``rows`` rows each."""
    rng = np.random.default_rng(3)
    with EmbeddedServer(store, catalog=catalog) as (host, port):
        client = flight.FlightClient(f"grpc://{host}:{port}")
        for i in range(READERS):
            name = f"run-{i}"
            action(client, "sequence_create", {"locator": name, "user_metadata": {}})
            session = action(client, "session_create", {"locator": name})
            topic = action(client, "topic_create", {
                "session_uuid": session["uuid"], "locator": f"{name}/t",
                "serialization_format": "default", "ontology_tag": "Thing",
                "user_metadata": {}})  # fmt: skip
            command = {"resource_locator": f"{name}/t", "topic_uuid": topic["uuid"]}
            descriptor = flight.FlightDescriptor.for_command(json.dumps(command))
            writer, _ = client.do_put(descriptor, SCHEMA)
            for start in range(0, rows, 1 << 17):
                n = min(1 << 17, rows - start)
                columns = [pa.array(np.arange(start, start + n) * 1000)]
                columns += [pa.array(rng.normal(size=n)) for _ in range(COLUMNS)]
                writer.write_batch(pa.record_batch(columns, schema=SCHEMA))
            writer.close()
            action(client, "session_finalize", {"session_uuid": session["uuid"]})
        client.close()


def read_through(port: int, index: int) -> int:
    """One reader: the whole topic of ``run-index`` through the platform; its Arrow bytes."""
    client = flight.FlightClient(f"grpc://127.0.0.1:{port}")
    descriptor = flight.FlightDescriptor.for_command(json.dumps({"resource_locator":
                                                                 f"run-{index}/t"}))  # fmt: skip
    info = client.get_flight_info(descriptor)
    table = client.do_get(info.endpoints[0].ticket).read_all()
    client.close()
    return int(table.nbytes)


def read_direct(store: str, paths: list[str]) -> int:
    """The peer reader: the topic's chunk files straight from the bucket; Arrow bytes."""
    location = open_filesystem(store)
    total = 0
    for path in paths:
        with location.fs.open_input_file(f"{location.root}/{path}") as source:
            total += pq.read_table(source, pre_buffer=True).nbytes
    return total


def _cpu_busy() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _round(pool: Any, fn: Any, args: list[tuple[Any, ...]]) -> tuple[float, int, float]:
    """(seconds, bytes, CPU busy fraction) of all readers started together."""
    busy0, total0 = _cpu_busy()
    started = time.perf_counter()
    sizes = pool.starmap(fn, args)
    seconds = time.perf_counter() - started
    busy1, total1 = _cpu_busy()
    return seconds, sum(sizes), (busy1 - busy0) / max(1, total1 - total0)


def _best(pool: Any, fn: Any, args: list[tuple[Any, ...]], repeat: int) -> tuple[float, int, float]:
    runs = [_round(pool, fn, args) for _ in range(repeat)]
    return min(runs, key=lambda r: r[0])


def _replicas(action: str, folder: str, count: int, port: int, store: str, catalog: str) -> None:
    env = {**os.environ, "MOSAICO_SERVE_STORE": store, "MOSAICO_CATALOG": catalog,
           "MOSAICO_PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}  # fmt: skip
    subprocess.run(["bash", str(ROOT / "deploy" / "replicas.sh"), action, folder, str(count),
                    str(port)], env=env, check=True, capture_output=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="12 x 250 k rows")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per topic")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--port", type=int, default=17780, help="HAProxy's port (+1..+3)")
    args = parser.parse_args()
    rows = 250_000 if args.quick else args.rows
    with services() as (postgres, rgw), tempfile.TemporaryDirectory() as scratch:
        store, catalog = rgw.store_url(), postgres.catalog_url()
        started = time.perf_counter()
        build(store, catalog, rows)
        print(f"wrote {READERS} x {rows} rows to {store} in {time.perf_counter() - started:.1f} s"
              f"; {os.cpu_count()} cores")  # fmt: skip
        cat = Catalog(catalog)
        paths = [[c.path for c in cat.chunks_of(cat.get_topic(f"run-{i}", "t").id)]
                 for i in range(READERS)]  # fmt: skip
        cat.close()
        context = multiprocessing.get_context("spawn")
        with context.Pool(READERS) as pool:
            direct = _best(pool, read_direct, [(store, p) for p in paths], args.repeat)
            print(f"{'readers -> ':<28} {'seconds':>8} {'MB/s':>8} {'CPU busy':>9} {'x peer':>7}")
            peer_rate = direct[1] / direct[0] / MB
            print(f"{'pyarrow.fs direct (peer)':<28} {direct[0]:>8.2f} {peer_rate:>8.0f} "
                  f"{direct[2]:>9.0%} {1.0:>7.2f}")  # fmt: skip
            for count in (1, 2, 3):
                folder = f"{scratch}/replicas-{count}"
                _replicas("start", folder, count, args.port, store, catalog)
                try:
                    argv = [(args.port, i) for i in range(READERS)]
                    seconds, nbytes, busy = _best(pool, read_through, argv, args.repeat)
                finally:
                    _replicas("stop", folder, count, args.port, store, catalog)
                rate = nbytes / seconds / MB
                print(f"{f'{count} replica(s) via HAProxy':<28} {seconds:>8.2f} {rate:>8.0f} "
                      f"{busy:>9.0%} {rate / peer_rate:>7.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
