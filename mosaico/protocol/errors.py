"""The protocol's error taxonomy (spec §12) and its mapping to Arrow Flight exceptions.

Every error message starts with a stable token (``not found: ``, ``already exists: ``...), so a
peer can classify it even where pyarrow's server API cannot emit the matching gRPC code
(ALREADY_EXISTS and FAILED_PRECONDITION travel as INVALID_ARGUMENT, spec §12.2).
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
import pyarrow.flight as flight

from mosaico.errors import MosaicoError


class ProtocolError(MosaicoError):
    """Base class: a failure that the protocol names, with a human-readable detail.

    Each kind declares its gRPC status ``code`` and the message ``prefix`` it travels with;
    ``str()`` is ``"<prefix>: <detail>"`` and ``detail`` keeps the message alone.

    >>> from mosaico.protocol import NotFound
    >>> str(NotFound("sequence 'run-9'"))
    "not found: sequence 'run-9'"
    """

    code: ClassVar[str] = "INTERNAL"
    prefix: ClassVar[str] = "internal"

    def __init_subclass__(cls, code: str = "", prefix: str = "", **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if code:
            cls.code, cls.prefix = code, prefix

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.prefix}: {self.detail}"


class NotFound(ProtocolError, code="NOT_FOUND", prefix="not found"):
    """The sequence, session or topic named does not exist."""


class AlreadyExists(ProtocolError, code="ALREADY_EXISTS", prefix="already exists"):
    """A sequence or topic of that name exists already."""


class InvalidArgument(ProtocolError, code="INVALID_ARGUMENT", prefix="invalid argument"):
    """A request, descriptor, ticket or upload that the protocol does not allow."""


class FailedPrecondition(ProtocolError, code="FAILED_PRECONDITION", prefix="failed precondition"):
    """A valid request that the resource's state refuses (e.g. a finalized session)."""


class PermissionDenied(ProtocolError, code="PERMISSION_DENIED", prefix="permission denied"):
    """The API key is missing, unknown or lacks the permission the call needs."""


class Unimplemented(ProtocolError, code="UNIMPLEMENTED", prefix="unimplemented"):
    """An action or feature this server does not provide."""


class Unavailable(ProtocolError, ConnectionError, code="UNAVAILABLE", prefix="unavailable"):
    """The server cannot serve the call now: it cannot be reached (never started, went away,
    timed out) or its storage cannot take more (a full disk). Worth retrying later.

    Also a `ConnectionError`, so code that handles network failures generically catches it.
    """


class Internal(ProtocolError, code="INTERNAL", prefix="internal"):
    """A fault of the server (storage, bug); never caused by the request itself."""


# Most specific first: the prefix decides between the kinds that share INVALID_ARGUMENT.
_BY_PREFIX: tuple[type[ProtocolError], ...] = (
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    PermissionDenied,
    Unimplemented,
    Unavailable,
    Internal,
    InvalidArgument,
)


def to_flight_error(error: ProtocolError) -> Exception:
    """The exception a pyarrow Flight handler raises so that the peer sees the right status.

    NOT_FOUND becomes ``ArrowKeyError``; ALREADY_EXISTS, INVALID_ARGUMENT and
    FAILED_PRECONDITION become ``ArrowInvalid`` (pyarrow cannot emit the first and the last,
    §12.2: the message prefix tells them apart); PERMISSION_DENIED becomes
    ``FlightUnauthorizedError``, UNIMPLEMENTED ``NotImplementedError``, UNAVAILABLE
    ``FlightUnavailableError``, anything else ``FlightInternalError``.
    """
    text = str(error)
    if isinstance(error, NotFound):
        return pa.ArrowKeyError(text)
    if isinstance(error, (AlreadyExists, InvalidArgument, FailedPrecondition)):
        return pa.ArrowInvalid(text)
    if isinstance(error, PermissionDenied):
        return flight.FlightUnauthorizedError(text)
    if isinstance(error, Unimplemented):
        return NotImplementedError(text)
    if isinstance(error, Unavailable):
        return flight.FlightUnavailableError(text)
    return flight.FlightInternalError(text)


def _first_line(exc: BaseException) -> str:
    # pyarrow appends ". Detail: ..." (often a server traceback) to the status message.
    text = str(exc).strip().strip('"')
    return text.split(". Detail:", 1)[0]


def from_flight_error(exc: BaseException) -> ProtocolError:
    """Classify an exception raised by a pyarrow Flight client call (client side of §12).

    The message prefix decides first (it survives the INVALID_ARGUMENT squeeze); without a
    known prefix the exception's type does. A ``ProtocolError`` is returned as it is.

    >>> from mosaico.protocol import AlreadyExists, to_flight_error
    >>> from_flight_error(to_flight_error(AlreadyExists("sequence 'run-1'")))
    AlreadyExists("sequence 'run-1'")
    """
    if isinstance(exc, ProtocolError):
        return exc
    message = _first_line(exc)
    for kind in _BY_PREFIX:
        token = f"{kind.prefix}: "
        if message.startswith(token):
            return kind(message[len(token) :])
    if isinstance(exc, (pa.ArrowKeyError, KeyError)):
        return NotFound(message)
    if isinstance(exc, flight.FlightUnauthorizedError):
        return PermissionDenied(message)
    if isinstance(exc, flight.FlightUnavailableError):
        return Unavailable(message)
    if isinstance(exc, (pa.ArrowNotImplementedError, NotImplementedError)):
        return Unimplemented(message)
    if isinstance(exc, (pa.ArrowInvalid, ValueError)):
        return InvalidArgument(message)
    if type(exc) is pa.ArrowException:
        # A non-pyarrow server's ALREADY_EXISTS reaches a pyarrow client as a bare
        # ArrowException (spec §12.2).
        return AlreadyExists(message)
    return Internal(message)
