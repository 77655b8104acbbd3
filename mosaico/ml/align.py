"""Vectorised kernels: pick or interpolate one stream's rows at a set of grid ticks.

All functions work on whole arrays (numpy `searchsorted`, Arrow `take`): the cost per tick is
a few machine operations whatever the policy.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mosaico.ml.policy import AsOf, Drop, Hold, Policy


def take_rows(table: pa.Table, idx: np.ndarray, valid: np.ndarray) -> pa.Table:
    """Rows `idx` of `table`, null where not `valid`."""
    safe = np.where(valid, idx, 0)
    return table.take(pa.array(safe, mask=~valid))


def pick(
    keys: np.ndarray, ticks: np.ndarray, prev_ticks: np.ndarray, policy: Policy
) -> tuple[np.ndarray, np.ndarray]:
    """Row index of the sample chosen at each tick, and whether there is one.

    Args:
        keys: the stream's sorted time keys (ns).
        ticks: the grid ticks (ns).
        prev_ticks: the tick before each tick: the left end of a `Drop` window.
        policy: `Hold`, `AsOf` or `Drop` (`Interpolate` goes through `Bracket`).
    """
    idx = np.searchsorted(keys, ticks, "right") - 1
    valid = idx >= 0
    at = keys[np.where(valid, idx, 0)] if keys.size else np.zeros(len(ticks), np.int64)
    if isinstance(policy, AsOf):
        valid &= ticks - at <= policy.tolerance_ns
    elif isinstance(policy, Drop):
        valid &= at > prev_ticks
    else:
        assert isinstance(policy, Hold)
    return idx, valid


class Bracket:
    """The samples around each tick: left (at or before) and right (first after), weight u.

    Per tick: ``left`` and ``right`` are row indices, ``u`` in [0, 1) the weight of the right
    sample, ``exact`` whether a sample sits on the tick, ``valid`` whether there is a value
    (false before the first sample and after the last, where nothing is extrapolated).
    """

    def __init__(self, keys: np.ndarray, ticks: np.ndarray) -> None:
        n = keys.size
        left = np.searchsorted(keys, ticks, "right") - 1
        has_left = left >= 0
        self.left = np.where(has_left, left, 0)
        self.right = np.minimum(self.left + 1, max(n - 1, 0))
        k_left = keys[self.left] if n else np.zeros(len(ticks), np.int64)
        k_right = keys[self.right] if n else np.zeros(len(ticks), np.int64)
        self.exact = has_left & (k_left == ticks)
        between = has_left & ~self.exact & (left + 1 < n)
        self.valid = self.exact | between
        span = np.where(between, k_right - k_left, 1).astype(np.float64)
        self.u = np.where(between, (ticks - k_left) / span, 0.0)

    def _sides(self, col: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, ...]:
        """Left and right neighbour values (float64, NaN for null) and their null masks."""
        left = col.take(pa.array(self.left))
        right = col.take(pa.array(self.right))
        return (
            left.to_numpy(zero_copy_only=False).astype(np.float64, copy=False),
            right.to_numpy(zero_copy_only=False).astype(np.float64, copy=False),
            left.is_null().to_numpy(zero_copy_only=False),
            right.is_null().to_numpy(zero_copy_only=False),
        )

    def lerp(self, col: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Linear interpolation of a float column (null if either neighbour is null)."""
        if not len(col):
            return pa.nulls(len(self.u), col.type)
        # Only the neighbours are gathered: the cost follows the ticks, not the samples.
        a, b, a_null, b_null = self._sides(col)
        out = np.where(self.exact, a, a + (b - a) * self.u)
        bad = ~self.valid | a_null | (~self.exact & b_null)
        return pa.array(out.astype(col.type.to_pandas_dtype()), type=col.type, mask=bad)

    def slerp(self, cols: list[pa.Array | pa.ChunkedArray]) -> list[pa.Array]:
        """Spherical interpolation of the (x, y, z, w) columns of a quaternion."""
        if not len(cols[0]):
            return [pa.nulls(len(self.u), c.type) for c in cols]
        sides = [self._sides(c) for c in cols]
        q0 = np.stack([s[0] for s in sides], axis=1)
        q1 = np.stack([s[1] for s in sides], axis=1)
        bad = ~self.valid
        for _, _, a_null, b_null in sides:
            bad |= a_null | (~self.exact & b_null)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = slerp(q0, q1, np.where(self.exact, 0.0, self.u))
        out = np.where(self.exact[:, None], q0, out)
        return [
            pa.array(out[:, i].astype(c.type.to_pandas_dtype()), type=c.type, mask=bad)
            for i, c in enumerate(cols)
        ]


def slerp(q0: np.ndarray, q1: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise slerp of unit quaternions (n, 4) at fractions u (n,), shortest arc."""
    q0 = q0 / np.linalg.norm(q0, axis=1, keepdims=True)
    q1 = q1 / np.linalg.norm(q1, axis=1, keepdims=True)
    dot = np.sum(q0 * q1, axis=1)
    # q and -q are the same rotation: flip to take the shorter way round.
    q1 = np.where(dot[:, None] < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(theta)
    # Nearly parallel: slerp's weights are 0/0 there, and lerp is exact to rounding.
    near = sin < 1e-9
    safe = np.where(near, 1.0, sin)
    w0 = np.where(near, 1.0 - u, np.sin((1.0 - u) * theta) / safe)
    w1 = np.where(near, u, np.sin(u * theta) / safe)
    out = w0[:, None] * q0 + w1[:, None] * q1
    return out / np.linalg.norm(out, axis=1, keepdims=True)
