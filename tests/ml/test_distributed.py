"""Two `torch.distributed` ranks (gloo, real processes) split the datasets' epochs exactly.

Each rank builds its datasets after `init_process_group`, so rank and world size come from
the process group; it reads its shard with and without DataLoader workers, gathers every
rank's windows with `all_gather_object`, and rank 0 writes them for the test to compare
with the single-process epoch: in memory (`TableSource`) and through a server
(`SequenceOpener`, the `backend` fixture).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader

from mosaico.client import MosaicoClient
from mosaico.ml.client_source import SequenceOpener
from mosaico.ml.datasets import StreamDataset, WindowDataset
from mosaico.ml.sharding import WindowSampler
from mosaico.types.scalars import Floating64
from mosaico.types.sensors import IMU
from tests.backends import Backend
from tests.ml.test_datasets import OPENERS, STREAMS
from tests.ml.test_sharding import KW, B, Window, unbatched, window

WORLD = 2
PORTS = range(17800, 17900)  # this suite's rendezvous ports
SEED = 6

Gathered = dict[str, list[list[Window]]]
"""Per scenario, each rank's windows in the order its loader gave them."""


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


def _stream(openers: Sequence[Callable[[], Any]], **kw: Any) -> StreamDataset:
    return StreamDataset(
        openers, STREAMS, **KW, windows_per_unit=5, batch_size=B, shuffle=True, seed=SEED, **kw
    )


def _scenarios(openers: Sequence[Callable[[], Any]], context: str) -> Iterator[tuple[str, Any]]:
    """Each scenario's name and loader, built in a rank."""
    mp_context = multiprocessing.get_context(context)
    if context == "forkserver":
        # Workers fork from a server that has imported the datasets once.
        mp_context.set_forkserver_preload(["mosaico.ml.datasets", "mosaico.ml.client_source"])
    for workers in (0, 2):
        ds = _stream(openers)
        ds.set_epoch(1)
        yield (
            f"stream-{workers}",
            DataLoader(
                ds,
                batch_size=B,
                num_workers=workers,
                multiprocessing_context=mp_context if workers else None,
            ),
        )
    even = _stream(openers, drop_last=True)
    yield "stream-even", DataLoader(even, batch_size=B)
    mapped = WindowDataset([o() for o in openers], STREAMS, **KW)
    sampler = WindowSampler(mapped, seed=SEED)
    sampler.set_epoch(1)
    yield "window", DataLoader(mapped, batch_size=B, sampler=sampler)


def _resumed(openers: Sequence[Callable[[], Any]]) -> list[Window]:
    """Epoch 1 read for 3 batches, checkpointed, and finished by a new dataset."""
    first = _stream(openers)
    first.set_epoch(1)
    head = unbatched(itertools.islice(DataLoader(first, batch_size=B), 3))
    state = first.state_dict()  # counted in this process: the loader has no workers
    second = _stream(openers)
    second.load_state_dict(state)
    second.set_epoch(1)
    return head + unbatched(DataLoader(second, batch_size=B))


def _rank(
    rank: int, port: int, openers: Sequence[Callable[[], Any]], context: str, out: str
) -> None:
    """One rank: join the group, read every scenario's shard, gather them on rank 0."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        mine = {name: unbatched(loader) for name, loader in _scenarios(openers, context)}
        mine["stream-resumed"] = _resumed(openers)
        gathered: list[dict[str, list[Window]] | None] = [None] * WORLD
        dist.all_gather_object(gathered, mine)
        if rank == 0:
            result = {name: [g[name] for g in gathered if g is not None] for name in mine}
            Path(out).write_bytes(pickle.dumps(result))
    finally:
        dist.destroy_process_group()


def _run_ranks(openers: Sequence[Callable[[], Any]], context: str, tmp_path: Path) -> Gathered:
    out = tmp_path / "gathered.pickle"
    mp.spawn(_rank, args=(_free_port(), list(openers), context, str(out)), nprocs=WORLD)
    result: Gathered = pickle.loads(out.read_bytes())
    return result


def _check(gathered: Gathered, openers: Sequence[Callable[[], Any]]) -> None:
    """Every scenario's ranks together read the single-process epoch, once each."""
    mapped = WindowDataset([o() for o in openers], STREAMS, **KW)
    epoch = sorted(window(mapped[i]) for i in range(len(mapped)))
    for name, ranks in gathered.items():
        joined = list(itertools.chain(*ranks))
        assert len(joined) == len(set(joined)), name
        if name == "stream-even":
            assert len(ranks[0]) == len(ranks[1]) == len(epoch) // WORLD
            assert set(joined) <= set(epoch) and len(epoch) - len(joined) == len(epoch) % WORLD
        else:
            assert sorted(joined) == epoch, name
    # The process group's rank is the explicit one; workers do not change a rank's order.
    for rank in range(WORLD):
        ds = _stream(openers, rank=rank, world_size=WORLD)
        ds.set_epoch(1)
        alone = [window(w) for w in ds]
        assert gathered["stream-0"][rank] == gathered["stream-2"][rank] == alone
        assert gathered["stream-resumed"][rank] == alone
        sampler = WindowSampler(mapped, seed=SEED, rank=rank, world_size=WORLD)
        sampler.set_epoch(1)
        assert gathered["window"][rank] == [window(mapped[i]) for i in sampler]


def test_two_ranks_split_in_memory_sequences(tmp_path: Path) -> None:
    gathered = _run_ranks(OPENERS, "fork", tmp_path)
    _check(gathered, OPENERS)


@pytest.fixture(scope="module")
def served(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[SequenceOpener]]:
    """The in-memory sequences written to a server; openers that reach them over TCP."""
    client: MosaicoClient = backend.client(tmp_path_factory.mktemp("store"))
    for i, opener in enumerate(OPENERS):
        sources = opener()
        with client.sequence_create(f"dist-{i}", {}) as seq:
            seq.topic_create("/imu", {}, IMU).push_batch(sources["/imu"].table)  # type: ignore[attr-defined]
            seq.topic_create("/baro", {}, Floating64).push_batch(sources["/baro"].table)  # type: ignore[attr-defined]
    where = urlparse(client.location)
    assert where.hostname is not None and where.port is not None
    yield [SequenceOpener(where.hostname, where.port, f"dist-{i}") for i in range(len(OPENERS))]
    client.close()


def test_two_ranks_split_sequences_read_from_a_server(
    served: list[SequenceOpener], tmp_path: Path
) -> None:
    # gRPC does not survive fork: the ranks' loader workers come from a fresh process.
    gathered = _run_ranks(served, "forkserver", tmp_path)
    _check(gathered, OPENERS)
