"""Fixtures: our client against real Flight servers on loopback (embedded and connected)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mosaico.client import MosaicoClient
from mosaico.protocol.info import Limits
from mosaico.server import EmbeddedServer, StoreConfig

KiB = 1024
# A server with tiny message sizes: uploads split into many batches, reads come back in many
# batches (so the merge runs many rounds), and a 60 KiB record is "oversized".
SMALL_LIMITS = Limits(
    grpc_max_decode_message_size=64 * KiB,
    grpc_max_encode_message_size=64 * KiB,
    grpc_target_encode_message_size=2 * KiB,
)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[MosaicoClient]:
    """The embedded default: ``MosaicoClient.local`` over a fresh folder."""
    with MosaicoClient.local(tmp_path / "store") as connected:
        yield connected


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    embedded = EmbeddedServer(str(tmp_path / "remote-store"))
    embedded.start()
    try:
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture
def remote(server: EmbeddedServer) -> Iterator[MosaicoClient]:
    """``MosaicoClient.connect`` to a server this client does not own."""
    host, port = server.address
    with MosaicoClient.connect(host, port, timeout=10) as connected:
        yield connected


@pytest.fixture
def small(tmp_path: Path) -> Iterator[MosaicoClient]:
    embedded = EmbeddedServer(
        str(tmp_path / "small-store"),
        config=StoreConfig(limits=SMALL_LIMITS, chunk_bytes=8 * KiB, row_group_bytes=2 * KiB),
    )
    host, port = embedded.start()
    try:
        with MosaicoClient.connect(host, port, timeout=10) as connected:
            yield connected
    finally:
        embedded.stop()
