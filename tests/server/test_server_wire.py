"""Streams no pyarrow client can produce, sent as raw gRPC frames (FlightData protobuf)."""

from __future__ import annotations

import json
import struct

import grpc
import pyarrow as pa

from tests.server.server_helpers import Raw

DO_PUT = "/arrow.flight.protocol.FlightService/DoPut"


def _varint(value: int) -> bytes:
    out = b""
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            return out + bytes([low])
        out += bytes([low | 0x80])


def _bytes_field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _ipc(buffer: pa.Buffer) -> tuple[bytes, bytes]:
    """(flatbuffer header, body) of an encapsulated IPC message."""
    raw = buffer.to_pybytes()
    length = struct.unpack("<i", raw[4:8])[0]
    return raw[8 : 8 + length], raw[8 + length :]


def _flight_data(header: bytes, body: bytes = b"", command: bytes | None = None) -> bytes:
    out = b""
    if command is not None:  # FlightDescriptor{type: CMD (2), cmd}
        out += _bytes_field(1, _varint(1 << 3) + _varint(2) + _bytes_field(2, command))
    out += _bytes_field(2, header)
    return out + (_bytes_field(1000, body) if body else b"")


def test_second_schema_in_one_stream_is_rejected(server: tuple[object, Raw]) -> None:
    embedded, raw = server
    session = raw.new_sequence("seq")
    uuid = raw.new_topic(session, "seq/a")
    first = pa.schema([pa.field("timestamp_ns", pa.int64(), nullable=False)])
    second = first.append(pa.field("x", pa.float64()))
    batch = pa.record_batch([pa.array([7], pa.int64())], schema=first)
    command = json.dumps({"resource_locator": "seq/a", "topic_uuid": uuid}).encode()
    messages = [
        _flight_data(_ipc(first.serialize())[0], command=command),
        _flight_data(*_ipc(batch.serialize())),
        _flight_data(_ipc(second.serialize())[0]),
    ]
    host, port = embedded.address  # type: ignore[attr-defined]
    with grpc.insecure_channel(f"{host}:{port}") as channel:
        call = channel.stream_stream(
            DO_PUT, request_serializer=lambda m: m, response_deserializer=lambda m: m
        )
        try:
            list(call(iter(messages)))
            raise AssertionError("the second schema was accepted")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "malformed or interrupted upload stream" in (exc.details() or "")
    # The batch accepted before the bad message is kept; the stored schema is the first one.
    schema, batches = raw.read("seq/a")
    assert schema == first
    assert pa.Table.from_batches(batches).column(0).to_pylist() == [7]
