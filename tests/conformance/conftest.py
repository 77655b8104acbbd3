"""The reference client ``mosaicolabs==0.7.0`` against ``mosaico serve`` started as a user does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mosaicolabs import MosaicoClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(store: Path, port: int) -> list[str]:
    script = Path(sys.executable).with_name("mosaico")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "mosaico"]
    return [*launcher, "serve", "--store", str(store), "--port", str(port)]


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosaico serve exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosaico serve did not start listening")


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    store = tmp_path_factory.mktemp("conformance-store")
    port = free_port()
    log = (store.parent / "serve.log").open("wb")
    process = subprocess.Popen(
        serve_command(store, port), stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
    )
    try:
        wait_listening(port, process)
        yield port, store
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def client(served: tuple[int, Path]) -> Iterator[MosaicoClient]:
    with MosaicoClient.connect("127.0.0.1", served[0], timeout=10) as connected:
        yield connected
