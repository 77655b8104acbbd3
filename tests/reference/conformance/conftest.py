"""The reference client ``mosaicolabs==0.7.0`` against ``mosaico serve`` started as a user does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mosaicolabs import MosaicoClient

from mosaico.server.launch import serve_process


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    store = tmp_path_factory.mktemp("conformance-store")
    with serve_process(store, log=store.parent / "serve.log") as (_, port):
        yield port, store


@pytest.fixture(scope="session")
def client(served: tuple[int, Path]) -> Iterator[MosaicoClient]:
    with MosaicoClient.connect("127.0.0.1", served[0], timeout=10) as connected:
        yield connected
