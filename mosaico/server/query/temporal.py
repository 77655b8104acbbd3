"""Time clusters of matching rows and their intersection across topics (spec §9).

Clusters are built per batch of sorted timestamps (vectorised with numpy) and merged at the
end as intervals. Merging per-batch clusters gives exactly the clusters of the union of all
timestamps: inside one batch cluster every gap is <= dt, and adding points only shortens
gaps, so a batch cluster never splits; two intervals belong together iff the gap between
them is <= dt. Memory is therefore bounded by the number of clusters, not of rows, and
chunks may be visited in any order (they may overlap in time). Clusters are kept as two
int64 arrays (16 bytes each) and turned into Python values only a block at a time, as a
reply is sent; the intersection sweep is lazy too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import attrs
import numpy as np

Interval = tuple[int, int]

_BLOCK = 4096  # clusters turned into Python ints at once


@attrs.frozen(eq=False)
class Clusters:
    """Clusters in time order: ``starts[i]`` to ``ends[i]`` (int64 arrays of equal length).
    Iterating yields ``(start, end)`` pairs of Python ints, made a block at a time."""

    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[Interval]:
        for lo in range(0, len(self.starts), _BLOCK):
            hi = lo + _BLOCK
            yield from zip(self.starts[lo:hi].tolist(), self.ends[lo:hi].tolist())


def batch_clusters(ts: np.ndarray, dt: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the clusters of one sorted int64 array; dt 0 = one cluster."""
    if len(ts) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    if dt == 0:
        return ts[:1].copy(), ts[-1:].copy()
    breaks = np.flatnonzero(np.diff(ts) > dt)
    starts = np.concatenate([ts[:1], ts[breaks + 1]])
    ends = np.concatenate([ts[breaks], ts[-1:]])
    return starts, ends


def merge_arrays(
    pieces: Iterable[tuple[np.ndarray, np.ndarray]], dt: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge clusters (from batches in any order) into the clusters of all their rows."""
    parts = list(pieces)
    starts = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, dtype=np.int64)
    ends = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, dtype=np.int64)
    if len(starts) == 0:
        return starts, ends
    if dt == 0:
        return starts.min(keepdims=True), ends.max(keepdims=True)
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)  # latest end seen so far
    opens = np.concatenate([[0], np.flatnonzero(starts[1:] - reach[:-1] > dt) + 1])
    closes = np.concatenate([opens[1:] - 1, [len(starts) - 1]])
    return starts[opens], reach[closes]


def merge_clusters(pieces: Iterable[tuple[np.ndarray, np.ndarray]], dt: int) -> Clusters:
    """Merged clusters in time order."""
    return Clusters(*merge_arrays(pieces, dt))


def clusterize(ts: np.ndarray, dt: int) -> list[Interval]:
    """Clusters of an unsorted array of timestamps (spec §9.1 steps 2-3)."""
    return list(merge_clusters([batch_clusters(np.sort(ts), dt)], dt))


def intersect(clusters: Sequence[Iterable[Interval]], dt: int) -> Iterator[Interval]:
    """Sweep of spec §9.2: windows where the current clusters of all topics meet within dt,
    yielded as the sweep finds them.

    Ties when advancing go to the first topic (in request order) whose cluster ends first.
    """
    cursors = [iter(c) for c in clusters]
    try:
        current = [next(c) for c in cursors]
    except StopIteration:
        return  # a topic without clusters
    half = dt // 2
    while current:
        start = max(s for s, _ in current)
        end = min(e for _, e in current)
        if start - end <= dt:
            yield start - half, end + half
        first = min(range(len(current)), key=lambda k: current[k][1])
        try:
            current[first] = next(cursors[first])
        except StopIteration:
            return
