"""A real ``mosaico serve`` subprocess on loopback, with API keys, for the hostile tests.

``served`` (one per test module) yields a ``Served``: where the server listens, the API key
of each role, the store folder and the server's log. Every hostile test talks to it the way
an outside client would: over gRPC, with or without a key.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pyarrow.flight as flight
import pytest

from mosaico.protocol.permissions import API_KEY_HEADER
from mosaico.server.launch import LOOPBACK, serve_process

# role -> (key, permissions). "admin" may do everything; the others hold one permission each
# ("none" holds no permission at all: only ``info`` is open to it).
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("hostile-admin-k3y", ("read", "write", "delete")),
    "reader": ("hostile-reader-k3y", ("read",)),
    "writer": ("hostile-writer-k3y", ("write",)),
    "deleter": ("hostile-deleter-k3y", ("delete",)),
    "none": ("hostile-none-k3y", ()),
}


@attrs.frozen(repr=False)
class Served:
    """A running ``mosaico serve``: its address, the API key of every role, its store."""

    host: str
    port: int
    keys: dict[str, str]
    store: Path
    log: Path
    process: subprocess.Popen[bytes]

    def __repr__(self) -> str:
        return f"Served({self.location})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # Hypothesis prints examples with this

    @property
    def location(self) -> str:
        """The gRPC URI of the server."""
        return f"grpc://{self.host}:{self.port}"

    def client(self) -> flight.FlightClient:
        """A new raw Flight client (no key: pass ``options(role)`` to each call)."""
        return flight.FlightClient(self.location)

    def options(self, role: str | None = "admin", timeout: float | None = 30.0) -> flight.FlightCallOptions:
        """Call options carrying the key of ``role`` (``None`` role: no key header)."""
        headers = [] if role is None else [(API_KEY_HEADER.encode(), self.keys[role].encode())]
        return flight.FlightCallOptions(headers=headers, timeout=timeout)

    def alive(self) -> bool:
        """Whether the server process is still running."""
        return self.process.poll() is None


def _keys_file(folder: Path) -> Path:
    path = folder / "api-keys.json"
    path.write_text(json.dumps({key: list(perms) for key, perms in ROLES.values()}))
    return path


def _wait_answering(location: str, key: str, process: subprocess.Popen[bytes]) -> None:
    """Wait until ``info`` answers (listening is not enough: the store may still open)."""
    options = flight.FlightCallOptions(headers=[(API_KEY_HEADER.encode(), key.encode())], timeout=5)
    deadline = time.monotonic() + 30
    with flight.FlightClient(location) as client:
        while True:
            assert process.poll() is None, "mosaico serve exited while starting"
            try:
                list(client.do_action(flight.Action("info", b"{}"), options))
                return
            except flight.FlightUnavailableError:
                assert time.monotonic() < deadline, "mosaico serve did not answer info in 30 s"
                time.sleep(0.05)


@contextlib.contextmanager
def serve_hostile(folder: Path, *extra: str) -> Iterator[Served]:
    """Run ``mosaico serve`` over ``folder/store`` with the keys of ``ROLES`` until the block
    ends; ``extra`` are more ``serve`` options."""
    folder.mkdir(parents=True, exist_ok=True)
    store, log = folder / "store", folder / "serve.log"
    args = ("--api-keys-file", str(_keys_file(folder)), *extra)
    with serve_process(store, *args, log=log) as (process, port):
        _wait_answering(f"grpc://{LOOPBACK}:{port}", ROLES["admin"][0], process)
        keys = {role: key for role, (key, _) in ROLES.items()}
        yield Served(LOOPBACK, port, keys, store, log, process)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One ``mosaico serve`` per test module, with the API keys of ``ROLES``."""
    with serve_hostile(tmp_path_factory.mktemp("hostile")) as running:
        yield running


def tail(log: Path, lines: int = 40) -> str:
    """The end of a server log, for assertion messages."""
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
