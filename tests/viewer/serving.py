"""The viewer served for tests: real uvicorn in a thread on a loopback port of the viewer
tests' range (18400-18499), and plain urllib requests to it."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mosaico.client import MosaicoClient
from mosaico.viewer.app import create_app
from mosaico.viewer.serving import background

PORTS = range(18400, 18500)


def bind() -> socket.socket:
    """A loopback socket bound to a free port of the helper's range."""
    for port in PORTS:
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
            return sock
        except OSError:
            sock.close()
    raise RuntimeError(f"no free port in {PORTS}")


def free_port() -> int:
    with bind() as sock:
        return int(sock.getsockname()[1])


@contextmanager
def served(client: MosaicoClient) -> Iterator[str]:
    """The app over ``client`` served in a thread; yields its base URL."""
    with bind() as sock, background(create_app(client), sock) as url:
        yield url


def get(url: str) -> tuple[int, str, bytes]:
    """Status, content type and body of a GET (error statuses included)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.headers["content-type"], reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["content-type"], err.read()


def get_json(url: str) -> Any:
    status, kind, body = get(url)
    assert (status, kind) == (200, "application/json"), body
    return json.loads(body)


