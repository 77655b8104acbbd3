"""Time clusters of matching rows and their intersection across topics (spec §9).

Clusters are built per batch of sorted timestamps (vectorised with numpy) and merged at the
end as intervals. Merging per-batch clusters gives exactly the clusters of the union of all
timestamps: inside one batch cluster every gap is <= dt, and adding points only shortens
gaps, so a batch cluster never splits; two intervals belong together iff the gap between
them is <= dt. Memory is therefore bounded by the number of clusters, not of rows, and
chunks may be visited in any order (they may overlap in time).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

Interval = tuple[int, int]


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


def merge_clusters(pieces: Iterable[tuple[np.ndarray, np.ndarray]], dt: int) -> list[Interval]:
    """Merged clusters as (start, end) pairs in time order."""
    starts, ends = merge_arrays(pieces, dt)
    return [(int(s), int(e)) for s, e in zip(starts.tolist(), ends.tolist())]


def clusterize(ts: np.ndarray, dt: int) -> list[Interval]:
    """Clusters of an unsorted array of timestamps (spec §9.1 steps 2-3)."""
    return merge_clusters([batch_clusters(np.sort(ts), dt)], dt)


def intersect(clusters: Sequence[Sequence[Interval]], dt: int) -> list[Interval]:
    """Sweep of spec §9.2: windows where the current clusters of all topics meet within dt.

    Ties when advancing go to the first topic (in request order) whose cluster ends first.
    """
    if not clusters or any(not c for c in clusters):
        return []
    half = dt // 2
    cursor = [0] * len(clusters)
    windows: list[Interval] = []
    while True:
        current = [c[i] for c, i in zip(clusters, cursor)]
        start = max(s for s, _ in current)
        end = min(e for _, e in current)
        if start - end <= dt:
            windows.append((start - half, end + half))
        first = min(range(len(current)), key=lambda k: current[k][1])
        cursor[first] += 1
        if cursor[first] == len(clusters[first]):
            return windows
