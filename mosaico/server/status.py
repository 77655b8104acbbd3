"""The one place where anything raised while serving a call becomes the status a client sees.

Every Flight handler runs inside ``translated`` (and every streamed reply inside
``translated_stream``), which turns the exception into a protocol error (spec §12) with a
message of at most ``MAX_MESSAGE_BYTES`` and never a server path:

- a ``ProtocolError`` keeps its kind and its message, cut to the bound;
- a Flight error raised on purpose (``PERMISSION_DENIED`` from the key check) passes as is;
- a full disk (``ENOSPC``, SQLite's "database or disk is full") is ``UNAVAILABLE``;
- any other storage fault is ``INTERNAL`` "storage failure" with the OS reason but no file
  name, and any other exception ``INTERNAL`` naming only its type: the details (input,
  paths, traceback) go to the server log, never to the client.

pyarrow appends the Python traceback of the raising frame to the ``INVALID_ARGUMENT`` and
``NOT_FOUND`` statuses it sends (spec §12.2) and offers no way to turn that off; the raising
frames here are therefore named after their module instead of their file, so that what
reaches the client is one pyarrow frame and one frame of ``<mosaico>``, without paths or
source lines. The message appears twice in such a reply (as the status and at the end of
the traceback), which the bound keeps under 1 KiB.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pyarrow.flight as flight

from mosaico.protocol.errors import Internal, ProtocolError, Unavailable, to_flight_error
from mosaico.server.disk_space import disk_full_reason
from mosaico.server.logs import kv

log = logging.getLogger("mosaico.server.flight")

MAX_MESSAGE_BYTES = 320
"""Longest status message sent, in UTF-8 bytes; longer ones are cut and say so."""

FRAME_NAME = "<mosaico>"
"""The file name of the frames that raise statuses: a name, not a path."""

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def bounded(text: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes, ending with how much was left out; lone
    surrogates become ``?`` (a status message must be valid UTF-8).

    >>> bounded("x" * 1000, 40)
    'xxxxxxxx... (992 more bytes)'
    """
    raw = text.encode("utf-8", "replace")
    if len(raw) <= limit:
        return raw.decode("utf-8")
    keep = raw[: max(0, limit - 32)].decode("utf-8", "ignore")  # 32: room for the note
    return f"{keep}... ({len(raw) - len(keep.encode())} more bytes)"


def protocol_error(exc: BaseException, rpc: str) -> ProtocolError:
    """The protocol error a client is told for ``exc``, raised while serving ``rpc``;
    faults are logged here with their traceback."""
    if isinstance(exc, ProtocolError):
        log.info(kv("rpc.error", rpc=rpc, code=exc.code, error=bounded(str(exc), 2000)))
        return _canonical(exc)(bounded(exc.detail))
    if (reason := disk_full_reason(exc)) is not None:
        log.error(kv("rpc.full", rpc=rpc, error=exc))
        return Unavailable(f"the store is out of disk space ({reason}); free some and retry")
    if isinstance(exc, (OSError, sqlite3.Error)):
        log.exception(kv("rpc.fault", rpc=rpc, error=exc))
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return Internal(f"storage failure ({reason})")
    log.exception(kv("rpc.bug", rpc=rpc, error=exc))
    return Internal(f"unexpected server error ({type(exc).__name__}); see the server log")


def _canonical(exc: ProtocolError) -> type[ProtocolError]:
    """The protocol's own kind of ``exc`` (``Unavailable`` for a server's ``OutOfSpace``),
    whose constructor takes the detail alone."""
    return next(
        kind for kind in type(exc).__mro__
        if issubclass(kind, ProtocolError) and kind.__module__ == ProtocolError.__module__
    )  # fmt: skip


def flight_status(exc: BaseException, rpc: str) -> BaseException:
    """The exception a handler raises for ``exc`` so the client gets the right status."""
    if isinstance(exc, flight.FlightError):
        return exc  # raised on purpose with its status (PERMISSION_DENIED) and a short text
    try:
        return to_flight_error(protocol_error(exc, rpc))
    except Exception:  # never let the translation itself fail into UNKNOWN
        log.exception(kv("rpc.translation", rpc=rpc))
        return to_flight_error(Internal("unexpected server error; see the server log"))


def _named_after_module(function: F) -> F:
    """Name ``function``'s frames after its module, not its file (see the module doc)."""
    function.__code__ = function.__code__.replace(co_filename=FRAME_NAME)
    return function


def translated(rpc: str) -> Callable[[F], F]:
    """Decorate the Flight handler of ``rpc``: whatever it raises becomes a proper status."""

    def wrap(handler: F) -> F:
        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except Exception as exc:  # every failure, turned into a status
                raise flight_status(exc, rpc) from None

        return _named_after_module(run)  # type: ignore[return-value]

    return wrap


@_named_after_module
def translated_stream(rpc: str, items: Iterator[T]) -> Iterator[T]:
    """``items`` (a streamed reply), with what they raise while streaming turned into a
    status the same way."""
    try:
        yield from items
    except Exception as exc:
        raise flight_status(exc, rpc) from None
