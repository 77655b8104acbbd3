"""The ML module over the real client and an embedded server (`MosaicoClient.local`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pytest
import torch
from torch.utils.data import DataLoader

from mosaico.client import MosaicoClient
from mosaico.ml import Hold, Interpolate, MLInputError, Stream, TableSource, synchronize, to_arrow
from mosaico.ml.client_source import SequenceOpener, sequence_sources
from mosaico.ml.datasets import StreamDataset, WindowDataset
from mosaico.types.scalars import Floating64
from mosaico.types.sensors import IMU
from tests.backends import Backend
from tests.ml.ml_helpers import RecordingSource, imu_source, scalar_source

STREAMS = [Stream("/imu", Interpolate()), Stream("/baro", Hold())]


def _local(seed: int) -> dict[str, TableSource]:
    rng = np.random.default_rng(seed)
    imu_ts = np.sort(rng.choice(100_000, 300, replace=False)).tolist()
    baro_ts = np.sort(rng.choice(100_000, 40, replace=False)).tolist()
    return {
        "/imu": imu_source("/imu", imu_ts, seed=seed),
        "/baro": scalar_source("/baro", baro_ts, rng.normal(size=40).tolist()),
    }


@pytest.fixture(scope="module")
def server(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[MosaicoClient, dict[str, dict[str, TableSource]]]]:
    client = backend.client(Path(tmp_path_factory.mktemp("store")))
    local = {f"run-{s}": _local(s) for s in (1, 2)}
    for name, sources in local.items():
        with client.sequence_create(name, {}) as seq:
            seq.topic_create("/imu", {}, IMU).push_batch(sources["/imu"].table)
            seq.topic_create("/baro", {}, Floating64).push_batch(sources["/baro"].table)
    yield client, local
    client.close()


def test_flatten_and_sync_read_the_same_through_the_client(server) -> None:  # type: ignore[no-untyped-def]
    client, local = server
    remote = sequence_sources(client.sequence_handler("run-1"))
    assert sorted(remote) == ["/baro", "/imu"]
    windows: list[dict[str, Any]] = [{}, {"start_ns": 20_000, "end_ns": 60_000}]
    for window in windows:
        assert to_arrow(remote, **window).equals(to_arrow(local["run-1"], **window))
        kw = {"rate_hz": 1e6, **window}
        assert synchronize(remote, STREAMS, **kw).equals(synchronize(local["run-1"], STREAMS, **kw))
    with pytest.raises(MLInputError, match="has no topic '/gps'"):
        sequence_sources(client.sequence_handler("run-1"), ["gps"])


def test_stream_dataset_workers_each_connect(server) -> None:  # type: ignore[no-untyped-def]
    client, local = server
    where = urlparse(client.location)
    openers = [SequenceOpener(where.hostname, where.port, name) for name in local]
    mapped = WindowDataset(list(local.values()), STREAMS, rate_hz=1e6, length=6, stride=4)
    expected = {
        (int(mapped[i]["sequence"]), int(mapped[i]["timestamp_ns"][0])): mapped[i]
        for i in range(len(mapped))
    }
    streamed = StreamDataset(openers, STREAMS, rate_hz=1e6, length=6, stride=4, windows_per_unit=5)
    seen = []
    # gRPC does not survive fork: workers start fresh and connect on their own.
    loader = DataLoader(streamed, batch_size=8, num_workers=2, multiprocessing_context="spawn")
    for batch in loader:
        for i in range(len(batch["sequence"])):
            item = {k: v[i] for k, v in batch.items()}
            key = (int(item["sequence"]), int(item["timestamp_ns"][0]))
            seen.append(key)
            want = expected[key]
            assert all(
                torch.equal(
                    torch.nan_to_num(item[k], nan=-7.0), torch.nan_to_num(want[k], nan=-7.0)
                )
                for k in want
            )
    assert len(seen) == len(set(seen)) == len(expected)
    # In one process, openers of one server share a connection across sequences.
    a, b = (o() for o in openers)
    assert a["/imu"]._handler._conn is b["/baro"]._handler._conn  # type: ignore[attr-defined]
    with pytest.raises(MLInputError, match="unknown sequence 'nope'"):
        SequenceOpener(where.hostname, where.port, "nope")()


def test_empty_window_through_the_client(server) -> None:  # type: ignore[no-untyped-def]
    client, local = server
    remote = sequence_sources(client.sequence_handler("run-2"), ["/baro"])
    empty = to_arrow(remote, start_ns=10**12)
    assert empty.num_rows == 0
    assert empty.schema == to_arrow(local["run-2"], topics=["/baro"]).schema
    assert isinstance(empty, pa.Table)


def test_flatten_reads_only_the_fields_asked_through_the_client(server) -> None:  # type: ignore[no-untyped-def]
    client, local = server
    remote = sequence_sources(client.sequence_handler("run-1"))
    fields = {"/imu": ["angular_velocity.z"], "/baro": []}
    got = to_arrow(remote, fields=fields)
    assert got.equals(to_arrow(local["run-1"], fields=fields))
    assert got.column_names == ["timestamp_ns", "/imu.angular_velocity.z"]
    # Each topic's fields went to the server with its read (HandlerSource -> DoGet ticket).
    recorded = {name: RecordingSource(source) for name, source in remote.items()}
    to_arrow(recorded, fields=fields)
    asked = [(n, None if f is None else list(f)) for n, s in recorded.items() for f in s.asked]
    assert sorted(asked) == [("/baro", []), ("/imu", ["angular_velocity.z"])]
