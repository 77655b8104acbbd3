"""Clusterize and intersect (§9) against their definitions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaico.server.query.temporal import batch_clusters, clusterize, intersect, merge_clusters
from tests.server.query.query_helpers import walk_clusters


def test_examples() -> None:
    assert clusterize(np.array([], dtype=np.int64), 5) == []
    assert clusterize(np.array([30, 0, 10, 11, 20]), 0) == [(0, 30)]
    assert clusterize(np.array([0, 5, 10, 16, 20, 40]), 5) == [(0, 10), (16, 20), (40, 40)]
    assert clusterize(np.array([3, 3, 3]), 1) == [(3, 3)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(-50, 50), max_size=15), max_size=5), st.integers(0, 12))
def test_merging_batches_in_any_order_equals_one_walk(
    batches: list[list[int]], dt: int
) -> None:
    pieces = [batch_clusters(np.sort(np.array(b, dtype=np.int64)), dt) for b in batches]
    everything = [t for b in batches for t in b]
    assert list(merge_clusters(pieces, dt)) == walk_clusters(everything, dt)


def test_intersect_informative_example() -> None:
    assert list(intersect([[(0, 10), (20, 30)], [(5, 25)]], 0)) == [(5, 10), (20, 25)]


def test_intersect_tolerance_and_edges() -> None:
    # Gap of 4 between [0, 10] and [14, 20]: joined only when dt >= 4, widened by dt // 2.
    assert list(intersect([[(0, 10)], [(14, 20)]], 3)) == []
    assert list(intersect([[(0, 10)], [(14, 20)]], 5)) == [(12, 12)]
    assert list(intersect([[(0, 10)], []], 0)) == []
    assert list(intersect([], 0)) == []
    # One topic: its clusters.
    assert list(intersect([[(0, 1), (5, 6)]], 0)) == [(0, 1), (5, 6)]
    # Three topics, touching bounds count as overlap.
    assert list(intersect([[(0, 10)], [(10, 20)], [(5, 10)]], 0)) == [(10, 10)]
    # The same topic twice.
    assert list(intersect([[(0, 3), (7, 9)], [(0, 3), (7, 9)]], 0)) == [(0, 3), (7, 9)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 60), min_size=1, max_size=12), min_size=2, max_size=3))
def test_intersect_dt0_is_the_overlap_of_cluster_sets(times: list[list[int]]) -> None:
    clusters = [walk_clusters(t, 3) for t in times]
    windows = list(intersect(clusters, 0))
    covered = {x for s, e in windows for x in range(s, e + 1)}
    expected = set(range(0, 61))
    for cl in clusters:
        expected &= {x for s, e in cl for x in range(s, e + 1)}
    assert covered == expected
