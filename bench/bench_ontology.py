"""IMU objects <-> Arrow RecordBatch: generated attrs classes against pydantic v2 models.

The pydantic side does what the reference client does (ontology spec §4): each object is
dumped to a dict, the dicts are pivoted into columns and `RecordBatch.from_pydict` builds
the batch; reading converts rows back to Python and validates them into models. Both sides
convert the same IMU messages in the same run; the figures are objects per second and the
ratios between them.

    python bench/bench_ontology.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import gc
import math
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, Field

from mosaico import IMU, Header, Quaternion, Time, Vector3d
from mosaico.ontology import validation

# --- equivalent pydantic v2 models ------------------------------------------------------------


class PTime(BaseModel):
    seconds: int
    nanoseconds: int = Field(ge=0, lt=1_000_000_000)


class PHeader(BaseModel):
    timestamp: PTime | None = None
    frame_id: str | None = None
    sample_counter: int | None = None


class PVector3d(BaseModel):
    header: PHeader | None = None
    covariance: list[float] | None = None
    covariance_type: int | None = None
    x: float
    y: float
    z: float


class PQuaternion(PVector3d):
    w: float


class PIMU(BaseModel):
    header: PHeader | None = None
    acceleration: PVector3d
    angular_velocity: PVector3d
    orientation: PQuaternion | None = None


def _pydantic_to_batch(objs: list[PIMU], timestamps: list[int]) -> pa.RecordBatch:
    rows = [o.model_dump() for o in objs]
    columns: dict[str, list[Any]] = {"timestamp_ns": timestamps}
    for name in ("header", "acceleration", "angular_velocity", "orientation"):
        columns[name] = [r[name] for r in rows]
    return pa.RecordBatch.from_pydict(columns, schema=IMU.ARROW_SCHEMA)


def _pydantic_from_batch(batch: pa.RecordBatch) -> list[PIMU]:
    return [PIMU.model_validate(row) for row in batch.drop_columns(["timestamp_ns"]).to_pylist()]


# --- data ---------------------------------------------------------------------------------------


def _imu_of(lib: tuple[type, ...], i: int) -> Any:
    imu, header, time_, vector, quaternion = lib
    return imu(
        header=header(
            timestamp=time_(seconds=1_700_000_000 + i // 1000, nanoseconds=(i % 1000) * 1_000_000),
            frame_id="imu",
        ),
        acceleration=vector(x=math.sin(i * 1e-3), y=0.1, z=9.81),
        angular_velocity=vector(x=0.0, y=0.01, z=math.cos(i * 1e-3)),
        orientation=quaternion(x=0.0, y=0.0, z=0.0, w=1.0),
    )


def _imu(i: int) -> IMU:
    return _imu_of((IMU, Header, Time, Vector3d, Quaternion), i)


def _p_imu(i: int) -> PIMU:
    return _imu_of((PIMU, PHeader, PTime, PVector3d, PQuaternion), i)


def _rate(fn: Callable[[], object], n: int, repeat: int) -> float:
    fn()  # warm-up: plan compilation, first-call costs of pyarrow kernels
    best = math.inf
    for _ in range(repeat):
        # Every run starts from the same collector state: with ~1 M live objects, whether a
        # full collection falls inside a run otherwise decides a row more than the code does.
        gc.collect()
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.rows
    ts = list(range(n))

    objs = [_imu(i) for i in range(n)]
    p_objs = [_p_imu(i) for i in range(n)]
    batch = IMU.to_batch(objs, ts)
    assert _pydantic_to_batch(p_objs, ts).equals(batch), "both sides must build the same batch"

    with validation(True):
        to_on = _rate(lambda: IMU.to_batch(objs, ts), n, args.repeat)
        from_on = _rate(lambda: IMU.from_batch(batch), n, args.repeat)
        build_on = _rate(lambda: [_imu(i) for i in range(n)], n, args.repeat)
    with validation(False):
        to_off = _rate(lambda: IMU.to_batch(objs, ts), n, args.repeat)
        from_off = _rate(lambda: IMU.from_batch(batch), n, args.repeat)
        build_off = _rate(lambda: [_imu(i) for i in range(n)], n, args.repeat)
    p_to = _rate(lambda: _pydantic_to_batch(p_objs, ts), n, args.repeat)
    p_from = _rate(lambda: _pydantic_from_batch(batch), n, args.repeat)
    p_build = _rate(lambda: [_p_imu(i) for i in range(n)], n, args.repeat)

    print(f"IMU messages: {n:,} (best of {args.repeat}), objects per second")
    print(f"{'step':<28}{'mosaico on':>14}{'mosaico off':>14}{'pydantic v2':>14}{'ratio (on)':>12}")
    rows = [
        ("objects -> RecordBatch", to_on, to_off, p_to),
        ("RecordBatch -> objects", from_on, from_off, p_from),
        ("construct objects", build_on, build_off, p_build),
    ]
    for name, on, off, peer in rows:
        print(f"{name:<28}{on:>14,.0f}{off:>14,.0f}{peer:>14,.0f}{on / peer:>11.1f}x")
    print("targets: objects -> batch >= 400,000/s with validation on; >= 3x pydantic both ways")


if __name__ == "__main__":
    main()
