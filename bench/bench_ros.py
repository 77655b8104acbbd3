"""ROS ingest throughput: our `mosaico ingest` vs the reference injector, same bag, same server.

Generates a recording (IMU at 400 Hz, 640x480 RGB images at 10 Hz, TF at 100 Hz; >= 200 MB
by default), starts `mosaico serve` on a fresh store, then ingests the recording with
`mosaico ingest` and with the reference `mosaicolabs.ros_injector` (mosaicolabs==0.7.0),
each into its own sequence, and prints msg/s, MB/s and the ratio.

Then, on the same recording, one topic of it: `ingest(..., topics=["/imu"])` into memory
next to rosbags reading that one connection (`Reader.messages(connections=[imu])`), and to
rosbags reading every connection: the camera frames must cost nothing.

Run: ``python bench/bench_ros.py`` (``--seconds 5`` for a quick run, ``--format bag`` for a
ROS 1 bag, ``--keep DIR`` to reuse a generated recording, ``--subset-only`` for the one-topic
rows alone, without a server, ``--camera-hz 30`` for more frames between IMU messages).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from timing import best_time

from mosaico.bridges.ros import MemorySequence, ingest
from mosaico.server.launch import serve_process

START_NS = 1_700_000_000_000_000_000
RATES = {"/imu": 400, "/camera/image_raw": 10, "/tf": 100}


def generate(path: Path, fmt: str, seconds: float) -> Path:
    """Write the benchmark recording with rosbags; returns the path to ingest."""
    store = get_typestore(Stores.ROS1_NOETIC if fmt == "bag" else Stores.ROS2_HUMBLE)
    if "tf2_msgs/msg/TFMessage" not in store.fielddefs:
        store.register(
            get_types_from_msg(
                "geometry_msgs/TransformStamped[] transforms", "tf2_msgs/msg/TFMessage"
            )
        )
    t = store.types
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, 640 * 480 * 3, dtype=np.uint8)

    def header(ns: int, frame: str) -> Any:
        stamp = t["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)
        extra = {"seq": 0} if fmt == "bag" else {}
        return t["std_msgs/msg/Header"](stamp=stamp, frame_id=frame, **extra)

    def vec(x: float, y: float, z: float) -> Any:
        return t["geometry_msgs/msg/Vector3"](x=x, y=y, z=z)

    def quat() -> Any:
        return t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)

    cov = np.zeros(9)

    def make(topic: str, ns: int, i: int) -> tuple[str, Any]:
        if topic == "/imu":
            msg = t["sensor_msgs/msg/Imu"](
                header=header(ns, "imu"), orientation=quat(), orientation_covariance=cov,
                angular_velocity=vec(0.0, 0.0, i * 1e-3), angular_velocity_covariance=cov,
                linear_acceleration=vec(0.1, 0.2, 9.81), linear_acceleration_covariance=cov,
            )  # fmt: skip
            return "sensor_msgs/msg/Imu", msg
        if topic == "/camera/image_raw":
            msg = t["sensor_msgs/msg/Image"](
                header=header(ns, "camera"), height=480, width=640, encoding="rgb8",
                is_bigendian=0, step=640 * 3, data=np.roll(pixels, i),
            )  # fmt: skip
            return "sensor_msgs/msg/Image", msg
        transforms = [
            t["geometry_msgs/msg/TransformStamped"](
                header=header(ns, "map"),
                child_frame_id=f"link{k}",
                transform=t["geometry_msgs/msg/Transform"](
                    translation=vec(k, i, 0.0), rotation=quat()
                ),
            )  # fmt: skip
            for k in range(3)
        ]
        return "tf2_msgs/msg/TFMessage", t["tf2_msgs/msg/TFMessage"](transforms=transforms)

    events = sorted(
        (START_NS + i * 10**9 // rate, topic, i)
        for topic, rate in RATES.items()
        for i in range(int(seconds * rate))
    )
    types = {topic: make(topic, START_NS, 0)[0] for topic in RATES}
    if fmt == "bag":
        with Writer1(path) as w1:
            conns = {k: w1.add_connection(k, m, typestore=store) for k, m in types.items()}
            for ns, topic, i in events:
                msgtype, msg = make(topic, ns, i)
                w1.write(conns[topic], ns, store.serialize_ros1(msg, msgtype))
        return path
    with Writer2(path, version=9, storage_plugin=StoragePlugin.MCAP) as w2:
        conns = {k: w2.add_connection(k, m, typestore=store) for k, m in types.items()}
        for ns, topic, i in events:
            msgtype, msg = make(topic, ns, i)
            w2.write(conns[topic], ns, store.serialize_cdr(msg, msgtype))
    return next(path.glob("*.mcap"))


def timed_run(args: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def bench_subset(bag: Path, fmt: str) -> None:
    """Only /imu of the recording, raw and decoded: ours against rosbags on the same bytes."""
    from rosbags.highlevel import AnyReader

    from mosaico.bridges.ros import RosSource

    def rosbags_read(every: bool = False, decode: bool = False) -> int:
        with AnyReader([bag]) as reader:
            conns = [c for c in reader.connections if every or c.topic == "/imu"]
            stream = reader.messages(connections=conns)
            if decode:
                return len([reader.deserialize(raw, c.msgtype) for c, _, raw in stream])
            return sum(1 for _ in stream)

    def ours_read() -> int:
        with RosSource([bag]) as source:
            return sum(1 for _ in source.messages([source.topics["/imu"]]))

    def ours_ingest() -> int:
        return ingest([bag], MemorySequence("subset"), topics=["/imu"]).messages

    runs = {
        "mosaico RosSource.messages(/imu), raw": ours_read,
        "rosbags messages(/imu), raw": rosbags_read,
        "rosbags messages(all), raw": lambda: rosbags_read(every=True),
        "mosaico ingest -t /imu (to memory)": ours_ingest,
        "rosbags messages(/imu), decoded": lambda: rosbags_read(decode=True),
    }
    count = ours_read()
    seconds = {name: best_time(fn, 5, warmup=True) for name, fn in runs.items()}
    print(f"one topic of the recording: /imu, {count:,} messages ({fmt})")
    for name, value in seconds.items():
        print(f"{name:>40}: {value:7.3f} s  {count / value:10,.0f} /imu msg/s")
    for ours, peer in (
        ("mosaico RosSource.messages(/imu), raw", "rosbags messages(/imu), raw"),
        ("mosaico RosSource.messages(/imu), raw", "rosbags messages(all), raw"),
        ("mosaico ingest -t /imu (to memory)", "rosbags messages(/imu), decoded"),
    ):
        print(f"  ratio {ours} / {peer}: {seconds[peer] / seconds[ours]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=25.0, help="Recording length.")
    parser.add_argument("--format", choices=["mcap", "bag"], default="mcap")
    parser.add_argument("--keep", type=Path, help="Folder to keep (and reuse) the recording in.")
    parser.add_argument("--subset-only", action="store_true", help="Only the one-topic rows.")
    parser.add_argument("--camera-hz", type=int, default=10, help="Camera frame rate.")
    opts = parser.parse_args()
    RATES["/camera/image_raw"] = opts.camera_hz

    with tempfile.TemporaryDirectory(prefix="bench_ros_") as tmp:
        folder = opts.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"bench_{opts.seconds:g}s" + (f"_{opts.camera_hz}hz" if opts.camera_hz != 10 else "")
        target = folder / (name + (".bag" if opts.format == "bag" else ""))
        existing = list(target.glob("*.mcap")) if target.is_dir() else [target]
        if target.exists() and existing:
            bag = existing[0]
        else:
            bag = generate(target, opts.format, opts.seconds)
        messages = sum(int(opts.seconds * r) for r in RATES.values())
        megabytes = bag.stat().st_size / 1e6
        print(f"recording: {bag.name}, {megabytes:.1f} MB, {messages:,} messages ({opts.format})")
        if opts.subset_only:
            bench_subset(bag, opts.format)
            return

        store = str(Path(tmp) / "store")
        mosaico = Path(sys.executable).with_name("mosaico")
        reference = Path(sys.executable).with_name("mosaicolabs.ros_injector")
        with serve_process(store, "--log-level", "WARNING") as (_, port):
            host = ["--host", "127.0.0.1", "--port", str(port)]
            ours = timed_run([str(mosaico), "ingest", str(bag), "-s", "ours", *host])
            ref = timed_run([str(reference), str(bag), "--name", "reference", *host])
        for name, seconds in (("mosaico ingest", ours), ("reference ros_injector", ref)):
            print(
                f"{name:>24}: {seconds:7.2f} s  {messages / seconds:10,.0f} msg/s  "
                f"{megabytes / seconds:8.1f} MB/s"
            )
        print(f"{'ratio':>24}: {ref / ours:.2f}x (target >= 5x)")
        bench_subset(bag, opts.format)


if __name__ == "__main__":
    main()
