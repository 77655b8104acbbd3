"""MCAP protobuf ingest: `mosaico.bridges.ros.ingest` of a Foxglove file vs the mcap library
decoding the same file.

Generates a Foxglove protobuf MCAP with mcap-protobuf-support's Writer (LocationFix at
100 Hz, FrameTransforms of 4 transforms at 100 Hz, PoseInFrame at 50 Hz, 64 KiB
CompressedImage at 10 Hz), then times, on the same file: the mcap library iterating and
decoding every message (`iter_decoded_messages` with the protobuf `DecoderFactory`, the
peer: nothing mosaico does can be cheaper than decoding), ingest into memory, and ingest
into an embedded store (`MosaicoClient.local`). Prints msg/s and the ratios to the peer.

Run: ``python bench/bench_mcap.py`` (``--seconds 60`` for a bigger file).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from foxglove_schemas_protobuf.CompressedImage_pb2 import CompressedImage
from foxglove_schemas_protobuf.FrameTransform_pb2 import FrameTransform
from foxglove_schemas_protobuf.FrameTransforms_pb2 import FrameTransforms
from foxglove_schemas_protobuf.LocationFix_pb2 import LocationFix
from foxglove_schemas_protobuf.Pose_pb2 import Pose
from foxglove_schemas_protobuf.PoseInFrame_pb2 import PoseInFrame
from foxglove_schemas_protobuf.Quaternion_pb2 import Quaternion
from foxglove_schemas_protobuf.Vector3_pb2 import Vector3
from google.protobuf.timestamp_pb2 import Timestamp
from mcap.reader import make_reader
from mcap_protobuf.decoder import DecoderFactory
from mcap_protobuf.writer import Writer
from timing import best_time

from mosaico.bridges.ros import MemorySequence, ingest
from mosaico.bridges.ros.client_sink import ClientSequence
from mosaico.client import MosaicoClient

START = 1_700_000_000_000_000_000
RATES = {"/gps": 100, "/tf": 100, "/pose": 50, "/camera": 10}


def _message(topic: str, ns: int, k: int) -> object:
    stamp = Timestamp(seconds=ns // 10**9, nanos=ns % 10**9)
    if topic == "/gps":
        return LocationFix(timestamp=stamp, frame_id="gnss", latitude=45 + k * 1e-7,
                           longitude=9.0, altitude=100.0, position_covariance=[0.1] * 9)  # fmt: skip
    if topic == "/tf":
        return FrameTransforms(transforms=[
            FrameTransform(timestamp=stamp, parent_frame_id="map", child_frame_id=f"f{j}",
                           translation=Vector3(x=k, y=j, z=0), rotation=Quaternion(w=1.0))
            for j in range(4)
        ])  # fmt: skip
    if topic == "/pose":
        pose = Pose(position=Vector3(x=k, y=0, z=0), orientation=Quaternion(w=1.0))
        return PoseInFrame(timestamp=stamp, frame_id="map", pose=pose)
    return CompressedImage(timestamp=stamp, frame_id="cam", format="jpeg", data=bytes(65536))


def generate(path: Path, seconds: float) -> int:
    """Write the file; returns its number of messages."""
    events = sorted(
        (START + int(k * 1e9 / hz), topic, k)
        for topic, hz in RATES.items()
        for k in range(int(seconds * hz))
    )
    with path.open("wb") as stream:
        writer = Writer(stream)
        for ns, topic, k in events:
            writer.write_message(topic, _message(topic, ns, k), log_time=ns, publish_time=ns)
        writer.finish()
    return len(events)


def _decode_all(path: Path) -> None:
    with path.open("rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        for _ in reader.iter_decoded_messages(log_time_order=True):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "foxglove.mcap"
        n = generate(path, args.seconds)
        mb = path.stat().st_size / 1e6
        print(f"{path.name}: {n:,} messages, {mb:.1f} MB ({', '.join(RATES)})")
        peer = best_time(lambda: _decode_all(path), args.repeat)
        memory = best_time(lambda: ingest([path], MemorySequence("m")), args.repeat)
        runs = iter(range(args.repeat))

        def to_store() -> None:
            with MosaicoClient.local(Path(tmp) / f"store{next(runs)}") as client:
                ingest([path], ClientSequence(client, "run"))

        store = best_time(to_store, args.repeat)
        print(f"{'':34}{'s':>8}{'msg/s':>12}{'x peer':>8}")
        for label, t in (
            ("mcap iter_decoded_messages (peer)", peer),
            ("ingest into memory", memory),
            ("ingest into MosaicoClient.local", store),
        ):
            print(f"{label:34}{t:8.2f}{n / t:12,.0f}{t / peer:8.2f}")


if __name__ == "__main__":
    main()
