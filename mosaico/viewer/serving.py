"""Serving the viewer's app with uvicorn on a socket the caller bound: in the foreground
(``mosaico ui``) or on a background thread (tests, benchmarks, notebooks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["background", "server_for"]


def server_for(app: Any) -> Any:
    """A quiet uvicorn server for ``app`` (warnings only, no access log)."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))


@contextmanager
def background(app: Any, sock: socket.socket, timeout: float = 10.0) -> Iterator[str]:
    """Serve ``app`` on the bound ``sock`` from a daemon thread until the block ends;
    yields the base URL (``http://host:port``).

    Raises:
        RuntimeError: the server does not start within ``timeout`` seconds.
    """
    server = server_for(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the viewer's server did not start")
        time.sleep(0.01)
    host, port = sock.getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
