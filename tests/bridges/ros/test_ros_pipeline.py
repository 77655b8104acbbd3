"""Ingest's pipeline: the reading thread's batches, its bounds and errors, and the fast path
taken by every well-formed message of a type it covers."""

from __future__ import annotations

import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from mosaico.bridges.ros import (
    ADAPTERS,
    MemorySequence,
    Progress,
    RosBridgeError,
    RosSource,
    ingest,
)
from mosaico.bridges.ros.reader import BatchReader, Limits
from tests.bridges.ros.recordings import Recording, raw_messages, read_batches
from tests.bridges.ros.rosbag_fixtures import write

MANY = [(f"/imu{k}", "sensor_msgs/msg/Imu", 7, 1_000_000 + k) for k in range(12)]


def test_batches_hold_every_message_once_in_order(tmp_path: Path) -> None:
    path, _ = write(tmp_path / "many.bag", "bag", MANY)
    # Buffers of all topics together may hold ~3 messages: the fullest goes first.
    batches = read_batches(path, Limits(messages=5, nbytes=1 << 30, buffer_bytes=1_000))
    assert len(batches) > 2 * len(MANY)  # 2 per topic by count; the rest by the bound
    assert all(len(b.raws) <= 5 for b in batches)
    want = raw_messages(path)
    for topic, messages in want.items():
        mine = [b for b in batches if b.topic == topic]
        got = [(t, bytes(r)) for b in mine for t, r in zip(b.times, b.raws)]
        assert got == messages
        assert [b.seen for b in mine] == [
            sum(len(x.raws) for x in mine[:i]) for i in range(len(mine))
        ]


class _Broken(RosSource):
    """A recording whose reading fails after some messages (a truncated file)."""

    def messages(self, topics: Any) -> Generator[tuple[str, int, bytes]]:
        for i, item in enumerate(super().messages(topics)):
            if i == 20:
                raise RosBridgeError("reading the recording failed: truncated")
            yield item


def test_a_reading_error_reaches_the_decoding_thread(tmp_path: Path) -> None:
    path, _ = write(tmp_path / "many.bag", "bag", MANY)
    with _Broken([path]) as source:
        reader = BatchReader(
            source, list(source.topics.values()), Limits(4, 1 << 30), Progress(None, enabled=False),
            dropped=lambda name: False,
        )  # fmt: skip
        with pytest.raises(RosBridgeError, match="truncated"):
            list(reader)
        reader.close()


def test_closing_early_ends_the_reading_thread(tmp_path: Path) -> None:
    path, _ = write(tmp_path / "many.bag", "bag", MANY)
    before = threading.active_count()
    with RosSource([path]) as source:
        reader = BatchReader(
            source, list(source.topics.values()), Limits(1, 1 << 30), Progress(None, enabled=False),
            dropped=lambda name: False, depth=1,
        )  # fmt: skip
        next(iter(reader))  # the reader is blocked on a full queue now
        reader.close()
    assert threading.active_count() == before


def test_well_formed_messages_never_reach_rosbags(
    recording: Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = RosSource.deserialize

    def counted(self: RosSource, raw: bytes, msgtype: str) -> object:
        calls.append(msgtype)
        return real(self, raw, msgtype)

    monkeypatch.setattr(RosSource, "deserialize", counted)
    seq = MemorySequence("run")
    report = ingest([recording.path], seq, batch_messages=4)
    assert not report.skipped and seq.finalized
    # Only the first message of the topics whose adapters record originals is decoded by
    # rosbags (`TopicAdapter.originals`); every batch takes the fast path.
    peeked = [t.metadata["_ros_"]["type"] for t in seq.topics.values()]
    assert sorted(calls) == sorted(
        m for m in peeked if m in ADAPTERS and ADAPTERS[m].keeps_originals
    )
