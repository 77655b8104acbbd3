"""The viewer's HTTP API: the Python side of the coming ``mosaico ui`` web app (the ``ui``
extra: Starlette, served by uvicorn).

`create_app` builds a Starlette app that talks to the platform only through a
`MosaicoClient`, like any user program:

- ``GET /api/sequences?glob=&offset=&limit=&sort=name|created|size&order=asc|desc``:
  ``{total, items: [{name, metadata, size_bytes, rows, start_ns, end_ns, topics,
  created_ns}]}``, ``topics`` the topic count. The names come from one ``ListFlights``
  (creation order), filtered by the glob (``fnmatch``, case-sensitive) and sorted; then
  only the page's sequences are fetched (one ``GetFlightInfo`` each), so a page of 100 of
  10,000 sequences costs 101 calls. ``sort=size`` has no cheaper source: it fetches every
  sequence the glob keeps.
- ``GET /api/sequences/{name}``: the sequence, its sessions, and its topics (``name, tag,
  rows, size_bytes, metadata, start_ns, end_ns, fields``: the numeric leaves one can plot,
  with units); one ``GetFlightInfo`` and one ``GetSchema`` per topic.
- ``GET /api/series?sequence=S&topic=T&field=F&field=G&start=&end=&buckets=``: the fields'
  M4-downsampled points (`downsample`) as an Arrow IPC stream (`ARROW_STREAM`). Its schema
  is ``field: dictionary<int32, string>, timestamp_ns: int64, value: float64``; there is
  one record batch per field, in the order asked (empty when the range has no sample),
  every batch with the same dictionary (the field names). The schema's metadata key
  ``mosaico.series`` holds JSON ``{start_ns, end_ns, bucket_ns, fields: [{name, unit,
  rows, points}]}``. At most 4 points per bucket per field; ``buckets`` in
  1..`MAX_API_BUCKETS` (default `DEFAULT_BUCKETS`).

Errors are JSON ``{"error": "..."}``: 400 for bad parameters (numbers, paging, sort, an
unknown or non-numeric field, an empty range), 404 for an unknown sequence or topic, 503
when the platform does not answer; never a traceback. Anything unexpected is logged and
answered 500 with a fixed message.

>>> app = create_app(MosaicoClient.connect("localhost"))
>>> uvicorn.run(app, host="127.0.0.1", port=8765)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from mosaico.client import MosaicoClient, SequenceHandler, TopicHandler
from mosaico.errors import MosaicoError
from mosaico.extras import require
from mosaico.protocol.errors import ProtocolError
from mosaico.protocol.names import TopicLocator
from mosaico.viewer.series import DEFAULT_BUCKETS, Series, downsample, numeric_fields

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.datastructures import QueryParams
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["ARROW_STREAM", "MAX_API_BUCKETS", "MAX_LIMIT", "SERIES_METADATA", "create_app"]

log = logging.getLogger("mosaico.viewer")

ARROW_STREAM = "application/vnd.apache.arrow.stream"
SERIES_METADATA = b"mosaico.series"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_API_BUCKETS = 10_000
SORTS = ("created", "name", "size")
ORDERS = ("asc", "desc")
SERIES_SCHEMA = pa.schema(
    [
        ("field", pa.dictionary(pa.int32(), pa.string())),
        ("timestamp_ns", pa.int64()),
        ("value", pa.float64()),
    ]
)
UNAVAILABLE = (
    "the mosaico platform is unavailable (it went away or does not answer); retry once it is back"
)
INTERNAL = "internal error of the viewer (logged on its side)"
# A platform refusal's status, by its protocol code; any other code: 502.
_STATUS = {
    "NOT_FOUND": 404,
    "INVALID_ARGUMENT": 400,
    "PERMISSION_DENIED": 403,
    "FAILED_PRECONDITION": 409,
    "UNAVAILABLE": 503,
}
_MAX_MESSAGE = 500


class ApiError(Exception):
    """A request the API refuses: the HTTP status and the message sent as ``error``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# -- parameters ----------------------------------------------------------------------------


def _int(
    params: Mapping[str, str],
    name: str,
    default: int | None,
    lo: int | None = None,
    hi: int | None = None,
) -> int | None:
    """The integer query parameter ``name`` (``default`` when absent or empty), in lo..hi."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw[:40]!r}") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ApiError(400, f"{name} must be in {bounds}, got {value}")
    return value


def _choice(params: Mapping[str, str], name: str, choices: Sequence[str]) -> str:
    value = params.get(name) or choices[0]
    if value not in choices:
        raise ApiError(400, f"{name} must be one of {', '.join(choices)}, got {value[:40]!r}")
    return value


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise ApiError(400, f"the {name} parameter is required")
    return value


# -- catalog -------------------------------------------------------------------------------


def _summary(seq: SequenceHandler) -> dict[str, Any]:
    return {
        "name": seq.name,
        "metadata": seq.user_metadata,
        "size_bytes": seq.total_size_bytes,
        "rows": seq.total_row_count,
        "start_ns": seq.timestamp_ns_min,
        "end_ns": seq.timestamp_ns_max,
        "topics": len(seq.topics),
        "created_ns": seq.created_timestamp,
    }


def _handlers(client: MosaicoClient, names: Sequence[str]) -> list[SequenceHandler]:
    """The handlers of ``names``; sequences deleted since they were listed are left out."""
    return [h for n in names if (h := client.sequence_handler(n)) is not None]


def _size_key(seq: SequenceHandler) -> tuple[int, str]:
    return seq.total_size_bytes, seq.name


def list_sequences(client: MosaicoClient, params: Mapping[str, str]) -> dict[str, Any]:
    """The ``/api/sequences`` reply to query ``params`` (see the module docstring)."""
    glob = params.get("glob") or "*"
    offset = _int(params, "offset", 0, 0)
    limit = _int(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    sort = _choice(params, "sort", SORTS)
    desc = _choice(params, "order", ORDERS) == "desc"
    assert offset is not None and limit is not None
    names = [n for n in client.list_sequences() if fnmatchcase(n, glob)]
    if sort == "size":
        every = sorted(_handlers(client, names), key=_size_key, reverse=desc)
        page = every[offset : offset + limit]
    else:
        if sort == "name":
            names.sort()
        if desc:
            names.reverse()
        page = _handlers(client, names[offset : offset + limit])
    return {"total": len(names), "items": [_summary(h) for h in page]}


def _sequence(client: MosaicoClient, name: str) -> SequenceHandler:
    seq = client.sequence_handler(name)
    if seq is None:
        raise ApiError(404, f"no sequence {name!r}")
    return seq


def _topic(topic: TopicHandler) -> dict[str, Any]:
    return {
        "name": topic.name,
        "tag": topic.ontology_tag,
        "rows": topic.row_count,
        "size_bytes": topic.total_size_bytes,
        "metadata": topic.user_metadata,
        "start_ns": topic.timestamp_ns_min,
        "end_ns": topic.timestamp_ns_max,
        "fields": [
            {"name": f.name, "unit": f.unit, "type": str(f.type)} for f in numeric_fields(topic)
        ],
    }


def describe_sequence(client: MosaicoClient, name: str) -> dict[str, Any]:
    """The ``/api/sequences/{name}`` reply: the summary, ``sessions`` and ``topics``."""
    seq = _sequence(client, name)
    sessions = [
        {
            "locator": s.locator,
            "created_ns": s.created_at_ns,
            "completed_ns": s.completed_at_ns,
            "locked": s.locked,
            "topics": [TopicLocator.parse(t).name for t in s.topics],
        }
        for s in seq.sessions
    ]
    topics = [_topic(seq.get_topic_handler(t)) for t in seq.topic_metadata]
    return {**_summary(seq), "sessions": sessions, "topics": topics}


# -- series --------------------------------------------------------------------------------


def series_batches(series: Sequence[Series]) -> list[pa.RecordBatch]:
    """One record batch per series (empty ones kept), of `SERIES_SCHEMA` with its
    metadata."""
    names = pa.array([s.field for s in series], pa.string())
    first = series[0]
    meta = {
        "start_ns": first.start_ns,
        "end_ns": first.end_ns,
        "bucket_ns": first.bucket_ns,
        "fields": [
            {"name": s.field, "unit": s.unit, "rows": s.rows, "points": int(s.values.size)}
            for s in series
        ],
    }
    schema = SERIES_SCHEMA.with_metadata({SERIES_METADATA: json.dumps(meta).encode()})
    return [
        pa.record_batch(
            [
                pa.DictionaryArray.from_arrays(np.full(s.values.size, i, np.int32), names),
                pa.array(s.timestamps_ns, pa.int64()),
                pa.array(s.values, pa.float64()),
            ],
            schema=schema,
        )
        for i, s in enumerate(series)
    ]


def _topic_handler(client: MosaicoClient, sequence: str, topic: str) -> TopicHandler:
    handler = client.topic_handler(sequence, topic)
    if handler is None:
        _sequence(client, sequence)
        raise ApiError(404, f"sequence {sequence!r} has no topic {topic!r}")
    return handler


def series_stream(client: MosaicoClient, params: QueryParams) -> bytes:
    """The ``/api/series`` reply (an Arrow IPC stream) to query ``params`` (a multi-dict:
    ``field`` repeats)."""
    sequence, topic = _required(params, "sequence"), _required(params, "topic")
    fields = params.getlist("field")
    if not fields:
        raise ApiError(400, "name at least one field (field=acceleration.x&field=...)")
    start, end = _int(params, "start", None), _int(params, "end", None)
    buckets = _int(params, "buckets", DEFAULT_BUCKETS, 1, MAX_API_BUCKETS)
    assert buckets is not None
    handler = _topic_handler(client, sequence, topic)
    batches = series_batches(list(downsample(handler, fields, start, end, buckets).values()))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batches[0].schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return bytes(sink.getvalue())


# -- errors --------------------------------------------------------------------------------


def error_reply(exc: Exception) -> tuple[int, str]:
    """The status and message answering ``exc``: an `ApiError` as it says, a platform
    refusal by its code (503 when unavailable), another `MosaicoError` (bad input) 400,
    anything else logged and answered 500 with a fixed message."""
    if isinstance(exc, ApiError):
        return exc.status, exc.message
    if isinstance(exc, ProtocolError):
        status = _STATUS.get(exc.code, 502)
        return status, UNAVAILABLE if status == 503 else str(exc)[:_MAX_MESSAGE]
    if isinstance(exc, MosaicoError):
        return 400, str(exc)[:_MAX_MESSAGE]
    log.error("viewer API: unexpected error", exc_info=exc)
    return 500, INTERNAL


# -- the app -------------------------------------------------------------------------------


def create_app(client: MosaicoClient) -> Starlette:
    """The viewer's HTTP API over ``client`` (see the module docstring), a Starlette app to
    serve with uvicorn. Requests run in Starlette's thread pool, sharing the client.

    Raises:
        MissingExtraError: Starlette is not installed (the ``ui`` extra).
    """
    require("ui", "starlette")
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def guarded(answer: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                return answer(request)
            except Exception as exc:  # every failure becomes a JSON reply
                status, message = error_reply(exc)
                return JSONResponse({"error": message}, status_code=status)

        return endpoint

    def sequences(request: Request) -> Response:
        return JSONResponse(list_sequences(client, request.query_params))

    def sequence(request: Request) -> Response:
        return JSONResponse(describe_sequence(client, request.path_params["name"]))

    def series(request: Request) -> Response:
        return Response(series_stream(client, request.query_params), media_type=ARROW_STREAM)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": f"{exc.detail}: {request.url.path}"}, exc.status_code)

    routes = [
        Route("/api/sequences", guarded(sequences)),
        Route("/api/sequences/{name:path}", guarded(sequence)),
        Route("/api/series", guarded(series)),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
