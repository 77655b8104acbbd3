"""Helpers of the hostile suite: servers to attack, a raw gRPC client that sees the exact
status of every reply, and the checks every refusal must pass.

The raw gRPC client (``Wire``) encodes the few Flight protobuf messages by hand, so a test
sees the status code on the wire rather than pyarrow's guess at it (pyarrow's client turns a
PERMISSION_DENIED GetSchema into a plain ``OSError``, and folds several codes into
``ArrowInvalid``). Refusals are checked with ``expect``: the right status, the protocol's
message prefix, a message under 1 KiB that names what was wrong, and no server path or
traceback frame of the server's own code.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import grpc
import pyarrow as pa
import pyarrow.flight as flight

from mosaico.protocol.permissions import API_KEY_HEADER
from mosaico.server import EmbeddedServer, StoreConfig
from mosaico.server.access import ApiKeys
from mosaico.server.status import FRAME_NAME
from tests.server.server_helpers import Raw, make_batch

MAX_MESSAGE = 1024
"""An error message (the part before pyarrow's ". Detail:") stays under this many bytes."""
MAX_DETAILS = 3 * 1024
"""The whole status text: the message, pyarrow's own frame and the message repeated once."""

# Keys of the keyed servers: name -> permissions ("nobody" is a valid key granting nothing).
KEYS: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "write", "delete"}),
    "reader": frozenset({"read"}),
    "writer": frozenset({"write"}),
    "deleter": frozenset({"delete"}),
    "nobody": frozenset(),
}
UNKNOWN_KEY = "stolen-key"

_PREFIXES = {
    "already exists: ": "ALREADY_EXISTS",
    "failed precondition: ": "FAILED_PRECONDITION",
}
_MESSAGE_PREFIX = {
    "INVALID_ARGUMENT": "invalid argument: ",
    "NOT_FOUND": "not found: ",
    "ALREADY_EXISTS": "already exists: ",
    "FAILED_PRECONDITION": "failed precondition: ",
    "PERMISSION_DENIED": "permission denied: ",
    "UNIMPLEMENTED": "unimplemented: ",
}
_FORBIDDEN = ("/tmp/", "/work/", "site-packages", '.py"', ".py'", ".py, line", "/home/", "/usr/")
# pyarrow always appends a traceback to INVALID_ARGUMENT and NOT_FOUND replies (spec §12.2);
# the server's raising frame is named FRAME_NAME, without a path or a source line.
_SERVER_FRAME = re.compile(rf'File "(?!pyarrow/|{re.escape(FRAME_NAME)}")[^"]*"')


# -- the outcome of a call ---------------------------------------------------------------


@attrs.frozen
class Outcome:
    """What a call gave: ``kind`` is the status, refined by the message prefix where pyarrow
    cannot emit the code (``ALREADY_EXISTS``, ``FAILED_PRECONDITION`` travel as
    ``INVALID_ARGUMENT``); ``OK`` with ``value`` when the call succeeded."""

    kind: str
    details: str = ""
    value: Any = None

    @property
    def message(self) -> str:
        """The status message without pyarrow's ". Detail: ..." tail."""
        return self.details.split(". Detail:", 1)[0]

    def __str__(self) -> str:
        return f"{self.kind}: {self.details[:600]!r}"


def _refine(code: str, details: str) -> str:
    if code == "INVALID_ARGUMENT":
        for prefix, kind in _PREFIXES.items():
            if details.startswith(prefix):
                return kind
    return code


def _arrow_kind(exc: BaseException) -> str:
    """The status behind an exception of pyarrow's Flight client (spec §12.2)."""
    text = str(exc)
    flight_kinds: list[tuple[type[BaseException], str]] = [
        (flight.FlightUnauthorizedError, "PERMISSION_DENIED"),
        (flight.FlightUnauthenticatedError, "UNAUTHENTICATED"),
        (flight.FlightInternalError, "INTERNAL"),
        (flight.FlightUnavailableError, "UNAVAILABLE"),
        (flight.FlightTimedOutError, "DEADLINE_EXCEEDED"),
        (flight.FlightCancelledError, "CANCELLED"),
        (flight.FlightServerError, "UNKNOWN"),
        (pa.ArrowKeyError, "NOT_FOUND"),
        (pa.ArrowNotImplementedError, "UNIMPLEMENTED"),
    ]
    for cls, kind in flight_kinds:
        if isinstance(exc, cls):
            return kind
    if isinstance(exc, pa.ArrowInvalid):
        if "resource exhausted" in text or "exceeds hard limit" in text:
            return "RESOURCE_EXHAUSTED"
        return _refine("INVALID_ARGUMENT", text)
    match = re.search(r"gRPC client debug context: ([A-Z_]+):", text)
    return match.group(1) if match else f"UNKNOWN({type(exc).__name__})"


def outcome(call: Callable[[], Any]) -> Outcome:
    """Run ``call`` (a ``Wire`` or a pyarrow Flight call) and say what it gave."""
    try:
        return Outcome("OK", value=call())
    except grpc.RpcError as exc:
        code = exc.code().name  # type: ignore[attr-defined]
        details = exc.details() or ""  # type: ignore[attr-defined]
        return Outcome(_refine(code, details), details)
    except (pa.ArrowException, OSError) as exc:
        return Outcome(_arrow_kind(exc), str(exc))


def assert_clean(result: Outcome, store: Path | None = None) -> None:
    """A refusal's text is bounded and leaks nothing of the server: no path, no frame of the
    server's own code (pyarrow's own ``pyarrow/_flight.pyx`` frame and the path-free
    ``FRAME_NAME`` frame that raises every status are allowed)."""
    assert len(result.message.encode()) < MAX_MESSAGE, f"message too long: {result}"
    assert len(result.details.encode()) < MAX_DETAILS, f"status text too long: {result}"
    leaks = [text for text in _FORBIDDEN if text in result.details]
    if store is not None and str(store) in result.details:
        leaks.append(str(store))
    assert not leaks, f"the reply leaks {leaks}: {result}"
    frame = _SERVER_FRAME.search(result.details)
    assert frame is None, f"the reply carries a server traceback frame {frame.group(0)}: {result}"


def expect(
    result: Outcome, kind: str | tuple[str, ...], *names: str, store: Path | None = None
) -> Outcome:
    """Assert that ``result`` is one of ``kind``; a refusal must also be clean, start with the
    protocol's prefix for its kind and name each of ``names`` (case-insensitive)."""
    kinds = (kind,) if isinstance(kind, str) else kind
    assert result.kind in kinds, f"expected {' or '.join(kinds)}, got {result}"
    if result.kind == "OK":
        return result
    prefix = _MESSAGE_PREFIX.get(result.kind)
    if prefix is not None:
        assert result.message.startswith(prefix), f"message lacks {prefix!r}: {result}"
    for name in names:
        assert name.lower() in result.message.lower(), f"message does not name {name!r}: {result}"
    assert_clean(result, store)
    return result


def expect_any_of(result: Outcome, *alternatives: str) -> None:
    """The message names at least one of ``alternatives`` (e.g. 'depth' or 'nest')."""
    text = result.message.lower()
    assert any(a.lower() in text for a in alternatives), (
        f"message names none of {alternatives}: {result}"
    )


# -- a raw gRPC Flight client --------------------------------------------------------------

_SERVICE = "/arrow.flight.protocol.FlightService/"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _bytes_fields(message: bytes) -> dict[int, list[bytes]]:
    """The length-delimited fields of a protobuf message (other wire types skipped)."""
    fields: dict[int, list[bytes]] = {}
    i = 0
    while i < len(message):
        tag, i = _read_varint(message, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            _, i = _read_varint(message, i)
        elif wire == 2:
            size, i = _read_varint(message, i)
            fields.setdefault(number, []).append(message[i : i + size])
            i += size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return fields


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def command_descriptor(command: bytes) -> bytes:
    """A protobuf ``FlightDescriptor`` of type CMD."""
    return _varint(1 << 3) + _varint(2) + _field(2, command)


def path_descriptor(*path: str) -> bytes:
    """A protobuf ``FlightDescriptor`` of type PATH."""
    return _varint(1 << 3) + _varint(1) + b"".join(_field(3, p.encode()) for p in path)


def body(value: Any) -> bytes:
    """A request body: bytes as they are, anything else as JSON."""
    return value if isinstance(value, bytes) else json.dumps(value).encode()


class Wire:
    """The Flight RPCs over a plain gRPC channel, optionally with an API key."""

    def __init__(self, address: str, key: str | None = None) -> None:
        self.channel = grpc.insecure_channel(address)
        self.metadata = [] if key is None else [(API_KEY_HEADER, key)]

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()

    def with_key(self, key: str | None) -> Wire:
        """The same channel under another key (``None``: no key header)."""
        other = Wire.__new__(Wire)
        other.channel = self.channel
        other.metadata = [] if key is None else [(API_KEY_HEADER, key)]
        return other

    def _unary(self, method: str, request: bytes) -> bytes:
        call = self.channel.unary_unary(_SERVICE + method)
        return bytes(call(request, metadata=self.metadata, timeout=60))

    def _stream(self, method: str, request: bytes) -> list[bytes]:
        call = self.channel.unary_stream(_SERVICE + method)
        return [bytes(m) for m in call(request, metadata=self.metadata, timeout=60)]

    def action(self, name: str, request: Any = None) -> list[Any]:
        """``DoAction``: the ``response`` of each envelope received."""
        results = self._stream("DoAction", _field(1, name.encode()) + _field(2, body(request)))
        documents = [b"".join(_bytes_fields(r).get(1, [b""])) for r in results]
        return [json.loads(d)["response"] for d in documents if d.strip()]

    def info(self, command: Any) -> bytes:
        """``GetFlightInfo`` of a command descriptor; the raw ``FlightInfo`` message."""
        return self._unary("GetFlightInfo", command_descriptor(body(command)))

    def info_of(self, descriptor: bytes) -> bytes:
        """``GetFlightInfo`` of a protobuf descriptor built by the caller."""
        return self._unary("GetFlightInfo", descriptor)

    def schema(self, command: Any) -> bytes:
        """``GetSchema`` of a command descriptor; the raw ``SchemaResult``."""
        return self._unary("GetSchema", command_descriptor(body(command)))

    def schema_of(self, descriptor: bytes) -> bytes:
        """``GetSchema`` of a protobuf descriptor built by the caller."""
        return self._unary("GetSchema", descriptor)

    def list_flights(self, criteria: bytes = b"") -> int:
        """``ListFlights``: how many infos came back."""
        return len(self._stream("ListFlights", _field(1, criteria)))

    def do_get(self, ticket: Any) -> int:
        """``DoGet``: how many FlightData messages came back (schema included)."""
        return len(self._stream("DoGet", _field(1, body(ticket))))

    def list_actions(self) -> int:
        """``ListActions``: how many action types came back."""
        return len(self._stream("ListActions", b""))


def key_options(key: str | None) -> flight.FlightCallOptions:
    """pyarrow call options carrying ``key`` (none: no header)."""
    headers = [] if key is None else [(API_KEY_HEADER.encode(), key.encode())]
    return flight.FlightCallOptions(headers=headers)


# -- servers --------------------------------------------------------------------------------


@attrs.define
class Served:
    """A running embedded server: its store folder and clients of both kinds."""

    server: EmbeddedServer
    store: Path
    address: str
    raw: Raw
    wire: Wire

    def wire_as(self, key: str | None) -> Wire:
        """The raw gRPC client under another key."""
        return self.wire.with_key(key)


@contextmanager
def embedded(
    store: Path, config: StoreConfig | None = None, keyed: bool = False
) -> Iterator[Served]:
    """An in-process server over ``store``; with ``keyed`` it requires the keys of ``KEYS``
    and the clients present ``admin``."""
    api_keys = ApiKeys(dict(KEYS)) if keyed else None
    server = EmbeddedServer(str(store), config=config, api_keys=api_keys)
    host, port = server.start()
    address = f"{host}:{port}"
    client = flight.FlightClient(f"grpc://{address}")
    wire = Wire(address, "admin" if keyed else None)
    try:
        yield Served(server, store, address, Raw(client), wire)
    finally:
        wire.close()
        client.close()
        server.stop()


# -- data -------------------------------------------------------------------------------------


def write_sequence(
    raw: Raw, name: str, topics: dict[str, pa.RecordBatch], *, finalize: bool = True,
    metadata: dict[str, Any] | None = None,
) -> dict[str, str]:  # fmt: skip
    """A sequence with one session whose topics (path -> rows) are uploaded; returns the
    session (``uuid``, ``locator``)."""
    session = raw.new_sequence(name, metadata)
    for path, batch in topics.items():
        uuid = raw.new_topic(session, f"{name}/{path}")
        raw.put(f"{name}/{path}", uuid, [batch], schema=batch.schema)
    if finalize:
        raw.action("session_finalize", {"session_uuid": session["uuid"]})
    return session


def read_table(raw: Raw, locator: str) -> pa.Table:
    """Every row of a topic, as served by DoGet."""
    schema, batches = raw.read(locator)
    return pa.Table.from_batches(batches, schema=schema)


@attrs.frozen
class Canary:
    """A finalized sequence written before the attack; it must read back identical after."""

    name: str
    table: pa.Table

    @classmethod
    def write(cls, raw: Raw, name: str = "canary") -> Canary:
        """Write it: one topic of 300 unsorted rows."""
        write_sequence(raw, name, {"a": make_batch(list(range(300, 0, -1)))}, metadata={"k": 1})
        return cls(name, read_table(raw, f"{name}/a"))

    def check(self, raw: Raw) -> None:
        """It reads back byte-identical, schema metadata included."""
        table = read_table(raw, f"{self.name}/a")
        assert table.schema.equals(self.table.schema, check_metadata=True)
        assert table.equals(self.table)
        meta = json.loads(raw.info(self.name).app_metadata)
        assert meta["user_metadata"] == {"k": 1}


def strict_json(document: bytes | str) -> Any:
    """Parse JSON as the standard defines it: NaN and Infinity are not JSON."""

    def refuse(literal: str) -> Any:
        raise AssertionError(f"the server sent {literal}, which is not JSON")

    return json.loads(document, parse_constant=refuse)


# -- the store on disk --------------------------------------------------------------------------


def tree(root: Path) -> set[str]:
    """Every file and folder under ``root``, relative to it."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run_threads(targets: Sequence[Callable[..., Any]], timeout: float = 60) -> list[Any]:
    """Start every target at the same moment (a barrier) and return their results in order;
    an exception in a target is returned as the result."""
    barrier = threading.Barrier(len(targets))
    results: list[Any] = [None] * len(targets)

    def run(index: int, target: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = target()
        except BaseException as exc:  # returned to the test, which asserts on it
            results[index] = exc

    threads = [
        threading.Thread(target=run, args=(i, t), daemon=True) for i, t in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racing call did not return"
    return results
