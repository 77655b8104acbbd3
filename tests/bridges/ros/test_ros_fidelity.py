"""Export writes back how the recording was stored: QoS, latching and compression.

Recordings are written by rosbags with a latched `/tf_static` and compressed chunks or
messages; what export writes is read back with rosbags.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from rosbags.interfaces import (
    ConnectionExtRosbag1,
    ConnectionExtRosbag2,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag1 import Reader as Reader1
from rosbags.rosbag2 import Reader as Reader2

from mosaico.bridges.ros import (
    ROS_KEY,
    ExportTopic,
    MemorySequence,
    Progress,
    RosBridgeError,
    export,
    ingest,
)
from mosaico.cli import main
from tests.backends import Backend
from tests.bridges.ros.recordings import raw_messages
from tests.bridges.ros.rosbag_fixtures import write

TOPICS = [
    ("/tf_static", "tf2_msgs/msg/TFMessage", 1, 1),
    ("/imu", "sensor_msgs/msg/Imu", 40, 10_000_000),
    ("/camera", "sensor_msgs/msg/Image", 20, 20_000_000),
]
_T = QosTime(0, 0)
TRANSIENT = Qos(
    QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL,
    _T, _T, QosLiveliness.AUTOMATIC, _T, avoid_ros_namespace_conventions=False,
)  # fmt: skip
SENSOR = Qos(
    QosHistory.KEEP_LAST, 5, QosReliability.BEST_EFFORT, QosDurability.VOLATILE,
    _T, QosTime(1, 500), QosLiveliness.AUTOMATIC, _T, avoid_ros_namespace_conventions=False,
)  # fmt: skip
ROS2_QOS = {
    "/tf_static": {"offered_qos_profiles": [TRANSIENT]},
    "/imu": {"offered_qos_profiles": [SENSOR, SENSOR._replace(depth=10)]},
}
ROS1_HEADERS = {
    "/tf_static": {"latching": 1, "callerid": "/robot_state_publisher"},
    "/imu": {"latching": 0, "callerid": "/imu_driver"},
}


def _blank_images(topic: str, i: int, msg: Any) -> None:
    """Camera frames that compress well, as real ones do."""
    if topic == "/camera":
        msg.data = np.full(200_000, i, dtype=np.uint8)


def _recording(tmp_path: Path, fmt: str, compression: str, mode: str = "message") -> Path:
    target = tmp_path / ("src.bag" if fmt == "bag" else f"src_{fmt}")
    connections = ROS1_HEADERS if fmt == "bag" else ROS2_QOS
    path, _ = write(
        target, fmt, TOPICS, compression=compression, mode=mode, seed=3,
        edit=_blank_images, connections=connections,
    )  # fmt: skip
    return path


def _ingested(path: Path) -> list[ExportTopic]:
    seq = MemorySequence("run")
    ingest([path], seq)
    return [
        ExportTopic(t.name, t.metadata, t.topic_type.tag, t.batches, t.table().num_rows)
        for t in seq.topics.values()
    ]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size


def _ros1_headers(path: Path) -> dict[str, tuple[int | None, str | None]]:
    with Reader1(path) as reader:
        out = {}
        for conn in reader.connections:
            assert isinstance(conn.ext, ConnectionExtRosbag1)
            out[conn.topic] = (conn.ext.latching, conn.ext.callerid)
        return out


def _ros1_chunk_compression(path: Path) -> set[str]:
    """The `compression=` field of every chunk record header, read from the file bytes."""
    return {m.decode() for m in re.findall(rb"compression=(\w+)", path.read_bytes())}


def _ros2_qos(path: Path) -> dict[str, list[Qos]]:
    with Reader2(path) as reader:
        out = {}
        for conn in reader.connections:
            assert isinstance(conn.ext, ConnectionExtRosbag2)
            out[conn.topic] = list(conn.ext.offered_qos_profiles)
        return out


def _ros2_compression(path: Path) -> tuple[str | None, str | None, set[str]]:
    """rosbag2's compression mode and format, and the MCAP chunks' compressions."""
    with Reader2(path) as reader:
        storages = getattr(reader.storage, "storages", [reader.storage])
        chunks = {c.compression for s in storages for c in getattr(s, "chunks", ())}
        return reader.compression_mode, reader.compression_format, chunks


def test_ros1_latching_and_chunk_compression_come_back(tmp_path: Path) -> None:
    src = _recording(tmp_path, "bag", "lz4")
    topics = _ingested(src)
    tf = next(t for t in topics if t.name == "tf_static")
    assert tf.metadata[ROS_KEY]["latching"] == 1
    assert tf.metadata[ROS_KEY]["compression"] == {"format": "lz4", "mode": "chunk"}
    out = tmp_path / "out.bag"
    report = export(topics, out, "bag")
    assert str(report.compression) == "lz4 chunks"
    assert (
        _ros1_headers(out)
        == _ros1_headers(src)
        == {
            "/tf_static": (1, "/robot_state_publisher"),
            "/imu": (0, "/imu_driver"),
            "/camera": (None, None),
        }
    )
    assert _ros1_chunk_compression(out) == _ros1_chunk_compression(src) == {"lz4"}
    assert raw_messages(out) == raw_messages(src)
    plain = tmp_path / "plain.bag"
    export(topics, plain, "bag", compression="none")
    assert _ros1_chunk_compression(plain) == {"none"}
    assert _size(out) < 1.2 * _size(src) and _size(plain) > 10 * _size(src)
    bz2 = tmp_path / "bz2.bag"
    export(topics, bz2, "bag", compression="bz2")
    assert _ros1_chunk_compression(bz2) == {"bz2"} and raw_messages(bz2) == raw_messages(src)


@pytest.mark.parametrize(("mode", "expected"), [("message", "message"), ("file", "file")])
def test_rosbag2_qos_and_zstd_mode_come_back(tmp_path: Path, mode: str, expected: str) -> None:
    src = _recording(tmp_path, "db3", "zstd", mode)
    assert _ros2_compression(src)[:2] == (expected, "zstd")
    topics = _ingested(src)
    for fmt in ("db3", "mcap"):
        out = tmp_path / f"out_{fmt}"
        report = export(topics, out, fmt)
        assert report.compression.mode == expected
        assert _ros2_compression(out)[:2] == (expected, "zstd")
        assert (
            _ros2_qos(out)
            == _ros2_qos(src)
            == {
                "/tf_static": [TRANSIENT],
                "/imu": [SENSOR, SENSOR._replace(depth=10)],
                "/camera": [],
            }
        )
        assert raw_messages(out) == raw_messages(src)
        assert _size(out) < 1.2 * _size(src)


def test_mcap_chunk_compression_comes_back(tmp_path: Path) -> None:
    src = _recording(tmp_path, "mcap", "zstd", "storage")
    assert src.suffix == ".mcap" and _ros2_compression(src) == (None, None, {"zstd"})
    topics = _ingested(src)
    assert topics[0].metadata[ROS_KEY]["compression"] == {"format": "zstd", "mode": "chunk"}
    out = tmp_path / "out.mcap"
    assert str(export(topics, out, "mcap").compression) == "zstd chunks"
    assert _ros2_compression(out) == (None, None, {"zstd"})
    assert _ros2_qos(out) == _ros2_qos(src)
    assert raw_messages(out) == raw_messages(src) and _size(out) < 1.2 * _size(src)
    plain = tmp_path / "plain.mcap"
    export(topics, plain, "mcap", compression="none")
    assert _ros2_compression(plain) == (None, None, {""}) and _size(plain) > 10 * _size(src)


def test_qos_and_compression_cross_generations(tmp_path: Path) -> None:
    """Latched ROS 1 topics become transient-local, and the other way round; a
    compressed recording stays compressed in the target's own format."""
    ros1 = _ingested(_recording(tmp_path, "bag", "lz4"))
    out2 = tmp_path / "to_ros2"
    assert str(export(ros1, out2, "db3").compression) == "zstd messages"
    qos = _ros2_qos(out2)
    assert [p.durability for p in qos["/tf_static"]] == [QosDurability.TRANSIENT_LOCAL]
    assert qos["/imu"] == qos["/camera"] == []
    ros2 = _ingested(_recording(tmp_path, "db3", "zstd"))
    out1 = tmp_path / "to_ros1.bag"
    assert str(export(ros2, out1, "bag").compression) == "lz4 chunks"
    assert _ros1_headers(out1) == {
        "/tf_static": (1, None),
        "/imu": (None, None),
        "/camera": (None, None),
    }


def test_compressions_the_target_cannot_hold_are_refused(tmp_path: Path) -> None:
    ros2 = _ingested(_recording(tmp_path, "db3", "zstd"))
    with pytest.raises(RosBridgeError, match=r"a bag export cannot be compressed with zstd"):
        export(ros2, tmp_path / "x.bag", "bag", compression="zstd")
    with pytest.raises(RosBridgeError, match=r"a db3 file export cannot be compressed"):
        export(ros2, tmp_path / "x.db3", "db3", compression="zstd")
    with pytest.raises(RosBridgeError, match=r"unknown compression 'gzip'"):
        export(ros2, tmp_path / "x.mcap", "mcap", compression="gzip")
    assert list(tmp_path.glob("x*")) == []
    # By default a bare .db3 file, which cannot say it is compressed, is written plain.
    assert str(export(ros2, tmp_path / "plain.db3", "db3").compression) == "none"
    assert raw_messages(tmp_path / "plain.db3") == raw_messages(tmp_path / "src_db3")


def test_bad_qos_metadata_skips_the_topic(tmp_path: Path) -> None:
    topics = _ingested(_recording(tmp_path, "db3", "zstd"))
    bad = [
        ExportTopic(t.name, {ROS_KEY: {**t.metadata[ROS_KEY], "qos": [{"depth": 1}]}},
                    t.tag, t.batches) if t.name == "imu" else t
        for t in topics
    ]  # fmt: skip
    report = export(bad, tmp_path / "out.mcap", "mcap")
    assert report.skipped == {"imu": "bad QoS metadata (_ros_.qos): a profile lacks 'deadline'"}
    assert sorted(report.written) == ["camera", "tf_static"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_export_draws_progress_on_a_terminal(tmp_path: Path) -> None:
    topics = _ingested(_recording(tmp_path, "bag", "lz4"))
    terminal = _Terminal()
    export(topics, tmp_path / "out.bag", "bag", progress=Progress(61, terminal, interval=0))
    last = terminal.getvalue().split("\r")[-1]
    assert last.startswith("[" + "#" * 20 + "] 61/61 msgs") and "MB/s" in last
    unknown = _Terminal()  # stored row counts unknown: counts and speed, no bar
    uncounted = [ExportTopic(t.name, t.metadata, t.tag, t.batches) for t in topics]
    export(uncounted, tmp_path / "out2.bag", "bag", progress=Progress(None, unknown, interval=0))
    assert unknown.getvalue().split("\r")[-1].startswith("61 msgs")


def test_cli_export_keeps_latching_and_compression_through_a_store(
    backend: Backend, tmp_path: Path
) -> None:
    src = _recording(tmp_path, "bag", "lz4")
    with backend.cli_target(tmp_path / "store") as store:
        runner = CliRunner()
        result = runner.invoke(main, ["ingest", str(src), "-s", "run", *store])
        assert result.exit_code == 0, result.output
        out = tmp_path / "back.bag"
        result = runner.invoke(main, ["export", "run", str(out), *store])
        assert result.exit_code == 0, result.output
        assert "(compression: lz4 chunks)" in result.output
        assert _ros1_headers(out) == _ros1_headers(src)
        assert _ros1_chunk_compression(out) == {"lz4"} and _size(out) < 1.2 * _size(src)
        assert raw_messages(out) == raw_messages(src)
        bz2 = tmp_path / "bz2.bag"
        args = ["export", "run", str(bz2), "--compression", "bz2", *store]
        result = runner.invoke(main, args)
        assert result.exit_code == 0 and _ros1_chunk_compression(bz2) == {"bz2"}, result.output
        args = [
            "export",
            "run",
            str(tmp_path / "z.bag"),
            "--compression",
            "zstd",
            *store,
        ]
        result = runner.invoke(main, args)
        assert result.exit_code == 1
        assert (
            "Error: a bag export cannot be compressed with zstd (none, lz4, bz2)" in result.output
        )


def test_cli_compression_choices_are_the_bridge_ones() -> None:
    from mosaico.bridges.ros.compression import CHOICES
    from mosaico.cli.ros_cmd import _COMPRESSIONS

    assert _COMPRESSIONS == CHOICES
