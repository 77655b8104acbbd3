"""Export back to ROS recordings: byte-equal round trips and the documented fallbacks."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import Stores, get_types_from_idl, get_typestore

from mosaico.bridges.ros import (
    ROS_KEY,
    ExportTopic,
    MemorySequence,
    RosBridgeError,
    default_ros_type,
    export,
    ingest,
)
from mosaico.bridges.ros.source import parse_definition
from mosaico.types import IMU, Vector3d
from tests.bridges.ros.recordings import Recording, decode, raw_messages
from tests.bridges.ros.rosbag_fixtures import write


def _export_topics(seq: MemorySequence) -> list[ExportTopic]:
    return [
        ExportTopic(t.name, t.metadata, t.topic_type.tag, t.batches) for t in seq.topics.values()
    ]


def _out(tmp_path: Path, fmt: str) -> Path:
    return tmp_path / ("out.bag" if fmt == "bag" else f"out_{fmt}")


def test_round_trip_keeps_every_message_equal(
    recording: Recording, ingested: dict[str, Any], tmp_path: Path
) -> None:
    """bag → mosaico → bag (and db3, mcap): every message byte-equal, same log times."""
    seq, _ = ingested[recording.fmt]
    out = _out(tmp_path, recording.fmt)
    report = export(_export_topics(seq), out, recording.fmt)
    assert not report.skipped
    assert raw_messages(out) == raw_messages(recording.path)


def test_export_to_a_bare_mcap_file(ingested: dict[str, Any], tmp_path: Path) -> None:
    seq, decoded = ingested["db3"]
    out = tmp_path / "out.mcap"
    export(_export_topics(seq), out, "mcap")
    assert out.is_file()
    assert {t: len(m) for t, m in decode(out).items()} == {t: len(m) for t, m in decoded.items()}


def _strip_counters(value: Any) -> Any:
    """ROS 2 headers have no `seq`: the sample counter cannot cross generations."""
    if isinstance(value, dict):
        return {k: _strip_counters(v) for k, v in value.items() if k != "sample_counter"}
    if isinstance(value, list):
        return [_strip_counters(v) for v in value]
    return value


def test_ros1_exports_to_ros2_with_the_same_values(
    recordings: dict[str, Recording], ingested: dict[str, Any], tmp_path: Path
) -> None:
    seq, _ = ingested["bag"]
    standard = [t for t in _export_topics(seq) if t.metadata[ROS_KEY]["adapter"] != "generic"]
    out = tmp_path / "ros2"
    export(standard, out, "db3")
    again = MemorySequence("again")
    ingest([out], again)
    for topic in standard:
        before = seq.topics[topic.name].table().to_pylist()
        after = again.topics[topic.name].table().to_pylist()
        assert _strip_counters(after) == _strip_counters(before), topic.name


def test_topics_not_from_ros_export_with_the_default_type(tmp_path: Path) -> None:
    seq = MemorySequence("plain")
    imu = seq.topic("/imu", {}, _imu_type())  # as a stored topic is named: one slash back
    vec = Vector3d(x=1.0, y=2.0, z=3.0)
    imu.write(IMU.to_batch([IMU(acceleration=vec, angular_velocity=vec)], [5]))
    seq.topic("odd", {}, _imu_type("NoSuchTag"))
    out = tmp_path / "plain.bag"
    report = export(_export_topics(seq), out, "bag")
    assert "no ROS type known for tag 'NoSuchTag'" in report.skipped["odd"]
    ((t, msg),) = decode(out)["/imu"]
    assert t == 5 and msg.linear_acceleration.z == 3.0
    assert msg.orientation_covariance[0] == -1.0  # ROS: no orientation estimate
    assert default_ros_type("Pose") == "geometry_msgs/msg/PoseStamped"
    assert default_ros_type("IMU") == "sensor_msgs/msg/Imu"


def _imu_type(tag: str = "IMU") -> Any:
    from mosaico.protocol import TopicType

    return TopicType(tag, IMU.ARROW_SCHEMA, "default")


def test_bad_export_requests(ingested: dict[str, Any], tmp_path: Path) -> None:
    seq, _ = ingested["mcap"]
    topics = _export_topics(seq)
    with pytest.raises(RosBridgeError, match="unknown export format 'ros3'"):
        export(topics, tmp_path / "x", "ros3")
    with pytest.raises(RosBridgeError, match="already exists"):
        export(topics, tmp_path, "db3")
    with pytest.raises(RosBridgeError, match="nothing to export"):
        export([], tmp_path / "empty.bag", "bag")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


POINT2_IDL = """module my_pkg {
  module msg {
    struct Point2 {
      double x;
      sequence<int32> ids;
    };
  };
};
"""


def test_idl_definitions_ingest_and_round_trip(tmp_path: Path) -> None:
    """rosbag2 stores some definitions as IDL (`IDL:` sections, or a bare IDL file)."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    store.register(get_types_from_idl(POINT2_IDL))
    msgtype = "my_pkg/msg/Point2"
    assert parse_definition(POINT2_IDL, "idl", msgtype) == get_types_from_idl(POINT2_IDL)
    sectioned = "=" * 80 + f"\nIDL: {msgtype}\n" + POINT2_IDL
    with Writer2(tmp_path / "idl", version=9) as writer:
        conn = writer.add_connection(
            "/points", msgtype, msgdef=sectioned, rihs01=store.hash_rihs01(msgtype)
        )
        for i in range(3):
            msg = store.types[msgtype](x=i / 2, ids=np.array([i, 7], dtype=np.int32))
            writer.write(conn, i, store.serialize_cdr(msg, msgtype))
    seq = MemorySequence("idl")
    ingest([tmp_path / "idl"], seq)
    topic = seq.topics["points"]
    assert topic.metadata[ROS_KEY]["definition_format"] == "idl"
    assert topic.table().drop_columns(["timestamp_ns"]).to_pylist()[2] == {"x": 1.0, "ids": [2, 7]}
    export(_export_topics(seq), tmp_path / "out.mcap", "mcap")
    assert raw_messages(tmp_path / "out.mcap") == raw_messages(tmp_path / "idl")


def _lossy(topic: str, i: int, msg: Any) -> None:
    if topic == "/image":
        msg.is_bigendian = (7, 0)[i % 2]  # not a bool: kept as the topic's original
    elif topic == "/jpeg_png":  # two codecs: each row comes back with its own string
        msg.format = ("bgr8; jpeg compressed bgr8", "png")[i % 2]
    elif topic == "/two_jpegs":  # two strings of one codec: the documented loss
        msg.format = ("bgr8; jpeg compressed bgr8", "mono8; jpeg compressed mono8")[i % 2]


@pytest.mark.parametrize("fmt", ["bag", "db3", "mcap"])
def test_values_the_ontology_cannot_hold_come_back(fmt: str, tmp_path: Path) -> None:
    topics = [
        ("/image", "sensor_msgs/msg/Image", 4, 10),
        ("/jpeg_png", "sensor_msgs/msg/CompressedImage", 4, 10),
        ("/two_jpegs", "sensor_msgs/msg/CompressedImage", 4, 10),
    ]
    src, _ = write(_out(tmp_path, fmt), fmt, topics, seed=2, edit=_lossy)
    seq = MemorySequence("lossy")
    ingest([src], seq)
    originals = {n: t.metadata[ROS_KEY].get("originals") for n, t in seq.topics.items()}
    assert originals == {
        "image": {"is_bigendian": 7},
        "jpeg_png": {"format": "bgr8; jpeg compressed bgr8"},
        "two_jpegs": {"format": "bgr8; jpeg compressed bgr8"},
    }
    out = tmp_path / f"back.{fmt}"
    export(_export_topics(seq), out, fmt)
    before, after = raw_messages(src), raw_messages(out)
    assert after["/image"] == before["/image"] and after["/jpeg_png"] == before["/jpeg_png"]
    formats = [m.format for _, m in decode(out)["/two_jpegs"]]
    assert formats == ["bgr8; jpeg compressed bgr8"] * 4


def test_export_writes_in_log_time_order_across_topics(
    ingested: dict[str, Any], tmp_path: Path
) -> None:
    seq, _ = ingested["mcap"]
    out = tmp_path / "out.db3"
    export(_export_topics(seq), out, "db3")
    with sqlite3.connect(out) as db:  # rowid = write order
        rows = db.execute("SELECT topic_id, timestamp FROM messages ORDER BY id").fetchall()
    assert [t for _, t in rows] == sorted(t for _, t in rows)
    assert len({topic for topic, _ in rows}) == len(seq.topics) > 1
