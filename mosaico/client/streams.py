"""Data streams: one topic (targeted) or several merged on ``timestamp_ns`` (unified).

Everything is read as Arrow record batches; typed ``Message`` objects are a view built per
batch with the type's column-wise ``from_batch``. The unified merge works a round at a time
over whole batches: it cuts every topic's buffered rows at the smallest "last timestamp of
the oldest buffered batch" among them (so each topic's part is a zero-copy slice of a batch
as received), concatenates the timestamps and stable-sorts them once (ties keep topic order,
then upload order). No per-row heap, no per-row Arrow call, no copy of the payload.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight

from mosaico.client.connection import translated
from mosaico.client.fallback import TIMESTAMP, decoder_for
from mosaico.client.message import Message
from mosaico.errors import InputError

if TYPE_CHECKING:
    import pandas as pd


def _flatten(table: pa.Table) -> pa.Table:
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


class TopicDataStreamer:
    """The rows of one topic inside a window, in timestamp order.

    Iterate for typed ``Message`` objects; ``batches()``, ``read_all()`` and ``to_pandas()``
    give the columnar forms. A stream is consumed once.
    """

    def __init__(self, name: str, ontology_tag: str, reader: flight.FlightStreamReader) -> None:
        self.name = name
        self.ontology_tag = ontology_tag
        self._reader = reader
        with translated():
            self.schema: pa.Schema = reader.schema
        self._ts_index = self.schema.get_field_index(TIMESTAMP)
        self.decode = decoder_for(ontology_tag, self.schema, name)

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
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame with nested fields flattened to dotted columns (``acceleration.x``)."""
        return _flatten(self.read_all()).to_pandas(self_destruct=True)

    def close(self) -> None:
        self._reader.cancel()


class _Head:
    """The buffered, not yet emitted rows of one topic in the merge.

    Batches are kept as received (a list, never concatenated): ``first_end`` is the last
    timestamp of the oldest buffered batch, and a merge round that cuts at or below it takes
    a zero-copy slice of that batch. Rows are copied only when a cut spans several batches
    (a run of equal timestamps across a batch boundary).
    """

    __slots__ = ("batches", "buffered", "ts", "exhausted")

    def __init__(self, stream: TopicDataStreamer) -> None:
        self.batches = stream.batches()
        self.buffered: list[pa.RecordBatch] = []
        self.ts = np.empty(0, dtype=np.int64)  # timestamps of all buffered rows
        self.exhausted = False

    @property
    def first_end(self) -> int:
        """Last timestamp of the oldest buffered batch (the head must not be empty)."""
        return int(self.ts[self.buffered[0].num_rows - 1])

    def load(self) -> bool:
        """Append the next batch to the buffer; False at the end of the stream."""
        nxt = next(self.batches, None)
        if nxt is None:
            self.exhausted = True
            return False
        ts = nxt.column(TIMESTAMP).to_numpy()
        self.ts = np.concatenate([self.ts, ts]) if len(self.ts) else ts
        self.buffered.append(nxt)
        return True

    def take(self, k: int) -> tuple[pa.RecordBatch, np.ndarray]:
        """Remove and return the first ``k`` buffered rows and their timestamps."""
        parts: list[pa.RecordBatch] = []
        need = k
        while need:
            first = self.buffered[0]
            if first.num_rows <= need:
                parts.append(self.buffered.pop(0))
                need -= first.num_rows
            else:
                parts.append(first.slice(0, need))
                self.buffered[0] = first.slice(need)
                need = 0
        part = parts[0] if len(parts) == 1 else pa.concat_batches(parts)
        stamps, self.ts = self.ts[:k], self.ts[k:]
        return part, stamps


class MergedRound:
    """One round of the unified merge: per-topic parts and their global order."""

    __slots__ = ("parts", "timestamps", "order")

    def __init__(
        self, parts: list[tuple[int, pa.RecordBatch]], timestamps: np.ndarray, order: np.ndarray
    ) -> None:
        self.parts = parts  # (stream index, rows), each sorted, concatenated in stream order
        self.timestamps = timestamps  # concatenation of the parts' timestamps
        self.order = order  # stable argsort of `timestamps`


class SequenceDataStreamer:
    """Several topics merged in strict timestamp order (ties: topic order, then upload order).

    Iterate for ``(topic_name, Message)`` pairs. ``batches()`` yields merged record batches
    (``timestamp_ns``, ``topic``, a dense-union ``data`` column whose child i is topic i's
    payload); ``wide_batches()`` one struct column per topic instead; ``read_all()`` and
    ``to_pandas()`` (wide, flattened) collect them. The union form is limited to 127 topics
    (Arrow union type codes are int8); the other forms are not.
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
        """Schema of ``batches()``: ``timestamp_ns``, ``topic``, dense-union ``data``."""
        if len(self.streams) > _MAX_UNION:
            raise InputError(
                f"{len(self.streams)} topics do not fit a union column (at most {_MAX_UNION}); "
                "select fewer topics, or use wide_batches() or the typed iterator"
            )
        union = pa.dense_union(self._payloads, list(range(len(self._payloads))))
        return pa.schema([*self._head, pa.field("data", union)])

    def rounds(self) -> Iterator[MergedRound]:
        heads = [_Head(s) for s in self.streams]
        while True:
            live = [h for h in heads if len(h.ts) or (not h.exhausted and h.load())]
            if not live:
                return
            # Cut at the end of the earliest oldest-buffered batch: every row at or below the
            # cutoff is then in a head's oldest batch (a slice, no copy), except ties.
            cutoff = min(h.first_end for h in live)
            for h in live:
                # Rows equal to the cutoff may continue in the next batch: load them all now
                # so that ties are emitted together, in topic order.
                while h.ts[-1] == cutoff and not h.exhausted:
                    h.load()
            parts: list[tuple[int, pa.RecordBatch]] = []
            stamps: list[np.ndarray] = []
            for i, h in enumerate(heads):
                if not len(h.ts):
                    continue
                k = int(np.searchsorted(h.ts, cutoff, side="right"))
                if k:
                    part, ts = h.take(k)
                    parts.append((i, part))
                    stamps.append(ts)
            all_ts = stamps[0] if len(stamps) == 1 else np.concatenate(stamps)
            order = (
                np.arange(len(all_ts)) if len(stamps) == 1 else np.argsort(all_ts, kind="stable")
            )
            yield MergedRound(parts, all_ts, order)

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
            sizes = [part.num_rows for _, part in rnd.parts]
            which = np.repeat(np.arange(len(sizes)), sizes)[rnd.order]  # part of each row
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
        """
        schema = self.schema
        union: pa.DenseUnionType = schema.field("data").type
        empty = [pa.array([], type=f.type) for f in union]
        for rnd, topic_of, offset_of in self._placed_rounds():
            children = list(empty)
            for i, part in rnd.parts:
                children[i] = _payload(part)
            data = pa.UnionArray.from_dense(
                pa.array(topic_of.astype(np.int8)), pa.array(offset_of), children,
                [f.name for f in union], list(range(len(children))),
            )  # fmt: skip
            yield pa.RecordBatch.from_arrays(
                [pa.array(rnd.timestamps[rnd.order]), self._topic_column(topic_of), data],
                schema=schema,
            )

    def wide_batches(self) -> Iterator[pa.RecordBatch]:
        """Merged batches with one struct column per topic, null on the other topics' rows
        (the payload is gathered into place: slower than ``batches``, easy to flatten)."""
        for rnd, topic_of, offset_of in self._placed_rounds():
            columns = [pa.nulls(len(topic_of), f.type) for f in self._payloads]
            for i, part in rnd.parts:
                mine = topic_of == i
                index = pa.array(np.where(mine, offset_of, 0), mask=~mine)
                columns[i] = _payload(part).take(index)
            yield pa.RecordBatch.from_arrays(
                [pa.array(rnd.timestamps[rnd.order]), self._topic_column(topic_of), *columns],
                schema=self.wide_schema,
            )

    def _placed_rounds(self) -> Iterator[tuple[MergedRound, np.ndarray, np.ndarray]]:
        """Each round with, per merged row, its topic index and its row within that topic."""
        for rnd in self.rounds():
            n = len(rnd.order)
            topic_of = np.empty(n, dtype=np.int16)
            offset_of = np.empty(n, dtype=np.int32)
            start = 0
            for i, part in rnd.parts:
                end = start + part.num_rows
                topic_of[start:end] = i
                offset_of[start:end] = np.arange(end - start, dtype=np.int32)
                start = end
            yield rnd, topic_of[rnd.order], offset_of[rnd.order]

    def _topic_column(self, topic_of: np.ndarray) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(
            pa.array(topic_of), pa.array(self.topics, type=pa.string())
        )

    def read_all(self) -> pa.Table:
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def to_pandas(self) -> pd.DataFrame:
        """Sparse wide DataFrame: ``timestamp_ns``, ``topic``, then ``<topic>.<field...>``."""
        table = pa.Table.from_batches(list(self.wide_batches()), schema=self.wide_schema)
        return _flatten(table).to_pandas(self_destruct=True)

    def close(self) -> None:
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
