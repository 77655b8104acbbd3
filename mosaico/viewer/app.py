"""The viewer's web app: the pages of ``mosaico ui`` and the HTTP API they read (the ``ui``
extra: Starlette, served by uvicorn).

`create_app` builds a Starlette app that talks to the platform only through a
`MosaicoClient`, like any user program. ``/`` is the single-page app
(``mosaico/viewer/static``: our own scripts, and uPlot and apache-arrow from npm, shipped in
the wheel); the API:

- ``GET /api/sequences``: the paged catalog (`catalog.list_sequences`).
- ``GET /api/sequences/{name}``: the sequence, its sessions and topics
  (`catalog.describe_sequence`): per topic its tag, ``kind`` (``image``, ``gps`` or null),
  rate, rows, size, metadata, plottable ``fields`` with units, and ``states`` (string, enum
  and bool fields).
- ``GET /api/series?sequence=S&topic=T&field=F&field=G&start=&end=&buckets=``: the fields'
  M4-downsampled points (`downsample`) as an Arrow IPC stream (`ARROW_STREAM`) of
  ``field: dictionary<int32, string>, timestamp_ns: int64, value: float64``, one record
  batch per field in the order asked; the schema's metadata ``mosaico.series`` holds JSON
  ``{start_ns, end_ns, bucket_ns, fields: [{name, unit, rows, points}]}``.
- ``GET /api/frames?sequence=&topic=&start=&end=``: an image topic's frame times
  (``timestamp_ns: int64``, Arrow IPC); ``GET /api/frame?sequence=&topic=&t=NS``: the frame
  recorded at ``t`` as PNG (raw pixels, encoded here) or JPEG/PNG (passed through).
- ``GET /api/track?sequence=&topic=&start=&end=&points=``: a GPS topic's thinned track
  (``timestamp_ns, latitude, longitude``, Arrow IPC).
- ``GET /api/states?sequence=&topic=&field=&start=&end=&buckets=``: a string, enum or bool
  field's runs (``start_ns, end_ns: int64, value: string``, null for a mixed run).
- ``GET /api/query?where=&meta=&topic_meta=&name=&topic=&tag=&ranges_ns=``: the matching
  sequences and topics with the time ranges where the conditions hold (`run_search`).

Times are int64 nanoseconds; JSON replies carry them as numbers (a browser reads them to
about a microsecond), Arrow replies exactly. Errors are JSON ``{"error": "..."}``: 400 for
bad parameters, 404 for an unknown sequence or topic (or an unknown API path), 503 when
the platform does not answer; never a traceback. Anything unexpected is logged and
answered 500 with a fixed message.

>>> app = create_app(MosaicoClient.connect("localhost"))
>>> uvicorn.run(app, host="127.0.0.1", port=8765)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from mosaico.client import MosaicoClient, TopicHandler
from mosaico.errors import MosaicoError
from mosaico.extras import require
from mosaico.ml.client_source import HandlerSource
from mosaico.protocol.errors import ProtocolError
from mosaico.query.search import Search, SearchInputError, run_search
from mosaico.viewer.catalog import describe_sequence, list_sequences, sequence_of
from mosaico.viewer.frames import frame_at, frame_times
from mosaico.viewer.params import ApiError, int_param, optional_int, required_param
from mosaico.viewer.series import DEFAULT_BUCKETS, Series, downsample
from mosaico.viewer.states import state_runs
from mosaico.viewer.track import gps_track

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.datastructures import QueryParams
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = [
    "ARROW_STREAM",
    "INTERNAL",
    "MAX_API_BUCKETS",
    "SERIES_METADATA",
    "STATIC",
    "UNAVAILABLE",
    "create_app",
    "error_reply",
]

log = logging.getLogger("mosaico.viewer")

ARROW_STREAM = "application/vnd.apache.arrow.stream"
SERIES_METADATA = b"mosaico.series"
STATIC = Path(__file__).parent / "static"
MAX_API_BUCKETS = 10_000
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


def _ipc(batches: Sequence[pa.RecordBatch], schema: pa.Schema) -> bytes:
    """``batches`` as one Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return bytes(sink.getvalue())


def _table_ipc(columns: dict[str, Any], types: dict[str, pa.DataType]) -> bytes:
    table = pa.table({k: pa.array(v, types[k]) for k, v in columns.items()})
    return _ipc(table.to_batches(), table.schema)


def _topic_handler(client: MosaicoClient, params: QueryParams) -> TopicHandler:
    sequence, topic = required_param(params, "sequence"), required_param(params, "topic")
    handler = client.topic_handler(sequence, topic)
    if handler is None:
        sequence_of(client, sequence)
        raise ApiError(404, f"sequence {sequence!r} has no topic {topic!r}")
    return handler


def _range(params: QueryParams) -> tuple[int | None, int | None]:
    return optional_int(params, "start"), optional_int(params, "end")


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


def series_stream(client: MosaicoClient, params: QueryParams) -> bytes:
    """The ``/api/series`` reply (an Arrow IPC stream) to query ``params`` (a multi-dict:
    ``field`` repeats)."""
    handler = _topic_handler(client, params)
    fields = params.getlist("field")
    if not fields:
        raise ApiError(400, "name at least one field (field=acceleration.x&field=...)")
    start, end = _range(params)
    buckets = int_param(params, "buckets", DEFAULT_BUCKETS, 1, MAX_API_BUCKETS)
    batches = series_batches(list(downsample(handler, fields, start, end, buckets).values()))
    return _ipc(batches, batches[0].schema)


# -- frames, tracks, states ----------------------------------------------------------------


def frames_stream(client: MosaicoClient, params: QueryParams) -> bytes:
    """The ``/api/frames`` reply: the frame times of an image topic."""
    times = frame_times(HandlerSource(_topic_handler(client, params)), *_range(params))
    return _table_ipc({"timestamp_ns": times}, {"timestamp_ns": pa.int64()})


def frame_reply(client: MosaicoClient, params: QueryParams) -> tuple[bytes, str]:
    """The ``/api/frame`` reply: the frame's bytes and media type."""
    t = optional_int(params, "t")
    if t is None:
        raise ApiError(400, "the t parameter (a frame's record time, ns) is required")
    frame = frame_at(HandlerSource(_topic_handler(client, params)), t)
    return frame.data, frame.media_type


def _rows_in(handler: TopicHandler, start: int | None, end: int | None) -> int:
    """The catalogue's estimate of the topic's rows in ``[start, end)``, by time share."""
    lo, hi, rows = handler.timestamp_ns_min, handler.timestamp_ns_max, handler.row_count
    if lo is None or hi is None or hi <= lo:
        return rows
    a, b = max(lo, start if start is not None else lo), min(hi, end if end is not None else hi)
    return rows if b <= a else max(1, round(rows * (b - a) / (hi - lo)))


def track_stream(client: MosaicoClient, params: QueryParams) -> bytes:
    """The ``/api/track`` reply: a GPS topic's thinned track."""
    handler = _topic_handler(client, params)
    start, end = _range(params)
    points = int_param(params, "points", 2000, 1, 100_000)
    track = gps_track(HandlerSource(handler), start, end, points, _rows_in(handler, start, end))
    return _table_ipc(
        {"timestamp_ns": track.timestamps_ns, "latitude": track.latitude,
         "longitude": track.longitude},
        {"timestamp_ns": pa.int64(), "latitude": pa.float64(), "longitude": pa.float64()},
    )  # fmt: skip


def states_stream(client: MosaicoClient, params: QueryParams) -> bytes:
    """The ``/api/states`` reply: the runs of a string, enum or bool field."""
    handler = _topic_handler(client, params)
    field = required_param(params, "field")
    buckets = int_param(params, "buckets", DEFAULT_BUCKETS, 1, MAX_API_BUCKETS)
    runs = state_runs(HandlerSource(handler), field, *_range(params), buckets=buckets)
    return _table_ipc(
        {"start_ns": runs.starts_ns, "end_ns": runs.ends_ns, "value": runs.values},
        {"start_ns": pa.int64(), "end_ns": pa.int64(), "value": pa.string()},
    )


# -- query ---------------------------------------------------------------------------------


def query_reply(client: MosaicoClient, params: QueryParams) -> dict[str, Any]:
    """The ``/api/query`` reply: ``{matches}`` as `run_search` gives them."""
    search = Search(
        where=params.getlist("where"), meta=params.getlist("meta"),
        topic_meta=params.getlist("topic_meta"), name=params.get("name") or None,
        topic=params.get("topic") or None, tag=params.get("tag") or None,
    )  # fmt: skip
    ranges_ns = optional_int(params, "ranges_ns")
    if ranges_ns is not None and ranges_ns < 0:
        raise ApiError(400, f"ranges_ns must be >= 0, got {ranges_ns}")
    if not any([search.where, search.meta, search.topic_meta, search.name, search.topic,
                search.tag]):  # fmt: skip
        raise ApiError(400, "give at least one condition (where, meta, name, topic or tag)")
    try:
        return {"matches": run_search(client, search, ranges_ns)}
    except SearchInputError as err:
        raise ApiError(400, f"{err.part}: {err}") from None


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
    """The viewer over ``client`` (see the module docstring), a Starlette app to serve with
    uvicorn. Requests run in Starlette's thread pool, sharing the client.

    Raises:
        MissingExtraError: Starlette or Pillow is not installed (the ``ui`` extra).
    """
    require("ui", "starlette", "PIL")
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    def guarded(answer: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                return answer(request)
            except Exception as exc:  # every failure becomes a JSON reply
                status, message = error_reply(exc)
                return JSONResponse({"error": message}, status_code=status)

        return endpoint

    def arrow(build: Callable[[MosaicoClient, QueryParams], bytes]) -> Callable[..., Response]:
        return guarded(lambda r: Response(build(client, r.query_params), media_type=ARROW_STREAM))

    def frame(request: Request) -> Response:
        data, media_type = frame_reply(client, request.query_params)
        return Response(data, media_type=media_type, headers={"Cache-Control": "max-age=3600"})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": f"{exc.detail}: {request.url.path}"}, exc.status_code)

    def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    routes = [
        Route("/", page),
        Route(
            "/api/sequences",
            guarded(lambda r: JSONResponse(list_sequences(client, r.query_params))),
        ),
        Route(
            "/api/sequences/{name:path}",
            guarded(lambda r: JSONResponse(describe_sequence(client, r.path_params["name"]))),
        ),
        Route("/api/series", arrow(series_stream)),
        Route("/api/frames", arrow(frames_stream)),
        Route("/api/frame", guarded(frame)),
        Route("/api/track", arrow(track_stream)),
        Route("/api/states", arrow(states_stream)),
        Route("/api/query", guarded(lambda r: JSONResponse(query_reply(client, r.query_params)))),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
