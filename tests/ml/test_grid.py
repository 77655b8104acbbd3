"""Grids: rate and reference ticks, their numbering, and quaternions declared by the ontology."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pytest

from mosaico.ml import (
    Interpolate,
    MLInputError,
    RateGrid,
    ReferenceGrid,
    Stream,
    TableSource,
    synchronize,
)
from mosaico.ml import quaternions as quaternion_module
from mosaico.ml.grid import RunStart
from mosaico.ml.quaternions import slerp_groups
from mosaico.ontology import OntologyType, registry


class _Probe:
    def __init__(self, first: int | None, last: int | None, keys: list[int]) -> None:
        self.first, self.last, self._keys = first, last, np.array(keys, np.int64)

    def origin(self, start_ns: int | None) -> int | None:
        return start_ns if start_ns is not None else self.first

    def last_key(self) -> int | None:
        return self.last

    def keys(self, topic: str) -> np.ndarray:
        return self._keys


def test_rate_grid_ticks_and_numbering() -> None:
    with pytest.raises(MLInputError, match="rate_hz must be"):
        RateGrid(0.0)
    probe = _Probe(10, 45, [])
    ticks = RateGrid(1e8).start(probe, RunStart(None))
    assert ticks is not None and ticks.origin == 10 and ticks.fills_to_end
    now, before = ticks.window(15, 40, {})
    assert now.tolist() == [20, 30] and before.tolist() == [10, 20]
    numbering = RateGrid(1e8).number(probe)
    assert numbering.size == 4 and numbering.origin == 10  # 10, 20, 30, 40
    assert numbering.span(1, 3) == (20, 31, 0)
    assert RateGrid(1e8).number(_Probe(None, None, [])).size == 0
    assert RateGrid(1e8).start(_Probe(None, None, []), RunStart(None)) is None


def test_reference_grid_ticks_and_numbering() -> None:
    grid = ReferenceGrid("/r")
    assert grid.reads == ("/r",)
    ticks = grid.start(_Probe(None, None, []), RunStart(5, seeds={"/r": 3}))
    assert ticks is not None and ticks.origin is None and not ticks.fills_to_end
    now, before = ticks.window(5, 50, {"/r": np.array([7, 9])})
    assert now.tolist() == [7, 9] and before.tolist() == [3, 7]
    numbering = grid.number(_Probe(None, None, [1, 4, 4, 4, 8]))
    assert numbering.size == 5
    assert numbering.span(2, 4) == (4, 5, 1)  # tick 2 is the second of three at 4


def test_quaternion_groups_come_from_the_ontology() -> None:
    assert slerp_groups("IMU") == [[f"orientation.{c}" for c in "xyzw"]]
    assert slerp_groups("Quaternion") == [["x", "y", "z", "w"]]
    assert slerp_groups("Floating64") == [] and slerp_groups("nope") == []


class _Spin(OntologyType):
    """Stands in for a user type whose nested field declares `slerp:` under other names."""

    TAG: ClassVar[str] = "Spin"
    NESTED: ClassVar[dict[str, type]] = {}
    SLERP_FIELDS: ClassVar[tuple[str, ...]] = ("i", "j", "k", "r")


class _Body(OntologyType):
    TAG: ClassVar[str] = "Body"
    NESTED: ClassVar[dict[str, type]] = {"attitude": _Spin}


def test_slerp_follows_the_declaration_not_the_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quaternion_module, "registry", {**registry, "Body": _Body})
    half = math.sqrt(0.5)
    attitude = pa.StructArray.from_arrays(
        [pa.array([0.0, 0.0]), pa.array([0.0, 0.0]), pa.array([0.0, half]), pa.array([1.0, half])],
        names=["i", "j", "k", "r"],
    )
    table = pa.table({"timestamp_ns": pa.array([0, 100], pa.int64()), "attitude": attitude})
    out = synchronize(
        {"/b": TableSource("/b", "Body", table)}, [Stream("/b", Interpolate())], rate_hz=1e9 / 50
    )
    # Halfway between 0 and 90 degrees about z is 45 degrees (linear interpolation is not).
    assert out.column("/b.attitude.k").to_pylist() == pytest.approx(
        [0.0, math.sin(math.pi / 8), half]
    )
    assert out.column("/b.attitude.r").to_pylist() == pytest.approx(
        [1.0, math.cos(math.pi / 8), half]
    )
