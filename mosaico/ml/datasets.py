"""PyTorch datasets of fixed-length windows over synchronised sequences.

Both yield `{"sequence": int64 scalar, "timestamp_ns": int64 (L,), "<topic>.<field>": (L, ...)}`
for windows of `length` ticks starting every `stride` ticks of the grid (a `rate_hz` grid or
a `reference` topic's timestamps; record or header time), per sequence.
`WindowDataset` (map-style) synchronises up front; `StreamDataset` (iterable) streams, each
DataLoader worker opening its own sources and computing a disjoint share of the windows.
Requires the `ml` extra (torch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa

from mosaico.extras import missing_extra

try:
    import torch
    from torch.utils.data import Dataset, IterableDataset, get_worker_info
except ModuleNotFoundError as exc:
    raise missing_extra("ml", exc.name or "torch") from exc

from mosaico.ml.cursor import TimestampSource, keys_of
from mosaico.ml.errors import MLInputError, WindowIndexError
from mosaico.ml.policy import Stream
from mosaico.ml.source import TopicSource
from mosaico.ml.sync import Synchronizer, last_before_header
from mosaico.ml.tensors import pick_columns, to_arrays

Sources = Mapping[str, TopicSource]
Opener = Callable[[], Sources]
"""Opens one sequence's sources; called inside each worker, so it should connect afresh."""

Item = dict[str, torch.Tensor]


def _check_window(length: int, stride: int) -> None:
    if not isinstance(length, int) or length <= 0:
        raise MLInputError(f"length must be an integer > 0, got {length!r}")
    if not isinstance(stride, int) or stride <= 0:
        raise MLInputError(f"stride must be an integer > 0, got {stride!r}")


class _Grid:
    """A sequence's ticks, numbered from 0: a rate grid's origin and count, or the
    reference topic's keys (read once: a worker needs the tick times to cut its units)."""

    def __init__(self, sync: Synchronizer) -> None:
        self._sync = sync
        self.origin: int | None = None
        self._keys: np.ndarray | None = None
        self.size = 0
        if sync.reference is not None:
            source = sync.sources[sync.reference]
            keys = [keys_of(b, sync.timestamp)[0] for b in source.batches(None, None)]
            self._keys = np.concatenate(keys) if keys else np.empty(0, np.int64)
            self.size = len(self._keys)
            return
        assert sync.rate_hz is not None
        lasts = [_last_key(sync, sync.sources[p.stream.topic]) for p in sync.plans]
        seen = [k for k in lasts if k is not None]
        origin = sync.origin(None)
        if origin is None or not seen:
            return
        last = max(seen)
        k = math.floor((last - origin) * sync.rate_hz / 1e9)
        # Ticks are rounded per tick: settle the edge with the exact tick times.
        while int(sync.tick(origin, np.array([k + 1]))[0]) <= last:
            k += 1
        while k >= 0 and int(sync.tick(origin, np.array([k]))[0]) > last:
            k -= 1
        self.origin, self.size = origin, k + 1

    def at(self, k: int) -> int:
        if self._keys is not None:
            return int(self._keys[k])
        assert self.origin is not None
        return int(self._sync.tick(self.origin, np.array([k]))[0])

    def skip(self, k: int) -> int:
        """Ticks before `k` at the same time (a reference topic can repeat a timestamp)."""
        if self._keys is None:
            return 0
        return k - int(np.searchsorted(self._keys, self._keys[k], "left"))


def _last_key(sync: Synchronizer, source: TopicSource) -> int | None:
    if sync.timestamp == "record":
        bounds = source.bounds()
        return None if bounds is None else bounds[1]
    found = last_before_header(source, np.iinfo(np.int64).max)
    return None if found is None else int(keys_of(found[0], "header")[0][0])


def _item(seq: int, arrays: Mapping[str, np.ndarray], lo: int, length: int) -> Item:
    item = {"sequence": torch.tensor(seq, dtype=torch.int64)}
    for name, arr in arrays.items():
        # A copy: a caller writing into its window must not change the dataset.
        item[name] = torch.from_numpy(arr[lo : lo + length].copy())
    return item


class WindowDataset(Dataset[Item]):
    """Map-style windows over sequences synchronised once, at construction."""

    def __init__(
        self,
        sequences: Sequence[Sources],
        streams: Sequence[Stream | str],
        *,
        rate_hz: float | None = None,
        reference: str | None = None,
        timestamp: TimestampSource = "record",
        length: int,
        stride: int = 1,
        columns: Sequence[str] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        _check_window(length, stride)
        np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        self.length = length
        self._arrays: list[dict[str, np.ndarray]] = []
        self._starts: list[int] = [0]
        self.columns: list[str] = []
        for sources in sequences:
            sync = Synchronizer(
                sources,
                streams,
                rate_hz=rate_hz,
                reference=reference,
                timestamp=timestamp,
                fixed_lists="arrays",
            )
            tables = list(sync.run())
            table = pa.concat_tables(tables) if tables else sync.schema.empty_table()
            self.columns = pick_columns(sync.schema, columns)
            arrays = to_arrays(table, self.columns, np_dtype)
            n_windows = max(0, (table.num_rows - length) // stride + 1)
            self._arrays.append(arrays)
            self._starts.append(self._starts[-1] + n_windows)
        self.stride = stride

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, index: int) -> Item:
        if not -len(self) <= index < len(self):
            raise WindowIndexError(f"window {index} out of range for {len(self)} windows")
        index %= len(self)
        seq = int(np.searchsorted(self._starts, index, "right")) - 1
        lo = (index - self._starts[seq]) * self.stride
        return _item(seq, self._arrays[seq], lo, self.length)


class StreamDataset(IterableDataset[Item]):
    """Iterable windows streamed from the sources, split across DataLoader workers.

    Each sequence's windows are cut into units of `windows_per_unit`; units go round-robin
    to workers. A unit is synchronised on its own, seeded with each stream's last sample
    before it, so the union over workers is exactly `WindowDataset`'s windows, in order
    within a unit, with no overlap and no loss. With a reference grid each worker reads the
    reference topic's timestamps once per sequence, to number the ticks.

    Openers that connect to a server should run in workers started with
    `multiprocessing_context="spawn"` (or "forkserver") when the parent process already
    holds a gRPC connection or an embedded server: gRPC does not survive `fork`.
    """

    def __init__(
        self,
        openers: Sequence[Opener],
        streams: Sequence[Stream | str],
        *,
        rate_hz: float | None = None,
        reference: str | None = None,
        timestamp: TimestampSource = "record",
        length: int,
        stride: int = 1,
        windows_per_unit: int = 256,
        columns: Sequence[str] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        _check_window(length, stride)
        if not isinstance(windows_per_unit, int) or windows_per_unit <= 0:
            raise MLInputError(f"windows_per_unit must be an integer > 0, got {windows_per_unit!r}")
        self.openers = list(openers)
        self.streams = list(streams)
        self.rate_hz = rate_hz
        self.reference = reference
        self.timestamp: TimestampSource = timestamp
        self.length = length
        self.stride = stride
        self.windows_per_unit = windows_per_unit
        self.columns = None if columns is None else list(columns)
        self.dtype = dtype

    def __iter__(self) -> Iterator[Item]:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        np_dtype = torch.empty(0, dtype=self.dtype).numpy().dtype
        unit = 0
        for seq, opener in enumerate(self.openers):
            sync = Synchronizer(
                opener(),
                self.streams,
                rate_hz=self.rate_hz,
                reference=self.reference,
                timestamp=self.timestamp,
                fixed_lists="arrays",
            )
            columns = pick_columns(sync.schema, self.columns)
            grid = _Grid(sync)
            n_windows = max(0, (grid.size - self.length) // self.stride + 1)
            for w_lo in range(0, n_windows, self.windows_per_unit):
                mine = unit % workers == worker
                unit += 1
                if not mine:
                    continue
                w_hi = min(w_lo + self.windows_per_unit, n_windows)
                k0 = w_lo * self.stride
                k1 = (w_hi - 1) * self.stride + self.length
                tables = list(
                    sync.run(
                        start_ns=grid.at(k0),
                        end_ns=grid.at(k1 - 1) + 1,
                        origin_ns=grid.origin,
                        data_ns=(None, None),
                    )
                )
                table = pa.concat_tables(tables) if tables else sync.schema.empty_table()
                table = table.slice(grid.skip(k0), k1 - k0)
                if table.num_rows != k1 - k0:
                    raise RuntimeError(
                        f"unit of sequence {seq}: {table.num_rows} ticks, want {k1 - k0}"
                    )
                arrays = to_arrays(table, columns, np_dtype)
                for w in range(w_lo, w_hi):
                    yield _item(seq, arrays, (w - w_lo) * self.stride, self.length)
