"""Writing and reading back through a real server: objects, columns, handlers, updates."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from mosaico import GPS, IMU, CompressedImage, Image, ImageFormat, Vector3d
from mosaico.client import (
    Message,
    MosaicoClient,
    SequenceHandler,
    SessionStatus,
    TopicHandler,
    TopicWriterStatus,
)
from mosaico.ontology import ValidationError
from mosaico.protocol.errors import AlreadyExists
from tests.client.client_data import MS, T0, gps, image, imu


def _read(client: MosaicoClient, seq: str, topic: str) -> list[Message]:
    handler = client.topic_handler(seq, topic)
    assert handler is not None
    return list(handler.get_data_streamer())


def test_objects_round_trip_sorted_with_ties_in_push_order(client: MosaicoClient) -> None:
    stamps = [T0 + MS * (k // 3) for k in range(600)]  # triples of equal timestamps
    random.Random(7).shuffle(stamps)
    pushed = [Message(t, imu(i)) for i, t in enumerate(stamps)]
    with client.sequence_create("objects", {"run": 1}) as writer:
        topic = writer.topic_create("sensors/imu", {"model": "x"}, IMU)
        for k, message in enumerate(pushed):
            if k % 2:
                topic.push(message)
            else:
                topic.push(timestamp_ns=message.timestamp_ns, data=message.data)
    assert writer.status is SessionStatus.Finalized
    assert topic.status is TopicWriterStatus.Finalized
    assert (topic.rows_pushed, topic.rows_written) == (600, 600)
    assert topic.bytes_written > 0
    expected = sorted(pushed, key=lambda m: m.timestamp_ns)  # stable: ties keep push order
    assert _read(client, "objects", "/sensors/imu") == expected


def test_push_batch_forms_and_mixing_with_objects(client: MosaicoClient) -> None:
    n = 1000
    ts = np.arange(n, dtype=np.int64) * MS + T0
    x = np.linspace(0.0, 1.0, n)
    reference = IMU.to_batch([imu(i) for i in range(n)], ts)
    with client.sequence_create("columns", {}) as writer:
        whole = writer.topic_create("whole", {}, IMU)
        whole.push_batch(reference)
        dotted = writer.topic_create("dotted", {}, IMU)
        dotted.push(Message(int(ts[0]) - 1, imu(0)))
        dotted.push_batch(
            {"acceleration.x": x, "acceleration.y": x, "acceleration.z": pa.array(x),
             "angular_velocity": {"x": x, "y": x, "z": x}},
            timestamps_ns=ts,
        )  # fmt: skip
        table = writer.topic_create("table", {}, IMU)
        table.push_batch(pa.Table.from_batches([reference.slice(0, 10), reference.slice(10)]))
        struct = writer.topic_create("struct", {}, IMU)
        struct.push_batch(_payload(reference), timestamps_ns=ts)
    assert [m.data for m in _read(client, "columns", "whole")] == IMU.from_batch(reference)
    assert [m.data for m in _read(client, "columns", "table")] == IMU.from_batch(reference)
    assert [m.data for m in _read(client, "columns", "struct")] == IMU.from_batch(reference)
    back = _read(client, "columns", "dotted")
    assert back[0] == Message(int(ts[0]) - 1, imu(0))
    assert [m.data.acceleration for m in back[1:]] == [Vector3d(x=v, y=v, z=v) for v in x]
    assert all(m.data.header is None and m.data.orientation is None for m in back[1:])


def _payload(batch: pa.RecordBatch) -> pa.StructArray:
    return pa.StructArray.from_arrays(batch.columns[1:], fields=list(batch.schema)[1:])


def test_push_batch_rejects_bad_columns(client: MosaicoClient) -> None:
    with client.sequence_create("bad-columns", {}) as writer:
        topic = writer.topic_create("gps", {}, GPS)
        with pytest.raises(ValueError, match="GPS.position is required"):
            topic.push_batch({"status": {"status": [0], "service": [1]}}, timestamps_ns=[1])
        with pytest.raises(ValueError, match="no field"):
            topic.push_batch({"position": {"x": [1.0], "y": [1.0], "z": [1.0]}, "speed": [1]},
                             timestamps_ns=[1])  # fmt: skip
        with pytest.raises(ValueError, match="1 rows, expected 2"):
            topic.push_batch(
                {"position": {"x": [1.0], "y": [1.0], "z": [1.0]}}, timestamps_ns=[1, 2]
            )
        with pytest.raises(ValueError, match="do not match"):
            topic.push_batch(IMU.to_batch([imu(0)], [1]))
        bad = GPS.to_batch([gps(0)], [1]).to_pydict()
        bad["status"][0]["satellites"] = 1000
        with pytest.raises(ValueError):  # uint8 overflow or a range check, never silence
            topic.push_batch(pa.RecordBatch.from_pydict(bad, schema=GPS.ARROW_SCHEMA))
        topic.push_batch({"position": {"x": [1.0], "y": [2.0], "z": [3.0]},
                          "status": {"status": [0], "service": [1]}}, timestamps_ns=[5])  # fmt: skip
    back = _read(client, "bad-columns", "gps")
    assert [m.timestamp_ns for m in back] == [5]


def test_wrong_type_and_invalid_values_raise_at_push(client: MosaicoClient) -> None:
    with client.sequence_create("wrong", {}) as writer:
        topic = writer.topic_create("imu", {}, IMU)
        with pytest.raises(TypeError, match="holds IMU, cannot push GPS"):
            topic.push(Message(1, gps(0)))
        with pytest.raises(TypeError, match="timestamp_ns must be an integer"):
            topic.push(timestamp_ns=1.5, data=imu(0))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="int64"):
            topic.push(timestamp_ns=2**63, data=imu(0))
        with pytest.raises(ValidationError):
            topic.push(Message(1, IMU(acceleration=None, angular_velocity=Vector3d(x=0, y=0, z=0))))  # type: ignore[arg-type]
        topic.push(Message(np.int64(3), imu(3)))  # type: ignore[arg-type]
    assert [m.timestamp_ns for m in _read(client, "wrong", "imu")] == [3]


def test_topic_name_clash_and_writes_after_finalize(client: MosaicoClient) -> None:
    from mosaico.client import WriterClosedError

    with client.sequence_create("clash", {}) as writer:
        topic = writer.topic_create("a/b", {}, IMU)
        with pytest.raises(AlreadyExists):
            writer.topic_create("/a/b/", {}, GPS)
        with pytest.raises(TypeError, match="not an ontology type"):
            writer.topic_create("c", {}, dict)
        topic.push(Message(1, imu(1)))
    with pytest.raises(WriterClosedError):
        topic.push(Message(2, imu(2)))
    with pytest.raises(WriterClosedError):
        topic.push_batch(IMU.to_batch([imu(2)], [2]))
    with pytest.raises(WriterClosedError):
        writer.topic_create("late", {}, IMU)
    with client.sequence_update("clash") as updater, pytest.raises(AlreadyExists):
        updater.topic_create("a/b", {}, IMU)  # the server knows the topic from session 1
    with pytest.raises(AlreadyExists):
        client.sequence_create("clash", {}).__enter__()
    assert len(_read(client, "clash", "a/b")) == 1


def _check_sequence_properties(handler: SequenceHandler) -> None:
    assert handler.name == "props"
    assert handler.topics == ["/imu", "/empty"]
    assert handler.user_metadata == {"vehicle": {"id": "alpha"}}
    assert (handler.timestamp_ns_min, handler.timestamp_ns_max) == (T0, T0 + 49 * MS)
    assert len(handler.sessions) == 1 and handler.sessions[0].locked
    assert handler.total_size_bytes > 0 and handler.total_row_count == 50
    assert handler.updated_timestamps == [handler.sessions[0].completed_at_ns]


def _check_topic_properties(topic: TopicHandler) -> None:
    assert (topic.ontology_tag, topic.serialization_format, topic.locked) == (
        "IMU",
        "default",
        True,
    )
    assert topic.ontology_type is IMU and topic.user_metadata == {"rate": 100}
    assert topic.schema.equals(IMU.ARROW_SCHEMA) and topic.ontology_schema == IMU.ARROW_TYPE
    assert (topic.row_count, topic.timestamp_ns_min, topic.timestamp_ns_max) == (
        50,
        T0,
        T0 + 49 * MS,
    )
    assert (
        topic.chunks_number >= 1 and topic.sequence_name == "props" and topic.locator == "props/imu"
    )


def test_handler_properties_and_update(client: MosaicoClient) -> None:
    seen: list[tuple[str, int, int]] = []
    with client.sequence_create(
        "/props/", {"vehicle": {"id": "alpha"}}, progress=lambda *a: seen.append(a)
    ) as writer:
        a = writer.topic_create("imu", {"rate": 100}, IMU)
        for i in range(50):
            a.push(Message(T0 + i * MS, imu(i)))
        writer.topic_create("empty", {}, GPS)
    assert seen and seen[-1] == ("/imu", 50, a.bytes_written)
    handler = client.sequence_handler("props")
    assert handler is not None
    _check_sequence_properties(handler)
    _check_topic_properties(handler.get_topic_handler("imu"))
    empty = client.topic_handler("props", "empty")
    assert empty is not None and empty.row_count == 0 and empty.timestamp_ns_min is None

    with handler.update() as updater:
        cam = updater.topic_create("cam", {}, Image)
        cam.push(Message(T0 - MS, image(0)))
    assert handler.topics == ["/imu", "/empty"]  # a handler is a snapshot until reload()
    handler.reload()
    assert handler.topics == ["/imu", "/empty", "/cam"]
    assert len(handler.sessions) == 2 and handler.timestamp_ns_min == T0 - MS
    assert client.topic_handler("props", "cam").serialization_format == "image"  # type: ignore[union-attr]


def test_catalogue_exists_list_delete_and_notifications(client: MosaicoClient) -> None:
    for name in ("cat-a", "cat-b"):
        with client.sequence_create(name, {}) as writer:
            writer.topic_create("t", {}, IMU).push(Message(1, imu(1)))
    assert client.list_sequences() == ["cat-a", "cat-b"]
    assert client.sequence_exists("cat-a") and not client.sequence_exists("cat-z")
    assert client.topic_exists("cat-a", "/t") and not client.topic_exists("cat-a", "u")
    assert client.sequence_handler("cat-z") is None and client.topic_handler("cat-a", "u") is None
    assert client.list_sequence_notifications("cat-a") == []
    client.clear_sequence_notifications("cat-a")
    client.clear_topic_notifications("cat-a", "t")
    assert client.list_topic_notifications("cat-a", "t") == []
    client.sequence_delete("cat-a")
    assert client.list_sequences() == ["cat-b"]
    with client.sequence_update("cat-b") as updater:
        updater.topic_create("u", {}, GPS).push(Message(2, gps(2)))
    handler = client.sequence_handler("cat-b")
    assert handler is not None and len(handler.sessions) == 2
    client.session_delete(handler.sessions[1].locator)
    handler.reload()
    assert handler.topics == ["/t"] and not client.topic_exists("cat-b", "u")
    from mosaico.protocol.errors import NotFound

    with pytest.raises(NotFound):
        client.sequence_delete("cat-a")


def test_control_calls_answer_while_a_big_upload_is_in_flight(client: MosaicoClient) -> None:
    with client.sequence_create("busy", {}, queue_chunks=1) as writer:
        topic = writer.topic_create("img", {}, Image)
        for i in range(40):
            topic.push(Message(i, image(i, size=256 * 1024)))
            if i % 10 == 5:
                assert client.sequence_exists("busy")
                assert client.list_sequences() == ["busy"]
        assert topic.rows_pushed == 40
    assert topic.rows_written == 40 and topic.bytes_written > 40 * 256 * 1024


def test_batches_are_sized_to_the_server_limit(small: MosaicoClient) -> None:
    limit = small.info().limits.upload_batch_limit
    n = 5000
    batch = IMU.to_batch([imu(i) for i in range(n)], np.arange(n, dtype=np.int64) * MS + T0)
    assert pa.ipc.get_record_batch_size(batch) > 10 * limit
    with small.sequence_create("sized", {}) as writer:
        cols = writer.topic_create("cols", {}, IMU)
        cols.push_batch(batch)
        objs = writer.topic_create("objs", {}, IMU)
        for i in range(n):
            objs.push(Message(T0 + i * MS, imu(i)))
    assert cols.bytes_written > 10 * limit and objs.rows_written == n
    for name in ("cols", "objs"):
        handler = small.topic_handler("sized", name)
        assert handler is not None and handler.chunks_number > 1
        assert [m.data for m in handler.get_data_streamer()] == IMU.from_batch(batch)


def test_topic_types_as_values(client: MosaicoClient) -> None:
    from mosaico.protocol import TopicType

    ticks = TopicType("Ticks", pa.schema([pa.field("timestamp_ns", pa.int64(), nullable=False),
                                          pa.field("ticks", pa.int64())]))  # fmt: skip
    with client.sequence_create("typed-values", {}) as writer:
        typed = writer.topic_create("imu", {}, IMU.topic_type())
        typed.push(Message(1, imu(1)))
        arrow_only = writer.topic_create("ticks", {}, ticks)
        with pytest.raises(TypeError, match="(?s)no codec.*push_batch"):
            arrow_only.push(Message(1, imu(1)))
        arrow_only.push_batch({"ticks": [7, 8]}, timestamps_ns=[1, 2])
    assert typed.topic_type == IMU.topic_type() and typed.ontology_type is IMU
    assert arrow_only.ontology_type is None and arrow_only.rows_written == 2
    assert _read(client, "typed-values", "imu") == [Message(1, imu(1))]
    handler = client.topic_handler("typed-values", "ticks")
    assert handler is not None and handler.ontology_tag == "Ticks" and handler.row_count == 2


def test_validate_false_stores_batches_as_given(client: MosaicoClient) -> None:
    from mosaico import Header, Time
    from mosaico.ontology import validation

    with validation(False):
        odd = IMU(header=Header(timestamp=Time(seconds=1, nanoseconds=1_500_000_000)),
                  acceleration=Vector3d(x=0, y=0, z=0), angular_velocity=Vector3d(x=0, y=0, z=0))  # fmt: skip
        batch = IMU.to_batch([odd], [1])
    with client.sequence_create("as-given", {}) as writer:
        checked = writer.topic_create("checked", {}, IMU)
        with pytest.raises(ValidationError, match="nanoseconds"):
            checked.push_batch(batch)
        kept = writer.topic_create("kept", {}, IMU, validate=False)
        kept.push_batch(batch)
        with pytest.raises(ValueError, match="do not match"):  # schemas are still enforced
            kept.push_batch(GPS.to_batch([gps(0)], [1]))
    rows = {t: client.topic_handler("as-given", t).row_count for t in ("checked", "kept")}  # type: ignore[union-attr]
    assert rows == {"checked": 0, "kept": 1}


def test_enum_fields_read_back_as_members(client: MosaicoClient) -> None:
    """A streamed ``Message.data`` holds the generated Enum member, not the stored string."""
    frames = [
        CompressedImage(data=b"\xff\xd8", format=fmt) for fmt in ("jpeg", ImageFormat.PNG)
    ]
    with client.sequence_create("camera", {}) as writer:
        topic = writer.topic_create("front", {}, CompressedImage)
        for k, frame in enumerate(frames):
            topic.push(Message(T0 + k, frame))
    handler = client.topic_handler("camera", "front")
    assert handler is not None
    formats = [m.data.format for m in handler.get_data_streamer()]
    assert formats == [ImageFormat.JPEG, ImageFormat.PNG]
    assert [type(f) for f in formats] == [ImageFormat, ImageFormat]
    sequence = client.sequence_handler("camera")
    assert sequence is not None
    merged = [m.data.format for _, m in sequence.get_data_streamer()]
    assert merged == formats and type(merged[0]) is ImageFormat
