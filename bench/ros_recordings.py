"""Generated ROS 2 recordings for bench_ros.py, written fast from patched template bytes.

Each message is one rosbags-serialised template (CDR) whose header stamp and one value
are rewritten per message with numpy, then written with rosbags' MCAP writer: a million
IMU messages take seconds, not minutes. Also: the raw bytes of a recording per topic, and
a Flight server that discards what it is sent (the raw DoPut peer).
"""

from __future__ import annotations

import struct
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import Stores, get_typestore

START_NS = 1_700_000_000_000_000_000
STORE = get_typestore(Stores.ROS2_HUMBLE)
_T = STORE.types


def _header(frame: str) -> Any:
    return _T["std_msgs/msg/Header"](
        stamp=_T["builtin_interfaces/msg/Time"](sec=1, nanosec=2), frame_id=frame
    )


def _imu_template(value: float) -> bytes:
    vec = _T["geometry_msgs/msg/Vector3"]
    msg = _T["sensor_msgs/msg/Imu"](
        header=_header("imu"),
        orientation=_T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
        orientation_covariance=np.zeros(9),
        angular_velocity=vec(x=0.0, y=0.0, z=value),
        angular_velocity_covariance=np.zeros(9),
        linear_acceleration=vec(x=0.1, y=0.2, z=9.81),
        linear_acceleration_covariance=np.zeros(9),
    )
    return bytes(STORE.serialize_cdr(msg, "sensor_msgs/msg/Imu"))


def _image_template(width: int, height: int) -> bytes:
    msg = _T["sensor_msgs/msg/Image"](
        header=_header("camera"), height=height, width=width, encoding="rgb8",
        is_bigendian=0, step=width * 3, data=np.zeros(width * height * 3, np.uint8),
    )  # fmt: skip
    return bytes(STORE.serialize_cdr(msg, "sensor_msgs/msg/Image"))


def _stamped(template: bytes, times: np.ndarray[Any, Any], value_at: int | None) -> np.ndarray:
    """The template once per time, its stamp (and the float64 at `value_at`) rewritten."""
    rows = np.tile(np.frombuffer(template, np.uint8), (len(times), 1))
    rows[:, 4:8] = (times // 10**9).astype("<i4").view(np.uint8).reshape(-1, 4)
    rows[:, 8:12] = (times % 10**9).astype("<u4").view(np.uint8).reshape(-1, 4)
    if value_at is not None:
        values = np.arange(len(times), dtype="<f8") * 1e-3
        rows[:, value_at : value_at + 8] = values.view(np.uint8).reshape(-1, 8)
    return rows


def _value_offset(template: bytes, value: float) -> int:
    return template.index(struct.pack("<d", value))


def write_imu_topics(path: Path, topics: int, per_topic: int, rate_hz: int = 400) -> Path:
    """`topics` IMU topics (/imu, or /imu_0000...) of `per_topic` messages at `rate_hz`,
    interleaved by time; returns the .mcap file."""
    template = _imu_template(0.123456789)
    at = _value_offset(template, 0.123456789)
    times = START_NS + np.arange(per_topic, dtype=np.int64) * (10**9 // rate_hz)
    rows = _stamped(template, times, at)
    names = ["/imu"] if topics == 1 else [f"/imu_{k:04d}" for k in range(topics)]
    with Writer2(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conns = [writer.add_connection(n, "sensor_msgs/msg/Imu", typestore=STORE) for n in names]
        for i in range(per_topic):
            raw, ns = rows[i].tobytes(), int(times[i])
            for k, conn in enumerate(conns):
                writer.write(conn, ns + k, raw)
    return next(path.glob("*.mcap"))


def write_large(path: Path, megabytes: int, width: int = 640, height: int = 480) -> Path:
    """Camera frames at 30 Hz with IMU at 400 Hz until the frames reach `megabytes`."""
    image, imu = _image_template(width, height), _imu_template(0.123456789)
    at = _value_offset(imu, 0.123456789)
    frames = max(1, megabytes * 10**6 // len(image))
    with Writer2(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        cam = writer.add_connection("/camera/image_raw", "sensor_msgs/msg/Image", typestore=STORE)
        imu_conn = writer.add_connection("/imu", "sensor_msgs/msg/Imu", typestore=STORE)
        for start in range(0, frames, 300):  # ten seconds of frames at a time
            count = min(300, frames - start)
            cam_times = START_NS + (start + np.arange(count, dtype=np.int64)) * (10**9 // 30)
            imu_times = np.arange(cam_times[0], cam_times[-1] + 10**9 // 30, 10**9 // 400)
            imu_rows = _stamped(imu, imu_times, at)
            events = sorted(
                [(int(t), 0, i) for i, t in enumerate(cam_times)]
                + [(int(t), 1, i) for i, t in enumerate(imu_times)]
            )
            cam_rows = _stamped(image[:64], cam_times, None)  # only the head changes
            tail = image[64:]
            for ns, kind, i in events:
                if kind == 0:
                    writer.write(cam, ns, cam_rows[i].tobytes() + tail)
                else:
                    writer.write(imu_conn, ns, imu_rows[i].tobytes())
    return next(path.glob("*.mcap"))


def raw_topics(path: Path) -> dict[str, tuple[list[int], list[bytes]]]:
    """topic → (log times, raw messages), read by rosbags."""
    out: dict[str, tuple[list[int], list[bytes]]] = {}
    with AnyReader([path]) as reader:
        for conn, ns, raw in reader.messages():
            times, raws = out.setdefault(conn.topic, ([], []))
            times.append(ns)
            raws.append(bytes(raw))
    return out


def raw_batches(
    topics: dict[str, tuple[list[int], list[bytes]]], rows: int = 2048
) -> Iterator[tuple[str, list[pa.RecordBatch]]]:
    """Per topic, its messages as (timestamp_ns, data) record batches of `rows` rows."""
    for topic, (times, raws) in topics.items():
        batches = []
        for i in range(0, len(raws), rows):
            batches.append(
                pa.record_batch(
                    [pa.array(times[i : i + rows], pa.int64()), pa.array(raws[i : i + rows])],
                    names=["timestamp_ns", "data"],
                )
            )
        yield topic, batches


def raw_doput(port: int, topics: list[tuple[str, list[pa.RecordBatch]]]) -> None:
    """One DoPut per topic, concurrently (as mosaico's writer uploads topics)."""
    client = flight.connect(f"grpc://127.0.0.1:{port}")

    def put(topic: str, batches: list[pa.RecordBatch]) -> None:
        writer, _ = client.do_put(flight.FlightDescriptor.for_path(topic), batches[0].schema)
        for b in batches:
            writer.write_batch(b)
        writer.close()

    threads = [threading.Thread(target=put, args=item) for item in topics]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.close()


class DiscardingServer(flight.FlightServerBase):
    """Accepts DoPut streams and drops them: the transport alone."""

    def do_put(self, context: Any, descriptor: Any, reader: Any, writer: Any) -> None:
        for _ in reader:
            pass


if __name__ == "__main__":  # python bench/ros_recordings.py PORT: the discarding server
    DiscardingServer(f"grpc://127.0.0.1:{int(sys.argv[1])}").serve()
