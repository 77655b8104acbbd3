"""What S3 costs the chunk store: ``ChunkStore`` writes and reads of one 16 MiB Parquet chunk
on S3 next to raw ``pyarrow.fs`` writes and reads of the same bytes to the same endpoint,
and next to the chunk store on a local folder (fsync on), in the same run.

* write: ``ChunkStore.write_chunk`` (Parquet encoding included) against a raw PUT of the
  encoded bytes (``open_output_stream``), MiB of file per second.
* read: ``ChunkStore.open_chunk`` decoded as the reader does (``whole=True``, then
  ``iter_batches``), against a raw GET of the bytes (``open_input_file().read()``); and
  the chunk read pre-buffered (``whole=False``), without pre-buffering (the default of
  pyarrow before 25), and one column only (a query's read).

The S3 endpoint is a one-node Ceph RGW started here through ``deploy/ceph-rgw.sh`` (about
20 s, in a temporary folder, stopped at the end), unless ``--endpoint-from-env`` uses the one
the AWS variables name (bucket ``--bucket``). Runs alternate between modes, so machine noise
hits all alike. Run: ``python bench/bench_s3_storage.py`` (or ``--quick``).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
import uuid
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from bench_server import MiB, columnar_table
from scale_stack import gateway

from mosaico.server.durability import LocalSync
from mosaico.server.object_store import open_filesystem
from mosaico.server.storage import ChunkStore, WriteOptions

ROWS = 262_144  # 64 bytes a row: a 16 MiB chunk, the server's default
ROW_GROUP_ROWS = ROWS // 2  # 8 MiB row groups, the server's default
SMALL_ROWS = 1_000  # a small chunk (64 KiB): a short topic, the tail of an upload


def rate(fn: Callable[[], int]) -> float:
    """MiB/s of one run of ``fn`` (which returns the bytes it moved)."""
    started = time.perf_counter()
    moved = fn()
    return moved / MiB / (time.perf_counter() - started)


def latency(fn: Callable[[], int]) -> float:
    """Milliseconds of one run of ``fn``."""
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1e3


def alternate(
    runs: dict[str, Callable[[], int]], repeat: int, measure: Callable[[Callable[[], int]], float]
) -> dict[str, list[float]]:
    """One warm-up run of each, then ``repeat`` rounds running each once."""
    for run in runs.values():  # connections, caches
        run()
    values: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            values[name].append(measure(run))
    return values


class Target:
    """One chunk store and the raw filesystem under it, with the chunk written once."""

    def __init__(self, store: ChunkStore, table: pa.Table, options: WriteOptions) -> None:
        self.store, self.table, self.options = store, table, options
        store.prepare()
        self.topic = str(uuid.uuid4())
        self.written = store.write_chunk(
            self.topic, str(uuid.uuid4()), table, options, ROW_GROUP_ROWS
        )
        self.raw_key = f"{store.root}/raw-{uuid.uuid4().hex}"
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, compression="none",
                       write_statistics=options.write_statistics)  # fmt: skip
        self.data = sink.getvalue()
        self.extra: list[str] = []

    def chunk_write(self) -> int:
        written = self.store.write_chunk(
            self.topic, str(uuid.uuid4()), self.table, self.options, ROW_GROUP_ROWS
        )
        self.extra.append(written.path)  # deleted at the end, not while timed
        return written.file_bytes

    def raw_write(self) -> int:
        with self.store.fs.open_output_stream(self.raw_key) as out:
            out.write(self.data)
        return self.data.size

    def chunk_read(self, whole: bool, columns: list[str] | None = None) -> int:
        return self._decode(self.store.open_chunk(self.written.path, whole=whole), columns)

    def unbuffered_read(self) -> int:
        source = self.store.fs.open_input_file(f"{self.store.root}/{self.written.path}")
        return self._decode(pq.ParquetFile(source, pre_buffer=False), None)

    def _decode(self, pf: pq.ParquetFile, columns: list[str] | None) -> int:
        for _ in pf.iter_batches(batch_size=65_536, columns=columns, use_threads=False):
            pass
        pf.close()
        return self.written.file_bytes

    def raw_read(self) -> int:
        with self.store.fs.open_input_file(self.raw_key) as f:
            return len(f.read())


def small_modes(s3: Target, local: Target) -> dict[str, Callable[[], int]]:
    return {
        "S3 ChunkStore.write_chunk": s3.chunk_write,
        "S3 raw PUT of the same bytes": s3.raw_write,
        "local ChunkStore.write_chunk (fsync)": local.chunk_write,
        "S3 open_chunk(whole=True), decoded": lambda: s3.chunk_read(whole=True),
        "local open_chunk, decoded": lambda: local.chunk_read(whole=True),
    }


def modes(s3: Target, local: Target) -> dict[str, Callable[[], int]]:
    return {
        "S3 write, ChunkStore.write_chunk": s3.chunk_write,
        "S3 write, raw PUT of the same bytes": s3.raw_write,
        "local write, ChunkStore.write_chunk (fsync)": local.chunk_write,
        "S3 read, open_chunk(whole=True), decoded": lambda: s3.chunk_read(whole=True),
        "S3 read, raw GET of the same bytes": s3.raw_read,
        "S3 read, open_chunk pre-buffered, decoded": lambda: s3.chunk_read(whole=False),
        "S3 read, no pre-buffering (pyarrow < 25)": s3.unbuffered_read,
        "S3 read, open_chunk, one column (a query's)": lambda: s3.chunk_read(
            whole=False, columns=["timestamp_ns"]
        ),
        "local read, open_chunk, decoded": lambda: local.chunk_read(whole=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--endpoint-from-env", action="store_true",
                        help="use the S3 endpoint of the AWS variables, do not start one")  # fmt: skip
    parser.add_argument("--bucket", default="mosaico", help="bucket on that endpoint")
    args = parser.parse_args()
    repeat = 3 if args.quick else 10
    table = columnar_table(ROWS)
    options = WriteOptions.for_schema(table.schema, "default", "none")
    service = contextlib.nullcontext() if args.endpoint_from_env else gateway()
    with service, tempfile.TemporaryDirectory() as folder:
        location = open_filesystem(f"s3://{args.bucket}/bench-{uuid.uuid4().hex[:8]}")
        s3 = Target(ChunkStore(location.fs, location.root), table, options)
        local = Target(ChunkStore(pafs.LocalFileSystem(), folder, LocalSync()), table, options)
        rates = alternate(modes(s3, local), repeat, rate)
        small = [Target(t.store, columnar_table(SMALL_ROWS), options) for t in (s3, local)]
        times = alternate(small_modes(*small), repeat * 3, latency)
        for target in (s3, small[0]):
            target.store.delete_chunks([target.written.path, *target.extra])
            target.store.fs.delete_file(target.raw_key)
    report(s3.written.file_bytes, repeat, rates)
    print(
        f"  {f'small chunk ({small[0].written.file_bytes / 1024:.0f} KiB), ms':52} {'median':>8} {'p90':>8}"
    )
    for name, values in times.items():
        print(
            f"    {name:50} {float(np.median(values)):8.1f} {float(np.percentile(values, 90)):8.1f}"
        )


def report(file_bytes: int, repeat: int, rates: dict[str, list[float]]) -> None:
    print(
        f"chunk store on S3, one {file_bytes / MiB:.1f} MiB Parquet chunk, {repeat} alternating rounds"
    )
    print(f"  {'MiB/s of file':52} {'best':>8} {'median':>8}")
    for name, values in rates.items():
        print(f"    {name:50} {max(values):8.0f} {float(np.median(values)):8.0f}")
    for what, chunk, raw in [
        ("write", "S3 write, ChunkStore.write_chunk", "S3 write, raw PUT of the same bytes"),
        ("read", "S3 read, open_chunk(whole=True), decoded", "S3 read, raw GET of the same bytes"),
    ]:  # fmt: skip
        ratio = float(np.median(rates[chunk])) / float(np.median(rates[raw]))
        print(f"    {f'S3 {what} ratio ChunkStore/raw (median)':50} {ratio:8.2f}")


if __name__ == "__main__":
    main()
