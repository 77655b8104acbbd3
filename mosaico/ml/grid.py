"""The grids a synchronisation ticks on: a fixed rate, or a reference topic's timestamps.

A grid answers the same three questions for the synchronizer and the datasets, whatever
its kind: which ticks fall in a time range (with the tick before each, for `Drop`), where
a run's first window starts, and how the ticks of a sequence are numbered (the datasets
cut windows by tick number). It reads no data itself: what it needs to know about the
topics comes through a `KeyProbe` (the `Synchronizer` is one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar, Protocol

import attrs
import numpy as np

from mosaico.ml.errors import MLInputError

Taken = Mapping[str, np.ndarray]
"""The keys of the rows each topic hands to the current window."""


@attrs.frozen
class RunStart:
    """Where one run of the synchronizer starts."""

    start_ns: int | None
    """The first time the run reads (None: the start of the data)."""
    origin_ns: int | None = None
    """A rate grid's first tick, pinned (the datasets give every unit the same ticks)."""
    seeds: Mapping[str, int] = attrs.field(factory=dict)
    """The key of each topic's last row before the run, where the run has one."""


class KeyProbe(Protocol):
    """What a grid may ask about the topics being synchronised."""

    def origin(self, start_ns: int | None) -> int | None:
        """`start_ns`, else the earliest first key of the streams (None: no data)."""
        ...

    def last_key(self) -> int | None:
        """The latest last key of the streams (None: no data)."""
        ...

    def keys(self, topic: str) -> np.ndarray:
        """Every key of a topic, in order."""
        ...


class Numbering(Protocol):
    """A sequence's ticks numbered 0, 1, ..., `size - 1`."""

    @property
    def size(self) -> int:
        """How many ticks the sequence has."""
        ...

    @property
    def origin(self) -> int | None:
        """The first tick of a rate grid, to give every partial run the same ticks."""
        ...

    def span(self, k0: int, k1: int) -> tuple[int, int, int]:
        """`(start_ns, end_ns, skip)`: the time range of ticks `k0 .. k1 - 1`, and how many
        ticks of that range come before tick `k0` (a reference timestamp can repeat)."""
        ...


class Ticks(Protocol):
    """A grid during one run of the synchronizer."""

    @property
    def origin(self) -> int | None:
        """Where the first window starts when the run has no start (None: the first sample)."""
        ...

    @property
    def fills_to_end(self) -> bool:
        """Whether the grid ticks on, with nulls, past the data up to an explicit end."""
        ...

    def window(self, lo: int, hi: int, taken: Taken) -> tuple[np.ndarray, np.ndarray]:
        """The ticks of the window `[lo, hi)` and, for each, the tick before it."""
        ...


class Grid(Protocol):
    """A kind of grid, before it meets the data (`RateGrid`, `ReferenceGrid`)."""

    @property
    def reads(self) -> tuple[str, ...]:
        """Topics the grid reads besides the synchronised streams."""
        ...

    def start(self, probe: KeyProbe, run: RunStart) -> Ticks | None:
        """The grid for one run (None: the run has no tick at all)."""
        ...

    def number(self, probe: KeyProbe) -> Numbering:
        """The numbering of every tick of a sequence (reads the data it needs)."""
        ...


def _check_rate(_: object, __: object, rate_hz: float) -> None:
    if not (isinstance(rate_hz, int | float) and math.isfinite(rate_hz) and 0 < rate_hz <= 1e9):
        raise MLInputError(f"rate_hz must be a number in (0, 1e9], got {rate_hz!r}")


@attrs.frozen
class RateGrid:
    """Ticks every `1 / rate_hz` s from `origin` (ns; None: the run's start or the earliest
    first sample). Each tick is rounded on its own, so the grid does not drift.

    It ticks on with nulls past the data up to an explicit end (`fills_to_end`).

    Raises:
        MLInputError: `rate_hz` is not a number in (0, 1e9].

    >>> RateGrid(100.0, origin=0).at(np.arange(3))
    array([       0, 10000000, 20000000])
    """

    rate_hz: float = attrs.field(validator=_check_rate)
    origin: int | None = None

    reads: ClassVar[tuple[str, ...]] = ()
    fills_to_end: ClassVar[bool] = True

    def at(self, k: np.ndarray) -> np.ndarray:
        """Times of ticks number `k` (the origin must be known)."""
        assert self.origin is not None, "a rate grid needs its origin to place ticks"
        return self.origin + np.rint(k * (1e9 / self.rate_hz)).astype(np.int64)

    def window(self, lo: int, hi: int, taken: Taken) -> tuple[np.ndarray, np.ndarray]:
        """The ticks in `[lo, hi)` and the tick before each (`taken` is not needed)."""
        assert self.origin is not None, "a rate grid needs its origin to place ticks"
        per_ns = self.rate_hz / 1e9
        k_lo = max(0, math.floor((lo - self.origin) * per_ns) - 1)
        k_hi = max(k_lo, math.ceil((hi - self.origin) * per_ns) + 1)
        prev = self.at(np.arange(k_lo - 1, k_hi, dtype=np.int64))
        ticks = prev[1:]
        keep = (ticks >= lo) & (ticks < hi)
        return ticks[keep], prev[:-1][keep]

    def start(self, probe: KeyProbe, run: RunStart) -> Ticks | None:
        """This grid with its origin placed: the run's pinned origin, else this grid's,
        else the run's start or the first sample (None: no data)."""
        origin = run.origin_ns if run.origin_ns is not None else self.origin
        if origin is None:
            origin = probe.origin(run.start_ns)
        return None if origin is None else attrs.evolve(self, origin=origin)

    def number(self, probe: KeyProbe) -> Numbering:
        """The ticks from the origin to the last sample of the streams, inclusive."""
        origin = self.origin if self.origin is not None else probe.origin(None)
        last = probe.last_key()
        if origin is None or last is None:
            return _RateNumbering(self, 0)
        grid = attrs.evolve(self, origin=origin)
        k = math.floor((last - origin) * self.rate_hz / 1e9)
        # Ticks are rounded per tick: settle the edge with the exact tick times.
        while int(grid.at(np.array([k + 1]))[0]) <= last:
            k += 1
        while k >= 0 and int(grid.at(np.array([k]))[0]) > last:
            k -= 1
        return _RateNumbering(grid, k + 1)


@attrs.frozen
class _RateNumbering:
    grid: RateGrid
    size: int

    @property
    def origin(self) -> int | None:
        return self.grid.origin

    def span(self, k0: int, k1: int) -> tuple[int, int, int]:
        times = self.grid.at(np.array([k0, k1 - 1]))
        return int(times[0]), int(times[1]) + 1, 0


@attrs.frozen
class ReferenceGrid:
    """One tick at each row of a reference topic (a repeated timestamp ticks again).

    The reference topic need not be one of the synchronised streams; it is read either
    way. The grid ends with the reference's last row.
    """

    topic: str

    @property
    def reads(self) -> tuple[str, ...]:
        """The reference topic: read for its keys, whether or not it is also a stream."""
        return (self.topic,)

    def start(self, probe: KeyProbe, run: RunStart) -> Ticks | None:
        """The grid for one run: the reference's keys handed to each window are its ticks."""
        return _ReferenceTicks(self.topic, run.seeds.get(self.topic, np.iinfo(np.int64).min))

    def number(self, probe: KeyProbe) -> Numbering:
        """One tick per row of the reference topic (reads all its keys)."""
        return _KeyNumbering(probe.keys(self.topic))


@attrs.define
class _ReferenceTicks:
    topic: str
    previous: int
    """The reference's last key before the current window (the `Drop` window's left end)."""

    origin: ClassVar[int | None] = None
    fills_to_end: ClassVar[bool] = False

    def window(self, lo: int, hi: int, taken: Taken) -> tuple[np.ndarray, np.ndarray]:
        ticks = taken[self.topic]
        prev = np.concatenate([[self.previous], ticks[:-1]]).astype(np.int64)
        if ticks.size:
            self.previous = int(ticks[-1])
        return ticks, prev


@attrs.frozen
class _KeyNumbering:
    keys: np.ndarray

    origin: ClassVar[int | None] = None

    @property
    def size(self) -> int:
        return len(self.keys)

    def span(self, k0: int, k1: int) -> tuple[int, int, int]:
        start = int(self.keys[k0])
        skip = k0 - int(np.searchsorted(self.keys, start, "left"))
        return start, int(self.keys[k1 - 1]) + 1, skip


def make_grid(rate_hz: float | None, reference: str | None) -> RateGrid | ReferenceGrid:
    """The grid of exactly one of `rate_hz` and `reference`.

    Raises:
        MLInputError: both or neither given, or a bad `rate_hz`.
    """
    if rate_hz is not None and reference is None:
        return RateGrid(rate_hz)
    if reference is not None and rate_hz is None:
        return ReferenceGrid(reference)
    raise MLInputError("give exactly one grid: rate_hz or reference")
