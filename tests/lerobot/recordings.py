"""Small multi-rate recordings for the LeRobot export tests, made in memory.

A camera whose every frame shows its own number (blocks of flat colour, which a video codec
keeps within a few levels), joints at 200 Hz (RobotJoint: 3 positions, 3 velocities) and a
command topic at 100 Hz (Floating64), each starting at its own time.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa

from mosaico.ml import TableSource
from mosaico.types.images import CompressedImage, Image
from mosaico.types.scalars import Floating64
from mosaico.types.sensors import RobotJoint

WIDTH, HEIGHT = 64, 48
SECOND = 1_000_000_000


def pattern(n: int) -> np.ndarray:
    """Frame `n`: 4x3 blocks of 16x16 pixels, each a colour that depends on `n` (RGB)."""
    blocks = np.zeros((3, 4, 3), np.uint8)
    for by in range(3):
        for bx in range(4):
            blocks[by, bx] = [(n * 37 + bx * 60) % 256, (n * 11 + by * 80) % 256, (bx + by) * 40]
    return np.kron(blocks, np.ones((16, 16, 1), np.uint8))


def camera_table(ts: np.ndarray, *, encoding: str = "rgb8") -> pa.Table:
    """An Image topic (raw pixels) of `pattern` frames, stored as `encoding`."""
    frames = [pattern(i) for i in range(len(ts))]
    if encoding == "bgr8":
        frames = [f[:, :, ::-1] for f in frames]
    objs = [
        Image(data=np.ascontiguousarray(f).tobytes(), format="raw", width=WIDTH, height=HEIGHT,
              stride=WIDTH * 3, encoding=encoding)
        for f in frames
    ]  # fmt: skip
    return Image.to_batch(objs, ts)


def png_table(ts: np.ndarray) -> pa.Table:
    """A CompressedImage topic of PNG-encoded `pattern` frames (lossless)."""
    import av

    objs = []
    for i in range(len(ts)):
        codec = av.CodecContext.create("png", "w")
        codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "rgb24"
        frame = av.VideoFrame.from_ndarray(pattern(i), format="rgb24")
        data = io.BytesIO()
        for packet in codec.encode(frame) + codec.encode(None):
            data.write(bytes(packet))
        objs.append(CompressedImage(data=data.getvalue(), format="png"))
    return CompressedImage.to_batch(objs, ts)


def joints_table(ts: np.ndarray, seed: int) -> pa.Table:
    """RobotJoint messages: 3 joints, smooth positions and random velocities."""
    rng = np.random.default_rng(seed)
    t = ts / SECOND
    objs = [
        RobotJoint(names=["a", "b", "c"], positions=[float(np.sin(x)), float(np.cos(x)), float(x)],
                   velocities=rng.normal(size=3).tolist(), efforts=[0.0, 0.0, 0.0])
        for x in t
    ]  # fmt: skip
    return RobotJoint.to_batch(objs, ts)


def command_table(ts: np.ndarray) -> pa.Table:
    """Floating64 messages: a ramp."""
    return Floating64.to_batch([Floating64(data=float(i) * 0.5) for i in range(len(ts))], ts)


def recording(seed: int, seconds: float = 2.0, t0: int = 10 * SECOND) -> dict[str, pa.Table]:
    """One sequence's topics: camera at ~20 Hz (jittered), joints 200 Hz, command 100 Hz."""
    rng = np.random.default_rng(seed)
    n_cam = int(seconds * 20)
    cam = t0 + np.arange(n_cam) * (SECOND // 20) + rng.integers(0, 3_000_000, n_cam)
    joints = t0 + 7_000_000 + np.arange(int(seconds * 200)) * (SECOND // 200)
    cmd = t0 + 3_000_000 + np.arange(int(seconds * 100)) * (SECOND // 100)
    return {
        "/camera": camera_table(cam.astype(np.int64)),
        "/joints": joints_table(joints.astype(np.int64), seed),
        "/cmd": command_table(cmd.astype(np.int64)),
    }


TAGS = {"/camera": "Image", "/joints": "RobotJoint", "/cmd": "Floating64"}
TYPES = {"/camera": Image, "/joints": RobotJoint, "/cmd": Floating64}


def sources(tables: dict[str, pa.Table]) -> dict[str, TableSource]:
    """The tables as in-memory topic sources."""
    return {name: TableSource(name, TAGS[name], t) for name, t in tables.items()}


def held(ts: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """Per tick, the index of the last message at or before it (numpy, not the synchroniser)."""
    return np.searchsorted(ts, ticks, side="right") - 1


def expected(tables: dict[str, pa.Table], fps: int) -> dict[str, np.ndarray]:
    """What an export at `fps` with every topic held must hold, worked out here: the ticks
    from the latest first message to the earliest last message, the state (joint positions and
    velocities), the action (command) and the index of the camera frame shown."""
    stamps = {k: t.column("timestamp_ns").to_numpy() for k, t in tables.items()}
    start = max(int(s[0]) for s in stamps.values())
    last = min(int(s[-1]) for s in stamps.values())
    k = np.arange(int((last - start) * fps / SECOND) + 2)
    ticks = start + np.rint(k * (SECOND / fps)).astype(np.int64)
    ticks = ticks[ticks <= last]
    joints = tables["/joints"]
    j = held(stamps["/joints"], ticks)
    positions = np.array(joints.column("positions").to_pylist())[j]
    velocities = np.array(joints.column("velocities").to_pylist())[j]
    c = held(stamps["/cmd"], ticks)
    return {
        "ticks": ticks,
        "state": np.concatenate([positions, velocities], axis=1).astype(np.float32),
        "action": tables["/cmd"].column("data").to_numpy()[c].astype(np.float32)[:, None],
        "camera": held(stamps["/camera"], ticks),
    }
