"""The reference client ``mosaicolabs==0.7.0`` against ``mosaico serve`` started as a user
does: one server over a folder, and the scale-out deployment (three replicas over a
PostgreSQL catalog and an S3 bucket, behind HAProxy, through ``deploy/replicas.sh``), the
client knowing only HAProxy's address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mosaicolabs import MosaicoClient

from mosaico.server.launch import serve_process
from tests.scale.replicas import replicas


@pytest.fixture(scope="session", params=["server", pytest.param("replicas", marks=pytest.mark.scale)])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """The port the reference client connects to."""
    folder = tmp_path_factory.mktemp(f"conformance-{request.param}")
    if request.param == "server":
        with serve_process(folder / "store", log=folder / "serve.log") as (_, port):
            yield port
        return
    postgres, rgw = request.getfixturevalue("postgres"), request.getfixturevalue("rgw")
    for name, value in rgw.env.items():
        request.getfixturevalue("monkeypatch_session").setenv(name, value)
    with replicas(folder, rgw.store_url(), postgres.catalog_url()) as running:
        yield running.port


@pytest.fixture(scope="session")
def monkeypatch_session() -> Iterator[pytest.MonkeyPatch]:
    """Environment changes for the whole session, undone at its end."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="session")
def client(served: int) -> Iterator[MosaicoClient]:
    with MosaicoClient.connect("127.0.0.1", served, timeout=10) as connected:
        yield connected
