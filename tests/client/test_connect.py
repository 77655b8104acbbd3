"""Connecting: embedded default, remote connect, handshake failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from mosaico.client import MosaicoClient, Unavailable
from mosaico.errors import InputError
from mosaico.protocol.info import PROTOCOL_VERSION
from mosaico.server import EmbeddedServer, ListenError, StoreNotFoundError
from mosaico.server.launch import free_port

# The three tests of MosaicoClient.local below stay local: they are about the embedded
# default itself (its folder, its port option, its create switch over a folder).


def test_local_starts_and_stops_its_server(tmp_path: Path) -> None:
    with MosaicoClient.local(tmp_path / "store") as client:
        assert client.info().version == PROTOCOL_VERSION
        assert client.info().limits.grpc_max_decode_message_size > 0
        port = int(client.location.rsplit(":", 1)[1])
        assert client.list_sequences() == []
    with pytest.raises(Unavailable, match="cannot connect"):
        MosaicoClient.connect("127.0.0.1", port, timeout=0.2)
    assert (tmp_path / "store").is_dir()


def test_local_listens_on_the_port_asked_for(tmp_path: Path) -> None:
    port = free_port()
    with MosaicoClient.local(tmp_path / "store", port=port) as client:
        assert client.location.endswith(f"127.0.0.1:{port}")
        with MosaicoClient.connect("127.0.0.1", port) as other:  # reachable from outside
            assert other.list_sequences() == []
        with pytest.raises(ListenError, match=f"cannot listen on 127.0.0.1:{port}.*in use"):
            MosaicoClient.local(tmp_path / "other", port=port)
    with pytest.raises(InputError, match="port must be 0"):
        MosaicoClient.local(tmp_path / "store", port=70000)


def test_local_without_create_opens_only_an_existing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFoundError, match="no store at .*the folder does not exist"):
        MosaicoClient.local(tmp_path / "typo", create=False)
    assert not (tmp_path / "typo").exists()
    with pytest.raises(FileNotFoundError, match="holds no mosaico catalog"):
        MosaicoClient.local(tmp_path, create=False)
    assert list(tmp_path.iterdir()) == []
    with MosaicoClient.local(tmp_path / "store") as client, client.sequence_create("s", {}):
        pass
    with MosaicoClient.local(tmp_path / "store", create=False) as client:
        assert client.list_sequences() == ["s"]


def test_connect_to_nothing_is_a_connection_error() -> None:
    with pytest.raises(ConnectionError, match="cannot connect"):
        MosaicoClient.connect("127.0.0.1", free_port(), timeout=0.2)


def test_connect_to_a_running_server_shares_its_data(
    server: EmbeddedServer, remote: MosaicoClient, tmp_path: Path
) -> None:
    with remote.sequence_create("shared", {"k": 1}):
        pass
    host, port = server.address
    with MosaicoClient.connect(host, port, api_key="ignored-by-an-open-server") as other:
        assert other.list_sequences() == ["shared"]
        handler = other.sequence_handler("shared")
        assert handler is not None and handler.user_metadata == {"k": 1}


def test_tls_against_a_plain_server_fails_clearly(server: EmbeddedServer) -> None:
    host, port = server.address
    with pytest.raises(Unavailable):
        MosaicoClient.connect(host, port, timeout=0.3, enable_tls=True)


def test_unknown_compression_is_rejected(server: EmbeddedServer) -> None:
    host, port = server.address
    with pytest.raises(ValueError, match="compression"):
        MosaicoClient.connect(host, port, compression="brotli")
    with MosaicoClient.connect(host, port, compression="gzip") as zipped:
        assert zipped.list_sequences() == []
