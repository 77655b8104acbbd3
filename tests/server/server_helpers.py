"""Helpers for server tests: a sample schema and a raw Flight client speaking JSON by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight

from mosaico.server import EmbeddedServer

SCHEMA = pa.schema(
    [
        pa.field("timestamp_ns", pa.int64(), nullable=False, metadata={"description": "t"}),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("label", pa.string()),
        pa.field("covariance", pa.list_(pa.float64(), 3)),
        pa.field(
            "header",
            pa.struct([pa.field("frame_id", pa.string()), pa.field("seq", pa.uint32())]),
        ),
        pa.field("positions", pa.list_(pa.float32()), nullable=False),
    ]
)


def make_batch(timestamps: list[int], schema: pa.Schema = SCHEMA) -> pa.RecordBatch:
    rows = [
        {
            "timestamp_ns": t,
            "value": float(t) / 2,
            "label": None if t % 5 == 0 else f"l{t}",
            "covariance": None if t % 3 == 0 else [float(t), 0.0, 1.0],
            "header": None if t % 7 == 0 else {"frame_id": f"f{t % 4}", "seq": t % 1000},
            "positions": [float(t % 10)] * (t % 4),
        }
        for t in timestamps
    ]
    return pa.RecordBatch.from_pylist(rows, schema=schema)


@contextmanager
def raw_server(server: EmbeddedServer) -> Iterator[Raw]:
    """``server`` started on loopback until the block ends, and a raw client of it."""
    with server as (host, port):
        client = flight.FlightClient(f"grpc://{host}:{port}")
        try:
            yield Raw(client)
        finally:
            client.close()


class Raw:
    """A raw Flight client speaking the protocol by hand (JSON in, envelopes out)."""

    def __init__(self, client: flight.FlightClient) -> None:
        self.client = client

    def action(self, name: str, body: Any = None, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
        results = list(self.client.do_action(flight.Action(name, data)))
        document = json.loads(b"".join(r.body.to_pybytes() for r in results))
        assert document["action"] == name
        return document["response"]

    def new_sequence(self, name: str, metadata: dict[str, Any] | None = None) -> dict[str, str]:
        self.action("sequence_create", {"locator": name, "user_metadata": metadata or {}})
        return self.action("session_create", {"locator": name})

    def new_topic(self, session: dict[str, str], locator: str, tag: str = "Thing",
                  fmt: str = "default", metadata: dict[str, Any] | None = None) -> str:  # fmt: skip
        body = {
            "session_uuid": session["uuid"], "locator": locator, "serialization_format": fmt,
            "ontology_tag": tag, "user_metadata": metadata or {},
        }  # fmt: skip
        return str(self.action("topic_create", body)["uuid"])

    def put(self, locator: str, topic_uuid: str, batches: list[pa.RecordBatch],
            schema: pa.Schema = SCHEMA) -> None:  # fmt: skip
        descriptor = flight.FlightDescriptor.for_command(
            json.dumps({"resource_locator": locator, "topic_uuid": topic_uuid})
        )
        writer, _ = self.client.do_put(descriptor, schema)
        for batch in batches:
            writer.write_batch(batch)
        writer.close()

    def upload(self, locator: str, stamps: list[list[int]], schema: pa.Schema = SCHEMA) -> None:
        """A topic ``<sequence>/<path>`` (its sequence made if new) of ``make_batch`` rows,
        one batch per list of timestamps."""
        sequence = locator.split("/")[0]
        try:
            session = self.new_sequence(sequence)
        except pa.ArrowInvalid:
            session = self.action("session_create", {"locator": sequence})
        uuid = self.new_topic(session, locator)
        self.put(locator, uuid, [make_batch(b, schema) for b in stamps], schema)

    def info(self, locator: str, **window: int) -> flight.FlightInfo:
        cmd = {"resource_locator": locator, **window}
        return self.client.get_flight_info(flight.FlightDescriptor.for_command(json.dumps(cmd)))

    def read(self, locator: str, **window: int) -> tuple[pa.Schema, list[pa.RecordBatch]]:
        info = self.info(locator, **window)
        reader = self.client.do_get(info.endpoints[0].ticket)
        batches = [chunk.data for chunk in reader]
        return reader.schema, batches
