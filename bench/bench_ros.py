"""ROS ingest throughput: our `mosaico ingest` vs the reference injector, same bag, same server.

Generates a recording (IMU at 400 Hz, 640x480 RGB images at 10 Hz, TF at 100 Hz; >= 200 MB
by default), starts `mosaico serve` on a fresh store, then ingests the recording with
`mosaico ingest` and with the reference `mosaicolabs.ros_injector` (mosaicolabs==0.7.0, run
from the reference environment, `python -m tests.reference.environment --bench`), each into
its own sequence, and prints msg/s, MB/s and the ratio (target >= 20x).

Peers on the same recording: rosbags deserialising every message, plus a raw pyarrow Flight
DoPut of the same message bytes to a server that discards them; mosaico's ingest should take
at most twice their sum.

Then generated recordings, each ingested by `mosaico ingest` into the same server, with
the command's peak memory (RSS): IMU only (`--imu-messages`, 1 M by default: >= 500 k msg/s),
many topics (`--topics`, 1,000 IMU topics), and large camera + IMU recordings
(`--large-mb`, sizes in MB; the peak memory must not grow with the size).

Then, on the bench recording, one topic of it: `ingest(..., topics=["/imu"])` into memory
next to rosbags reading that one connection (`Reader.messages(connections=[imu])`), and to
rosbags reading every connection: the camera frames must cost nothing.

Run: ``python bench/bench_ros.py`` (``--seconds 5`` for a quick run, ``--format bag`` for a
ROS 1 bag, ``--keep DIR`` to reuse the generated recordings, ``--subset-only`` for the
one-topic rows alone, without a server, ``--camera-hz 30`` for more frames between IMU
messages, ``--rows main,peers,imu,topics,large,subset`` to pick rows, ``--imu-messages``,
``--topics``, ``--large-mb 500,2000``).
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
import ros_recordings
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from timing import best_time

from mosaico.bridges.ros import MemorySequence, RosSource, ingest
from mosaico.server.launch import serve_process, wait_listening

HERE = Path(__file__).resolve().parent
ROWS = ["main", "peers", "imu", "topics", "large", "subset"]

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


def timed_run(args: list[str]) -> tuple[float, float, str]:
    """Wall seconds of a command, its peak memory (RSS, MB) and CPU use (user + system over
    wall: 200% is both cores) when GNU time is there."""
    prefix = ["/usr/bin/time", "-f", "RSS_KB=%M CPU=%P"] if Path("/usr/bin/time").exists() else []
    started = time.perf_counter()
    done = subprocess.run([*prefix, *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{done.stdout}\n{done.stderr}")
    lines = [line.split() for line in done.stderr.splitlines() if line.startswith("RSS_KB=")]
    if not lines:
        return elapsed, float("nan"), "?"
    return elapsed, int(lines[-1][0].split("=")[1]) / 1024, lines[-1][1].split("=")[1]


def rosbags_decode_all(bag: Path) -> float:
    """Seconds for rosbags to read and deserialise every message of the recording."""
    from rosbags.highlevel import AnyReader

    started = time.perf_counter()
    with AnyReader([bag]) as reader:
        for conn, _, raw in reader.messages():
            reader.deserialize(raw, conn.msgtype)
    return time.perf_counter() - started


def raw_doput_seconds(bag: Path, port: int) -> float:
    """Seconds of a raw pyarrow Flight DoPut of the recording's message bytes (binary
    batches, one stream per topic, concurrently) to a server that discards them."""
    server = subprocess.Popen([sys.executable, str(HERE / "ros_recordings.py"), str(port)])
    try:
        wait_listening(port, server)
        batches = list(ros_recordings.raw_batches(ros_recordings.raw_topics(bag)))
        return best_time(lambda: ros_recordings.raw_doput(port, batches), 3)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _row(name: str, run: tuple[float, float, str], messages: int, megabytes: float) -> None:
    seconds, rss, cpu = run
    memory = f"  peak RSS {rss:5.0f} MB  CPU {cpu:>4}" if rss == rss else ""
    print(
        f"{name:>34}: {seconds:7.2f} s  {messages / seconds:10,.0f} msg/s  "
        f"{megabytes / seconds:8.1f} MB/s{memory}"
    )


def best_run(args: list[str], repeat: int) -> tuple[float, float, str]:
    """The fastest of `repeat` runs of a command (the least disturbed by the machine);
    `{i}` in the arguments is replaced by the run's number."""
    runs = [timed_run([a.replace("{i}", str(i)) for a in args]) for i in range(repeat)]
    return min(runs, key=lambda r: r[0])


def bench_main(bag: Path, host: list[str], messages: int, reference: bool, repeat: int) -> float:
    """The bench recording through `mosaico ingest` and the reference injector."""
    megabytes = bag.stat().st_size / 1e6
    mosaico = Path(sys.executable).with_name("mosaico")
    ours = best_run([str(mosaico), "ingest", str(bag), "-s", "ours{i}", *host], repeat)
    _row(f"mosaico ingest, best of {repeat}", ours, messages, megabytes)
    injector = Path(sys.executable).with_name("mosaicolabs.ros_injector")
    if reference and injector.exists():
        ref = best_run([str(injector), str(bag), "--name", "reference{i}", *host], repeat)
        _row(f"reference ros_injector, best of {repeat}", ref, messages, megabytes)
        print(f"{'ratio':>34}: {ref[0] / ours[0]:.2f}x (target >= 20x)")
    else:
        print(f"{'reference ros_injector':>34}: not run ({injector} missing or --no-reference)")
    return ours[0]


def bench_peers(bag: Path, ours: float, host: list[str]) -> None:
    """mosaico ingest against rosbags' deserialisation + a raw Flight DoPut of the bytes."""
    from mosaico.bridges.ros.client_sink import ClientSequence
    from mosaico.client import MosaicoClient

    decode = best_time(lambda: rosbags_decode_all(bag), 3)
    doput = raw_doput_seconds(bag, int(host[3]) + 1)
    with MosaicoClient.connect(host[1], int(host[3])) as client:
        count = iter(range(1000))
        inproc = best_time(lambda: ingest([bag], ClientSequence(client, f"p{next(count)}")), 3)
    peer = decode + doput
    print(f"{'rosbags deserialise, every msg':>34}: {decode:7.2f} s")
    print(f"{'raw Flight DoPut of the bytes':>34}: {doput:7.2f} s")
    for name, seconds in (("mosaico ingest (command)", ours), ("ingest() in process", inproc)):
        print(f"{name:>34}: {seconds:7.2f} s = {seconds / peer:.2f}x the peers' sum (target <= 2x)")


def bench_generated(folder: Path, opts: argparse.Namespace, host: list[str]) -> None:
    """Generated recordings through `mosaico ingest`, with the command's peak memory."""
    mosaico = Path(sys.executable).with_name("mosaico")
    cases: list[tuple[str, Path, int]] = []
    if "imu" in opts.rows:
        n = opts.imu_messages
        target = folder / f"imu_{n}"
        bag = _cached(target) or ros_recordings.write_imu_topics(target, 1, n)
        cases.append((f"IMU only, {n:,} msgs", bag, n))
    if "topics" in opts.rows:
        k, per = opts.topics, opts.topic_messages
        target = folder / f"topics_{k}x{per}"
        bag = _cached(target) or ros_recordings.write_imu_topics(target, k, per)
        cases.append((f"{k:,} IMU topics x {per}", bag, k * per))
    for mb in opts.large_mb if "large" in opts.rows else []:
        target = folder / f"large_{mb}mb"
        bag = _cached(target) or ros_recordings.write_large(target, mb)
        with RosSource([bag]) as source:
            count = sum(t.count for t in source.topics.values())
        cases.append((f"camera+IMU, {mb:,} MB", bag, count))
    for i, (name, bag, count) in enumerate(cases):
        run = timed_run([str(mosaico), "ingest", str(bag), "-s", f"gen{i}", *host])
        _row(name, run, count, bag.stat().st_size / 1e6)


def _cached(target: Path) -> Path | None:
    found = list(target.glob("*.mcap")) if target.is_dir() else []
    return found[0] if found else None


def bench_subset(bag: Path, fmt: str) -> None:
    """Only /imu of the recording, raw and decoded: ours against rosbags on the same bytes."""
    from rosbags.highlevel import AnyReader

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
    parser.add_argument("--keep", type=Path, help="Folder to keep (and reuse) the recordings in.")
    parser.add_argument("--subset-only", action="store_true", help="Only the one-topic rows.")
    parser.add_argument("--camera-hz", type=int, default=10, help="Camera frame rate.")
    parser.add_argument(
        "--rows", type=lambda v: v.split(","), default=ROWS, help=f"Among {','.join(ROWS)}."
    )
    parser.add_argument("--no-reference", action="store_true", help="Skip the reference run.")
    parser.add_argument("--repeat", type=int, default=2, help="Runs of each command (best).")
    parser.add_argument("--port", type=int, default=19110, help="The server's (+1: the sink's).")
    parser.add_argument("--imu-messages", type=int, default=1_000_000)
    parser.add_argument("--topics", type=int, default=1000, help="Topics of the many-topic row.")
    parser.add_argument("--topic-messages", type=int, default=100, help="Messages per topic.")
    parser.add_argument(
        "--large-mb", type=lambda v: [int(x) for x in v.split(",")], default=[500, 2000],
        help="Sizes of the large recordings, MB (comma-separated).",
    )  # fmt: skip
    opts = parser.parse_args()
    if opts.subset_only:
        opts.rows = ["subset"]
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
        if {"main", "peers", "imu", "topics", "large"} & set(opts.rows):
            store = str(Path(tmp) / "store")
            with serve_process(store, "--log-level", "WARNING", port=opts.port) as (_, port):
                host = ["--host", "127.0.0.1", "--port", str(port)]
                ours = float("nan")
                if "main" in opts.rows:
                    ours = bench_main(bag, host, messages, not opts.no_reference, opts.repeat)
                if "peers" in opts.rows:
                    bench_peers(bag, ours, host)
                bench_generated(folder, opts, host)
        if "subset" in opts.rows:
            bench_subset(bag, opts.format)


if __name__ == "__main__":
    main()
