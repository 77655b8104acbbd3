"""PyTorch datasets of fixed-length windows over synchronised sequences.

Both yield `{"sequence": int64 scalar, "timestamp_ns": int64 (L,), "<topic>.<field>": (L, ...)}`
for windows of `length` ticks starting every `stride` ticks of the grid (a `rate_hz` grid or
a `reference` topic's timestamps; record time, header time or any time field), per
sequence.
`WindowDataset` (map-style) synchronises up front; `StreamDataset` (iterable) streams, each
DataLoader worker opening its own sources and computing a disjoint share of the windows.
Requires the `ml` extra (torch).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from mosaico.extras import missing_extra

try:
    import torch
    from torch.utils.data import Dataset, IterableDataset, get_worker_info
except ModuleNotFoundError as exc:
    raise missing_extra("ml", exc.name or "torch") from exc

from mosaico.ml.errors import MLInputError, WindowIndexError
from mosaico.ml.policy import Stream
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
    `sequence` and `timestamp_ns`.

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


class StreamDataset(_Windows, IterableDataset[Item]):
    """Iterable windows streamed from the sources, split across DataLoader workers.

    Each sequence's windows are cut into units of `windows_per_unit`; units go round-robin
    to workers. A unit is synchronised on its own, seeded with each stream's last sample
    before it, so the union over workers is exactly `WindowDataset`'s windows, in order
    within a unit, with no overlap and no loss. With a reference grid each worker reads the
    reference topic's timestamps once per sequence, to number the ticks.

    Openers that connect to a server should run in workers started with
    `multiprocessing_context="spawn"` (or "forkserver") when the parent process already
    holds a gRPC connection or an embedded server: gRPC does not survive `fork`.

    Args:
        openers: one callable per sequence returning its sources, e.g. `SequenceOpener`.
        streams: the topics to align (names, or `Stream`s).
        windows_per_unit: windows per unit of work; larger units read fewer seeds,
            smaller ones balance workers better.

    Other keywords as `WindowDataset`.

    Raises:
        MLInputError: a bad `length`, `stride` or `windows_per_unit`; (when iterated) a bad
            grid, topic, field or column.

    >>> ds = StreamDataset(openers, ["/imu", "/gps"], length=100, stride=50, rate_hz=100.0)
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
        columns: Sequence[str] | None = None,
        dtype: torch.dtype | None = None,
        **grid: Unpack[GridOptions],
    ) -> None:
        super().__init__(streams, grid, length, stride, dtype)
        if not isinstance(windows_per_unit, int) or windows_per_unit <= 0:
            raise MLInputError(f"windows_per_unit must be an integer > 0, got {windows_per_unit!r}")
        self.openers = list(openers)
        self.windows_per_unit = windows_per_unit
        self.columns = None if columns is None else list(columns)

    def __iter__(self) -> Iterator[Item]:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        if info is not None:
            _freeze_inherited_heap()
        unit = 0
        for seq, opener in enumerate(self.openers):
            sync = self._synchronizer(opener())
            columns = pick_columns(sync.schema, self.columns)
            numbering = sync.numbering()
            n_windows = self._count(numbering.size)
            for w_lo in range(0, n_windows, self.windows_per_unit):
                mine = unit % workers == worker
                unit += 1
                if mine:
                    w_hi = min(w_lo + self.windows_per_unit, n_windows)
                    k0, k1 = w_lo * self.stride, (w_hi - 1) * self.stride + self.length
                    arrays = to_arrays(sync.ticks_table(numbering, k0, k1), columns, self._np_dtype)
                    for w in range(w_lo, w_hi):
                        yield _item(seq, arrays, (w - w_lo) * self.stride, self.length)
