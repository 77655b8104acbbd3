"""Reading a recording's selected topics: what rosbags reads, and only what they need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mosaico.bridges.ros import RosSource
from tests.bridges.ros.recordings import raw_messages
from tests.bridges.ros.rosbag_fixtures import write

TOPICS = [
    ("/camera", "sensor_msgs/msg/Image", 30, 33_000_000),
    ("/imu", "sensor_msgs/msg/Imu", 200, 5_000_000),
    ("/gps", "sensor_msgs/msg/NavSatFix", 10, 100_000_000),
]


def _frames(topic: str, i: int, msg: Any) -> None:
    if topic == "/camera":
        msg.data = np.full(300_000, i, dtype=np.uint8)


def _bytes_read() -> int:
    """Bytes this thread has read through read() calls so far (page-cache hits too)."""
    for line in Path("/proc/thread-self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/thread-self/io")


def _read(source: RosSource, names: list[str]) -> list[tuple[str, int, bytes]]:
    return [
        (t, ts, bytes(raw)) for t, ts, raw in source.messages([source.topics[n] for n in names])
    ]


def _expected(path: Path, names: list[str]) -> list[tuple[str, int, bytes]]:
    """rosbags' own reading of the topics, merged by log time (ties: topic order)."""
    rows = [(ts, k, n, raw) for k, n in enumerate(names) for ts, raw in raw_messages(path)[n]]
    return [(n, ts, raw) for ts, _, n, raw in sorted(rows, key=lambda r: (r[0], r[1]))]


def test_a_ros1_topic_next_to_a_camera_reads_only_its_records(tmp_path: Path) -> None:
    path, _ = write(tmp_path / "cam.bag", "bag", TOPICS, edit=_frames)
    with RosSource([path]) as source:
        before = _bytes_read()
        got = _read(source, ["/imu"])
        read = _bytes_read() - before
    assert got == _expected(path, ["/imu"])
    # The camera frames (9 MB) share the IMU's chunks; none of them is read.
    assert read < path.stat().st_size / 10, (read, path.stat().st_size)


@pytest.mark.parametrize("compression", [None, "lz4", "bz2"])
def test_any_subset_reads_as_rosbags_reads_it(tmp_path: Path, compression: str | None) -> None:
    path, _ = write(tmp_path / "rec.bag", "bag", TOPICS, compression=compression, edit=_frames)
    with RosSource([path]) as source:
        for names in (["/imu"], ["/gps", "/imu"], ["/camera", "/gps", "/imu"]):
            assert _read(source, names) == _expected(path, names), names


def test_split_bags_merge_by_log_time(tmp_path: Path) -> None:
    first, _ = write(tmp_path / "a.bag", "bag", TOPICS[:2], edit=_frames)
    second, _ = write(tmp_path / "b.bag", "bag", TOPICS[2:], compression="lz4")
    with RosSource([first, second]) as source:
        got = _read(source, ["/gps", "/imu"])
    imu, gps = _expected(first, ["/imu"]), _expected(second, ["/gps"])
    assert got == sorted(imu + gps, key=lambda m: m[1])  # stable: ties keep file order
