"""Fixtures: our client against real Flight servers on loopback (embedded and connected),
over each backend (``tests.backends``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mosaico.client import MosaicoClient
from mosaico.protocol.info import Limits
from mosaico.server import EmbeddedServer, StoreConfig
from tests.backends import Backend

KiB = 1024
# A server with tiny message sizes: uploads split into many batches, reads come back in many
# batches (so the merge runs many rounds), and a 60 KiB record is "oversized".
SMALL_LIMITS = Limits(
    grpc_max_decode_message_size=64 * KiB,
    grpc_max_encode_message_size=64 * KiB,
    grpc_target_encode_message_size=2 * KiB,
)


@pytest.fixture
def client(backend: Backend, tmp_path: Path) -> Iterator[MosaicoClient]:
    """The embedded default: ``MosaicoClient.local`` over a fresh folder (on ``scale``, a
    client of its own server over the scale stack)."""
    with backend.client(tmp_path / "store") as connected:
        yield connected


@pytest.fixture
def server(backend: Backend, tmp_path: Path) -> Iterator[EmbeddedServer]:
    embedded = backend.server(tmp_path / "remote-store")
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
def small(backend: Backend, tmp_path: Path) -> Iterator[MosaicoClient]:
    embedded = backend.server(
        tmp_path / "small-store",
        StoreConfig(limits=SMALL_LIMITS, chunk_bytes=8 * KiB, row_group_bytes=2 * KiB),
    )
    host, port = embedded.start()
    try:
        with MosaicoClient.connect(host, port, timeout=10) as connected:
            yield connected
    finally:
        embedded.stop()
