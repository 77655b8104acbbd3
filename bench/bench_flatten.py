"""Flattening a wide struct topic to one pandas DataFrame, against pyarrow in the same run.

The topic is INS-PVA-like: a header and ~100 float64 leaves in nested structs (~800 B per
row); `--covariances` replaces some of them with 3x3 covariance matrices (float64[9]).
Rows come in the batches a server sends (`--batch` rows each). Measured, best of
`--repeat` runs:

* in memory, from the same table: `flatten_table` to pandas as `TopicDataStreamer.to_pandas`
  does it, `mosaico.ml.to_pandas` (fixed-size lists one column per element), and the
  pyarrow peer: `Table.flatten()` until no struct is left, then `Table.to_pandas()` (what
  the reference client does per batch);
* through an embedded server (`MosaicoClient.local`): `TopicDataStreamer.to_pandas()` next to
  `read_all()` followed by the pyarrow peer, on the same topic.

Run: ``python bench/bench_flatten.py`` (``--quick`` for a smaller table).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
from timing import best_time

from mosaico.client import MosaicoClient, UnmodeledTypeWarning
from mosaico.ml import TableSource
from mosaico.ml import to_pandas as ml_to_pandas
from mosaico.protocol import TopicType
from mosaico.tabular import flatten_table

F64 = pa.float64()
GROUPS = ("position", "velocity", "attitude", "acceleration", "angular_rate", "bias")


def _vector(names: str) -> pa.StructType:
    return pa.struct([pa.field(n, F64) for n in names])


def ins_schema(covariances: bool) -> pa.Schema:
    """`timestamp_ns`, a header, then per group a value, its std-dev, a correction and a
    lever arm (3 or 4 float64 each), a solution quality block; with `covariances`, the
    std-devs of three groups become float64[9] matrices."""
    stamp = pa.struct([pa.field("sec", pa.int32()), pa.field("nsec", pa.uint32())])
    header = pa.struct([pa.field("stamp", stamp), pa.field("frame_id", pa.string())])
    groups = []
    for k, name in enumerate(GROUPS):
        axes = "wxyz" if name == "attitude" else "xyz"
        std: pa.DataType = pa.list_(F64, 9) if covariances and k < 3 else _vector(axes)
        parts = [("value", _vector(axes)), ("std", std), ("correction", _vector(axes)),
                 ("lever_arm", _vector(axes)), ("rate", _vector(axes))]  # fmt: skip
        groups.append(pa.field(name, pa.struct([pa.field(n, t) for n, t in parts])))
    quality = pa.struct([pa.field(n, F64) for n in ("hdop", "vdop", "age", "undulation")])
    return pa.schema(
        [pa.field("timestamp_ns", pa.int64(), nullable=False), pa.field("header", header),
         *groups, pa.field("quality", quality), pa.field("status", pa.uint16())]
    )  # fmt: skip


def ins_table(schema: pa.Schema, rows: int, batch: int) -> pa.Table:
    """Random rows of `schema`, 100 Hz timestamps, cut into `batch`-row chunks."""
    rng = np.random.default_rng(0)

    def column(t: pa.DataType) -> pa.Array:
        if pa.types.is_struct(t):
            return pa.StructArray.from_arrays([column(f.type) for f in t], fields=list(t))
        if pa.types.is_fixed_size_list(t):
            return pa.FixedSizeListArray.from_arrays(
                pa.array(rng.normal(size=rows * t.list_size)), t.list_size
            )
        if pa.types.is_string(t):
            return pa.array(["ins"] * rows, t)
        if pa.types.is_floating(t):
            return pa.array(rng.normal(size=rows))
        return pa.array(rng.integers(0, 1000, rows).astype(t.to_pandas_dtype()))

    stamps = 1_700_000_000_000_000_000 + np.arange(rows, dtype=np.int64) * 10_000_000
    columns = [pa.array(stamps), *(column(f.type) for f in list(schema)[1:])]
    table = pa.Table.from_arrays(columns, schema=schema)
    return pa.Table.from_batches(table.to_batches(max_chunksize=batch), schema=schema)


def pyarrow_peer(table: pa.Table) -> Any:
    """The straightforward path: flatten one struct level at a time, then `to_pandas`."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table.to_pandas()


def _report(title: str, seconds: dict[str, float], rows: int, pairs: list[tuple[str, str]]) -> None:
    print(title)
    for label, value in seconds.items():
        print(f"  {label:40} {value * 1e3:8.1f} ms  {rows / value / 1e6:6.2f} M rows/s")
    for ours, peer in pairs:
        print(f"  ratio {ours} / {peer}: {seconds[peer] / seconds[ours]:.2f}x")


def bench_memory(table: pa.Table, repeat: int) -> None:
    source = {"/ins": TableSource("/ins", "ins_pva", table)}
    runs: dict[str, Callable[[], Any]] = {
        # what TopicDataStreamer.to_pandas does with the table it has read
        "topic to_pandas (flatten_table)": lambda: flatten_table(
            table, fixed_lists="arrays"
        ).to_pandas(self_destruct=True),
        "mosaico.ml.to_pandas": lambda: ml_to_pandas(source),
        "pyarrow flatten + to_pandas": lambda: pyarrow_peer(table),
    }
    seconds = {label: best_time(fn, repeat, warmup=True) for label, fn in runs.items()}
    peer = "pyarrow flatten + to_pandas"
    _report(
        "in memory", seconds, table.num_rows,
        [("topic to_pandas (flatten_table)", peer), ("mosaico.ml.to_pandas", peer)],
    )  # fmt: skip


def bench_server(table: pa.Table, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as store, MosaicoClient.local(store) as client:
        with client.sequence_create("bench", {}) as seq:
            topic = seq.topic_create("ins", {}, TopicType("ins_pva", table.schema, "default"))
            for batch in table.to_batches():
                topic.push_batch(batch)
        handler = client.topic_handler("bench", "ins")
        assert handler is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnmodeledTypeWarning)  # an Arrow-only topic
            runs: dict[str, Callable[[], Any]] = {
                "TopicDataStreamer.to_pandas": lambda: handler.get_data_streamer().to_pandas(),
                "read_all + pyarrow peer": lambda: pyarrow_peer(
                    handler.get_data_streamer().read_all()
                ),
            }
            seconds = {label: best_time(fn, repeat, warmup=True) for label, fn in runs.items()}
    _report(
        "through an embedded server", seconds, table.num_rows,
        [("TopicDataStreamer.to_pandas", "read_all + pyarrow peer")],
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k rows, fewer repetitions")
    parser.add_argument("--rows", type=int, help="rows of the topic (default 400k)")
    parser.add_argument("--batch", type=int, default=5000, help="rows per batch")
    parser.add_argument("--repeat", type=int, help="timed runs per row (best kept)")
    parser.add_argument("--covariances", action="store_true", help="float64[9] std-devs")
    parser.add_argument("--no-server", action="store_true", help="skip the server rows")
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 400_000)
    repeat = args.repeat or (3 if args.quick else 7)
    schema = ins_schema(args.covariances)
    table = ins_table(schema, rows, args.batch)
    leaves = flatten_table(table.slice(0, 1), fixed_lists="arrays").num_columns - 1
    print(
        f"wide struct topic: {rows:,} rows, {leaves} leaves, {table.nbytes / rows:.0f} B/row, "
        f"{table.column(1).num_chunks} batches of {args.batch:,} rows"
    )
    bench_memory(table, repeat)
    if not args.no_server:
        bench_server(table, repeat)


if __name__ == "__main__":
    main()
