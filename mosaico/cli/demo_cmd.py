"""`mosaico demo`: build typed messages, round-trip them through Arrow IPC and Parquet."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import click
import pyarrow as pa
import pyarrow.parquet as pq


def _messages(n: int) -> dict[Any, list[Any]]:
    from mosaico_ontology import (
        GPS,
        IMU,
        GPSStatus,
        Header,
        Image,
        Point3d,
        RobotJoint,
        Time,
        Vector3d,
    )

    def header(i: int, frame: str) -> Header:
        return Header(
            timestamp=Time(seconds=1_700_000_000 + i // 100, nanoseconds=(i % 100) * 10_000_000),
            frame_id=frame,
        )

    imu = [
        IMU(
            header=header(i, "imu"),
            acceleration=Vector3d(x=math.sin(i / 50), y=math.cos(i / 50), z=9.81),
            angular_velocity=Vector3d(x=0.0, y=0.0, z=0.1),
        )
        for i in range(n)
    ]
    gps = [
        GPS(
            header=header(i, "gps"),
            position=Point3d(x=45.0 + i * 1e-6, y=9.0, z=120.0),
            status=GPSStatus(status=0, service=1, satellites=9),
        )
        for i in range(n // 20)
    ]
    image = [
        Image(
            header=header(i, "cam"),
            data=bytes(64 * 48 * 3),
            format="raw",
            width=64,
            height=48,
            stride=192,
            encoding="rgb8",
        )
        for i in range(n // 13)
    ]
    joints = [
        RobotJoint(
            header=header(i, "arm"),
            names=["j1", "j2"],
            positions=[0.1 * i, 0.2],
            velocities=[0.0, 0.0],
            efforts=[1.0, 2.0],
        )
        for i in range(n // 4)
    ]
    return {IMU: imu, GPS: gps, Image: image, RobotJoint: joints}


@click.command()
@click.option(
    "--rows",
    default=20_000,
    show_default=True,
    help="IMU messages to build (other types scale from it).",
)
def demo(rows: int) -> None:
    """Build messages of several standard types and round-trip them through Arrow and Parquet."""
    with tempfile.TemporaryDirectory(prefix="mosaico-demo-") as tmp:
        click.echo(
            f"{'type':<12} {'rows':>7} {'Arrow bytes':>12} {'Parquet bytes':>14} {'read back':>10}"
        )
        for cls, objs in _messages(rows).items():
            batch = cls.to_batch(objs, range(len(objs)))
            path = Path(tmp) / f"{cls.TAG}.parquet"
            pq.write_table(pa.Table.from_batches([batch]), path, use_compliant_nested_type=False)
            back = pq.read_table(path).combine_chunks().to_batches()[0]
            same = (
                back.schema.equals(cls.ARROW_SCHEMA, check_metadata=True)
                and cls.from_batch(back) == objs
            )
            click.echo(
                f"{cls.TAG:<12} {len(objs):>7} {batch.nbytes:>12,} {path.stat().st_size:>14,} {'equal' if same else 'DIFFERS':>10}"
            )
            if not same:
                raise click.ClickException(f"{cls.TAG} did not survive the round trip")
    click.echo("every message survived object -> Arrow -> Parquet -> object unchanged")
