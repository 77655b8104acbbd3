"""Failures while writing: session and topic policies, background errors, oversized records,
a server that goes away. Nothing the server acknowledged is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from mosaico import IMU, GPSStatus, Image
from mosaico.client import (
    Message,
    MosaicoClient,
    SessionLevelErrorPolicy,
    SessionStatus,
    TopicLevelErrorPolicy,
    TopicWriterStatus,
    UploadError,
)
from mosaico.ontology import validation
from tests.backends import Backend
from tests.client.client_data import T0, gps, image, imu
from tests.client.client_serve import kill_server, served


class Boom(Exception):
    pass


def test_report_policy_notifies_and_finalizes(client: MosaicoClient) -> None:
    with pytest.raises(Boom), client.sequence_create("rep", {}) as writer:
        topic = writer.topic_create("imu", {}, IMU)
        topic.push(Message(1, imu(1)))
        raise Boom("sensor unplugged")
    assert writer.status is SessionStatus.Failed
    assert topic.status is TopicWriterStatus.FinalizedWithError or not topic.is_active
    notes = client.list_sequence_notifications("rep")
    assert len(notes) == 1 and notes[0].notification_type == "error"
    assert "sensor unplugged" in notes[0].msg and str(writer.session_locator) in notes[0].msg
    topic_notes = client.list_topic_notifications("rep", "imu")
    assert len(topic_notes) == 1 and topic_notes[0].name == "rep/imu"
    handler = client.sequence_handler("rep")
    assert handler is not None and handler.sessions[0].completed_at_ns is not None
    assert handler.topics == ["/imu"]


def test_delete_policy_removes_a_new_sequence(client: MosaicoClient) -> None:
    with (
        pytest.raises(Boom),
        client.sequence_create("del", {}, on_error=SessionLevelErrorPolicy.Delete) as writer,
    ):
        writer.topic_create("imu", {}, IMU).push(Message(1, imu(1)))
        raise Boom()
    assert writer.status is SessionStatus.Deleted
    assert not client.sequence_exists("del")


def test_delete_policy_of_an_update_keeps_the_sequence(client: MosaicoClient) -> None:
    with client.sequence_create("keep", {}) as writer:
        writer.topic_create("imu", {}, IMU).push(Message(1, imu(1)))
    with (
        pytest.raises(Boom),
        client.sequence_update("keep", on_error=SessionLevelErrorPolicy.Delete) as updater,
    ):
        updater.topic_create("gps", {}, type(gps(0))).push(Message(2, gps(2)))
        raise Boom()
    handler = client.sequence_handler("keep")
    assert handler is not None and handler.topics == ["/imu"] and len(handler.sessions) == 1


def test_topic_policies(client: MosaicoClient) -> None:
    with client.sequence_create("topic-pol", {}) as writer:
        fin = writer.topic_create("fin", {}, IMU, on_error=TopicLevelErrorPolicy.Finalize)
        with fin:
            fin.push(Message(1, imu(1)))
            raise Boom("fin")
        assert fin.status is TopicWriterStatus.FinalizedWithError and not fin.is_active
        ign = writer.topic_create("ign", {}, IMU, on_error=TopicLevelErrorPolicy.Ignore)
        with ign:
            ign.push(Message(1, imu(1)))
            raise Boom("ign")
        assert ign.status is TopicWriterStatus.IgnoredLastError and ign.is_active
        ign.push(Message(2, imu(2)))
        rai = writer.topic_create("rai", {}, IMU)
        with pytest.raises(Boom), rai:
            raise Boom("rai")
        rai.push(Message(3, imu(3)))
    assert writer.status is SessionStatus.Finalized
    assert len(client.list_topic_notifications("topic-pol", "fin")) == 1
    assert len(client.list_topic_notifications("topic-pol", "ign")) == 1
    assert client.list_topic_notifications("topic-pol", "rai") == []
    rows = {t: client.topic_handler("topic-pol", t).row_count for t in ("fin", "ign", "rai")}  # type: ignore[union-attr]
    assert rows == {"fin": 0, "ign": 2, "rai": 1}


def test_background_conversion_error_surfaces_and_report_applies(client: MosaicoClient) -> None:
    with pytest.raises(UploadError, match="GPS"), client.sequence_create("bg", {}) as writer:
        topic = writer.topic_create("gps", {}, type(gps(0)))
        topic.push(Message(1, gps(1)))
        with validation(False):
            bad = gps(2)
            bad.status = GPSStatus(status=1, service=2, satellites=1000)  # uint8 overflow
        topic.push(Message(2, bad))
    assert writer.status is SessionStatus.Failed
    assert "satellites" in client.list_sequence_notifications("bg")[0].msg


def test_oversized_record_is_dropped_with_a_notification(small: MosaicoClient) -> None:
    limit = small.info().limits.upload_batch_limit
    with small.sequence_create("big", {}) as writer:
        cam = writer.topic_create("cam", {}, Image)
        cam.push(Message(1, image(1)))
        cam.push(Message(2, image(2, size=limit + 10)))
        for i in range(3, 300):
            cam.push(Message(i, image(i, size=1024)))
    assert cam.dropped_record_count == 1 and cam.status is TopicWriterStatus.RecordTooLarge
    notes = small.list_topic_notifications("big", "cam")
    assert len(notes) == 1 and "exceed" in notes[0].msg
    handler = small.topic_handler("big", "cam")
    assert handler is not None and handler.row_count == 298
    assert [m.timestamp_ns for m in handler.get_data_streamer()] == [1, *range(3, 300)]


def test_server_going_away_mid_write(backend: Backend, tmp_path: Path) -> None:
    store = tmp_path / "store"
    with served(backend, store) as port:
        client = MosaicoClient.connect("127.0.0.1", port, timeout=30)
        with client.sequence_create("safe", {}) as writer:
            topic = writer.topic_create("imu", {}, IMU)
            for i in range(500):
                topic.push(Message(T0 + i, imu(i)))
        writer2 = client.sequence_create("cut", {})
        with pytest.raises((UploadError, ConnectionError)), writer2:
            t2 = writer2.topic_create("imu", {}, IMU)
            t2.push(Message(1, imu(1)))
            kill_server()
            for i in range(1_000_000):
                t2.push(Message(i, imu(i)))
        assert writer2.status is SessionStatus.Failed
        client.close()
    with (
        served(backend, store) as port,
        MosaicoClient.connect("127.0.0.1", port, timeout=30) as again,
    ):
        handler = again.topic_handler("safe", "imu")
        assert handler is not None and handler.row_count == 500
        assert [m.timestamp_ns for m in handler.get_data_streamer()] == [T0 + i for i in range(500)]


def test_closing_the_client_ends_a_pending_session(backend: Backend, tmp_path: Path) -> None:
    from mosaico.client import WriterClosedError

    client = backend.client(tmp_path / "store")
    writer = client.sequence_create("orphan", {})
    topic = writer.topic_create("imu", {}, IMU)
    topic.push(Message(1, imu(1)))
    client.close()
    assert writer.status is SessionStatus.Failed and not topic.is_active
    with pytest.raises(WriterClosedError):
        topic.push(Message(2, imu(2)))
    with pytest.raises(WriterClosedError):
        client.sequence_create("after", {})
    with backend.client(tmp_path / "store") as again:
        handler = again.sequence_handler("orphan")
        assert handler is not None and handler.sessions[0].completed_at_ns is not None
        assert "client was closed" in again.list_sequence_notifications("orphan")[0].msg


def test_fail_keeps_what_was_pushed_and_notifies(client: MosaicoClient) -> None:
    from mosaico.client import WriterClosedError

    with client.sequence_create("failing", {}) as writer:
        topic = writer.topic_create("imu", {}, IMU)
        for i in range(5):
            topic.push(Message(i, imu(i)))
        topic.fail("sensor drifted")
        assert topic.status is TopicWriterStatus.FinalizedWithError and not topic.is_active
        assert topic.last_error == "sensor drifted"
        with pytest.raises(WriterClosedError):
            topic.push(Message(9, imu(9)))
        topic.fail("again")  # on a closed writer: only notifies
        other = writer.topic_create("gps", {}, type(gps(0)))
        other.push(Message(1, gps(1)))
    assert writer.status is SessionStatus.Finalized and other.status is TopicWriterStatus.Finalized
    assert client.topic_handler("failing", "imu").row_count == 5  # type: ignore[union-attr]
    notes = [n.msg for n in client.list_topic_notifications("failing", "imu")]
    assert notes == ["sensor drifted", "again"]


def test_an_aborted_session_fails_its_open_topics(client: MosaicoClient) -> None:
    with pytest.raises(Boom), client.sequence_create("aborted", {}) as writer:
        topic = writer.topic_create("imu", {}, IMU)
        topic.push(Message(1, imu(1)))
        raise Boom("stop")
    assert topic.status is TopicWriterStatus.FinalizedWithError and not topic.is_active
    assert topic.last_error is not None and "stop" in topic.last_error
