"""Sharding, shuffling and resuming of the datasets in one process (explicit ranks).

The same partition under a real `torch.distributed` process group is in
`test_distributed.py`; here ranks are given as arguments, as a launcher without a process
group gives them.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from mosaico.ml import MLInputError
from mosaico.ml.datasets import StreamDataset, WindowDataset
from mosaico.ml.sharding import WindowSampler, check_resume, rank_span
from tests.ml.test_datasets import LAGGED, LAGGED_STREAMS, OPENERS, RATE, STREAMS

Window = tuple[int, int, str]
"""A window as the tests compare it: sequence, first tick and a digest of its tensors."""

B = 4  # the loaders' batch size
KW: dict[str, Any] = {"rate_hz": RATE, "length": 8, "stride": 5}


def window(item: dict[str, torch.Tensor]) -> Window:
    """A window's key and the SHA-256 of every tensor's bytes, in key order."""
    digest = hashlib.sha256()
    for name in sorted(item):
        digest.update(name.encode())
        digest.update(item[name].numpy().tobytes())
    return int(item["sequence"]), int(item["timestamp_ns"][0]), digest.hexdigest()


def unbatched(batches: Iterable[dict[str, torch.Tensor]]) -> list[Window]:
    """The windows of a loader's batches, in order."""
    out = []
    for batch in batches:
        out += [window({k: v[i] for k, v in batch.items()}) for i in range(len(batch["sequence"]))]
    return out


def stream(**kw: Any) -> StreamDataset:
    """A `StreamDataset` over the three in-memory sequences."""
    return StreamDataset(OPENERS, STREAMS, **KW, **kw)


@pytest.fixture(scope="module")
def epoch() -> list[Window]:
    """The single-process epoch in sequence order: the map-style dataset's windows."""
    mapped = WindowDataset([o() for o in OPENERS], STREAMS, **KW)
    return [window(mapped[i]) for i in range(len(mapped))]


def test_the_unshuffled_stream_is_the_map_style_epoch(epoch: list[Window]) -> None:
    assert [window(w) for w in stream(windows_per_unit=7)] == epoch
    assert len(epoch) > 100


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_ranks_split_the_epoch_order(epoch: list[Window], world: int, drop_last: bool) -> None:
    whole = [window(w) for w in stream(windows_per_unit=6, shuffle=True, seed=11)]
    assert sorted(whole) == sorted(epoch) and whole != epoch
    parts = [
        [window(w) for w in stream(
            windows_per_unit=6, shuffle=True, seed=11, rank=r, world_size=world,
            drop_last=drop_last,
        )]
        for r in range(world)
    ]  # fmt: skip
    joined = list(itertools.chain(*parts))
    assert len(joined) == len(set(joined))
    if drop_last:
        # Every rank the same count; what is left out is the order's tail, fewer than `world`.
        assert {len(p) for p in parts} == {len(epoch) // world}
        assert joined == whole[: len(joined)] and len(whole) - len(joined) == len(epoch) % world
    else:
        assert joined == whole
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_shuffle_depends_on_seed_and_epoch_only(epoch: list[Window]) -> None:
    def order(seed: int, epoch_no: int) -> list[Window]:
        ds = stream(windows_per_unit=5, shuffle=True, seed=seed, rank=1, world_size=2)
        ds.set_epoch(epoch_no)
        return [window(w) for w in ds]

    first = order(3, 0)
    assert order(3, 0) == first  # a new object, the same order
    assert order(3, 1) != first and order(4, 0) != first
    # Units move, windows within a unit keep their order: a break in the epoch order only
    # comes between units.
    ds = stream(windows_per_unit=5, shuffle=True, seed=3)
    at = {w: i for i, w in enumerate(epoch)}
    places = [at[window(w)] for w in ds]
    breaks = sum(b != a + 1 for a, b in itertools.pairwise(places))
    assert 0 < breaks <= len(epoch) // 5 + len(OPENERS)
    # Each epoch is a permutation of the same windows, split between the ranks.
    for e in (0, 1, 2):
        both = []
        for r in (0, 1):
            ds = stream(windows_per_unit=5, shuffle=True, seed=3, rank=r, world_size=2)
            ds.set_epoch(e)
            both += [window(w) for w in ds]
        assert sorted(both) == sorted(epoch)


def test_window_sampler_shuffles_and_splits(epoch: list[Window]) -> None:
    mapped = WindowDataset([o() for o in OPENERS], STREAMS, **KW)
    orders = {}
    for e in (0, 1):
        parts = []
        for r in (0, 1, 2):
            sampler = WindowSampler(mapped, seed=9, rank=r, world_size=3)
            sampler.set_epoch(e)
            assert len(sampler) == len(list(sampler))
            parts.append(list(sampler))
        joined = list(itertools.chain(*parts))
        assert sorted(joined) == list(range(len(mapped)))
        orders[e] = joined
    assert orders[0] != orders[1]
    again = WindowSampler(mapped, seed=9, rank=0, world_size=3)
    assert list(again) == orders[0][: len(again)]
    even = [list(WindowSampler(mapped, rank=r, world_size=4, drop_last=True)) for r in range(4)]
    assert {len(e) for e in even} == {len(mapped) // 4}
    assert len(set(itertools.chain(*even))) == len(mapped) - len(mapped) % 4
    plain = WindowSampler(mapped, shuffle=False)
    assert [window(mapped[i]) for i in plain] == epoch


@pytest.mark.parametrize("workers", [1, 2])
def test_loader_workers_keep_the_ranks_order(workers: int) -> None:
    ds = stream(windows_per_unit=3, batch_size=B, shuffle=True, seed=2, rank=0, world_size=2)
    alone = [window(w) for w in ds]
    loader = DataLoader(ds, batch_size=B, num_workers=workers)
    assert unbatched(loader) == alone


@settings(max_examples=10, deadline=None)
@given(
    data=st.data(),
    per_unit=st.integers(1, 40),
    world=st.integers(1, 3),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
)
def test_resume_continues_exactly(
    data: st.DataObject, per_unit: int, world: int, shuffle: bool, drop_last: bool
) -> None:
    rank = data.draw(st.integers(0, world - 1))
    kw = {"windows_per_unit": per_unit, "shuffle": shuffle, "seed": 5, "rank": rank,
          "world_size": world, "drop_last": drop_last}  # fmt: skip
    full = stream(**kw)
    full.set_epoch(2)
    whole = [window(w) for w in full]
    k = data.draw(st.integers(0, len(whole)))
    first = stream(**kw)
    first.set_epoch(2)
    head = [window(w) for w in itertools.islice(first, k)]
    state = first.state_dict()
    assert state == {"epoch": 2, "consumed": k, "seed": 5, "world_size": world}
    resumed = stream(**kw)
    resumed.load_state_dict(state)
    resumed.set_epoch(2)  # a resumed loop sets the epoch again: the position stays
    assert head + [window(w) for w in resumed] == whole
    assert resumed.state_dict()["consumed"] == len(whole)


@pytest.mark.parametrize("steps", [0, 3, 1000])
def test_resume_with_loader_workers(steps: int) -> None:
    kw = {"windows_per_unit": 6, "batch_size": B, "shuffle": True, "seed": 1, "rank": 1,
          "world_size": 2}  # fmt: skip
    whole = [window(w) for w in stream(**kw)]
    first = stream(**kw)
    head = unbatched(itertools.islice(DataLoader(first, batch_size=B, num_workers=2), steps))
    state = first.state_dict(consumed=len(head))
    resumed = stream(**kw)
    resumed.load_state_dict(state)
    # Another number of workers reads the same rest: the order does not depend on it.
    rest = unbatched(DataLoader(resumed, batch_size=B, num_workers=1))
    assert head + rest == whole


def test_window_sampler_resumes_with_loader_workers() -> None:
    mapped = WindowDataset([o() for o in OPENERS], STREAMS, **KW)
    whole = unbatched(DataLoader(mapped, batch_size=B, sampler=WindowSampler(mapped, seed=4)))
    sampler = WindowSampler(mapped, seed=4)
    loader = DataLoader(mapped, batch_size=B, sampler=sampler, num_workers=2)
    head = unbatched(itertools.islice(loader, 5))
    assert sampler.state_dict()["consumed"] > len(head)  # the workers fetched ahead
    state = sampler.state_dict(consumed=len(head))
    again = WindowSampler(mapped, seed=4)
    again.load_state_dict(state)
    assert len(again) == len(mapped) - len(head)
    rest = unbatched(DataLoader(mapped, batch_size=B, sampler=again, num_workers=2))
    assert head + rest == whole
    # Without workers the sampler counts what the loader took.
    counted = WindowSampler(mapped, seed=4)
    taken = list(itertools.islice(DataLoader(mapped, batch_size=B, sampler=counted), 2))
    assert counted.state_dict()["consumed"] == len(taken) * B


def test_a_new_epoch_starts_at_its_beginning() -> None:
    ds = stream(windows_per_unit=4, shuffle=True, seed=8)
    ds.load_state_dict({"epoch": 0, "consumed": 10, "seed": 8, "world_size": 1})
    assert len(list(ds)) == len(list(stream(windows_per_unit=4))) - 10
    ds.set_epoch(1)
    assert ds.state_dict()["consumed"] == 0
    assert len(list(ds)) == len(list(stream(windows_per_unit=4)))


def test_bad_sharding_input() -> None:
    with pytest.raises(MLInputError, match="rank 2 out of range for world_size 2"):
        stream(rank=2, world_size=2)
    with pytest.raises(MLInputError, match="world_size must be an integer >= 1, got 0"):
        stream(world_size=0)
    with pytest.raises(MLInputError, match="seed must be an integer >= 0, got -1"):
        stream(seed=-1)
    with pytest.raises(MLInputError, match="batch_size must be an integer > 0 or None"):
        stream(batch_size=0)
    ds = stream(seed=1, world_size=2, rank=0)
    with pytest.raises(MLInputError, match="state lacks seed, world_size"):
        ds.load_state_dict({"epoch": 0, "consumed": 3})
    with pytest.raises(MLInputError, match="state of seed 2 cannot resume here \\(seed 1\\)"):
        ds.load_state_dict({"epoch": 0, "consumed": 3, "seed": 2, "world_size": 2})
    with pytest.raises(MLInputError, match="state of world_size 4 cannot resume here"):
        ds.load_state_dict({"epoch": 0, "consumed": 3, "seed": 1, "world_size": 4})
    with pytest.raises(MLInputError, match="consumed must be an integer >= 0, got -3"):
        ds.state_dict(consumed=-3)
    with pytest.raises(MLInputError, match="epoch must be an integer >= 0, got 1.5"):
        ds.set_epoch(1.5)  # type: ignore[arg-type]
    ds.load_state_dict({"epoch": 0, "consumed": 10_000, "seed": 1, "world_size": 2})
    with pytest.raises(
        MLInputError, match="consumed 10000 is more than the \\d+ windows of rank 0"
    ):
        list(ds)
    # Resuming with several workers needs the loader's batch size to know what they took.
    # (Checked as a function: a DataLoader whose workers raised takes torch 5 s per worker
    # to shut down.)
    with pytest.raises(MLInputError, match="after 4 windows with 2 DataLoader workers needs"):
        check_resume(4, 2, None)
    check_resume(4, 2, B)
    check_resume(4, 1, None)
    check_resume(0, 2, None)


def test_rank_spans_cover_every_window_once() -> None:
    for n, world in itertools.product(range(12), range(1, 5)):
        spans = [rank_span(n, r, world, False) for r in range(world)]
        assert [i for lo, hi in spans for i in range(lo, hi)] == list(range(n))
        even = [rank_span(n, r, world, True) for r in range(world)]
        assert [i for lo, hi in even for i in range(lo, hi)] == list(range(n - n % world))


def test_ranks_and_workers_split_a_reference_grid() -> None:
    grid: dict[str, Any] = {"reference": "/cam", "timestamp": "header", "length": 6, "stride": 4}
    mapped = WindowDataset([o() for o in LAGGED], LAGGED_STREAMS, **grid)
    epoch = sorted(window(mapped[i]) for i in range(len(mapped)))
    joined = []
    for rank in (0, 1):
        ds = StreamDataset(
            LAGGED, LAGGED_STREAMS, windows_per_unit=3, batch_size=B, shuffle=True, seed=1,
            rank=rank, world_size=2, **grid,
        )  # fmt: skip
        joined += unbatched(DataLoader(ds, batch_size=B, num_workers=2))
    assert sorted(joined) == epoch and len(epoch) > 20
