"""The recording the viewer's browser tests look at, written through a real client.

``drive-01`` (metadata ``{"vehicle": "alpha"}``), 20 s from `T0`:

- ``/imu``: IMU at 200 Hz; ``acceleration.x`` a 0.5 Hz sine of amplitude 1 with bursts to
  6 m/s² over `BURSTS`; ``header.frame_id`` is ``base`` for the first 10 s, then ``moving``.
- ``/camera``: raw rgb8 `Image` frames at 5 Hz, 32x24, frame k filled with grey level
  ``2 * k`` (so every frame differs).
- ``/camera_jpeg``: JPEG `CompressedImage` frames at 2 Hz (Pillow).
- ``/gps``: a GPS at 10 Hz moving north-east in a straight line.

Plus ``other-00`` .. ``other-23``: one small scalar topic each, metadata ``{"vehicle":
"beta" | "gamma", "i": i}``; and ``failed-run``, whose writing block failed (`FAILURE`): its
rows are kept with an error notification.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

from mosaico.client import MosaicoClient
from mosaico.client.sequence_writer import SequenceWriter
from mosaico.types import GPS, IMU, CompressedImage, Header, Image, Point3d, Time, Vector3d
from mosaico.types.scalars import Floating64
from tests.ml.ml_helpers import scalar_source

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000
SECONDS = 20
BURSTS = [(5 * S, 6 * S), (12 * S, 12 * S + S // 2)]  # offsets from T0, [start, end)
FRAME_SIZE = (32, 24)
OTHERS = 24
FAILURE = "the robot's disk filled up"
SEQUENCES = OTHERS + 2


def stamps(hz: int) -> np.ndarray:
    """Record times at ``hz`` over the recording."""
    return T0 + np.arange(SECONDS * hz, dtype=np.int64) * (S // hz)


def _header(ts: int, frame: str) -> Header:
    return Header(timestamp=Time(seconds=ts // S, nanoseconds=ts % S), frame_id=frame)


def acceleration_x(ts: np.ndarray) -> np.ndarray:
    """The IMU's ``acceleration.x`` at ``ts``."""
    t = (ts - T0) / S
    x = np.sin(2 * np.pi * 0.5 * t)
    for lo, hi in BURSTS:
        x[(ts - T0 >= lo) & (ts - T0 < hi)] = 6.0
    return x


def _imu(seq: SequenceWriter) -> None:
    ts = stamps(200)
    ax = acceleration_x(ts)
    topic = seq.topic_create("/imu", {"rate_hz": 200}, IMU)
    for t, x in zip(ts.tolist(), ax.tolist()):
        frame = "base" if t - T0 < 10 * S else "moving"
        topic.push(
            timestamp_ns=t,
            data=IMU(
                header=_header(t, frame),
                acceleration=Vector3d(x=x, y=0.0, z=9.81),
                angular_velocity=Vector3d(x=0.0, y=0.0, z=0.1),
            ),
        )


def frame_pixels(k: int) -> np.ndarray:
    """Frame k of ``/camera``: one grey level, ``(height, width, 3)``."""
    width, height = FRAME_SIZE
    return np.full((height, width, 3), (2 * k) % 256, np.uint8)


def _cameras(seq: SequenceWriter) -> None:
    width, height = FRAME_SIZE
    cam = seq.topic_create("/camera", {"rate_hz": 5}, Image)
    ts = stamps(5)
    cam.push_batch(
        {"data": [frame_pixels(k).tobytes() for k in range(ts.size)], "format": ["raw"] * ts.size,
         "width": [width] * ts.size, "height": [height] * ts.size,
         "stride": [width * 3] * ts.size, "encoding": ["rgb8"] * ts.size},
        timestamps_ns=ts.tolist(),
    )  # fmt: skip
    jpeg = seq.topic_create("/camera_jpeg", {}, CompressedImage)
    for k, t in enumerate(stamps(2).tolist()):
        out = io.BytesIO()
        PILImage.fromarray(frame_pixels(k * 10)).save(out, format="JPEG")
        jpeg.push(timestamp_ns=t, data=CompressedImage(data=out.getvalue(), format="jpeg"))


def gps_position(k: int) -> tuple[float, float]:
    """Latitude and longitude of fix k of ``/gps``."""
    return 45.0 + k * 1e-5, 9.0 + k * 2e-5


def _gps(seq: SequenceWriter) -> None:
    topic = seq.topic_create("/gps", {}, GPS)
    for k, t in enumerate(stamps(10).tolist()):
        lat, lon = gps_position(k)
        topic.push(timestamp_ns=t, data=GPS(header=_header(t, "gps"),
                                            position=Point3d(x=lat, y=lon, z=120.0)))  # fmt: skip


def write_recording(client: MosaicoClient) -> None:
    """Write ``drive-01`` and the ``other-NN`` sequences."""
    with client.sequence_create("drive-01", {"vehicle": "alpha"}) as seq:
        _imu(seq)
        _cameras(seq)
        _gps(seq)
    for i in range(OTHERS):
        meta = {"vehicle": "beta" if i % 2 else "gamma", "i": i}
        with client.sequence_create(f"other-{i:02d}", meta) as seq:
            table = scalar_source("/s", np.arange(i + 2) * S, np.arange(i + 2, dtype=float)).table
            seq.topic_create("/s", {}, Floating64).push_batch(table)
    try:
        with client.sequence_create("failed-run", {"vehicle": "delta"}) as seq:
            seq.topic_create("/s", {}, Floating64).push_batch(scalar_source("/s", [1], [1.0]).table)
            raise RuntimeError(FAILURE)
    except RuntimeError:
        pass  # Report: the rows stay, with an error notification
