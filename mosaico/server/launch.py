"""`mosaico serve` as a child process: for tests, benchmarks and multi-process users."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mosaico.errors import StateError

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def serve_command(store: str | Path, port: int, *extra: str) -> list[str]:
    """The command line of `mosaico serve`, run by this interpreter.

    ``python -m mosaico`` rather than the ``mosaico`` script beside the interpreter: that
    script is whichever package installed it last, which need not be us.
    """
    return [sys.executable, "-m", "mosaico", "serve", "--store", str(store), "--port",
            str(port), *extra]  # fmt: skip


def _tail(log: Path | None, lines: int = 30) -> str:
    """The last lines of a server log, to say why a server did not come up."""
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n" + "\n".join(text) if text else ""


def wait_listening(
    port: int,
    process: subprocess.Popen[bytes],
    timeout: float = 30.0,
    host: str = LOOPBACK,
    log: Path | None = None,
) -> None:
    """Return once the server accepts connections; fail if it exits or takes too long.

    The error quotes the end of ``log`` (the server's output), where the reason is.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StateError(f"mosaico serve exited with {process.returncode}{_tail(log)}")
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise StateError(
        f"mosaico serve did not listen on {host}:{port} within {timeout}s{_tail(log)}"
    )


@contextmanager
def serve_process(
    store: str | Path, *extra: str, port: int | None = None, log: Path | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Run `mosaico serve` over `store` until the block ends; yields (process, port).

    The server's output goes to ``log`` (default: a temporary file, removed afterwards);
    if the server does not come up, the error quotes its end.
    """
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="mosaico-serve-") as scratch:
        log = log or Path(scratch) / "serve.log"
        with log.open("ab") as sink:
            process = subprocess.Popen(
                serve_command(store, port, *extra), stdout=sink, stderr=subprocess.STDOUT
            )
        try:
            wait_listening(port, process, log=log)
            yield process, port
        finally:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=30)
