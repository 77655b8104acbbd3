"""Arrow-level table work shared by the client's streams, `mosaico.ml` and the CLI.

- `flatten`: the flat form of topic tables (dotted struct leaves, fixed-size lists as
  columns or arrays) and its inverse.
- `merge`: the merge of several timestamp-sorted topics, a round of whole batches at a time.
- `wide`: merged rows laid out wide (one set of columns per topic, null on other rows).

It sits below both `mosaico.client` and `mosaico.ml` and imports neither (only pyarrow,
numpy and `mosaico.ontology`'s placeholders), so the client never depends on the ML layer
and the ML layer never on the client.
"""

from mosaico.tabular.flatten import (
    FixedLists,
    check_fixed_lists,
    column_name,
    flat_schema,
    flatten_table,
    unflatten_table,
)
from mosaico.tabular.merge import MergedRound, TimestampMerge
from mosaico.tabular.wide import FlatWide, MergedRows, spread, topic_column

__all__ = [
    "FixedLists",
    "FlatWide",
    "MergedRound",
    "MergedRows",
    "TimestampMerge",
    "check_fixed_lists",
    "column_name",
    "flat_schema",
    "flatten_table",
    "spread",
    "topic_column",
    "unflatten_table",
]
