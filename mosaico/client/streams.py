"""Data streams: one topic (targeted) or several merged on ``timestamp_ns`` (unified).

Everything is read as Arrow record batches; typed ``Message`` objects are a view built per
batch with the type's column-wise ``from_batch``. The unified merge is
``mosaico.tabular.TimestampMerge`` (a round of whole batches at a time, ties in topic order,
then upload order; no per-row heap, no copy of the payload), the flat wide table is
``mosaico.tabular.FlatWide`` and the flat form ``mosaico.tabular.flatten_table``: the same
code ``mosaico.ml`` uses.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight

from mosaico.client.connection import translated
from mosaico.client.fallback import Decoder, decoder_for
from mosaico.client.message import Message
from mosaico.errors import InputError
from mosaico.protocol.topic_type import TIMESTAMP
from mosaico.tabular import (
    FlatWide,
    MergedRound,
    MergedRows,
    TimestampMerge,
    flatten_table,
    topic_column,
)

if TYPE_CHECKING:
    import pandas as pd


class TopicDataStreamer:
    """The rows of one topic inside a window, in timestamp order.

    Iterate for typed ``Message`` objects; ``batches()``, ``read_all()`` and ``to_pandas()``
    give the columnar forms. A stream is consumed once; ``close`` ends it early.
    ``schema`` is the ``DoGet`` stream's; ``decode`` turns one batch into objects (the
    type's ``from_batch``, or `Unmodeled` rows when the type is unknown or has drifted).

    A ``projected`` stream (``get_data_streamer(fields=...)``) holds some fields only: its
    schema is the pruned one, and its messages carry `Unmodeled` data with just those fields
    (``msg.data.data["acceleration"]["x"]``); the columnar forms are the way to read it.

    >>> stream = client.topic_handler("run-1", "sensors/imu").get_data_streamer()
    >>> for msg in stream:
    ...     msg.timestamp_ns, msg.data.acceleration.z
    """

    def __init__(
        self, name: str, ontology_tag: str, reader: flight.FlightStreamReader, *,
        projected: bool = False,
    ) -> None:  # fmt: skip
        self.name = name
        self.ontology_tag = ontology_tag
        self.projected = projected
        self._reader = reader
        with translated():
            self.schema: pa.Schema = reader.schema
        self._ts_index = self.schema.get_field_index(TIMESTAMP)

    @functools.cached_property
    def decode(self) -> Decoder:
        """Batch -> objects for this stream, chosen on first use: columnar readers
        (``batches``, ``to_pandas``) never decode, so an unknown type warns only when
        objects are asked for."""
        return decoder_for(self.ontology_tag, self.schema, self.name, projected=self.projected)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The topic's record batches as the server sends them (never empty)."""
        reader = self._reader
        while True:
            with translated():
                try:
                    chunk = reader.read_chunk()
                except StopIteration:
                    return
            if chunk.data is not None and chunk.data.num_rows:
                yield chunk.data

    def messages(self, batch: pa.RecordBatch) -> list[Message]:
        """Typed messages of one batch of this stream."""
        stamps = batch.column(self._ts_index).to_numpy().tolist()
        return list(map(Message, stamps, self.decode(batch)))

    def __iter__(self) -> Iterator[Message]:
        for batch in self.batches():
            yield from self.messages(batch)

    def read_all(self) -> pa.Table:
        """The rest of the stream as one table of the topic schema (nested, as stored)."""
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame with nested fields flattened to dotted columns (``acceleration.x``).

        Fixed-size lists stay one column of arrays (``covariance``); reads the rest of the
        stream.
        """
        flat = flatten_table(self.read_all(), fixed_lists="arrays")
        return flat.to_pandas(self_destruct=True)

    def close(self) -> None:
        """Cancel the ``DoGet`` call; the rows not read yet are never sent."""
        self._reader.cancel()


class SequenceDataStreamer:
    """Several topics merged in strict timestamp order (ties: topic order, then upload order).

    Iterate for ``(topic_name, Message)`` pairs. ``batches()`` yields merged record batches
    (``timestamp_ns``, ``topic``, a dense-union ``data`` column whose child i is topic i's
    payload); ``wide_batches()`` one struct column per topic instead; ``read_all()`` and
    ``to_pandas()`` (wide, flattened) collect them. The union form is limited to 127 topics
    (Arrow union type codes are int8); the other forms are not.

    ``topics`` holds the topic names (``/path``) in stream order, ``wide_schema`` the
    schema of ``wide_batches()``. Consumed once; ``close`` ends every topic's stream.

    >>> stream = client.sequence_handler("run-1").get_data_streamer()
    >>> for topic, msg in stream:
    ...     ...
    >>> df = client.sequence_handler("run-1").get_data_streamer().to_pandas()
    """

    def __init__(self, streams: list[TopicDataStreamer]) -> None:
        self.streams = streams
        self.topics = [s.name for s in streams]
        self._payloads = [pa.field(s.name, _payload_type(s.schema)) for s in streams]
        self._head = [
            pa.field(TIMESTAMP, pa.int64(), nullable=False),
            pa.field("topic", pa.dictionary(pa.int16(), pa.string()), nullable=False),
        ]
        self.wide_schema = pa.schema([*self._head, *self._payloads])

    @property
    def schema(self) -> pa.Schema:
        """Schema of ``batches()``: ``timestamp_ns``, ``topic``, dense-union ``data``.

        Raises:
            InputError: more than 127 topics (the union form cannot hold them).
        """
        if len(self.streams) > _MAX_UNION:
            raise InputError(
                f"{len(self.streams)} topics do not fit a union column (at most {_MAX_UNION}); "
                "select fewer topics, or use wide_batches() or the typed iterator"
            )
        union = pa.dense_union(self._payloads, list(range(len(self._payloads))))
        return pa.schema([*self._head, pa.field("data", union)])

    def rounds(self) -> Iterator[MergedRound]:
        """The merge's rounds: per-topic zero-copy parts and their merged order."""
        return TimestampMerge([s.batches() for s in self.streams]).rounds()

    def __iter__(self) -> Iterator[tuple[str, Message]]:
        # Objects are built _TYPED_ROWS merged rows at a time, not a whole round at once: a
        # round can hold a whole batch of every topic, and that many live objects would only
        # cost memory (and cyclic-GC passes) before the caller sees the first one.
        for rnd in self.rounds():
            if len(rnd.parts) == 1:
                i, part = rnd.parts[0]
                stream = self.streams[i]
                name = stream.name
                for lo in range(0, part.num_rows, _TYPED_ROWS):
                    piece = part.slice(lo, _TYPED_ROWS)
                    yield from [(name, m) for m in stream.messages(piece)]
                continue
            sizes = rnd.sizes()
            which = rnd.part_of()
            taken = [0] * len(sizes)
            for lo in range(0, len(which), _TYPED_ROWS):
                window = which[lo : lo + _TYPED_ROWS]
                counts = np.bincount(window, minlength=len(sizes)).tolist()
                items: list[tuple[str, Message]] = []
                for j, (i, part) in enumerate(rnd.parts):
                    if counts[j]:
                        stream = self.streams[i]
                        name = stream.name
                        piece = part.slice(taken[j], counts[j])
                        items.extend([(name, m) for m in stream.messages(piece)])
                        taken[j] += counts[j]
                # items are grouped by part (each in its own order); put them in merged order
                grouped = np.argsort(window, kind="stable")
                position = np.empty_like(grouped)
                position[grouped] = np.arange(len(grouped))
                yield from map(items.__getitem__, position.tolist())

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Merged batches: ``timestamp_ns``, ``topic`` and a dense-union ``data`` column.

        Child i of ``data`` holds topic i's payload rows of the batch, unshuffled; the union's
        type ids and offsets put them in merged order, so no payload byte is copied.

        Raises:
            InputError: more than 127 topics (see ``schema``).
        """
        schema = self.schema
        union: pa.DenseUnionType = schema.field("data").type
        empty = [pa.array([], type=f.type) for f in union]
        for rnd in self.rounds():
            topic_of = rnd.topic_of()
            children = list(empty)
            for i, part in rnd.parts:
                children[i] = _payload(part)
            data = pa.UnionArray.from_dense(
                pa.array(topic_of.astype(np.int8)), pa.array(rnd.offset_of()), children,
                [f.name for f in union], list(range(len(children))),
            )  # fmt: skip
            yield pa.RecordBatch.from_arrays(
                [pa.array(rnd.timestamps[rnd.order]), topic_column(self.topics, topic_of), data],
                schema=schema,
            )

    def wide_batches(self) -> Iterator[pa.RecordBatch]:
        """Merged batches with one struct column per topic, null on the other topics' rows
        (the payload is gathered into place: slower than ``batches``, easy to flatten)."""
        for rnd in self.rounds():
            rows = MergedRows([rnd], len(self.streams))
            columns = [pa.nulls(len(rows), f.type) for f in self._payloads]
            for i, part in rnd.parts:
                columns[i] = rows.spread(i, _payload(part))
            yield pa.RecordBatch.from_arrays(
                [pa.array(rows.timestamps), topic_column(self.topics, rows.topic_of), *columns],
                schema=self.wide_schema,
            )

    def read_all(self) -> pa.Table:
        """The rest of the merged stream as one table of ``schema`` (union form).

        Raises:
            InputError: more than 127 topics; use ``wide_batches()`` or ``to_pandas()``.
        """
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def to_pandas(self) -> pd.DataFrame:
        """Sparse wide DataFrame: ``timestamp_ns``, ``topic``, then ``<topic>.<field...>``
        (nested fields flattened to dotted columns, fixed-size lists kept as arrays)."""
        schemas = [s.schema for s in self.streams]
        layout = FlatWide(schemas, self.topics, "arrays", topic_column=True)
        return layout.table(list(self.rounds())).to_pandas(self_destruct=True)

    def close(self) -> None:
        """Cancel every topic's ``DoGet`` call."""
        for stream in self.streams:
            stream.close()


_MAX_UNION = 127
_TYPED_ROWS = 8192  # merged rows turned into objects at a time by the typed iterator


def _payload_type(schema: pa.Schema) -> pa.StructType:
    return pa.struct([f for f in schema if f.name != TIMESTAMP])


def _payload(batch: pa.RecordBatch) -> pa.StructArray:
    keep = [i for i, f in enumerate(batch.schema) if f.name != TIMESTAMP]
    return pa.StructArray.from_arrays(
        [batch.column(i) for i in keep], fields=[batch.schema.field(i) for i in keep]
    )
