"""Interop fixtures: our server in-process; our client and the reference client on it."""

from __future__ import annotations

from collections.abc import Iterator

import mosaicolabs
import pytest

from mosaico.client import MosaicoClient
from mosaico.server import EmbeddedServer


@pytest.fixture(scope="session")
def interop_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    server = EmbeddedServer(str(tmp_path_factory.mktemp("interop") / "store"))
    address = server.start()
    try:
        yield address
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ours(interop_server: tuple[str, int]) -> Iterator[MosaicoClient]:
    with MosaicoClient.connect(*interop_server, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def reference(interop_server: tuple[str, int]) -> Iterator[mosaicolabs.MosaicoClient]:
    with mosaicolabs.MosaicoClient.connect(*interop_server, timeout=10) as client:
        yield client
