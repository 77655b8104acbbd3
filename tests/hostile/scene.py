"""The store the hostile requests meet: the shared, protected data written before the
fuzzing (the canary), and the fresh resources of each example.

``Wire`` speaks raw Flight with a role's key. ``write_canary`` writes the canary sequence
(through mosaico's own client, plus one session by hand whose UUIDs the fuzzing may aim at)
and the glob target sequence; ``snapshot`` records every byte a reader can get of them.
``Scene`` turns the tokens of ``tests.hostile.requests`` into the example's own names,
creating what the request refers to, then reads back and deletes it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.flight as flight

from mosaico import GPS, IMU, Message, MosaicoClient
from tests.client.client_data import MS, T0, gps, imu
from tests.hostile import requests as rq
from tests.hostile.conftest import Served
from tests.hostile.invariant import Context, Outcome, Seen, attempt, loads_deep

CANARY_NAME = "canaryQ7"
A_NAME = "a" * 40  # glob target: every string of this sequence is a run of 'a'
THING = pa.schema([
    pa.field("timestamp_ns", pa.int64(), nullable=False),
    pa.field("label", pa.string()),
    pa.field("value", pa.float64()),
])  # fmt: skip


def thing_rows(n: int, label: str) -> pa.RecordBatch:
    """``n`` rows of the ``THING`` schema, every label ``label``."""
    return pa.RecordBatch.from_pydict(
        {"timestamp_ns": [T0 + i * MS for i in range(n)], "label": [label] * n,
         "value": [float(i) for i in range(n)]}, schema=THING,
    )  # fmt: skip


def ipc_bytes(table: pa.Table) -> bytes:
    """``table`` as an Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def command(obj: Any) -> flight.FlightDescriptor:
    """A command descriptor holding ``obj`` as JSON."""
    return flight.FlightDescriptor.for_command(json.dumps(obj).encode())


class Wire:
    """A raw Flight client of ``served``; each call carries the key of a role."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.client = served.client()

    def __repr__(self) -> str:
        return f"Wire({self.served!r})"

    def close(self) -> None:
        """Close the connection."""
        self.client.close()

    def action(self, name: str, body: bytes, role: str | None = "admin",
               options: flight.FlightCallOptions | None = None) -> list[bytes]:  # fmt: skip
        """The result bodies of one DoAction."""
        opts = options or self.served.options(role)
        return [r.body.to_pybytes() for r in self.client.do_action(flight.Action(name, body), opts)]

    def ok(self, name: str, obj: Any) -> Any:
        """An admin DoAction that must succeed; its ``response``."""
        bodies = self.action(name, json.dumps(obj).encode())
        return json.loads(b"".join(bodies))["response"]

    def info(self, obj: Any, role: str | None = "admin") -> flight.FlightInfo:
        """GetFlightInfo of a JSON command."""
        return self.client.get_flight_info(command(obj), self.served.options(role))

    def read(self, ticket: bytes, role: str | None = "admin") -> pa.Table:
        """Every row DoGet gives for ``ticket``."""
        return self.client.do_get(flight.Ticket(ticket), self.served.options(role)).read_all()

    def put(self, locator: str, topic_uuid: str, batches: list[pa.RecordBatch],
            schema: pa.Schema = THING) -> None:  # fmt: skip
        """One complete DoPut of ``batches``."""
        descriptor = command({"resource_locator": locator, "topic_uuid": topic_uuid})
        writer, _ = self.client.do_put(descriptor, schema, self.served.options())
        for batch in batches:
            writer.write_batch(batch)
        writer.close()


def info_docs(info: flight.FlightInfo) -> Iterator[bytes]:
    """The JSON documents of a FlightInfo: its app_metadata and its endpoints'."""
    if info.app_metadata:
        yield bytes(info.app_metadata)
    for endpoint in info.endpoints:
        if endpoint.app_metadata:
            yield bytes(endpoint.app_metadata)


def action_docs(name: str, bodies: list[bytes]) -> list[bytes]:
    """The documents a client parses from a DoAction reply (spec §5.2)."""
    if name in rq.PAGED_ACTIONS:
        return bodies
    joined = b"".join(bodies)
    return [joined] if joined else []


@attrs.frozen(repr=False)
class Shared:
    """The protected resources every example may read (and must not be able to change):
    the tokens naming them, their snapshots taken before the fuzzing, the tickets the
    server issued for their topics."""

    tokens: dict[str, str]
    before: dict[str, dict[str, bytes]] = attrs.field(factory=dict)
    issued: list[bytes] = attrs.field(factory=list)

    def __repr__(self) -> str:
        return "Shared(canary)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # Hypothesis prints examples with this

    @property
    def protected(self) -> tuple[str, ...]:
        """Names that destructive requests of the fuzzing must not carry."""
        return (CANARY_NAME, A_NAME)


def write_canary(served: Served, wire: Wire) -> Shared:
    """Write the canary and the glob target; the tokens naming them."""
    client = MosaicoClient.connect(served.host, served.port, api_key=served.keys["admin"])
    try:
        with client.sequence_create(CANARY_NAME, {"site": "lab", "run": 7}) as seq:
            imu_writer = seq.topic_create("sensors/imu", {"model": "xsens"}, IMU)
            gps_writer = seq.topic_create("gps", {}, GPS)
            for i in range(50):
                imu_writer.push(Message(T0 + i * MS, imu(i)))
                gps_writer.push(Message(T0 + i * MS + 7, gps(i)))
    finally:
        client.close()
    session = wire.ok("session_create", {"locator": CANARY_NAME})
    thing = wire.ok("topic_create", {
        "session_uuid": session["uuid"], "locator": f"{CANARY_NAME}/things",
        "serialization_format": "default", "ontology_tag": "Thing", "user_metadata": {"k": 1}})  # fmt: skip
    wire.put(f"{CANARY_NAME}/things", thing["uuid"], [thing_rows(30, "canary")])
    wire.ok("session_finalize", {"session_uuid": session["uuid"]})

    wire.ok("sequence_create", {"locator": A_NAME, "user_metadata": {"s": A_NAME}})
    a_session = wire.ok("session_create", {"locator": A_NAME})
    a_topic = wire.ok("topic_create", {
        "session_uuid": a_session["uuid"], "locator": f"{A_NAME}/{A_NAME}",
        "serialization_format": "default", "ontology_tag": "Thing",
        "user_metadata": {"s": A_NAME}})  # fmt: skip
    wire.put(f"{A_NAME}/{A_NAME}", a_topic["uuid"], [thing_rows(20, A_NAME)])
    wire.ok("session_finalize", {"session_uuid": a_session["uuid"]})
    tokens = {
        rq.CANARY: CANARY_NAME, rq.CANARY_TOPIC: f"{CANARY_NAME}/sensors/imu",
        rq.CANARY_SESSION_UUID: session["uuid"], rq.CANARY_TOPIC_UUID: thing["uuid"],
        rq.ASEQ: A_NAME, rq.ATOPIC: f"{A_NAME}/{A_NAME}",
    }  # fmt: skip
    names = (CANARY_NAME, A_NAME)
    issued = [e.ticket.ticket for n in names for e in wire.info({"resource_locator": n}).endpoints]
    return Shared(tokens, {name: snapshot(wire, name) for name in names}, issued)


def snapshot(wire: Wire, sequence: str) -> dict[str, bytes]:
    """Every byte a reader gets of ``sequence``: descriptions, schemas, rows, notifications
    and its query result."""
    got: dict[str, bytes] = {}
    info = wire.info({"resource_locator": sequence})
    got["info"] = bytes(info.app_metadata)
    for endpoint in info.endpoints:
        locator = loads_deep(bytes(endpoint.app_metadata))["resource_locator"]
        got[f"{locator} endpoint"] = bytes(endpoint.app_metadata) + b"|" + endpoint.ticket.ticket
        topic_info = wire.info({"resource_locator": locator})
        got[f"{locator} info"] = b"".join(info_docs(topic_info))
        schema = wire.client.get_schema(command({"resource_locator": locator}), wire.served.options())
        got[f"{locator} schema"] = schema.schema.serialize().to_pybytes()
        got[f"{locator} rows"] = ipc_bytes(wire.read(endpoint.ticket.ticket))
        got[f"{locator} notifications"] = b"".join(
            wire.action("topic_notification_list", json.dumps({"locator": locator}).encode())
        )
    body = json.dumps({"locator": sequence}).encode()
    got["notifications"] = b"".join(wire.action("sequence_notification_list", body))
    query = json.dumps({"sequence": {"name": {"$eq": sequence}}}).encode()
    got["query"] = b"".join(wire.action("query", query))
    return got


_serial = itertools.count()


class Scene:
    """The example's own resources, created on demand from the tokens a request carries."""

    def __init__(self, wire: Wire, shared: Shared) -> None:
        self.wire = wire
        self.shared = shared
        n = next(_serial)
        self.seq, self.new_seq = f"fz{n}", f"fz{n}new"
        self.tokens: dict[str, str] = {rq.SEQ: self.seq, rq.NEWSEQ: self.new_seq, **shared.tokens}
        self.extra: list[str] = []  # sequences a hostile request may have created
        self.has_seq = self.has_topic = self.names_new = False

    def _ensure_sequence(self) -> None:
        if self.has_seq:
            return
        self.wire.ok("sequence_create", {"locator": self.seq, "user_metadata": {"k": 1}})
        session = self.wire.ok("session_create", {"locator": self.seq})
        self.tokens[rq.SESSION_UUID], self.tokens[rq.SESSION_LOC] = session["uuid"], session["locator"]
        self.has_seq = True

    def _ensure_topic(self) -> None:
        if self.has_topic:
            return
        self._ensure_sequence()
        topic = f"{self.seq}/t"
        created = self.wire.ok("topic_create", {
            "session_uuid": self.tokens[rq.SESSION_UUID], "locator": topic,
            "serialization_format": "default", "ontology_tag": "Thing", "user_metadata": {}})  # fmt: skip
        self.tokens[rq.TOPIC], self.tokens[rq.TOPIC_UUID] = topic, created["uuid"]
        self.has_topic = True

    def render(self, data: bytes) -> bytes:
        """``data`` with every token replaced; creates the resources the tokens name."""
        if any(t.encode() in data for t in (rq.TOPIC, rq.TOPIC_UUID)):
            self._ensure_topic()
        if any(t.encode() in data for t in (rq.SEQ, rq.SESSION_UUID, rq.SESSION_LOC)):
            self._ensure_sequence()
        self.names_new = self.names_new or rq.NEWSEQ.encode() in data
        for token, value in self.tokens.items():
            data = data.replace(token.encode(), value.encode())
        return data

    def render_text(self, text: str) -> str:
        """``render`` for a ``str``."""
        return self.render(text.encode("utf-8", "surrogatepass")).decode("utf-8", "surrogatepass")

    def touches_protected(self, sent: bytes) -> bool:
        """Whether ``sent`` names a protected sequence (a destructive request must not)."""
        return any(
            re.search(rb"(?<![A-Za-z0-9_-])" + re.escape(name.encode()) + rb"(?![A-Za-z0-9_-])", sent)
            for name in self.shared.protected
        )

    def note_created(self, name: str, body: bytes) -> None:
        """Remember the sequence a successful ``sequence_create`` made."""
        if name != "sequence_create":
            return
        try:
            locator = loads_deep(body).get("locator")
        except (ValueError, AttributeError):
            return
        if isinstance(locator, str) and locator.strip("/") not in self.shared.protected:
            self.extra.append(locator)

    def _sequences(self) -> list[str]:
        own = [self.seq] if self.has_seq else []
        names = [*own, *([self.new_seq] if self.names_new else []), *self.extra]
        return list(dict.fromkeys(n.strip("/") for n in names))

    def readbacks(self) -> list[Outcome]:
        """Read every own resource the way a client would: descriptions, rows, schemas,
        notifications, queries on their metadata."""
        outcomes: list[Outcome] = []
        for sequence in self._sequences():
            outcomes += self._read_sequence(sequence)
        return outcomes

    def _read_sequence(self, sequence: str) -> list[Outcome]:
        wire = self.wire
        described = attempt("GetFlightInfo", lambda: wire.info({"resource_locator": sequence}),
                            info_docs, detail=repr(sequence))  # fmt: skip
        outcomes = [described]
        for name, body in (
            ("sequence_notification_list", {"locator": sequence}),
            ("query", {"sequence": {"name": {"$eq": sequence}, "user_metadata": {"k": {"$nex": None}}}}),
            ("query", {"sequence": {"name": {"$eq": sequence}}, "topic": {"user_metadata": {"k": {"$nex": None}}}}),
        ):
            data = json.dumps(body).encode()
            outcomes.append(attempt(f"DoAction {name}", lambda n=name, d=data: wire.action(n, d),
                                    lambda bodies, n=name: action_docs(n, bodies), detail=repr(body)))  # fmt: skip
        if described.ok:
            for endpoint in described.value.endpoints:
                outcomes += self._read_topic(endpoint)
        return outcomes

    def _read_topic(self, endpoint: flight.FlightEndpoint) -> list[Outcome]:
        wire = self.wire
        ticket = endpoint.ticket.ticket
        outcomes = [attempt("DoGet", lambda: wire.read(ticket), detail=repr(ticket[:200]))]
        try:
            locator = loads_deep(bytes(endpoint.app_metadata))["resource_locator"]
        except (ValueError, KeyError, TypeError):
            return outcomes  # the endpoint's metadata itself is checked as strict JSON
        cmd = {"resource_locator": locator}
        outcomes.append(attempt("GetFlightInfo", lambda: wire.info(cmd), info_docs, detail=repr(locator)))
        outcomes.append(attempt("GetSchema", lambda: wire.client.get_schema(command(cmd), wire.served.options()),
                                detail=repr(locator)))  # fmt: skip
        body = json.dumps({"locator": locator}).encode()
        outcomes.append(attempt("DoAction topic_notification_list",
                                lambda: wire.action("topic_notification_list", body),
                                lambda bodies: action_docs("topic_notification_list", bodies),
                                detail=repr(locator)))  # fmt: skip
        return outcomes

    def cleanup(self) -> list[Outcome]:
        """Delete every own sequence (each must go, or be gone already)."""
        return [
            attempt("DoAction sequence_delete",
                    lambda n=name: self.wire.action("sequence_delete", json.dumps({"locator": n}).encode()),
                    detail=repr(name))  # fmt: skip
            for name in self._sequences()
        ]

    def aftermath(self, ctx: Context, after: str, wrote: bool) -> list[Seen]:
        """Read back (after a write that succeeded) and delete the example's resources;
        ``after`` is the kind of the hostile call."""
        seen = [Seen(o, ctx, "readback", after) for o in (self.readbacks() if wrote else [])]
        return seen + [Seen(o, ctx, "delete", after) for o in self.cleanup()]
