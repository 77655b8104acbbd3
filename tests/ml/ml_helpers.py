"""Shared builders for the ML tests: small real topics, made in memory (imported by name)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import numpy as np
import pyarrow as pa

from mosaico.ml import TableSource, TopicSource
from mosaico.types.geometry import Quaternion, Vector3d
from mosaico.types.header import Header
from mosaico.types.sensors import IMU
from mosaico.types.time import Time


def scalar_source(
    name: str,
    ts: Sequence[int] | np.ndarray,
    values: Sequence[float | None] | np.ndarray,
    *,
    batch_rows: int = 7,
) -> TableSource:
    """A Floating64 topic (`data` column) with the given timestamps and values."""
    table = pa.table(
        {
            "timestamp_ns": pa.array(np.asarray(ts, dtype=np.int64), pa.int64()),
            "data": pa.array(list(values), pa.float64()),
        }
    )
    return TableSource(name, "Floating64", table, batch_rows=batch_rows)


def imu_source(name: str, ts: Sequence[int], seed: int = 0, *, batch_rows: int = 64) -> TableSource:
    """An IMU topic with random vectors and unit orientations, header time = record time."""
    rng = np.random.default_rng(seed)
    n = len(ts)
    acc = rng.normal(size=(n, 3))
    gyr = rng.normal(size=(n, 3))
    q = rng.normal(size=(n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    objs = [
        IMU(
            header=Header(
                timestamp=Time(seconds=int(t // 1_000_000_000), nanoseconds=int(t % 1_000_000_000)),
                frame_id="imu",
                sample_counter=i,
            ),
            acceleration=Vector3d(x=float(a[0]), y=float(a[1]), z=float(a[2])),
            angular_velocity=Vector3d(x=float(g[0]), y=float(g[1]), z=float(g[2])),
            orientation=Quaternion(x=float(o[0]), y=float(o[1]), z=float(o[2]), w=float(o[3])),
        )
        for i, (t, a, g, o) in enumerate(zip(ts, acc, gyr, q))
    ]
    return TableSource.from_objects(name, objs, ts, kind=IMU, batch_rows=batch_rows)


def blank_structs(obj: Any) -> Any:
    """`obj` with every nested struct whose fields are all None replaced by None.

    The flat form has no column for a struct's own validity, so such a struct reads back as
    null; lists are kept as they are (they are not flattened).
    """
    if not attrs.has(type(obj)):
        return obj
    changes = {}
    for f in attrs.fields(type(obj)):
        v = getattr(obj, f.name)
        if attrs.has(type(v)):
            v = blank_structs(v)
            if all(getattr(v, g.name) is None for g in attrs.fields(type(v))):
                v = None
            changes[f.name] = v
    return attrs.evolve(obj, **changes) if changes else obj


def lagged_imu(
    name: str, header_ts: np.ndarray, lag: np.ndarray, seed: int = 0, *, batch_rows: int = 64
) -> TableSource:
    """An IMU topic stamped with `header_ts`, recorded `lag` ns later (lag non-decreasing)."""
    imu = imu_source(name, header_ts.tolist(), seed=seed).table
    record = pa.array(np.asarray(header_ts, np.int64) + np.asarray(lag, np.int64), pa.int64())
    return TableSource(
        name, "IMU", imu.set_column(0, "timestamp_ns", record), batch_rows=batch_rows
    )


class RecordingSource:
    """A `TopicSource` wrapper noting every read made of it: its window (`windows`), the
    `fields` asked (`asked`, as given) and the schemas of the batches it returned."""

    def __init__(self, inner: TopicSource) -> None:
        self.inner = inner
        self.name, self.tag, self.schema = inner.name, inner.tag, inner.schema
        self.windows: list[tuple[int | None, int | None]] = []
        self.asked: list[Sequence[str] | None] = []
        self.received: list[pa.Schema] = []

    def bounds(self) -> tuple[int, int] | None:
        return self.inner.bounds()

    def batches(
        self, start_ns: int | None, end_ns: int | None, fields: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        self.windows.append((start_ns, end_ns))
        self.asked.append(fields)
        for batch in self.inner.batches(start_ns, end_ns, fields):
            self.received.append(batch.schema)
            yield batch
