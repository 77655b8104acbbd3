"""``mosaico serve`` as a child process, started the way a user starts it."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.backends import Backend

_current: list[subprocess.Popen[bytes]] = []


@contextlib.contextmanager
def served(backend: Backend, store: Path) -> Iterator[int]:
    """Run ``mosaico serve`` over ``store`` on ``backend``; yields its port; stops it at
    exit."""
    log_path = store.parent / f"serve-{store.name}.log"
    with backend.serve(store, log=log_path) as (process, port):
        _current.append(process)
        try:
            yield port
        finally:
            _current.remove(process)


def kill_server() -> None:
    """Crash the innermost served process (SIGKILL: no graceful shutdown)."""
    process = _current[-1]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
