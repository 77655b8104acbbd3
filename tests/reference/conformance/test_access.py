"""API keys and TLS (spec §2.3, §2.4, checklist item 2) with the reference client and raw Flight."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.flight as flight
import pytest
from mosaicolabs import IMU, Message, MosaicoClient, Vector3d

from mosaico.server.launch import serve_process
from tests.tls import self_signed

KEYS = {"admin-key": ["read", "write", "delete"], "reader-key": ["read"]}


def _serve(tmp_path: Path, *extra: str) -> Iterator[int]:
    log_path = tmp_path / "serve.log"
    with serve_process(tmp_path / "store", *extra, log=log_path) as (_, port):
        yield port


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[int]:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(KEYS))
    yield from _serve(tmp_path, "--api-keys-file", str(keys))


def _write(client: MosaicoClient, name: str) -> None:
    with client.sequence_create(name, {"k": 1}) as writer:
        topic = writer.topic_create("imu", {}, IMU)
        assert topic is not None
        imu = IMU(
            acceleration=Vector3d(x=1.0, y=2.0, z=3.0),
            angular_velocity=Vector3d(x=0.0, y=0.0, z=1.0),
        )
        topic.push(Message(timestamp_ns=1, data=imu))


def test_reference_client_with_api_keys(keyed: int) -> None:
    with MosaicoClient.connect("127.0.0.1", keyed, api_key="admin-key") as admin:
        _write(admin, "keyed-run")
        assert "keyed-run" in admin.list_sequences()
    with MosaicoClient.connect("127.0.0.1", keyed, api_key="reader-key") as reader:
        assert reader.list_sequences() == ["keyed-run"]
        handler = reader.sequence_handler("keyed-run")
        assert handler is not None and handler.user_metadata == {"k": 1}
        with (
            pytest.raises(flight.FlightUnauthorizedError, match="lacks the 'write' permission"),
            reader.sequence_create("not-allowed", {}),
        ):
            pass
        with pytest.raises(flight.FlightUnauthorizedError, match="lacks the 'delete' permission"):
            reader.sequence_delete("keyed-run")
    with pytest.raises(ConnectionError):
        MosaicoClient.connect("127.0.0.1", keyed, timeout=1)
    with pytest.raises(ConnectionError):
        MosaicoClient.connect("127.0.0.1", keyed, timeout=1, api_key="wrong-key")


def test_every_rpc_needs_a_valid_key(keyed: int) -> None:
    client = flight.FlightClient(f"grpc://127.0.0.1:{keyed}")
    calls = [
        lambda o: list(client.do_action(flight.Action("info", b"{}"), options=o)),
        lambda o: list(client.list_flights(options=o)),
        lambda o: client.get_flight_info(
            flight.FlightDescriptor.for_command(b'{"resource_locator": "x"}'), options=o
        ),
        lambda o: client.do_get(flight.Ticket(b"{}"), options=o).read_all(),
    ]
    schema = flight.FlightDescriptor.for_command(b'{"resource_locator": "x/y"}')
    for headers in ([], [(b"mosaico-api-key-token", b"nope")]):
        options = flight.FlightCallOptions(headers=headers)
        for call in calls:
            with pytest.raises(flight.FlightUnauthorizedError, match="permission denied"):
                call(options)
        # pyarrow's client reports a failed GetSchema as a plain OSError, same status text.
        with pytest.raises(OSError, match="permission denied.*Unauthorized"):
            client.get_schema(schema, options=options)
    good = flight.FlightCallOptions(headers=[(b"mosaico-api-key-token", b"reader-key")])
    info = list(client.do_action(flight.Action("info", b"{}"), options=good))
    assert json.loads(info[0].body.to_pybytes())["action"] == "info"
    client.close()


def test_tls_with_the_reference_client(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    for port in _serve(
        tmp_path, "--host", "localhost", "--tls-cert", str(cert), "--tls-key", str(key)
    ):
        with MosaicoClient.connect("localhost", port, tls_cert_path=str(cert)) as client:
            _write(client, "tls-run")
            assert client.list_sequences() == ["tls-run"]
        with pytest.raises(ConnectionError):
            MosaicoClient.connect("localhost", port, timeout=1)  # plain gRPC to a TLS port
