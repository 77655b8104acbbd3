"""A small real store for query tests: typed IMU topics and an untyped (ROS-like) pose topic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from mosaico import IMU, Message, Vector3d
from mosaico.protocol import TopicType
from tests.backends import Backend

MS = 1_000_000
POSE_TAG = "my_msgs/msg/Pose"
_XYZ = pa.struct([pa.field(c, pa.float64()) for c in "xyz"])
POSE = TopicType(
    POSE_TAG,
    pa.schema([
        pa.field("timestamp_ns", pa.int64(), nullable=False),
        pa.field("pose", pa.struct([pa.field("position", _XYZ)])),
        pa.field("frame_id", pa.string()),
    ]),
)  # fmt: skip
BURSTS = ((20, 30), (60, 65))  # IMU rows (10 ms apart) of drive-001 with acceleration.x = 5
HIGH = range(10, 15)  # pose rows (20 ms apart) of drive-001 with position.z = 2


def _imu(x: float) -> IMU:
    zero = Vector3d(x=0.0, y=0.0, z=0.0)
    return IMU(acceleration=Vector3d(x=x, y=0.0, z=9.81), angular_velocity=zero)


def _poses(high: range) -> pa.RecordBatch:
    z = np.where(np.isin(np.arange(50), list(high)), 2.0, 0.5)
    position = pa.StructArray.from_arrays(
        [pa.array(np.zeros(50)), pa.array(np.zeros(50)), pa.array(z)], list("xyz")
    )
    columns = [pa.array(np.arange(50) * 20 * MS), pa.StructArray.from_arrays([position], ["position"]),
               pa.array(["map"] * 50)]  # fmt: skip
    return pa.RecordBatch.from_arrays(columns, schema=POSE.schema)


def make_store(backend: Backend, folder: Path) -> Path:
    """drive-001 (vehicle alpha: IMU bursts, a high pose), drive-002 (beta), calib (alpha)."""
    with backend.client(folder) as client:
        for name, vehicle, bursts, high in (
            ("drive-001", "alpha", BURSTS, HIGH),
            ("drive-002", "beta", (), range(0)),
            ("calib", "alpha", (), range(0)),
        ):
            with client.sequence_create(name, {"vehicle": {"id": vehicle}}) as seq:
                imu = seq.topic_create("imu", {"model": "xsens"}, IMU)
                for i in range(100):
                    burst = any(lo <= i < hi for lo, hi in bursts)
                    imu.push(Message(i * 10 * MS, _imu(5.0 if burst else 0.0)))
                seq.topic_create("pose", {}, POSE).push_batch(_poses(high))
    return folder
