"""API-key permissions for every RPC and every action, against `mosaico serve` started with
an API-keys file as an operator would start it: each key (full, read, write, delete, none,
unknown, missing) gets the exact status for each call (spec §2.4), and a key lacking the
permission is refused before its malformed body is read (issue 11, item 8).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pyarrow.flight as flight
import pytest

from mosaico.protocol.actions import ActionName
from mosaico.protocol.permissions import ACTION_PERMISSION, RPC_PERMISSION
from mosaico.server.launch import serve_process
from tests.hostile.hostile_helpers import (
    KEYS,
    UNKNOWN_KEY,
    Outcome,
    Wire,
    assert_clean,
    expect,
    key_options,
    outcome,
)
from tests.server.server_helpers import SCHEMA, make_batch

ALL_KEYS: list[str | None] = [*KEYS, UNKNOWN_KEY, None]
GHOST_UUID = str(uuid.UUID(int=7))


@attrs.frozen
class Keyed:
    """The running server: its address and its store."""

    address: str
    store: Path

    def wire(self, key: str | None) -> Wire:
        return Wire(self.address, key)

    def flight(self) -> flight.FlightClient:
        return flight.FlightClient(f"grpc://{self.address}")


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    root = tmp_path_factory.mktemp("keyed")
    keys_file = root / "api-keys.json"
    keys_file.write_text(json.dumps({key: sorted(perms) for key, perms in KEYS.items()}))
    with serve_process(root / "store", "--api-keys-file", str(keys_file)) as (_, port):
        server = Keyed(f"127.0.0.1:{port}", root / "store")
        _write_canary(server)
        yield server


def _write_canary(server: Keyed) -> None:
    admin = server.wire("admin")
    admin.action("sequence_create", {"locator": "canary", "user_metadata": {}})
    [session] = admin.action("session_create", {"locator": "canary"})
    request = {"session_uuid": session["uuid"], "locator": "canary/a", "ontology_tag": "Thing",
               "serialization_format": "default", "user_metadata": {}}  # fmt: skip
    [topic] = admin.action("topic_create", request)
    client = server.flight()
    command = json.dumps({"resource_locator": "canary/a", "topic_uuid": topic["uuid"]})
    descriptor = flight.FlightDescriptor.for_command(command)
    writer, _ = client.do_put(descriptor, SCHEMA, options=key_options("admin"))
    writer.write_batch(make_batch([3, 1, 2]))
    writer.close()
    admin.action("session_finalize", {"session_uuid": session["uuid"]})
    note = {"locator": "canary/a", "notification_type": "error", "msg": "kept"}
    admin.action("topic_notification_create", note)
    client.close()
    admin.close()


# -- the calls: what each needs, and what a key holding it gets ------------------------------------


@attrs.frozen
class Call:
    """One RPC as a test makes it, the permission it needs (None: any valid key) and the
    status a key holding that permission gets."""

    permission: str | None
    run: Callable[[Keyed, str | None, str], Any]
    permitted: str
    names: tuple[str, ...] = ()
    ours: bool = True  # the reply is the server's own (pyarrow answers Handshake itself)


def _action(name: str, request: Callable[[str], Any]) -> Callable[[Keyed, str | None, str], Any]:
    def run(server: Keyed, key: str | None, tag: str) -> Any:
        wire = server.wire(key)
        try:
            return wire.action(name, request(tag))
        finally:
            wire.close()

    return run


def _wire(call: Callable[[Wire], Any]) -> Callable[[Keyed, str | None, str], Any]:
    def run(server: Keyed, key: str | None, tag: str) -> Any:
        wire = server.wire(key)
        try:
            return call(wire)
        finally:
            wire.close()

    return run


def _pyarrow(call: Callable[[flight.FlightClient, flight.FlightCallOptions], Any]) -> Callable[
    [Keyed, str | None, str], Any
]:  # fmt: skip
    def run(server: Keyed, key: str | None, tag: str) -> Any:
        client = server.flight()
        try:
            return call(client, key_options(key))
        finally:
            client.close()

    return run


def _do_put(client: flight.FlightClient, options: flight.FlightCallOptions) -> None:
    command = json.dumps({"resource_locator": "ghost/t", "topic_uuid": GHOST_UUID})
    writer, _ = client.do_put(flight.FlightDescriptor.for_command(command), SCHEMA, options=options)
    writer.write_batch(make_batch([1]))
    writer.close()


def _do_exchange(client: flight.FlightClient, options: flight.FlightCallOptions) -> None:
    writer, reader = client.do_exchange(flight.FlightDescriptor.for_command(b"{}"), options=options)
    writer.done_writing()
    reader.read_all()


CANARY_TOPIC = {"resource_locator": "canary/a"}
CLUSTERIZE = {"locator": "canary/a", "clustering_dt_ns": 0, "ontology": {}, "timestamp_range": None}
INTERSECT = {"topics": [{"locator": "canary/a", "clustering_dt_ns": 0, "ontology": {}}] * 2,
             "intersect_dt_ns": 0}  # fmt: skip
NOTE = {"notification_type": "error", "msg": "m"}
A = ActionName

ACTION_CALLS: dict[ActionName, Call] = {
    A.INFO: Call(None, _action("info", lambda t: {}), "OK"),
    A.QUERY: Call("read", _action("query", lambda t: {}), "OK"),
    A.TOPIC_FILTER_CLUSTERIZE: Call("read", _action(A.TOPIC_FILTER_CLUSTERIZE, lambda t: CLUSTERIZE), "OK"),
    A.TOPIC_FILTER_INTERSECT: Call("read", _action(A.TOPIC_FILTER_INTERSECT, lambda t: INTERSECT), "OK"),
    A.SEQUENCE_NOTIFICATION_LIST: Call("read", _action(A.SEQUENCE_NOTIFICATION_LIST, lambda t: {"locator": "canary"}), "OK"),
    A.TOPIC_NOTIFICATION_LIST: Call("read", _action(A.TOPIC_NOTIFICATION_LIST, lambda t: {"locator": "canary/a"}), "OK"),
    A.SEQUENCE_CREATE: Call("write", _action(A.SEQUENCE_CREATE, lambda t: {"locator": f"new-{t}"}), "OK"),
    A.SESSION_CREATE: Call("write", _action(A.SESSION_CREATE, lambda t: {"locator": "ghost"}), "NOT_FOUND", ("ghost",)),
    A.TOPIC_CREATE: Call("write", _action(A.TOPIC_CREATE, lambda t: {
        "session_uuid": GHOST_UUID, "locator": "ghost/t", "ontology_tag": "T",
        "serialization_format": "default"}), "NOT_FOUND"),
    A.SESSION_FINALIZE: Call("write", _action(A.SESSION_FINALIZE, lambda t: {"session_uuid": GHOST_UUID}), "NOT_FOUND"),
    A.SEQUENCE_NOTIFICATION_CREATE: Call("write", _action(A.SEQUENCE_NOTIFICATION_CREATE, lambda t: {"locator": "ghost", **NOTE}), "NOT_FOUND", ("ghost",)),
    A.TOPIC_NOTIFICATION_CREATE: Call("write", _action(A.TOPIC_NOTIFICATION_CREATE, lambda t: {"locator": "ghost/t", **NOTE}), "NOT_FOUND", ("ghost",)),
    A.SEQUENCE_DELETE: Call("delete", _action(A.SEQUENCE_DELETE, lambda t: {"locator": "ghost"}), "NOT_FOUND", ("ghost",)),
    A.SESSION_DELETE: Call("delete", _action(A.SESSION_DELETE, lambda t: {"locator": "ghost:01ABC"}), "NOT_FOUND", ("01ABC",)),
    A.TOPIC_DELETE: Call("delete", _action(A.TOPIC_DELETE, lambda t: {"locator": "ghost/t"}), "NOT_FOUND", ("ghost",)),
    A.SEQUENCE_NOTIFICATION_PURGE: Call("delete", _action(A.SEQUENCE_NOTIFICATION_PURGE, lambda t: {"locator": "ghost"}), "NOT_FOUND", ("ghost",)),
    A.TOPIC_NOTIFICATION_PURGE: Call("delete", _action(A.TOPIC_NOTIFICATION_PURGE, lambda t: {"locator": "ghost/t"}), "NOT_FOUND", ("ghost",)),
}  # fmt: skip

RPC_CALLS: dict[str, Call] = {
    "get_flight_info": Call("read", _wire(lambda w: w.info({"resource_locator": "canary"})), "OK"),
    "get_schema": Call("read", _wire(lambda w: w.schema(CANARY_TOPIC)), "OK"),
    "do_get": Call("read", _wire(lambda w: w.do_get({"locator": "canary/a"})), "OK"),
    "list_flights": Call("read", _wire(lambda w: w.list_flights()), "OK"),
    "do_put": Call("write", _pyarrow(_do_put), "NOT_FOUND", ("ghost",)),
}
# Calls outside the protocol's permission table: any valid key may make them.
OTHER_CALLS: dict[str, Call] = {
    "list_actions": Call(None, _wire(lambda w: w.list_actions()), "OK"),
    "do_exchange": Call(None, _pyarrow(_do_exchange), "UNIMPLEMENTED"),
    "handshake": Call(
        None,
        _pyarrow(lambda c, o: c.authenticate_basic_token("u", "p", o)),
        "UNIMPLEMENTED",
        ours=False,
    ),  # fmt: skip
}
CALLS: dict[str, Call] = {
    **{name.value: call for name, call in ACTION_CALLS.items()},
    **RPC_CALLS,
    **OTHER_CALLS,
}


def test_the_catalogue_covers_every_action_and_rpc() -> None:
    assert set(ACTION_CALLS) == set(ActionName) == set(ACTION_PERMISSION)
    assert set(RPC_CALLS) == set(RPC_PERMISSION)
    for name, call in ACTION_CALLS.items():
        assert call.permission == ACTION_PERMISSION[name], name
    for rpc, call in RPC_CALLS.items():
        assert call.permission == RPC_PERMISSION[rpc], rpc


def _expected(call: Call, key: str | None) -> str:
    if key not in KEYS:
        return "PERMISSION_DENIED"
    if call.permission is None or call.permission in KEYS[key]:
        return call.permitted
    return "PERMISSION_DENIED"


def _denial_names(call: Call, key: str | None) -> tuple[str, ...]:
    if key is None:
        return ("missing API key",)
    if key not in KEYS:
        return ("unknown API key",)
    return (f"'{call.permission}'",)


@pytest.mark.parametrize("key", ALL_KEYS, ids=[str(k) for k in ALL_KEYS])
@pytest.mark.parametrize("name", list(CALLS))
def test_every_call_under_every_key(keyed: Keyed, name: str, key: str | None) -> None:
    call = CALLS[name]
    result: Outcome = outcome(lambda: call.run(keyed, key, str(key)))
    wanted = _expected(call, key)
    if wanted == "PERMISSION_DENIED":
        expect(result, wanted, *_denial_names(call, key), store=keyed.store)
    elif call.ours:
        expect(result, wanted, *call.names, store=keyed.store)
    else:
        assert result.kind == wanted, result
        assert_clean(result, keyed.store)


# -- refused before the body is read ---------------------------------------------------------------

MALFORMED = b'{"locator": [not json'


def _lacking(permission: str | None) -> list[str]:
    return [key for key, perms in KEYS.items() if permission not in perms]


LACKING = [
    (name.value, key)
    for name, permission in ACTION_PERMISSION.items()
    if permission is not None
    for key in _lacking(permission)
]


@pytest.mark.parametrize(("action", "key"), LACKING)
def test_a_malformed_body_without_the_permission_is_permission_denied(
    keyed: Keyed, action: str, key: str
) -> None:
    wire = keyed.wire(key)
    try:
        result = outcome(lambda: wire.action(action, MALFORMED))
    finally:
        wire.close()
    permission = ACTION_PERMISSION[ActionName(action)]
    expect(result, "PERMISSION_DENIED", f"'{permission}'", store=keyed.store)


def _bad_put(client: flight.FlightClient, options: flight.FlightCallOptions) -> None:
    writer, _ = client.do_put(
        flight.FlightDescriptor.for_command(MALFORMED), SCHEMA, options=options
    )
    writer.write_batch(make_batch([1]))
    writer.close()


MALFORMED_RPCS: dict[str, tuple[Callable[[Keyed, str | None, str], Any], str]] = {
    "get_flight_info": (_wire(lambda w: w.info(MALFORMED)), "writer"),
    "get_schema": (_wire(lambda w: w.schema(MALFORMED)), "writer"),
    "do_get": (_wire(lambda w: w.do_get(MALFORMED)), "deleter"),
    "list_flights": (_wire(lambda w: w.list_flights(MALFORMED)), "nobody"),
    "do_put": (_pyarrow(_bad_put), "reader"),
}


@pytest.mark.parametrize("rpc", list(MALFORMED_RPCS))
def test_a_malformed_rpc_without_the_permission_is_permission_denied(
    keyed: Keyed, rpc: str
) -> None:
    run, key = MALFORMED_RPCS[rpc]
    result = outcome(lambda: run(keyed, key, key))
    expect(result, "PERMISSION_DENIED", f"'{RPC_PERMISSION[rpc]}'", store=keyed.store)


@pytest.mark.parametrize("key", [UNKNOWN_KEY, None, "", "admin ", "ADMIN", "admin:read"])
def test_keys_that_are_almost_right_are_refused(keyed: Keyed, key: str | None) -> None:
    wire = keyed.wire(key)
    try:
        result = outcome(lambda: wire.action("info", {}))
    finally:
        wire.close()
    expect(result, "PERMISSION_DENIED", "API key", store=keyed.store)


def test_the_canary_is_intact_after_every_attempt(keyed: Keyed) -> None:
    admin = keyed.wire("admin")
    try:
        assert admin.do_get({"locator": "canary/a"}) == 2  # the schema and one batch
        [notes] = admin.action("topic_notification_list", {"locator": "canary/a"})
        assert [n["msg"] for n in notes["notifications"]] == ["kept"]
        [found] = admin.action("query", {})
        assert [i["sequence"] for i in found["items"]] == ["canary"]
    finally:
        admin.close()
