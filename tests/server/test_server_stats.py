"""Chunk statistics recorded in the catalog, ready for the query engine."""

from __future__ import annotations

import pyarrow as pa

from mosaico.server import EmbeddedServer
from mosaico.server.stats import leaves
from tests.server.server_helpers import Raw, make_batch


def test_leaf_paths() -> None:
    schema = pa.schema(
        [
            ("timestamp_ns", pa.int64()),
            ("h", pa.struct([("frame", pa.string()), ("t", pa.struct([("s", pa.int32())]))])),
            ("cov", pa.list_(pa.float64(), 9)),
            ("names", pa.list_(pa.string())),
            ("blob", pa.binary()),
            ("m", pa.map_(pa.string(), pa.float32())),
            ("flag", pa.bool_()),
        ]
    )
    assert [(leaf.path, leaf.kind) for leaf in leaves(schema)] == [
        ("timestamp_ns", "int"),
        ("h.frame", "text"),
        ("h.t.s", "int"),
        ("cov[]", "real"),
        ("names[]", "text"),
        ("blob", None),
        ("m{key}", "text"),
        ("m{value}", "real"),
        ("flag", "bool"),
    ]


def test_chunk_stats_in_catalog(server: tuple[EmbeddedServer, Raw]) -> None:
    embedded, raw = server
    session = raw.new_sequence("seq")
    uuid = raw.new_topic(session, "seq/a")
    stamps = [14, 3, 9, 21]
    raw.put("seq/a", uuid, [make_batch(stamps)])
    catalog = embedded.store.catalog
    [chunk] = catalog.chunks_of(uuid)
    assert (chunk.row_count, chunk.min_ts, chunk.max_ts) == (4, 3, 21)
    stats = {s.column_path: s for s in catalog.chunk_stats(uuid)[chunk.id]}
    assert set(stats) == {
        "timestamp_ns", "value", "label", "covariance[]", "header.frame_id", "header.seq",
        "positions[]",
    }  # fmt: skip
    assert (stats["timestamp_ns"].min_value, stats["timestamp_ns"].max_value) == (3, 21)
    assert (stats["value"].kind, stats["value"].min_value, stats["value"].max_value) == (
        "real", 1.5, 10.5,
    )  # fmt: skip
    assert (stats["label"].min_value, stats["label"].max_value) == ("l14", "l9")
    assert stats["label"].null_count == 0
    assert (stats["header.frame_id"].min_value, stats["header.frame_id"].max_value) == ("f1", "f3")
    seq = stats["header.seq"]  # rows 14 and 21 have a null header
    assert (seq.kind, seq.min_value, seq.max_value, seq.null_count) == ("int", 3, 9, 2)
    assert (stats["covariance[]"].min_value, stats["covariance[]"].max_value) == (0.0, 14.0)
