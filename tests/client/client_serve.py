"""``mosaico serve`` as a child process, started the way a user starts it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

_current: list[subprocess.Popen[bytes]] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(store: Path, port: int) -> list[str]:
    script = Path(sys.executable).with_name("mosaico")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "mosaico"]
    return [*launcher, "serve", "--store", str(store), "--port", str(port)]


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
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


@contextlib.contextmanager
def served(store: Path) -> Iterator[int]:
    """Run ``mosaico serve`` over ``store``; yields its port; stops it at exit."""
    port = free_port()
    log = (store.parent / f"serve-{port}.log").open("wb")
    process = subprocess.Popen(
        _command(store, port), stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
    )
    _current.append(process)
    try:
        _wait_listening(port, process)
        yield port
    finally:
        _current.remove(process)
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)
        log.close()


def kill_server() -> None:
    """Crash the innermost served process (SIGKILL: no graceful shutdown)."""
    process = _current[-1]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
