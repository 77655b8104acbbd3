"""What durability costs: `mosaico serve` (fsync of chunk files and folders, catalog
synchronous=FULL) next to `mosaico serve --no-fsync` on the same disk, in the same run.

* Large columnar upload: MiB/s of a DoPut that rolls 16 MiB chunks, each one fsynced before
  its catalog commit.
* Small sessions: create a session and a topic, upload one small batch, finalize; the
  latency of the whole round and of ``session_finalize`` alone (one synchronous commit).

Both servers run at once and the runs alternate, so machine noise hits both alike. Run:
``python bench/bench_durability.py`` (or ``--quick``; ``--dir`` picks the disk measured, by
default the temporary folder's).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
from bench_server import MiB, action, batches_of, columnar_table, mosaico_serve, process

from mosaico.server.launch import free_port

MODES = {"fsync": (), "no-fsync": ("--no-fsync",)}


class Target:
    """One server under test: its client, its sequence, and a counter for topic names."""

    def __init__(self, port: int) -> None:
        self.client = flight.FlightClient(f"grpc://127.0.0.1:{port}")
        action(self.client, "sequence_create", {"locator": "bench", "user_metadata": {}})
        self._count = 0

    def session(self) -> str:
        return str(action(self.client, "session_create", {"locator": "bench"})["uuid"])

    def put(self, session: str, table: pa.Table, batches: list[pa.RecordBatch]) -> None:
        locator = f"bench/t{self._count}"
        self._count += 1
        uuid = action(self.client, "topic_create", {
            "session_uuid": session, "locator": locator, "serialization_format": "default",
            "ontology_tag": "Bench", "user_metadata": {},
        })["uuid"]  # fmt: skip
        cmd = json.dumps({"resource_locator": locator, "topic_uuid": uuid})
        writer, _ = self.client.do_put(flight.FlightDescriptor.for_command(cmd), table.schema)
        for batch in batches:
            writer.write_batch(batch)
        writer.close()

    def finalize(self, session: str) -> float:
        """Seconds ``session_finalize`` took."""
        started = time.perf_counter()
        action(self.client, "session_finalize", {"session_uuid": session})
        return time.perf_counter() - started


@contextmanager
def targets(folder: str | None) -> Iterator[dict[str, Target]]:
    """One `mosaico serve` per mode, each on its own store under ``folder``."""
    with ExitStack() as stack:
        out = {}
        for mode, options in MODES.items():
            store = stack.enter_context(tempfile.TemporaryDirectory(dir=folder))
            port = free_port()
            stack.enter_context(process(mosaico_serve(store, port, *options), port))
            out[mode] = Target(port)
        yield out
        for target in out.values():
            target.client.close()


def alternate(runs: dict[str, Callable[[], float]], repeat: int) -> dict[str, list[float]]:
    """``repeat`` rounds, each running every mode once; each run returns its seconds."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            times[name].append(run())
    return times


def bench_large(servers: dict[str, Target], rows: int, repeat: int) -> tuple[float, dict[str, Any]]:
    table = columnar_table(rows)
    batches = batches_of(table, 8 * MiB)

    def upload(target: Target) -> float:
        session = target.session()
        started = time.perf_counter()
        target.put(session, table, batches)
        spent = time.perf_counter() - started
        target.finalize(session)
        return spent

    runs = {mode: (lambda t=target: upload(t)) for mode, target in servers.items()}
    return table.nbytes / MiB, alternate(runs, repeat)


def bench_small(
    servers: dict[str, Target], rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    table = columnar_table(1000)
    batches = batches_of(table, 8 * MiB)
    finalize: dict[str, list[float]] = {mode: [] for mode in servers}

    def small(mode: str, target: Target) -> float:
        started = time.perf_counter()
        session = target.session()
        target.put(session, table, batches)
        finalize[mode].append(target.finalize(session))
        return time.perf_counter() - started

    runs = {mode: (lambda m=mode, t=target: small(m, t)) for mode, target in servers.items()}
    return alternate(runs, rounds), finalize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repetitions")
    parser.add_argument("--dir", help="folder on the disk to measure (default: the temp folder)")
    args = parser.parse_args()
    rows, repeat, rounds = (1_000_000, 3, 30) if args.quick else (5_000_000, 5, 100)

    with targets(args.dir) as servers:
        mib, large = bench_large(servers, rows, repeat)
        whole, finalize = bench_small(servers, rounds)

    report(rows, repeat, rounds, mib, large, whole, finalize)


def row(label: str, *values: float, digits: int = 2) -> None:
    print(f"    {label:50}" + "".join(f" {v:8.{digits}f}" for v in values))


def report(
    rows: int, repeat: int, rounds: int, mib: float, large: dict[str, list[float]],
    whole: dict[str, list[float]], finalize: dict[str, list[float]],
) -> None:  # fmt: skip
    print(f"durability cost, same disk, same run ({repeat} alternating large uploads)")
    print(f"  {f'large upload: {rows:,} rows, {mib:.0f} MiB, MiB/s':52} {'best':>8} {'median':>8}")
    for mode, times in large.items():
        row(f"mosaico serve --{mode}", mib / min(times), mib / float(np.median(times)), digits=0)
    best = min(large["no-fsync"]) / min(large["fsync"])
    median = float(np.median(large["no-fsync"])) / float(np.median(large["fsync"]))
    row("throughput ratio fsync/no-fsync", best, median)
    title = f"small sessions, {rounds} rounds (session, topic, 1,000 rows, finalize), ms"
    print(f"  {title:52} {'median':>8} {'p90':>8}")
    for label, data in [("whole round", whole), ("session_finalize", finalize)]:
        for mode, times in data.items():
            ms = np.array(times) * 1e3
            row(f"{label} --{mode}", float(np.median(ms)), float(np.percentile(ms, 90)))
        ratio = float(np.median(data["fsync"])) / float(np.median(data["no-fsync"]))
        row(f"{label} latency ratio fsync/no-fsync", ratio)


if __name__ == "__main__":
    main()
