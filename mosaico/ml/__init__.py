"""ML module: flatten topics to tables, align sensors of different rates, feed PyTorch.

- `to_arrow` / `to_pandas` / `to_polars` and their windowed `iter_*`: flat, sparse tables
  of topics (polars, like torch, comes with the `ml` extra).
- `synchronize` / `iter_synchronized` / `Synchronizer`: streams aligned on a grid with the
  policies `Hold`, `AsOf`, `Drop`, `Interpolate`.
- `mosaico.ml.datasets` (needs the `ml` extra): `WindowDataset`, `StreamDataset`.

Data comes from `TopicSource`s (`TableSource` in memory; adapters for the client).
"""

from mosaico.ml.errors import MLInputError
from mosaico.ml.extract import (
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
from mosaico.ml.policy import AsOf, Drop, Hold, Interpolate, Policy, Stream
from mosaico.ml.source import TableSource, TopicSource, by_name
from mosaico.ml.sync import Synchronizer, iter_synchronized, synchronize

__all__ = [
    "AsOf",
    "Drop",
    "Hold",
    "Interpolate",
    "MLInputError",
    "Policy",
    "Stream",
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
