"""The connection options every command that talks to a platform shares, and the client.

One set of options and environment variables, so that ``ls``, ``info``, ``cat``, ``rm``,
``query``, ``ingest`` and ``export`` reach the same servers the same way:

=================  =========================  ==========================================
option             environment variable       meaning
=================  =========================  ==========================================
``--store DIR``    ``MOSAICO_STORE``          run the platform in-process over DIR
                                              (an existing store; ``ingest`` creates one)
``--host HOST``    ``MOSAICO_HOST``           connect to a running server
``--port PORT``    ``MOSAICO_PORT``           its port (default 6726)
``--api-key KEY``  ``MOSAICO_API_KEY``        the API key the server asks for
``--tls``          ``MOSAICO_TLS``            TLS with the system's trusted roots
``--tls-cert PEM`` ``MOSAICO_TLS_CERT_FILE``  TLS, trusting this certificate (implies --tls)
``--timeout S``    ``MOSAICO_TIMEOUT``        seconds to wait for the server (default 5)
=================  =========================  ==========================================
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs
import click

from mosaico.client import MosaicoClient
from mosaico.errors import MosaicoError
from mosaico.protocol.info import DEFAULT_PORT

F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen
class PlatformTarget:
    """Where a command's client connects: an embedded store or a remote server.

    Built by `connection_options` from the options and environment variables of the
    module's table; exactly one of ``store`` and ``host`` must be set.
    """

    store: Path | None = None
    host: str | None = None
    port: int = DEFAULT_PORT
    api_key: str | None = None
    tls: bool = False
    tls_cert: Path | None = None
    timeout: float = 5.0

    def open(self, create: bool = False) -> MosaicoClient:
        """A connected client; raises click.UsageError for contradictory options.

        Args:
            create: make the ``--store`` folder's store when there is none (commands that
                write); reading commands leave it False and never create anything.

        Raises:
            click.UsageError: both or neither of ``--store`` and ``--host``.
            click.ClickException: no store at ``--store`` (and ``create`` is false).
            MosaicoError: the store cannot be opened or the server cannot be reached.
        """
        if self.store is not None and self.host is not None:
            raise click.UsageError("give either --store DIR or --host HOST, not both")
        if self.store is not None:
            from mosaico.server import StoreNotFoundError  # the server loads only for --store

            try:
                return MosaicoClient.local(self.store, timeout=self.timeout, create=create)
            except StoreNotFoundError as exc:
                raise click.ClickException(
                    f"{exc}; check --store (MOSAICO_STORE), or create a store by writing to "
                    "it (mosaico ingest, mosaico demo --store DIR, mosaico serve --store DIR)"
                ) from None
        if self.host is None:
            raise click.UsageError(
                "give --store DIR (embedded) or --host HOST (remote); "
                "MOSAICO_STORE / MOSAICO_HOST set them too"
            )
        return MosaicoClient.connect(
            self.host, self.port, timeout=self.timeout, enable_tls=self.tls,
            tls_cert_path=None if self.tls_cert is None else str(self.tls_cert),
            api_key=self.api_key,
        )  # fmt: skip


_OPTIONS = (
    click.option("--store", type=click.Path(file_okay=False, path_type=Path),
                 envvar="MOSAICO_STORE",
                 help="Store folder: run the platform in-process over it (only ingest creates "
                      "a missing store)."),
    click.option("--host", envvar="MOSAICO_HOST", help="Connect to a running server on this host."),
    click.option("--port", type=int, default=DEFAULT_PORT, show_default=True,
                 envvar="MOSAICO_PORT", help="Port of the server given by --host."),
    click.option("--api-key", envvar="MOSAICO_API_KEY", help="API key the server requires."),
    click.option("--tls", is_flag=True, envvar="MOSAICO_TLS",
                 help="Connect with TLS (system trusted roots)."),
    click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 envvar="MOSAICO_TLS_CERT_FILE",
                 help="PEM certificate to trust for TLS (implies --tls)."),
    click.option("--timeout", type=float, default=5.0, show_default=True,
                 envvar="MOSAICO_TIMEOUT", help="Seconds to wait for the server."),
)  # fmt: skip
_NAMES = ("store", "host", "port", "api_key", "tls", "tls_cert", "timeout")


def connection_options(command: F) -> F:
    """Add the connection options to a click command; it receives them as ``platform``."""

    @functools.wraps(command)
    def run(**kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _NAMES}
        values["store"] = values["store"] or None  # MOSAICO_STORE="" means unset
        return command(platform=PlatformTarget(**values), **kwargs)

    for option in reversed(_OPTIONS):
        run = option(run)
    return run  # type: ignore[return-value]


@contextmanager
def connected(platform: PlatformTarget, create: bool = False) -> Iterator[MosaicoClient]:
    """The platform's client, closed at the end; mosaico errors become clean CLI errors.

    Only commands that write pass ``create`` (see `PlatformTarget.open`).
    """
    try:
        client = platform.open(create)
    except (MosaicoError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        with client:
            yield client
    except MosaicoError as exc:
        raise click.ClickException(str(exc)) from exc


def with_client(command: Callable[..., None]) -> Callable[..., None]:
    """Add the connection options to a command that takes the connected client first.

    The command only reads: an embedded ``--store`` must already exist.
    """

    @functools.wraps(command)
    def run(platform: PlatformTarget, **kwargs: Any) -> None:
        with connected(platform) as client:
            command(client, **kwargs)

    return connection_options(run)
