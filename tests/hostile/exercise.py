"""Send one hostile request of each kind and gather what the client saw (``Seen``).

Each ``exercise_*`` makes a fresh ``Scene`` (the example's own resources), sends the
request, then reads back and deletes whatever the request may have stored. It asserts
nothing: the tests decide which properties to check on what was seen.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.flight as flight
from hypothesis import assume

from mosaico.protocol.permissions import API_KEY_HEADER
from tests.hostile import requests as rq
from tests.hostile.conftest import Served, tail
from tests.hostile.invariant import Context, Outcome, Seen, attempt, check_status
from tests.hostile.scene import (
    THING,
    Scene,
    Shared,
    Wire,
    action_docs,
    info_docs,
    snapshot,
    thing_rows,
    write_canary,
)


@attrs.frozen(repr=False)
class Fuzz:
    """The server under fuzzing, a connection to it, and the canary."""

    served: Served
    wire: Wire
    shared: Shared

    def __repr__(self) -> str:
        return f"Fuzz({self.served.location})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # Hypothesis prints examples with this

    def scene(self) -> Scene:
        """Fresh resources for one example."""
        return Scene(self.wire, self.shared)

    def ctx(self, sent: bytes, big_headers: bool = False) -> Context:
        """The context of a request that sent ``sent``."""
        return Context(sent, self.served.store, big_headers)


@contextlib.contextmanager
def fuzzing(served: Served) -> Iterator[Fuzz]:
    """A connection to ``served`` and the canary written on it, for one fuzzing run."""
    wire = Wire(served)
    try:
        yield Fuzz(served, wire, write_canary(served, wire))
    finally:
        wire.close()


def canary_intact(fz: Fuzz) -> None:
    """After a fuzzing run: the server is alive and quick, global listings work, and the
    canary reads back byte-identical."""
    served, wire = fz.served, fz.wire
    assert served.alive(), f"mosaico serve died during the fuzzing:\n{tail(served.log)}"
    started = time.perf_counter()
    wire.action("info", b"{}")
    assert time.perf_counter() - started < 2.0, "info took more than 2 s after the fuzzing"
    ctx = Context(b"", served.store)
    for outcome in (
        attempt("ListFlights", lambda: list(wire.client.list_flights(b"", served.options()))),
        attempt("DoAction query", lambda: wire.action("query", b"{}"), lambda b: action_docs("query", b)),
    ):
        check_status(Seen(outcome, ctx, "readback", "the fuzzing"))
    for name, recorded in fz.shared.before.items():
        now = snapshot(wire, name)
        changed = sorted(k for k in recorded.keys() | now.keys() if recorded.get(k) != now.get(k))
        assert not changed, f"canary {name!r} changed: {changed}"


# -- DoAction ------------------------------------------------------------------------------


def _guard_protected(scene: Scene, name: str, payload: bytes, sent: bytes) -> None:
    """Destructive requests never aim at the canary: deleting it is allowed, not a bug."""
    aimed = any(t.encode() in payload for t in rq.SHARED_TOKENS) or scene.touches_protected(sent)
    if name in rq.DELETE_ACTIONS and aimed:
        scene.cleanup()
        assume(False)


def exercise_action(fz: Fuzz, request: rq.ActionRequest) -> list[Seen]:
    """One DoAction, then the reads back of what it stored (if it wrote), then deletes."""
    scene = fz.scene()
    payload = request.payload()
    sent = scene.render(payload)
    _guard_protected(scene, request.name, payload, sent)
    kind = f"DoAction {request.name if request.name in rq.ACTIONS else '<unknown>'}"
    outcome = attempt(kind, lambda: fz.wire.action(request.name, sent),
                      lambda bodies: action_docs(request.name, bodies), detail=repr(sent[:300]))  # fmt: skip
    if outcome.ok:
        scene.note_created(request.name, sent)
    ctx = fz.ctx(request.name.encode() + b"\n" + sent)
    wrote = outcome.ok and request.name not in (*rq.READ_ACTIONS, "info")
    return [Seen(outcome, ctx), *scene.aftermath(ctx, kind, wrote)]


# -- GetFlightInfo / GetSchema / DoGet / ListFlights --------------------------------------


def _descriptor(scene: Scene, spec: rq.Descriptor) -> tuple[flight.FlightDescriptor, bytes]:
    if spec.kind == "path":
        segments = [scene.render_text(s) for s in spec.path]
        sent = "/".join(segments).encode()
        return flight.FlightDescriptor.for_path(*segments), sent
    sent = scene.render(spec.payload())
    return flight.FlightDescriptor.for_command(sent), sent


def exercise_descriptor(fz: Fuzz, spec: rq.Descriptor, rpc: str, role: str) -> list[Seen]:
    """GetFlightInfo or GetSchema of one descriptor; a described window is read too."""
    scene = fz.scene()
    descriptor, sent = _descriptor(scene, spec)
    options, client = fz.served.options(role), fz.wire.client
    if rpc == "GetFlightInfo":
        outcome = attempt(rpc, lambda: client.get_flight_info(descriptor, options), info_docs,
                          detail=repr(sent[:300]))  # fmt: skip
    else:
        outcome = attempt(rpc, lambda: client.get_schema(descriptor, options), detail=repr(sent[:300]))
    ctx = fz.ctx(sent)
    seen = [Seen(outcome, ctx)]
    if rpc == "GetFlightInfo" and outcome.ok:
        for endpoint in outcome.value.endpoints:
            ticket = endpoint.ticket.ticket
            read = attempt("DoGet", lambda t=ticket: fz.wire.read(t, role), detail=repr(ticket[:200]))
            seen.append(Seen(read, fz.ctx(sent + ticket)))
    return seen + scene.aftermath(ctx, rpc, wrote=False)


def _ticket(scene: Scene, issued: list[bytes], spec: rq.TicketSpec) -> bytes:
    base = issued[0]
    if spec.how == "issued":
        return base
    if spec.how == "flip":
        flipped = bytearray(issued[spec.value % len(issued)])
        flipped[spec.value % len(flipped)] ^= 1 << (spec.value % 8)
        return bytes(flipped)
    if spec.how == "cut":
        return base[: spec.value % len(base)]
    if spec.how == "append":
        return base + spec.value
    return scene.render(rq.body_bytes(spec.value))


def exercise_ticket(fz: Fuzz, spec: rq.TicketSpec) -> list[Seen]:
    """DoGet of one (tampered) ticket, read to the end of the stream."""
    scene = fz.scene()
    ticket = _ticket(scene, fz.shared.issued, spec)
    outcome = attempt("DoGet", lambda: fz.wire.read(ticket), detail=repr(ticket[:200]))
    ctx = fz.ctx(ticket)
    return [Seen(outcome, ctx), *scene.aftermath(ctx, "DoGet", wrote=False)]


def exercise_criteria(fz: Fuzz, criteria: bytes) -> list[Seen]:
    """ListFlights with ``criteria``."""
    outcome = attempt("ListFlights", lambda: list(fz.wire.client.list_flights(criteria, fz.served.options())),
                      detail=repr(criteria[:200]))  # fmt: skip
    return [Seen(outcome, fz.ctx(criteria))]


# -- DoPut -----------------------------------------------------------------------------------


def upload(wire: Wire, descriptor: flight.FlightDescriptor, schema: pa.Schema,
           batches: list[pa.RecordBatch], options: flight.FlightCallOptions) -> None:  # fmt: skip
    """One DoPut: the schema, the batches, the end of the stream, the final status."""
    writer, _ = wire.client.do_put(descriptor, schema, options)
    try:
        for batch in batches:
            writer.write_batch(batch)
        writer.done_writing()
    finally:
        writer.close()


def served_back(wire: Wire, topic: str) -> tuple[pa.Schema, pa.Table]:
    """What a reader gets of ``topic``: its GetSchema schema and its DoGet rows."""
    cmd = json.dumps({"resource_locator": topic}).encode()
    info = wire.client.get_flight_info(flight.FlightDescriptor.for_command(cmd), wire.served.options())
    stored = wire.client.get_schema(flight.FlightDescriptor.for_command(cmd), wire.served.options())
    return stored.schema, wire.read(info.endpoints[0].ticket.ticket)


@attrs.frozen
class UploadSeen:
    """What one upload gave: everything seen, and (for an upload to the example's own
    topic) what a reader then gets of that topic."""

    seen: list[Seen]
    outcome: Outcome
    back: Outcome | None


def exercise_upload(fz: Fuzz, spec: rq.UploadSpec) -> UploadSeen:
    """One DoPut built from ``spec``, then reads back of the topic and deletes."""
    scene = fz.scene()
    schema, batches = spec.build()
    kind, payload = spec.descriptor_payload()
    sent = scene.render(payload)
    descriptor = (flight.FlightDescriptor.for_path(sent.decode()) if kind == "path"
                  else flight.FlightDescriptor.for_command(sent))  # fmt: skip
    outcome = attempt("DoPut", lambda: upload(fz.wire, descriptor, schema, batches, fz.served.options()),
                      detail=f"{spec!r}")  # fmt: skip
    ctx = fz.ctx(sent + str(schema).encode())
    back = None
    if spec.descriptor == "own":
        topic = scene.tokens[rq.TOPIC]
        back = attempt("DoGet", lambda: served_back(fz.wire, topic), detail=f"served back {topic!r}")
    seen = [Seen(outcome, ctx), *([Seen(back, ctx, "readback", "DoPut")] if back else [])]
    return UploadSeen(seen + scene.aftermath(ctx, "DoPut", wrote=True), outcome, back)


# -- API keys ----------------------------------------------------------------------------------


def key_headers(served: Served, key: rq.KeySpec) -> list[tuple[bytes, bytes]]:
    """The API key headers ``key`` describes."""
    name = API_KEY_HEADER.encode()
    admin = served.keys["admin"].encode()
    values = {
        "missing": [], "unknown": [(name, b"hostile-unknown-key")], "empty": [(name, b"")],
        "non_ascii": [(name, "cl\u00e9-\u65e5".encode())], "prefix": [(name, admin[:-1])],
        "padded": [(name, b" " + admin + b" ")], "huge": [(name, b"k" * key.size)],
        "duplicate": [(name, served.keys["reader"].encode()), (name, admin)],
    }  # fmt: skip
    if key.kind in served.keys:
        return [(name, served.keys[key.kind].encode())]
    return values[key.kind]


KEYED_BODIES: dict[str, Any] = {
    "info": {}, "query": {}, "sequence_notification_list": {"locator": rq.SEQ},
    "sequence_create": {"locator": rq.NEWSEQ, "user_metadata": {}},
    "session_create": {"locator": rq.SEQ},
    "sequence_notification_create": {"locator": rq.SEQ, "notification_type": "error", "msg": "m"},
    "sequence_delete": {"locator": rq.SEQ}, "topic_notification_purge": {"locator": rq.TOPIC},
    "GetFlightInfo": {"resource_locator": rq.CANARY},
    "GetSchema": {"resource_locator": rq.CANARY_TOPIC},
    "DoPut": {"resource_locator": rq.TOPIC, "topic_uuid": rq.TOPIC_UUID},
}  # fmt: skip


def _keyed_run(fz: Fuzz, call: str, sent: bytes, malformed: bool,
               options: flight.FlightCallOptions) -> Any:  # fmt: skip
    client = fz.wire.client
    runs = {
        "GetFlightInfo": lambda: client.get_flight_info(flight.FlightDescriptor.for_command(sent), options),
        "GetSchema": lambda: client.get_schema(flight.FlightDescriptor.for_command(sent), options),
        "DoGet": lambda: client.do_get(flight.Ticket(sent if malformed else fz.shared.issued[0]), options).read_all(),
        "ListFlights": lambda: list(client.list_flights(b"?" if malformed else b"", options)),
        "DoPut": lambda: upload(fz.wire, flight.FlightDescriptor.for_command(sent), THING,
                                [thing_rows(3, "k")], options),
    }  # fmt: skip
    return runs.get(call) or (lambda: fz.wire.action(call, sent, options=options))


def exercise_key(fz: Fuzz, key: rq.KeySpec, call: str, malformed: bool) -> tuple[list[Seen], Outcome] | None:
    """``call`` (valid, or with a malformed body) with the headers of ``key``; None when
    gRPC's client refuses to send such a header (nothing reached the server)."""
    scene = fz.scene()
    headers = key_headers(fz.served, key)
    options = flight.FlightCallOptions(headers=headers, timeout=30)
    sent = b"{" if malformed else scene.render(json.dumps(KEYED_BODIES.get(call, {})).encode())
    kind = call if call[0].isupper() else f"DoAction {call}"
    outcome = attempt(kind, _keyed_run(fz, call, sent, malformed, options), detail=f"key {key!r}")
    if key.kind == "non_ascii" and "Invalid metadata" in outcome.message:
        scene.cleanup()
        return None
    ctx = fz.ctx(sent, big_headers=sum(len(v) for _, v in headers) > 8000)
    wrote = outcome.ok and call not in ("info", "query")
    return [Seen(outcome, ctx), *scene.aftermath(ctx, kind, wrote)], outcome
