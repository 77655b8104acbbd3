"""Multi-topic recordings across clients: merged streams, windows, sessions, policies."""

from __future__ import annotations

import random

import mosaicolabs
import pytest

from mosaico.client import Message, MosaicoClient, SessionLevelErrorPolicy
from mosaico.types import GPS, IMU, GPSStatus, Header, Point3d, Time, Vector3d
from tests.reference.interop.interop_values import normalize, ours_as_dict

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def _imu(i: int) -> IMU:
    return IMU(
        header=Header(timestamp=Time(seconds=i, nanoseconds=0), frame_id="imu"),
        acceleration=Vector3d(x=float(i), y=0.0, z=9.8),
        angular_velocity=Vector3d(x=0.0, y=0.0, z=0.1),
    )


def _gps(i: int) -> GPS:
    return GPS(position=Point3d(x=1.0, y=2.0, z=float(i)),
               status=GPSStatus(status=0, service=1, satellites=i % 10))  # fmt: skip


def _reference_view(pairs: list[tuple[str, object]]) -> list[tuple[str, int, object]]:
    out = []
    for topic, message in pairs:
        data = message.data  # type: ignore[attr-defined]
        out.append((topic, message.timestamp_ns, normalize(data.model_dump())))  # type: ignore[attr-defined]
    return out


def test_our_recording_merged_by_the_reference(
    ours: MosaicoClient, reference: mosaicolabs.MosaicoClient
) -> None:
    imu_ts = [T0 + k * MS for k in range(300)]
    random.Random(3).shuffle(imu_ts)
    gps_ts = [T0 + 10 * MS * k for k in range(30)]
    with ours.sequence_create("x-merged", {"who": "ours"}) as writer:
        imu = writer.topic_create("imu", {}, IMU)
        for ts in imu_ts:
            imu.push(Message(ts, _imu(ts - T0)))
        gps = writer.topic_create("gps", {}, GPS)
        for ts in gps_ts:
            gps.push(Message(ts, _gps(ts - T0)))
    expected = sorted(
        [(ts, 0, "/imu", ours_as_dict(IMU, _imu(ts - T0))) for ts in imu_ts]
        + [(ts, 1, "/gps", ours_as_dict(GPS, _gps(ts - T0))) for ts in gps_ts]
    )
    handler = reference.sequence_handler("x-merged")
    assert handler is not None and handler.user_metadata == {"who": "ours"}
    got = _reference_view(list(handler.get_data_streamer()))
    assert got == [(t, ts, normalize(d)) for ts, _, t, d in expected]
    lo, hi = T0 + 50 * MS, T0 + 120 * MS
    window = _reference_view(
        list(handler.get_data_streamer(start_timestamp_ns=lo, end_timestamp_ns=hi))
    )
    assert window == [(t, ts, normalize(d)) for ts, _, t, d in expected if lo <= ts < hi]


def test_reference_recording_merged_by_us(
    ours: MosaicoClient, reference: mosaicolabs.MosaicoClient
) -> None:
    rows = [(T0 + (k * 7919) % 200 * MS, k) for k in range(200)]  # a permutation of 0..199 ms
    with reference.sequence_create("x-ref", {"who": "ref"}) as writer:
        imu = writer.topic_create("imu", {}, mosaicolabs.IMU)
        gps = writer.topic_create("gps", {}, mosaicolabs.GPS)
        for ts, k in rows:
            imu.push(mosaicolabs.Message(timestamp_ns=ts, data=mosaicolabs.IMU.model_validate(
                ours_as_dict(IMU, _imu(k)))))  # fmt: skip
            if k % 10 == 0:
                gps.push(mosaicolabs.Message(timestamp_ns=ts, data=mosaicolabs.GPS.model_validate(
                    ours_as_dict(GPS, _gps(k)))))  # fmt: skip
    with reference.sequence_update("x-ref") as updater:
        late = updater.topic_create("late/gps", {}, mosaicolabs.GPS)
        late.push(mosaicolabs.Message(timestamp_ns=T0, data=mosaicolabs.GPS.model_validate(
            ours_as_dict(GPS, _gps(-1)))))  # fmt: skip
    handler = ours.sequence_handler("x-ref")
    assert handler is not None and handler.topics == ["/imu", "/gps", "/late/gps"]
    assert len(handler.sessions) == 2 and all(s.locked for s in handler.sessions)
    merged = list(handler.get_data_streamer())
    expected = sorted(
        [(ts, 0, "/imu", _imu(k)) for ts, k in rows]
        + [(ts, 1, "/gps", _gps(k)) for ts, k in rows if k % 10 == 0]
        + [(T0, 2, "/late/gps", _gps(-1))],
        key=lambda r: r[:2],
    )
    assert merged == [(t, Message(ts, obj)) for ts, _, t, obj in expected]
    frame = handler.get_topic_handler("gps").get_data_streamer().to_pandas()
    assert frame["position.z"].tolist() == [float(k) for _, k in sorted(rows) if k % 10 == 0]


def test_policies_seen_by_the_other_client(
    ours: MosaicoClient, reference: mosaicolabs.MosaicoClient
) -> None:
    with pytest.raises(RuntimeError), ours.sequence_create("x-report", {}) as writer:
        writer.topic_create("imu", {}, IMU).push(Message(T0, _imu(0)))
        raise RuntimeError("boom")
    notes = reference.list_sequence_notifications("x-report")
    assert len(notes) == 1 and "boom" in notes[0].message
    assert len(reference.list_topic_notifications("x-report", "/imu")) == 1
    with (
        pytest.raises(RuntimeError),
        ours.sequence_create("x-delete", {}, on_error=SessionLevelErrorPolicy.Delete),
    ):
        raise RuntimeError("boom")
    assert not reference.sequence_exists("x-delete")
    with pytest.raises(RuntimeError), reference.sequence_create("x-ref-report", {}) as ref_writer:
        ref_writer.topic_create("imu", {}, mosaicolabs.IMU)
        raise RuntimeError("kaboom")
    assert "kaboom" in ours.list_sequence_notifications("x-ref-report")[0].msg
    assert ours.list_topic_notifications("x-ref-report", "imu")[0].name == "x-ref-report/imu"
