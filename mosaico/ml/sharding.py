"""One epoch of windows split across `torch.distributed` ranks and DataLoader workers.

The decisions, shared by `StreamDataset` and `WindowSampler`:

- **Epoch order.** Every rank computes the same order of the epoch's windows: in sequence
  order, or with `shuffle=True` permuted by a generator seeded with `(seed, epoch)` only
  (`numpy.random.default_rng([seed, epoch])`), so all ranks agree on the partition without
  talking. `set_epoch(e)` picks the epoch, as `DistributedSampler.set_epoch` does.
- **Ranks.** `rank` and `world_size` come from `torch.distributed` when a process group is
  initialised at construction (build the dataset after `init_process_group`), else 0 and
  1; explicit arguments override both, for launchers without a process group. Rank `r`
  takes a contiguous stretch of the epoch order: the stretches are disjoint and together
  are the single-process epoch exactly (sizes differ by at most one window; nothing is
  padded or repeated, unlike `DistributedSampler`'s default). DDP wants equal step counts:
  `drop_last=True` gives every rank `n // world_size` windows and drops the last
  `n % world_size` windows of the epoch order (fewer than `world_size`; other ones each
  epoch when shuffled).
- **Resume.** `state_dict()` is `{"epoch", "consumed", "seed", "world_size"}`; `consumed` is
  how many windows of this epoch this rank's trainer has taken. Iterated in this process
  (no DataLoader workers) the object counts them itself; with workers it cannot see them,
  so the trainer passes the count: `state_dict(consumed=steps * batch_size)`.
  `load_state_dict` makes the next iterations of that epoch start after those windows; a
  `set_epoch` to another epoch starts at its beginning again. The order is a function of
  `(seed, epoch, world_size)` (and, for `StreamDataset`, its units and `batch_size`), so the
  resumed windows are exactly the rest of the interrupted epoch.

Requires the `ml` extra (torch).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sized
from typing import TypeVar

import numpy as np

from mosaico.extras import missing_extra

try:
    import torch.distributed as dist
    from torch.utils.data import Sampler
except ModuleNotFoundError as exc:
    raise missing_extra("ml", exc.name or "torch") from exc

from mosaico.ml.errors import MLInputError

T = TypeVar("T")

STATE_KEYS = ("epoch", "consumed", "seed", "world_size")
"""The keys of a `state_dict()`."""


def _count(name: str, value: object, low: int = 0) -> int:
    """`value` checked to be an integer (not a bool) of at least `low`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise MLInputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def resolve_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """`(rank, world_size)`: the given ones, else the initialised process group's, else 0 and 1.

    Raises:
        MLInputError: a rank or world size that is not an integer, or a rank outside
            `[0, world_size)`.
    """
    group = dist.is_available() and dist.is_initialized()
    if world_size is None:
        world_size = dist.get_world_size() if group else 1
    if rank is None:
        rank = dist.get_rank() if group else 0
    world_size = _count("world_size", world_size, 1)
    rank = _count("rank", rank)
    if rank >= world_size:
        raise MLInputError(f"rank {rank} out of range for world_size {world_size}")
    return rank, world_size


def rank_span(n: int, rank: int, world_size: int, drop_last: bool) -> tuple[int, int]:
    """Rank `rank`'s stretch `[lo, hi)` of an epoch of `n` windows.

    Exact: the first `n % world_size` ranks take one window more. `drop_last`: each rank
    takes `n // world_size`, and the last `n % world_size` windows go to none.
    """
    q, extra = divmod(n, world_size)
    if drop_last:
        return rank * q, (rank + 1) * q
    lo = rank * q + min(rank, extra)
    return lo, lo + q + (rank < extra)


def worker_blocks(lo: int, hi: int, block: int, worker: int, workers: int) -> Iterator[range]:
    """Worker `worker`'s positions of `[lo, hi)`: blocks of `block`, taken in turns.

    A DataLoader asks its workers for batches in turns, so with `block` equal to its
    `batch_size` the loader yields `[lo, hi)` in order, whatever the number of workers.
    """
    for a in range(lo + worker * block, hi, workers * block):
        yield range(a, min(a + block, hi))


def check_resume(consumed: int, workers: int, batch_size: int | None) -> None:
    """Refuse to resume after `consumed` windows when the loader's order is not known.

    Several workers interleave their batches, so which windows a count covers depends on
    the loader's batch size; without it (`batch_size` None) a resume could repeat or lose
    windows.

    Raises:
        MLInputError: `consumed` > 0 with several workers and no `batch_size`.
    """
    if consumed and workers > 1 and batch_size is None:
        raise MLInputError(
            f"resuming after {consumed} windows with {workers} DataLoader workers needs the "
            "loader's batch_size given to StreamDataset(batch_size=...)"
        )


class Sharding:
    """The epoch state of a sharded, shuffled, resumable source of windows.

    Args:
        shuffle: permute the epoch order by `(seed, epoch)`.
        seed: the shuffle's seed (an integer >= 0), the same on every rank.
        rank, world_size: this process's place; None: from `torch.distributed` (see the
            module's notes), else 0 of 1.
        drop_last: trim every rank to the same number of windows (for DDP's equal steps).

    Raises:
        MLInputError: a bad `seed`, `rank` or `world_size`.
    """

    def __init__(
        self,
        *,
        shuffle: bool,
        seed: int,
        rank: int | None,
        world_size: int | None,
        drop_last: bool,
    ) -> None:
        self.shuffle = bool(shuffle)
        self.seed = _count("seed", seed)
        self.rank, self.world_size = resolve_world(rank, world_size)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        self._start = 0  # the loaded position of this epoch
        self._passed = 0  # windows of this epoch yielded in this process

    def set_epoch(self, epoch: int) -> None:
        """Use epoch `epoch`'s order from the next iteration on (call it on every rank).

        Another epoch than the current one starts at its beginning; the current one keeps a
        position loaded by `load_state_dict`, so a resumed loop may call it again.

        Raises:
            MLInputError: `epoch` is not an integer >= 0.
        """
        epoch = _count("epoch", epoch)
        if epoch != self.epoch:
            self._start = self._passed = 0
        self.epoch = epoch

    def state_dict(self, consumed: int | None = None) -> dict[str, int]:
        """Where this rank is: `{"epoch", "consumed", "seed", "world_size"}`.

        Args:
            consumed: the windows of this epoch the trainer took from this rank's loader
                (from its start, also those before a resume); None: the count of windows
                yielded in this process, exact without DataLoader workers only.

        Raises:
            MLInputError: `consumed` is not an integer >= 0.
        """
        passed = self._passed if consumed is None else _count("consumed", consumed)
        return {
            "epoch": self.epoch,
            "consumed": passed,
            "seed": self.seed,
            "world_size": self.world_size,
        }

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        """Continue the epoch of `state` after its `consumed` windows.

        Raises:
            MLInputError: a key missing, a bad value, or a `seed` or `world_size` other than
                this one's (the order would differ).
        """
        missing = [k for k in STATE_KEYS if k not in state]
        if missing:
            raise MLInputError(f"state lacks {', '.join(missing)} (has {', '.join(state)})")
        for key in ("seed", "world_size"):
            if state[key] != getattr(self, key):
                raise MLInputError(
                    f"state of {key} {state[key]!r} cannot resume here ({key} {getattr(self, key)})"
                )
        self.epoch = _count("epoch", state["epoch"])
        self._start = self._passed = _count("consumed", state["consumed"])

    def permutation(self, n: int) -> np.ndarray:
        """The epoch order of `n` things: a permutation by `(seed, epoch)`, or `0 .. n - 1`."""
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(n)

    def span(self, n: int) -> tuple[int, int]:
        """This rank's positions `[lo, hi)` still to come of an epoch of `n` windows.

        Raises:
            MLInputError: the loaded `consumed` is more than this rank's windows.
        """
        lo, hi = rank_span(n, self.rank, self.world_size, self.drop_last)
        if self._start > hi - lo:
            raise MLInputError(
                f"consumed {self._start} is more than the {hi - lo} windows of rank "
                f"{self.rank} in epoch {self.epoch}"
            )
        return lo + self._start, hi

    def counted(self, items: Iterator[T]) -> Iterator[T]:
        """`items`, counting each into `state_dict()`'s `consumed`."""
        self._passed = self._start
        for item in items:
            self._passed += 1
            yield item


class WindowSampler(Sharding, Sampler[int]):
    """This rank's window indices of a map-style dataset, e.g. a `WindowDataset`.

    Use it as a DataLoader's `sampler` (instead of `shuffle=True` or `DistributedSampler`):
    the loader yields the windows in the sampler's order whatever its `num_workers`, so
    resuming needs only the count of windows the trainer took. Windows are shuffled one by
    one (a map-style dataset reads any window as cheaply as the next).

    Args:
        dataset: anything with a length (the windows are `0 .. len - 1`).

    Other arguments as `Sharding` (`shuffle` defaults to True, `seed` to 0).

    Raises:
        MLInputError: as `Sharding`; (when iterated) a loaded `consumed` past this rank's
            windows.

    >>> sampler = WindowSampler(dataset, seed=7)  # rank and world size of the process group
    >>> loader = DataLoader(dataset, batch_size=32, sampler=sampler, num_workers=4)
    >>> sampler.set_epoch(epoch)
    """

    def __init__(
        self,
        dataset: Sized,
        *,
        shuffle: bool = True,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
    ) -> None:
        super().__init__(
            shuffle=shuffle, seed=seed, rank=rank, world_size=world_size, drop_last=drop_last
        )
        self.dataset = dataset

    def __len__(self) -> int:
        """How many indices the next iteration yields (this rank's, after a loaded position)."""
        lo, hi = rank_span(len(self.dataset), self.rank, self.world_size, self.drop_last)
        return max(0, hi - lo - self._start)

    def __iter__(self) -> Iterator[int]:
        """This rank's indices of the epoch, from the loaded position on."""
        n = len(self.dataset)
        lo, hi = self.span(n)
        order = self.permutation(n)[lo:hi].tolist()
        return self.counted(iter(order))
