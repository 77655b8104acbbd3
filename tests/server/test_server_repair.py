"""Uploads whose null structs hide nulls in required children are stored, not refused."""

from __future__ import annotations

import pyarrow as pa

from mosaico.types import IMU, Vector3d
from tests.server.server_helpers import Raw


def test_null_struct_with_null_required_children_round_trips(raw: Raw) -> None:
    # pa.nulls() builds children that are null too, which Parquet alone would reject for the
    # non-nullable Time.seconds under the (nullable) header.
    columns = {
        "header": pa.nulls(2, IMU.ARROW_TYPE.field("header").type),
        "acceleration": Vector3d.to_arrow([Vector3d(x=1.0, y=2.0, z=3.0)] * 2),
        "angular_velocity": Vector3d.to_arrow([Vector3d(x=0.0, y=0.0, z=1.0)] * 2),
        "orientation": pa.nulls(2, IMU.ARROW_TYPE.field("orientation").type),
    }
    batch = pa.RecordBatch.from_arrays(
        [pa.array([2, 1], pa.int64()), *columns.values()], schema=IMU.ARROW_SCHEMA
    )
    assert batch.column(1).field(0).field(0).null_count == 2  # the case Parquet refuses
    session = raw.new_sequence("repair")
    uuid = raw.new_topic(session, "repair/imu", tag="IMU")
    raw.put("repair/imu", uuid, [batch], schema=IMU.ARROW_SCHEMA)
    schema, batches = raw.read("repair/imu")
    assert str(schema) == str(IMU.ARROW_SCHEMA)
    back = pa.Table.from_batches(batches)
    assert back.column("timestamp_ns").to_pylist() == [1, 2]
    assert back.column("header").to_pylist() == [None, None]
    assert back.column("orientation").to_pylist() == [None, None]
    assert IMU.from_batch(back.to_batches()[0])[0].acceleration == Vector3d(x=1.0, y=2.0, z=3.0)
