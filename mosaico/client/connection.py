"""One Flight channel to a platform server: typed actions, catalogue calls, data streams.

All calls go through one ``pyarrow.flight.FlightClient`` (spec §2.1); gRPC multiplexes them, so
control calls stay responsive while uploads stream on other threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from mosaico.client.errors import Unavailable
from mosaico.errors import InputError
from mosaico.protocol.actions import InfoRequest, PagedRequest, SingleRequest, encode_request
from mosaico.protocol.commands import ResourceCommand
from mosaico.protocol.envelope import decode_envelope, decode_paged
from mosaico.protocol.errors import ProtocolError, from_flight_error
from mosaico.protocol.info import ServerInfo
from mosaico.protocol.permissions import API_KEY_HEADER

_RETRY_S = 0.025  # connect polls `info` at this period (spec §2.2)
_COMPRESSION = {"gzip": 2, "stream_gzip": 3}


def translate(exc: BaseException) -> ProtocolError:
    """A Flight client exception as the shared protocol error (spec §12).

    Unreachable and timed-out calls become `Unavailable` (pyarrow's "Detail:" tail cut);
    everything else is classified by `from_flight_error` from its message prefix.
    """
    if isinstance(exc, (flight.FlightUnavailableError, flight.FlightTimedOutError)):
        return Unavailable(str(exc).split(". Detail:", 1)[0])
    return from_flight_error(exc)


@contextmanager
def translated() -> Iterator[None]:
    """Run a block of Flight calls, re-raising Arrow and OS errors as `ProtocolError`s.

    Protocol errors already raised inside pass through unchanged; the original exception
    is kept as ``__cause__``.
    """
    try:
        yield
    except ProtocolError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise translate(exc) from exc


def compression_options(compression: str | None) -> list[tuple[str, Any]]:
    """The gRPC channel options of a compression name (spec §2.5); ``[]`` for None.

    Raises:
        InputError: ``compression`` is neither ``"gzip"`` nor ``"stream_gzip"``.
    """
    if compression is None:
        return []
    if compression not in _COMPRESSION:
        raise InputError(f"compression {compression!r} is not one of {list(_COMPRESSION)}")
    return [
        ("grpc.default_compression_algorithm", _COMPRESSION[compression]),
        ("grpc.compression_enabled", 1),
    ]


class Connection:
    """A connected channel to ``location`` (``grpc+tcp://host:port`` or ``grpc+tls://...``);
    ``info`` is fetched at construction and cached (spec §2.2).

    Every call carries the API key header in ``options`` and raises `ProtocolError`s only
    (through `translated`). Thread-safe: writers, handlers and queries share one.

    Raises:
        Unavailable: no ``info`` reply within ``timeout`` seconds.
    """

    def __init__(
        self,
        location: str,
        *,
        timeout: float = 5.0,
        tls_root_certs: bytes | None = None,
        api_key: str | None = None,
        grpc_options: list[tuple[str, Any]] | None = None,
    ) -> None:
        self.location = location
        self._flight = flight.FlightClient(
            location, tls_root_certs=tls_root_certs, generic_options=grpc_options or None
        )
        headers = [(API_KEY_HEADER.encode(), api_key.encode("utf-8"))] if api_key else []
        self.options = flight.FlightCallOptions(headers=headers)
        self.info = self._handshake(timeout)

    def _handshake(self, timeout: float) -> ServerInfo:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return ServerInfo.from_json(self.action(InfoRequest()))
            except (ProtocolError, pa.ArrowException, OSError) as exc:
                if time.monotonic() >= deadline:
                    self._flight.close()
                    raise Unavailable(
                        f"cannot connect to {self.location} within {timeout}s: {exc}"
                    ) from exc
                time.sleep(_RETRY_S)

    def close(self) -> None:
        """Close the Flight client; calls made afterwards fail."""
        self._flight.close()

    # -- control plane -------------------------------------------------------------------

    def action(self, request: SingleRequest) -> Any:
        """Run one single-document action; returns its payload (None for "no payload").

        Raises:
            ProtocolError: the server's error, by kind (`NotFound`, `AlreadyExists`, ...).
        """
        name, body = encode_request(request)
        with translated():
            return decode_envelope(name, self._results(name, body))

    def paged_action(self, request: PagedRequest) -> list[Any]:
        """Run a paged action (the temporal filters): the payload of every result."""
        name, body = encode_request(request)
        with translated():
            return decode_paged(name, self._results(name, body))

    def _results(self, name: str, body: bytes) -> Iterator[bytes]:
        for result in self._flight.do_action(flight.Action(name, body), self.options):
            yield result.body.to_pybytes()

    # -- catalogue -----------------------------------------------------------------------

    def flight_info(self, command: ResourceCommand) -> flight.FlightInfo:
        """``GetFlightInfo``: the catalogue entry of a sequence or a topic (spec §7.1),
        with one endpoint and ticket per topic, read in the command's window."""
        descriptor = flight.FlightDescriptor.for_command(command.to_bytes())
        with translated():
            return self._flight.get_flight_info(descriptor, self.options)

    def schema(self, command: ResourceCommand) -> pa.Schema:
        """``GetSchema``: a topic's Arrow schema, ``timestamp_ns`` first (spec §7.6)."""
        descriptor = flight.FlightDescriptor.for_command(command.to_bytes())
        with translated():
            return self._flight.get_schema(descriptor, self.options).schema

    def list_flights(self, criteria: bytes = b"") -> list[flight.FlightInfo]:
        """``ListFlights``: one entry per sequence (spec §7.9); ``criteria`` as in
        `mosaico.protocol.listing`."""
        with translated():
            return list(self._flight.list_flights(criteria, self.options))

    # -- data plane ----------------------------------------------------------------------

    def do_get(self, ticket: bytes) -> flight.FlightStreamReader:
        """``DoGet``: the reader of one endpoint's rows, in timestamp order (spec §7.8)."""
        with translated():
            return self._flight.do_get(flight.Ticket(ticket), self.options)

    def do_put(
        self, command: bytes, schema: pa.Schema
    ) -> tuple[flight.FlightStreamWriter, flight.FlightMetadataReader]:
        """``DoPut``: open the upload stream of one topic (spec §6); ``command`` is the
        encoded ``UploadCommand``, ``schema`` the topic's."""
        descriptor = flight.FlightDescriptor.for_command(command)
        with translated():
            return self._flight.do_put(descriptor, schema, self.options)  # type: ignore[no-any-return]
