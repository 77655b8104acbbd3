"""`mosaico serve` as a child process: for tests, benchmarks and multi-process users."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from mosaico.errors import StateError

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def serve_command(store: str | Path, port: int, *extra: str) -> list[str]:
    """The command line a user types, with this interpreter's `mosaico` script."""
    script = Path(sys.executable).with_name("mosaico")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "mosaico"]
    return [*launcher, "serve", "--store", str(store), "--port", str(port), *extra]


def wait_listening(
    port: int, process: subprocess.Popen[bytes], timeout: float = 30.0, host: str = LOOPBACK
) -> None:
    """Return once the server accepts connections; fail if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StateError(f"mosaico serve exited with {process.returncode}")
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise StateError(f"mosaico serve did not listen on {host}:{port} within {timeout}s")


@contextmanager
def serve_process(
    store: str | Path, *extra: str, port: int | None = None, output: int | IO[bytes] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Run `mosaico serve` over `store` until the block ends; yields (process, port).

    `output` receives the server's log (default: discarded).
    """
    port = port or free_port()
    sink = subprocess.DEVNULL if output is None else output
    process = subprocess.Popen(
        serve_command(store, port, *extra), stdout=sink, stderr=subprocess.STDOUT
    )
    try:
        wait_listening(port, process)
        yield process, port
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)
