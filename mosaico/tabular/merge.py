"""The merge of several timestamp-sorted topics, a round of whole batches at a time.

Each round cuts every topic's buffered rows at the smallest "last timestamp of the oldest
buffered batch" among them (so each topic's part is a zero-copy slice of a batch as
received), concatenates the timestamps and stable-sorts them once: ties keep topic order,
then upload order. No per-row heap, no per-row Arrow call, no copy of the payload, and at
most about one batch per topic buffered. A caller that wants time windows (the ML module)
caps a round at the window's end; the client's unified stream takes rounds as they come.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from mosaico.protocol.topic_type import TIMESTAMP


class _Head:
    """The buffered, not yet merged rows of one topic.

    Batches are kept as received (a list, never concatenated): ``first_end`` is the last
    timestamp of the oldest buffered batch, and a round that cuts at or below it takes a
    zero-copy slice of that batch. Rows are copied only when a cut spans several batches
    (a run of equal timestamps across a batch boundary).
    """

    __slots__ = ("batches", "buffered", "ts", "exhausted")

    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self.batches = iter(batches)
        self.buffered: list[pa.RecordBatch] = []
        self.ts = np.empty(0, dtype=np.int64)  # timestamps of all buffered rows
        self.exhausted = False

    @property
    def first_end(self) -> int:
        """Last timestamp of the oldest buffered batch (the head must not be empty)."""
        return int(self.ts[self.buffered[0].num_rows - 1])

    def ready(self) -> bool:
        """Whether rows are buffered, loading the next non-empty batch if none is."""
        while not len(self.ts) and self.load():
            pass
        return bool(len(self.ts))

    def load(self) -> bool:
        """Append the next batch to the buffer; False at the end of the stream."""
        nxt = next(self.batches, None)
        if nxt is None:
            self.exhausted = True
            return False
        if not nxt.num_rows:
            return True
        ts = nxt.column(TIMESTAMP).to_numpy()
        self.ts = np.concatenate([self.ts, ts]) if len(self.ts) else ts
        self.buffered.append(nxt)
        return True

    def load_ties(self, cutoff: int) -> None:
        """Load while the last buffered row is at ``cutoff``: its ties may follow."""
        while len(self.ts) and self.ts[-1] == cutoff and not self.exhausted:
            self.load()

    def take_upto(self, cutoff: int) -> tuple[pa.RecordBatch, np.ndarray] | None:
        """Remove and return the buffered rows at or before ``cutoff`` (None if none)."""
        k = int(np.searchsorted(self.ts, cutoff, side="right"))
        if not k:
            return None
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
    """One round of the merge: per-topic parts and their global order.

    ``parts`` holds ``(stream index, rows)`` for each stream with rows in the round (each
    part sorted, in stream order); ``timestamps`` their timestamps concatenated in that
    order; ``order`` the stable argsort of ``timestamps``, i.e. the merged order.
    """

    __slots__ = ("parts", "timestamps", "order")

    def __init__(
        self, parts: list[tuple[int, pa.RecordBatch]], timestamps: np.ndarray, order: np.ndarray
    ) -> None:
        self.parts = parts  # (stream index, rows), each sorted, concatenated in stream order
        self.timestamps = timestamps  # concatenation of the parts' timestamps
        self.order = order  # stable argsort of `timestamps`

    def sizes(self) -> list[int]:
        """Rows of each part, in ``parts`` order."""
        return [part.num_rows for _, part in self.parts]

    def part_of(self) -> np.ndarray:
        """Per merged row, the index of its part in ``parts``."""
        return np.repeat(np.arange(len(self.parts)), self.sizes())[self.order]

    def topic_of(self) -> np.ndarray:
        """Per merged row, its stream index (int16)."""
        streams = np.array([i for i, _ in self.parts], dtype=np.int16)
        return np.repeat(streams, self.sizes())[self.order]

    def offset_of(self) -> np.ndarray:
        """Per merged row, its row within its part (int32)."""
        offsets = [np.arange(n, dtype=np.int32) for n in self.sizes()]
        return np.concatenate(offsets)[self.order]


class TimestampMerge:
    """Merges timestamp-sorted record batch streams (each with a ``timestamp_ns`` column).

    Merged order: timestamp, then stream order on ties, then each stream's own order.

    >>> merge = TimestampMerge([topic_a.batches(), topic_b.batches()])  # doctest: +SKIP
    >>> for rnd in merge.rounds():  # doctest: +SKIP
    ...     rnd.timestamps[rnd.order]
    """

    def __init__(self, streams: Sequence[Iterable[pa.RecordBatch]]) -> None:
        self._heads = [_Head(s) for s in streams]

    def first_timestamp(self) -> int | None:
        """The earliest timestamp not merged yet (None when every stream is done)."""
        firsts = [int(h.ts[0]) for h in self._heads if h.ready()]
        return min(firsts) if firsts else None

    def rounds(self, before: int | None = None) -> Iterator[MergedRound]:
        """Rounds until every stream is done or, with ``before``, reaches that timestamp
        (rows at ``before`` and later stay for the next call)."""
        while (rnd := self._round(before)) is not None:
            yield rnd

    def _round(self, before: int | None) -> MergedRound | None:
        live = [h for h in self._heads if h.ready()]
        if not live:
            return None
        # Cut at the end of the earliest oldest-buffered batch: every row at or below the
        # cutoff is then in a head's oldest batch (a slice, no copy), except ties.
        cutoff = min(h.first_end for h in live)
        if before is not None:
            cutoff = min(cutoff, before - 1)
        for h in live:
            # Rows equal to the cutoff may continue in the next batch: load them all now so
            # that ties are emitted together, in topic order.
            h.load_ties(cutoff)
        return self._take(cutoff)

    def _take(self, cutoff: int) -> MergedRound | None:
        """Every head's rows at or before `cutoff`, as one round (None: there are none)."""
        parts: list[tuple[int, pa.RecordBatch]] = []
        stamps: list[np.ndarray] = []
        for i, h in enumerate(self._heads):
            taken = h.take_upto(cutoff) if len(h.ts) else None
            if taken is not None:
                parts.append((i, taken[0]))
                stamps.append(taken[1])
        if not stamps:
            return None
        if len(stamps) == 1:
            return MergedRound(parts, stamps[0], np.arange(len(stamps[0])))
        all_ts = np.concatenate(stamps)
        return MergedRound(parts, all_ts, np.argsort(all_ts, kind="stable"))
