"""Fixtures for server tests: a real Flight server on loopback and a raw pyarrow client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.flight as flight
import pytest

from mosaico.server import EmbeddedServer, StoreConfig
from tests.server.server_helpers import Raw, raw_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[EmbeddedServer, Raw]]:
    embedded = EmbeddedServer(str(tmp_path / "store"))
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
def small_chunks(tmp_path: Path) -> Iterator[Raw]:
    """A server rolling tiny chunks, so that every topic spans many chunk files."""
    with raw_server(tmp_path / "store", StoreConfig(chunk_bytes=4096, row_group_bytes=1024)) as raw:
        yield raw

