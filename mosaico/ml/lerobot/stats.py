"""Feature statistics as LeRobot keeps them: min, max, mean, std, count and the quantiles
q01, q10, q50, q90, q99, per episode (``meta/episodes``) and over the dataset
(``meta/stats.json``).

Per episode they are exact: numeric features from the episode's values, cameras from
per-channel histograms of every frame (uint8, so quantiles too are exact), scaled to
[0, 1] and shaped ``(3, 1, 1)`` as LeRobot wants them. Over the dataset min, max, mean and
std are exact (parallel combination); quantiles are the count-weighted mean of the
episodes' quantiles, as LeRobot aggregates them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
Stats = dict[str, np.ndarray]


def numeric_stats(values: np.ndarray) -> Stats:
    """Per-dimension statistics of `values`, shaped ``(n,)`` (stats of shape ``(1,)``) or
    ``(n, k)`` (stats of shape ``(k,)``)."""
    data = values.reshape(len(values), -1).astype(np.float64)
    out = {
        "min": data.min(axis=0),
        "max": data.max(axis=0),
        "mean": data.mean(axis=0),
        "std": data.std(axis=0),
        "count": np.array([len(values)]),
    }
    for key, q in QUANTILES.items():
        out[key] = np.quantile(data, q, axis=0)
    return out


class ChannelHistogram:
    """Per-channel histograms of a camera's frames over one episode."""

    def __init__(self) -> None:
        self.counts = np.zeros((3, 256), np.int64)
        self.frames = 0

    def add(self, frame: np.ndarray) -> None:
        """Count one ``(height, width, 3)`` uint8 frame."""
        for c in range(3):
            self.counts[c] += np.bincount(frame[:, :, c].ravel(), minlength=256)
        self.frames += 1

    def stats(self) -> Stats:
        """The episode's statistics, scaled to [0, 1], each of shape ``(3, 1, 1)``."""
        levels = np.arange(256, dtype=np.float64)
        total = self.counts.sum(axis=1)
        mean = (self.counts * levels).sum(axis=1) / total
        var = (self.counts * (levels - mean[:, None]) ** 2).sum(axis=1) / total
        seen = self.counts > 0
        cdf = np.cumsum(self.counts, axis=1)
        out = {
            "min": np.argmax(seen, axis=1).astype(np.float64),
            "max": 255 - np.argmax(seen[:, ::-1], axis=1).astype(np.float64),
            "mean": mean,
            "std": np.sqrt(var),
        }
        for key, q in QUANTILES.items():
            # The smallest level at or below which a share q of the pixels lie.
            out[key] = np.array(
                [np.searchsorted(cdf[c], q * total[c]) for c in range(3)], np.float64
            )
        scaled = {k: (v / 255.0).reshape(3, 1, 1) for k, v in out.items()}
        scaled["count"] = np.array([self.frames])
        return scaled


def aggregate(episodes: Sequence[Mapping[str, Stats]]) -> dict[str, Stats]:
    """The dataset's statistics from its episodes'."""
    out: dict[str, Stats] = {}
    for key in episodes[0]:
        parts = [e[key] for e in episodes]
        counts = np.array([p["count"][0] for p in parts], np.float64)
        shape = (-1,) + (1,) * (parts[0]["mean"].ndim)
        w = (counts / counts.sum()).reshape(shape)
        means = np.stack([p["mean"] for p in parts])
        mean = (w * means).sum(axis=0)
        second = (w * (np.stack([p["std"] for p in parts]) ** 2 + means**2)).sum(axis=0)
        merged = {
            "min": np.stack([p["min"] for p in parts]).min(axis=0),
            "max": np.stack([p["max"] for p in parts]).max(axis=0),
            "mean": mean,
            "std": np.sqrt(np.maximum(second - mean**2, 0.0)),
            "count": np.array([int(counts.sum())]),
        }
        for q in QUANTILES:
            merged[q] = (w * np.stack([p[q] for p in parts])).sum(axis=0)
        out[key] = merged
    return out


def as_json(stats: Mapping[str, Stats]) -> dict[str, dict[str, object]]:
    """Statistics as JSON values (nested lists)."""
    return {k: {s: v.tolist() for s, v in feature.items()} for k, feature in stats.items()}
