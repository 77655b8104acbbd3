"""Recordings of every adapted type, and rosbags' own reading of them (the test oracle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rosbags.highlevel import AnyReader

from mosaico.bridges.ros import ADAPTERS, Progress, RosSource
from mosaico.bridges.ros.reader import Batch, BatchReader, Limits
from tests.bridges.ros.rosbag_fixtures import typestore

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


def read_batches(path: Path, limits: Limits) -> list[Batch]:
    """Every batch ingest's reading thread hands on for the recording at `path`."""
    with RosSource([path]) as source:
        reader = BatchReader(
            source, list(source.topics.values()), limits, Progress(None, enabled=False),
            dropped=lambda name: False,
        )  # fmt: skip
        try:
            return list(reader)
        finally:
            reader.close()
