"""Upload (DoPut) and DoGet through the platform on S3, against raw ``pyarrow.fs`` writes and
reads of the same Parquet bytes to the same gateway, and against the local store.

The stack is started for the run through ``deploy/`` (a Ceph RGW and a PostgreSQL server,
as the tests start them). Each round uploads one topic through an in-process server over
loopback gRPC, then reads it back whole with DoGet:

* ``s3``: chunk files in the RGW bucket, catalog in PostgreSQL (the scale-out store);
* ``raw``: the peer. The very Parquet files the ``s3`` round wrote, read from the bucket
  once, then PUT to a fresh prefix with ``open_output_stream`` (the write) and read back
  and decoded with ``pyarrow.parquet`` (the read), no server, no gRPC;
* ``local``: the embedded default, a folder with SQLite (fsync on).

Rounds alternate, so the machine's noise hits each alike; the best of ``--repeat`` is kept.
MB/s are of the topic's Arrow bytes. Run: ``python bench/bench_s3_server.py`` (256 MB
topic) or ``--quick`` (64 MB).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Callable

import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq
from bench_server import action, batches_of, columnar_table
from scale_stack import services

from mosaico.server import EmbeddedServer
from mosaico.server.object_store import open_filesystem
from mosaico.server.store import Store

MB = 1e6


def platform_round(store: str, catalog: str | None, table: pa.Table) -> tuple[float, float]:
    """(upload seconds, DoGet seconds) of ``table`` as one topic of a new sequence."""
    batches = batches_of(table, 4 * 1024 * 1024)
    with EmbeddedServer(store, catalog=catalog) as (host, port):
        client = flight.FlightClient(f"grpc://{host}:{port}")
        name = f"run-{uuid.uuid4().hex[:8]}"
        action(client, "sequence_create", {"locator": name, "user_metadata": {}})
        session = action(client, "session_create", {"locator": name})
        topic = action(
            client,
            "topic_create",
            {
                "session_uuid": session["uuid"],
                "locator": f"{name}/t",
                "serialization_format": "default",
                "ontology_tag": "Thing",
                "user_metadata": {},
            },
        )
        command = {"resource_locator": f"{name}/t", "topic_uuid": topic["uuid"]}
        started = time.perf_counter()
        writer, _ = client.do_put(flight.FlightDescriptor.for_command(json.dumps(command)),
                                  table.schema)  # fmt: skip
        for batch in batches:
            writer.write_batch(batch)
        writer.close()
        upload = time.perf_counter() - started
        action(client, "session_finalize", {"session_uuid": session["uuid"]})
        started = time.perf_counter()
        info = client.get_flight_info(flight.FlightDescriptor.for_command(
            json.dumps({"resource_locator": f"{name}/t"})))  # fmt: skip
        read = client.do_get(info.endpoints[0].ticket).read_all()
        doget = time.perf_counter() - started
        assert read.num_rows == table.num_rows
        client.close()
    return upload, doget


def chunk_files(store: str, catalog: str) -> list[bytes]:
    """The bytes of every chunk file of the store's last sequence (what the server wrote)."""
    opened = Store.open(store, catalog)
    try:
        last = opened.catalog.list_sequences()[-1]
        [topic] = opened.catalog.topics_of(last.id)
        location = open_filesystem(store)
        files = []
        for chunk in opened.catalog.chunks_of(topic.id):
            with location.fs.open_input_stream(f"{location.root}/{chunk.path}") as source:
                files.append(source.read())
        return files
    finally:
        opened.close()


def raw_round(store: str, files: list[bytes]) -> tuple[float, float]:
    """(PUT seconds, GET + decode seconds) of ``files`` under a fresh prefix, no server."""
    location = open_filesystem(store)
    prefix = f"{location.root}/raw-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    for i, data in enumerate(files):
        with location.fs.open_output_stream(f"{prefix}/{i}.parquet") as out:
            out.write(data)
    put = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(len(files)):
        with location.fs.open_input_file(f"{prefix}/{i}.parquet") as source:
            pq.read_table(pa.BufferReader(source.read()))
    get = time.perf_counter() - started
    return put, get


def _best(rounds: list[tuple[float, float]]) -> tuple[float, float]:
    return min(r[0] for r in rounds), min(r[1] for r in rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 64 MB topic")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    table = columnar_table(1_000_000 if args.quick else 4_000_000)
    size = table.nbytes / MB
    results: dict[str, list[tuple[float, float]]] = {"s3": [], "raw": [], "local": []}
    with services() as (postgres, rgw), tempfile.TemporaryDirectory() as scratch:
        store, catalog = rgw.store_url(), postgres.catalog_url()
        platform_round(store, catalog, table)  # warm-up: the cluster's first big writes
        files = chunk_files(store, catalog)
        rounds: dict[str, Callable[[], tuple[float, float]]] = {
            "s3": lambda: platform_round(store, catalog, table),
            "raw": lambda: raw_round(store, files),
            "local": lambda: platform_round(f"{scratch}/local", None, table),
        }
        for _ in range(args.repeat):
            for mode, run in rounds.items():
                results[mode].append(run())
    best = {mode: _best(r) for mode, r in results.items()}
    print(f"one topic of {size:.0f} MB ({table.num_rows} rows, {len(files)} chunk files); "
          f"MB/s of Arrow data, best of {args.repeat}")  # fmt: skip
    print(f"{'':<34} {'upload':>8} {'DoGet':>8}")
    labels = {"s3": "mosaico on S3 + PostgreSQL", "raw": "raw pyarrow.fs, same bytes (peer)",
              "local": "mosaico on a local folder"}  # fmt: skip
    for mode, (up, get) in best.items():
        print(f"{labels[mode]:<34} {size / up:>8.0f} {size / get:>8.0f}")
    s3, raw, local = best["s3"], best["raw"], best["local"]
    print(f"{'S3 vs raw pyarrow.fs':<34} {raw[0] / s3[0]:>8.0%} {raw[1] / s3[1]:>8.0%}")
    print(f"{'S3 vs local store':<34} {local[0] / s3[0]:>8.0%} {local[1] / s3[1]:>8.0%}")


if __name__ == "__main__":
    main()
