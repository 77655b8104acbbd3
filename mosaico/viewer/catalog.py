"""The viewer's catalog replies: the paged sequence list and one sequence's detail.

Both reach the platform through the client only. A page of the list costs one
``ListFlights`` (the names, in creation order), a query when metadata conditions are given,
and per sequence shown one ``GetFlightInfo`` and one notification listing; ``sort=size``
lists the sequences with their totals (our ``ListFlights`` extension) in that one call, or
on a server without it adds one ``GetFlightInfo`` per sequence the filters keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mosaico.client import MosaicoClient, SequenceHandler, TopicHandler
from mosaico.ml.pixels import CAMERA_TAGS
from mosaico.protocol.errors import InvalidArgument, Unimplemented
from mosaico.protocol.names import TopicLocator
from mosaico.query.search import Search, SearchInputError, run_search
from mosaico.viewer.params import ApiError, choice_param, int_param
from mosaico.viewer.series import numeric_fields
from mosaico.viewer.states import state_fields
from mosaico.viewer.track import GPS_TAG

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "describe_sequence", "list_sequences", "sequence_of"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
SORTS = ("created", "name", "size")
ORDERS = ("asc", "desc")


def _summary(client: MosaicoClient, seq: SequenceHandler) -> dict[str, Any]:
    return {
        "name": seq.name,
        "metadata": seq.user_metadata,
        "size_bytes": seq.total_size_bytes,
        "rows": seq.total_row_count,
        "start_ns": seq.timestamp_ns_min,
        "end_ns": seq.timestamp_ns_max,
        "topics": len(seq.topics),
        "created_ns": seq.created_timestamp,
        "notifications": [
            {"type": n.notification_type, "message": n.msg, "created": n.created_datetime}
            for n in client.list_sequence_notifications(seq.name)
        ],
    }


def _handlers(client: MosaicoClient, names: Sequence[str]) -> list[SequenceHandler]:
    """The handlers of ``names``; sequences deleted since they were listed are left out."""
    return [h for n in names if (h := client.sequence_handler(n)) is not None]


def _listing(client: MosaicoClient, sort: str) -> tuple[list[str], dict[str, int] | None]:
    """Every sequence name in creation order, and for ``sort=size`` their sizes when one
    ``ListFlights`` with our totals extension gives them (None otherwise)."""
    if sort == "size":
        try:
            totals = client.list_sequence_totals()
            return list(totals), {name: size for name, (_, size) in totals.items()}
        except (Unimplemented, InvalidArgument):
            pass  # a server without the extension: sizes come from the handlers
    return client.list_sequences(), None


def _by_size(
    client: MosaicoClient, names: list[str], sizes: dict[str, int] | None, desc: bool
) -> list[str]:
    """``names`` by size, then name; sizes not listed are read from each handler."""
    if sizes is None:
        sizes = {h.name: h.total_size_bytes for h in _handlers(client, names)}
    known = sizes
    return sorted((n for n in names if n in known), key=lambda n: (known[n], n), reverse=desc)


def _meta_matches(client: MosaicoClient, conditions: list[str]) -> set[str] | None:
    """Names of the sequences whose metadata meets every condition; None without any."""
    if not conditions:
        return None
    try:
        return {m["sequence"] for m in run_search(client, Search(meta=conditions))}
    except SearchInputError as err:
        raise ApiError(400, f"meta: {err}") from None


def list_sequences(client: MosaicoClient, params: QueryParams) -> dict[str, Any]:
    """The ``/api/sequences`` reply: ``{total, items}`` of the page.

    Parameters: ``glob`` (a name glob, case-sensitive), ``meta`` (repeatable metadata
    conditions, ``vehicle.id = alpha``), ``offset``, ``limit`` (1..`MAX_LIMIT`), ``sort``
    (created, name, size), ``order`` (asc, desc).
    """
    glob = params.get("glob") or "*"
    offset = int_param(params, "offset", 0, 0)
    limit = int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    sort = choice_param(params, "sort", SORTS)
    desc = choice_param(params, "order", ORDERS) == "desc"
    allowed = _meta_matches(client, params.getlist("meta"))
    every, sizes = _listing(client, sort)
    names = [n for n in every if fnmatchcase(n, glob) and (allowed is None or n in allowed)]
    if sort == "size":
        names = _by_size(client, names, sizes, desc)
    else:
        if sort == "name":
            names.sort()
        if desc:
            names.reverse()
    page = _handlers(client, names[offset : offset + limit])
    return {"total": len(names), "items": [_summary(client, h) for h in page]}


def sequence_of(client: MosaicoClient, name: str) -> SequenceHandler:
    """The handler of sequence ``name``; 404 when there is none."""
    seq = client.sequence_handler(name)
    if seq is None:
        raise ApiError(404, f"no sequence {name!r}")
    return seq


def _kind(tag: str) -> str | None:
    """How the sequence page shows a topic beside its plots: image, gps, or nothing."""
    if tag in CAMERA_TAGS:
        return "image"
    return "gps" if tag == GPS_TAG else None


def _rate_hz(topic: TopicHandler) -> float | None:
    lo, hi, rows = topic.timestamp_ns_min, topic.timestamp_ns_max, topic.row_count
    if lo is None or hi is None or hi <= lo or rows < 2:
        return None
    return (rows - 1) * 1e9 / (hi - lo)


def _fields(schema: pa.Schema) -> dict[str, Any]:
    """The plottable and state fields of a topic schema."""
    return {
        "fields": [
            {"name": f.name, "unit": f.unit, "type": str(f.type)} for f in numeric_fields(schema)
        ],
        "states": state_fields(schema),
    }


def _topic(topic: TopicHandler, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": topic.name,
        "tag": topic.ontology_tag,
        "kind": _kind(topic.ontology_tag),
        "rows": topic.row_count,
        "rate_hz": _rate_hz(topic),
        "size_bytes": topic.total_size_bytes,
        "metadata": topic.user_metadata,
        "start_ns": topic.timestamp_ns_min,
        "end_ns": topic.timestamp_ns_max,
        **fields,
    }


def describe_sequence(client: MosaicoClient, name: str) -> dict[str, Any]:
    """The ``/api/sequences/{name}`` reply: the summary, ``sessions`` and ``topics``."""
    seq = sequence_of(client, name)
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
    by_schema: dict[pa.Schema, dict[str, Any]] = {}  # topics of one type share their fields
    topics = []
    for handler in seq.topic_handlers().values():
        if handler.schema not in by_schema:
            by_schema[handler.schema] = _fields(handler.schema)
        topics.append(_topic(handler, by_schema[handler.schema]))
    return {**_summary(client, seq), "sessions": sessions, "topics": topics}
