"""Test data builders shared by the client tests."""

from __future__ import annotations

import math

from mosaico import GPS, IMU, GPSStatus, Header, Image, Point3d, Time, Vector3d

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def imu(i: int) -> IMU:
    header = None if i % 3 else Header(timestamp=Time(seconds=i, nanoseconds=5), frame_id="imu")
    return IMU(
        header=header,
        acceleration=Vector3d(x=math.sin(i), y=float(i), z=9.81),
        angular_velocity=Vector3d(x=0.0, y=0.0, z=0.1 * i, covariance=[0.5] * 9),
    )


def gps(i: int) -> GPS:
    return GPS(
        position=Point3d(x=45.0 + i * 1e-6, y=9.0, z=120.0),
        status=GPSStatus(status=1, service=2, satellites=i % 12),
    )


def image(i: int, size: int = 48) -> Image:
    return Image(
        data=bytes([i % 256]) * size, format="raw", width=size // 2, height=1,
        stride=size, encoding="mono16",
    )  # fmt: skip
