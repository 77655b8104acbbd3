"""``mosaico demo``: the platform on the embedded default, end to end, in a few seconds.

Writes a synthetic recording (IMU 200 Hz, GPS 10 Hz, camera 15 Hz), finalizes it, lists the
store, streams the recording merged and per topic, and prints a summary.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np

from mosaico.cli.inspect_cmd import fmt_bytes, fmt_measure, table
from mosaico.client import Message, MosaicoClient, SequenceHandler
from mosaico.errors import MosaicoError
from mosaico.types import GPS, IMU, GPSStatus, Header, Image, Point3d, Time, Vector3d

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


def _header(ts: int, frame: str) -> Header:
    return Header(timestamp=Time(seconds=ts // S, nanoseconds=ts % S), frame_id=frame)


def _imu(ts: int, k: int) -> IMU:
    phase = k / 200.0
    return IMU(
        header=_header(ts, "imu"),
        acceleration=Vector3d(x=math.sin(phase), y=math.cos(phase), z=9.81),
        angular_velocity=Vector3d(x=0.01, y=-0.02, z=0.1 * math.sin(phase / 3)),
    )


def _gps(ts: int, k: int) -> GPS:
    return GPS(
        header=_header(ts, "gps"),
        position=Point3d(x=45.4642 + k * 1e-6, y=9.19 + k * 2e-6, z=122.0),
        status=GPSStatus(status=0, service=1, satellites=9),
    )


@contextlib.contextmanager
def _store(path: str | None) -> Iterator[Path]:
    if path is not None:
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="mosaico-demo-") as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def _client(folder: Path, port: int) -> Iterator[MosaicoClient]:
    """The embedded client over ``folder`` (created if needed); mosaico errors become clean
    CLI errors."""
    try:
        client = MosaicoClient.local(folder, port=port)
    except MosaicoError as exc:
        raise click.ClickException(str(exc)) from None
    with client:
        yield client


def _stamps(seconds: float, hz: float) -> list[int]:
    return [T0 + round(k * S / hz) for k in range(int(seconds * hz))]


@click.command()
@click.option(
    "--store",
    type=click.Path(file_okay=False),
    default=None,
    help="Store folder to keep the recording in (default: a temporary folder).",
)
@click.option(
    "--seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Length of the synthetic recording.",
)
@click.option("--camera", default="160x120", show_default=True,
              help="Camera frame size WxH (rgb8).")  # fmt: skip
@click.option(
    "--port", default=0, type=click.IntRange(0, 65535),
    help="Port of the embedded server on 127.0.0.1.  [default: 0, a free port]",
)  # fmt: skip
def demo(store: str | None, seconds: float, camera: str, port: int) -> None:
    """Write, list and stream a synthetic recording on the embedded platform server."""
    try:
        width, height = (int(v) for v in camera.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{camera!r} is not WxH", param_hint="--camera") from None
    with _store(store) as folder, _client(folder, port) as client:
        name = f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
        click.echo(f"embedded server {client.location} over {folder}\n")
        _write(client, name, seconds, (width, height))
        _list(client)
        handler = client.sequence_handler(name)
        if handler is None:
            raise click.ClickException(f"sequence {name!r} vanished after it was written")
        counts = _read_merged(handler)
        _read_topics(handler, counts)


def _write(client: MosaicoClient, name: str, seconds: float, size: tuple[int, int]) -> None:
    """IMU and GPS as typed objects, the camera as columns (push_batch); then finalize."""
    width, height = size
    started = time.perf_counter()
    imu_ts, gps_ts, cam_ts = _stamps(seconds, 200), _stamps(seconds, 10), _stamps(seconds, 15)
    with client.sequence_create(name, {"vehicle": "demo-car", "seconds": seconds}) as seq:
        imu = seq.topic_create("sensors/imu", {"rate_hz": 200}, IMU)
        for k, ts in enumerate(imu_ts):
            imu.push(Message(ts, _imu(ts, k)))
        gps = seq.topic_create("sensors/gps", {"rate_hz": 10}, GPS)
        for k, ts in enumerate(gps_ts):
            gps.push(timestamp_ns=ts, data=_gps(ts, k))
        cam = seq.topic_create("camera/front", {"rate_hz": 15}, Image)
        frame = np.random.default_rng(0).integers(0, 255, width * height * 3, dtype=np.uint8)
        for lo in range(0, len(cam_ts), 150):
            stamps = cam_ts[lo : lo + 150]
            n = len(stamps)
            cam.push_batch(
                {"data": [frame.tobytes()] * n, "format": ["raw"] * n, "width": [width] * n,
                 "height": [height] * n, "stride": [width * 3] * n, "encoding": ["rgb8"] * n},
                timestamps_ns=stamps,
            )  # fmt: skip
    wrote = time.perf_counter() - started
    click.echo(
        f"wrote {seq.rows_written:,} rows / {fmt_bytes(seq.bytes_written)} "
        f"in {wrote:.2f} s and finalized {name}\n"
    )


def _list(client: MosaicoClient) -> None:
    rows = []
    for seq_name in client.list_sequences():
        h = client.sequence_handler(seq_name)
        if h is not None:
            span = ((h.timestamp_ns_max or 0) - (h.timestamp_ns_min or 0)) / S
            rows.append([seq_name, len(h.topics), h.total_row_count,
                         fmt_bytes(h.total_size_bytes), fmt_measure(span)])  # fmt: skip
    click.echo(table(["SEQUENCE", "TOPICS", "ROWS", "SIZE", "SPAN (s)"], rows) + "\n")


def _read_merged(handler: SequenceHandler) -> Counter[str]:
    """The merged typed stream, checked in timestamp order; messages per topic."""
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    last = -(2**63)
    for topic, message in handler.get_data_streamer():
        if message.timestamp_ns < last:
            raise click.ClickException("merged stream out of order")
        last = message.timestamp_ns
        counts[topic] += 1
    merged = time.perf_counter() - started
    total = sum(counts.values())
    click.echo(f"merged typed stream: {total:,} messages in timestamp order ({merged:.2f} s)")
    return counts


def _read_topics(handler: SequenceHandler, counts: Counter[str]) -> None:
    """A merged columnar window, then each topic as a DataFrame, against the merged counts."""
    window = handler.get_data_streamer(
        start_timestamp_ns=T0 + 10 * S, end_timestamp_ns=T0 + 20 * S
    ).read_all()
    click.echo(f"merged columns, window [10 s, 20 s): {window.num_rows:,} rows, "
               f"{window.num_columns} columns")  # fmt: skip
    summary = []
    for topic_name in handler.topics:
        th = handler.get_topic_handler(topic_name)
        frame_ = th.get_data_streamer().to_pandas()
        lo, hi = th.timestamp_ns_min or 0, th.timestamp_ns_max or 0
        rate = (th.row_count - 1) / ((hi - lo) / S) if hi > lo else 0.0
        summary.append([topic_name, th.ontology_tag, th.row_count, counts[topic_name],
                        len(frame_.columns), f"{rate:.1f}", fmt_bytes(th.total_size_bytes)])  # fmt: skip
    click.echo("\n" + table(
        ["TOPIC", "TAG", "ROWS", "MERGED", "DF COLUMNS", "RATE (Hz)", "SIZE"], summary
    ))  # fmt: skip
    imu_frame = handler.get_topic_handler("sensors/imu").get_data_streamer().to_pandas()
    click.echo(
        f"\nIMU mean acceleration z = {imu_frame['acceleration.z'].mean():.2f} m/s² over "
        f"{len(imu_frame):,} samples; every topic read back complete: "
        f"{all(r[2] == r[3] for r in summary)}"
    )
