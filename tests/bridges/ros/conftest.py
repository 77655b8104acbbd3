"""Small recordings written once per session with rosbags' writers (ROS 1 and ROS 2)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bridges.ros.recordings import Recording, fixture_topics
from tests.bridges.ros.rosbag_fixtures import write


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
