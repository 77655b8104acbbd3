"""Fixtures for server tests: a real Flight server on loopback and a raw pyarrow client,
over each backend (``tests.backends``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.flight as flight
import pytest

from mosaico.server import EmbeddedServer, StoreConfig
from tests.backends import Backend
from tests.server.server_helpers import Raw, raw_server


@pytest.fixture
def server(backend: Backend, tmp_path: Path) -> Iterator[tuple[EmbeddedServer, Raw]]:
    embedded = backend.server(tmp_path / "store")
    host, port = embedded.start()
    client = flight.FlightClient(f"grpc://{host}:{port}")
    try:
        yield embedded, Raw(client)
    finally:
        client.close()
        embedded.stop()


@pytest.fixture
def raw(server: tuple[EmbeddedServer, Raw]) -> Raw:
    return server[1]


@pytest.fixture
def small_chunks(backend: Backend, tmp_path: Path) -> Iterator[Raw]:
    """A server rolling tiny chunks, so that every topic spans many chunk files."""
    config = StoreConfig(chunk_bytes=4096, row_group_bytes=1024)
    with raw_server(backend.server(tmp_path / "store", config)) as raw:
        yield raw
