"""What a client may see from the server, whatever it sends (issue 11's invariant).

``attempt`` runs one client call and records its ``Outcome``: the status the pyarrow client
reports (classified by exception type, spec §12.2), the message, the reply documents. A
test gathers what it saw as ``Seen`` records (the hostile call itself, then the reads back
and the deletes of what it may have stored) and asserts the invariant on them:

``check_status``
    1. no call ends with INTERNAL or UNKNOWN, nor with a status outside spec §12;
    2. a reply a client parses is strict JSON (UTF-8, no NaN or Infinity);
    3. whatever a request stored reads back (OK or NOT_FOUND) and can be deleted.
``check_message``
    4. every error message (as the server sent it) is under 1 KiB, shows no server path or
       source frame (in all the client shows), and fits
       in gRPC's metadata limit (a client must not get RESOURCE_EXHAUSTED for an error).

Each violation raises an ``AssertionError`` subclass named after the property and the call
(``INTERNAL @ DoAction query``): Hypothesis tells failures apart by exception type, so a
failing run lists a minimal example for every property and call that fails, instead of one
ubiquitous failure hiding the others.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.flight as flight

from tests.hostile.conftest import ROLES
from tests.hostile.requests import PERMISSION

MAX_MESSAGE_BYTES = 1024

# Statuses that a server may answer to a client's mistake (spec §12.1, as pyarrow's client
# reports them; ALREADY_EXISTS and FAILED_PRECONDITION travel as INVALID_ARGUMENT).
REFUSALS = frozenset(
    {"INVALID_ARGUMENT", "NOT_FOUND", "PERMISSION_DENIED", "UNIMPLEMENTED", "UNAVAILABLE"}
)

# Fragments of server paths and Python source frames. pyarrow's own frame
# 'File "pyarrow/_flight.pyx"' is not one of them.
PATH_MARKERS = ("/tmp/", "/work/", "/home/", "/usr/", "/root/", "site-packages", '.py"',
                ".py,", ".py:", ".py'")  # fmt: skip


class Violation(AssertionError):
    """A property of the invariant that one call broke."""


_VIOLATIONS: dict[str, type[Violation]] = {}


def violation(prop: str, where: str) -> type[Violation]:
    """The exception class of ``prop`` broken by a call of kind ``where`` (one per pair)."""
    name = f"{prop} @ {where}"
    if name not in _VIOLATIONS:
        _VIOLATIONS[name] = type(name, (Violation,), {"__module__": __name__})
    return _VIOLATIONS[name]


def require(holds: bool, prop: str, where: str, detail: str) -> None:
    """Raise the violation of ``prop`` at ``where`` unless it ``holds``."""
    if not holds:
        raise violation(prop, where)(detail)


def classify(exc: BaseException) -> str:
    """The gRPC status behind an exception of pyarrow's Flight client (spec §12.2)."""
    kinds: tuple[tuple[type[BaseException], str], ...] = (
        (flight.FlightInternalError, "INTERNAL"),
        (flight.FlightServerError, "UNKNOWN"),
        (flight.FlightUnauthorizedError, "PERMISSION_DENIED"),
        (flight.FlightUnauthenticatedError, "UNAUTHENTICATED"),
        (flight.FlightTimedOutError, "TIMEOUT"),
        (flight.FlightUnavailableError, "UNAVAILABLE"),
        (flight.FlightCancelledError, "CANCELLED"),
        (pa.ArrowKeyError, "NOT_FOUND"),
        (pa.ArrowNotImplementedError, "UNIMPLEMENTED"),
        (pa.ArrowInvalid, "INVALID_ARGUMENT"),
    )
    for kind, status in kinds:
        if isinstance(exc, kind):
            if status == "INVALID_ARGUMENT" and "resource exhausted" in str(exc):
                return "RESOURCE_EXHAUSTED"
            return status
    if type(exc) is pa.ArrowException:
        return "UNKNOWN"  # what pyarrow's server makes of an exception it cannot map
    if isinstance(exc, OSError) and "Detail: Unauthorized" in str(exc):
        return "PERMISSION_DENIED"  # pyarrow's get_schema reports a middleware refusal so
    if isinstance(exc, OSError) and "Flight returned internal error" in str(exc):
        return "INTERNAL"  # how pyarrow's client reports some INTERNAL statuses
    return f"OTHER:{type(exc).__name__}"


@attrs.frozen
class Outcome:
    """What one call gave the client. ``kind`` names the call for grouping failures
    (``DoAction query``); ``detail`` says which one it was."""

    kind: str
    status: str
    message: str = ""
    replies: tuple[bytes, ...] = ()
    seconds: float = 0.0
    value: Any = attrs.field(default=None, eq=False)
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == "OK"

    def __repr__(self) -> str:
        text = self.message if len(self.message) <= 1500 else self.message[:1500] + "..."
        what = f"{self.kind} {self.detail[:300]}".strip()
        return f"{what} -> {self.status} ({self.seconds:.2f} s): {text!r}"


def attempt(
    kind: str,
    run: Callable[[], Any],
    replies: Callable[[Any], Iterable[bytes]] | None = None,
    detail: str = "",
) -> Outcome:
    """Run ``run()``; ``replies(value)`` are the documents of a successful reply."""
    started = time.perf_counter()
    try:
        value = run()
    except Exception as exc:  # every failure is data here; the checks judge it
        return Outcome(kind, classify(exc), str(exc), seconds=time.perf_counter() - started,
                       detail=detail)  # fmt: skip
    docs = tuple(replies(value)) if replies else ()
    return Outcome(kind, "OK", replies=docs, seconds=time.perf_counter() - started,
                   value=value, detail=detail)  # fmt: skip


@attrs.frozen
class Context:
    """What the checks need to know about the request: its bytes and the store folder."""

    sent: bytes
    store: Path
    big_headers: bool = False  # the request's own headers exceed gRPC's metadata limit


@attrs.frozen
class Seen:
    """One outcome, the request it answered, and its part: the hostile ``request``, a
    ``readback`` of what it may have stored, or the ``delete`` of that."""

    outcome: Outcome
    ctx: Context
    part: str = "request"
    after: str = ""  # for a readback or delete: the kind of the hostile call before it

    @property
    def where(self) -> str:
        """The call, and for reads back and deletes the hostile call they follow."""
        return f"{self.outcome.kind} after {self.after}" if self.after else self.outcome.kind


def loads_deep(doc: bytes | str, **options: Any) -> Any:
    """``json.loads`` whatever the nesting depth: the test's own stack is deep (pytest,
    Hypothesis), and depth is not what the checks judge (the reads that must work are)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return json.loads(doc, **options)
    finally:
        sys.setrecursionlimit(limit)


def strict_json_error(doc: bytes) -> str | None:
    """Why ``doc`` is not a document a strict JSON peer can read (None: it is)."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"non-standard JSON constant {constant}")

    try:
        loads_deep(doc.decode("utf-8"), parse_constant=refuse)
    except (UnicodeDecodeError, ValueError) as exc:
        return f"{exc}; document starts {doc[:200]!r}"
    return None


def leaked_paths(message: str, sent: bytes, store: Path) -> list[str]:
    """The server paths in ``message`` that the request itself did not contain."""
    markers = (str(store), str(store.parent), *PATH_MARKERS)
    return [m for m in markers if m in message and m.encode() not in sent]


def check_status(seen: Seen) -> None:
    """Properties 1-3 (module docstring) on one outcome."""
    outcome, where = seen.outcome, seen.where
    status, shown = outcome.status, repr(outcome)
    if seen.part == "readback":
        require(status in ("OK", "NOT_FOUND"), "accepted write breaks a read", where, shown)
    if seen.part == "delete":
        require(status in ("OK", "NOT_FOUND"), "sequence cannot be deleted", where, shown)
    require(status != "INTERNAL", "INTERNAL", where, shown)
    require(status != "UNKNOWN", "UNKNOWN", where, shown)
    require(status != "TIMEOUT", "no reply before the client's deadline", where, shown)
    require(status in REFUSALS | {"OK", "RESOURCE_EXHAUSTED"}, "status outside spec §12", where, shown)
    crashed = status == "UNAVAILABLE" and not outcome.message.startswith("unavailable: ")
    require(not crashed, "server unreachable (crashed?)", where, shown)
    for doc in outcome.replies:
        why = strict_json_error(doc)
        require(why is None, "reply is not strict JSON", where, f"{why}: {outcome.kind} {outcome.detail[:300]}")


_CLIENT_CONTEXT = ". gRPC client debug context:"


def server_message(message: str) -> str:
    """The status message the server sent: pyarrow's client appends its own debug context
    to DoGet and DoPut errors, which repeats the server's message once more."""
    return message.split(_CLIENT_CONTEXT, 1)[0]


def check_message(seen: Seen) -> None:
    """Property 4 (module docstring) on one outcome; grouped by call, not by what preceded."""
    outcome, ctx = seen.outcome, seen.ctx
    where, shown = outcome.kind.split(" ")[0], repr(outcome)
    exhausted = outcome.status == "RESOURCE_EXHAUSTED" and not ctx.big_headers
    require(not exhausted, "error reply too large for the client (RESOURCE_EXHAUSTED)", where, shown)
    size = len(server_message(outcome.message).encode("utf-8", "surrogatepass"))
    require(size < MAX_MESSAGE_BYTES, "error message over 1 KiB", where, f"{size} bytes: {shown}")
    leaks = leaked_paths(outcome.message, ctx.sent, ctx.store)
    require(not leaks, "error message shows server paths", where, f"{leaks}: {shown}")


def served_differs(back: Outcome, schema: pa.Schema, batches: list[pa.RecordBatch]) -> tuple[str, str] | None:
    """How an accepted upload's read back differs from what was sent: (what, detail)."""
    if not back.ok:
        return "cannot be read", repr(back)
    stored, table = back.value
    if table.schema.names != schema.names or not table.schema.equals(stored):
        return "schema", f"sent {schema}, GetSchema {stored}, DoGet {table.schema}"
    column = schema.get_field_index("timestamp_ns")
    sent = sorted(t for b in batches for t in b.column(column).to_pylist())
    got = table.column("timestamp_ns").to_pylist()
    return None if got == sent else ("rows", f"{len(got)} rows served, {len(sent)} sent (or out of order)")


def check_served_back(outcome: Outcome, back: Outcome | None, schema: pa.Schema,
                      batches: list[pa.RecordBatch]) -> None:  # fmt: skip
    """An upload the server accepted is served back as sent: same schema (GetSchema and
    DoGet agree), every row, sorted by ``timestamp_ns``."""
    if not outcome.ok or back is None:
        return
    differs = served_differs(back, schema, batches)
    what, detail = differs or ("", "")
    require(differs is None, "accepted upload not served back as sent", f"DoPut ({what})", detail)


def check_permission(key: str, call: str, outcome: Outcome, big_headers: bool) -> None:
    """Spec §2.4: missing, unknown and under-privileged keys get PERMISSION_DENIED first;
    ``key`` is a role of ``ROLES`` or a kind of hostile key (``requests.KeySpec``)."""
    where, shown = f"{call} with a {key} key", repr(outcome)
    if outcome.status == "RESOURCE_EXHAUSTED" and big_headers:
        return  # gRPC refused the oversized header before the server saw the call
    if key in ROLES:
        needed = PERMISSION[call]
        allowed = needed is None or needed in ROLES[key][1]
        denied = outcome.status == "PERMISSION_DENIED"
        require(denied != allowed, "wrong permission answer", where, shown)
    elif key in ("missing", "unknown", "empty", "prefix", "huge"):
        require(outcome.status == "PERMISSION_DENIED", "bad key not refused", where, shown)
