"""MCAP files of protobuf (Foxglove and custom) and JSON channels, alone and next to ROS 2
CDR channels, ingested into a real local store and read back typed."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner
from google.protobuf.descriptor_pb2 import FileDescriptorSet
from mcap.reader import make_reader
from mcap.writer import IndexType
from mcap_protobuf.writer import Writer as ProtobufWriter

from mosaico.bridges.mcap import FOXGLOVE, McapSource
from mosaico.bridges.ros import MemorySequence, RosBridgeError, ingest, plan
from mosaico.bridges.ros.client_sink import ClientSequence
from mosaico.bridges.ros.source import RosSource, open_source
from mosaico.cli import main
from mosaico.client import MosaicoClient
from tests.bridges.mcap.files import (
    BAD_AT,
    CLOUD_FIELDS,
    N,
    foxglove_messages,
    imu,
    json_messages,
    location_fix,
    log_time,
    more_messages,
    stamp,
    wheel_class,
    wheel_message,
    write_foxglove,
    write_json,
    write_mixed,
    write_ros1,
    write_ros_only,
)
from tests.bridges.ros.rosbag_fixtures import write as write_ros


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mcap")
    return {
        "foxglove": write_foxglove(root / "foxglove.mcap"),
        "json": write_json(root / "json.mcap"),
        "mixed": write_mixed(root / "mixed.mcap"),
        "bad": write_mixed(root / "bad.mcap", bad=True),
    }


@pytest.fixture
def client(tmp_path: Path) -> Iterator[MosaicoClient]:
    with MosaicoClient.local(tmp_path / "store") as c:
        yield c


def _ingest(client: MosaicoClient, path: Path, name: str, **kwargs: Any) -> Any:
    return ingest([path], ClientSequence(client, name, validate=True), **kwargs)


def _typed(client: MosaicoClient, seq: str, topic: str) -> list[Any]:
    handler = client.topic_handler(seq, topic)
    assert handler is not None, topic
    return list(handler.get_data_streamer())


def _rows(client: MosaicoClient, seq: str, topic: str) -> list[dict[str, Any]]:
    handler = client.topic_handler(seq, topic)
    assert handler is not None, topic
    return handler.get_data_streamer().read_all().to_pylist()


def _check_header(h: Any, i: int, frame: str | None) -> None:
    s = stamp(i)
    assert (h.timestamp.seconds, h.timestamp.nanoseconds) == (s.seconds, s.nanos)
    assert h.frame_id == frame


def _check_gps(msgs: list[Any], offset: int) -> None:
    assert len(msgs) == N
    for i, m in enumerate(msgs):
        fix, gps = location_fix(i), m.data
        assert m.timestamp_ns == log_time(i, offset)
        _check_header(gps.header, i, "gnss")
        p = gps.position
        assert (p.x, p.y, p.z) == (fix.latitude, fix.longitude, fix.altitude)
        assert p.covariance == list(fix.position_covariance) and p.covariance_type == 2
        if i % 2:
            assert gps.velocity is None
        else:  # ENU (1 + i, 2, -0.5) as (north, east, up)
            assert (gps.velocity.x, gps.velocity.y, gps.velocity.z) == (2.0, 1.0 + i, -0.5)
        assert gps.status is None


def test_foxglove_protobuf_file_reads_back_typed(
    client: MosaicoClient, files: dict[str, Path]
) -> None:
    report = _ingest(client, files["foxglove"], "fox")
    topics = list(foxglove_messages(0))
    assert report.skipped == {} and report.written == {t: N for t in topics}
    tags = {t.lstrip("/"): client.topic_handler("fox", t.lstrip("/")).ontology_tag for t in topics}
    assert tags == {
        "gps": "GPS", "camera": "CompressedImage", "image": "Image", "tf": "FrameTransform",
        "tf_one": "Transform", "pose": "Pose", "cloud": "PointCloud2", "scan": "LaserScan",
        "video": "CompressedImage", "path": "RobotPath", "odom": "MotionState",
        "joints": "RobotJoint", "calib": "CameraInfo", "log": "foxglove.Log",
    }  # fmt: skip
    _check_gps(_typed(client, "fox", "gps"), topics.index("/gps"))
    sent = [foxglove_messages(i) for i in range(N)]
    for check in (_check_images, _check_transforms, _check_poses, _check_clouds_and_scans):
        check(client, sent)
    logs = _rows(client, "fox", "log")
    assert [(r["message"], r["level"], r["line"], r["timestamp"]["nanos"]) for r in logs] == [
        (f"step {i}", 2, 10 + i, stamp(i).nanos) for i in range(N)
    ]


def _check_images(client: MosaicoClient, sent: list[dict[str, Any]]) -> None:
    for i, m in enumerate(_typed(client, "fox", "camera")):
        assert (m.data.data, m.data.format) == (sent[i]["/camera"].data, "jpeg")
        _check_header(m.data.header, i, "cam")
    for i, m in enumerate(_typed(client, "fox", "image")):
        img = m.data
        assert (img.width, img.height, img.stride, img.encoding) == (4, 2, 12, "rgb8")
        assert img.data == sent[i]["/image"].data and img.format == "raw" and not img.is_bigendian


def _check_transforms(client: MosaicoClient, sent: list[dict[str, Any]]) -> None:
    for i, m in enumerate(_typed(client, "fox", "tf")):
        got = m.data.transforms
        assert [t.target_frame_id for t in got] == ["base", "lidar"][: 1 + i % 2]
        for t in got:
            _check_header(t.header, i, "map")
            assert (t.translation.x, t.translation.y, t.rotation.w) == (1.0 * i, -1.0, 1.0)
    for m in _typed(client, "fox", "tf_one"):
        assert m.data.target_frame_id == "odom" and m.data.header.frame_id == "map"


def _check_poses(client: MosaicoClient, sent: list[dict[str, Any]]) -> None:
    for i, m in enumerate(_typed(client, "fox", "pose")):
        p = m.data
        _check_header(p.header, i, "map")
        position, orientation = p.position, p.orientation
        assert (position.x, position.y, orientation.z, orientation.w) == (i, 2 * i, 0.6, 0.8)


def _check_clouds_and_scans(client: MosaicoClient, sent: list[dict[str, Any]]) -> None:
    for i, m in enumerate(_typed(client, "fox", "cloud")):
        c = m.data
        assert (c.height, c.width, c.point_step, c.row_step) == (1, i + 1, 12, 12 * (i + 1))
        assert [(f.name, f.offset, int(f.datatype), f.count) for f in c.fields] == [
            (n, o, 7, 1) for n, o in CLOUD_FIELDS
        ]
        assert c.data == sent[i]["/cloud"].data and not c.is_bigendian
    for i, m in enumerate(_typed(client, "fox", "scan")):
        s = m.data
        assert (s.angle_min, s.angle_max, s.angle_increment) == (-1.0, 1.0, 0.5)
        assert s.ranges == list(sent[i]["/scan"].ranges)
        assert s.intensities == list(sent[i]["/scan"].intensities)


def test_more_foxglove_schemas_read_back_typed(
    client: MosaicoClient, files: dict[str, Path]
) -> None:
    report = _ingest(client, files["foxglove"], "fox", topics=list(more_messages(0)))
    assert report.skipped == {} and set(report.written.values()) == {N}
    sent = [more_messages(i) for i in range(N)]
    for check in (_check_video_and_paths, _check_odometry, _check_joints_and_calibration):
        check(client, sent)


def _check_video_and_paths(client: MosaicoClient, sent: list[dict[str, Any]]) -> None:
    for m in _typed(client, "fox", "video"):
        assert (m.data.data, m.data.format) == (b"\0\0\1", "hevc")  # h265 is hevc
    for i, m in enumerate(_typed(client, "fox", "path")):
        _check_header(m.data.header, i, "map")
        assert [(p.position.x, p.position.y) for p in m.data.poses] == [
            (k, 2 * k) for k in range(i % 3)
        ]


def _check_odometry(client: MosaicoClient, sent: list[dict[str, Any]]) -> None:
    for i, m in enumerate(_typed(client, "fox", "odom")):
        odom = m.data
        _check_header(odom.header, i, "odom")
        assert odom.target_frame_id == "base" and odom.pose.position.x == i
        assert odom.pose.covariance == [0.01] * 36 and odom.velocity.covariance == [0.02] * 36
        assert (odom.velocity.linear.x, odom.velocity.angular.z) == (1.0, 0.1 * i)


def _check_joints_and_calibration(client: MosaicoClient, sent: list[dict[str, Any]]) -> None:
    for i, m in enumerate(_typed(client, "fox", "joints")):
        j = m.data
        _check_header(j.header, i, None)
        assert j.names == ["j0", "j1"] and j.positions == [i, 0.1 + i]
        assert (j.velocities, j.efforts) == ([1.0, 1.0], [-2.0, -2.0])
    for i, m in enumerate(_typed(client, "fox", "calib")):
        c, want = m.data, sent[i]["/calib"]
        assert (c.width, c.height, c.distortion_model) == (640, 480, "plumb_bob")
        assert c.intrinsic_parameters == list(want.K) and c.projection_parameters == list(want.P)
        assert c.distortion_parameters == list(want.D)
        assert c.rectification_parameters == list(want.R)


def test_topic_metadata_keeps_the_schema(client: MosaicoClient, files: dict[str, Path]) -> None:
    _ingest(client, files["foxglove"], "fox", topics=["/log", "/gps"])
    log = client.topic_handler("fox", "log").user_metadata["_mcap_"]
    assert {k: log[k] for k in ("topic", "schema", "schema_encoding", "message_encoding")} == {
        "topic": "/log", "schema": "foxglove.Log", "schema_encoding": "protobuf",
        "message_encoding": "protobuf",
    }  # fmt: skip
    assert log["adapter"] == "generic" and log["source"] == ["foxglove.mcap"]
    fds = FileDescriptorSet.FromString(base64.b64decode(log["schema_data"]))
    assert "foxglove/Log.proto" in [f.name for f in fds.file]
    gps = client.topic_handler("fox", "gps").user_metadata["_mcap_"]
    assert gps["adapter"] == "foxglove.LocationFix"
    assert gps["dropped"] == ["heading", "color", "metadata"]
    assert "_ros_" not in client.topic_handler("fox", "gps").user_metadata


def test_json_file_reads_back_typed(client: MosaicoClient, files: dict[str, Path]) -> None:
    report = _ingest(client, files["json"], "js")
    assert report.skipped == {} and set(report.written.values()) == {N}
    _check_gps(_typed(client, "js", "gps_json"), 0)
    for i, m in enumerate(_typed(client, "js", "image_json")):
        assert (m.data.data, m.data.format) == (bytes([i % 256]) * 4, "png")
        _check_header(m.data.header, i, "cam")
    assert client.topic_handler("js", "status").ontology_tag == "robot.Status"
    got = _rows(client, "js", "status")
    for i, row in enumerate(got):
        sent = json_messages(i)["/status"]
        assert row.pop("timestamp_ns") == log_time(i, 1)
        assert json.loads(row.pop("extra")) == sent["extra"]  # a free-form object: JSON text
        assert row.pop("blob") == base64.b64decode(sent["blob"])
        assert row == {k: v for k, v in sent.items() if k not in ("extra", "blob")}
    meta = client.topic_handler("js", "status").user_metadata["_mcap_"]
    assert meta["schema_encoding"] == "jsonschema" and meta["channel_metadata"] == {
        "origin": "test"
    }
    assert json.loads(meta["schema_data"])["properties"]["mode"] == {"type": "string"}


def test_generic_protobuf_type_keeps_its_layout(
    client: MosaicoClient, files: dict[str, Path]
) -> None:
    report = _ingest(client, files["mixed"], "mix", topics=["/wheel"])
    assert report.written == {"/wheel": N}
    handler = client.topic_handler("mix", "wheel")
    assert handler.ontology_tag == "robot.Wheel"
    schema = handler.get_data_streamer().schema
    assert schema.field("ticks").type == pa.list_(pa.int64())
    assert schema.field("gains").type.value_type == pa.struct(
        [pa.field("key", pa.string(), nullable=False), pa.field("value", pa.float64())]
    )
    assert schema.field("mode").type == pa.int32() and schema.field("motor").nullable
    cls = wheel_class()
    for i, row in enumerate(_rows(client, "mix", "wheel")):
        sent = wheel_message(cls, i)
        assert sorted((g["key"], g["value"]) for g in row["gains"]) == sorted(sent.gains.items())
        assert row["motor"] == ({"ok": True, "current": 2.5} if i % 3 else None)
        assert (row["name"], row["speed"], row["ticks"], row["mode"], row["raw"]) == (
            sent.name, sent.speed, list(sent.ticks), sent.mode, sent.raw,
        )  # fmt: skip
        assert row["motors"] == [{"ok": False, "current": float(i)}]


def test_mixed_ros2_protobuf_and_json_file(client: MosaicoClient, files: dict[str, Path]) -> None:
    with open_source([files["mixed"]]) as source:
        assert isinstance(source, McapSource)
        kinds = {t.name: (t.msgtype, t.definition_format) for t in source.topics.values()}
    assert kinds == {
        "/imu": ("sensor_msgs/msg/Imu", "msg"),
        "/gps": ("foxglove.LocationFix", "protobuf"),
        "/gps_json": ("foxglove.LocationFix#2", "jsonschema"),  # another schema, same name
        "/wheel": ("robot.Wheel", "protobuf"),
        "/status": ("robot.Status", "jsonschema"),
        "/image_json": ("foxglove.CompressedImage", "jsonschema"),
    }
    report = _ingest(client, files["mixed"], "mix")
    assert report.skipped == {} and report.written == {t: N for t in kinds}
    for i, m in enumerate(_typed(client, "mix", "imu")):
        sent = imu(i)
        assert m.timestamp_ns == log_time(i, 0)
        t, acc = m.data.header.timestamp, m.data.acceleration
        assert (t.seconds, t.nanoseconds) == sent["stamp"]
        assert (acc.x, acc.y, acc.z) == sent["acc"]
        assert acc.covariance == [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
    ros = client.topic_handler("mix", "imu").user_metadata["_ros_"]
    assert ros["type"] == "sensor_msgs/msg/Imu" and ros["qos"][0]["reliability"] == "reliable"
    assert ros["compression"] == {"format": "zstd", "mode": "chunk"}
    _check_gps(_typed(client, "mix", "gps"), 1)
    _check_gps(_typed(client, "mix", "gps_json"), 3)
    assert client.topic_handler("mix", "status").ontology_tag == "robot.Status"


def test_bad_channels_fail_alone(client: MosaicoClient, files: dict[str, Path]) -> None:
    report = _ingest(client, files["bad"], "bad", batch_messages=4)
    assert "message encoding 'cbor'" in report.skipped["/cbor"]
    assert report.skipped["/wheel_bad"].startswith(
        f"message {BAD_AT + 1} (log time {log_time(BAD_AT, 6)} ns) does not convert: DecodeError"
    )
    assert report.written.pop("/wheel_bad") == BAD_AT
    assert report.written == {
        t: N for t in ("/gps", "/gps_json", "/image_json", "/imu", "/status", "/wheel")
    }
    assert client.topic_handler("bad", "cbor") is None
    assert client.topic_handler("bad", "wheel_bad").row_count == BAD_AT
    (note,) = client.list_topic_notifications("bad", "wheel_bad")
    assert note.notification_type == "error" and "robot.Wheel" in note.msg
    assert client.list_topic_notifications("bad", "wheel") == []


def test_unusable_schemas_are_reported_before_writing(tmp_path: Path) -> None:
    from mcap.writer import Writer

    path = tmp_path / "schemas.mcap"
    with path.open("wb") as stream:
        writer = Writer(stream)
        writer.start()
        broken = writer.register_schema("robot.Broken", "protobuf", b"\x0a\xff")
        no_json = writer.register_schema("robot.NoJson", "jsonschema", b"{not json")
        plain = writer.register_schema("", "", b"")
        for topic, sid, enc in (("/broken", broken, "protobuf"), ("/nojson", no_json, "json"),
                                ("/free", plain, "json")):  # fmt: skip
            channel = writer.register_channel(topic, enc, sid)
            writer.add_message(channel, 1, b'{"a": [1, {"b": 2}]}', 1)
        writer.finish()
    seq = MemorySequence("s")
    report = ingest([path], seq)
    assert report.skipped["/broken"].startswith("unusable protobuf schema robot.Broken: ")
    assert report.skipped["/nojson"].startswith("JSON schema 'robot.NoJson' is not JSON: ")
    # Schemaless JSON keeps each message's text.
    assert seq.topics["free"].table().column("json").to_pylist() == ['{"a": [1, {"b": 2}]}']


@pytest.mark.parametrize("summary", [True, False])
def test_a_file_without_chunks_or_statistics(tmp_path: Path, summary: bool) -> None:
    """No statistics (or no summary at all): the topics and counts come from one pass
    over the messages."""
    bare = {} if summary else {
        "repeat_channels": False, "repeat_schemas": False, "index_types": IndexType.NONE,
        "use_summary_offsets": False,
    }  # fmt: skip
    path = write_json(tmp_path / "plain.mcap", use_chunking=False, use_statistics=False, **bare)
    with path.open("rb") as stream:
        assert (make_reader(stream).get_summary() is not None) == summary
    seq = MemorySequence("s")
    report = ingest([path], seq)
    assert report.skipped == {} and report.written == {t: N for t in json_messages(0)}
    assert seq.topics["status"].table().column("mode").to_pylist() == [
        json_messages(i)["/status"]["mode"] for i in range(N)
    ]


def test_damaged_files_fail_clearly(files: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(files["foxglove"].read_bytes())
    truncated = tmp_path / "truncated.mcap"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(RosBridgeError, match=r"^cannot read .*truncated\.mcap: "):
        ingest([truncated], MemorySequence("s"))
    with files["foxglove"].open("rb") as stream:  # the middle of the first chunk's data
        chunk = make_reader(stream).get_summary().chunk_indexes[0]  # type: ignore[union-attr]
    middle = chunk.chunk_start_offset + chunk.chunk_length // 2
    data[middle : middle + 32] = bytes(b ^ 0x5A for b in data[middle : middle + 32])
    damaged = tmp_path / "damaged.mcap"
    damaged.write_bytes(bytes(data))
    seq = MemorySequence("s")
    with pytest.raises(RosBridgeError, match="^reading the recording failed: "):
        ingest([damaged], seq)
    assert not seq.finalized


def test_adapter_overrides(files: dict[str, Path]) -> None:
    seq = MemorySequence("s")
    report = ingest(
        [files["json"]], seq, adapters={"/gps_json": "generic", "/status": "foxglove.LocationFix"}
    )
    generic = seq.topics["gps_json"]
    assert generic.topic_type.tag == "foxglove.LocationFix"
    assert generic.table().column("latitude").to_pylist() == [
        location_fix(i).latitude for i in range(N)
    ]
    assert "the JSON message has no field 'latitude'" in report.skipped["/status"]
    with (
        open_source([files["json"]]) as source,
        pytest.raises(RosBridgeError, match="unknown adapter"),
    ):
        source.adapter_for(source.topics["/status"], "sensor_msgs/msg/Imu")


def test_pure_ros_mcap_still_goes_to_rosbags(tmp_path: Path) -> None:
    path, _ = write_ros(tmp_path / "rec", "mcap", [("/imu", "sensor_msgs/msg/Imu", 3, 10)])
    with open_source([path]) as source:
        assert type(source) is RosSource
    # Without the ros2 profile rosbags refuses the file; the mcap reader takes it.
    other = write_ros_only(tmp_path / "no_profile.mcap")
    with pytest.raises(RosBridgeError, match="Profile is not ros2"):
        RosSource([other])
    seq = MemorySequence("s")
    assert ingest([other], seq).written == {"/imu": N}
    assert seq.topics["imu"].topic_type.tag == "IMU"


def test_ros1_mcap_ingests_with_its_generation(client: MosaicoClient, tmp_path: Path) -> None:
    path = write_ros1(tmp_path / "ros1.mcap")
    with pytest.raises(RosBridgeError, match="Profile is not ros2"):
        RosSource([path])  # rosbags reads rosbag2 MCAP files only
    report = _ingest(client, path, "r1")
    assert report.skipped == {} and report.written == {"/imu": N}
    for i, m in enumerate(_typed(client, "r1", "imu")):
        assert m.data.header.sample_counter == i  # the ROS 1 header's seq
        assert (m.data.acceleration.x, m.data.acceleration.z) == (imu(i)["acc"][0], 9.81)
    ros = client.topic_handler("r1", "imu").user_metadata["_ros_"]
    assert (ros["type"], ros["ros_version"]) == ("sensor_msgs/msg/Imu", 1)
    assert (ros["latching"], ros["callerid"]) == (1, "/imu_node")
    mixed = MemorySequence("s")
    report = ingest([write_ros1(tmp_path / "both.mcap", with_ros2=True)], mixed)
    assert report.written == {"/imu2": N}  # both generations in one file: ROS 2 wins
    assert report.skipped == {
        "/imu": "a ROS 1 channel in a file of ROS 2 channels (one ROS generation per recording)"
    }


def test_cli_ingests_dry_runs_and_exports(files: dict[str, Path], tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "store")]
    run = CliRunner()
    result = run.invoke(main, ["ingest", str(files["mixed"]), "-s", "x", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "/gps -> gps  [foxglove.LocationFix as GPS, 12 msgs]" in result.output
    assert "/imu -> imu  [sensor_msgs/msg/Imu as IMU, 12 msgs]" in result.output
    result = run.invoke(main, ["ingest", str(files["foxglove"]), "--sequence", "fox", *store])
    assert result.exit_code == 0, result.output
    assert f"ingested {14 * N:,} messages" in result.output and "from 14 topics" in result.output
    out = tmp_path / "back.mcap"
    result = run.invoke(main, ["export", "fox", str(out), *store])
    assert result.exit_code == 0, result.output
    assert (
        "skipped /log: cannot resolve its ROS type: no ROS type known for tag 'foxglove.Log'"
        in result.output
    )
    assert "exporting protobuf or JSON channels is not supported" in result.output
    # The mapped topics go out as the standard ROS type of their mosaico type.
    with RosSource([out]) as back:
        assert back.topics["/gps"].msgtype == "sensor_msgs/msg/NavSatFix"
        first = back.first(back.topics["/gps"])
        assert first.latitude == location_fix(0).latitude  # type: ignore[attr-defined]


def test_every_foxglove_adapter_matches_its_type() -> None:
    """The batches of each adapter have its type's schema exactly (checked by `batch`) —
    here for an empty batch, which every adapter must also handle."""
    for name, adapter in FOXGLOVE.items():
        got = adapter.to_batch([], [])
        assert got.schema.equals(adapter.topic_type.schema), name
    with pytest.raises(RosBridgeError, match="export"):
        FOXGLOVE["foxglove.LocationFix"].to_ros({}, {})


def test_plan_lists_foxglove_types(files: dict[str, Path]) -> None:
    with open_source([files["foxglove"]]) as source:
        plans, skipped = plan(source)
    assert skipped == {}
    assert {p.topic.name: p.adapter.name for p in plans}["/log"] == "generic"
    assert {p.topic.name: p.adapter.name for p in plans}["/scan"] == "foxglove.LaserScan"


def test_without_the_extra_the_error_says_what_to_install(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mosaico.bridges.mcap.source", None)  # import fails
    with pytest.raises(RosBridgeError, match=r"need the 'mcap' extra: pip install"):
        open_source([files["foxglove"]])


def test_every_foxglove_schema_has_a_generic_layout(tmp_path: Path) -> None:
    """Each message of foxglove-schemas-protobuf, default and filled with one of each
    repeated item, ingests through the generic adapter."""
    import importlib
    import pkgutil

    import foxglove_schemas_protobuf as fox

    classes = []
    for info in pkgutil.iter_modules(fox.__path__):
        name = info.name.removesuffix("_pb2")
        classes.append(getattr(importlib.import_module(f"{fox.__name__}.{info.name}"), name))
    path = tmp_path / "all.mcap"
    with path.open("wb") as stream:
        writer = ProtobufWriter(stream)
        for cls in classes:
            filled = cls()
            for fd in cls.DESCRIPTOR.fields:
                if fd.message_type is not None and fd.is_repeated:
                    getattr(filled, fd.name).add()
            for k, msg in enumerate((cls(), filled)):
                writer.write_message(f"/{cls.__name__}", msg, log_time=k, publish_time=k)
        writer.finish()
    seq = MemorySequence("s")
    report = ingest([path], seq, adapters={"*": "generic"})
    assert report.skipped == {} and set(report.written.values()) == {2}
    assert len(report.written) == len(classes) > 40
    assert seq.topics["SceneUpdate"].topic_type.tag == "foxglove.SceneUpdate"
