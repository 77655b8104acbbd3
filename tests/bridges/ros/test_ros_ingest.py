"""Ingest of rosbags-written recordings, checked against rosbags' own decoding."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rosbags.rosbag2 import Writer as Writer2

from mosaico.bridges.ros import (
    ADAPTERS,
    ROS_KEY,
    MemorySequence,
    MemoryTopic,
    MissingDefinitionsError,
    Progress,
    RosBridgeError,
    adapter_for,
    ingest,
)
from mosaico.protocol import TopicType
from tests.bridges.ros.recordings import ALL_TYPES, Recording, decode, fixture_topics
from tests.bridges.ros.rosbag_fixtures import (
    LOSSY_FORMAT,
    START_NS,
    RandomMessages,
    typestore,
    write,
)


def _ingested(rec: Recording, **kwargs: Any) -> MemorySequence:
    seq = MemorySequence("run")
    ingest([rec.path], seq, **kwargs)
    assert seq.finalized
    return seq


def _rows(seq: MemorySequence, ros_topic: str) -> tuple[list[int], list[dict[str, Any]]]:
    topic = next(t for t in seq.topics.values() if t.metadata[ROS_KEY]["topic"] == ros_topic)
    table = topic.table()
    return table.column("timestamp_ns").to_pylist(), table.drop_columns(
        ["timestamp_ns"]
    ).to_pylist()


def test_fixtures_cover_every_adapter() -> None:
    covered = {m for v in (1, 2) for _, m, _, _ in fixture_topics(v)}
    assert set(ADAPTERS) <= covered
    assert {"my_robot/msg/WheelState", "sensor_msgs/msg/NavSatStatus"} <= covered


def test_every_topic_ingests_with_its_type(recording: Recording) -> None:
    seq = _ingested(recording, batch_messages=4)  # several batches per topic
    decoded = recording.decoded()
    assert len(seq.topics) == len(recording.topics)
    for topic in seq.topics.values():
        ros = topic.metadata[ROS_KEY]
        msgtype = recording.topics[ros["topic"]]
        assert ros["type"] == msgtype
        assert ros["ros_version"] == (1 if recording.fmt == "bag" else 2)
        assert ros["source"] == [recording.path.name]
        assert msgtype.rsplit("/", 1)[1] in ros["definition"] or ros["definition"]
        adapter = ADAPTERS.get(msgtype)
        assert topic.topic_type.tag == (adapter.topic_type.tag if adapter else msgtype)
        if adapter:
            assert topic.topic_type.schema.equals(adapter.topic_type.schema)
        times = topic.table().column("timestamp_ns").to_pylist()
        assert times == [t for t, _ in decoded[ros["topic"]]]  # log time → record time
        pq.write_table(topic.table(), io.BytesIO())  # storable: no nulls in required columns


def _header_ok(row: dict[str, Any] | None, header: Any) -> None:
    assert row is not None
    assert row["timestamp"] == {"seconds": header.stamp.sec, "nanoseconds": header.stamp.nanosec}
    assert row["frame_id"] == header.frame_id
    assert row["sample_counter"] == getattr(header, "seq", None)


def _vec(row: dict[str, Any], msg: Any, comps: str = "xyz") -> None:
    assert [row[c] for c in comps] == [getattr(msg, c) for c in comps]


def _check_imu(row: dict[str, Any], m: Any) -> None:
    _header_ok(row["header"], m.header)
    _vec(row["acceleration"], m.linear_acceleration)
    _vec(row["angular_velocity"], m.angular_velocity)
    _vec(row["orientation"], m.orientation, "xyzw")
    assert row["acceleration"]["covariance"] == m.linear_acceleration_covariance.tolist()
    assert row["orientation"]["covariance"] == m.orientation_covariance.tolist()


def _check_gps(row: dict[str, Any], m: Any) -> None:
    _header_ok(row["header"], m.header)
    pos = row["position"]
    assert (pos["x"], pos["y"], pos["z"]) == (m.latitude, m.longitude, m.altitude)
    assert pos["covariance"] == m.position_covariance.tolist()
    assert pos["covariance_type"] == m.position_covariance_type
    assert (row["status"]["status"], row["status"]["service"]) == (
        m.status.status,
        m.status.service,
    )


def _check_image(row: dict[str, Any], m: Any) -> None:
    _header_ok(row["header"], m.header)
    assert row["data"] == m.data.tobytes()
    assert row["format"] == "raw"
    assert (row["width"], row["height"], row["stride"]) == (m.width, m.height, m.step)
    assert row["encoding"] == m.encoding
    assert row["is_bigendian"] == bool(m.is_bigendian)


def _check_compressed(row: dict[str, Any], m: Any) -> None:
    assert row["data"] == m.data.tobytes()
    assert m.format == LOSSY_FORMAT and row["format"] == "jpeg"


def _check_camera_info(row: dict[str, Any], m: Any) -> None:
    k = m.k if hasattr(m, "k") else m.K  # ROS 2 / ROS 1 spelling
    assert row["intrinsic_parameters"] == k.tolist()
    assert row["roi"]["width"] == m.roi.width
    assert row["binning"]["x"] == m.binning_x


def _check_tf(row: dict[str, Any], m: Any) -> None:
    assert len(row["transforms"]) == len(m.transforms)
    for got, want in zip(row["transforms"], m.transforms, strict=True):
        _header_ok(got["header"], want.header)
        assert got["target_frame_id"] == want.child_frame_id
        _vec(got["translation"], want.transform.translation)
        _vec(got["rotation"], want.transform.rotation, "xyzw")


def _check_joints(row: dict[str, Any], m: Any) -> None:
    assert row["names"] == m.name
    assert row["positions"] == m.position.tolist()
    assert row["efforts"] == m.effort.tolist()


def _check_odometry(row: dict[str, Any], m: Any) -> None:
    _vec(row["pose"]["position"], m.pose.pose.position)
    assert row["pose"]["covariance"] == m.pose.covariance.tolist()
    _vec(row["velocity"]["angular"], m.twist.twist.angular)
    assert row["target_frame_id"] == m.child_frame_id


def _check_temperature(row: dict[str, Any], m: Any) -> None:
    assert (row["value"], row["variance"]) == (m.temperature, m.variance)


def _check_string(row: dict[str, Any], m: Any) -> None:
    assert row == {"data": m.data}


def _check_custom(row: dict[str, Any], m: Any) -> None:
    _header_ok({"timestamp": {"seconds": row["header"]["stamp"]["sec"],
                              "nanoseconds": row["header"]["stamp"]["nanosec"]},
                "frame_id": row["header"]["frame_id"],
                "sample_counter": row["header"].get("seq")}, m.header)  # fmt: skip
    assert row["names"] == m.names
    assert row["speeds"] == m.speeds.tolist()
    assert row["blob"] == m.blob.tobytes()
    assert [x["name"] for x in row["motors"]] == [x.name for x in m.motors]
    assert [x["axes"][1]["z"] for x in row["motors"]] == [x.axes[1].z for x in m.motors]
    assert row["main"]["current"] == m.main.current
    assert row["mode"] == m.mode


CHECKS = {
    "sensor_msgs/msg/Imu": _check_imu,
    "sensor_msgs/msg/NavSatFix": _check_gps,
    "sensor_msgs/msg/Image": _check_image,
    "sensor_msgs/msg/CompressedImage": _check_compressed,
    "sensor_msgs/msg/CameraInfo": _check_camera_info,
    "sensor_msgs/msg/JointState": _check_joints,
    "sensor_msgs/msg/Temperature": _check_temperature,
    "tf2_msgs/msg/TFMessage": _check_tf,
    "nav_msgs/msg/Odometry": _check_odometry,
    "std_msgs/msg/String": _check_string,
    "my_robot/msg/WheelState": _check_custom,
}


@pytest.mark.parametrize("msgtype", sorted(CHECKS))
def test_values_match_rosbags_decoding(
    recordings: dict[str, Recording], ingested: dict[str, Any], msgtype: str
) -> None:
    for fmt, rec in recordings.items():
        seq, decoded = ingested[fmt]
        (ros_topic,) = [t for t, m in rec.topics.items() if m == msgtype]
        times, rows = _rows(seq, ros_topic)
        assert len(rows) == len(decoded[ros_topic]) > 0
        for row, (_, msg) in zip(rows, decoded[ros_topic], strict=True):
            CHECKS[msgtype](row, msg)


def test_topic_filter_globs_and_excludes(recordings: dict[str, Recording]) -> None:
    rec = recordings["bag"]
    seq = _ingested(rec, topics=["/sensor_msgs/*", "!*image*", "!/sensor_msgs/imu"])
    kept = {t.metadata[ROS_KEY]["topic"] for t in seq.topics.values()}
    expected = {t for t in rec.topics if t.startswith("/sensor_msgs/")}
    expected -= {t for t in expected if "image" in t} | {"/sensor_msgs/imu"}
    assert kept == expected and "/sensor_msgs/navsatfix" in kept


@pytest.mark.parametrize(
    ("patterns", "message"),
    [(["/nope/*"], "matches no topic"), (["!/nope"], "matches no topic"), ([""], "empty topic")],
)
def test_bad_topic_patterns_fail_before_writing(
    recordings: dict[str, Recording], patterns: list[str], message: str
) -> None:
    seq = MemorySequence("run")
    with pytest.raises(RosBridgeError, match=message):
        ingest([recordings["bag"].path], seq, topics=patterns)
    assert not seq.topics and not seq.finalized and seq.error is None


def _garbage(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"#ROSBAG V2.0\n" + bytes(range(256)) * 4)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.bag", "no such file"),
        (lambda p: _garbage(p, "corrupt.bag"), "cannot read"),
        (lambda p: _garbage(p, "corrupt.mcap"), "cannot read"),
        (lambda p: _garbage(p, "notes.txt"), "unknown storage format '.txt'"),
        (lambda p: p, "not a rosbag2 bag"),
    ],
)
def test_bad_files_fail_before_writing(tmp_path: Path, make: Any, message: str) -> None:
    seq = MemorySequence("run")
    with pytest.raises(RosBridgeError, match=message):
        ingest([make(tmp_path)], seq)
    assert not seq.topics and seq.error is None


def test_mixing_ros1_and_ros2_is_refused(recordings: dict[str, Recording]) -> None:
    with pytest.raises(RosBridgeError, match="cannot mix"):
        ingest([recordings["bag"].path, recordings["mcap"].path], MemorySequence("run"))


def test_topic_without_definition_fails_up_front_unless_left_out(tmp_path: Path) -> None:
    store = typestore(2)
    gen = RandomMessages(store, 3)
    path = tmp_path / "nodef"
    with Writer2(path, version=9) as writer:
        good = writer.add_connection("/imu", "sensor_msgs/msg/Imu", typestore=store)
        # A definition-less custom type: what old recorders wrote.
        bad = writer.add_connection("/wheels", "my_robot/msg/WheelState", msgdef="", rihs01="x")
        for i in range(3):
            for conn in (good, bad):
                msg = gen.message(conn.msgtype)
                writer.write(conn, START_NS + i, store.serialize_cdr(msg, conn.msgtype))
    seq = MemorySequence("run")
    with pytest.raises(MissingDefinitionsError, match="--msg PATH") as info:
        ingest([path], seq)
    assert info.value.missing == {"my_robot/msg/WheelState": ["/wheels"]}
    assert "--topics '!/wheels'" in str(info.value)
    assert not seq.topics and seq.error is None  # nothing was written
    report = ingest([path], seq, topics=["!/wheels"])
    assert report.written == {"/imu": 3}
    assert list(seq.topics) == ["imu"]


def test_adapter_overrides(recordings: dict[str, Recording]) -> None:
    rec = recordings["mcap"]
    seq = _ingested(rec, topics=["/sensor_msgs/imu"], adapters={"/sensor_msgs/*": "generic"})
    (topic,) = seq.topics.values()
    assert topic.topic_type.tag == "sensor_msgs/msg/Imu"
    assert topic.metadata[ROS_KEY]["adapter"] == "generic"
    assert topic.table().column("linear_acceleration").type.names == ["x", "y", "z"]
    with pytest.raises(RosBridgeError, match="unknown adapter 'IMU'"):
        adapter_for(None, "sensor_msgs/msg/Imu", "IMU")  # type: ignore[arg-type]


def test_ros_constants_are_kept_in_metadata(recordings: dict[str, Recording]) -> None:
    seq = _ingested(recordings["db3"], topics=["/sensor_msgs/batterystate", "/my_robot/wheelstate"])
    consts = {t.topic_type.tag: t.metadata[ROS_KEY]["constants"] for t in seq.topics.values()}
    battery = consts["BatteryState"]["sensor_msgs/msg/BatteryState"]
    assert battery["POWER_SUPPLY_STATUS_CHARGING"] == 1
    assert consts["my_robot/msg/WheelState"]["my_robot/msg/WheelState"] == {
        "MODE_IDLE": 0,
        "MODE_RUN": 1,
    }


class _FailingTopic(MemoryTopic):
    """Uploads fail after the first batch, as with a lost server."""

    def write(self, batch: pa.RecordBatch) -> None:
        if self.batches:
            raise ConnectionError("upload failed")
        super().write(batch)


class _FailingSequence(MemorySequence):
    def topic(self, name: str, metadata: dict[str, Any], topic_type: TopicType) -> MemoryTopic:
        self.topics[name] = _FailingTopic(name, metadata, topic_type)
        return self.topics[name]


def test_failure_mid_ingest_reaches_the_session(recordings: dict[str, Recording]) -> None:
    seq = _FailingSequence("run")
    with pytest.raises(ConnectionError, match="upload failed"):
        ingest([recordings["bag"].path], seq, topics=["/sensor_msgs/imu"], batch_messages=2)
    assert isinstance(seq.error, ConnectionError) and not seq.finalized


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_on_a_terminal_only(recordings: dict[str, Recording]) -> None:
    rec = recordings["bag"]
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        ingest([rec.path], MemorySequence("run"), progress=Progress(1, stream, interval=0))
    assert "msgs" in terminal.getvalue() and "MB/s" in terminal.getvalue()
    drawn = terminal.getvalue().removesuffix("\n").split("\r")[1:]
    assert drawn and all(line.endswith("\x1b[K") for line in drawn)  # no leftovers shown
    assert pipe.getvalue() == ""


def test_split_ros1_bags_make_one_sequence(tmp_path: Path) -> None:
    topics = [("/imu", "sensor_msgs/msg/Imu", 4, 10_000_000)]
    first, _ = write(tmp_path / "a.bag", "bag", topics, seed=1)
    second, _ = write(tmp_path / "b.bag", "bag", [("/gps", "sensor_msgs/msg/NavSatFix", 2, 1)])
    seq = MemorySequence("run")
    report = ingest([first, second], seq)
    assert report.written == {"/gps": 2, "/imu": 4}
    assert seq.topics["imu"].metadata[ROS_KEY]["source"] == ["a.bag", "b.bag"]


def test_all_types_constant_lists_the_generic_cases() -> None:
    assert [t for t in ALL_TYPES if t not in ADAPTERS] == [
        "my_robot/msg/WheelState",
        "sensor_msgs/msg/NavSatStatus",
    ]


MIXED = [
    ("/imu", "sensor_msgs/msg/Imu", 10, 10_000_000),
    ("/camera", "sensor_msgs/msg/CompressedImage", 10, 30_000_000),
    ("/gps", "sensor_msgs/msg/NavSatFix", 10, 50_000_000),
    ("/image", "sensor_msgs/msg/Image", 10, 20_000_000),
]


def _bad_codec(topic: str, i: int, msg: Any) -> None:
    if topic == "/camera" and i == 5:
        msg.format = "webp"  # no mosaico ImageFormat


def _wide_image(topic: str, i: int, msg: Any) -> None:
    if topic == "/image" and i == 6:
        msg.width = 2**31 + 5  # fits ROS uint32, not mosaico's int32


@pytest.mark.parametrize(
    ("fmt", "edit", "bad", "kept", "why"),
    [
        ("db3", _bad_codec, "/camera", 5, "'webp' is not a mosaico ImageFormat"),
        ("bag", _wide_image, "/image", 6, "too large to fit"),
    ],
)
def test_a_bad_message_fails_its_topic_only(
    tmp_path: Path, fmt: str, edit: Any, bad: str, kept: int, why: str
) -> None:
    target = tmp_path / ("rec.bag" if fmt == "bag" else "rec")
    path, _ = write(target, fmt, MIXED, seed=5, edit=edit)
    decoded = decode(path)
    seq = MemorySequence("run")
    report = ingest([path], seq, batch_messages=4)  # the bad message is mid-batch
    assert seq.finalized and seq.error is None
    reason = report.skipped[bad]
    assert why in reason and f"message {kept + 1} " in reason
    assert f"its first {kept} messages are kept" in reason
    assert report.written == {t: kept if t == bad else 10 for t, _, _, _ in MIXED}
    assert report.messages == 30 + kept
    for ros_topic, _, _, _ in MIXED:
        times, _ = _rows(seq, ros_topic)
        want = [t for t, _ in decoded[ros_topic]]
        assert times == (want[:kept] if ros_topic == bad else want), ros_topic
    topic = seq.topics[bad.lstrip("/")]
    assert topic.error is not None and why in topic.error and bad in topic.error
    assert all(t.error is None for t in seq.topics.values() if t is not topic)


def test_a_message_that_does_not_decode_fails_its_topic_only(tmp_path: Path) -> None:
    store = typestore(2)
    gen = RandomMessages(store, 4)
    with Writer2(tmp_path / "cut", version=9) as writer:
        imu = writer.add_connection("/imu", "sensor_msgs/msg/Imu", typestore=store)
        gps = writer.add_connection("/gps", "sensor_msgs/msg/NavSatFix", typestore=store)
        for i in range(6):
            raw = store.serialize_cdr(gen.message(imu.msgtype), imu.msgtype)
            writer.write(imu, START_NS + i, raw[:20] if i == 3 else raw)  # a truncated message
            writer.write(
                gps, START_NS + i, store.serialize_cdr(gen.message(gps.msgtype), gps.msgtype)
            )
    seq = MemorySequence("run")
    report = ingest([tmp_path / "cut"], seq)
    assert report.written == {"/gps": 6, "/imu": 3}
    assert report.skipped["/imu"].startswith(f"message 4 (log time {START_NS + 3} ns) does not")
    assert seq.topics["imu"].error is not None and seq.finalized
