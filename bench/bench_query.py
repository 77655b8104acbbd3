"""Content queries: chunk pruning + projection + early exit, against a brute-force scan.

Builds (or reuses) a store of synthetic IMU and GPS topics in many sequences, written through
our server, then runs selective and broad queries with the engine (``QueryService``) and
with a brute-force peer in the same run: read every chunk file in full and evaluate the same
condition over all rows, no statistics, no projection, no early exit. Prints chunks read and
pruned, data bytes read, time, and the ratio; the answers of both must agree.

Run: ``python bench/bench_query.py`` (>= 1 GiB of Arrow data), ``--gib 2``, ``--quick``
(~64 MiB), ``--store DIR`` to keep and reuse the store between runs. ``--scale`` puts the
store on the scale-out stack instead: chunk files in a Ceph RGW bucket and the catalog in
PostgreSQL, both started for the run through ``deploy/`` (as the tests start them), so the
chunks and bytes read are fetched from S3.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight
from scale_stack import scale_stack

from mosaico.server import EmbeddedServer, StoreConfig
from mosaico.server.query.service import QueryService
from mosaico.server.store import Store
from mosaico.types import GPS, IMU

MiB = 1024 * 1024
T0 = 1_700_000_000_000_000_000
BATCH_ROWS = 16_384  # one uploaded batch = one chunk (chunk_bytes is small)
SPIKE = 50.0  # acceleration.x of the rare events the selective query looks for


def _fill(dtype: pa.DataType, n: int, rng: np.random.Generator, null: bool = False) -> pa.Array:
    """A column of ``dtype``: numbers drawn at random; headers and lists are null. A null
    struct still gets valid children (Parquet refuses nulls in non-nullable children)."""
    if pa.types.is_struct(dtype):
        children = [
            _fill(f.type, n, rng, null=f.name == "header" or pa.types.is_list(f.type))
            for f in dtype
        ]
        mask = pa.array(np.ones(n, dtype=bool)) if null else None
        return pa.StructArray.from_arrays(children, fields=list(dtype), mask=mask)
    if null and pa.types.is_list(dtype):
        return pa.nulls(n, dtype)
    if pa.types.is_floating(dtype):
        return pa.array(rng.normal(0.0, 1.0, n)).cast(dtype)
    if pa.types.is_integer(dtype):
        return pa.array(rng.integers(0, 13, n)).cast(dtype)
    return pa.nulls(n, dtype) if null else pa.array([""] * n, dtype)


def _batch(cls: Any, start: int, n: int, rng: np.random.Generator, period_ns: int,
           spike: bool) -> pa.RecordBatch:  # fmt: skip
    schema: pa.Schema = cls.ARROW_SCHEMA
    columns = [pa.array(T0 + (start + np.arange(n)) * period_ns, pa.int64())]
    for field in list(schema)[1:]:
        column = _fill(field.type, n, rng, null=field.name == "header")
        if spike and field.name == "acceleration":
            # A short burst of large values in this batch only.
            x = column.field("x").to_numpy(zero_copy_only=False).copy()
            at = int(rng.integers(0, n - 100))
            x[at : at + 100] = SPIKE
            arrays = [pa.array(x) if f.name == "x" else column.field(f.name) for f in field.type]
            column = pa.StructArray.from_arrays(arrays, fields=list(field.type))
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _action(client: flight.FlightClient, name: str, body: dict[str, Any]) -> Any:
    results = client.do_action(flight.Action(name, json.dumps(body).encode()))
    return json.loads(b"".join(r.body.to_pybytes() for r in results))["response"]


def build_store(folder: str, target_bytes: int, sequences: int, catalog: str | None = None
                ) -> None:  # fmt: skip
    """Sequences of one IMU (200 Hz) and one GPS (10 Hz) topic; spikes in every 16th."""
    rng = np.random.default_rng(7)
    row_bytes = _batch(IMU, 0, 1000, rng, 1, False).nbytes / 1000
    imu_rows = max(BATCH_ROWS, int(target_bytes / row_bytes / sequences))
    config = StoreConfig(chunk_bytes=1, row_group_bytes=MiB)  # a chunk per uploaded batch
    with EmbeddedServer(folder, config=config, catalog=catalog) as (host, port):
        client = flight.FlightClient(f"grpc://{host}:{port}")
        for s in range(sequences):
            name = f"run-{s:04d}"
            _action(client, "sequence_create", {"locator": name, "user_metadata": {"index": s}})
            session = _action(client, "session_create", {"locator": name})
            spiky_batch = int(rng.integers(0, imu_rows // BATCH_ROWS)) if s % 16 == 0 else -1
            for cls, path, rows, period in (
                (IMU, "imu", imu_rows, 5_000_000),
                (GPS, "gps", imu_rows // 20, 100_000_000),
            ):
                topic = _action(client, "topic_create", {
                    "session_uuid": session["uuid"], "locator": f"{name}/{path}",
                    "serialization_format": "default", "ontology_tag": cls.TAG,
                    "user_metadata": {}})  # fmt: skip
                command = {"resource_locator": f"{name}/{path}", "topic_uuid": topic["uuid"]}
                descriptor = flight.FlightDescriptor.for_command(json.dumps(command))
                writer, _ = client.do_put(descriptor, cls.ARROW_SCHEMA)
                for k, start in enumerate(range(0, rows, BATCH_ROWS)):
                    n = min(BATCH_ROWS, rows - start)
                    writer.write_batch(_batch(cls, start, n, rng, period, k == spiky_batch))
                writer.close()
            _action(client, "session_finalize", {"session_uuid": session["uuid"]})
        client.close()


def brute_force(store: Store, tag: str, column: str, test: Callable[[pa.Array], pa.Array]
                ) -> tuple[list[str], int, int]:  # fmt: skip
    """Matching topic locators by reading every chunk of every topic in full."""
    catalog = store.catalog
    matched, chunks, nbytes = [], 0, 0
    for seq in catalog.list_sequences():
        for topic in catalog.topics_of(seq.id):
            if topic.ontology_tag != tag:
                continue
            hit = False
            for chunk in catalog.chunks_of(topic.id):
                table = store.chunks.open_chunk(chunk.path).read()
                chunks += 1
                nbytes += table.nbytes
                values = table.column(column.split(".")[0])
                for name in column.split(".")[1:]:
                    values = pc.struct_field(values, name)
                hit |= bool(pc.any(pc.fill_null(test(values), False)).as_py())
            if hit:
                matched.append(topic.locator)
    return sorted(matched), chunks, nbytes


REPEAT = 3  # best of: the first pass warms the OS page cache and SQLite for both sides


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    """(result, fastest wall time) of ``repeat`` calls."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return result, best


def _engine(store: Store, body: dict[str, Any]) -> tuple[dict[str, Any], QueryService]:
    service = QueryService(store)
    return service.query(body), service


def run(store: Store) -> None:
    cases = [
        ("selective: IMU.acceleration.x > 40", "IMU", "acceleration.x", {"$gt": 40.0},
         lambda a: pc.greater(a, 40.0)),
        ("broad: IMU.acceleration.y in [-1, 1]", "IMU", "acceleration.y", {"$between": [-1.0, 1.0]},
         lambda a: pc.and_(pc.greater_equal(a, -1.0), pc.less_equal(a, 1.0))),
        ("rare rows: GPS.status.hdop > 3.5", "GPS", "status.hdop",
         {"$gt": 3.5}, lambda a: pc.greater(a, 3.5)),
    ]  # fmt: skip
    header = (
        f"{'query':<62} {'chunks read/pruned':>19} {'row groups skipped':>18} {'MiB read':>9} "
        f"{'seconds':>8} {'x faster':>8}"
    )
    print(header)
    for label, tag, column, condition, test in cases:
        body = {"ontology": {f"{tag}.{column}": condition}}
        (answer, service), ours = best_of(functools.partial(_engine, store, body), REPEAT)
        locators = sorted(t["locator"] for item in answer["items"] for t in item["topics"])
        scan_all = functools.partial(brute_force, store, tag, column, test)
        (expected, chunks, nbytes), scan = best_of(scan_all, REPEAT)
        assert locators == expected, (label, len(locators), len(expected))
        c = service.counters
        print(f"{label:<62} {c.chunks_read:>9}/{c.chunks_pruned:<9} {c.parts_pruned:>18} "
              f"{c.bytes_read / MiB:>9.1f} {ours:>8.3f} {'':>8}")  # fmt: skip
        print(f"{'  brute-force scan (' + str(len(expected)) + ' topics match)':<62} "
              f"{chunks:>9}/{0:<9} {0:>18} {nbytes / MiB:>9.1f} {scan:>8.3f} "
              f"{scan / ours:>8.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gib", type=float, default=1.0, help="Arrow data to generate")
    parser.add_argument("--sequences", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="~64 MiB, 16 sequences")
    parser.add_argument("--store", help="store folder to create or reuse")
    parser.add_argument("--scale", action="store_true", help="S3 (Ceph RGW) + PostgreSQL")
    args = parser.parse_args()
    target = int((1 / 16 if args.quick else args.gib) * 1024 * MiB)
    sequences = 16 if args.quick else args.sequences
    if args.scale:
        with scale_stack() as (store, catalog):
            bench(store, target, sequences, catalog)
    elif args.store:
        bench(args.store, target, sequences)
    else:
        with tempfile.TemporaryDirectory(prefix="mosaico-bench-query-") as folder:
            bench(folder, target, sequences)


def bench(where: str, target: int, sequences: int, catalog: str | None = None) -> None:
    if catalog is not None or not os.path.exists(os.path.join(where, "catalog.sqlite3")):
        started = time.perf_counter()
        build_store(where, target, sequences, catalog)
        print(f"built {where} in {time.perf_counter() - started:.1f} s")
    store = Store.open(where, catalog)
    try:
        catalog = store.catalog
        totals = catalog.totals(
            [t.id for s in catalog.list_sequences() for t in catalog.topics_of(s.id)]
        )
        arrow = sum(t.arrow_bytes for t in totals.values())
        files = sum(t.file_bytes for t in totals.values())
        chunks = sum(t.chunk_count for t in totals.values())
        print(f"store: {len(catalog.list_sequences())} sequences, {chunks} chunks, "
              f"{arrow / MiB:.0f} MiB Arrow, {files / MiB:.0f} MiB Parquet")  # fmt: skip
        run(store)
    finally:
        store.close()


if __name__ == "__main__":
    main()
