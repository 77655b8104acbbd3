"""The server in-process, on a loopback port (a free one by default), for the SDK's
embedded mode.

Owns the life cycle of one ``Store`` and its ``MosaicoFlightServer``: start, address, stop
(streaming reads told to end, the Flight server shut down and waited for, then the store
closed).
"""

from __future__ import annotations

import logging

import pyarrow as pa

from mosaico.errors import InputError, MosaicoError, StateError
from mosaico.server.access import ApiKeys
from mosaico.server.flight import MosaicoFlightServer
from mosaico.server.logs import kv
from mosaico.server.store import Store, StoreConfig

log = logging.getLogger("mosaico.server.embedded")


class ListenError(MosaicoError, OSError):
    """The embedded server cannot listen on the port asked for (in use, or not allowed)."""


class EmbeddedServer:
    """``with EmbeddedServer(path) as (host, port): ...`` or ``start()`` / ``stop()``.

    gRPC serves on its own background threads; nothing here blocks the caller. ``path`` is
    the store folder (created if missing; with ``create=False`` it must already be a store),
    or with ``catalog`` (a PostgreSQL URI or an SQLite file) any store ``Store.open`` takes;
    ``port`` is the TCP port on ``host`` (0: a free one, chosen when started); ``config``
    and ``api_keys`` are passed to the ``Store`` and the ``MosaicoFlightServer``.
    ``MosaicoClient.local`` starts one for you.

    Example:
        >>> with EmbeddedServer("/tmp/mosaico-store") as (host, port):
        ...     client = MosaicoClient.connect(host, port)
        ...     names = client.list_sequences()
        ...     client.close()
    """

    def __init__(
        self,
        path: str,
        host: str = "127.0.0.1",
        config: StoreConfig | None = None,
        api_keys: ApiKeys | None = None,
        *,
        port: int = 0,
        create: bool = True,
        catalog: str | None = None,
    ):
        if not 0 <= port <= 65535:
            raise InputError(f"port must be 0 (any free port) or 1..65535, got {port}")
        self.path = path
        self.catalog = catalog
        self.host = host
        self.port = port
        self.create = create
        self.config = config
        self.api_keys = api_keys
        self._server: MosaicoFlightServer | None = None
        self._store: Store | None = None

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the server listens on.

        Raises:
            StateError: the server is not running.
        """
        if self._server is None:
            raise StateError("embedded server is not running")
        return self.host, self._server.port

    @property
    def store(self) -> Store:
        """The served ``Store``, for in-process access (tests, benchmarks).

        Raises:
            StateError: the server is not running.
        """
        if self._store is None:
            raise StateError("embedded server is not running")
        return self._store

    def start(self) -> tuple[str, int]:
        """Open the store and serve it on ``port`` of ``host`` (0: a free port); returns
        ``(host, port)``. While running, a second call returns the same address.

        Raises:
            StoreNotFoundError: ``create`` is false and there is no store at ``path``.
            StoreError: the store folder or its catalog cannot be used.
            ListenError: the server cannot listen on ``host:port`` (e.g. the port is in use).
        """
        if self._server is not None:
            return self.address
        self._store = Store.open(self.path, self.catalog, self.config, create=self.create)
        try:
            self._server = MosaicoFlightServer(
                self._store, f"grpc://{self.host}:{self.port}", api_keys=self.api_keys
            )
        except BaseException as exc:
            self._store.close()
            self._store = None
            if isinstance(exc, pa.ArrowException):
                raise ListenError(
                    f"cannot listen on {self.host}:{self.port} ({exc}); is the port in use?"
                ) from None
            raise
        log.info(kv("embedded.start", store=self.path, port=self._server.port))
        return self.address

    def stop(self) -> None:
        """Tell streaming reads to end, shut the Flight server down and wait for it, then
        close the store. Does nothing when not running; ``start`` may be called again."""
        server, store = self._server, self._store
        self._server = self._store = None
        if store is not None:
            store.closing.set()
        if server is not None:
            server.shutdown()
            server.wait()
        if store is not None:
            store.close()
            log.info(kv("embedded.stop", store=self.path))

    def __enter__(self) -> tuple[str, int]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
