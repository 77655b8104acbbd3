"""The DoAction response envelope ``{"action": ..., "response": ...}`` (spec §5.2).

A single-document reply is one envelope, possibly split over several Flight results; a
paged reply (the temporal filters) is one complete envelope per result.

>>> encode_envelope("info", None)
b'{"action":"info","response":null}'
>>> decode_envelope("query", [b'{"action":"query",', b'"response":{"items":[]}}'])
{'items': []}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mosaico.protocol.errors import InvalidArgument


def encode_envelope(action: str, response: Any) -> bytes:
    """One complete envelope document; ``response`` None means "no payload"."""
    return json.dumps(
        {"action": action, "response": response}, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def _payload(action: str, document: Any) -> Any:
    if not isinstance(document, dict):
        raise InvalidArgument(f"{action} reply is not a JSON object")
    if document.get("action") != action:
        return None
    return document.get("response")


def decode_envelope(action: str, bodies: Iterable[bytes]) -> Any:
    """Single-document mode: concatenate all result bodies and return the payload.

    Zero results, another action name or a null response all read as "no payload" (None).

    Raises:
        InvalidArgument: the bodies together are not one JSON object.
    """
    data = b"".join(body for body in bodies if body)
    if not data:
        return None
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"{action} reply is not valid JSON: {exc}") from None
    return _payload(action, document)


def decode_paged(action: str, bodies: Iterable[bytes]) -> list[Any]:
    """Paged mode (temporal filters): one envelope per result, each with a non-null payload.

    Zero results is an empty list.

    Raises:
        InvalidArgument: a result that is not a JSON object, or whose envelope names another
            action or carries no payload.
    """
    items = []
    for body in bodies:
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidArgument(f"{action} reply page is not valid JSON: {exc}") from None
        payload = _payload(action, document)
        if payload is None:
            raise InvalidArgument(f"{action} reply page carries no payload")
        items.append(payload)
    return items
