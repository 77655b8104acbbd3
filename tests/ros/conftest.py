"""Small recordings written once per session with rosbags' writers (ROS 1 and ROS 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rosbag_fixtures import typestore, write
from rosbags.highlevel import AnyReader

from mosaico.bridges.ros import ADAPTERS

# Every adapted type, a custom type and a standard type without adapter (kept generically).
ALL_TYPES = [*sorted(ADAPTERS), "my_robot/msg/WheelState", "sensor_msgs/msg/NavSatStatus"]


def fixture_topics(ros_version: int) -> list[tuple[str, str, int, int]]:
    """One topic per type the ROS generation has, at different rates and lengths."""
    store = typestore(ros_version)
    topics = []
    for i, msgtype in enumerate(t for t in ALL_TYPES if t in store.fielddefs):
        name = "/" + msgtype.replace("/msg/", "/").lower()
        topics.append((name, msgtype, 3 + (i % 5) * 2, 5_000_000 * (1 + i % 7)))
    return topics


class Recording:
    """A fixture recording and rosbags' own decoding of it."""

    def __init__(self, path: Path, fmt: str, topics: list[tuple[str, str, int, int]]) -> None:
        self.path = path
        self.fmt = fmt
        self.topics = {t: m for t, m, _, _ in topics}

    def decoded(self) -> dict[str, list[tuple[int, Any]]]:
        """topic → [(log time, message)], decoded by rosbags."""
        return decode(self.path)


def decode(path: Path) -> dict[str, list[tuple[int, Any]]]:
    with AnyReader([path]) as reader:
        out: dict[str, list[tuple[int, Any]]] = {}
        for conn, t, raw in reader.messages():
            out.setdefault(conn.topic, []).append((t, reader.deserialize(raw, conn.msgtype)))
        return out


def raw_messages(path: Path) -> dict[str, list[tuple[int, bytes]]]:
    with AnyReader([path]) as reader:
        out: dict[str, list[tuple[int, bytes]]] = {}
        for conn, t, raw in reader.messages():
            out.setdefault(conn.topic, []).append((t, bytes(raw)))
        return out


@pytest.fixture(scope="session")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recording]:
    root = tmp_path_factory.mktemp("recordings")
    out = {}
    for fmt, compression, version in (("bag", "lz4", 1), ("db3", "zstd", 2), ("mcap", None, 2)):
        topics = fixture_topics(version)
        target = root / (f"rec.{fmt}" if fmt == "bag" else f"rec_{fmt}")
        path, _ = write(target, fmt, topics, compression=compression, seed=version)
        out[fmt] = Recording(path, fmt, topics)
    return out


@pytest.fixture(params=["bag", "db3", "mcap"])
def recording(request: pytest.FixtureRequest, recordings: dict[str, Recording]) -> Recording:
    return recordings[request.param]


@pytest.fixture(scope="session")
def ingested(recordings: dict[str, Recording]) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Each recording ingested into memory once, with rosbags' decoding of it."""
    from mosaico.bridges.ros import MemorySequence, ingest

    out = {}
    for fmt, rec in recordings.items():
        seq = MemorySequence(fmt)
        ingest([rec.path], seq)
        out[fmt] = (seq, rec.decoded())
    return out
