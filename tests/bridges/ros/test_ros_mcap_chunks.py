"""Reading rosbag2 MCAP files chunk by chunk (`mcap_chunks`): the same messages, in the same
order per topic, as rosbags' reader; batches of the asked sizes; rosbags for the files it
does not read; a corrupt index is a clear error."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from mcap.writer import CompressionType, IndexType, Writer

from mosaico.bridges.ros import MemorySequence, RosBridgeError, RosSource, ingest
from mosaico.bridges.ros.reader import Limits
from tests.bridges.ros.recordings import raw_messages, read_batches
from tests.bridges.ros.rosbag_fixtures import RandomMessages, typestore

TYPES = {
    "/imu": "sensor_msgs/msg/Imu",
    "/fix": "sensor_msgs/msg/NavSatFix",
    "/joints": "sensor_msgs/msg/JointState",  # variable length
}
START_NS = 1_700_000_000_000_000_000


def write_mcap(
    path: Path,
    count: int,
    *,
    chunk_size: int = 4096,
    compression: CompressionType = CompressionType.NONE,
    seed: int = 0,
    shuffle: bool = False,
) -> Path:
    """A ros2 MCAP file written by the `mcap` library: `count` messages spread over TYPES,
    with repeated log times; small chunks. `shuffle` writes them out of time order, so
    that chunks overlap in time."""
    store = typestore(2)
    gen, rng = RandomMessages(store, seed), random.Random(seed)
    times = sorted(START_NS + rng.randrange(0, count // 2 + 1) * 1000 for _ in range(count))
    if shuffle:
        rng.shuffle(times)
    with path.open("wb") as stream:
        writer = Writer(stream, chunk_size=chunk_size, compression=compression)
        writer.start(profile="ros2", library="test")
        channels = {}
        for topic, msgtype in TYPES.items():
            text = store.generate_msgdef(msgtype, ros_version=2)[0]
            schema = writer.register_schema(msgtype, "ros2msg", text.encode())
            channels[topic] = writer.register_channel(topic, "cdr", schema)
        for ns in times:
            topic = rng.choice(list(TYPES))
            raw = store.serialize_cdr(gen.message(TYPES[topic]), TYPES[topic])
            writer.add_message(channels[topic], ns, bytes(raw), ns)
        writer.finish()
    return path


def _runs(path: Path) -> dict[str, list[tuple[int, bytes]]] | None:
    with RosSource([path]) as source:
        runs = source.runs(list(source.topics.values()))
        if runs is None:
            return None
        out: dict[str, list[tuple[int, bytes]]] = {}
        for run in runs:
            pairs = zip(run.times.tolist(), run.packed.messages())
            out.setdefault(run.topic, []).extend(pairs)
        return out


@pytest.mark.parametrize(
    "compression", [CompressionType.NONE, CompressionType.ZSTD, CompressionType.LZ4]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_runs_hold_what_rosbags_reads(
    tmp_path: Path, compression: CompressionType, seed: int
) -> None:
    path = write_mcap(tmp_path / "rec.mcap", 600, compression=compression, seed=seed)
    with RosSource([path]) as source:
        chunks = source._readers[0].storage.chunks  # type: ignore[union-attr]
        assert len(chunks) > 10  # many chunks, each with several topics
    got = _runs(path)
    assert got is not None
    assert got == raw_messages(path)


def test_the_files_of_rosbags_writer_read_in_runs(tmp_path: Path) -> None:
    from tests.bridges.ros.rosbag_fixtures import write

    topics = [("/imu", "sensor_msgs/msg/Imu", 40, 2_500_000), ("/tf", "tf2_msgs/msg/TFMessage", 10, 10**7)]
    path, _ = write(tmp_path / "rec", "mcap", topics)
    assert _runs(path) == raw_messages(path)


def test_chunks_overlapping_in_time_are_left_to_rosbags(tmp_path: Path) -> None:
    path = write_mcap(tmp_path / "rec.mcap", 300, shuffle=True)
    assert _runs(path) is None
    # Ingest reads it message by message, in time order per topic.
    seq = ingest([path], MemorySequence("x"), progress=False)
    assert seq.messages == 300
    want = raw_messages(path)
    assert {t: len(m) for t, m in want.items()} == seq.written


@pytest.mark.parametrize("limits", [Limits(5, 1 << 30), Limits(1000, 2_000), Limits(7, 3_000)])
def test_batches_of_runs_keep_the_asked_sizes(tmp_path: Path, limits: Limits) -> None:
    path = write_mcap(tmp_path / "rec.mcap", 400, chunk_size=20_000)
    batches = read_batches(path, limits)
    for topic, messages in raw_messages(path).items():
        mine = [b for b in batches if b.topic == topic]
        assert [(t, m) for b in mine for t, m in zip(np.asarray(b.times).tolist(), b.messages())] == messages
        assert [b.seen for b in mine] == [sum(len(x) for x in mine[:i]) for i in range(len(mine))]
        for b in mine[:-1]:  # every batch but the last is full by count or bytes
            assert len(b) == limits.messages or limits.nbytes <= b.nbytes < limits.nbytes + max(
                len(m) for m in b.messages()
            )
        assert all(len(b) <= limits.messages for b in mine)


def _index_entry_offset(path: Path, topic: str) -> int:
    """Where, in the file, the first message index entry of `topic`'s first chunk lies."""
    with RosSource([path]) as source:
        storage = source._readers[0].storage  # type: ignore[union-attr]
        cid = next(c.id for c in storage.connections if c.topic == topic)
        chunk = next(c for c in storage.chunks if c.channel_count.get(cid))
        return int(chunk.message_index_offsets[cid]) + 15 + 8  # the entry's offset field


@pytest.mark.parametrize("value", [10**12, 3])
def test_a_corrupt_message_index_is_a_clear_error(tmp_path: Path, value: int) -> None:
    path = write_mcap(tmp_path / "rec.mcap", 200)
    at = _index_entry_offset(path, "/imu")
    data = bytearray(path.read_bytes())
    data[at : at + 8] = value.to_bytes(8, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(RosBridgeError, match="message index entry of channel"):
        ingest([path], MemorySequence("x"), progress=False)


def test_ingest_in_runs_equals_ingest_message_by_message(tmp_path: Path) -> None:
    path = write_mcap(tmp_path / "rec.mcap", 500, compression=CompressionType.ZSTD)

    class ByMessage(RosSource):
        def runs(self, topics: Sequence[object]) -> None:  # type: ignore[override]
            return None

    fast = MemorySequence("fast")
    ingest([path], fast, progress=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mosaico.bridges.ros.source.RosSource.runs", ByMessage.runs)
        slow = MemorySequence("slow")
        ingest([path], slow, progress=False)
    assert fast.topics.keys() == slow.topics.keys()
    for name, topic in fast.topics.items():
        assert topic.table().equals(slow.topics[name].table()), name


def test_a_file_without_message_indexes_is_left_to_rosbags(tmp_path: Path) -> None:
    path = tmp_path / "rec.mcap"
    with path.open("wb") as stream:  # chunk indexes and statistics, no message index records
        writer = Writer(stream, chunk_size=4096, index_types=IndexType.CHUNK)
        writer.start(profile="ros2", library="test")
        store = typestore(2)
        text = store.generate_msgdef("std_msgs/msg/String", ros_version=2)[0]
        schema = writer.register_schema("std_msgs/msg/String", "ros2msg", text.encode())
        channel = writer.register_channel("/s", "cdr", schema)
        for i in range(200):
            msg = store.types["std_msgs/msg/String"](data=f"message {i}")
            writer.add_message(channel, START_NS + i, bytes(store.serialize_cdr(msg, "std_msgs/msg/String")), START_NS + i)
        writer.finish()
    assert _runs(path) is None
