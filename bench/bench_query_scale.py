"""Replies and listings at scale, against a `mosaico serve` process.

``clusters``: a topic of N rows spaced so that every row is its own cluster;
``topic_filter_clusterize`` (N pages) and ``topic_filter_intersect`` of the topic with itself
(N pages). Prints the server's resident memory before the call and its peak during it
(``VmHWM`` of the process), the time to the first page and to the last, and the growth per
page, against the peer of the same run: the bytes of the reply itself.

``metadata``: K sequences with a user-metadata document of M MB each among S small ones.
Prints the time of ``ListFlights``, of a ``query`` on topics only, and of a ``query`` on a
metadata key, against the peer of the same run: the same calls on a store holding the same
sequences with small metadata.

Run: ``python bench/bench_query_scale.py`` (1 M clusters; 3 x 20 MB of metadata),
``--quick`` (100 k clusters; 3 x 5 MB), ``--only clusters|metadata``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
from timing import best_time

from mosaico.server import EmbeddedServer
from mosaico.server.launch import serve_process

MiB = 1024 * 1024
SCHEMA = pa.schema([pa.field("timestamp_ns", pa.int64(), nullable=False), ("value", pa.float64())])


def _action(client: flight.FlightClient, name: str, body: dict[str, Any]) -> Any:
    results = client.do_action(flight.Action(name, json.dumps(body).encode()))
    return json.loads(b"".join(r.body.to_pybytes() for r in results))["response"]


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return 0


def _sequence(client: flight.FlightClient, name: str, metadata: dict[str, Any],
              rows: int) -> None:  # fmt: skip
    """A sequence with one topic ``t`` of ``rows`` rows 1000 ns apart (value = row index)."""
    _action(client, "sequence_create", {"locator": name, "user_metadata": metadata})
    session = _action(client, "session_create", {"locator": name})
    topic = _action(client, "topic_create", {
        "session_uuid": session["uuid"], "locator": f"{name}/t", "serialization_format":
        "default", "ontology_tag": "Thing", "user_metadata": {}})  # fmt: skip
    command = {"resource_locator": f"{name}/t", "topic_uuid": topic["uuid"]}
    writer, _ = client.do_put(flight.FlightDescriptor.for_command(json.dumps(command)), SCHEMA)
    for start in range(0, rows, 1 << 18):
        index = np.arange(start, min(rows, start + (1 << 18)))
        writer.write_batch(pa.record_batch([pa.array(index * 1000), pa.array(index * 1.0)],
                                           schema=SCHEMA))  # fmt: skip
    writer.close()
    _action(client, "session_finalize", {"session_uuid": session["uuid"]})


@contextmanager
def _served(folder: str) -> Iterator[tuple[flight.FlightClient, int]]:
    """A fresh `mosaico serve` over ``folder``: (client, server pid)."""
    with serve_process(folder) as (proc, port):
        client = flight.FlightClient(f"grpc://127.0.0.1:{port}")
        try:
            yield client, proc.pid
        finally:
            client.close()


def _paged(client: flight.FlightClient, pid: int, name: str, body: dict[str, Any]) -> None:
    """One paged action, its pages counted as they arrive; prints the server's memory."""
    rss = _status_kib(pid, "VmRSS")
    peak_before = _status_kib(pid, "VmHWM")
    started = time.perf_counter()
    first, pages, nbytes = None, 0, 0
    for result in client.do_action(flight.Action(name, json.dumps(body).encode())):
        if first is None:
            first = time.perf_counter() - started
        pages += 1
        nbytes += result.body.size
    total = time.perf_counter() - started
    peak = _status_kib(pid, "VmHWM")
    growth = max(0, peak - max(rss, peak_before)) * 1024
    print(f"{name:<25} {pages:>9} {nbytes / MiB:>9.1f} {rss / 1024:>9.0f} {peak / 1024:>9.0f} "
          f"{growth / MiB:>9.1f} {growth / max(1, pages):>8.0f} {growth / max(1, nbytes):>7.2f} "
          f"{first or 0:>7.2f} {total:>7.2f}")  # fmt: skip


def bench_clusters(clusters: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mosaico-bench-scale-") as folder:
        with EmbeddedServer(folder) as (host, port):
            client = flight.FlightClient(f"grpc://{host}:{port}")
            _sequence(client, "many", {}, clusters)
            client.close()
        print(f"{clusters} one-row clusters; server memory in MiB; 'B/page' and 'x reply' are "
              "the peak growth per page and per byte of reply")  # fmt: skip
        print(
            f"{'action':<25} {'pages':>9} {'reply MiB':>9} {'RSS':>9} {'peak':>9} "
            f"{'growth':>9} {'B/page':>8} {'x reply':>7} {'first s':>7} {'total s':>7}"
        )
        clusterize = {"locator": "many/t", "clustering_dt_ns": 1}
        for name, body in (
            ("topic_filter_clusterize", clusterize),
            ("topic_filter_intersect", {"topics": [clusterize, clusterize], "intersect_dt_ns": 0}),
        ):
            with _served(folder) as (client, pid):
                _action(client, "topic_filter_clusterize", {"locator": "many/t",
                        "timestamp_range": {"start_ns": 0, "end_ns": 1}})  # fmt: skip
                _paged(client, pid, name, body)


def _metadata_store(folder: str, big: int, small: int, mb: float) -> None:
    with EmbeddedServer(folder) as (host, port):
        client = flight.FlightClient(f"grpc://{host}:{port}")
        items = max(1, int(mb * MiB / 40))
        for i in range(big + small):
            filler = {f"k{j:07d}": "x" * 24 for j in range(items)} if i < big else {}
            _sequence(client, f"seq-{i:04d}", {"index": i, "filler": filler}, 10)
        client.close()


def _timed_calls(folder: str) -> list[float]:
    with _served(folder) as (client, _):

        def listing() -> None:
            assert len(list(client.list_flights())) > 0

        def topics() -> None:
            _action(client, "query", {"topic": {"ontology_tag": {"$eq": "Thing"}}})

        def metadata() -> None:
            _action(client, "query", {"sequence": {"user_metadata": {"index": {"$lt": 2}}}})

        return [best_time(fn, 5, warmup=True) for fn in (listing, topics, metadata)]


def bench_metadata(big: int, small: int, mb: float) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="mosaico-bench-meta-") as folder,
        tempfile.TemporaryDirectory(prefix="mosaico-bench-meta-peer-") as peer,
    ):
        _metadata_store(folder, big, small, mb)
        _metadata_store(peer, big, small, 0)
        ours, plain = _timed_calls(folder), _timed_calls(peer)
    print(f"{big} sequences with {mb:g} MB of metadata among {small} small ones; seconds "
          "(best of 5); peer: the same sequences with small metadata")  # fmt: skip
    print(f"{'call':<34} {'big metadata':>12} {'small':>8} {'x slower':>8}")
    for label, a, b in zip(("ListFlights", "query on topics", "query on user_metadata.index"),
                           ours, plain, strict=True):  # fmt: skip
        print(f"{label:<34} {a:>12.4f} {b:>8.4f} {a / b:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clusters", type=int)
    parser.add_argument("--only", choices=("clusters", "metadata"))
    args = parser.parse_args()
    if args.only != "metadata":
        bench_clusters(args.clusters or (100_000 if args.quick else 1_000_000))
    if args.only != "clusters":
        bench_metadata(3, 50, 5 if args.quick else 20)


if __name__ == "__main__":
    main()
