"""ML module: flatten topics to tables, align sensors of different rates, feed PyTorch.

- `to_arrow` / `to_pandas` / `to_polars` and their windowed `iter_*`: flat, sparse tables
  of topics (polars, like torch, comes with the `ml` extra).
- `synchronize` / `iter_synchronized` / `Synchronizer`: streams aligned on a grid
  (`RateGrid`, `ReferenceGrid`) with the policies `Hold`, `AsOf`, `Drop`, `Interpolate`.
- `mosaico.ml.datasets` (needs the `ml` extra): `WindowDataset` (sampled by `WindowSampler`),
  `StreamDataset`; both split an epoch across `torch.distributed` ranks and DataLoader
  workers, shuffle it per `(seed, epoch)` and resume it from a `state_dict`
  (`mosaico.ml.sharding`).
- `mosaico.ml.lerobot` (cameras need the `lerobot` extra): `export_lerobot`, sequences as a
  LeRobot v3.0 dataset on an fps grid.

Data comes from `TopicSource`s (`TableSource` in memory; adapters for the client). The
Arrow-level work (flat form, timestamp merge, wide layout) is `mosaico.tabular`'s, shared
with the client's streams.

>>> from mosaico.ml import AsOf, Interpolate, Stream, synchronize, to_pandas
>>> from mosaico.ml.client_source import sequence_sources
>>> sources = sequence_sources(client.sequence_handler("run-1"))
>>> df = to_pandas(sources, topics=["/imu", "/gps"], start_ns=t0, end_ns=t0 + 10**9)
>>> table = synchronize(
...     sources, [Stream("/imu", Interpolate()), Stream("/gps", AsOf(50_000_000))], rate_hz=100.0
... )
"""

from mosaico.ml.errors import MLInputError
from mosaico.ml.extract import (
    ReadOptions,
    iter_arrow,
    iter_pandas,
    iter_polars,
    table_to_pandas,
    table_to_polars,
    to_arrow,
    to_pandas,
    to_polars,
)
from mosaico.ml.flatten import flat_schema, flatten_table, unflatten_table
from mosaico.ml.grid import RateGrid, ReferenceGrid
from mosaico.ml.policy import AsOf, Drop, Hold, Interpolate, Policy, Stream
from mosaico.ml.source import TableSource, TopicSource, by_name
from mosaico.ml.sync import Synchronizer, SyncOptions, iter_synchronized, synchronize

__all__ = [
    "AsOf",
    "Drop",
    "Hold",
    "Interpolate",
    "MLInputError",
    "Policy",
    "RateGrid",
    "ReadOptions",
    "ReferenceGrid",
    "Stream",
    "SyncOptions",
    "Synchronizer",
    "TableSource",
    "TopicSource",
    "by_name",
    "flat_schema",
    "flatten_table",
    "iter_arrow",
    "iter_pandas",
    "iter_polars",
    "iter_synchronized",
    "synchronize",
    "table_to_pandas",
    "table_to_polars",
    "to_arrow",
    "to_pandas",
    "to_polars",
    "unflatten_table",
]
