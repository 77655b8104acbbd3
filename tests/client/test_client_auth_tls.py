"""Our client with API keys and TLS against our server (spec §2.3, §2.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mosaico.client import Message, MosaicoClient, Unavailable
from mosaico.protocol.errors import PermissionDenied
from mosaico.server import MosaicoFlightServer
from mosaico.server.access import ApiKeys
from mosaico.types import Floating64
from tests.backends import Backend
from tests.tls import self_signed


def test_api_keys(backend: Backend, tmp_path: Path) -> None:
    keys = ApiKeys.parse(["writer:read,write", "reader:read"])
    with backend.serving(tmp_path / "store", api_keys=keys) as (host, port):
        with MosaicoClient.connect(host, port, api_key="writer") as writer:
            with writer.sequence_create("keyed", {}) as seq:
                seq.topic_create("value", {}, Floating64).push(Message(1, Floating64(data=2.0)))
            with pytest.raises(PermissionDenied, match="lacks the 'delete' permission"):
                writer.sequence_delete("keyed")
        with MosaicoClient.connect(host, port, api_key="reader") as reader:
            handler = reader.topic_handler("keyed", "value")
            assert handler is not None
            assert [m.data for m in handler.get_data_streamer()] == [Floating64(data=2.0)]
            with pytest.raises(PermissionDenied, match="lacks the 'write' permission"):
                reader.sequence_create("nope", {}).__enter__()
        with pytest.raises(Unavailable, match="permission denied"):
            MosaicoClient.connect(host, port, timeout=0.5)
        with pytest.raises(Unavailable, match="unknown API key"):
            MosaicoClient.connect(host, port, timeout=0.5, api_key="stolen")


def test_tls(backend: Backend, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    store = backend.open_store(tmp_path / "store")
    server = MosaicoFlightServer(
        store, "grpc+tls://localhost:0", tls=(cert.read_bytes(), key.read_bytes())
    )
    try:
        with MosaicoClient.connect("localhost", server.port, tls_cert_path=str(cert)) as client:
            with client.sequence_create("secure", {}) as seq:
                seq.topic_create("value", {}, Floating64).push(Message(1, Floating64(data=1.0)))
            assert client.list_sequences() == ["secure"]
        with pytest.raises(Unavailable):
            MosaicoClient.connect("localhost", server.port, timeout=0.5)  # no TLS
    finally:
        server.shutdown()
        store.close()


def test_permission_is_checked_before_the_body_is_read(backend: Backend, tmp_path: Path) -> None:
    import pyarrow.flight as flight

    keys = ApiKeys.parse(["reader:read", "writer:write"])
    with backend.serving(tmp_path / "store", api_keys=keys) as (host, port):
        raw = flight.FlightClient(f"grpc+tcp://{host}:{port}")
        for key, name in (("reader", "sequence_create"), ("reader", "sequence_delete"),
                          ("writer", "query")):  # fmt: skip
            options = flight.FlightCallOptions(headers=[(b"mosaico-api-key-token", key.encode())])
            with pytest.raises(flight.FlightUnauthorizedError, match="permission denied"):
                list(raw.do_action(flight.Action(name, b"{not json"), options=options))
        raw.close()
