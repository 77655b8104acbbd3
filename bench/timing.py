"""Timing shared by the benchmarks: the best wall time of repeated runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_time(fn: Callable[[], Any], repeat: int, warmup: bool = False) -> float:
    """Best wall time of ``repeat`` runs (the run least disturbed by the machine),
    after one untimed run when ``warmup``."""
    if warmup:
        fn()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best
