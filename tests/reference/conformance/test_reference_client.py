"""Conformance checklist of spec §14 (queries and authentication aside), driven by the
unmodified reference client against our server."""

from __future__ import annotations

import random
from typing import Any

import pytest
from mosaicolabs import (
    GPS,
    IMU,
    CompressedImage,
    GPSStatus,
    Header,
    Image,
    ImageFormat,
    Message,
    MosaicoClient,
    Point3d,
    Quaternion,
    RobotJoint,
    SessionLevelErrorPolicy,
    Time,
    TopicLevelErrorPolicy,
    Vector3d,
)

T0 = 1_700_000_000_000_000_000
STEP = 1_000_000


def _imu(i: int) -> IMU:
    header = (
        None if i % 4 == 0 else Header(timestamp=Time(seconds=i, nanoseconds=7), frame_id="imu")
    )
    return IMU(
        header=header,
        acceleration=Vector3d(x=i * 0.5, y=-1.0, z=9.81, covariance=[0.1 * i] * 9),
        angular_velocity=Vector3d(x=0.0, y=float(i), z=2.0),
        orientation=None if i % 3 else Quaternion(x=0.0, y=0.0, z=0.0, w=1.0),
    )


def _gps(i: int) -> GPS:
    return GPS(
        position=Point3d(x=45.0 + i * 1e-6, y=9.0, z=120.0),
        status=GPSStatus(status=1, service=2, satellites=None if i % 2 else 9, hdop=0.9),
    )


def _joint(i: int) -> RobotJoint:
    n = i % 4
    return RobotJoint(
        names=[f"j{k}" for k in range(n)],
        positions=[float(k + i) for k in range(n)],
        velocities=[0.5] * n,
        efforts=[],
    )


def _image(i: int) -> Image:
    return Image(data=bytes([i % 256]) * 32, format=ImageFormat.RAW, width=4, height=4,
                 stride=8, encoding="mono16", is_bigendian=bool(i % 2))  # fmt: skip


def _jpeg(i: int) -> CompressedImage:
    return CompressedImage(data=b"\xff\xd8" + bytes(range(i % 200)), format=ImageFormat.JPEG)


# name -> (ontology class, builder, timestamps in push order: some shuffled, some with ties)
_rng = random.Random(42)
_shuffled = [T0 + STEP * k for k in range(300)]
_rng.shuffle(_shuffled)
TOPICS: dict[str, tuple[Any, Any, list[int]]] = {
    "sensors/imu": (IMU, _imu, _shuffled),
    "sensors/gps": (GPS, _gps, [T0 + 3 * STEP * k for k in range(100)]),
    "camera/raw": (Image, _image, [T0 + 5 * STEP * k + 1 for k in range(40)]),
    "camera/jpeg": (CompressedImage, _jpeg, [T0 + 7 * STEP * (k // 2) for k in range(50)]),
    "arm/joints": (RobotJoint, _joint, [T0 + 2 * STEP * k for k in reversed(range(120))]),
}


def _messages(name: str) -> list[Message]:
    _, build, stamps = TOPICS[name]
    return [Message(timestamp_ns=t, data=build(i)) for i, t in enumerate(stamps)]


def _expected_sorted(name: str) -> list[Message]:
    return sorted(_messages(name), key=lambda m: m.timestamp_ns)  # stable: ties in push order


@pytest.fixture(scope="module")
def recording(client: MosaicoClient) -> str:
    with client.sequence_create("/conf-main", {"vehicle": {"id": "alpha"}, "n": 1}) as writer:
        for name, (cls, _, _) in TOPICS.items():
            topic = writer.topic_create(name, {"sensor": name}, cls)
            assert topic is not None
            for message in _messages(name):
                topic.push(message)
        assert writer.topic_create("empty/one", {}, IMU) is not None
    return "conf-main"


def test_connect_reports_server_info(client: MosaicoClient) -> None:
    info = client.info()
    assert (info.semver.major, info.semver.minor) == (0, 7)
    assert info.config.grpc_max_decode_message_size == 52428800


def test_finalized_sequence_is_listed_and_exists(
    client: MosaicoClient, recording: str
) -> None:
    assert recording in client.list_sequences()
    assert client.sequence_exists(recording) and client.sequence_exists("/conf-main/")
    assert not client.sequence_exists("conf-missing")
    assert client.topic_exists(recording, "/sensors/imu")
    assert client.topic_exists(recording, "arm/joints")
    assert not client.topic_exists(recording, "nope")


def test_finalized_sequence_handler_is_locked_with_its_span(
    client: MosaicoClient, recording: str
) -> None:
    handler = client.sequence_handler(recording)
    assert handler is not None
    assert sorted(handler.topics) == sorted(["/" + n for n in TOPICS] + ["/empty/one"])
    assert handler.user_metadata == {"vehicle": {"id": "alpha"}, "n": 1}
    [session] = handler.sessions
    assert session.locked and session.completed_timestamp is not None
    every = [t for _, _, stamps in TOPICS.values() for t in stamps]
    assert handler.timestamp_ns_min == min(every)
    assert handler.timestamp_ns_max == max(every)
    sizes = [client.topic_handler(recording, n).total_size_bytes for n in TOPICS]
    assert handler.total_size_bytes == sum(sizes) > 0


def test_recreating_a_sequence_fails(client: MosaicoClient, recording: str) -> None:
    with pytest.raises(Exception, match="already exists"), client.sequence_create("conf-main/", {}):
        pass


@pytest.mark.parametrize("name", list(TOPICS))
def test_topic_handler_metadata(client: MosaicoClient, recording: str, name: str) -> None:
    cls = TOPICS[name][0]
    handler = client.topic_handler(recording, name)
    assert handler is not None
    assert handler.ontology_tag == cls.__name__
    expected_format = "image" if cls in (Image, CompressedImage) else "default"
    assert handler.serialization_format.value == expected_format
    assert handler.user_metadata == {"sensor": name}
    assert handler.locked is True
    assert handler.chunks_number == 1
    assert handler.ontology_schema == cls.__msco_pyarrow_struct__
    stamps = TOPICS[name][2]
    assert (handler.timestamp_ns_min, handler.timestamp_ns_max) == (min(stamps), max(stamps))


def test_unknown_handlers_are_none(client: MosaicoClient, recording: str) -> None:
    assert client.sequence_handler("conf-ghost") is None
    assert client.topic_handler(recording, "ghost/topic") is None


@pytest.mark.parametrize("name", list(TOPICS))
def test_single_topic_stream_roundtrips_typed_and_sorted(
    client: MosaicoClient, recording: str, name: str
) -> None:
    handler = client.topic_handler(recording, name)
    got = list(handler.get_data_streamer())
    assert got == _expected_sorted(name)
    assert all(type(m.data) is TOPICS[name][0] for m in got)


def test_single_topic_window(client: MosaicoClient, recording: str) -> None:
    handler = client.topic_handler(recording, "sensors/imu")
    start, end = T0 + 50 * STEP, T0 + 60 * STEP
    got = list(handler.get_data_streamer(start_timestamp_ns=start, end_timestamp_ns=end))
    assert got == [m for m in _expected_sorted("sensors/imu") if start <= m.timestamp_ns < end]
    assert list(handler.get_data_streamer(start_timestamp_ns=T0 - 10, end_timestamp_ns=T0)) == []


def _merged(start: int | None = None, end: int | None = None, names: Any = None) -> list[Any]:
    rows = []
    order = list(TOPICS) if names is None else names
    for name in order:
        for m in _expected_sorted(name):
            if (start is None or m.timestamp_ns >= start) and (end is None or m.timestamp_ns < end):
                rows.append(("/" + name, m))
    return rows


def _by_topic(rows: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name, message in rows:
        out.setdefault(name, []).append(message)
    return out


def test_unified_stream(client: MosaicoClient, recording: str) -> None:
    handler = client.sequence_handler(recording)
    got = list(handler.get_data_streamer())
    stamps = [m.timestamp_ns for _, m in got]
    assert stamps == sorted(stamps)
    assert _by_topic(got) == _by_topic(_merged())  # every row exactly once, typed, exact


def test_unified_stream_window_and_filter(client: MosaicoClient, recording: str) -> None:
    handler = client.sequence_handler(recording)
    start, end = T0 + 100 * STEP, T0 + 130 * STEP
    got = list(handler.get_data_streamer(start_timestamp_ns=start, end_timestamp_ns=end))
    assert _by_topic(got) == _by_topic(_merged(start, end))
    picked = ["/sensors/gps", "/arm/joints"]
    got = list(handler.get_data_streamer(topics=picked, start_timestamp_ns=start))
    assert _by_topic(got) == _by_topic(_merged(start, None, ["sensors/gps", "arm/joints"]))
    # A window where only the IMU has rows: other topics are skipped.
    lonely = T0 + 299 * STEP
    got = list(handler.get_data_streamer(start_timestamp_ns=lonely))
    assert [(n, m.timestamp_ns) for n, m in got] == [("/sensors/imu", lonely)]


def test_update_adds_a_session(client: MosaicoClient) -> None:
    with client.sequence_create("conf-update", {}) as writer:
        writer.topic_create("a", {}, GPS).push(Message(timestamp_ns=T0, data=_gps(0)))
    handler = client.sequence_handler("conf-update")
    with handler.update() as updater:
        assert updater.topic_create("a", {}, GPS) is None  # exists in an earlier session
        topic = updater.topic_create("b", {}, GPS)
        topic.push(Message(timestamp_ns=T0 + 1, data=_gps(1)))
    handler.reload()
    assert handler.topics == ["/a", "/b"]
    assert len(handler.sessions) == 2 and all(s.locked for s in handler.sessions)
    with client.sequence_update("conf-update") as updater:
        updater.topic_create("c", {}, GPS).push(Message(timestamp_ns=T0 + 2, data=_gps(2)))
    handler.reload()
    got = [(n, m.timestamp_ns) for n, m in handler.get_data_streamer()]
    assert got == [("/a", T0), ("/b", T0 + 1), ("/c", T0 + 2)]


def test_report_policy_leaves_notifications(client: MosaicoClient) -> None:
    with pytest.raises(RuntimeError, match="boom"), client.sequence_create("conf-report", {}) as w:
        w.topic_create("x", {}, GPS).push(Message(timestamp_ns=T0, data=_gps(0)))
        w.topic_create("y", {}, IMU)
        raise RuntimeError("boom")
    notes = client.list_sequence_notifications("conf-report")
    assert len(notes) == 1 and notes[0].type.value == "error"
    assert "boom" in notes[0].message and notes[0].created_datetime.year >= 2024
    for topic in ("x", "y"):
        [note] = client.list_topic_notifications("conf-report", topic)
        assert "boom" in note.message
    handler = client.sequence_handler("conf-report")
    assert [s.locked for s in handler.sessions] == [True]
    client.clear_sequence_notifications("conf-report")
    assert client.list_sequence_notifications("conf-report") == []
    assert len(client.list_topic_notifications("conf-report", "x")) == 1
    client.clear_topic_notifications("conf-report", "x")
    assert client.list_topic_notifications("conf-report", "x") == []


def test_delete_policy_removes_everything(client: MosaicoClient) -> None:
    with (
        pytest.raises(RuntimeError),
        client.sequence_create(
            "conf-delete", {}, on_error=SessionLevelErrorPolicy.Delete
        ) as writer,
    ):
        writer.topic_create("x", {}, GPS).push(Message(timestamp_ns=T0, data=_gps(0)))
        raise RuntimeError("boom")
    assert not client.sequence_exists("conf-delete")
    with client.sequence_create("conf-delete-upd", {}) as writer:
        writer.topic_create("keep", {}, GPS).push(Message(timestamp_ns=T0, data=_gps(0)))
    with (
        pytest.raises(RuntimeError),
        client.sequence_update(
            "conf-delete-upd", on_error=SessionLevelErrorPolicy.Delete
        ) as updater,
    ):
        updater.topic_create("drop", {}, GPS).push(Message(timestamp_ns=T0, data=_gps(1)))
        raise RuntimeError("boom")
    handler = client.sequence_handler("conf-delete-upd")
    assert handler.topics == ["/keep"] and len(handler.sessions) == 1


def test_topic_policies(client: MosaicoClient) -> None:
    with client.sequence_create("conf-topic-policies", {}) as writer:
        finalize = writer.topic_create("fin", {}, GPS, on_error=TopicLevelErrorPolicy.Finalize)
        with finalize:
            finalize.push(Message(timestamp_ns=T0, data=_gps(0)))
            raise ValueError("finalize me")
        ignore = writer.topic_create("ign", {}, GPS, on_error=TopicLevelErrorPolicy.Ignore)
        with ignore:
            raise ValueError("ignore me")
        ignore.push(Message(timestamp_ns=T0 + 5, data=_gps(5)))
    assert "finalize me" in client.list_topic_notifications("conf-topic-policies", "fin")[0].message
    assert "ignore me" in client.list_topic_notifications("conf-topic-policies", "ign")[0].message
    ign = client.topic_handler("conf-topic-policies", "ign")
    assert [m.timestamp_ns for m in ign.get_data_streamer()] == [T0 + 5]
    # The Finalize policy dropped the buffered row: the topic exists but is empty.
    handler = client.sequence_handler("conf-topic-policies")
    assert [n for n, _ in handler.get_data_streamer()] == ["/ign"]


def test_oversized_record_is_reported_and_writer_continues(client: MosaicoClient) -> None:
    limit = int(0.9 * client.info().config.grpc_max_decode_message_size)
    big = CompressedImage(data=b"\x00" * (limit + 1), format=ImageFormat.JPEG)
    with client.sequence_create("conf-oversize", {}) as writer:
        topic = writer.topic_create("cam", {}, CompressedImage)
        topic.push(Message(timestamp_ns=T0, data=big))
        topic.push(Message(timestamp_ns=T0 + 1, data=_jpeg(1)))
    [note] = client.list_topic_notifications("conf-oversize", "cam")
    assert note.type.value == "error" and note.topic_name == "/cam"
    handler = client.topic_handler("conf-oversize", "cam")
    assert [m.timestamp_ns for m in handler.get_data_streamer()] == [T0 + 1]


def test_large_batch_near_the_limit(client: MosaicoClient) -> None:
    blob = CompressedImage(data=b"\x01" * (4 * 1024 * 1024), format=ImageFormat.JPEG)
    with client.sequence_create("conf-large", {}) as writer:
        topic = writer.topic_create("cam", {}, CompressedImage)
        for k in range(11):  # ~44 MiB: one batch just under 0.9 x the decode limit
            topic.push(Message(timestamp_ns=T0 + k, data=blob))
    handler = client.topic_handler("conf-large", "cam")
    got = list(handler.get_data_streamer())
    assert len(got) == 11 and all(m.data.data == blob.data for m in got)
    client.sequence_delete("conf-large")


def test_hundred_concurrent_topics(client: MosaicoClient) -> None:
    with client.sequence_create("conf-wide", {}) as writer:
        topics = [writer.topic_create(f"t/{k:03d}", {}, GPS) for k in range(110)]
        for k, topic in enumerate(topics):
            topic.push(Message(timestamp_ns=T0 + k, data=_gps(k)))
    handler = client.sequence_handler("conf-wide")
    assert len(handler.topics) == 110
    assert [m.timestamp_ns for _, m in handler.get_data_streamer()] == [T0 + k for k in range(110)]


def test_session_and_sequence_delete(client: MosaicoClient) -> None:
    with client.sequence_create("conf-del", {}) as writer:
        writer.topic_create("a", {}, GPS).push(Message(timestamp_ns=T0, data=_gps(0)))
    with client.sequence_update("conf-del") as updater:
        updater.topic_create("b", {}, GPS).push(Message(timestamp_ns=T0, data=_gps(0)))
        locator = updater.session_locator
    client.session_delete(locator)
    handler = client.sequence_handler("conf-del")
    assert handler.topics == ["/a"] and len(handler.sessions) == 1
    assert not client.topic_exists("conf-del", "b")
    client.sequence_delete("conf-del")
    assert not client.sequence_exists("conf-del")
    assert "conf-del" not in client.list_sequences()
