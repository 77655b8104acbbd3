"""PyTorch datasets of fixed-length windows over synchronised sequences.

Both yield `{"sequence": int64 scalar, "timestamp_ns": int64 (L,), "<topic>.<field>": (L, ...)}`
for windows of `length` ticks starting every `stride` ticks of the grid (a `rate_hz` grid or
a `reference` topic's timestamps; record time, header time or any time field), per
sequence.
`WindowDataset` (map-style) synchronises up front; `StreamDataset` (iterable) streams, each
DataLoader worker opening its own sources and computing a disjoint share of the windows.
For distributed training both split an epoch across `torch.distributed` ranks exactly,
shuffle it by `(seed, epoch)` and resume mid-epoch (`mosaico.ml.sharding`): `StreamDataset`
itself, `WindowDataset` through a `mosaico.ml.sharding.WindowSampler`.
Requires the `ml` extra (torch).
"""

from __future__ import annotations

import gc
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from mosaico.extras import missing_extra

try:
    import torch
    from torch.utils.data import Dataset, IterableDataset, get_worker_info
except ModuleNotFoundError as exc:
    raise missing_extra("ml", exc.name or "torch") from exc

from mosaico.ml.errors import MLInputError, WindowIndexError
from mosaico.ml.grid import Numbering
from mosaico.ml.policy import Stream
from mosaico.ml.sharding import Sharding, check_resume, worker_blocks
from mosaico.ml.source import TopicSource
from mosaico.ml.sync import Synchronizer
from mosaico.ml.tensors import pick_columns, to_arrays
from mosaico.ml.timekey import TimestampSource

if TYPE_CHECKING:
    from typing import Unpack

Sources = Mapping[str, TopicSource]
Opener = Callable[[], Sources]
"""Opens one sequence's sources; called inside each worker, so it should connect afresh."""

Item = dict[str, torch.Tensor]


class GridOptions(TypedDict, total=False):
    """The grid keywords of both datasets: `rate_hz` or `reference` (exactly one), and
    `timestamp` ("record", default; "header"; or a time field's path), as for
    `Synchronizer`; a `Stream(timestamp=...)` keys its topic on its own field."""

    rate_hz: float | None
    reference: str | None
    timestamp: TimestampSource


class _Windows:
    """What both datasets share: the streams, their grid, and the shape of a window."""

    def __init__(
        self,
        streams: Sequence[Stream | str],
        grid: GridOptions,
        length: int,
        stride: int,
        dtype: torch.dtype | None,
    ) -> None:
        if not isinstance(length, int) or length <= 0:
            raise MLInputError(f"length must be an integer > 0, got {length!r}")
        if not isinstance(stride, int) or stride <= 0:
            raise MLInputError(f"stride must be an integer > 0, got {stride!r}")
        self.streams = list(streams)
        self.grid_options = grid
        self.length = length
        self.stride = stride
        self.dtype = dtype
        self._np_dtype = None if dtype is None else torch.empty(0, dtype=dtype).numpy().dtype

    def _synchronizer(self, sources: Sources) -> Synchronizer:
        return Synchronizer(sources, self.streams, fixed_lists="arrays", **self.grid_options)

    def _count(self, ticks: int) -> int:
        """How many windows fit in `ticks` ticks."""
        return max(0, (ticks - self.length) // self.stride + 1)


_frozen_in: int | None = None


def _freeze_inherited_heap() -> None:
    """In a forked DataLoader worker, keep the garbage collector off the parent's objects.

    A full collection walks every tracked object and writes to its header: in a child of a
    big parent that copies the parent's heap page by page (copy-on-write), which can cost
    more than the windows themselves. `gc.freeze` (once per process) sets the inherited
    objects aside; the worker's own objects are collected as usual.
    """
    global _frozen_in
    if _frozen_in != os.getpid():
        gc.freeze()
        _frozen_in = os.getpid()


READ_TICKS = 65536
"""Units that follow each other in a worker's order (no shuffle) are synchronised in one
read of up to this many ticks (or one unit, when a unit is longer): each read costs a
request per topic and a seed lookup, which on a remote server outweighs a unit's rows."""


def _coalesced(
    pieces: Iterable[tuple[int, int, int]], limit: int
) -> Iterator[tuple[int, int, int]]:
    """Pieces `(sequence, first window, end window)` with each run of pieces that follow
    each other in one sequence joined, up to `limit` windows per run; the order of the
    windows is unchanged."""
    run: tuple[int, int, int] | None = None
    for seq, lo, hi in pieces:
        if run is not None and run[0] == seq and run[2] == lo and hi - run[1] <= limit:
            run = (seq, run[1], hi)
            continue
        if run is not None:
            yield run
        run = (seq, lo, hi)
    if run is not None:
        yield run


def _item(seq: int, arrays: Mapping[str, np.ndarray], lo: int, length: int) -> Item:
    item = {"sequence": torch.tensor(seq, dtype=torch.int64)}
    for name, arr in arrays.items():
        # A copy: a caller writing into its window must not change the dataset.
        item[name] = torch.from_numpy(arr[lo : lo + length].copy())
    return item


class WindowDataset(_Windows, Dataset[Item]):
    """Map-style windows over sequences synchronised once, at construction.

    Keywords: `length` and `stride` (ticks), `columns` (default: every numeric one),
    `dtype`, and the grid (`GridOptions`: `rate_hz` or `reference`, `timestamp`).
    `dtype` None (default) keeps each column's precision: float64 leaves (latitude,
    longitude) stay float64, float32 ones float32, integers take the float that holds them
    (`mosaico.ml.tensors.lossless_dtype`); `dtype=torch.float32` casts every column.
    Every sequence's synchronised columns are held in memory as numpy arrays; windows do
    not cross sequences. `columns` (after construction) lists the tensor keys besides
    `sequence` and `timestamp_ns`. Across ranks, with a shuffle per epoch and a resumable
    position, give the DataLoader `sampler=WindowSampler(dataset, seed=...)`
    (`mosaico.ml.sharding`).

    Args:
        sequences: one mapping of topic name -> `TopicSource` per sequence.
        streams: the topics to align (names, or `Stream`s with a policy and fields).

    Raises:
        MLInputError: a bad `length` or `stride`, a bad grid, or an unknown topic, field or
            column (see `Synchronizer`).
        WindowIndexError: (indexing) an index outside `[-len, len)`.

    >>> ds = WindowDataset([sources], [Stream("/imu", Interpolate())], length=50, rate_hz=100.0)
    >>> ds[0]["/imu.acceleration.x"].shape
    torch.Size([50])
    """

    def __init__(
        self,
        sequences: Sequence[Sources],
        streams: Sequence[Stream | str],
        *,
        length: int,
        stride: int = 1,
        columns: Sequence[str] | None = None,
        dtype: torch.dtype | None = None,
        **grid: Unpack[GridOptions],
    ) -> None:
        super().__init__(streams, grid, length, stride, dtype)
        self._arrays: list[dict[str, np.ndarray]] = []
        self._starts: list[int] = [0]
        self.columns: list[str] = []
        for sources in sequences:
            sync = self._synchronizer(sources)
            table = sync.table()
            self.columns = pick_columns(sync.schema, columns)
            self._arrays.append(to_arrays(table, self.columns, self._np_dtype))
            self._starts.append(self._starts[-1] + self._count(table.num_rows))

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, index: int) -> Item:
        if not -len(self) <= index < len(self):
            raise WindowIndexError(f"window {index} out of range for {len(self)} windows")
        index %= len(self)
        seq = int(np.searchsorted(self._starts, index, "right")) - 1
        lo = (index - self._starts[seq]) * self.stride
        return _item(seq, self._arrays[seq], lo, self.length)


class StreamDataset(_Windows, Sharding, IterableDataset[Item]):
    """Iterable windows streamed from the sources, split across ranks and DataLoader workers.

    Each sequence's windows are cut into units of `windows_per_unit`. The epoch order is the
    units one after the other, in sequence order, or with `shuffle=True` in an order drawn
    from `(seed, epoch)` (`set_epoch`); windows keep their order within a unit. Each rank
    takes a contiguous stretch of that order (`mosaico.ml.sharding`: disjoint, together
    exactly the single-process epoch; `drop_last=True` trims every rank to the same count).
    Within a rank, DataLoader workers take turns by `batch_size` windows (without one: by
    units); every read synchronises one unit's part on its own, seeded with each stream's
    last sample before it, so the union over ranks and workers is exactly `WindowDataset`'s
    windows, with no overlap and no loss. Each worker opens and numbers every sequence before its first
    window (a reference grid's topic timestamps are read once per sequence and worker).

    Windows are not shuffled within a unit: a read covers consecutive windows only, and with
    workers a shuffled unit would be read whole by each worker taking part of it. For
    well-mixed batches pick `windows_per_unit` below `batch_size`: each batch then draws from
    several random places (at the cost of a seeded read per unit).

    Resume: `state_dict()` / `load_state_dict()` (`Sharding`). With DataLoader workers give
    the loader's `batch_size` here too: the loader then yields this rank's stretch in the
    epoch order for any `num_workers`, so the windows the trainer took are a count
    (`state_dict(consumed=...)`). Workers hold a copy of the dataset made when the loader's
    iterator starts: call `set_epoch` and `load_state_dict` before it, and do not use
    `persistent_workers=True`, whose copies keep their first epoch.

    Openers that connect to a server should run in workers started with
    `multiprocessing_context="spawn"` (or "forkserver") when the parent process already
    holds a gRPC connection or an embedded server: gRPC does not survive `fork`.

    Args:
        openers: one callable per sequence returning its sources, e.g. `SequenceOpener`.
        streams: the topics to align (names, or `Stream`s).
        windows_per_unit: windows per unit of the order and of a read; larger units read
            fewer seeds, smaller ones shuffle finer and balance workers better.
        batch_size: the DataLoader's `batch_size` (None: workers take turns by
            `windows_per_unit` windows, and resuming with several workers is refused).
        shuffle, seed, rank, world_size, drop_last: as `Sharding` (no shuffle, seed 0,
            the process group's rank, exact shards).

    Other keywords as `WindowDataset`.

    Raises:
        MLInputError: a bad `length`, `stride`, `windows_per_unit`, `batch_size`, `seed`,
            `rank` or `world_size`; (when iterated) a bad grid, topic, field or column, a
            loaded `consumed` past this rank's windows, or a resume with several workers
            and no `batch_size`.

    >>> ds = StreamDataset(openers, ["/imu", "/gps"], length=100, stride=50, rate_hz=100.0,
    ...                    batch_size=32, shuffle=True, seed=7)
    >>> loader = DataLoader(ds, batch_size=32, num_workers=4, multiprocessing_context="spawn")
    """

    def __init__(
        self,
        openers: Sequence[Opener],
        streams: Sequence[Stream | str],
        *,
        length: int,
        stride: int = 1,
        windows_per_unit: int = 256,
        batch_size: int | None = None,
        columns: Sequence[str] | None = None,
        dtype: torch.dtype | None = None,
        shuffle: bool = False,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
        **grid: Unpack[GridOptions],
    ) -> None:
        _Windows.__init__(self, streams, grid, length, stride, dtype)
        Sharding.__init__(
            self, shuffle=shuffle, seed=seed, rank=rank, world_size=world_size,
            drop_last=drop_last,
        )  # fmt: skip
        if not isinstance(windows_per_unit, int) or windows_per_unit <= 0:
            raise MLInputError(f"windows_per_unit must be an integer > 0, got {windows_per_unit!r}")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
            raise MLInputError(f"batch_size must be an integer > 0 or None, got {batch_size!r}")
        self.openers = list(openers)
        self.windows_per_unit = windows_per_unit
        self.batch_size = batch_size
        self.columns = None if columns is None else list(columns)

    def __iter__(self) -> Iterator[Item]:
        """This rank's (and worker's) windows of the epoch, from the loaded position on."""
        return self.counted(self._windows())

    def _windows(self) -> Iterator[Item]:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        if info is not None:
            _freeze_inherited_heap()
        opened = [self._open(opener) for opener in self.openers]
        units = _Units([o.windows for o in opened], self.windows_per_unit, self.permutation)
        lo, hi = self.span(units.total)
        check_resume(self._start, workers, self.batch_size)
        pieces = self._share(units, range(lo, hi), worker, workers)
        limit = max(self.windows_per_unit, READ_TICKS // self.stride)
        for seq, w_lo, w_hi in _coalesced(pieces, limit):
            yield from opened[seq].windows_of(seq, w_lo, w_hi)

    def _share(
        self, units: _Units, positions: range, worker: int, workers: int
    ) -> Iterator[tuple[int, int, int]]:
        """A worker's pieces of the rank's positions: every unit's part in turns, or with a
        `batch_size` and several workers, blocks of `batch_size` in turns (the loader's
        order)."""
        if self.batch_size is None or workers == 1:
            yield from itertools.islice(units.pieces(positions), worker, None, workers)
            return
        for block in worker_blocks(
            positions.start, positions.stop, self.batch_size, worker, workers
        ):
            yield from units.pieces(block)

    def _open(self, opener: Opener) -> _Opened:
        sync = self._synchronizer(opener())
        return _Opened(self, sync, pick_columns(sync.schema, self.columns), sync.numbering())


class _Opened:
    """One opened sequence of a `StreamDataset`: its synchroniser, columns and ticks."""

    def __init__(
        self, ds: StreamDataset, sync: Synchronizer, columns: list[str], numbering: Numbering
    ) -> None:
        self._ds = ds
        self._sync = sync
        self._columns = columns
        self._numbering = numbering
        self.windows = ds._count(numbering.size)

    def windows_of(self, seq: int, w_lo: int, w_hi: int) -> Iterator[Item]:
        """Windows `w_lo .. w_hi - 1` of the sequence, synchronised in one read."""
        ds = self._ds
        k0, k1 = w_lo * ds.stride, (w_hi - 1) * ds.stride + ds.length
        table = self._sync.ticks_table(self._numbering, k0, k1)
        arrays = to_arrays(table, self._columns, ds._np_dtype)
        for w in range(w_lo, w_hi):
            yield _item(seq, arrays, (w - w_lo) * ds.stride, ds.length)


class _Units:
    """The units of an epoch (runs of windows of one sequence) in their epoch order."""

    def __init__(
        self, windows: Sequence[int], per_unit: int, order: Callable[[int], np.ndarray]
    ) -> None:
        seqs, starts, sizes = [], [], []
        for seq, n in enumerate(windows):
            for w in range(0, n, per_unit):
                seqs.append(seq)
                starts.append(w)
                sizes.append(min(per_unit, n - w))
        perm = order(len(sizes))
        self._seq = np.asarray(seqs, np.int64)[perm]
        self._start = np.asarray(starts, np.int64)[perm]
        self._offsets = np.concatenate([[0], np.cumsum(np.asarray(sizes, np.int64)[perm])])
        self.total = int(self._offsets[-1])

    def pieces(self, positions: range) -> Iterator[tuple[int, int, int]]:
        """`(sequence, first window, end window)` of each unit's part of `positions`."""
        a, b = positions.start, positions.stop
        u = int(np.searchsorted(self._offsets, a, "right")) - 1
        while a < b:
            end = min(b, int(self._offsets[u + 1]))
            w0 = int(self._start[u]) + a - int(self._offsets[u])
            yield int(self._seq[u]), w0, w0 + end - a
            a, u = end, u + 1
