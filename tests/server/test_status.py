"""Errors as a client sees them: one translation (``server/status.py``) with bounded,
path-free messages, the input limits at the server's door, and the key checks."""

from __future__ import annotations

import errno
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico.protocol.errors import Internal, InvalidArgument, Unavailable
from mosaico.protocol.permissions import API_KEY_HEADER
from mosaico.server.access import ApiKeys
from mosaico.server.disk_space import OutOfSpace
from mosaico.server.status import MAX_MESSAGE_BYTES, bounded, protocol_error
from tests.backends import Backend
from tests.server.server_helpers import Raw

_PATH_MARKS = ('.py"', ".py,", "site-packages", "/tmp/", "/work/", "/root/")


def _refused(raw: Raw, name: str, body: bytes, kind: type[Exception] = pa.ArrowInvalid) -> str:
    with pytest.raises(kind) as caught:
        raw.action(name, raw=body)
    message = str(caught.value)
    assert len(message.encode()) < 1024, message
    assert not any(mark in message for mark in _PATH_MARKS), message
    return message


def test_bounded_messages_say_how_much_was_cut() -> None:
    assert bounded("short") == "short"
    cut = bounded("é" * 1000)
    assert len(cut.encode()) <= MAX_MESSAGE_BYTES and cut.endswith("more bytes)")
    assert bounded("lone \ud800 surrogate") == "lone ? surrogate"


def test_faults_are_named_by_kind_only() -> None:
    full = protocol_error(OSError(errno.ENOSPC, "No space left on device", "/srv/x"), "do_put")
    assert isinstance(full, Unavailable) and "out of disk space" in str(full)
    sqlite_full = protocol_error(sqlite3.OperationalError("database or disk is full"), "x")
    assert isinstance(sqlite_full, Unavailable)
    lost = protocol_error(FileNotFoundError(errno.ENOENT, "No such file", "/srv/chunks/a"), "x")
    assert isinstance(lost, Internal) and "/srv" not in str(lost)
    bug = protocol_error(KeyError("/srv/secret"), "x")
    assert isinstance(bug, Internal) and "secret" not in str(bug) and "KeyError" in str(bug)
    cause = OutOfSpace("No space left on device", "topic 'run/imu'")
    assert str(protocol_error(cause, "do_put")) == f"unavailable: {cause.detail}"
    long = protocol_error(InvalidArgument("x" * 10_000), "x")
    assert isinstance(long, InvalidArgument) and len(str(long).encode()) < 400


def test_long_inputs_get_a_bounded_invalid_argument(raw: Raw) -> None:
    body = json.dumps({"locator": "a" * 100_000}).encode()
    assert "more than 512" in _refused(raw, "sequence_create", body)
    metadata = {"locator": "run", "user_metadata": {"k": "v" * 100_000, "bad": float("nan")}}
    assert "NaN is not JSON" in _refused(raw, "sequence_create", json.dumps(metadata).encode())


@pytest.mark.parametrize(
    "body",
    [
        b'{"locator": "run", "user_metadata": ' + b'{"a":' * 990 + b"1" + b"}" * 990 + b"}",
        b'{"locator": "run", "user_metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"locator": "run", "user_metadata": {"a": "\\ud800"}}',
        b'{"locator": "run", "user_metadata": {"n": 1' + b"0" * 5000 + b"}}",
    ],
    ids=["990-levels", "100000-levels", "surrogate", "5000-digits"],
)
def test_poisonous_metadata_is_refused_and_the_catalog_stays_usable(raw: Raw, body: bytes) -> None:
    _refused(raw, "sequence_create", body)
    raw.new_sequence("healthy", {"ok": True})
    assert raw.action("query", {"sequence": {"user_metadata": {"ok": {"$eq": True}}}})
    assert raw.action("sequence_delete", {"locator": "healthy"}) is None
    with pytest.raises(pa.ArrowKeyError):
        raw.action("session_create", {"locator": "run"})  # nothing of "run" was stored


def test_surrogates_in_topic_metadata_and_notifications_are_refused(raw: Raw) -> None:
    session = raw.new_sequence("run")
    topic = (
        b'{"session_uuid": "%s", "locator": "run/imu", "serialization_format": "default", '
        b'"ontology_tag": "Thing", "user_metadata": {"\\udc00": 1}}' % session["uuid"].encode()
    )
    assert "lone UTF-16 surrogate" in _refused(raw, "topic_create", topic)
    note = b'{"locator": "run", "notification_type": "error", "msg": "bad \\ud800"}'
    assert "lone UTF-16 surrogate" in _refused(raw, "sequence_notification_create", note)
    assert raw.action("sequence_notification_list", {"locator": "run"}) == {"notifications": []}


def test_the_metadata_limit_is_advertised_and_enforced(raw: Raw) -> None:
    limit = raw.action("info")["config"]["max_metadata_bytes"]
    big = {"locator": "big", "user_metadata": {"blob": "x" * limit}}
    assert f"more than the {limit} limit" in _refused(
        raw, "sequence_create", json.dumps(big).encode()
    )
    raw.new_sequence("run")
    note = {"locator": "run", "notification_type": "error", "msg": "m" * (limit + 1)}
    message = _refused(raw, "sequence_notification_create", json.dumps(note).encode())
    assert "notification 'msg' is" in message


def test_a_pathological_glob_neither_hangs_nor_blocks_other_calls(raw: Raw) -> None:
    # With a backtracking matcher this one pattern takes far longer than the test's timeout
    # (the issue measured 2.5 s for 10 stars against 34 characters; this is 14 against 60).
    name = "a" * 60
    raw.new_topic(raw.new_sequence(name), f"{name}/imu")
    query = {"sequence": {"name": {"$match": "*a" * 14 + "*b"}}}
    replies: list[object] = []
    worker = threading.Thread(target=lambda: replies.append(raw.action("query", query)))
    worker.start()
    assert raw.action("info")["version"]  # served meanwhile
    worker.join(timeout=60)
    assert not worker.is_alive() and replies == [{"items": []}]  # an answer: no match
    matching = {"sequence": {"name": {"$match": "*a" * 14 + "*"}}}
    assert [item["sequence"] for item in raw.action("query", matching)["items"]] == [name]


def test_overlong_glob_patterns_are_refused(raw: Raw) -> None:
    query = {"sequence": {"name": {"$match": "*a" * 200}}}
    assert "more than 256" in _refused(raw, "query", json.dumps(query).encode())


@pytest.fixture
def keyed(backend: Backend, tmp_path: Path) -> Iterator[tuple[str, int]]:
    keys = ApiKeys.parse(["reader:read", "writer:write"])
    with backend.serving(tmp_path / "store", api_keys=keys) as address:
        yield address


def _client(address: tuple[str, int], key: bytes) -> flight.FlightClient:
    headers = [(API_KEY_HEADER.encode(), key)]
    return flight.FlightClient(
        f"grpc://{address[0]}:{address[1]}",
        middleware=[_Headers(headers)],
    )


class _Headers(flight.ClientMiddlewareFactory):
    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.headers = headers

    def start_call(self, info: flight.CallInfo) -> flight.ClientMiddleware:
        headers = self.headers

        class Send(flight.ClientMiddleware):
            def sending_headers(self) -> dict[bytes, list[bytes]]:
                return {key: [value] for key, value in headers}

        return Send()


def test_get_schema_without_read_permission_is_permission_denied(keyed: tuple[str, int]) -> None:
    # Status codes read with grpcio: pyarrow's client reports any GetSchema failure as an
    # OSError, whatever the status on the wire.
    channel = grpc.insecure_channel(f"{keyed[0]}:{keyed[1]}")
    get_schema = channel.unary_unary("/arrow.flight.protocol.FlightService/GetSchema")
    command = b'{"resource_locator": "run/imu"}'
    request = b"\x08\x02\x12" + bytes([len(command)]) + command  # FlightDescriptor, CMD
    codes = {}
    for key in ("writer", "reader"):
        with pytest.raises(grpc.RpcError) as caught:
            get_schema(request, metadata=[(API_KEY_HEADER, key)])
        codes[key] = caught.value.code()
    assert codes == {
        "writer": grpc.StatusCode.PERMISSION_DENIED,
        "reader": grpc.StatusCode.NOT_FOUND,
    }
    channel.close()


# (gRPC itself refuses to send non-printable header bytes, and headers past 8 KiB.)
@pytest.mark.parametrize("key", [b"x" * 4000, b"reade", b"Reader", b"reader "])
def test_unknown_keys_of_any_shape_are_permission_denied(
    keyed: tuple[str, int], key: bytes
) -> None:
    with pytest.raises(flight.FlightUnauthorizedError, match="unknown API key"):
        list(_client(keyed, key).do_action(flight.Action("info", b"{}")))


def test_malformed_bodies_from_unprivileged_keys_are_permission_denied(
    keyed: tuple[str, int],
) -> None:
    with pytest.raises(flight.FlightUnauthorizedError, match="'delete' permission"):
        list(_client(keyed, b"writer").do_action(flight.Action("sequence_delete", b"{[")))
