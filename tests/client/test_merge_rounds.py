"""The unified merge on hand-made batch streams: ties across batch boundaries, batches that a
round takes whole, in part, or several at once (no server needed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaico.client import streams as streams_module
from mosaico.client.message import Message
from mosaico.client.streams import SequenceDataStreamer, TopicDataStreamer

SCHEMA = pa.schema([pa.field("timestamp_ns", pa.int64(), nullable=False), ("row", pa.int64())])


class _Stream:
    """Stands in for a TopicDataStreamer: fixed batches, nothing else."""

    def __init__(self, name: str, batches: list[list[int]]) -> None:
        self.name = name
        self.schema = SCHEMA
        self._batches = batches

    def batches(self) -> Iterator[pa.RecordBatch]:
        first = 0
        for stamps in self._batches:
            rows = list(range(first, first + len(stamps)))
            first += len(stamps)
            yield pa.RecordBatch.from_pydict({"timestamp_ns": stamps, "row": rows}, SCHEMA)

    def messages(self, batch: pa.RecordBatch) -> list[Message]:
        stamps = batch.column(0).to_pylist()
        return [Message(t, r) for t, r in zip(stamps, batch.column(1).to_pylist())]


def _streams(topics: list[list[list[int]]]) -> list[TopicDataStreamer]:
    return [cast(TopicDataStreamer, _Stream(f"/t{i}", b)) for i, b in enumerate(topics)]


def _merged(topics: list[list[list[int]]]) -> list[tuple[int, int, int]]:
    """(timestamp, topic, row) in the merged order produced by ``rounds``."""
    streams = _streams(topics)
    out: list[tuple[int, int, int]] = []
    for rnd in SequenceDataStreamer(streams).rounds():
        flat: list[tuple[int, int, int]] = []
        for i, part in rnd.parts:
            flat += [(t, i, r) for t, r in zip(part["timestamp_ns"].to_pylist(),
                                               part["row"].to_pylist())]  # fmt: skip
        assert [t for t, _, _ in flat] == rnd.timestamps.tolist()
        out += [flat[k] for k in rnd.order.tolist()]
    return out


def _expected(topics: list[list[list[int]]]) -> list[tuple[int, int, int]]:
    rows = [
        (t, i, r)
        for i, batches in enumerate(topics)
        for r, t in enumerate(t for b in batches for t in b)
    ]
    return sorted(rows)  # timestamp, then topic order, then upload (row) order


def test_ties_across_batch_boundaries() -> None:
    topics = [
        [[1, 2, 2], [2, 2], [2, 3], [7]],
        [[2], [2, 2, 5], [6, 7, 7]],
        [[0, 9]],
    ]
    assert _merged(topics) == _expected(topics)


def test_one_topic_passes_batches_through() -> None:
    topics: list[list[list[int]]] = [[[1, 2], [3, 4, 5]]]
    assert _merged(topics) == _expected(topics)


@st.composite
def _topics(draw: st.DrawFn) -> Any:
    topics = []
    for _ in range(draw(st.integers(1, 4))):
        stamps = sorted(draw(st.lists(st.integers(0, 30), min_size=1, max_size=40)))
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(stamps) - 1)), max_size=6)))
        bounds = [0, *[c for c in cuts if c < len(stamps)], len(stamps)]
        topics.append([stamps[a:b] for a, b in zip(bounds, bounds[1:]) if b > a])
    return topics


@settings(max_examples=200, deadline=None)
@given(topics=_topics())
def test_merge_matches_stable_sort(topics: list[list[list[int]]]) -> None:
    assert _merged(topics) == _expected(topics)


@settings(max_examples=100, deadline=None)
@given(topics=_topics(), typed_rows=st.integers(1, 7))
def test_typed_iterator_in_small_windows(topics: list[list[list[int]]], typed_rows: int) -> None:
    # The typed view builds objects a few merged rows at a time: same order as the rounds.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(streams_module, "_TYPED_ROWS", typed_rows)
        got = [
            (m.timestamp_ns, int(name[2:]), m.data)
            for name, m in SequenceDataStreamer(_streams(topics))
        ]
    assert got == _expected(topics)
