"""Catalog operations per second, PostgreSQL against SQLite in the same run, and the query
engine's catalog reads before and after the pushdown (``server/query/pushdown.py``).

For each backend a store is filled through the catalog, as uploads fill it (chunk files are
never written: only the catalog is measured): N sequences, each with a session, a topic of
20 leaves and 2 chunks of 20 leaf statistics each; 3 of them also hold a ``Rare`` topic.
Each operation's rate is its count over the time spent in it. Then, the store reopened (as
a server restarted on it), the reads: listing the N sequences, describing one (``Store.describe_sequence``), and queries, each timed on the
pushdown (one SQL query for the candidates, chunks ruled out in SQL) and on the Python path
it replaced (``tests/server/query/catalog_oracle.py``: every sequence listed, then its
topics, then each topic's chunks and all their statistics).

The SQLite catalog is a file, durable as served (``synchronous=FULL``); the PostgreSQL one
(durable: ``synchronous_commit=on``) a schema of a server started through
``deploy/postgres.sh`` for the run, or a fresh database on ``--postgres``, dropped after.
Run: ``python bench/bench_catalog.py`` (2,000 sequences), ``--quick`` (300),
``--sequences N``, ``--postgres postgresql://user@host:port``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
from timing import best_time

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the Python path, in tests/

from mosaico.protocol.commands import ResourceCommand  # noqa: E402
from mosaico.protocol.topic_type import TIMESTAMP  # noqa: E402
from mosaico.server.catalog import ChunkRow, ColumnStats, TopicRow  # noqa: E402
from mosaico.server.query.service import QueryService  # noqa: E402
from mosaico.server.store import Store, StoreConfig  # noqa: E402
from tests.scale.services import PostgresService, free_port_block  # noqa: E402
from tests.server.query.catalog_oracle import python_query  # noqa: E402

LEAVES = [f"v{i:02d}" for i in range(19)]
SCHEMA = pa.schema([pa.field(TIMESTAMP, pa.int64(), nullable=False),
                    *(pa.field(leaf, pa.float64()) for leaf in LEAVES)])  # fmt: skip
CHUNKS = 2  # per topic


class Rates:
    """Time spent in each operation and how many times it ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def time(self, name: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = call()
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        self.counts[name] = self.counts.get(name, 0) + 1
        return result

    def per_second(self, name: str) -> float:
        return self.counts[name] / self.seconds[name]


def _stats(ordinal: int) -> list[ColumnStats]:
    """20 leaf statistics: the timestamps, then values within [0, 1000)."""
    start = ordinal * 1000
    return [ColumnStats(TIMESTAMP, "int", 0, start, start + 999),
            *(ColumnStats(leaf, "real", 0, float(i), float(500 + i)) for i, leaf in
              enumerate(LEAVES))]  # fmt: skip


def _claim(topic: TopicRow) -> None:
    assert topic.state == "created"


def _topic(store: Store, rates: Rates, session: str, name: str, path: str, tag: str) -> None:
    catalog = store.catalog
    topic = rates.time("create topic", lambda: catalog.create_topic(session, name, path, tag,
                                                                    "default", {}))  # fmt: skip
    schema = SCHEMA.serialize().to_pybytes()
    rates.time("begin upload", lambda: catalog.begin_upload(name, path, schema, _claim,
                                                            store.server_id))  # fmt: skip
    for ordinal in range(CHUNKS):
        chunk_id = str(uuid.uuid4())
        row = ChunkRow(chunk_id, topic.id, ordinal, f"chunks/{chunk_id}.parquet", 1000, 10_000,
                       20_000, ordinal * 1000, ordinal * 1000 + 999)  # fmt: skip
        rates.time("add chunk (20 statistics)", partial(catalog.add_chunk, row, _stats(ordinal)))
    rates.time("end upload", lambda: catalog.end_upload(topic.id, ok=True))


def fill(store: Store, sequences: int) -> Rates:
    """The catalog of ``sequences`` sequences, each operation timed."""
    rates, catalog = Rates(), store.catalog
    for i in range(sequences):
        name = f"seq-{i:05d}"
        rates.time("create sequence", partial(catalog.create_sequence, name, {"index": i}))
        session = rates.time("create session",
                             partial(catalog.create_session, name, uuid.uuid4().hex))  # fmt: skip
        _topic(store, rates, session.id, name, "data", "Thing")
        if i % (sequences // 3) == 1:
            _topic(store, rates, session.id, name, "rare", "Rare")
        rates.time("finalize session", partial(catalog.finalize_session, session.id))
    return rates


def queries(sequences: int) -> dict[str, dict[str, Any]]:
    """The queries timed, by label (none reads a chunk file: all are pruned or absent)."""
    return {
        "name prefix (10 of N) + ontology": {
            "sequence": {"name": {"$match": "seq-0012*"}},
            "ontology": {"Thing.v03": {"$gt": 2000.0}},
        },
        "ontology over all N (chunks pruned)": {"ontology": {"Thing.v07": {"$gt": 2000.0}}},
        "topic tag (3 of N)": {"topic": {"ontology_tag": {"$eq": "Rare"}}},
        "created range (last 3)": {"sequence": {"created_at_ns": {"$geq": 0}}},  # set below
        "metadata index < 3 (all hold the key)": {
            "sequence": {"user_metadata": {"index": {"$lt": 3}}}
        },
    }


def measure(store: Store, sequences: int, repeat: int) -> dict[str, float]:
    """Seconds (best of ``repeat``) of each read, and of each query on both paths."""
    catalog = store.catalog
    out = {"list sequences": best_time(catalog.list_sequences, repeat, warmup=True)}
    describe = ResourceCommand(f"seq-{sequences // 2:05d}", None)
    out["describe a sequence"] = best_time(lambda: store.describe_sequence(describe),
                                           repeat * 20, warmup=True)  # fmt: skip
    bodies = queries(sequences)
    created = [s.created_at_ns for s in catalog.list_sequences()]
    bodies["created range (last 3)"]["sequence"]["created_at_ns"]["$geq"] = created[-3]
    for label, body in bodies.items():
        pushed = QueryService(store).query(body)
        assert pushed == python_query(store, body), label
        out[f"query: {label}"] = best_time(lambda b=body: QueryService(store).query(b), repeat)
        out[f"before: {label}"] = best_time(lambda b=body: python_query(store, b),
                                            max(1, repeat // 3))  # fmt: skip
    return out


@contextmanager
def postgres_catalog(server: str | None) -> Iterator[str]:
    """A fresh PostgreSQL catalog: a database made on ``server`` (dropped afterwards), or
    a schema of the server ``deploy/postgres.sh`` starts for this run (as the tests do)."""
    if server is None:
        service = PostgresService(free_port_block(1))
        try:
            service.start()
            yield service.catalog_url()
        finally:
            service.stop()
        return
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        try:
            yield f"{server}/{name}"
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(location: str, folder: str, sequences: int, repeat: int) -> tuple[Rates, dict[str, float]]:
    """Fill a store, then reopen it (as a server restarted on it: SQLite samples its planner
    statistics when it opens) and measure the reads."""
    store = Store.open(folder, location, StoreConfig())
    try:
        rates = fill(store, sequences)
    finally:
        store.close()
    store = Store.open(folder, location, StoreConfig())
    try:
        return rates, measure(store, sequences, repeat)
    finally:
        store.close()


def report(sequences: int, results: dict[str, tuple[Rates, dict[str, float]]]) -> None:
    (lite_rates, lite), (pg_rates, pg) = results["sqlite"], results["postgres"]
    print(f"\n{sequences} sequences; writes: ops/s over the fill; reads: best of several")
    print(f"{'operation':<52} {'SQLite ops/s':>12} {'PG ops/s':>10} {'PG/SQLite':>9}")
    for name in lite_rates.counts:
        a, b = lite_rates.per_second(name), pg_rates.per_second(name)
        print(f"{name:<52} {a:>12.0f} {b:>10.0f} {b / a:>9.2f}")
    for name in (n for n in lite if not n.startswith("before: ")):
        a, b = 1 / lite[name], 1 / pg[name]
        print(f"{name:<52} {a:>12.1f} {b:>10.1f} {b / a:>9.2f}")
    print("\nquery seconds: the Python path (before) and the pushdown (after)")
    print(f"{'query':<42} {'SQLite before':>13} {'after':>8} {'x':>6} {'PG before':>10} "
          f"{'after':>8} {'x':>6}")  # fmt: skip
    for name in (n[len("query: ") :] for n in lite if n.startswith("query: ")):
        lb, la, pb, pa_ = lite[f"before: {name}"], lite[f"query: {name}"], pg[f"before: {name}"], \
            pg[f"query: {name}"]  # fmt: skip
        print(f"{name:<42} {lb:>13.4f} {la:>8.4f} {lb / la:>6.0f} {pb:>10.4f} {pa_:>8.4f} "
              f"{pb / pa_:>6.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int)
    parser.add_argument("--quick", action="store_true", help="300 sequences")
    parser.add_argument(
        "--postgres",
        help="a server to make the database on (postgresql://"
        "user@host:port); by default one is started through deploy/",
    )
    args = parser.parse_args()
    sequences = args.sequences or (300 if args.quick else 2000)
    repeat = 3 if args.quick else 6
    results = {}
    with tempfile.TemporaryDirectory(prefix="mosaico-bench-catalog-") as folder:
        results["sqlite"] = run(f"{folder}/catalog.sqlite3", f"{folder}/lite", sequences, repeat)
        with postgres_catalog(args.postgres) as uri:
            results["postgres"] = run(uri, f"{folder}/pg", sequences, repeat)
    report(sequences, results)


if __name__ == "__main__":
    main()
